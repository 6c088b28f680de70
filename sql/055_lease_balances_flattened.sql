-- 055: lease_balances (032) without the OFFSET 0 that kept its per-lease figures in a subquery run once per
-- lease. Measured again at `large` scale, that fence now costs more than it saves: each of the 105,970 leases
-- went through a subquery scan of its own, where the flattened query evaluates the figures' expressions
-- again at each use but in one pass (a few integer operations each; PostgreSQL folds the dates, which are
-- the function's argument). `COPY` of arrears_by_lease for every owner, as akig_read_all: 393-422 ->
-- 298-324 ms. The reads on lease_balances for every owner gain 10-35 % (bench/queries.py, two pairs of
-- runs: site_kpis 202-218 -> 149-159 ms, portfolio_summary 197-199 -> 150-164 ms, late_sites 225-238 ->
-- 139-158 ms); for one owner they are unchanged but for arrears_by_lease, 42-45 -> 48-52 ms.
--
-- Same rules, columns and rows: the answers of the eleven reads that use lease_balances were compared
-- before and after (206 calls: every owner, two owners, four dates; 507,252 lines, same digest).
-- Signature and result type are unchanged, so the function is replaced in place.

CREATE OR REPLACE FUNCTION lease_balances(p_as_of date, p_owner_ref text)
RETURNS TABLE (lease_id bigint, unit_id bigint, site_id bigint, owner_id bigint, tenant_id bigint,
               rent bigint, dues integer, due_total bigint, paid bigint, arrears bigint, credit bigint,
               bucket_0_30 bigint, bucket_31_60 bigint, bucket_61_90 bigint, bucket_90_plus bigint,
               oldest_unpaid_due_date date, days_late integer, lease_ref text, due_day integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH after_d AS (
        SELECT p.lease_id, sum(p.amount)::bigint AS s
          FROM payments p
         WHERE p.paid_on > p_as_of
           AND p.paid_at >= p_as_of::timestamp AT TIME ZONE 'UTC'
         GROUP BY p.lease_id
    ), pos AS (
        SELECT sl.lease_id, sl.unit_id, sl.site_id, sl.owner_id, sl.tenant_id, sl.due_day, sl.rent, sl.first_mi,
               sl.end_mi, sl.lease_ref, coalesce(t.paid_total, 0) - coalesce(a.s, 0) AS paid
          FROM scoped_leases(p_owner_ref) sl
          LEFT JOIN lease_payment_totals t ON t.lease_id = sl.lease_id
          LEFT JOIN after_d a ON a.lease_id = sl.lease_id
    ), owed AS (
        SELECT pos.lease_id, pos.unit_id, pos.site_id, pos.owner_id, pos.tenant_id, pos.rent, pos.due_day,
               pos.lease_ref, f.lm, f.m31, f.m61, f.m91, f.paid, f.n, f.due_total, f.arrears, f.credit
          FROM pos
         CROSS JOIN LATERAL (  -- flattened by PostgreSQL: a way to name the figures, not a fence
             SELECT x.lm, x.m31, x.m61, x.m91, x.paid, x.n, x.n * pos.rent AS due_total,
                    greatest(0, x.n * pos.rent - x.paid) AS arrears,
                    greatest(0, x.paid - x.n * pos.rent) AS credit
               FROM (SELECT y.lm, y.m31, y.m61, y.m91, pos.paid, greatest(0, y.lm - pos.first_mi + 1) AS n
                       FROM (SELECT least(coalesce(pos.end_mi, 2147483647), last_due_month(p_as_of, pos.due_day)) AS lm,
                                    last_due_month(p_as_of - 31, pos.due_day) AS m31,
                                    last_due_month(p_as_of - 61, pos.due_day) AS m61,
                                    last_due_month(p_as_of - 91, pos.due_day) AS m91) y) x
         ) f
    )
    SELECT o.lease_id, o.unit_id, o.site_id, o.owner_id, o.tenant_id, o.rent, o.n, o.due_total::bigint,
           o.paid::bigint, o.arrears::bigint, o.credit::bigint,
           unpaid_through(o.arrears, o.rent, o.lm, o.lm) - unpaid_through(o.arrears, o.rent, o.lm, o.m31),
           unpaid_through(o.arrears, o.rent, o.lm, o.m31) - unpaid_through(o.arrears, o.rent, o.lm, o.m61),
           unpaid_through(o.arrears, o.rent, o.lm, o.m61) - unpaid_through(o.arrears, o.rent, o.lm, o.m91),
           unpaid_through(o.arrears, o.rent, o.lm, o.m91),
           CASE WHEN o.arrears > 0
                THEN due_in_month(o.lm - ((o.arrears + o.rent - 1) / o.rent)::integer + 1, o.due_day) END,
           CASE WHEN o.arrears > 0
                THEN p_as_of - due_in_month(o.lm - ((o.arrears + o.rent - 1) / o.rent)::integer + 1, o.due_day)
                ELSE 0 END,
           o.lease_ref, o.due_day
      FROM owed o
$$;
