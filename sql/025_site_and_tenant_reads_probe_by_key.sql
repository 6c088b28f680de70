-- 025: reads of one site or one tenant that computed every owner's data before keeping theirs.
--
-- * monthly_trend (006) passed `(SELECT min(month_start) FROM months)` to dues_status: PostgreSQL never
--   inlines a set-returning function whose arguments hold a sub-select, so dues_status ran as a function
--   scan over the dues of every lease for 12 months (about 1.2 million) and the site filter came after.
--   The first month is now the arithmetic it always was (due_in_month(month_idx(D) - months + 1, 1)), so
--   dues_status is inlined and a site's dues are read through its leases. Its payments are also bounded on
--   paid_at (a day wider than the paid_on window, as 022 did), so only the window's month partitions are
--   read.
-- * tenant_card and tenant_leases (006) joined lease_balances of every lease in scope to the tenant found
--   by reference: the planner computed every lease's balance (about 106,000) and then kept the tenant's.
--   They now also filter the balances on the tenant's id, an init-plan parameter, so the leases are read
--   through leases_tenant_id.
-- * tenant_timeline (006) took its promises' statuses from the read promises(D) of every lease in scope
--   (28,780 promises at `large` scale, each with its payments summed) and kept the tenant's: the same
--   statuses are now computed for the tenant's promises only, with the same rule as promises (022).
--
-- Every answer is unchanged (same rows, columns, types and order). Same signatures; LANGUAGE sql, STABLE,
-- PARALLEL SAFE, SECURITY INVOKER, no SET clause (so that they are inlined), executable by both read roles.

CREATE OR REPLACE FUNCTION monthly_trend(p_as_of date, p_months integer DEFAULT 12, p_owner_ref text DEFAULT NULL,
                                         p_site_ref text DEFAULT NULL)
RETURNS TABLE (owner_ref text, site_ref text, month date, due bigint, collected bigint,
               collection_rate double precision, dues integer, on_time_dues integer,
               punctuality_rate double precision)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    WITH months AS (
        SELECT due_in_month(m, 1) AS month_start,
               least(due_in_month(m + 1, 1) - 1, p_as_of) AS month_end
          FROM generate_series(month_idx(p_as_of) - p_months + 1, month_idx(p_as_of)) AS m
    ), due AS MATERIALIZED (
        SELECT due_in_month(month_idx(d.due_date), 1) AS month_start, sum(d.amount)::bigint AS due,
               count(*)::integer AS dues, count(*) FILTER (WHERE d.on_time)::integer AS on_time
          FROM dues_status(due_in_month(month_idx(p_as_of) - p_months + 1, 1), p_as_of, p_owner_ref) d
         WHERE p_site_ref IS NULL OR d.site_id = (SELECT s.id FROM sites s WHERE s.site_ref = p_site_ref)
         GROUP BY 1
    ), paid AS MATERIALIZED (
        SELECT due_in_month(month_idx(p.paid_on), 1) AS month_start, sum(p.amount)::bigint AS collected
          FROM payments p
          JOIN scoped_site_leases(p_owner_ref, p_site_ref) sl ON sl.lease_id = p.lease_id
         WHERE p.paid_on BETWEEN due_in_month(month_idx(p_as_of) - p_months + 1, 1) AND p_as_of
           AND p.paid_at >= (due_in_month(month_idx(p_as_of) - p_months + 1, 1) - 1)::timestamp AT TIME ZONE 'UTC'
           AND p.paid_at < (p_as_of + 2)::timestamp AT TIME ZONE 'UTC'
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

CREATE OR REPLACE FUNCTION tenant_card(p_tenant_ref text, p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (tenant_ref text, full_name text, phone text, email text, owner_ref text, leases integer,
               active_leases integer, arrears bigint, credit bigint, bucket_0_30 bigint, bucket_31_60 bigint,
               bucket_61_90 bigint, bucket_90_plus bigint, days_late integer, oldest_unpaid_due_date date)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
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
       AND b.tenant_id = (SELECT t1.id FROM tenants t1 WHERE t1.tenant_ref = p_tenant_ref)
     GROUP BY t.id
$$;

CREATE OR REPLACE FUNCTION tenant_leases(p_tenant_ref text, p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (lease_ref text, unit_ref text, unit_label text, site_ref text, site_name text, owner_ref text,
               start_date date, end_date date, monthly_rent bigint, due_day integer, dues integer,
               due_total bigint, paid bigint, arrears bigint, credit bigint, days_late integer)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT l.lease_ref, u.unit_ref, u.label, s.site_ref, s.name, o.owner_ref, l.start_date, l.end_date,
           l.monthly_rent, l.due_day::integer, b.dues, b.due_total, b.paid, b.arrears, b.credit, b.days_late
      FROM tenants t
      JOIN lease_balances(p_as_of, p_owner_ref) b ON b.tenant_id = t.id
      JOIN leases l ON l.id = b.lease_id
      JOIN units u ON u.id = l.unit_id
      JOIN sites s ON s.id = l.site_id
      JOIN owners o ON o.id = l.owner_id
     WHERE t.tenant_ref = p_tenant_ref
       AND b.tenant_id = (SELECT t1.id FROM tenants t1 WHERE t1.tenant_ref = p_tenant_ref)
     ORDER BY l.start_date DESC, l.lease_ref
$$;

CREATE OR REPLACE FUNCTION tenant_timeline(p_tenant_ref text, p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (at timestamptz, kind text, lease_ref text, agent_ref text, agent_name text, outcome text,
               amount bigint, detail text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
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
        SELECT pr.created_at, 'promise', pr.lease_id, pr.agent_id,
               CASE WHEN pp.paid >= pr.amount THEN 'kept'
                    WHEN p_as_of <= pr.due_date THEN 'pending'
                    WHEN pp.paid > 0 THEN 'partial'
                    ELSE 'broken' END,
               pr.amount, 'échéance ' || to_char(pr.due_date, 'DD/MM/YYYY')
          FROM promises pr
          CROSS JOIN LATERAL (
              SELECT coalesce(sum(p.amount), 0)::bigint AS paid
                FROM payments p
               WHERE p.lease_id = pr.lease_id
                 AND p.paid_on BETWEEN pr.created_on AND least(pr.due_date, p_as_of)
                 AND p.paid_at >= (pr.created_on - 1)::timestamp AT TIME ZONE 'UTC'
                 AND p.paid_at < (least(pr.due_date, p_as_of) + 2)::timestamp AT TIME ZONE 'UTC'
          ) pp
         WHERE pr.lease_id IN (SELECT lease_id FROM lease) AND pr.created_on <= p_as_of
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

GRANT EXECUTE ON FUNCTION monthly_trend(date, integer, text, text), tenant_card(text, date, text),
    tenant_leases(text, date, text), tenant_timeline(text, date, text)
TO akig_read_all, akig_read_owner;
