-- 024: agent_performance (012), which the reads agent_performance, leaderboard and leaderboard_month rank
-- through agent_ranking (021), hit the reads' statement timeout at `large` scale (60 s for a week, 8.8 s
-- for one day). Two steps of its plan did the damage:
--
-- * `paid` attributes each payment of the window recorded without an agent to the latest successful call
--   or visit with its tenant in the 7 days before it. It looked that contact up in the `contacts` CTE,
--   which `acts` also read, so PostgreSQL materialized it, without an index: every such payment scanned
--   every call and visit of the window (`Limit -> Nested Loop -> CTE Scan on contacts`). The lookup now
--   reads calls and visits themselves, through the tenant's leases (leases_tenant_id) and the
--   (lease_id, called_at) / (lease_id, visited_at) indexes, bounded to the 7 days before the payment; the
--   window bound the CTE added is implied by that one (a payment of the window is paid in
--   [from, to + 1 day) and its contact within 7 days before it). The lookup only runs for a payment
--   without an agent (the condition is inside the subquery, where it becomes a one-time filter; as a
--   join condition it was checked after the lookup).
-- * `prom` summed each promise's payments on paid_on only, so it probed the (lease_id, paid_on) index of
--   every month's partition of payments: it also bounds paid_at now, a day wider on each side, as 022 did
--   for the read `promises`, and PostgreSQL prunes the partitions per promise.
--
-- `acts` counts the calls and visits of the window straight from their tables, and a payment without an
-- agent is looked up only when its tenant had a successful contact around the window (`contacted`, one
-- hashed list). Every answer is unchanged:
-- same rows summed, same contact chosen (latest first), same columns, types and order. Same signature,
-- LANGUAGE sql STABLE, SECURITY INVOKER, no SET clause, executable by both read roles (as 012).

-- The window's calls and visits (`acts`, and `contacted` below), and one agent's promises and the payments
-- he recorded (agent_daily, 021: without these it read every partition of payments).
CREATE INDEX IF NOT EXISTS calls_called_at ON calls (called_at);
CREATE INDEX IF NOT EXISTS visits_visited_at ON visits (visited_at);
CREATE INDEX IF NOT EXISTS promises_agent_id ON promises (agent_id);
CREATE INDEX IF NOT EXISTS payments_agent_paid_on ON payments (agent_id, paid_on) INCLUDE (amount)
    WHERE agent_id IS NOT NULL;

CREATE OR REPLACE FUNCTION agent_performance(p_from date, p_to date, p_w_recovery double precision DEFAULT 60,
                                             p_w_kept double precision DEFAULT 20,
                                             p_w_completion double precision DEFAULT 20)
RETURNS TABLE (agent_ref text, agent_name text, zone text, missions_planned integer, missions_done integer,
               calls integer, visits integer, visits_with_proof integer, right_party_contacts integer,
               promises integer, promised bigint, promises_due integer, promises_kept integer, kept_amount bigint,
               collected bigint, collected_recorded bigint, assigned_arrears bigint,
               recovery_rate double precision, kept_rate double precision, completion_rate double precision,
               score double precision)
