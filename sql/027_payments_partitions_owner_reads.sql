-- 027: two reads that, for one owner, paid for every month's partition of payments (016): under that owner's
-- row-level security, each partition scan checks the payment's lease against his leases (the policy's
-- sub-select, built again for each partition), and both reads scanned every partition.
--
-- * collections_by_site (021) selected one day's payments on paid_on only: it also bounds paid_at now, a day
--   wider on each side (paid_on is paid_at's date in Africa/Conakry, less than a day from UTC), so only that
--   day's month partitions are planned and scanned, as 022 did for promises (for one owner at `large`
--   scale: 228 ms -> 17 ms in EXPLAIN ANALYZE).
-- * tenant_ledger (006) read the tenant's payments twice, once for the ledger's lines and once for what each
--   lease had paid by D; that sum is now taken over the ledger's own payment lines (the same payments: those
--   of the lease dated up to D).
--
-- Every answer is unchanged (same rows, columns, types and order). Same signatures; LANGUAGE sql, STABLE,
-- PARALLEL SAFE, SECURITY INVOKER, no SET clause (so that they are inlined), executable by both read roles.

CREATE OR REPLACE FUNCTION collections_by_site(p_day date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (site_ref text, site_name text, owner_ref text, method text, payments integer, collected bigint)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT s.site_ref, s.name, o.owner_ref, p.method, count(*)::integer, sum(p.amount)::bigint AS collected
      FROM payments p JOIN leases l ON l.id = p.lease_id JOIN sites s ON s.id = l.site_id
      JOIN owners o ON o.id = l.owner_id
     WHERE p.paid_on = p_day
       AND p.paid_at >= (p_day - 1)::timestamp AT TIME ZONE 'UTC'
       AND p.paid_at < (p_day + 2)::timestamp AT TIME ZONE 'UTC'
       AND (p_owner_ref IS NULL OR o.owner_ref = p_owner_ref)
     GROUP BY s.site_ref, s.name, o.owner_ref, p.method
     ORDER BY collected DESC, s.site_ref, p.method
$$;

CREATE OR REPLACE FUNCTION tenant_ledger(p_tenant_ref text, p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (lease_ref text, entry_date date, kind text, reference text, method text, due bigint,
               paid bigint, balance bigint, unpaid_at_as_of bigint, age_days integer)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    WITH lease AS (
        SELECT sl.lease_id FROM scoped_leases(p_owner_ref) sl
         WHERE sl.tenant_id = (SELECT t.id FROM tenants t WHERE t.tenant_ref = p_tenant_ref)
    ), entries AS (
        SELECT d.lease_id, d.due_date AS day, 0 AS ord, 'due' AS kind,
               to_char(d.due_date, 'YYYY-MM') AS reference, NULL::text AS method,
               d.amount AS due, 0::bigint AS paid, d.cum_due
          FROM lease_dues d
         WHERE d.lease_id IN (SELECT lease_id FROM lease) AND d.due_date <= p_as_of
        UNION ALL
        SELECT p.lease_id, p.paid_on, 1, 'payment', p.payment_ref, p.method, 0, p.amount, NULL
          FROM payments p
         WHERE p.lease_id IN (SELECT lease_id FROM lease) AND p.paid_on <= p_as_of
    )
    SELECT l.lease_ref, e.day, e.kind, e.reference, e.method, e.due, e.paid,
           (sum(e.due - e.paid) OVER w)::bigint,
           CASE WHEN e.kind = 'due'
                THEN greatest(0, least(e.due, e.cum_due - (sum(e.paid) OVER (PARTITION BY e.lease_id))::bigint)) END,
           CASE WHEN e.kind = 'due' THEN p_as_of - e.day END
      FROM entries e
      JOIN leases l ON l.id = e.lease_id
    WINDOW w AS (PARTITION BY e.lease_id ORDER BY e.day, e.ord, e.reference ROWS UNBOUNDED PRECEDING)
     ORDER BY l.lease_ref, e.day, e.ord, e.reference
$$;

GRANT EXECUTE ON FUNCTION collections_by_site(date, text), tenant_ledger(text, date, text)
TO akig_read_all, akig_read_owner;
