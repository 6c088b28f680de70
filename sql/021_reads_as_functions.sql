-- 021: the last reads whose SQL the data layer still built in Python, as functions: owners, sites, the day's
-- collections by site, the alerts (open or resolved, and those opened on a day), the missions, the agents'
-- routes, daily figures and days, the agents' ranking, the late sites of the map; and the two checks of the
-- read registry (akig_data/reads/registry.py) that a tenant is in the caller's scope. From here on every
-- registered read is `SELECT * FROM <function>(...)` (tests/akig_data/reads/test_reads_in_sql.py checks it).
--
-- Same rules as every read function since 005: LANGUAGE sql, STABLE, SECURITY INVOKER (the default, written
-- out here), so each runs with the caller's rights, as akig_read_all or akig_read_owner, and row-level
-- security (008, 011, 017) filters the rows exactly as it filtered the SELECTs they replace. No SET clause:
-- a function with one is never inlined, and inlining is what lets PostgreSQL fold `p_x IS NULL OR ...` for
-- the arguments of each call. With the caller's rights, a search_path could only lead to the caller's own
-- objects, and nobody but the owner creates objects in public (017). Executable by the read roles (as 012
-- grants agent_performance) and, like every read function, by PUBLIC: with AKIG_ROW_SECURITY=off the
-- reads run as the login role. Columns, types, order of rows and NULLs are those of the replaced SELECTs.

-- Owners (all, or one) with the number of their sites.
CREATE FUNCTION owners(p_owner_ref text DEFAULT NULL)
RETURNS TABLE (owner_ref text, name text, phone text, email text, sites integer)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT o.owner_ref, o.name, o.phone, o.email, count(s.id)::integer
      FROM owners o LEFT JOIN sites s ON s.owner_id = o.id
     WHERE p_owner_ref IS NULL OR o.owner_ref = p_owner_ref
     GROUP BY o.id
     ORDER BY o.name, o.owner_ref
$$;

