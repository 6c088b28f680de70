-- 056: every lease's position of the day (arrears, credit, aging, oldest unpaid due, days late, with its
-- references), stored and kept exact by the triggers that keep each lease's total paid.
--
-- arrears_by_lease for every owner at `large` scale (70,821 of 105,970 leases) took 350-500 ms in
-- PostgreSQL, and all of it again after each payment, as a write drops the cached answers: the leases joined
-- to their totals paid (about 50 ms), then for each lease its arrears re-evaluated in every column that
-- derives from it (PostgreSQL has no common subexpressions: the four buckets, the oldest unpaid due and the
-- days late, about 150 ms), the four joins of the references (about 100 ms) and the sort. Yet for one day,
-- a lease's position changes only when its own payments, its own terms or its references change.
--
-- So one day's positions (the day the server's scheduled task stores, today) are kept in lease_positions:
-- * lease_positions_store(D) computes every lease's row through lease_balances (the rules of 003/055,
--   unchanged) under an EXCLUSIVE lock, so that no write's refresh runs meanwhile;
-- * a write to payments (the same statement-level triggers as lease_payment_totals, after the totals are
--   up to date), to a lease's terms, or to a tenant's, unit's, site's or owner's reference recomputes the
--   rows of the leases it touched, in the same transaction. Each refresh first locks those leases' rows, so
--   two writers of one lease take turns, and computes in a statement that sees what the other committed;
-- * a TRUNCATE of payments or leases forgets the day (the reads compute until it is stored again).
-- arrears_by_lease, and good_payers for its leases' arrears, answer from the stored rows when they are asked
-- for that day, and compute as before for any other day; the two branches are one statement, so both see
-- the same stored day.

CREATE TABLE lease_positions_day (
    as_of      date PRIMARY KEY,
    stored_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX lease_positions_day_one ON lease_positions_day ((true));

CREATE TABLE lease_positions (
    lease_id                bigint PRIMARY KEY REFERENCES leases (id) ON DELETE CASCADE,
    owner_id                bigint NOT NULL,
    tenant_id               bigint NOT NULL,
    due_day                 integer NOT NULL,
    arrears                 bigint NOT NULL,
    credit                  bigint NOT NULL,
    bucket_0_30             bigint NOT NULL,
    bucket_31_60            bigint NOT NULL,
    bucket_61_90            bigint NOT NULL,
    bucket_90_plus          bigint NOT NULL,
    oldest_unpaid_due_date  date,
    days_late               integer NOT NULL,
    lease_ref               text NOT NULL,
    tenant_ref              text NOT NULL,
    unit_ref                text NOT NULL,
    site_ref                text NOT NULL,
    owner_ref               text NOT NULL
);
CREATE INDEX lease_positions_owner_id ON lease_positions (owner_id);

ALTER TABLE lease_positions_day ENABLE ROW LEVEL SECURITY;
CREATE POLICY lease_positions_day_all ON lease_positions_day TO akig_read_all USING (true);
CREATE POLICY lease_positions_day_owner ON lease_positions_day TO akig_read_owner USING (true);
ALTER TABLE lease_positions ENABLE ROW LEVEL SECURITY;
CREATE POLICY lease_positions_all ON lease_positions TO akig_read_all USING (true);
CREATE POLICY lease_positions_owner ON lease_positions TO akig_read_owner
    USING (owner_id = (SELECT akig_scope_owner_id()));
GRANT SELECT ON lease_positions_day, lease_positions TO akig_read_all, akig_read_owner;
-- the writing role reads them as it reads the ledger (the alert rules ask arrears_by_lease, the scheduled task
-- the stored day); only the functions below write them
GRANT SELECT ON lease_positions_day, lease_positions TO akig_write;
CREATE POLICY lease_positions_day_write ON lease_positions_day TO akig_write USING (true);
CREATE POLICY lease_positions_write ON lease_positions TO akig_write USING (true);

-- The rows of an owner's leases (NULL: every owner's), or of the given leases (NULL: all of them), at D, as
-- arrears_by_lease answers them: what is stored, and what arrears_by_lease computes on any other day.
CREATE FUNCTION lease_positions_of(p_as_of date, p_owner_ref text, p_lease_ids bigint[])
RETURNS SETOF lease_positions
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT b.lease_id, b.owner_id, b.tenant_id, b.due_day, b.arrears, b.credit, b.bucket_0_30, b.bucket_31_60,
           b.bucket_61_90, b.bucket_90_plus, b.oldest_unpaid_due_date, b.days_late,
           b.lease_ref, t.tenant_ref, u.unit_ref, s.site_ref, o.owner_ref
      FROM lease_balances(p_as_of, p_owner_ref) b
      JOIN tenants t ON t.id = b.tenant_id
      JOIN units u ON u.id = b.unit_id
      JOIN sites s ON s.id = b.site_id
      JOIN owners o ON o.id = b.owner_id
     WHERE p_lease_ids IS NULL OR b.lease_id = ANY (p_lease_ids)
