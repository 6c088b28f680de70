-- 016: payments partitioned by month of paid_at, like agent_positions (015).
--
-- Why: payments is the other table that only grows (5 M rows at `large` scale). The money rules read
-- it by date (paid_on ranges, "payments dated after D"), so a month's partition is what a read opens;
-- an archive month can be detached whole. Africa/Conakry is GMT all year, so a UTC month is the money
-- rules' month.
--
-- A partitioned table's unique keys must contain the partition column, so payment_ref, client_id and
-- receipt_no, which must stay unique across all months, are kept unique in payment_keys. Statement
-- triggers on payments write it: a second payment with a known ref, client_id or receipt number fails
-- on payment_keys' index, in the same statement, as it failed on payments' own index before.
-- The triggers are statement-level on the parent on purpose: moving rows between partitions
-- (ensure_month_partitions) writes the partitions directly and fires none of them.

-- 1. One month-partition maintainer for both tables; ensure_position_partitions becomes a call to it.
CREATE FUNCTION ensure_month_partitions(p_table text, p_column text, p_to date, p_from date DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    default_part text := p_table || '_default';
    month date;
    oldest date;
    created integer := 0;
    part text;
    columns text;
    lower_t timestamptz;
    upper_t timestamptz;
BEGIN
    IF (p_table, p_column) NOT IN (('agent_positions', 't'), ('payments', 'paid_at')) THEN
        RAISE EXCEPTION 'ensure_month_partitions: % is not partitioned by month', p_table;
    END IF;
    IF p_from IS NULL THEN
        EXECUTE format('SELECT min(%I)::date FROM %I', p_column, default_part) INTO oldest;
        p_from := least(coalesce(oldest, current_date), current_date - 31);
    END IF;
    IF p_to < p_from OR p_to > p_from + 3660 THEN
        RAISE EXCEPTION 'ensure_month_partitions: bad range % .. %', p_from, p_to;
    END IF;
    -- the columns a row is copied with (a generated column is computed again, not copied)
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO columns
      FROM pg_attribute
     WHERE attrelid = p_table::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '';
    month := date_trunc('month', p_from)::date;
    WHILE month <= p_to LOOP
        part := format('%s_%s', p_table, to_char(month, 'YYYY_MM'));
        lower_t := month::timestamp AT TIME ZONE 'UTC';
        upper_t := (month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED)',
                           part, p_table);
            -- reads go through the parent (its grants and row security); nobody reads a partition directly
            EXECUTE format('REVOKE ALL ON %I FROM akig_read_all, akig_read_owner, akig_write', part);
            EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *)'
                           ' INSERT INTO %I (%s) SELECT %s FROM moved',
                           default_part, p_column, p_column, part, columns, columns) USING lower_t, upper_t;
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                           p_table, part, lower_t, upper_t);
            created := created + 1;
        END IF;
        month := (month + interval '1 month')::date;
    END LOOP;
    RETURN created;
END $$;
REVOKE ALL ON FUNCTION ensure_month_partitions(text, text, date, date) FROM PUBLIC;

CREATE OR REPLACE FUNCTION ensure_position_partitions(p_to date, p_from date DEFAULT NULL) RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    SELECT ensure_month_partitions('agent_positions', 't', p_to, p_from)
$$;