-- Sites (all, or one owner's) with their place and number of units.
CREATE FUNCTION sites(p_owner_ref text DEFAULT NULL)
RETURNS TABLE (site_ref text, owner_ref text, site_name text, commune text, quartier text, lat double precision,
               lon double precision, units integer)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT s.site_ref, o.owner_ref, s.name, s.commune, s.quartier, s.lat, s.lon,
           (SELECT count(*) FROM units u WHERE u.site_id = s.id)::integer
      FROM sites s JOIN owners o ON o.id = s.owner_id
     WHERE p_owner_ref IS NULL OR o.owner_ref = p_owner_ref
     ORDER BY s.name, s.site_ref
$$;

-- Money collected on one day by site and payment method (the daily report).
CREATE FUNCTION collections_by_site(p_day date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (site_ref text, site_name text, owner_ref text, method text, payments integer, collected bigint)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT s.site_ref, s.name, o.owner_ref, p.method, count(*)::integer, sum(p.amount)::bigint AS collected
      FROM payments p JOIN leases l ON l.id = p.lease_id JOIN sites s ON s.id = l.site_id
      JOIN owners o ON o.id = l.owner_id
     WHERE p.paid_on = p_day
       AND (p_owner_ref IS NULL OR o.owner_ref = p_owner_ref)
     GROUP BY s.site_ref, s.name, o.owner_ref, p.method
     ORDER BY collected DESC, s.site_ref, p.method
$$;

-- The open alerts (p_status 'active', most severe first) or the resolved ones ('resolved', newest first),
-- at most 5000, with what to open for each (link_ref): a lease's tenant card, a visit's agent on the map,
-- else the object itself. The data layer refuses any other status.
CREATE FUNCTION alerts(p_status text, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (id bigint, rule text, severity text, title text, object_kind text, object_ref text, owner_ref text,
               detail text, value double precision, first_seen timestamptz, last_seen timestamptz,
               resolved_at timestamptz, ack_by text, ack_at timestamptz, ack_comment text, link_ref text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT a.id, a.rule, a.severity, a.title, a.object_kind, a.object_ref, a.owner_ref, a.detail, a.value,
           a.first_seen, a.last_seen, a.resolved_at, a.ack_by, a.ack_at, a.ack_comment,
           CASE a.object_kind
               WHEN 'lease' THEN (SELECT t.tenant_ref FROM leases l JOIN tenants t ON t.id = l.tenant_id
                                   WHERE l.lease_ref = a.object_ref)
               WHEN 'visit' THEN (SELECT g.agent_ref FROM visits v JOIN agents g ON g.id = v.agent_id
                                   WHERE v.visit_ref = a.object_ref)
               ELSE a.object_ref END
      FROM alerts a
     WHERE (a.resolved_at IS NULL) = (p_status = 'active')
       AND (p_owner_ref IS NULL OR a.owner_ref = p_owner_ref)
     ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
              coalesce(a.resolved_at, a.last_seen) DESC, a.id DESC
     LIMIT 5000
$$;

-- The alerts first raised on one day (Conakry date), still open or not (the daily report's new alerts).
CREATE FUNCTION alerts_opened(p_day date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (id bigint, rule text, severity text, title text, object_kind text, object_ref text, owner_ref text,
               detail text, first_seen timestamptz, resolved_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT a.id, a.rule, a.severity, a.title, a.object_kind, a.object_ref, a.owner_ref, a.detail, a.first_seen,
           a.resolved_at
      FROM alerts a
     WHERE a.first_seen >= p_day::timestamp AT TIME ZONE 'Africa/Conakry'
       AND a.first_seen < (p_day + 1)::timestamp AT TIME ZONE 'Africa/Conakry'
       AND (p_owner_ref IS NULL OR a.owner_ref = p_owner_ref)
     ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, a.first_seen, a.id
$$;

-- The day's missions: agent, route order, call or visit, tenant, phone, site, arrears, ETA, status.
CREATE FUNCTION missions(p_day date, p_agent_ref text DEFAULT NULL, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (mission_ref text, agent_ref text, agent_name text, kind text, route_order integer,
               eta timestamptz, leg_m double precision, reason text, arrears bigint, chance double precision,
               priority bigint, status text, done_at timestamptz, outcome text, lease_ref text, tenant_ref text,
               full_name text, phone text, site_ref text, site_name text, commune text, quartier text,
               lat double precision, lon double precision, owner_ref text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT m.mission_ref, a.agent_ref, a.full_name, m.kind, m.route_order, m.eta, m.leg_m, m.reason, m.arrears,
           m.chance, m.priority, m.status, m.done_at, m.outcome, l.lease_ref, t.tenant_ref, t.full_name, t.phone,
           s.site_ref, s.name, s.commune, s.quartier, s.lat, s.lon, o.owner_ref
      FROM missions m JOIN agents a ON a.id = m.agent_id JOIN leases l ON l.id = m.lease_id
      JOIN tenants t ON t.id = l.tenant_id JOIN sites s ON s.id = l.site_id JOIN owners o ON o.id = l.owner_id
     WHERE m.day = p_day
       AND (p_agent_ref IS NULL OR a.agent_ref = p_agent_ref)
       AND (p_owner_ref IS NULL OR o.owner_ref = p_owner_ref)
     ORDER BY a.agent_ref, m.kind DESC, m.route_order
$$;

-- The day's visits in route order per agent: site, position, ETA, leg, status (no tenant in it).
CREATE FUNCTION agent_routes(p_day date, p_agent_ref text DEFAULT NULL)
RETURNS TABLE (agent_ref text, agent_name text, mission_ref text, kind text, route_order integer,
               eta timestamptz, leg_m double precision, status text, done_at timestamptz, site_ref text,
               site_name text, commune text, lat double precision, lon double precision)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT a.agent_ref, a.full_name, m.mission_ref, m.kind, m.route_order, m.eta, m.leg_m, m.status, m.done_at,
           s.site_ref, s.name, s.commune, s.lat, s.lon
      FROM missions m JOIN agents a ON a.id = m.agent_id JOIN leases l ON l.id = m.lease_id
      JOIN sites s ON s.id = l.site_id
     WHERE m.day = p_day AND m.kind = 'visit'
       AND (p_agent_ref IS NULL OR a.agent_ref = p_agent_ref)
     ORDER BY a.agent_ref, m.route_order
$$;

-- The day's work by agent and in total (agent_ref NULL, is_total): calls, right-party contacts, visits
-- (with proof), promises obtained (count, amount), money collected (every payment of the day; by agent:
-- the payments he recorded, "Sans agent" for the others).
CREATE FUNCTION daily_stats(p_day date)
RETURNS TABLE (agent_ref text, agent_name text, is_total boolean, calls integer, right_party_contacts integer,
               visits integer, visits_with_proof integer, promises integer, promised bigint, collected bigint)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    WITH ev AS (
        SELECT agent_id, 1 AS calls, (outcome IN ('reached','promise','paid'))::int AS rpc, 0 AS visits,
               0 AS proofs, 0 AS promises, 0::bigint AS promised, 0::bigint AS collected
          FROM calls WHERE (called_at AT TIME ZONE 'Africa/Conakry')::date = p_day
        UNION ALL
        SELECT agent_id, 0, (outcome IN ('reached','promise','paid'))::int, 1,
               coalesce(proof, distance_m <= 200)::int, 0, 0, 0
          FROM visits WHERE (visited_at AT TIME ZONE 'Africa/Conakry')::date = p_day
        UNION ALL
        SELECT agent_id, 0, 0, 0, 0, 1, amount, 0 FROM promises WHERE created_on = p_day
        UNION ALL
        SELECT agent_id, 0, 0, 0, 0, 0, 0, amount FROM payments WHERE paid_on = p_day
    )
    SELECT CASE WHEN grouping(a.agent_ref) = 1 THEN NULL ELSE a.agent_ref END AS agent_ref,
           CASE WHEN grouping(a.agent_ref) = 1 THEN 'Total' ELSE coalesce(a.full_name, 'Sans agent') END,
           (grouping(a.agent_ref) = 1) AS is_total,
           sum(ev.calls)::integer, sum(ev.rpc)::integer, sum(ev.visits)::integer, sum(ev.proofs)::integer,
           sum(ev.promises)::integer, sum(ev.promised)::bigint, sum(ev.collected)::bigint AS collected
      FROM ev LEFT JOIN agents a ON a.id = ev.agent_id
     GROUP BY GROUPING SETS ((a.agent_ref, a.full_name), ())
     ORDER BY is_total, collected DESC, agent_ref
$$;

-- One agent's days from p_from to p_to: calls, right-party contacts, visits, promises and the payments
-- he recorded (zeros on a day without any).
CREATE FUNCTION agent_daily(p_agent_ref text, p_from date, p_to date)
RETURNS TABLE (day date, calls integer, right_party_contacts integer, visits integer, promises integer,
               collected bigint)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    WITH a AS (
        SELECT id FROM agents WHERE agent_ref = p_agent_ref
    ), ev AS (
        SELECT (called_at AT TIME ZONE 'Africa/Conakry')::date AS day, 1 AS calls,
               (outcome IN ('reached','promise','paid'))::int AS rpc, 0 AS visits, 0 AS promises,
               0::bigint AS collected
          FROM calls WHERE agent_id = (SELECT id FROM a)
        UNION ALL
        SELECT (visited_at AT TIME ZONE 'Africa/Conakry')::date, 0, (outcome IN ('reached','promise','paid'))::int,
               1, 0, 0
          FROM visits WHERE agent_id = (SELECT id FROM a)
        UNION ALL
        SELECT created_on, 0, 0, 0, 1, 0 FROM promises WHERE agent_id = (SELECT id FROM a)
        UNION ALL
        SELECT paid_on, 0, 0, 0, 0, amount FROM payments WHERE agent_id = (SELECT id FROM a)
    )
    SELECT d::date, coalesce(sum(ev.calls), 0)::integer, coalesce(sum(ev.rpc), 0)::integer,
           coalesce(sum(ev.visits), 0)::integer, coalesce(sum(ev.promises), 0)::integer,
           coalesce(sum(ev.collected), 0)::bigint
      FROM generate_series(p_from, p_to, interval '1 day') d
      LEFT JOIN ev ON ev.day = d::date
     GROUP BY d
     ORDER BY d
$$;

-- agent_performance (012) with its weights, for every agent or one, best first: the reads
-- agent_performance, leaderboard and leaderboard_month (which numbers the rows). Not PARALLEL SAFE, like
-- agent_performance.
CREATE FUNCTION agent_ranking(p_from date, p_to date, p_w_recovery double precision,
                              p_w_kept double precision, p_w_completion double precision,
                              p_agent_ref text DEFAULT NULL)
RETURNS TABLE (agent_ref text, agent_name text, zone text, missions_planned integer, missions_done integer,
               calls integer, visits integer, visits_with_proof integer, right_party_contacts integer,
               promises integer, promised bigint, promises_due integer, promises_kept integer, kept_amount bigint,
               collected bigint, collected_recorded bigint, assigned_arrears bigint,
               recovery_rate double precision, kept_rate double precision, completion_rate double precision,
               score double precision)
LANGUAGE sql STABLE SECURITY INVOKER AS $$
    SELECT p.*
      FROM agent_performance(p_from, p_to, p_w_recovery, p_w_kept, p_w_completion) p
     WHERE p_agent_ref IS NULL OR p.agent_ref = p_agent_ref
     ORDER BY p.score DESC, p.collected DESC, p.agent_ref
$$;

-- The map's late sites (013) filtered by commune, minimum arrears (GNF) and minimum days late; largest
-- arrears first. The minimums are numeric: any integer the caller gives compares, none overflows.
CREATE FUNCTION late_sites(p_as_of date, p_owner_ref text DEFAULT NULL, p_commune text DEFAULT NULL,
                           p_min_arrears numeric DEFAULT 0, p_min_days_late numeric DEFAULT 0)
RETURNS TABLE (site_ref text, site_name text, owner_ref text, commune text, quartier text, lat double precision,
               lon double precision, tenants_late integer, arrears bigint, days_late integer,
               last_contact_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT m.*
      FROM map_late_sites(p_as_of, p_owner_ref) m
     WHERE (p_commune IS NULL OR m.commune = p_commune)
       AND m.arrears >= p_min_arrears AND m.days_late >= p_min_days_late
     ORDER BY m.arrears DESC, m.site_ref
$$;

-- The registry's checks (akig_data/reads/registry.py): one row, the tenant, when he is in the caller's
-- scope, none otherwise (the data layer then answers "Locataire inconnu", as for a tenant that does not
-- exist).
-- A tenant with a lease of the owner (any tenant when p_owner_ref is NULL); row-level security applies too.
CREATE FUNCTION scoped_tenant(p_tenant_ref text, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (tenant_ref text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT t.tenant_ref
      FROM tenants t
     WHERE t.tenant_ref = p_tenant_ref
       AND (p_owner_ref IS NULL OR EXISTS (
               SELECT 1 FROM leases l JOIN owners o ON o.id = l.owner_id
                WHERE l.tenant_id = t.id AND o.owner_ref = p_owner_ref))
$$;

-- A tenant of one of the agent's mission leases (019's agent_mission_leases: p_days days back to tomorrow).
CREATE FUNCTION agent_mission_tenant(p_agent_ref text, p_tenant_ref text, p_today date, p_days integer)
RETURNS TABLE (tenant_ref text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT t.tenant_ref
      FROM agent_mission_leases(p_agent_ref, p_today, p_days) m
      JOIN leases l ON l.id = m.lease_id JOIN tenants t ON t.id = l.tenant_id
     WHERE t.tenant_ref = p_tenant_ref
     LIMIT 1
$$;

GRANT EXECUTE ON FUNCTION
    owners(text), sites(text), collections_by_site(date, text), alerts(text, text), alerts_opened(date, text),
    missions(date, text, text), agent_routes(date, text), daily_stats(date), agent_daily(text, date, date),
    agent_ranking(date, date, double precision, double precision, double precision, text),
    late_sites(date, text, text, numeric, numeric), scoped_tenant(text, text),
    agent_mission_tenant(text, text, date, integer)
TO akig_read_all, akig_read_owner;
