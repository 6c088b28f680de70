-- 035: what was paid toward each promise over its whole window, kept by triggers, for the promises read. For
-- every owner it summed, at each call, the payments since the oldest promise against every promise of their
-- lease (029: one hash join of about 200,000 payments at `large` scale, 9,569 promises with some), about
-- half of the read; for one owner it probed the payments once per promise (022).
--
-- promise_payments holds, per promise, the payments of its lease dated (paid_on) from the day it was made
-- to its due date: what the read calls paid once D is on or after the due date, which is most promises
-- (at `large` scale, at the last day of the data, all but 3,565 of 28,780). Those whose due date is after
-- D are still summed by the read over [created_on, D], one probe each, as 022 did; so every answer is
-- unchanged.
--
-- Exact at every commit: statement-level triggers with transition tables recompute the rows of the
-- promises a statement may have changed, from payments (never adjusted by deltas):
--   * payments (inserted, deleted, updated) -> every promise of the payments' leases (old and new);
--   * payments truncated -> every promise;
--   * promises (inserted, updated) -> those promises; a promise deleted takes its row with it (the foreign
--     key).
-- The functions are SECURITY DEFINER, as 008's and 026's are for the other derived tables, so a write keeps
-- the rows exact whatever its writer can see. promise_payments_drift lists the promises whose row
-- disagrees with payments.

CREATE TABLE promise_payments (
    promise_id  bigint PRIMARY KEY REFERENCES promises (id) ON DELETE CASCADE,
    paid        bigint NOT NULL
);

ALTER TABLE promise_payments ENABLE ROW LEVEL SECURITY;
CREATE POLICY promise_payments_all ON promise_payments TO akig_read_all USING (true);
CREATE POLICY promise_payments_owner ON promise_payments TO akig_read_owner USING (promise_id IN (SELECT id FROM promises));
GRANT SELECT ON promise_payments TO akig_read_all, akig_read_owner;
-- the writing role reads it too: the alert rules (akig_data/alerts) run the reads' functions as akig_write
CREATE POLICY promise_payments_write ON promise_payments TO akig_write USING (true);
GRANT SELECT ON promise_payments TO akig_write;

