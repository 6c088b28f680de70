-- 004: the reads the data layer exposes (akig_data.reads registers one Python function per read).
-- Every read takes p_owner_ref (NULL = all owners; the data layer refuses an unknown one before
-- calling) and every row that belongs to one owner carries its owner_ref. Money is bigint GNF, rates
-- float8 in 0..1 (collection may exceed 1), NULL when their divisor is 0; nothing is rounded here.

CREATE FUNCTION arrears_by_lease(p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (lease_ref text, tenant_ref text, unit_ref text, site_ref text, owner_ref text,
               arrears bigint, credit bigint, bucket_0_30 bigint, bucket_31_60 bigint,
               bucket_61_90 bigint, bucket_90_plus bigint, oldest_unpaid_due_date date, days_late integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT l.lease_ref, t.tenant_ref, u.unit_ref, s.site_ref, o.owner_ref,
           b.arrears, b.credit, b.bucket_0_30, b.bucket_31_60, b.bucket_61_90, b.bucket_90_plus,
           b.oldest_unpaid_due_date, b.days_late
      FROM lease_balances(p_as_of, p_owner_ref) b
      JOIN leases l ON l.id = b.lease_id
      JOIN tenants t ON t.id = b.tenant_id
      JOIN units u ON u.id = b.unit_id
      JOIN sites s ON s.id = b.site_id
      JOIN owners o ON o.id = b.owner_id
     WHERE b.arrears > 0 OR b.credit > 0
     ORDER BY b.arrears DESC, l.lease_ref
$$;

CREATE FUNCTION arrears_by_site(p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (site_ref text, owner_ref text, site_name text, commune text, quartier text,
               arrears bigint, late_leases integer, bucket_0_30 bigint, bucket_31_60 bigint,
               bucket_61_90 bigint, bucket_90_plus bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH agg AS MATERIALIZED (  -- materialized: computed once, however the planner joins it to sites
        SELECT b.site_id, sum(b.arrears)::bigint AS arrears, count(*) FILTER (WHERE b.arrears > 0)::integer AS late,
               sum(b.bucket_0_30)::bigint AS b0, sum(b.bucket_31_60)::bigint AS b1,
               sum(b.bucket_61_90)::bigint AS b2, sum(b.bucket_90_plus)::bigint AS b3
          FROM lease_balances(p_as_of, p_owner_ref) b
         GROUP BY b.site_id
    )
    SELECT s.site_ref, o.owner_ref, s.name, s.commune, s.quartier,
           coalesce(a.arrears, 0), coalesce(a.late, 0), coalesce(a.b0, 0), coalesce(a.b1, 0),
           coalesce(a.b2, 0), coalesce(a.b3, 0)
      FROM sites s
      JOIN owners o ON o.id = s.owner_id
      LEFT JOIN agg a ON a.site_id = s.id
     WHERE p_owner_ref IS NULL OR o.owner_ref = p_owner_ref
     ORDER BY coalesce(a.arrears, 0) DESC, s.site_ref
$$;

CREATE FUNCTION site_kpis(p_from date, p_to date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (site_ref text, owner_ref text, site_name text, commune text, quartier text,
               due bigint, collected bigint, collection_rate double precision,
               dues integer, on_time_dues integer, punctuality_rate double precision,
               arrears bigint, late_leases integer, units integer, occupied_units integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    -- Each per-site aggregate is materialized: computed once, however the planner joins it to sites
    -- (row-level security makes its row estimates too low to trust).
    WITH due AS MATERIALIZED (
        SELECT d.site_id, sum(d.amount)::bigint AS due, count(*)::integer AS dues,
               count(*) FILTER (WHERE d.on_time)::integer AS on_time
          FROM dues_status(p_from, p_to, p_owner_ref) d
         GROUP BY d.site_id
    ), paid AS MATERIALIZED (
        SELECT l.site_id, sum(p.amount)::bigint AS collected
          FROM payments p
          JOIN leases l ON l.id = p.lease_id
         WHERE p.paid_on BETWEEN p_from AND p_to
         GROUP BY l.site_id
    ), bal AS MATERIALIZED (
        SELECT b.site_id, sum(b.arrears)::bigint AS arrears, count(*) FILTER (WHERE b.arrears > 0)::integer AS late
          FROM lease_balances(p_to, p_owner_ref) b
         GROUP BY b.site_id
    ), occupied AS MATERIALIZED (
        SELECT DISTINCT l.unit_id FROM leases l
         WHERE l.start_date <= p_to AND (l.end_date IS NULL OR l.end_date >= p_to)
    ), stock AS MATERIALIZED (
        SELECT u.site_id, count(*)::integer AS units, count(oc.unit_id)::integer AS occupied
          FROM units u LEFT JOIN occupied oc ON oc.unit_id = u.id
         GROUP BY u.site_id
    )
    SELECT s.site_ref, o.owner_ref, s.name, s.commune, s.quartier,
           coalesce(d.due, 0), coalesce(p.collected, 0),
           coalesce(p.collected, 0)::double precision / nullif(d.due, 0),
           coalesce(d.dues, 0), coalesce(d.on_time, 0),
           d.on_time::double precision / nullif(d.dues, 0),
           coalesce(b.arrears, 0), coalesce(b.late, 0), coalesce(st.units, 0), coalesce(st.occupied, 0)
      FROM sites s
      JOIN owners o ON o.id = s.owner_id
      LEFT JOIN due d ON d.site_id = s.id
      LEFT JOIN paid p ON p.site_id = s.id
      LEFT JOIN bal b ON b.site_id = s.id
      LEFT JOIN stock st ON st.site_id = s.id
     WHERE p_owner_ref IS NULL OR o.owner_ref = p_owner_ref
     ORDER BY s.site_ref
$$;

-- Good payers as of D: tenants with >= 6 dues in (D - 365, D], all their leases (in scope) at zero
-- arrears at D; ratio = on-time dues / dues in that window; gold = 1, silver >= 0.9, bronze >= 0.75.
CREATE FUNCTION good_payers(p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (tenant_ref text, full_name text, owner_ref text, badge text, ratio double precision,
               dues integer, on_time_dues integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH clean AS MATERIALIZED (
        SELECT b.tenant_id
          FROM lease_balances(p_as_of, p_owner_ref) b
         GROUP BY b.tenant_id
        HAVING max(b.arrears) = 0
    ), window_dues AS MATERIALIZED (
        SELECT d.tenant_id, count(*)::integer AS dues, count(*) FILTER (WHERE d.on_time)::integer AS on_time
          FROM dues_status(p_as_of - 364, p_as_of, p_owner_ref) d
         WHERE d.tenant_id IN (SELECT c.tenant_id FROM clean c)
         GROUP BY d.tenant_id
        HAVING count(*) >= 6
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

-- Promises made on or before D and their status at D:
--   paid = payments on the lease dated in [created, min(due_date, D)] (not capped at the amount);
--   paid >= amount -> kept; else D <= due_date -> pending; else paid > 0 -> partial; else broken.
CREATE FUNCTION promises(p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (promise_ref text, lease_ref text, tenant_ref text, site_ref text, owner_ref text,
               agent_ref text, amount bigint, created_on date, due_date date, paid bigint, status text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
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
      ) pp
     WHERE pr.created_on <= p_as_of
     ORDER BY pr.due_date DESC, pr.promise_ref
$$;

-- One row: the portfolio at D (sites, units, occupancy, tenants, arrears) and its month to date.
CREATE FUNCTION portfolio_summary(p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (owner_ref text, sites integer, units integer, occupied_units integer, tenants integer,
               arrears bigint, late_leases integer, credit bigint, month_start date,
               due bigint, collected bigint, collection_rate double precision,
               dues integer, on_time_dues integer, punctuality_rate double precision)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH stock AS (
        SELECT count(DISTINCT s.id)::integer AS sites, count(DISTINCT u.id)::integer AS units
          FROM sites s JOIN owners o ON o.id = s.owner_id LEFT JOIN units u ON u.site_id = s.id
         WHERE p_owner_ref IS NULL OR o.owner_ref = p_owner_ref
    ), active AS (
        SELECT count(DISTINCT sl.unit_id)::integer AS occupied, count(DISTINCT sl.tenant_id)::integer AS tenants
          FROM scoped_leases(p_owner_ref) sl
         WHERE sl.start_date <= p_as_of AND (sl.end_date IS NULL OR sl.end_date >= p_as_of)
    ), bal AS (
        SELECT coalesce(sum(b.arrears), 0)::bigint AS arrears, count(*) FILTER (WHERE b.arrears > 0)::integer AS late,
               coalesce(sum(b.credit), 0)::bigint AS credit
          FROM lease_balances(p_as_of, p_owner_ref) b
    ), due AS (
        SELECT coalesce(sum(d.amount), 0)::bigint AS due, count(*)::integer AS dues,
               count(*) FILTER (WHERE d.on_time)::integer AS on_time
          FROM dues_status(due_in_month(month_idx(p_as_of), 1), p_as_of, p_owner_ref) d
    ), paid AS (
        SELECT coalesce(sum(p.amount), 0)::bigint AS collected
          FROM payments p
          JOIN scoped_leases(p_owner_ref) sl ON sl.lease_id = p.lease_id
         WHERE p.paid_on BETWEEN due_in_month(month_idx(p_as_of), 1) AND p_as_of
    )
    SELECT p_owner_ref, stock.sites, stock.units, active.occupied, active.tenants,
           bal.arrears, bal.late, bal.credit, due_in_month(month_idx(p_as_of), 1),
           due.due, paid.collected, paid.collected::double precision / nullif(due.due, 0),
           due.dues, due.on_time, due.on_time::double precision / nullif(due.dues, 0)
      FROM stock, active, bal, due, paid
$$;