CREATE FUNCTION ensure_payment_partitions(p_to date, p_from date DEFAULT NULL) RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    SELECT ensure_month_partitions('payments', 'paid_at', p_to, p_from)
$$;
REVOKE ALL ON FUNCTION ensure_payment_partitions(date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ensure_payment_partitions(date, date) TO akig_write;

-- GPS fixes past their retention: the months wholly before the cutoff are dropped (no row-by-row DELETE,
-- no dead tuples, no vacuum), the rest is deleted. Returns how many fixes went.
CREATE FUNCTION prune_positions(p_cutoff timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    part record;
    rows_in bigint;
    removed bigint := 0;
BEGIN
    FOR part IN SELECT c.relname,
                       (to_date(substring(c.relname FROM '(\d{4}_\d{2})$'), 'YYYY_MM') + interval '1 month')
                           ::timestamp AT TIME ZONE 'UTC' AS upper_t
                  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = 'agent_positions'::regclass AND c.relname ~ '^agent_positions_\d{4}_\d{2}$' LOOP
        IF part.upper_t <= p_cutoff THEN
            EXECUTE format('SELECT count(*) FROM %I', part.relname) INTO rows_in;
            EXECUTE format('ALTER TABLE agent_positions DETACH PARTITION %I', part.relname);
            EXECUTE format('DROP TABLE %I', part.relname);
            removed := removed + rows_in;
        END IF;
    END LOOP;
    DELETE FROM agent_positions WHERE t < p_cutoff;
    GET DIAGNOSTICS rows_in = ROW_COUNT;
    RETURN removed + rows_in;
END $$;
REVOKE ALL ON FUNCTION prune_positions(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION prune_positions(timestamptz) TO akig_write;

-- 2. The keys that must be unique across every month.
CREATE TABLE payment_keys (
    payment_ref text PRIMARY KEY,
    client_id   text UNIQUE,
    receipt_no  text UNIQUE
);
REVOKE ALL ON payment_keys FROM akig_read_all, akig_read_owner;   -- every owner's refs: not a read

-- 3. The old table steps aside: its unique indexes' names are schema-wide, and the views that read
-- it are bound to it (saved here, re-created over the new table below).
CREATE TEMP TABLE saved_views ON COMMIT DROP AS
SELECT DISTINCT v.oid::regclass::text AS name, pg_get_viewdef(v.oid) AS body
  FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
 WHERE d.refobjid = 'payments'::regclass AND v.oid <> 'payments'::regclass;
DO $$
DECLARE v record;
BEGIN
    FOR v IN SELECT name FROM saved_views LOOP
        EXECUTE format('DROP VIEW %s', v.name);
    END LOOP;
END $$;
ALTER TABLE payments RENAME TO payments_unpartitioned;
ALTER TABLE payments_unpartitioned DROP CONSTRAINT payments_pkey, DROP CONSTRAINT payments_payment_ref_key,
    DROP CONSTRAINT payments_receipt_no_key, DROP CONSTRAINT payments_client_id_key;
DROP INDEX payments_lease_paid_on, payments_paid_on;

-- 4. The partitioned table (same columns, same order).
CREATE TABLE payments (
    id           bigint GENERATED ALWAYS AS IDENTITY,
    payment_ref  text NOT NULL CHECK (payment_ref <> ''),
    lease_id     bigint NOT NULL REFERENCES leases (id),
    paid_at      timestamptz NOT NULL,
    paid_on      date GENERATED ALWAYS AS ((timezone('Africa/Conakry', paid_at))::date) STORED,
    amount       bigint NOT NULL CHECK (amount > 0),
    method       text NOT NULL CHECK (method IN ('cash', 'orange_money', 'mtn_momo', 'bank')),
    agent_id     bigint REFERENCES agents (id),
    receipt_no   text,
    recorded_by  text,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    client_id    text,
    PRIMARY KEY (id, paid_at)
) PARTITION BY RANGE (paid_at);
CREATE INDEX payments_lease_paid_on ON payments (lease_id, paid_on) INCLUDE (amount);
CREATE INDEX payments_paid_on ON payments (paid_on) INCLUDE (lease_id, amount);
CREATE INDEX payments_ref ON payments (payment_ref);
CREATE INDEX payments_client_id ON payments (client_id) WHERE client_id IS NOT NULL;
CREATE TABLE payments_default PARTITION OF payments DEFAULT;
REVOKE ALL ON payments_default FROM akig_read_all, akig_read_owner, akig_write;

-- 5. The rows, straight into their months' partitions (no trigger yet: totals and dues are unchanged).
SELECT ensure_payment_partitions((now() + interval '2 months')::date,
                                 greatest(coalesce((SELECT min(paid_at) FROM payments_unpartitioned)::date,
                                                   current_date),
                                          (now() - interval '9 years')::date));
INSERT INTO payments (id, payment_ref, lease_id, paid_at, amount, method, agent_id, receipt_no, recorded_by,
                      recorded_at, client_id) OVERRIDING SYSTEM VALUE
SELECT id, payment_ref, lease_id, paid_at, amount, method, agent_id, receipt_no, recorded_by, recorded_at, client_id
  FROM payments_unpartitioned;
SELECT setval(pg_get_serial_sequence('payments', 'id'), coalesce((SELECT max(id) FROM payments), 0) + 1, false);
INSERT INTO payment_keys (payment_ref, client_id, receipt_no)
SELECT payment_ref, client_id, receipt_no FROM payments;

-- 6. payment_keys follows every write of payments.
CREATE FUNCTION payments_keys_on_insert() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO payment_keys (payment_ref, client_id, receipt_no)
    SELECT payment_ref, client_id, receipt_no FROM new_rows;
    RETURN NULL;
END $$;

CREATE FUNCTION payments_keys_on_delete() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM payment_keys k USING old_rows o WHERE k.payment_ref = o.payment_ref;
    RETURN NULL;
END $$;

-- Only rows whose keys changed: their old keys go, then their new keys come (so two rows may swap).
CREATE FUNCTION payments_keys_on_update() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM payment_keys k USING old_rows o JOIN new_rows n ON n.id = o.id
     WHERE k.payment_ref = o.payment_ref
       AND (n.payment_ref, n.client_id, n.receipt_no) IS DISTINCT FROM (o.payment_ref, o.client_id, o.receipt_no);
    INSERT INTO payment_keys (payment_ref, client_id, receipt_no)
    SELECT n.payment_ref, n.client_id, n.receipt_no FROM new_rows n JOIN old_rows o ON o.id = n.id
     WHERE (n.payment_ref, n.client_id, n.receipt_no) IS DISTINCT FROM (o.payment_ref, o.client_id, o.receipt_no);
    RETURN NULL;
END $$;

CREATE FUNCTION payments_keys_on_truncate() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM payment_keys;
    RETURN NULL;
END $$;

CREATE TRIGGER payments_keys_insert AFTER INSERT ON payments
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payments_keys_on_insert();
CREATE TRIGGER payments_keys_delete AFTER DELETE ON payments
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION payments_keys_on_delete();
CREATE TRIGGER payments_keys_update AFTER UPDATE ON payments
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION payments_keys_on_update();
CREATE TRIGGER payments_keys_truncate AFTER TRUNCATE ON payments
    FOR EACH STATEMENT EXECUTE FUNCTION payments_keys_on_truncate();

-- 7. What the old table had: its triggers (totals 002, dues 004), row security and grants (008, 010),
-- and the views that read it, copied from the catalog rather than restated (the views get their grants
-- again from 008's default privileges).
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT pg_get_triggerdef(oid) AS def FROM pg_trigger
              WHERE tgrelid = 'payments_unpartitioned'::regclass AND NOT tgisinternal LOOP
        EXECUTE regexp_replace(r.def, ' ON (public\.)?payments_unpartitioned ', ' ON payments ');
    END LOOP;
    ALTER TABLE payments ENABLE ROW LEVEL SECURITY;
    FOR r IN SELECT * FROM pg_policies WHERE schemaname = 'public' AND tablename = 'payments_unpartitioned' LOOP
        EXECUTE format('CREATE POLICY %I ON payments AS %s FOR %s TO %s USING (%s)%s', r.policyname, r.permissive,
                       r.cmd, array_to_string(r.roles, ', '), coalesce(r.qual, 'true'),
                       CASE WHEN r.with_check IS NULL THEN '' ELSE format(' WITH CHECK (%s)', r.with_check) END);
    END LOOP;
    FOR r IN SELECT a.privilege_type, g.rolname FROM pg_class c, aclexplode(c.relacl) a
               JOIN pg_roles g ON g.oid = a.grantee
              WHERE c.oid = 'payments_unpartitioned'::regclass AND a.grantee <> c.relowner LOOP
        EXECUTE format('GRANT %s ON payments TO %I', r.privilege_type, r.rolname);
    END LOOP;
    FOR r IN SELECT * FROM saved_views LOOP
        EXECUTE format('CREATE VIEW %s AS %s', r.name, r.body);
    END LOOP;
END $$;

DROP TABLE payments_unpartitioned;