$$;
REVOKE EXECUTE ON FUNCTION lease_positions_of(date, text, bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lease_positions_of(date, text, bigint[]) TO akig_read_all, akig_read_owner, akig_write;

-- The stored day, once this transaction may refresh rows: a store under way is waited for, and a store that
-- starts later waits for this transaction (ROW EXCLUSIVE against its EXCLUSIVE).
CREATE FUNCTION lease_positions_day_locked() RETURNS date
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    LOCK TABLE lease_positions IN ROW EXCLUSIVE MODE;
    RETURN (SELECT as_of FROM lease_positions_day);
END $$;
REVOKE EXECUTE ON FUNCTION lease_positions_day_locked() FROM PUBLIC;

-- Recompute the stored rows of the given leases (nothing when no day is stored).
CREATE FUNCTION lease_positions_refresh(p_lease_ids bigint[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_day date := lease_positions_day_locked();
BEGIN
    IF v_day IS NULL OR coalesce(cardinality(p_lease_ids), 0) = 0 THEN
        RETURN;
    END IF;
    -- one writer of a lease at a time, in the order of their ids; the statements below then see what an
    -- earlier writer of the same lease committed
    PERFORM 1 FROM leases WHERE id = ANY (p_lease_ids) ORDER BY id FOR NO KEY UPDATE;
    DELETE FROM lease_positions WHERE lease_id = ANY (p_lease_ids);
    INSERT INTO lease_positions SELECT * FROM lease_positions_of(v_day, NULL, p_lease_ids);
END $$;
REVOKE EXECUTE ON FUNCTION lease_positions_refresh(bigint[]) FROM PUBLIC;

-- Forget the stored day and its rows.
CREATE FUNCTION lease_positions_forget() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    LOCK TABLE lease_positions IN EXCLUSIVE MODE;
    DELETE FROM lease_positions_day;
    DELETE FROM lease_positions;
END $$;
REVOKE EXECUTE ON FUNCTION lease_positions_forget() FROM PUBLIC;

-- Store every lease's row of D in place of the day stored before; returns the number of leases.
CREATE FUNCTION lease_positions_store(p_as_of date) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_rows bigint;
BEGIN
    PERFORM lease_positions_forget();   -- under its EXCLUSIVE lock, held to the end of the transaction
    INSERT INTO lease_positions SELECT * FROM lease_positions_of(p_as_of, NULL, NULL);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    INSERT INTO lease_positions_day (as_of) VALUES (p_as_of);
    RETURN v_rows;
END $$;
REVOKE EXECUTE ON FUNCTION lease_positions_store(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lease_positions_store(date) TO akig_write;


-- Payments: the totals' triggers (002) refresh the leases they touched once the totals are up to date.
CREATE OR REPLACE FUNCTION payments_totals_on_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO lease_payment_totals AS t (lease_id, paid_total, payment_count)
    SELECT lease_id, sum(amount)::bigint, count(*)::int FROM new_rows GROUP BY lease_id
    ON CONFLICT (lease_id) DO UPDATE
        SET paid_total = t.paid_total + EXCLUDED.paid_total,
            payment_count = t.payment_count + EXCLUDED.payment_count;
    IF lease_positions_day_locked() IS NOT NULL THEN
        PERFORM lease_positions_refresh(ARRAY(SELECT DISTINCT lease_id FROM new_rows));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION payments_totals_on_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE lease_payment_totals AS t
       SET paid_total = t.paid_total - o.amount, payment_count = t.payment_count - o.n
      FROM (SELECT lease_id, sum(amount)::bigint AS amount, count(*)::int AS n
              FROM old_rows GROUP BY lease_id) o
     WHERE t.lease_id = o.lease_id;
    IF lease_positions_day_locked() IS NOT NULL THEN
        PERFORM lease_positions_refresh(ARRAY(SELECT DISTINCT lease_id FROM old_rows));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION payments_totals_on_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO lease_payment_totals AS t (lease_id, paid_total, payment_count)
    SELECT lease_id, sum(amount)::bigint, sum(n)::int
      FROM (SELECT lease_id, amount, 1 AS n FROM new_rows
            UNION ALL
            SELECT lease_id, -amount, -1 FROM old_rows) d
     GROUP BY lease_id
    ON CONFLICT (lease_id) DO UPDATE
        SET paid_total = t.paid_total + EXCLUDED.paid_total,
            payment_count = t.payment_count + EXCLUDED.payment_count;
    IF lease_positions_day_locked() IS NOT NULL THEN
        -- a payment's date counts too: paid at D is the total less what is dated after D
        PERFORM lease_positions_refresh(ARRAY(SELECT lease_id FROM new_rows UNION SELECT lease_id FROM old_rows));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION payments_totals_on_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM lease_payment_totals;
    PERFORM lease_positions_forget();
    RETURN NULL;
END $$;

-- Leases: new ones and changed terms (rent, dates, due day, unit, tenant; a site's owner moves its leases).
CREATE FUNCTION lease_positions_on_leases() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF lease_positions_day_locked() IS NOT NULL THEN
        PERFORM lease_positions_refresh(ARRAY(SELECT id FROM new_rows));
    END IF;
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION lease_positions_on_leases() FROM PUBLIC;
CREATE TRIGGER leases_positions_insert AFTER INSERT ON leases
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lease_positions_on_leases();
CREATE TRIGGER leases_positions_update AFTER UPDATE ON leases
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lease_positions_on_leases();

-- TRUNCATE of leases (or of a table it cascades to this one from) forgets the day.
CREATE FUNCTION lease_positions_on_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM lease_positions_forget();
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION lease_positions_on_truncate() FROM PUBLIC;
CREATE TRIGGER leases_positions_truncate AFTER TRUNCATE ON leases
    FOR EACH STATEMENT EXECUTE FUNCTION lease_positions_on_truncate();
CREATE TRIGGER lease_positions_truncate AFTER TRUNCATE ON lease_positions
    FOR EACH STATEMENT EXECUTE FUNCTION lease_positions_on_truncate();

-- A reference changed (rare): the rows that show it. Row-level triggers, as a column list and transition
-- tables do not go together.
CREATE FUNCTION lease_positions_on_reference() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF lease_positions_day_locked() IS NOT NULL THEN
        PERFORM lease_positions_refresh(ARRAY(
            SELECT l.id FROM leases l
             WHERE CASE TG_TABLE_NAME WHEN 'tenants' THEN l.tenant_id WHEN 'units' THEN l.unit_id
                                      WHEN 'sites' THEN l.site_id ELSE l.owner_id END = NEW.id));
    END IF;
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION lease_positions_on_reference() FROM PUBLIC;
CREATE TRIGGER tenants_positions_reference AFTER UPDATE OF tenant_ref ON tenants FOR EACH ROW
    WHEN (OLD.tenant_ref IS DISTINCT FROM NEW.tenant_ref) EXECUTE FUNCTION lease_positions_on_reference();
CREATE TRIGGER units_positions_reference AFTER UPDATE OF unit_ref ON units FOR EACH ROW
    WHEN (OLD.unit_ref IS DISTINCT FROM NEW.unit_ref) EXECUTE FUNCTION lease_positions_on_reference();
CREATE TRIGGER sites_positions_reference AFTER UPDATE OF site_ref ON sites FOR EACH ROW
    WHEN (OLD.site_ref IS DISTINCT FROM NEW.site_ref) EXECUTE FUNCTION lease_positions_on_reference();
CREATE TRIGGER owners_positions_reference AFTER UPDATE OF owner_ref ON owners FOR EACH ROW
    WHEN (OLD.owner_ref IS DISTINCT FROM NEW.owner_ref) EXECUTE FUNCTION lease_positions_on_reference();

-- A self-check for tests and operators: stored rows that differ from what the rules compute for the stored
-- day (missing, extra or different).
CREATE VIEW lease_positions_drift AS
SELECT coalesce(e.lease_id, s.lease_id) AS lease_id
  FROM (SELECT c.* FROM lease_positions_day d CROSS JOIN LATERAL lease_positions_of(d.as_of, NULL, NULL) c) e
  FULL JOIN lease_positions s ON s.lease_id = e.lease_id
 WHERE e IS DISTINCT FROM s;
REVOKE ALL ON lease_positions_drift FROM akig_read_all, akig_read_owner;

-- arrears_by_lease: from the stored rows on the stored day, computed by the same function on any other.
CREATE OR REPLACE FUNCTION arrears_by_lease(p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (lease_ref text, tenant_ref text, unit_ref text, site_ref text, owner_ref text,
               arrears bigint, credit bigint, bucket_0_30 bigint, bucket_31_60 bigint,
               bucket_61_90 bigint, bucket_90_plus bigint, oldest_unpaid_due_date date, days_late integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p.lease_ref, p.tenant_ref, p.unit_ref, p.site_ref, p.owner_ref,
           p.arrears, p.credit, p.bucket_0_30, p.bucket_31_60, p.bucket_61_90, p.bucket_90_plus,
           p.oldest_unpaid_due_date, p.days_late
      FROM lease_positions p
     WHERE p_as_of = (SELECT d.as_of FROM lease_positions_day d)
       AND (p_owner_ref IS NULL OR p.owner_id = (SELECT o.id FROM owners o WHERE o.owner_ref = p_owner_ref))
       AND (p.arrears > 0 OR p.credit > 0)
    UNION ALL
    SELECT c.lease_ref, c.tenant_ref, c.unit_ref, c.site_ref, c.owner_ref,
           c.arrears, c.credit, c.bucket_0_30, c.bucket_31_60, c.bucket_61_90, c.bucket_90_plus,
           c.oldest_unpaid_due_date, c.days_late
      FROM lease_positions_of(p_as_of, p_owner_ref, NULL) c
     WHERE (c.arrears > 0 OR c.credit > 0)
       AND p_as_of IS DISTINCT FROM (SELECT d.as_of FROM lease_positions_day d)
     ORDER BY 6 DESC, 1
$$;

-- good_payers (052): each lease's arrears from the stored rows on the stored day, computed on any other.
CREATE OR REPLACE FUNCTION good_payers(p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (tenant_ref text, full_name text, owner_ref text, badge text, ratio double precision,
               dues integer, on_time_dues integer)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    WITH lease_state AS MATERIALIZED (
        SELECT p.tenant_id, p.lease_id, p.due_day, p.arrears
          FROM lease_positions p
         WHERE p_as_of = (SELECT d.as_of FROM lease_positions_day d)
           AND (p_owner_ref IS NULL OR p.owner_id = (SELECT o.id FROM owners o WHERE o.owner_ref = p_owner_ref))
        UNION ALL
        SELECT b.tenant_id, b.lease_id, b.due_day, b.arrears
          FROM lease_balances(p_as_of, p_owner_ref) b
         WHERE p_as_of IS DISTINCT FROM (SELECT d.as_of FROM lease_positions_day d)
    ), clean AS (
        SELECT c.tenant_id, c.lease_id, c.due_day
          FROM lease_state c
         WHERE c.arrears = 0
           AND NOT EXISTS (SELECT 1 FROM lease_state d WHERE d.tenant_id = c.tenant_id AND d.arrears > 0)
    ), window_dues AS (
        SELECT c.tenant_id, sum(w.dues)::integer AS dues, sum(w.on_time)::integer AS on_time
          FROM clean c
          JOIN lease_punctuality x ON x.lease_id = c.lease_id
         CROSS JOIN LATERAL (
             -- substring clips a range that starts before the first month or ends after the last
             SELECT coalesce(bit_count(substring(x.dues FROM m.lo - x.first_mi + 1 FOR m.hi - m.lo + 1)), 0) AS dues,
                    coalesce(bit_count(substring(x.on_time FROM m.lo - x.first_mi + 1 FOR m.hi - m.lo + 1)), 0) AS on_time
               FROM (SELECT first_due_month(p_as_of - 364, c.due_day) AS lo, last_due_month(p_as_of, c.due_day) AS hi) m
         ) w
         GROUP BY c.tenant_id
        HAVING sum(w.dues) >= 6
    ), rated AS (
        SELECT w.*, w.on_time::double precision / w.dues AS ratio FROM window_dues w
    )
    SELECT t.tenant_ref, t.full_name, p_owner_ref,
           CASE WHEN r.on_time = r.dues THEN 'gold' WHEN r.ratio >= 0.9 THEN 'silver' ELSE 'bronze' END,
           r.ratio, r.dues, r.on_time
      FROM rated r
      JOIN tenants t ON t.id = r.tenant_id
     WHERE r.ratio >= 0.75
     ORDER BY r.ratio DESC, r.dues DESC, t.tenant_ref
$$;
