-- 022: promises (005) sums, for each promise, the payments of its lease dated from the day it was made to
-- its due date (or D). Since 016, payments is partitioned by month on paid_at, but that sum filtered on
-- paid_on only, so each promise's lookup probed the (lease_id, paid_on) index of every month's partition
-- (and the default one): at `large` scale 28,780 promises times 69 partitions, about 4.7 million buffer
-- reads and 10 s. The sum now also bounds paid_at, a day wider on each side than the paid_on window
-- (paid_on is paid_at's date in Africa/Conakry, whose offset from UTC is under a day), so PostgreSQL
-- prunes, for each promise, every month outside its window at run time. The paid_on condition stays: the
-- rows summed, and so every answer, are unchanged.
--
-- Same signature, columns, types and order of rows as 005's; like every read function since 021 it is
-- LANGUAGE sql, STABLE, SECURITY INVOKER, without a SET clause (so that it is inlined), and executable by
-- both read roles.

CREATE OR REPLACE FUNCTION promises(p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (promise_ref text, lease_ref text, tenant_ref text, site_ref text, owner_ref text,
               agent_ref text, amount bigint, created_on date, due_date date, paid bigint, status text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT pr.promise_ref, l.lease_ref, t.tenant_ref, s.site_ref, o.owner_ref, a.agent_ref,
           pr.amount, pr.created_on, pr.due_date, pp.paid,
           CASE WHEN pp.paid >= pr.amount THEN 'kept'
                WHEN p_as_of <= pr.due_date THEN 'pending'
                WHEN pp.paid > 0 THEN 'partial'
                ELSE 'broken' END
      FROM promises pr
      JOIN scoped_leases(p_owner_ref) sl ON sl.lease_id = pr.lease_id
      JOIN leases l ON l.id = pr.lease_id
      JOIN tenants t ON t.id = sl.tenant_id
      JOIN sites s ON s.id = sl.site_id
      JOIN owners o ON o.id = sl.owner_id
      LEFT JOIN agents a ON a.id = pr.agent_id
      CROSS JOIN LATERAL (
          SELECT coalesce(sum(p.amount), 0)::bigint AS paid
            FROM payments p
           WHERE p.lease_id = pr.lease_id
             AND p.paid_on BETWEEN pr.created_on AND least(pr.due_date, p_as_of)
             AND p.paid_at >= (pr.created_on - 1)::timestamp AT TIME ZONE 'UTC'
             AND p.paid_at < (least(pr.due_date, p_as_of) + 2)::timestamp AT TIME ZONE 'UTC'
      ) pp
     WHERE pr.created_on <= p_as_of
     ORDER BY pr.due_date DESC, pr.promise_ref
$$;

GRANT EXECUTE ON FUNCTION promises(date, text) TO akig_read_all, akig_read_owner;
