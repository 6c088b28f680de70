-- 032: lease_balances (003) computes each lease's figures once, also gives its reference and due day, and
-- reads only the payments partitions that can hold a payment dated after D.
--
-- * arrears_by_lease joined lease_balances back to leases for the lease's reference: a second pass over
--   every lease in scope (105,970 at `large` scale) and a hash of them, to label its 60,277 rows. The
--   reference now comes with the lease from scoped_leases, in the pass lease_balances already makes.
--   good_payers (033) needs the due day the same way.
-- * The payments dated after D (to take them off each lease's paid total) were bounded on paid_on only,
--   which does not prune the partitions (by month of paid_at): every read of lease_balances planned and
--   probed all 69 of them. They are now also bounded on paid_at, a day wider than paid_on (paid_on is
--   paid_at's date in Africa/Conakry, less than a day from UTC), so the rows are the same and only the
--   partitions from D's month on are planned (022 did the same for promises).
--
-- Both functions gain columns at the end (so they are dropped and created again: a function's result
-- type cannot change in place); no view depends on them, every caller names the columns it reads, and
-- the planner drops the ones a caller does not use, since both are still inlined. arrears_by_lease keeps
-- its signature, columns, types and order of rows.

DROP FUNCTION lease_balances(date, text);
DROP FUNCTION scoped_leases(text);

-- Leases in an owner's scope (every lease when p_owner_ref is NULL), with their site and owner.
-- (The data layer refuses an unknown owner_ref before calling any read.)
CREATE FUNCTION scoped_leases(p_owner_ref text)
RETURNS TABLE (lease_id bigint, unit_id bigint, site_id bigint, owner_id bigint, tenant_id bigint,
               start_date date, end_date date, due_day integer, rent bigint, first_mi integer, end_mi integer,
               lease_ref text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT l.id, l.unit_id, l.site_id, l.owner_id, l.tenant_id, l.start_date, l.end_date,
           l.due_day::integer, l.monthly_rent, l.first_due_mi, l.last_due_mi, l.lease_ref
      FROM leases l
     WHERE p_owner_ref IS NULL OR l.owner_id = (SELECT o.id FROM owners o WHERE o.owner_ref = p_owner_ref)
$$;

-- Every lease's position at D: dues, paid, arrears, credit and FIFO aging (the rules of 003, unchanged), and
-- its reference and due day.
--
-- Each lease's figures are computed once, in a LATERAL subquery that OFFSET 0 keeps from being flattened:
-- flattened, every use of arrears (two for the filter of arrears_by_lease, eight in the buckets, four in
-- the oldest unpaid due and days late) re-evaluated its whole expression, and that of the number of dues
-- under it: about 0.1 s of CPU over the 60,277 leases of arrears_by_lease at `large` scale. The fence is
-- inside the lateral subquery only, so a caller's filter on the lease (tenant_card's tenant, the owner)
-- still reaches the scan of leases.
-- The month of each aging bound is last_due_month of the lease's due day, as aging_bounds gives it, but
-- computed on the row instead of joined from aging_bounds' 31 rows: through that join PostgreSQL
-- estimated a sixth of the leases, and so hashed lease_balances' wide rows (in two batches, twice, under
-- arrears_by_lease) instead of the tenants and units they are joined to.
CREATE FUNCTION lease_balances(p_as_of date, p_owner_ref text)
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
         CROSS JOIN LATERAL (
             SELECT x.lm, x.m31, x.m61, x.m91, x.paid, x.n, x.n * pos.rent AS due_total,
                    greatest(0, x.n * pos.rent - x.paid) AS arrears,
                    greatest(0, x.paid - x.n * pos.rent) AS credit
               FROM (SELECT y.lm, y.m31, y.m61, y.m91, pos.paid, greatest(0, y.lm - pos.first_mi + 1) AS n
                       FROM (SELECT least(coalesce(pos.end_mi, 2147483647), last_due_month(p_as_of, pos.due_day)) AS lm,
                                    last_due_month(p_as_of - 31, pos.due_day) AS m31,
                                    last_due_month(p_as_of - 61, pos.due_day) AS m61,
                                    last_due_month(p_as_of - 91, pos.due_day) AS m91) y) x
             OFFSET 0
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

-- arrears_by_lease (005): the lease's reference from lease_balances instead of a join back to leases.
CREATE OR REPLACE FUNCTION arrears_by_lease(p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (lease_ref text, tenant_ref text, unit_ref text, site_ref text, owner_ref text,
               arrears bigint, credit bigint, bucket_0_30 bigint, bucket_31_60 bigint,
               bucket_61_90 bigint, bucket_90_plus bigint, oldest_unpaid_due_date date, days_late integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT b.lease_ref, t.tenant_ref, u.unit_ref, s.site_ref, o.owner_ref,
           b.arrears, b.credit, b.bucket_0_30, b.bucket_31_60, b.bucket_61_90, b.bucket_90_plus,
           b.oldest_unpaid_due_date, b.days_late
      FROM lease_balances(p_as_of, p_owner_ref) b
      JOIN tenants t ON t.id = b.tenant_id
      JOIN units u ON u.id = b.unit_id
      JOIN sites s ON s.id = b.site_id
      JOIN owners o ON o.id = b.owner_id
     WHERE b.arrears > 0 OR b.credit > 0
     ORDER BY b.arrears DESC, b.lease_ref
$$;
