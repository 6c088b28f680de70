-- 033: each lease's dues, on time or not, month by month, as two bit strings kept by triggers, for
-- good_payers. It counted each clean tenant's dues of the last 365 days and those paid on time by probing
-- lease_dues (612 MB at `large` scale, more than shared buffers) once per lease: 46,765 probes of about 8
-- dues each, through the index and the table, most of the read's time.
--
-- lease_punctuality holds one row per lease with stored dues: first_mi, the month of its first due, and
-- two bit strings whose bit i is about month first_mi + i: `dues` (a due of that month is stored) and
-- `on_time` (it was paid on time, lease_dues.on_time). A window of months is then a substring of each,
-- and its count of dues and of dues on time a bit_count: one narrow row per lease (about 10 MB) instead
-- of a range of lease_dues. The months of a window come from the lease's due day (first_due_month and
-- last_due_month, 003), which is how lease_dues dates each due (lease_dues_drift checks it), so the dues
-- counted are the same.
--
-- Exact at every commit: statement-level triggers with transition tables on lease_dues (inserted, updated,
-- deleted: a payment changes what is on time, a change of the lease rebuilds its dues, the horizon adds
-- months) recompute the rows of the leases a statement touched, whole, from lease_dues (never adjusted,
-- so the order in which triggers fire does not matter). A lease deleted takes its row with it (the
-- foreign key). The functions are SECURITY DEFINER, as 008's and 026's are for the other derived tables,
-- so a write keeps the rows exact whatever its writer can see. lease_punctuality_drift, like
-- lease_dues_drift and site_month_totals_drift, lists the leases whose row disagrees with lease_dues.

CREATE TABLE lease_punctuality (
    lease_id  bigint PRIMARY KEY REFERENCES leases (id) ON DELETE CASCADE,
    first_mi  integer NOT NULL,
    dues      varbit NOT NULL,
    on_time   varbit NOT NULL
);

ALTER TABLE lease_punctuality ENABLE ROW LEVEL SECURITY;
CREATE POLICY lease_punctuality_all ON lease_punctuality TO akig_read_all USING (true);
CREATE POLICY lease_punctuality_owner ON lease_punctuality TO akig_read_owner USING (lease_id IN (SELECT id FROM leases));
GRANT SELECT ON lease_punctuality TO akig_read_all, akig_read_owner;
-- the writing role reads it too: the alert rules (akig_data/alerts) run the reads' functions as akig_write
CREATE POLICY lease_punctuality_write ON lease_punctuality TO akig_write USING (true);
GRANT SELECT ON lease_punctuality TO akig_write;

-- What lease_punctuality should hold, from lease_dues. A month without a stored due between two that have
-- one (there is none while lease_dues is right) gets a 0 in both strings, so every bit stays at its month.
-- A filter on lease_id reaches lease_dues' primary key (it is the window's partition and the group).
CREATE VIEW lease_punctuality_expected AS
SELECT d.lease_id, min(d.mi) AS first_mi,
       string_agg(d.gap || '1', '' ORDER BY d.mi)::varbit AS dues,
       string_agg(d.gap || CASE WHEN d.on_time THEN '1' ELSE '0' END, '' ORDER BY d.mi)::varbit AS on_time
  FROM (SELECT d.lease_id, d.mi, d.on_time,
               repeat('0', d.mi - coalesce(lag(d.mi) OVER (PARTITION BY d.lease_id ORDER BY d.mi), d.mi - 1) - 1) AS gap
          FROM lease_dues d) d
 GROUP BY d.lease_id;
REVOKE ALL ON lease_punctuality_expected FROM akig_read_all, akig_read_owner;

