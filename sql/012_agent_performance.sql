-- 012: what each agent did and obtained over a window of days, and his score.
--
-- Attribution of a payment (in the window): to the agent who recorded it; otherwise to the agent of
-- the latest successful contact (a call or visit reached / promise / paid) with that tenant in the 7 days
-- before the payment. The score (0-100) weighs
--   recovery   = attributed collection / arrears of the leases in his missions (capped at 1),
--   kept rate  = his promises kept / his promises that came due in the window,
--   completion = missions done / missions planned,
-- with weights given by the caller (settings). An agent with no missions, or no promise due, scores 0 on
-- that part: the score rewards recovering what was assigned, not a portfolio of easy payers.

CREATE FUNCTION agent_performance(p_from date, p_to date, p_w_recovery double precision DEFAULT 60,
                                  p_w_kept double precision DEFAULT 20, p_w_completion double precision DEFAULT 20)
RETURNS TABLE (agent_ref text, agent_name text, zone text, missions_planned integer, missions_done integer,
               calls integer, visits integer, visits_with_proof integer, right_party_contacts integer,
               promises integer, promised bigint, promises_due integer, promises_kept integer, kept_amount bigint,
               collected bigint, collected_recorded bigint, assigned_arrears bigint,
               recovery_rate double precision, kept_rate double precision, completion_rate double precision,
               score double precision)
LANGUAGE sql STABLE AS $$
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
    ), contacts AS (
        SELECT c.agent_id, c.lease_id, c.called_at AS at, c.outcome, 'call' AS kind, NULL::boolean AS proof
          FROM calls c, win WHERE c.called_at >= win.t0 - interval '7 days' AND c.called_at < win.t1
        UNION ALL
        SELECT v.agent_id, v.lease_id, v.visited_at, v.outcome, 'visit', coalesce(v.proof, v.distance_m <= 200)
          FROM visits v, win WHERE v.visited_at >= win.t0 - interval '7 days' AND v.visited_at < win.t1
    ), acts AS (
        SELECT c.agent_id,
               count(*) FILTER (WHERE c.kind = 'call')::integer AS calls,
               count(*) FILTER (WHERE c.kind = 'visit')::integer AS visits,
               count(*) FILTER (WHERE c.kind = 'visit' AND c.proof)::integer AS proofs,
               count(*) FILTER (WHERE c.outcome IN ('reached', 'promise', 'paid'))::integer AS rpc
          FROM contacts c, win WHERE c.at >= win.t0
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
                               WHERE p.lease_id = pr.lease_id AND p.paid_on BETWEEN pr.created_on AND pr.due_date) pp
         WHERE pr.agent_id IS NOT NULL AND (pr.created_on BETWEEN p_from AND p_to OR pr.due_date BETWEEN p_from AND p_to)
         GROUP BY pr.agent_id
    ), paid AS (
        SELECT coalesce(p.agent_id, last.agent_id) AS agent_id, sum(p.amount)::bigint AS collected,
               coalesce(sum(p.amount) FILTER (WHERE p.agent_id IS NOT NULL), 0)::bigint AS recorded
          FROM payments p
          JOIN leases l ON l.id = p.lease_id
          LEFT JOIN LATERAL (
              SELECT c.agent_id FROM contacts c JOIN leases cl ON cl.id = c.lease_id
               WHERE cl.tenant_id = l.tenant_id AND c.outcome IN ('reached', 'promise', 'paid')
                 AND c.at <= p.paid_at AND c.at > p.paid_at - interval '7 days'
               ORDER BY c.at DESC LIMIT 1) last ON p.agent_id IS NULL
         WHERE p.paid_on BETWEEN p_from AND p_to AND coalesce(p.agent_id, last.agent_id) IS NOT NULL
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
