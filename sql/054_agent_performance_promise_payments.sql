-- 054: agent_performance for every agent over a whole month (the month's leaderboard at its end) took
-- 0.8-1.1 s at `large` scale. Two parts made most of it; the others are those of sql/050, unchanged.
--
-- * The promises. What a promise has been paid (the payments of its lease from the day it was made to its
--   due date) was summed again from payments for each of the month's 16,460 promises, although
--   promise_payments (sql/035) keeps exactly that sum per promise, maintained by the triggers on payments
--   and promises. And to take the promises in agent order for that, PostgreSQL walked promises_agent_id
--   over all 610,241 promises and kept the month's: 377 ms of the 560 the part took under EXPLAIN ANALYZE.
--   Each promise's sum is now looked up in promise_payments by its key (a scalar sub-select: one probe per
--   promise rather than a hash of every promise's row), and PostgreSQL then takes the month's promises from
--   promises_created_on and promises_due_date (BitmapOr): 560 -> 43 ms. A promise without a
--   promise_payments row counts as paid 0, as the sum of no payments did.
-- * The payments without an agent, attributed to the last successful contact with their tenant in the 7
--   days up to them: for every agent, each of the month's 20,402 was looked up alone (leases of the
--   tenant, then calls and visits of each: about 300 ms). The window's successful contacts (38,069, from 7
--   days before it) and its payments without an agent are now two lists joined by tenant, the last
--   contact kept per payment (DISTINCT ON): about 120 ms. For one agent the lookup per payment stays (on
--   the leases he reached only, a few dozen payments); the list of every contact would cost him more.
--   Which of the two runs is decided by p_agent_ref (the other one's condition is false). Two contacts at
--   the same instant now go to the agent with the smaller id in both, where the lookup took either.
--
-- `COPY` of the function as akig_read_all: every agent over 2026-11 780 -> 182-185 ms, over
-- 2026-12-01..07 112 -> 87 ms, one agent over 2026-11 23 -> 20 ms. Same rows, columns and order (compared
-- over five windows, every agent, one agent and the five-argument form, before and after).

CREATE OR REPLACE FUNCTION agent_performance(p_from date, p_to date, p_w_recovery double precision,
                                  p_w_kept double precision, p_w_completion double precision,
                                  p_agent_ref text)
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
          FROM missions m
         WHERE m.day BETWEEN p_from AND p_to
           AND (p_agent_ref IS NULL OR m.agent_id = (SELECT id FROM agents WHERE agents.agent_ref = p_agent_ref))
         GROUP BY m.agent_id
    ), assigned AS (
        SELECT x.agent_id, sum(x.arrears)::bigint AS arrears
          FROM (SELECT DISTINCT ON (m.agent_id, m.lease_id) m.agent_id, m.lease_id, m.arrears
                  FROM missions m
                 WHERE m.day BETWEEN p_from AND p_to
                   AND (p_agent_ref IS NULL OR m.agent_id = (SELECT id FROM agents WHERE agents.agent_ref = p_agent_ref))
                 ORDER BY m.agent_id, m.lease_id, m.day) x
         GROUP BY x.agent_id
    ), acts AS (
        SELECT c.agent_id,
               count(*) FILTER (WHERE c.kind = 'call')::integer AS calls,
               count(*) FILTER (WHERE c.kind = 'visit')::integer AS visits,
               count(*) FILTER (WHERE c.kind = 'visit' AND c.proof)::integer AS proofs,
               count(*) FILTER (WHERE c.outcome IN ('reached', 'promise', 'paid'))::integer AS rpc
          FROM (SELECT c.agent_id, c.outcome, 'call' AS kind, NULL::boolean AS proof
                  FROM calls c, win
                 WHERE c.called_at >= win.t0 AND c.called_at < win.t1
                   AND (p_agent_ref IS NULL OR c.agent_id = (SELECT id FROM agents WHERE agents.agent_ref = p_agent_ref))
                UNION ALL
                SELECT v.agent_id, v.outcome, 'visit', coalesce(v.proof, v.distance_m <= 200)
                  FROM visits v, win
                 WHERE v.visited_at >= win.t0 AND v.visited_at < win.t1
                   AND (p_agent_ref IS NULL OR v.agent_id = (SELECT id FROM agents WHERE agents.agent_ref = p_agent_ref))) c
         GROUP BY c.agent_id
    ), prom AS (
        SELECT pr.agent_id,
               count(*) FILTER (WHERE pr.created_on BETWEEN p_from AND p_to)::integer AS n,
               coalesce(sum(pr.amount) FILTER (WHERE pr.created_on BETWEEN p_from AND p_to), 0)::bigint AS amount,
               count(*) FILTER (WHERE pr.due_date BETWEEN p_from AND p_to)::integer AS due,
               count(*) FILTER (WHERE pr.due_date BETWEEN p_from AND p_to AND coalesce(pp.paid, 0) >= pr.amount)::integer AS kept,
               coalesce(sum(pr.amount) FILTER (WHERE pr.due_date BETWEEN p_from AND p_to AND coalesce(pp.paid, 0) >= pr.amount), 0)::bigint AS kept_amount
          FROM promises pr
          CROSS JOIN LATERAL (SELECT (SELECT t.paid FROM promise_payments t WHERE t.promise_id = pr.id) AS paid) pp
         WHERE pr.agent_id IS NOT NULL AND (pr.created_on BETWEEN p_from AND p_to OR pr.due_date BETWEEN p_from AND p_to)
           AND (p_agent_ref IS NULL OR pr.agent_id = (SELECT id FROM agents WHERE agents.agent_ref = p_agent_ref))
         GROUP BY pr.agent_id
    ), contacted AS (
        -- one agent: the leases of every tenant he reached from 7 days before the window to its end; a
        -- payment without an agent on any other lease cannot be attributed to him
        SELECT cl.id AS lease_id
          FROM leases cl
         WHERE cl.tenant_id IN (
                   SELECT l.tenant_id
                     FROM leases l
                    WHERE l.id IN (SELECT c.lease_id FROM calls c, win
                                    WHERE c.called_at >= win.t0 - interval '7 days' AND c.called_at < win.t1
                                      AND c.outcome IN ('reached', 'promise', 'paid')
                                      AND c.agent_id = (SELECT id FROM agents WHERE agents.agent_ref = p_agent_ref)
                                   UNION ALL
                                   SELECT v.lease_id FROM visits v, win
                                    WHERE v.visited_at >= win.t0 - interval '7 days' AND v.visited_at < win.t1
                                      AND v.outcome IN ('reached', 'promise', 'paid')
                                      AND v.agent_id = (SELECT id FROM agents WHERE agents.agent_ref = p_agent_ref)))
    ), window_contacts AS (
        -- every agent: the successful contacts from 7 days before the window to its end, with their tenant
        SELECT l.tenant_id, c.agent_id, c.called_at AS at
          FROM calls c JOIN leases l ON l.id = c.lease_id, win
         WHERE c.called_at >= win.t0 - interval '7 days' AND c.called_at < win.t1
           AND c.outcome IN ('reached', 'promise', 'paid')
        UNION ALL
        SELECT l.tenant_id, v.agent_id, v.visited_at
          FROM visits v JOIN leases l ON l.id = v.lease_id, win
         WHERE v.visited_at >= win.t0 - interval '7 days' AND v.visited_at < win.t1
           AND v.outcome IN ('reached', 'promise', 'paid')
    ), attributed AS (
        -- every agent: each payment of the window without an agent goes to the last successful contact with
        -- its tenant (on any of his leases) in the 7 days up to it; the two lists are joined by tenant
        SELECT DISTINCT ON (pay.id) con.agent_id, pay.amount
          FROM (SELECT p.id, p.amount, p.paid_at, l.tenant_id
                  FROM payments p JOIN leases l ON l.id = p.lease_id
                 WHERE p_agent_ref IS NULL AND p.agent_id IS NULL
                   AND p.paid_on BETWEEN p_from AND p_to
                   AND p.paid_at >= (p_from - 1)::timestamp AT TIME ZONE 'UTC'
                   AND p.paid_at < (p_to + 2)::timestamp AT TIME ZONE 'UTC') pay
          JOIN window_contacts con
            ON con.tenant_id = pay.tenant_id AND con.at <= pay.paid_at AND con.at > pay.paid_at - interval '7 days'
         ORDER BY pay.id, con.at DESC, con.agent_id
    ), paid AS (
        SELECT x.agent_id, sum(x.amount)::bigint AS collected,
               coalesce(sum(x.amount) FILTER (WHERE x.recorded), 0)::bigint AS recorded
          FROM (-- the payments an agent recorded
                SELECT p.agent_id, p.amount, true AS recorded
                  FROM payments p
                 WHERE p.agent_id IS NOT NULL
                   AND p.paid_on BETWEEN p_from AND p_to
                   AND p.paid_at >= (p_from - 1)::timestamp AT TIME ZONE 'UTC'
                   AND p.paid_at < (p_to + 2)::timestamp AT TIME ZONE 'UTC'
                   AND (p_agent_ref IS NULL
                        OR p.agent_id = (SELECT id FROM agents WHERE agents.agent_ref = p_agent_ref))
                UNION ALL
                SELECT a.agent_id, a.amount, false FROM attributed a
                UNION ALL
                -- one agent: the payments without an agent on the leases he reached, each looked up alone
                -- against every agent's contacts (a later contact by another agent takes it)
                SELECT last.agent_id, p.amount, false
                  FROM payments p
                 CROSS JOIN LATERAL (
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
                      ORDER BY c.at DESC, c.agent_id LIMIT 1) last
                 WHERE p_agent_ref IS NOT NULL AND p.agent_id IS NULL
                   AND p.paid_on BETWEEN p_from AND p_to
                   AND p.paid_at >= (p_from - 1)::timestamp AT TIME ZONE 'UTC'
                   AND p.paid_at < (p_to + 2)::timestamp AT TIME ZONE 'UTC'
                   AND p.lease_id IN (SELECT lease_id FROM contacted)
                   AND last.agent_id = (SELECT id FROM agents WHERE agents.agent_ref = p_agent_ref)) x
         GROUP BY x.agent_id
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
         WHERE (a.active OR m.planned > 0 OR paid.collected > 0)
           AND (p_agent_ref IS NULL OR a.agent_ref = p_agent_ref)
    )
    SELECT agent_ref, full_name, zone, planned, done, calls, visits, proofs, rpc, promises, promised, due, kept,
           kept_amount, collected, recorded, assigned, recovery, kept_rate, completion,
           round((100.0 * (p_w_recovery * coalesce(recovery, 0) + p_w_kept * coalesce(kept_rate, 0)
                           + p_w_completion * coalesce(completion, 0))
                  / nullif(p_w_recovery + p_w_kept + p_w_completion, 0))::numeric, 1)::double precision
      FROM parts
     ORDER BY agent_ref
$$;
