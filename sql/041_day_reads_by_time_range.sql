-- 041: daily_stats (021) found the day's calls and visits by `(called_at AT TIME ZONE 'Africa/Conakry')::date
-- = p_day`, an expression no index holds, and the day's promises by created_on, which no index held either:
-- once the demo history held 2.1 million calls, 828,194 visits and 610,241 promises at `large` scale, each
-- desk page's figures scanned the three tables (about 0.45–0.6 s). The day is now a range on the timestamps
-- (calls_called_at and visits_visited_at, 024), and promises gain an index on created_on. agent_daily (021)
-- read an agent's whole history (his calls, visits, promises and payments through the agent indexes) before
-- keeping the window's days; it now bounds each by the window. Same signatures, columns, types, rows and
-- order; LANGUAGE sql, STABLE, SECURITY INVOKER, no SET clause, executable by both read roles (as 021).

CREATE INDEX IF NOT EXISTS promises_created_on ON promises (created_on);

CREATE OR REPLACE FUNCTION daily_stats(p_day date)
RETURNS TABLE (agent_ref text, agent_name text, is_total boolean, calls integer, right_party_contacts integer,
               visits integer, visits_with_proof integer, promises integer, promised bigint, collected bigint)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    WITH ev AS (
        SELECT agent_id, 1 AS calls, (outcome IN ('reached','promise','paid'))::int AS rpc, 0 AS visits,
               0 AS proofs, 0 AS promises, 0::bigint AS promised, 0::bigint AS collected
          FROM calls
         WHERE called_at >= p_day::timestamp AT TIME ZONE 'Africa/Conakry'
           AND called_at < (p_day + 1)::timestamp AT TIME ZONE 'Africa/Conakry'
        UNION ALL
        SELECT agent_id, 0, (outcome IN ('reached','promise','paid'))::int, 1,
               coalesce(proof, distance_m <= 200)::int, 0, 0, 0
          FROM visits
         WHERE visited_at >= p_day::timestamp AT TIME ZONE 'Africa/Conakry'
           AND visited_at < (p_day + 1)::timestamp AT TIME ZONE 'Africa/Conakry'
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

CREATE OR REPLACE FUNCTION agent_daily(p_agent_ref text, p_from date, p_to date)
RETURNS TABLE (day date, calls integer, right_party_contacts integer, visits integer, promises integer,
               collected bigint)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    WITH a AS (
        SELECT id FROM agents WHERE agent_ref = p_agent_ref
    ), ev AS (
        SELECT (called_at AT TIME ZONE 'Africa/Conakry')::date AS day, 1 AS calls,
               (outcome IN ('reached','promise','paid'))::int AS rpc, 0 AS visits, 0 AS promises,
               0::bigint AS collected
          FROM calls
         WHERE agent_id = (SELECT id FROM a)
           AND called_at >= p_from::timestamp AT TIME ZONE 'Africa/Conakry'
           AND called_at < (p_to + 1)::timestamp AT TIME ZONE 'Africa/Conakry'
        UNION ALL
        SELECT (visited_at AT TIME ZONE 'Africa/Conakry')::date, 0, (outcome IN ('reached','promise','paid'))::int,
               1, 0, 0
          FROM visits
         WHERE agent_id = (SELECT id FROM a)
           AND visited_at >= p_from::timestamp AT TIME ZONE 'Africa/Conakry'
           AND visited_at < (p_to + 1)::timestamp AT TIME ZONE 'Africa/Conakry'
        UNION ALL
        SELECT created_on, 0, 0, 0, 1, 0 FROM promises
         WHERE agent_id = (SELECT id FROM a) AND created_on BETWEEN p_from AND p_to
        UNION ALL
        SELECT paid_on, 0, 0, 0, 0, amount FROM payments
         WHERE agent_id = (SELECT id FROM a) AND paid_on BETWEEN p_from AND p_to
           AND paid_at >= (p_from - 1)::timestamp AT TIME ZONE 'UTC'
           AND paid_at < (p_to + 2)::timestamp AT TIME ZONE 'UTC'
    )
    SELECT d::date, coalesce(sum(ev.calls), 0)::integer, coalesce(sum(ev.rpc), 0)::integer,
           coalesce(sum(ev.visits), 0)::integer, coalesce(sum(ev.promises), 0)::integer,
           coalesce(sum(ev.collected), 0)::bigint
      FROM generate_series(p_from, p_to, interval '1 day') d
      LEFT JOIN ev ON ev.day = d::date
     GROUP BY d
     ORDER BY d
$$;