LANGUAGE sql STABLE SECURITY INVOKER AS $$
    WITH win AS (
        SELECT (p_from::timestamp AT TIME ZONE 'Africa/Conakry') AS t0,
               ((p_to + 1)::timestamp AT TIME ZONE 'Africa/Conakry') AS t1
    ), m AS (
        SELECT m.agent_id, count(*)::integer AS planned, count(*) FILTER (WHERE m.status = 'done')::integer AS done
          FROM missions m WHERE m.day BETWEEN p_from AND p_to GROUP BY m.agent_id
    ), assigned AS (
        SELECT x.agent_id, sum(x.arrears)::bigint AS arrears
          FROM (SELECT DISTINCT ON (m.agent_id, m.lease_id) m.agent_id, m.lease_id, m.arrears
                  FROM missions m WHERE m.day BETWEEN p_from AND p_to
                 ORDER BY m.agent_id, m.lease_id, m.day) x
         GROUP BY x.agent_id
    ), acts AS (
        SELECT c.agent_id,
               count(*) FILTER (WHERE c.kind = 'call')::integer AS calls,
               count(*) FILTER (WHERE c.kind = 'visit')::integer AS visits,
               count(*) FILTER (WHERE c.kind = 'visit' AND c.proof)::integer AS proofs,
               count(*) FILTER (WHERE c.outcome IN ('reached', 'promise', 'paid'))::integer AS rpc
          FROM (SELECT c.agent_id, c.outcome, 'call' AS kind, NULL::boolean AS proof
                  FROM calls c, win WHERE c.called_at >= win.t0 AND c.called_at < win.t1
                UNION ALL
                SELECT v.agent_id, v.outcome, 'visit', coalesce(v.proof, v.distance_m <= 200)
                  FROM visits v, win WHERE v.visited_at >= win.t0 AND v.visited_at < win.t1) c
         GROUP BY c.agent_id
    ), prom AS (
        SELECT pr.agent_id,
               count(*) FILTER (WHERE pr.created_on BETWEEN p_from AND p_to)::integer AS n,
               coalesce(sum(pr.amount) FILTER (WHERE pr.created_on BETWEEN p_from AND p_to), 0)::bigint AS amount,
               count(*) FILTER (WHERE pr.due_date BETWEEN p_from AND p_to)::integer AS due,
               count(*) FILTER (WHERE pr.due_date BETWEEN p_from AND p_to AND pp.paid >= pr.amount)::integer AS kept,
               coalesce(sum(pr.amount) FILTER (WHERE pr.due_date BETWEEN p_from AND p_to AND pp.paid >= pr.amount), 0)::bigint AS kept_amount
          FROM promises pr
          CROSS JOIN LATERAL (SELECT coalesce(sum(p.amount), 0) AS paid FROM payments p
                               WHERE p.lease_id = pr.lease_id AND p.paid_on BETWEEN pr.created_on AND pr.due_date
                                 AND p.paid_at >= (pr.created_on - 1)::timestamp AT TIME ZONE 'UTC'
                                 AND p.paid_at < (pr.due_date + 2)::timestamp AT TIME ZONE 'UTC') pp
         WHERE pr.agent_id IS NOT NULL AND (pr.created_on BETWEEN p_from AND p_to OR pr.due_date BETWEEN p_from AND p_to)
         GROUP BY pr.agent_id
    ), contacted AS (
        -- the leases of every tenant with a successful contact from 7 days before the window to its end:
        -- a payment without an agent on any other lease cannot be attributed
        SELECT cl.id AS lease_id
          FROM leases cl
         WHERE cl.tenant_id IN (
                   SELECT l.tenant_id
                     FROM leases l
                    WHERE l.id IN (SELECT c.lease_id FROM calls c, win
                                    WHERE c.called_at >= win.t0 - interval '7 days' AND c.called_at < win.t1
                                      AND c.outcome IN ('reached', 'promise', 'paid')
                                   UNION ALL
                                   SELECT v.lease_id FROM visits v, win
                                    WHERE v.visited_at >= win.t0 - interval '7 days' AND v.visited_at < win.t1
                                      AND v.outcome IN ('reached', 'promise', 'paid')))
    ), paid AS (
        SELECT coalesce(p.agent_id, last.agent_id) AS agent_id, sum(p.amount)::bigint AS collected,
               coalesce(sum(p.amount) FILTER (WHERE p.agent_id IS NOT NULL), 0)::bigint AS recorded
          FROM payments p
          LEFT JOIN LATERAL (
              SELECT c.agent_id
                FROM (SELECT c.agent_id, c.called_at AS at
                        FROM leases l JOIN leases cl ON cl.tenant_id = l.tenant_id JOIN calls c ON c.lease_id = cl.id
                       WHERE l.id = p.lease_id AND c.outcome IN ('reached', 'promise', 'paid')
                         AND c.called_at <= p.paid_at AND c.called_at > p.paid_at - interval '7 days'
                      UNION ALL
                      SELECT v.agent_id, v.visited_at
                        FROM leases l JOIN leases vl ON vl.tenant_id = l.tenant_id JOIN visits v ON v.lease_id = vl.id
                       WHERE l.id = p.lease_id AND v.outcome IN ('reached', 'promise', 'paid')
                         AND v.visited_at <= p.paid_at AND v.visited_at > p.paid_at - interval '7 days') c
               WHERE p.agent_id IS NULL
               ORDER BY c.at DESC LIMIT 1) last ON true
         WHERE p.paid_on BETWEEN p_from AND p_to
           AND p.paid_at >= (p_from - 1)::timestamp AT TIME ZONE 'UTC'
           AND p.paid_at < (p_to + 2)::timestamp AT TIME ZONE 'UTC'
           AND (p.agent_id IS NOT NULL OR p.lease_id IN (SELECT lease_id FROM contacted))
           AND coalesce(p.agent_id, last.agent_id) IS NOT NULL
         GROUP BY 1
    ), parts AS (
        SELECT a.agent_ref, a.full_name, a.zone,
               coalesce(m.planned, 0) AS planned, coalesce(m.done, 0) AS done,
               coalesce(acts.calls, 0) AS calls, coalesce(acts.visits, 0) AS visits,
               coalesce(acts.proofs, 0) AS proofs, coalesce(acts.rpc, 0) AS rpc,
               coalesce(prom.n, 0) AS promises, coalesce(prom.amount, 0)::bigint AS promised,
               coalesce(prom.due, 0) AS due, coalesce(prom.kept, 0) AS kept,
               coalesce(prom.kept_amount, 0)::bigint AS kept_amount,
               coalesce(paid.collected, 0)::bigint AS collected, coalesce(paid.recorded, 0)::bigint AS recorded,
               coalesce(assigned.arrears, 0)::bigint AS assigned,
               CASE WHEN assigned.arrears > 0 THEN least(1.0, coalesce(paid.collected, 0)::double precision / assigned.arrears) END AS recovery,
               CASE WHEN prom.due > 0 THEN prom.kept::double precision / prom.due END AS kept_rate,
               CASE WHEN m.planned > 0 THEN m.done::double precision / m.planned END AS completion
          FROM agents a
          LEFT JOIN m ON m.agent_id = a.id
          LEFT JOIN assigned ON assigned.agent_id = a.id
          LEFT JOIN acts ON acts.agent_id = a.id
          LEFT JOIN prom ON prom.agent_id = a.id
          LEFT JOIN paid ON paid.agent_id = a.id
         WHERE a.active OR m.planned > 0 OR paid.collected > 0
    )
    SELECT agent_ref, full_name, zone, planned, done, calls, visits, proofs, rpc, promises, promised, due, kept,
           kept_amount, collected, recorded, assigned, recovery, kept_rate, completion,
           round((100.0 * (p_w_recovery * coalesce(recovery, 0) + p_w_kept * coalesce(kept_rate, 0)
                           + p_w_completion * coalesce(completion, 0))
                  / nullif(p_w_recovery + p_w_kept + p_w_completion, 0))::numeric, 1)::double precision
      FROM parts
     ORDER BY agent_ref
$$;

GRANT EXECUTE ON FUNCTION agent_performance(date, date, double precision, double precision, double precision)
    TO akig_read_all, akig_read_owner;