-- The given leases' rows, recomputed. Up to 2,000 leases (a payment, a lease written), through lease_dues'
-- primary key; more (a bulk load, the dues horizon moving on), in one pass over lease_dues.
CREATE FUNCTION lease_punctuality_refresh(p_ids bigint[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM lease_punctuality p
     WHERE p.lease_id = ANY (p_ids)
       AND NOT EXISTS (SELECT 1 FROM lease_dues d WHERE d.lease_id = p.lease_id);
    IF cardinality(p_ids) > 2000 THEN
        INSERT INTO lease_punctuality AS p (lease_id, first_mi, dues, on_time)
        SELECT e.lease_id, e.first_mi, e.dues, e.on_time
          FROM lease_punctuality_expected e
         WHERE e.lease_id IN (SELECT x FROM unnest(p_ids) AS x)
        ON CONFLICT (lease_id) DO UPDATE
           SET first_mi = EXCLUDED.first_mi, dues = EXCLUDED.dues, on_time = EXCLUDED.on_time
         WHERE (p.first_mi, p.dues, p.on_time) IS DISTINCT FROM (EXCLUDED.first_mi, EXCLUDED.dues, EXCLUDED.on_time);
    ELSE
        INSERT INTO lease_punctuality AS p (lease_id, first_mi, dues, on_time)
        SELECT e.lease_id, e.first_mi, e.dues, e.on_time
          FROM lease_punctuality_expected e
         WHERE e.lease_id = ANY (p_ids)
        ON CONFLICT (lease_id) DO UPDATE
           SET first_mi = EXCLUDED.first_mi, dues = EXCLUDED.dues, on_time = EXCLUDED.on_time
         WHERE (p.first_mi, p.dues, p.on_time) IS DISTINCT FROM (EXCLUDED.first_mi, EXCLUDED.dues, EXCLUDED.on_time);
    END IF;
END $$;

CREATE FUNCTION lease_dues_punctuality() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_ids bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        v_ids := ARRAY(SELECT DISTINCT lease_id FROM new_rows);
    ELSIF TG_OP = 'DELETE' THEN
        v_ids := ARRAY(SELECT DISTINCT lease_id FROM old_rows);
    ELSE
        v_ids := ARRAY(SELECT lease_id FROM new_rows UNION SELECT lease_id FROM old_rows);
    END IF;
    IF cardinality(v_ids) > 0 THEN
        PERFORM lease_punctuality_refresh(v_ids);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER lease_dues_punctuality_insert AFTER INSERT ON lease_dues
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lease_dues_punctuality();
CREATE TRIGGER lease_dues_punctuality_update AFTER UPDATE ON lease_dues
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lease_dues_punctuality();
CREATE TRIGGER lease_dues_punctuality_delete AFTER DELETE ON lease_dues
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lease_dues_punctuality();

REVOKE EXECUTE ON FUNCTION lease_punctuality_refresh(bigint[]), lease_dues_punctuality()
FROM PUBLIC;

-- A self-check for the tests: leases whose row disagrees with lease_dues.
CREATE VIEW lease_punctuality_drift AS
SELECT coalesce(e.lease_id, p.lease_id) AS lease_id
  FROM lease_punctuality_expected e
  FULL JOIN lease_punctuality p ON p.lease_id = e.lease_id
 WHERE e.lease_id IS NULL OR p.lease_id IS NULL
    OR (e.first_mi, e.dues, e.on_time) IS DISTINCT FROM (p.first_mi, p.dues, p.on_time);
REVOKE ALL ON lease_punctuality_drift FROM akig_read_all, akig_read_owner;

-- The existing dues.
INSERT INTO lease_punctuality (lease_id, first_mi, dues, on_time)
SELECT e.lease_id, e.first_mi, e.dues, e.on_time FROM lease_punctuality_expected e;

-- good_payers (030): each lease's dues of the window [D - 364, D] and those on time are counted in its
-- lease_punctuality row, from the first month whose due date is on or after D - 364 to the last whose due
-- date is on or before D, for every lease in scope; a tenant is kept when none of his leases is in arrears
-- (what the window max of 030 kept) and he had at least 6 dues in the window. The same dues are counted
-- (see the header), so every answer is unchanged. Same signature, columns, types and order of rows as
-- 030's; LANGUAGE sql, STABLE, SECURITY INVOKER, no SET clause (so that it is inlined).
CREATE OR REPLACE FUNCTION good_payers(p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (tenant_ref text, full_name text, owner_ref text, badge text, ratio double precision,
               dues integer, on_time_dues integer)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    WITH window_dues AS MATERIALIZED (
        SELECT b.tenant_id, sum(w.dues)::integer AS dues, sum(w.on_time)::integer AS on_time
          FROM lease_balances(p_as_of, p_owner_ref) b
          LEFT JOIN lease_punctuality x ON x.lease_id = b.lease_id
         CROSS JOIN LATERAL (
             -- substring clips a range that starts before the first month or ends after the last
             SELECT coalesce(bit_count(substring(x.dues FROM m.lo - x.first_mi + 1 FOR m.hi - m.lo + 1)), 0) AS dues,
                    coalesce(bit_count(substring(x.on_time FROM m.lo - x.first_mi + 1 FOR m.hi - m.lo + 1)), 0) AS on_time
               FROM (SELECT first_due_month(p_as_of - 364, b.due_day) AS lo, last_due_month(p_as_of, b.due_day) AS hi) m
         ) w
         GROUP BY b.tenant_id
        HAVING max(b.arrears) = 0 AND sum(w.dues) >= 6
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

GRANT EXECUTE ON FUNCTION good_payers(date, text) TO akig_read_all, akig_read_owner;
