-- Late-payment risk: the features of each lease's next due at an as-of date, the outcome of dues (paid in
-- full within 10 and 30 days of their date, or not), each site's dues and collections per month (for the
-- cash forecast's baselines), and the stored models (akig_data/risk, `akig model train`).
--
-- No leakage: a feature at as-of date D uses only what the ledger and the collection work showed before D
-- (the morning of D: a payment, call or promise dated D or later changes nothing).
-- risk_due_paid_on gives, for every due, the day its lease's payments first covered it (FIFO: the lease's
-- payments up to that day reach its cumulative dues up to and including it) computed from every payment;
-- that day is <= D - 1 exactly when the payments dated before D cover the due, so comparing it with D - 1
-- (or with a due date + 10 <= D - 1) never looks past it. Calls, visits and promises are taken when made before D;
-- a promise counts as kept or broken only once its date is past.
--
-- Personal attributes (names, phones, e-mails, gender) are never read here. The functions follow the read
-- functions' rules: LANGUAGE sql, STABLE, SECURITY INVOKER (risk_features_at alone has a SET clause, said
-- why below), so row-level security filters them for an owner's session exactly as it filters every read.

CREATE TABLE risk_models (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    horizon_days   integer NOT NULL CHECK (horizon_days > 0),
    version        text NOT NULL,
    trained_as_of  date NOT NULL,
    window_from    date NOT NULL,
    window_to      date NOT NULL,
    features       jsonb NOT NULL,
    metrics        jsonb NOT NULL,
    model          bytea NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (window_from <= window_to AND window_to <= trained_as_of)
);
CREATE INDEX risk_models_horizon_created ON risk_models (horizon_days, created_at DESC, id DESC);
-- Models are portfolio-wide (trained on every owner's dues) and hold no tenant's identity: readable by both
-- read roles, written only by `akig model train` (the tables' owner).
GRANT SELECT ON risk_models TO akig_read_all, akig_read_owner;

-- The newest model of a horizon (what the server loads).
CREATE FUNCTION risk_model_latest(p_horizon_days integer)
RETURNS TABLE (model_id bigint, horizon_days integer, version text, trained_as_of date, window_from date,
               window_to date, features text, metrics text, model bytea, created_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT m.id, m.horizon_days, m.version, m.trained_as_of, m.window_from, m.window_to, m.features::text,
           m.metrics::text, m.model, m.created_at
      FROM risk_models m
     WHERE m.horizon_days = p_horizon_days
     ORDER BY m.created_at DESC, m.id DESC
     LIMIT 1
$$;

-- Every due of the leases in scope with the day the lease's payments first covered it (NULL: not yet).
-- One pass: payments' running totals and dues' cumulative amounts sorted together by level, highest first;
-- the earliest payment day among the rows at or above a due's level is the day it was covered.
CREATE FUNCTION risk_due_paid_on(p_owner_ref text DEFAULT NULL)
RETURNS TABLE (lease_id bigint, mi integer, due_date date, amount bigint, cum_due bigint, fully_paid_on date)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    WITH sl AS (
        SELECT s.lease_id FROM scoped_leases(p_owner_ref) s
    ), daily AS (
        SELECT p.lease_id, p.paid_on, sum(p.amount)::bigint AS amount
          FROM payments p JOIN sl ON sl.lease_id = p.lease_id
         GROUP BY p.lease_id, p.paid_on
    ), events AS (
        SELECT d.lease_id, sum(d.amount) OVER (PARTITION BY d.lease_id ORDER BY d.paid_on)::bigint AS level,
               0 AS kind, d.paid_on, NULL::integer AS mi
          FROM daily d
        UNION ALL
        SELECT ld.lease_id, ld.cum_due, 1, NULL::date, ld.mi
          FROM lease_dues ld JOIN sl ON sl.lease_id = ld.lease_id
    ), reached AS (
        SELECT e.lease_id, e.mi, e.kind,
               min(e.paid_on) OVER (PARTITION BY e.lease_id ORDER BY e.level DESC, e.kind
                                    ROWS UNBOUNDED PRECEDING) AS fully_paid_on
          FROM events e
    )
    SELECT ld.lease_id, ld.mi, ld.due_date, ld.amount, ld.cum_due, r.fully_paid_on
      FROM reached r
      JOIN lease_dues ld ON ld.lease_id = r.lease_id AND ld.mi = r.mi
     WHERE r.kind = 1
$$;

-- Whether each due dated p_from..p_to was paid in full within 10 and 30 days of its date; NULL while that
-- is not known on p_known_by (the due's date + the horizon is after it). The target of the risk models.
CREATE FUNCTION risk_due_outcomes(p_from date, p_to date, p_known_by date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (lease_ref text, due_date date, amount bigint, late_10 boolean, late_30 boolean)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT l.lease_ref, d.due_date, d.amount,
           CASE WHEN d.due_date + 10 <= p_known_by
                THEN NOT coalesce(d.fully_paid_on <= d.due_date + 10, false) END,
           CASE WHEN d.due_date + 30 <= p_known_by
                THEN NOT coalesce(d.fully_paid_on <= d.due_date + 30, false) END
      FROM risk_due_paid_on(p_owner_ref) d
      JOIN leases l ON l.id = d.lease_id
     WHERE d.due_date BETWEEN p_from AND p_to
$$;

-- The features of each lease running on each date D of p_as_of (started on or before D, not ended before it)
-- for its next due (the first one dated D or later), from the facts dated before D (the morning of D). docs/explanation/risk-and-forecast.md lists them.
CREATE FUNCTION risk_features_at(p_as_of date[], p_owner_ref text DEFAULT NULL)
RETURNS TABLE (as_of date, lease_ref text, site_ref text, owner_ref text, commune text,
               next_due_date date, next_due_amount bigint,
               days_to_due integer, due_month integer, rent bigint, tenure_months integer,
               late_last_3 integer, late_last_6 integer, late30_last_6 integer, last_due_late integer,
               late_share_all double precision, on_time_share_all double precision,
               arrears bigint, arrears_months double precision, credit_months double precision,
               arrears_age_days integer, payments_6m integer, partial_payments_6m integer,
               days_since_payment integer, paid_6m bigint,
               promises_kept_12m integer, promises_broken_12m integer, promises_partial_12m integer,
               promises_pending integer,
               calls_90d integer, calls_unreached_90d integer, calls_refused_90d integer,
               visits_90d integer, visits_absent_90d integer, contacts_promise_90d integer)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
-- PostgreSQL estimates one row for the (snapshot, lease) pairs (it cannot see through the month arithmetic)
-- and then joins each aggregate to them in nested loops, recomputing it per pair: five minutes for the
-- `small` data set's two years of snapshots. Hash joins take half a second; with nested loops priced out the
-- plan's cost passes the JIT threshold, and compiling it took longer than running it, so JIT is off too.
-- (This function is called by risk_features and the model's training, never inlined into a read.)
SET enable_nestloop = off
SET jit = off
AS $$
    WITH snaps AS (
        -- s: the as-of date; k: the last day whose facts are used (the morning of s: nothing dated s or later).
        SELECT DISTINCT x.s, x.s - 1 AS k FROM unnest(p_as_of) AS x(s)
    ), active AS MATERIALIZED (
        SELECT n.s, n.k, sl.lease_id, sl.site_id, sl.owner_id, sl.rent, sl.first_mi, sl.due_day,
               greatest(sl.first_mi, last_due_month(n.k, sl.due_day) + 1) AS next_mi,
               last_due_month(n.k, sl.due_day) AS last_mi,
               last_due_month(n.k - 10, sl.due_day) AS closed_mi,
               last_due_month(n.k - 30, sl.due_day) AS closed30_mi
          FROM snaps n
          JOIN scoped_leases(p_owner_ref) sl
            ON sl.start_date <= n.s AND (sl.end_date IS NULL OR sl.end_date >= n.s)
         WHERE greatest(sl.first_mi, last_due_month(n.k, sl.due_day) + 1) <= coalesce(sl.end_mi, 2147483647)
    ), dues AS MATERIALIZED (
        SELECT * FROM risk_due_paid_on(p_owner_ref)
    ), history AS (
        SELECT a.s, a.lease_id,
               count(*) FILTER (WHERE d.mi <= a.last_mi)::integer AS dues_so_far,
               count(*) FILTER (WHERE d.mi BETWEEN a.closed_mi - 2 AND a.closed_mi
                                  AND NOT coalesce(d.fully_paid_on <= d.due_date + 10, false))::integer AS late3,
               count(*) FILTER (WHERE d.mi BETWEEN a.closed_mi - 5 AND a.closed_mi
                                  AND NOT coalesce(d.fully_paid_on <= d.due_date + 10, false))::integer AS late6,
               count(*) FILTER (WHERE d.mi BETWEEN a.closed30_mi - 5 AND a.closed30_mi
                                  AND NOT coalesce(d.fully_paid_on <= d.due_date + 30, false))::integer AS late30_6,
               max(CASE WHEN d.mi = a.closed_mi
                        THEN (NOT coalesce(d.fully_paid_on <= d.due_date + 10, false))::integer END) AS last_late,
               count(*) FILTER (WHERE d.mi <= a.closed_mi)::integer AS closed,
               count(*) FILTER (WHERE d.mi <= a.closed_mi
                                  AND NOT coalesce(d.fully_paid_on <= d.due_date + 10, false))::integer AS late_all,
               count(*) FILTER (WHERE d.mi <= a.last_mi AND d.fully_paid_on <= d.due_date)::integer AS on_time_all,
               max(d.cum_due) FILTER (WHERE d.mi <= a.last_mi) AS due_total,
               min(d.due_date) FILTER (WHERE d.mi <= a.last_mi
                                         AND NOT coalesce(d.fully_paid_on <= a.k, false)) AS oldest_unpaid
          FROM active a
          JOIN dues d ON d.lease_id = a.lease_id AND d.mi <= a.last_mi
         GROUP BY a.s, a.lease_id
    ), pays AS MATERIALIZED (
        -- Read once and hash-joined to every snapshot: probing each month's partition of payments for each
        -- (snapshot, lease) cost a minute for the `small` data set's two years of snapshots.
        SELECT p.lease_id, p.paid_on, p.amount
          FROM payments p JOIN scoped_leases(p_owner_ref) sl ON sl.lease_id = p.lease_id
         WHERE p.paid_on <= (SELECT max(n.k) FROM snaps n)
    ), paid AS (
        SELECT a.s, a.lease_id, sum(p.amount)::bigint AS paid,
               coalesce(sum(p.amount) FILTER (WHERE p.paid_on > a.k - 182), 0)::bigint AS paid_6m,
               count(*) FILTER (WHERE p.paid_on > a.k - 182)::integer AS payments_6m,
               count(*) FILTER (WHERE p.paid_on > a.k - 182 AND p.amount < a.rent)::integer AS partial_6m,
               max(p.paid_on) AS last_paid
          FROM active a
          JOIN pays p ON p.lease_id = a.lease_id AND p.paid_on <= a.k
         GROUP BY a.s, a.lease_id
    ), promise_paid AS MATERIALIZED (
        SELECT pr.lease_id, pr.created_on, pr.due_date, pr.amount, pp.paid
          FROM promises pr
          JOIN scoped_leases(p_owner_ref) sl ON sl.lease_id = pr.lease_id
          CROSS JOIN LATERAL (
              SELECT coalesce(sum(p.amount), 0)::bigint AS paid
                FROM payments p
               WHERE p.lease_id = pr.lease_id AND p.paid_on BETWEEN pr.created_on AND pr.due_date
                 AND p.paid_at >= (pr.created_on - 1)::timestamp AT TIME ZONE 'UTC'
                 AND p.paid_at < (pr.due_date + 2)::timestamp AT TIME ZONE 'UTC'
          ) pp
         WHERE pr.created_on <= (SELECT max(n.k) FROM snaps n)
    ), promised AS (
        SELECT a.s, a.lease_id,
               count(*) FILTER (WHERE q.due_date <= a.k AND q.due_date > a.k - 365 AND q.paid >= q.amount)::integer AS kept,
               count(*) FILTER (WHERE q.due_date <= a.k AND q.due_date > a.k - 365 AND q.paid = 0)::integer AS broken,
               count(*) FILTER (WHERE q.due_date <= a.k AND q.due_date > a.k - 365
                                  AND q.paid > 0 AND q.paid < q.amount)::integer AS part,
               count(*) FILTER (WHERE q.due_date > a.k)::integer AS pending
          FROM active a
          JOIN promise_paid q ON q.lease_id = a.lease_id AND q.created_on <= a.k
         GROUP BY a.s, a.lease_id
    ), contacts AS MATERIALIZED (
        SELECT c.lease_id, timezone('Africa/Conakry', c.called_at)::date AS day, true AS is_call, c.outcome
          FROM calls c JOIN scoped_leases(p_owner_ref) sl ON sl.lease_id = c.lease_id
         WHERE c.called_at < (SELECT max(n.s) FROM snaps n)::timestamp AT TIME ZONE 'Africa/Conakry'
        UNION ALL
        SELECT v.lease_id, timezone('Africa/Conakry', v.visited_at)::date, false, v.outcome
          FROM visits v JOIN scoped_leases(p_owner_ref) sl ON sl.lease_id = v.lease_id
         WHERE v.visited_at < (SELECT max(n.s) FROM snaps n)::timestamp AT TIME ZONE 'Africa/Conakry'
    ), contacted AS (
        SELECT a.s, a.lease_id,
               count(*) FILTER (WHERE c.is_call)::integer AS calls,
               count(*) FILTER (WHERE c.is_call AND c.outcome IN ('no_answer', 'wrong_number'))::integer AS unreached,
               count(*) FILTER (WHERE c.is_call AND c.outcome = 'refused')::integer AS refused,
               count(*) FILTER (WHERE NOT c.is_call)::integer AS visits,
               count(*) FILTER (WHERE NOT c.is_call AND c.outcome IN ('absent', 'refused'))::integer AS absent,
               count(*) FILTER (WHERE c.outcome = 'promise')::integer AS promised
          FROM active a
          JOIN contacts c ON c.lease_id = a.lease_id AND c.day > a.k - 90 AND c.day <= a.k
         GROUP BY a.s, a.lease_id
    )
    SELECT a.s, l.lease_ref, st.site_ref, o.owner_ref, st.commune,
           due_in_month(a.next_mi, a.due_day), a.rent,
           (due_in_month(a.next_mi, a.due_day) - a.s)::integer,
           date_part('month', due_in_month(a.next_mi, a.due_day))::integer,
           a.rent, coalesce(h.dues_so_far, 0),
           coalesce(h.late3, 0), coalesce(h.late6, 0), coalesce(h.late30_6, 0), h.last_late,
           h.late_all::double precision / nullif(h.closed, 0),
           h.on_time_all::double precision / nullif(h.dues_so_far, 0),
           greatest(0, coalesce(h.due_total, 0) - coalesce(pd.paid, 0))::bigint,
           greatest(0, coalesce(h.due_total, 0) - coalesce(pd.paid, 0))::double precision / a.rent,
           greatest(0, coalesce(pd.paid, 0) - coalesce(h.due_total, 0))::double precision / a.rent,
           coalesce(a.s - h.oldest_unpaid, 0)::integer,
           coalesce(pd.payments_6m, 0), coalesce(pd.partial_6m, 0),
           (a.s - pd.last_paid)::integer, coalesce(pd.paid_6m, 0)::bigint,
           coalesce(pm.kept, 0), coalesce(pm.broken, 0), coalesce(pm.part, 0), coalesce(pm.pending, 0),
           coalesce(c.calls, 0), coalesce(c.unreached, 0), coalesce(c.refused, 0),
           coalesce(c.visits, 0), coalesce(c.absent, 0), coalesce(c.promised, 0)
      FROM active a
      JOIN leases l ON l.id = a.lease_id
      JOIN sites st ON st.id = a.site_id
      JOIN owners o ON o.id = a.owner_id
      LEFT JOIN history h ON h.s = a.s AND h.lease_id = a.lease_id
      LEFT JOIN paid pd ON pd.s = a.s AND pd.lease_id = a.lease_id
      LEFT JOIN promised pm ON pm.s = a.s AND pm.lease_id = a.lease_id
      LEFT JOIN contacted c ON c.s = a.s AND c.lease_id = a.lease_id
     ORDER BY a.s, l.lease_ref
$$;

-- The features at one date (what lease_risk scores).
CREATE FUNCTION risk_features(p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (as_of date, lease_ref text, site_ref text, owner_ref text, commune text,
               next_due_date date, next_due_amount bigint,
               days_to_due integer, due_month integer, rent bigint, tenure_months integer,
               late_last_3 integer, late_last_6 integer, late30_last_6 integer, last_due_late integer,
               late_share_all double precision, on_time_share_all double precision,
               arrears bigint, arrears_months double precision, credit_months double precision,
               arrears_age_days integer, payments_6m integer, partial_payments_6m integer,
               days_since_payment integer, paid_6m bigint,
               promises_kept_12m integer, promises_broken_12m integer, promises_partial_12m integer,
               promises_pending integer,
               calls_90d integer, calls_unreached_90d integer, calls_refused_90d integer,
               visits_90d integer, visits_absent_90d integer, contacts_promise_90d integer)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT * FROM risk_features_at(ARRAY[p_as_of], p_owner_ref)
$$;

-- Each site's dues and collections per month p_from_mi..p_to_mi (month_idx), from site_month_totals (026):
-- what the cash forecast's naive baselines and its backtest compare with.
CREATE FUNCTION risk_site_months(p_from_mi integer, p_to_mi integer, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (owner_ref text, site_ref text, mi integer, due bigint, collected bigint)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT o.owner_ref, s.site_ref, t.mi, t.due, t.collected
      FROM site_month_totals t
      JOIN sites s ON s.id = t.site_id
      JOIN owners o ON o.id = s.owner_id
     WHERE t.mi BETWEEN p_from_mi AND p_to_mi
       AND (p_owner_ref IS NULL OR o.owner_ref = p_owner_ref)
     ORDER BY o.owner_ref, s.site_ref, t.mi
$$;
