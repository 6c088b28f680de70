-- 045: the day each due was paid in full, kept by triggers, for the late-payment risk and the cash forecast
-- (037). risk_due_paid_on found it at each call by replaying every payment of every lease in scope against
-- its dues (at `large` scale, 3.8 million payments and 4.2 million dues sorted together by level): 13 s of
-- the 25 s that risk_features takes for every owner, and so of lease_risk and cash_forecast.
--
-- due_paid_days holds one row per due that the lease's payments have covered: the first day on which the
-- lease's payments, summed in date order, reach the due's cumulative amount (FIFO: its dues up to and
-- including it). A payment is always positive, so that day never moves earlier than a payment dated after
-- it, and it is the same whatever the as-of date of a read: the features compare it with the morning of
-- their date, as before. risk_due_paid_on now reads it with the dues, so every answer is unchanged.
--
-- Exact at every commit: statement-level triggers with transition tables recompute the rows of the leases
-- a statement may have changed, from payments and lease_dues (never adjusted by deltas, so the order in
-- which triggers fire does not matter):
--   * payments (inserted, updated, deleted) -> every due of the payments' leases (before and after an
--     update); truncated -> no due is paid;
--   * lease_dues inserted (a new lease, a lease whose dates, rent or due day changed, the horizon of dues
--     moved on) -> the leases whose payments already cover one of the new dues (a lease with nothing paid
--     ahead has no row to add, so moving the horizon on does not replay every lease's history);
--   * lease_dues deleted (a lease's dues regenerated, a lease deleted) -> the rows of those dues.
-- lease_dues' other writes only change what was paid by each due date, which this table does not hold.
-- The functions are SECURITY DEFINER, as 026's, 033's and 044's are for the other derived tables, so a
-- write keeps the rows exact whatever its writer can see. due_paid_days_drift lists the dues whose row
-- disagrees with payments.

CREATE TABLE due_paid_days (
    lease_id  bigint NOT NULL,
    mi        integer NOT NULL,
    paid_on   date NOT NULL,
    PRIMARY KEY (lease_id, mi)
);

ALTER TABLE due_paid_days ENABLE ROW LEVEL SECURITY;
CREATE POLICY due_paid_days_all ON due_paid_days TO akig_read_all USING (true);
CREATE POLICY due_paid_days_owner ON due_paid_days TO akig_read_owner USING (lease_id IN (SELECT id FROM leases));
GRANT SELECT ON due_paid_days TO akig_read_all, akig_read_owner;

-- What due_paid_days should hold for the given leases: one pass, the payments' running
-- totals per day and the dues' cumulative amounts sorted together by level, highest first; the earliest
-- payment day among the rows at or above a due's level is the day it was covered (037's rule).
CREATE FUNCTION due_paid_days_expected(p_ids bigint[])
RETURNS TABLE (lease_id bigint, mi integer, paid_on date)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH ids AS (
        SELECT DISTINCT x.lease_id FROM unnest(p_ids) AS x(lease_id)
    ), daily AS (
        SELECT p.lease_id, p.paid_on, sum(p.amount)::bigint AS amount
          FROM payments p JOIN ids i ON i.lease_id = p.lease_id
         GROUP BY p.lease_id, p.paid_on
    ), events AS (
        SELECT d.lease_id, sum(d.amount) OVER (PARTITION BY d.lease_id ORDER BY d.paid_on)::bigint AS level,
               0 AS kind, d.paid_on, NULL::integer AS mi
          FROM daily d
        UNION ALL
        SELECT ld.lease_id, ld.cum_due, 1, NULL::date, ld.mi
          FROM lease_dues ld JOIN ids i ON i.lease_id = ld.lease_id
    ), reached AS (
        SELECT e.lease_id, e.mi, e.kind,
               min(e.paid_on) OVER (PARTITION BY e.lease_id ORDER BY e.level DESC, e.kind
                                    ROWS UNBOUNDED PRECEDING) AS paid_on
          FROM events e
    )
    SELECT r.lease_id, r.mi, r.paid_on FROM reached r WHERE r.kind = 1 AND r.paid_on IS NOT NULL
$$;

-- The given leases' rows, recomputed.
CREATE FUNCTION due_paid_days_refresh(p_ids bigint[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH fresh AS MATERIALIZED (
        SELECT * FROM due_paid_days_expected(p_ids)
    ), gone AS (
        DELETE FROM due_paid_days t
         WHERE t.lease_id = ANY (p_ids)
           AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.lease_id = t.lease_id AND f.mi = t.mi)
    )
    INSERT INTO due_paid_days AS t (lease_id, mi, paid_on)
    SELECT f.lease_id, f.mi, f.paid_on FROM fresh f
    ON CONFLICT (lease_id, mi) DO UPDATE SET paid_on = EXCLUDED.paid_on WHERE t.paid_on IS DISTINCT FROM EXCLUDED.paid_on
$$;

CREATE FUNCTION payments_due_paid_days() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_ids bigint[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM due_paid_days;
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        v_ids := ARRAY(SELECT DISTINCT lease_id FROM new_rows);
    ELSIF TG_OP = 'DELETE' THEN
        v_ids := ARRAY(SELECT DISTINCT lease_id FROM old_rows);
    ELSE
        v_ids := ARRAY(SELECT lease_id FROM new_rows UNION SELECT lease_id FROM old_rows);
    END IF;
    IF cardinality(v_ids) > 0 THEN
        PERFORM due_paid_days_refresh(v_ids);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION lease_dues_due_paid_days() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_ids bigint[];
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM due_paid_days t USING old_rows o WHERE t.lease_id = o.lease_id AND t.mi = o.mi;
        RETURN NULL;
    END IF;
    -- new dues: only the leases that have already paid as much as one of them (lease_payment_totals is
    -- kept by payments' own triggers, 002)
    v_ids := ARRAY(SELECT DISTINCT n.lease_id
                     FROM new_rows n
                     JOIN lease_payment_totals lt ON lt.lease_id = n.lease_id
                    WHERE lt.paid_total >= n.cum_due);
    IF cardinality(v_ids) > 0 THEN
        PERFORM due_paid_days_refresh(v_ids);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER payments_due_paid_days_insert AFTER INSERT ON payments
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payments_due_paid_days();
CREATE TRIGGER payments_due_paid_days_update AFTER UPDATE ON payments
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payments_due_paid_days();
CREATE TRIGGER payments_due_paid_days_delete AFTER DELETE ON payments
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION payments_due_paid_days();
CREATE TRIGGER payments_due_paid_days_truncate AFTER TRUNCATE ON payments
    FOR EACH STATEMENT EXECUTE FUNCTION payments_due_paid_days();
CREATE TRIGGER lease_dues_due_paid_days_insert AFTER INSERT ON lease_dues
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lease_dues_due_paid_days();
CREATE TRIGGER lease_dues_due_paid_days_delete AFTER DELETE ON lease_dues
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lease_dues_due_paid_days();

REVOKE EXECUTE ON FUNCTION due_paid_days_expected(bigint[]), due_paid_days_refresh(bigint[]),
    payments_due_paid_days(), lease_dues_due_paid_days()
FROM PUBLIC;

-- A self-check for the tests: dues whose row disagrees with payments (missing, extra or another day).
CREATE VIEW due_paid_days_drift AS
SELECT coalesce(e.lease_id, t.lease_id) AS lease_id, coalesce(e.mi, t.mi) AS mi,
       e.paid_on AS expected_paid_on, t.paid_on AS stored_paid_on
  FROM due_paid_days_expected(ARRAY(SELECT id FROM leases)) e
  FULL JOIN due_paid_days t ON t.lease_id = e.lease_id AND t.mi = e.mi
 WHERE e.paid_on IS DISTINCT FROM t.paid_on;
REVOKE ALL ON due_paid_days_drift FROM akig_read_all, akig_read_owner;

-- The existing dues.
INSERT INTO due_paid_days (lease_id, mi, paid_on)
SELECT e.lease_id, e.mi, e.paid_on FROM due_paid_days_expected(ARRAY(SELECT id FROM leases)) e;

-- risk_due_paid_on (037): the dues in scope with their stored day. Same signature, columns and answers.
CREATE OR REPLACE FUNCTION risk_due_paid_on(p_owner_ref text DEFAULT NULL)
RETURNS TABLE (lease_id bigint, mi integer, due_date date, amount bigint, cum_due bigint, fully_paid_on date)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT ld.lease_id, ld.mi, ld.due_date, ld.amount, ld.cum_due, d.paid_on
      FROM lease_dues ld
      JOIN scoped_leases(p_owner_ref) sl ON sl.lease_id = ld.lease_id
      LEFT JOIN due_paid_days d ON d.lease_id = ld.lease_id AND d.mi = ld.mi
$$;

-- risk_features_at (037), three changes, same signature, columns and answers (compared on every lease at
-- `large` scale, for one date and every owner, and for two dates and one owner):
--   * what was paid toward each promise over its window comes from promise_payments (035), kept by
--     triggers, instead of summing each of the 610,241 promises' payments again (3.2 s at `large` scale);
--   * calls and visits are read from 90 days before the earliest date on, the only ones a feature counts
--     (2.1 of the 3 million rows were read and then dropped by the join);
--   * work_mem of 128 MB for this function alone: its four aggregates over every lease spilled to disk in
--     five batches each with the reads' 16 MB.
-- With due_paid_days, risk_features for every owner at `large` scale took 8.1 s instead of 25.6 s.
CREATE OR REPLACE FUNCTION risk_features_at(p_as_of date[], p_owner_ref text DEFAULT NULL)
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
SET work_mem = '128MB'
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
        SELECT pr.lease_id, pr.created_on, pr.due_date, pr.amount, coalesce(pp.paid, 0) AS paid
          FROM promises pr
          JOIN scoped_leases(p_owner_ref) sl ON sl.lease_id = pr.lease_id
          LEFT JOIN promise_payments pp ON pp.promise_id = pr.id
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
           AND c.called_at >= (SELECT min(n.k) - 90 FROM snaps n)::timestamp AT TIME ZONE 'Africa/Conakry'
        UNION ALL
        SELECT v.lease_id, timezone('Africa/Conakry', v.visited_at)::date, false, v.outcome
          FROM visits v JOIN scoped_leases(p_owner_ref) sl ON sl.lease_id = v.lease_id
         WHERE v.visited_at < (SELECT max(n.s) FROM snaps n)::timestamp AT TIME ZONE 'Africa/Conakry'
           AND v.visited_at >= (SELECT min(n.k) - 90 FROM snaps n)::timestamp AT TIME ZONE 'Africa/Conakry'
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
