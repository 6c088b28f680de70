-- 040: the promises read for one owner at `large` scale, once the demo history holds 610,241 promises
-- (31,410 for OWN-0001), took 17–20 s: the owner's row-level security on promise_payments asked
-- `promise_id IN (SELECT id FROM promises)`, a sub-select of the owner's 31,410 promises that PostgreSQL
-- estimated too large to hash, so each of the 31,410 rows searched it from the start (40 s under EXPLAIN
-- ANALYZE). promise_payments now carries its promise's lease, and its policy is the one every ledger table
-- has, `lease_id IN (SELECT id FROM leases)` (the owner's 5,501 leases, hashed): 0.6 s.
--
-- The read also gains a window on the due date (p_due_from, p_due_to; NULL: unbounded, as before). The
-- apps, the daily report, the alert rules and the business gauges only ever look at promises due
-- yesterday, today or tomorrow, yet read every promise ever made (610,241 rows for every owner); with the
-- window they read a few hundred through promises_due_date. And what a promise due after D has been paid so
-- far is a scalar sub-select evaluated for those rows only, where 035 joined a materialized list of them to
-- every row (6 million comparisons for one owner). Same columns, types, order of rows and answers.

ALTER TABLE promise_payments ADD COLUMN lease_id bigint;
UPDATE promise_payments t SET lease_id = pr.lease_id FROM promises pr WHERE pr.id = t.promise_id;
ALTER TABLE promise_payments ALTER COLUMN lease_id SET NOT NULL;
CREATE INDEX promise_payments_lease_id ON promise_payments (lease_id);

DROP POLICY promise_payments_owner ON promise_payments;
CREATE POLICY promise_payments_owner ON promise_payments TO akig_read_owner USING (lease_id IN (SELECT id FROM leases));

-- The given promises' rows, recomputed, with their lease (a promise moved to another lease follows).
CREATE OR REPLACE FUNCTION promise_payments_refresh(p_ids bigint[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO promise_payments AS t (promise_id, lease_id, paid)
    SELECT e.promise_id, pr.lease_id, e.paid
      FROM promise_payments_expected e
      JOIN promises pr ON pr.id = e.promise_id
     WHERE e.promise_id = ANY (p_ids)
    ON CONFLICT (promise_id) DO UPDATE SET paid = EXCLUDED.paid, lease_id = EXCLUDED.lease_id
     WHERE (t.paid, t.lease_id) IS DISTINCT FROM (EXCLUDED.paid, EXCLUDED.lease_id)
$$;
REVOKE EXECUTE ON FUNCTION promise_payments_refresh(bigint[]) FROM PUBLIC;

-- A row whose lease disagrees with its promise's is drift too.
CREATE OR REPLACE VIEW promise_payments_drift AS
SELECT coalesce(e.promise_id, t.promise_id) AS promise_id
  FROM promise_payments_expected e
  FULL JOIN promise_payments t ON t.promise_id = e.promise_id
  LEFT JOIN promises pr ON pr.id = e.promise_id
 WHERE e.promise_id IS NULL OR t.promise_id IS NULL OR e.paid IS DISTINCT FROM t.paid
    OR t.lease_id IS DISTINCT FROM pr.lease_id;
REVOKE ALL ON promise_payments_drift FROM akig_read_all, akig_read_owner;

DROP FUNCTION promises(date, text);
CREATE FUNCTION promises(p_as_of date, p_owner_ref text DEFAULT NULL, p_due_from date DEFAULT NULL,
                         p_due_to date DEFAULT NULL)
RETURNS TABLE (promise_ref text, lease_ref text, tenant_ref text, site_ref text, owner_ref text,
               agent_ref text, amount bigint, created_on date, due_date date, paid bigint, status text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
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
      CROSS JOIN LATERAL (
          -- due by D: what promise_payments holds; due after D: its payments from the day it was made to D
          -- (bounded on paid_at a day wider, so that only those partitions are read)
          SELECT CASE WHEN pr.due_date <= p_as_of THEN coalesce(pp.paid, 0)
                      ELSE (SELECT coalesce(sum(p.amount), 0)::bigint
                              FROM payments p
                             WHERE p.lease_id = pr.lease_id
                               AND p.paid_on BETWEEN pr.created_on AND p_as_of
                               AND p.paid_at >= (pr.created_on - 1)::timestamp AT TIME ZONE 'UTC'
                               AND p.paid_at < (p_as_of + 2)::timestamp AT TIME ZONE 'UTC') END AS paid
      ) pv
     WHERE pr.created_on <= p_as_of
       AND pr.due_date >= coalesce(p_due_from, '-infinity'::date)
       AND pr.due_date <= coalesce(p_due_to, 'infinity'::date)
     ORDER BY pr.due_date DESC, pr.promise_ref
$$;

GRANT EXECUTE ON FUNCTION promises(date, text, date, date) TO akig_read_all, akig_read_owner;