-- What promise_payments should hold: each promise's payments from created_on to due_date, bounded on
-- paid_at a day wider (paid_on is paid_at's date in Africa/Conakry, less than a day from UTC) so that only
-- the partitions of the promise's window are read. A filter on id reaches promises' primary key.
CREATE VIEW promise_payments_expected AS
SELECT pr.id AS promise_id,
       (SELECT coalesce(sum(p.amount), 0)::bigint
          FROM payments p
         WHERE p.lease_id = pr.lease_id
           AND p.paid_on BETWEEN pr.created_on AND pr.due_date
           AND p.paid_at >= (pr.created_on - 1)::timestamp AT TIME ZONE 'UTC'
           AND p.paid_at < (pr.due_date + 2)::timestamp AT TIME ZONE 'UTC') AS paid
  FROM promises pr;
REVOKE ALL ON promise_payments_expected FROM akig_read_all, akig_read_owner;

-- The given promises' rows, recomputed.
CREATE FUNCTION promise_payments_refresh(p_ids bigint[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO promise_payments AS t (promise_id, paid)
    SELECT e.promise_id, e.paid FROM promise_payments_expected e WHERE e.promise_id = ANY (p_ids)
    ON CONFLICT (promise_id) DO UPDATE SET paid = EXCLUDED.paid WHERE t.paid IS DISTINCT FROM EXCLUDED.paid
$$;

-- payments: every promise of the leases the statement's payments belong to (before and after an update).
CREATE FUNCTION payments_promise_payments() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_ids bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        v_ids := ARRAY(SELECT pr.id FROM promises pr WHERE pr.lease_id IN (SELECT lease_id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        v_ids := ARRAY(SELECT pr.id FROM promises pr WHERE pr.lease_id IN (SELECT lease_id FROM old_rows));
    ELSE
        v_ids := ARRAY(SELECT pr.id FROM promises pr
                        WHERE pr.lease_id IN (SELECT lease_id FROM new_rows UNION SELECT lease_id FROM old_rows));
    END IF;
    IF cardinality(v_ids) > 0 THEN
        PERFORM promise_payments_refresh(v_ids);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION payments_promise_payments_on_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE promise_payments SET paid = 0 WHERE paid <> 0;
    RETURN NULL;
END $$;

CREATE FUNCTION promises_promise_payments() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM promise_payments_refresh(ARRAY(SELECT id FROM new_rows));
    RETURN NULL;
END $$;

CREATE TRIGGER payments_promise_payments_insert AFTER INSERT ON payments
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payments_promise_payments();
CREATE TRIGGER payments_promise_payments_update AFTER UPDATE ON payments
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payments_promise_payments();
CREATE TRIGGER payments_promise_payments_delete AFTER DELETE ON payments
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION payments_promise_payments();
CREATE TRIGGER payments_promise_payments_truncate AFTER TRUNCATE ON payments
    FOR EACH STATEMENT EXECUTE FUNCTION payments_promise_payments_on_truncate();
CREATE TRIGGER promises_promise_payments_insert AFTER INSERT ON promises
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION promises_promise_payments();
CREATE TRIGGER promises_promise_payments_update AFTER UPDATE ON promises
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION promises_promise_payments();

REVOKE EXECUTE ON FUNCTION promise_payments_refresh(bigint[]), payments_promise_payments(),
    payments_promise_payments_on_truncate(), promises_promise_payments()
FROM PUBLIC;

-- A self-check for the tests: promises whose row disagrees with payments.
CREATE VIEW promise_payments_drift AS
SELECT coalesce(e.promise_id, t.promise_id) AS promise_id
  FROM promise_payments_expected e
  FULL JOIN promise_payments t ON t.promise_id = e.promise_id
 WHERE e.promise_id IS NULL OR t.promise_id IS NULL OR e.paid IS DISTINCT FROM t.paid;
REVOKE ALL ON promise_payments_drift FROM akig_read_all, akig_read_owner;

-- The existing promises.
INSERT INTO promise_payments (promise_id, paid)
SELECT e.promise_id, e.paid FROM promise_payments_expected e;

-- promises (029): a promise due on or before D takes what was paid toward it from promise_payments; one due
-- after D sums its payments from created_on to D, one probe each as 022 did, in a materialized list of
-- those promises only (found through promises_due_date), so that the rest of the plan joins the labels by
-- hash as before (with the probe in the main query PostgreSQL walked promises in due date order to skip the
-- sort, and probed every label by key). Same signature, columns, types and order of rows as 029's;
-- LANGUAGE sql, STABLE, SECURITY INVOKER, no SET clause (so that it is inlined). The lease's reference
-- comes from scoped_leases (032) instead of a second join to leases.
CREATE OR REPLACE FUNCTION promises(p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (promise_ref text, lease_ref text, tenant_ref text, site_ref text, owner_ref text,
               agent_ref text, amount bigint, created_on date, due_date date, paid bigint, status text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    WITH pending AS MATERIALIZED (
        SELECT pr.id, lp.paid
          FROM promises pr
          JOIN scoped_leases(p_owner_ref) sl ON sl.lease_id = pr.lease_id
         CROSS JOIN LATERAL (
             SELECT coalesce(sum(p.amount), 0)::bigint AS paid
               FROM payments p
              WHERE p.lease_id = pr.lease_id
                AND p.paid_on BETWEEN pr.created_on AND p_as_of
                AND p.paid_at >= (pr.created_on - 1)::timestamp AT TIME ZONE 'UTC'
                AND p.paid_at < (p_as_of + 2)::timestamp AT TIME ZONE 'UTC'
         ) lp
         WHERE pr.due_date > p_as_of AND pr.created_on <= p_as_of
    )
    SELECT pr.promise_ref, sl.lease_ref, t.tenant_ref, s.site_ref, o.owner_ref, a.agent_ref,
           pr.amount, pr.created_on, pr.due_date, pv.paid,
           CASE WHEN pv.paid >= pr.amount THEN 'kept'
                WHEN p_as_of <= pr.due_date THEN 'pending'
                WHEN pv.paid > 0 THEN 'partial'
                ELSE 'broken' END
      FROM promises pr
      JOIN scoped_leases(p_owner_ref) sl ON sl.lease_id = pr.lease_id
      JOIN tenants t ON t.id = sl.tenant_id
      JOIN sites s ON s.id = sl.site_id
      JOIN owners o ON o.id = sl.owner_id
      LEFT JOIN agents a ON a.id = pr.agent_id
      LEFT JOIN promise_payments pp ON pp.promise_id = pr.id
      LEFT JOIN pending pe ON pe.id = pr.id
      CROSS JOIN LATERAL (
          SELECT CASE WHEN pr.due_date <= p_as_of THEN coalesce(pp.paid, 0) ELSE coalesce(pe.paid, 0) END AS paid
      ) pv
     WHERE pr.created_on <= p_as_of
     ORDER BY pr.due_date DESC, pr.promise_ref
$$;

GRANT EXECUTE ON FUNCTION promises(date, text) TO akig_read_all, akig_read_owner;
