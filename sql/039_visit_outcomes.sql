-- What followed each visit: did the lease receive a payment on the visit's day or in the days after it?
-- The missions' chance to pay is learnt from these outcomes (akig_data/risk/visits.py): the model sees the
-- lease's risk features at the snapshot (the 1st or the 16th of the month) on or before the visit's day,
-- so nothing it learns from happened after the visit.
--
-- risk_models gains a target: 'late' (the next due not paid in full within horizon_days of its date: the
-- risk scores) or 'paid_after_visit' (a payment within horizon_days of a visit: the missions' chance).

ALTER TABLE risk_models ADD COLUMN target text NOT NULL DEFAULT 'late'
    CHECK (target IN ('late', 'paid_after_visit'));
DROP INDEX risk_models_horizon_created;
CREATE INDEX risk_models_target_horizon_created ON risk_models (target, horizon_days, created_at DESC, id DESC);

-- The newest model of a target (and of a horizon, when given): what the server and `akig missions generate`
-- load. risk_model_latest (037) keeps its signature for the risk reads and takes the late-payment models only.
CREATE FUNCTION risk_model_newest(p_target text, p_horizon_days integer DEFAULT NULL)
RETURNS TABLE (model_id bigint, horizon_days integer, version text, trained_as_of date, window_from date,
               window_to date, features text, metrics text, model bytea, created_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT m.id, m.horizon_days, m.version, m.trained_as_of, m.window_from, m.window_to, m.features::text,
           m.metrics::text, m.model, m.created_at
      FROM risk_models m
     WHERE m.target = p_target AND (p_horizon_days IS NULL OR m.horizon_days = p_horizon_days)
     ORDER BY m.created_at DESC, m.id DESC
     LIMIT 1
$$;

CREATE OR REPLACE FUNCTION risk_model_latest(p_horizon_days integer)
RETURNS TABLE (model_id bigint, horizon_days integer, version text, trained_as_of date, window_from date,
               window_to date, features text, metrics text, model bytea, created_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT * FROM risk_model_newest('late', p_horizon_days)
$$;

-- Each visit of a lease in scope made from p_from to p_to (Conakry days), with the snapshot its features
-- are taken at and whether a payment of the lease is dated from the visit's day to p_days after it.
-- A visit whose window is not over by p_known_by has no outcome yet and is left out.
CREATE FUNCTION visit_outcomes(p_from date, p_to date, p_days integer, p_known_by date,
                               p_owner_ref text DEFAULT NULL)
RETURNS TABLE (visit_ref text, lease_ref text, visit_day date, snapshot date, paid boolean)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    WITH v AS (
        SELECT v.visit_ref, v.lease_id, timezone('Africa/Conakry', v.visited_at)::date AS day
          FROM visits v JOIN scoped_leases(p_owner_ref) sl ON sl.lease_id = v.lease_id
         WHERE v.visited_at >= p_from::timestamp AT TIME ZONE 'Africa/Conakry'
           AND v.visited_at < (p_to + 1)::timestamp AT TIME ZONE 'Africa/Conakry'
    )
    SELECT v.visit_ref, l.lease_ref, v.day,
           date_trunc('month', v.day)::date + CASE WHEN extract(day FROM v.day) >= 16 THEN 15 ELSE 0 END,
           EXISTS (SELECT 1 FROM payments p
                    WHERE p.lease_id = v.lease_id AND p.paid_on BETWEEN v.day AND v.day + p_days)
      FROM v JOIN leases l ON l.id = v.lease_id
     WHERE v.day + p_days <= p_known_by
     ORDER BY v.day, v.visit_ref
$$;

GRANT EXECUTE ON FUNCTION risk_model_newest(text, integer) TO akig_read_all, akig_read_owner;
GRANT EXECUTE ON FUNCTION visit_outcomes(date, date, integer, date, text) TO akig_read_all, akig_read_owner;
