-- 006: reads of the owner dashboard: KPIs of a period, the monthly trend, a site's units, late tenants,
-- and one tenant's card, leases, ledger and timeline. Every read takes p_owner_ref (NULL = all) and the
-- site-level ones p_site_ref (NULL = all sites); the data layer refuses refs outside the owner's scope.

-- The leases in scope, optionally of one site.
CREATE FUNCTION scoped_site_leases(p_owner_ref text, p_site_ref text)
RETURNS TABLE (lease_id bigint, site_id bigint, tenant_id bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT sl.lease_id, sl.site_id, sl.tenant_id
      FROM scoped_leases(p_owner_ref) sl
     WHERE p_site_ref IS NULL OR sl.site_id = (SELECT s.id FROM sites s WHERE s.site_ref = p_site_ref)
$$;

-- One row: the KPIs of [from, to] (arrears and late leases/tenants as of `to`).
CREATE FUNCTION period_kpis(p_from date, p_to date, p_owner_ref text DEFAULT NULL, p_site_ref text DEFAULT NULL)
RETURNS TABLE (owner_ref text, site_ref text, date_from date, date_to date, arrears bigint,
               late_leases integer, late_tenants integer, due bigint, collected bigint,
               collection_rate double precision, dues integer, on_time_dues integer,
               punctuality_rate double precision)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH site AS (
        SELECT (SELECT s.id FROM sites s WHERE s.site_ref = p_site_ref) AS id
    ), bal AS (
        SELECT coalesce(sum(b.arrears), 0)::bigint AS arrears,
               count(*) FILTER (WHERE b.arrears > 0)::integer AS late_leases,
               count(DISTINCT b.tenant_id) FILTER (WHERE b.arrears > 0)::integer AS late_tenants
          FROM lease_balances(p_to, p_owner_ref) b
         WHERE p_site_ref IS NULL OR b.site_id = (SELECT id FROM site)
    ), due AS (
        SELECT coalesce(sum(d.amount), 0)::bigint AS due, count(*)::integer AS dues,
               count(*) FILTER (WHERE d.on_time)::integer AS on_time
          FROM dues_status(p_from, p_to, p_owner_ref) d
         WHERE p_site_ref IS NULL OR d.site_id = (SELECT id FROM site)
    ), paid AS (
        SELECT coalesce(sum(p.amount), 0)::bigint AS collected
          FROM payments p
          JOIN scoped_site_leases(p_owner_ref, p_site_ref) sl ON sl.lease_id = p.lease_id
         WHERE p.paid_on BETWEEN p_from AND p_to
    )
    SELECT p_owner_ref, p_site_ref, p_from, p_to, bal.arrears, bal.late_leases, bal.late_tenants,
           due.due, paid.collected, paid.collected::double precision / nullif(due.due, 0),
           due.dues, due.on_time, due.on_time::double precision / nullif(due.dues, 0)
      FROM bal, due, paid
$$;

-- The last p_months months up to p_as_of (the last one month-to-date): due, collected, rates.
CREATE FUNCTION monthly_trend(p_as_of date, p_months integer DEFAULT 12, p_owner_ref text DEFAULT NULL,
                              p_site_ref text DEFAULT NULL)
RETURNS TABLE (owner_ref text, site_ref text, month date, due bigint, collected bigint,
               collection_rate double precision, dues integer, on_time_dues integer,
               punctuality_rate double precision)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH months AS (
        SELECT due_in_month(m, 1) AS month_start,
               least(due_in_month(m + 1, 1) - 1, p_as_of) AS month_end
          FROM generate_series(month_idx(p_as_of) - p_months + 1, month_idx(p_as_of)) AS m
    ), due AS MATERIALIZED (
        SELECT due_in_month(month_idx(d.due_date), 1) AS month_start, sum(d.amount)::bigint AS due,
               count(*)::integer AS dues, count(*) FILTER (WHERE d.on_time)::integer AS on_time
          FROM dues_status((SELECT min(month_start) FROM months), p_as_of, p_owner_ref) d
         WHERE p_site_ref IS NULL OR d.site_id = (SELECT s.id FROM sites s WHERE s.site_ref = p_site_ref)
         GROUP BY 1
    ), paid AS MATERIALIZED (
        SELECT due_in_month(month_idx(p.paid_on), 1) AS month_start, sum(p.amount)::bigint AS collected
          FROM payments p
          JOIN scoped_site_leases(p_owner_ref, p_site_ref) sl ON sl.lease_id = p.lease_id
         WHERE p.paid_on BETWEEN (SELECT min(month_start) FROM months) AND p_as_of
         GROUP BY 1
    )
    SELECT p_owner_ref, p_site_ref, m.month_start, coalesce(d.due, 0), coalesce(p.collected, 0),
           coalesce(p.collected, 0)::double precision / nullif(d.due, 0),
           coalesce(d.dues, 0), coalesce(d.on_time, 0), d.on_time::double precision / nullif(d.dues, 0)
      FROM months m
      LEFT JOIN due d ON d.month_start = m.month_start
      LEFT JOIN paid p ON p.month_start = m.month_start
     ORDER BY m.month_start
$$;

-- A site's units with the lease and tenant occupying each at D (the latest lease started by D and
-- not ended), that lease's arrears and a status: vacant, late, up_to_date.
CREATE FUNCTION site_units(p_site_ref text, p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (site_ref text, owner_ref text, unit_ref text, label text, monthly_rent bigint,
               lease_ref text, tenant_ref text, full_name text, phone text, start_date date,
               end_date date, arrears bigint, days_late integer, status text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH site AS (
        SELECT s.id, s.site_ref, o.owner_ref
          FROM sites s JOIN owners o ON o.id = s.owner_id
         WHERE s.site_ref = p_site_ref AND (p_owner_ref IS NULL OR o.owner_ref = p_owner_ref)
    ), current_lease AS (
        SELECT DISTINCT ON (l.unit_id) l.unit_id, l.id AS lease_id
          FROM leases l
         WHERE l.site_id = (SELECT id FROM site)
           AND l.start_date <= p_as_of AND (l.end_date IS NULL OR l.end_date >= p_as_of)
         ORDER BY l.unit_id, l.start_date DESC
    ), bal AS (
        SELECT b.lease_id, b.arrears, b.days_late
          FROM lease_balances(p_as_of, p_owner_ref) b
         WHERE b.site_id = (SELECT id FROM site)
    )
    SELECT site.site_ref, site.owner_ref, u.unit_ref, u.label, u.monthly_rent, l.lease_ref, t.tenant_ref,
           t.full_name, t.phone, l.start_date, l.end_date, coalesce(b.arrears, 0), coalesce(b.days_late, 0),
           CASE WHEN cl.lease_id IS NULL THEN 'vacant' WHEN b.arrears > 0 THEN 'late' ELSE 'up_to_date' END
      FROM site
      JOIN units u ON u.site_id = site.id
      LEFT JOIN current_lease cl ON cl.unit_id = u.id
      LEFT JOIN leases l ON l.id = cl.lease_id
      LEFT JOIN tenants t ON t.id = l.tenant_id
      LEFT JOIN bal b ON b.lease_id = cl.lease_id
     ORDER BY u.label, u.unit_ref
$$;

-- Tenants with arrears at D (over their leases in scope, optionally of one site), largest first,
-- with days late (oldest unpaid due) and their last contact (call or visit) by D.
CREATE FUNCTION late_tenants(p_as_of date, p_owner_ref text DEFAULT NULL, p_site_ref text DEFAULT NULL,
                             p_limit integer DEFAULT NULL)
RETURNS TABLE (tenant_ref text, full_name text, phone text, owner_ref text, site_ref text, site_name text,
               arrears bigint, late_leases integer, days_late integer, last_contact_at timestamptz,
               last_contact_kind text, last_contact_outcome text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH late AS MATERIALIZED (
        SELECT b.tenant_id, sum(b.arrears)::bigint AS arrears, count(*)::integer AS leases,
               max(b.days_late)::integer AS days_late,
               (array_agg(b.site_id ORDER BY b.arrears DESC))[1] AS site_id,
               array_agg(b.lease_id) AS lease_ids
          FROM lease_balances(p_as_of, p_owner_ref) b
         WHERE b.arrears > 0
           AND (p_site_ref IS NULL OR b.site_id = (SELECT s.id FROM sites s WHERE s.site_ref = p_site_ref))
         GROUP BY b.tenant_id
         ORDER BY 2 DESC, 1
         LIMIT p_limit
    ), contact AS (
        SELECT DISTINCT ON (x.tenant_id) x.tenant_id, x.at, x.kind, x.outcome
          FROM (
            SELECT late.tenant_id, c.called_at AS at, 'call' AS kind, c.outcome
              FROM late JOIN calls c ON c.lease_id = ANY (late.lease_ids)
             WHERE c.called_at < p_as_of + 1
            UNION ALL
            SELECT late.tenant_id, v.visited_at, 'visit', v.outcome
              FROM late JOIN visits v ON v.lease_id = ANY (late.lease_ids)
             WHERE v.visited_at < p_as_of + 1
          ) x
         ORDER BY x.tenant_id, x.at DESC
    )
    SELECT t.tenant_ref, t.full_name, t.phone, o.owner_ref, s.site_ref, s.name, late.arrears, late.leases,
           late.days_late, contact.at, contact.kind, contact.outcome
      FROM late
      JOIN tenants t ON t.id = late.tenant_id
      JOIN sites s ON s.id = late.site_id
      JOIN owners o ON o.id = s.owner_id
      LEFT JOIN contact ON contact.tenant_id = late.tenant_id
     ORDER BY late.arrears DESC, t.tenant_ref
$$;

-- One tenant: identity, contact and totals over his leases in scope.
CREATE FUNCTION tenant_card(p_tenant_ref text, p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (tenant_ref text, full_name text, phone text, email text, owner_ref text, leases integer,
               active_leases integer, arrears bigint, credit bigint, bucket_0_30 bigint, bucket_31_60 bigint,
               bucket_61_90 bigint, bucket_90_plus bigint, days_late integer, oldest_unpaid_due_date date)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT t.tenant_ref, t.full_name, t.phone, t.email, p_owner_ref, count(b.lease_id)::integer,
           count(*) FILTER (WHERE l.start_date <= p_as_of AND (l.end_date IS NULL OR l.end_date >= p_as_of))::integer,
           coalesce(sum(b.arrears), 0)::bigint, coalesce(sum(b.credit), 0)::bigint,
           coalesce(sum(b.bucket_0_30), 0)::bigint, coalesce(sum(b.bucket_31_60), 0)::bigint,
           coalesce(sum(b.bucket_61_90), 0)::bigint, coalesce(sum(b.bucket_90_plus), 0)::bigint,
           coalesce(max(b.days_late), 0)::integer, min(b.oldest_unpaid_due_date)
      FROM tenants t
      JOIN lease_balances(p_as_of, p_owner_ref) b ON b.tenant_id = t.id
      JOIN leases l ON l.id = b.lease_id
     WHERE t.tenant_ref = p_tenant_ref
     GROUP BY t.id
$$;

-- A tenant's leases in scope, with each one's position at D.
CREATE FUNCTION tenant_leases(p_tenant_ref text, p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (lease_ref text, unit_ref text, unit_label text, site_ref text, site_name text, owner_ref text,
               start_date date, end_date date, monthly_rent bigint, due_day integer, dues integer,
               due_total bigint, paid bigint, arrears bigint, credit bigint, days_late integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT l.lease_ref, u.unit_ref, u.label, s.site_ref, s.name, o.owner_ref, l.start_date, l.end_date,
           l.monthly_rent, l.due_day::integer, b.dues, b.due_total, b.paid, b.arrears, b.credit, b.days_late
      FROM tenants t
      JOIN lease_balances(p_as_of, p_owner_ref) b ON b.tenant_id = t.id
      JOIN leases l ON l.id = b.lease_id
      JOIN units u ON u.id = l.unit_id
      JOIN sites s ON s.id = l.site_id
      JOIN owners o ON o.id = l.owner_id
     WHERE t.tenant_ref = p_tenant_ref
     ORDER BY l.start_date DESC, l.lease_ref
$$;

-- A tenant's ledger up to D: every due and payment of his leases in scope, date order (a due before a
-- payment of the same day), with the running balance (dues - payments so far, > 0 = owed) and, for each
-- due, what remains unpaid of it at D under FIFO and its age.
CREATE FUNCTION tenant_ledger(p_tenant_ref text, p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (lease_ref text, entry_date date, kind text, reference text, method text, due bigint,
               paid bigint, balance bigint, unpaid_at_as_of bigint, age_days integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH lease AS (
        SELECT sl.lease_id FROM scoped_leases(p_owner_ref) sl
         WHERE sl.tenant_id = (SELECT t.id FROM tenants t WHERE t.tenant_ref = p_tenant_ref)
    ), paid_total AS (
        SELECT p.lease_id, sum(p.amount)::bigint AS s FROM payments p
         WHERE p.lease_id IN (SELECT lease_id FROM lease) AND p.paid_on <= p_as_of GROUP BY p.lease_id
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
           CASE WHEN e.kind = 'due' THEN greatest(0, least(e.due, e.cum_due - coalesce(pt.s, 0))) END,
           CASE WHEN e.kind = 'due' THEN p_as_of - e.day END
      FROM entries e
      JOIN leases l ON l.id = e.lease_id
      LEFT JOIN paid_total pt ON pt.lease_id = e.lease_id
    WINDOW w AS (PARTITION BY e.lease_id ORDER BY e.day, e.ord, e.reference ROWS UNBOUNDED PRECEDING)
     ORDER BY l.lease_ref, e.day, e.ord, e.reference
$$;

-- A tenant's collection history up to D: calls, visits, promises (status at D) and payments, newest first.
CREATE FUNCTION tenant_timeline(p_tenant_ref text, p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (at timestamptz, kind text, lease_ref text, agent_ref text, agent_name text, outcome text,
               amount bigint, detail text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH lease AS (
        SELECT sl.lease_id FROM scoped_leases(p_owner_ref) sl
         WHERE sl.tenant_id = (SELECT t.id FROM tenants t WHERE t.tenant_ref = p_tenant_ref)
    ), events AS (
        SELECT c.called_at AS at, 'call' AS kind, c.lease_id, c.agent_id, c.outcome, NULL::bigint AS amount,
               c.note AS detail
          FROM calls c WHERE c.lease_id IN (SELECT lease_id FROM lease) AND c.called_at < p_as_of + 1
        UNION ALL
        SELECT v.visited_at, 'visit', v.lease_id, v.agent_id, v.outcome, NULL,
               CASE WHEN v.distance_m > 200 THEN 'position à ' || round(v.distance_m) || ' m du site' END
          FROM visits v WHERE v.lease_id IN (SELECT lease_id FROM lease) AND v.visited_at < p_as_of + 1
        UNION ALL
        SELECT pr.created_at, 'promise', pr.lease_id, pr.agent_id, pr.status, pr.amount,
               'échéance ' || to_char(pr.due_date, 'DD/MM/YYYY')
          FROM (SELECT p.*, x.status FROM promises p
                  JOIN promises(p_as_of, p_owner_ref) x ON x.promise_ref = p.promise_ref) pr
         WHERE pr.lease_id IN (SELECT lease_id FROM lease)
        UNION ALL
        SELECT p.paid_at, 'payment', p.lease_id, p.agent_id, p.method, p.amount, p.payment_ref
          FROM payments p WHERE p.lease_id IN (SELECT lease_id FROM lease) AND p.paid_on <= p_as_of
    )
    SELECT e.at, e.kind, l.lease_ref, a.agent_ref, a.full_name, e.outcome, e.amount, e.detail
      FROM events e
      JOIN leases l ON l.id = e.lease_id
      LEFT JOIN agents a ON a.id = e.agent_id
     ORDER BY e.at DESC, e.kind
$$;

-- Punctuality by cohort: leases grouped by the month they started, with the dues of [from, to] and
-- how many were paid on time (analysts compare cohorts: do recent tenants pay better?).
CREATE FUNCTION punctuality_by_cohort(p_from date, p_to date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (owner_ref text, cohort date, leases integer, dues integer, on_time_dues integer,
               punctuality_rate double precision, due bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p_owner_ref, due_in_month(month_idx(l.start_date), 1) AS cohort,
           count(DISTINCT d.lease_id)::integer, count(*)::integer,
           count(*) FILTER (WHERE d.on_time)::integer,
           (count(*) FILTER (WHERE d.on_time))::double precision / count(*),
           sum(d.amount)::bigint
      FROM dues_status(p_from, p_to, p_owner_ref) d
      JOIN leases l ON l.id = d.lease_id
     GROUP BY 2
     ORDER BY 2
$$;
