-- 046: the risk features at one date (risk_features: what lease_risk and cash_forecast read) from one row
-- per lease instead of every due and every payment of the lease's history. risk_features_at (037, 045)
-- stays for the training and the backtest, which ask for many dates at once; risk_features gives exactly
-- its rows for one date (a test compares the two on every lease for many dates, every owner and each
-- owner).
--
-- At `large` scale, risk_features_at for one date and every owner aggregated 4.2 million dues and 3.8
-- million payments (8 s); for one owner it read as much, since its plans are hash joins (2 s). What the
-- features need of the whole history is a count of dues by kind over a range of months, and the lease's
-- balance and last payment:
--   * months with a due, and dues paid on time: lease_punctuality's bit strings (033);
--   * dues paid in full within 10 and within 30 days of their date: two bit strings kept here, in
--     lease_paid_history, from due_paid_days (045); the count of a range of months is the bit_count of a
--     substring, as good_payers counts its year;
--   * what was paid by the morning of D: lease_payment_totals (002) less what is dated D or later, so the
--     oldest unpaid due is the first beyond what that covers (payments cover the dues in order, FIFO);
--   * the last payment: lease_paid_history's last payment day when it is before D (a payment dated D or
--     later sends the lease to the payments, through their index);
--   * the payments of the 6 months before D, the promises due from a year before D on, and the calls and
--     visits of the 90 days before D, as before.
--
-- lease_paid_history is exact at every commit: the triggers of 045 on payments and lease_dues recompute
-- the rows of the leases a statement touched, from due_paid_days, lease_dues and payments (never adjusted
-- by deltas), after due_paid_days; lease_paid_history_drift lists the leases whose row disagrees.

CREATE TABLE lease_paid_history (
    lease_id      bigint PRIMARY KEY REFERENCES leases (id) ON DELETE CASCADE,
    first_mi      integer,          -- month of bit 1 of paid_10 and paid_30 (NULL: no due paid yet)
    paid_10       varbit,           -- bit i: the due of month first_mi + i - 1 paid in full within 10 days
    paid_30       varbit,           -- ... within 30 days of its date
    last_paid_on  date NOT NULL     -- the lease's latest payment (a lease without payment has no row)
);

ALTER TABLE lease_paid_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY lease_paid_history_all ON lease_paid_history TO akig_read_all USING (true);
CREATE POLICY lease_paid_history_owner ON lease_paid_history TO akig_read_owner USING (lease_id IN (SELECT id FROM leases));
GRANT SELECT ON lease_paid_history TO akig_read_all, akig_read_owner;

-- What lease_paid_history should hold for the given leases. A month between two paid dues whose due was
-- not paid in time gets a 0, so every bit stays at its month (as in lease_punctuality).
CREATE FUNCTION lease_paid_history_expected(p_ids bigint[])
RETURNS TABLE (lease_id bigint, first_mi integer, paid_10 varbit, paid_30 varbit, last_paid_on date)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH ids AS (
        SELECT DISTINCT x.lease_id FROM unnest(p_ids) AS x(lease_id)
    ), paid AS (
        SELECT dp.lease_id, dp.mi, dp.paid_on <= ld.due_date + 10 AS in_10, dp.paid_on <= ld.due_date + 30 AS in_30,
               repeat('0', dp.mi - coalesce(lag(dp.mi) OVER (PARTITION BY dp.lease_id ORDER BY dp.mi), dp.mi - 1) - 1) AS gap
          FROM due_paid_days dp
          JOIN ids i ON i.lease_id = dp.lease_id
          JOIN lease_dues ld ON ld.lease_id = dp.lease_id AND ld.mi = dp.mi
    ), bits AS (
        SELECT p.lease_id, min(p.mi) AS first_mi,
               string_agg(p.gap || CASE WHEN p.in_10 THEN '1' ELSE '0' END, '' ORDER BY p.mi)::varbit AS paid_10,
               string_agg(p.gap || CASE WHEN p.in_30 THEN '1' ELSE '0' END, '' ORDER BY p.mi)::varbit AS paid_30
          FROM paid p
         GROUP BY p.lease_id
    ), last AS (
        SELECT p.lease_id, max(p.paid_on) AS last_paid_on
          FROM payments p JOIN ids i ON i.lease_id = p.lease_id
         GROUP BY p.lease_id
    )
    SELECT l.lease_id, b.first_mi, b.paid_10, b.paid_30, l.last_paid_on
      FROM last l LEFT JOIN bits b ON b.lease_id = l.lease_id
$$;

-- The given leases' rows, recomputed.
CREATE FUNCTION lease_paid_history_refresh(p_ids bigint[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH fresh AS MATERIALIZED (
        SELECT * FROM lease_paid_history_expected(p_ids)
    ), gone AS (
        DELETE FROM lease_paid_history t
         WHERE t.lease_id = ANY (p_ids) AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.lease_id = t.lease_id)
    )
    INSERT INTO lease_paid_history AS t (lease_id, first_mi, paid_10, paid_30, last_paid_on)
    SELECT f.lease_id, f.first_mi, f.paid_10, f.paid_30, f.last_paid_on FROM fresh f
    ON CONFLICT (lease_id) DO UPDATE
       SET first_mi = EXCLUDED.first_mi, paid_10 = EXCLUDED.paid_10, paid_30 = EXCLUDED.paid_30,
           last_paid_on = EXCLUDED.last_paid_on
     WHERE (t.first_mi, t.paid_10, t.paid_30, t.last_paid_on)
           IS DISTINCT FROM (EXCLUDED.first_mi, EXCLUDED.paid_10, EXCLUDED.paid_30, EXCLUDED.last_paid_on)
$$;

-- 045's triggers, now keeping lease_paid_history too (after due_paid_days, which it reads).
CREATE OR REPLACE FUNCTION payments_due_paid_days() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_ids bigint[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM due_paid_days;
        DELETE FROM lease_paid_history;
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
        PERFORM lease_paid_history_refresh(v_ids);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION lease_dues_due_paid_days() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_ids bigint[];
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM due_paid_days t USING old_rows o WHERE t.lease_id = o.lease_id AND t.mi = o.mi;
        -- the deleted dues' bits go (a lease deleted has no payment left, so its row just goes)
        PERFORM lease_paid_history_refresh(ARRAY(SELECT DISTINCT lease_id FROM old_rows));
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
        PERFORM lease_paid_history_refresh(v_ids);
    END IF;
    RETURN NULL;
END $$;

REVOKE EXECUTE ON FUNCTION lease_paid_history_expected(bigint[]), lease_paid_history_refresh(bigint[]) FROM PUBLIC;

-- A self-check for the tests: leases whose row disagrees with due_paid_days, lease_dues and payments.
CREATE VIEW lease_paid_history_drift AS
SELECT coalesce(e.lease_id, t.lease_id) AS lease_id
  FROM lease_paid_history_expected(ARRAY(SELECT id FROM leases)) e
  FULL JOIN lease_paid_history t ON t.lease_id = e.lease_id
 WHERE (e.first_mi, e.paid_10, e.paid_30, e.last_paid_on) IS DISTINCT FROM (t.first_mi, t.paid_10, t.paid_30, t.last_paid_on);
REVOKE ALL ON lease_paid_history_drift FROM akig_read_all, akig_read_owner;

-- The existing leases.
INSERT INTO lease_paid_history (lease_id, first_mi, paid_10, paid_30, last_paid_on)
SELECT * FROM lease_paid_history_expected(ARRAY(SELECT id FROM leases));

-- The number of bits of `bits` (whose bit 1 is month first_mi) that are set in the months lo..hi; none
-- when bits is NULL. substring clips a range that starts before bit 1 or ends after the last.
CREATE FUNCTION months_set(bits varbit, first_mi integer, lo integer, hi integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(bit_count(substring(bits FROM lo - first_mi + 1 FOR greatest(0, hi - lo + 1))), 0)::integer
$$;

-- risk_features_one_date: risk_features_at's rows for one date, from the rows above. The columns are
-- computed as there (037), with the same names; where a lease has no due up to the last due month before D,
-- the history's figures are the same NULLs and zeros as risk_features_at's missing history row gives.
CREATE FUNCTION risk_features_one_date(p_as_of date, p_owner_ref text DEFAULT NULL)
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
-- Hash joins of the leases to each aggregate, as risk_features_at (PostgreSQL cannot estimate the running
-- leases through the month arithmetic, and nested loops over its guess were the minutes of 037). Called by
-- risk_features, never inlined into a read (a SET clause prevents it).
SET enable_nestloop = off
SET jit = off
SET work_mem = '64MB'
AS $$
    WITH active AS MATERIALIZED (
        SELECT p_as_of AS s, p_as_of - 1 AS k, sl.lease_id, sl.site_id, sl.owner_id, sl.rent, sl.first_mi,
               sl.due_day,
               greatest(sl.first_mi, last_due_month(p_as_of - 1, sl.due_day) + 1) AS next_mi,
               last_due_month(p_as_of - 1, sl.due_day) AS last_mi,
               last_due_month(p_as_of - 11, sl.due_day) AS closed_mi,
               last_due_month(p_as_of - 31, sl.due_day) AS closed30_mi
          FROM scoped_leases(p_owner_ref) sl
         WHERE sl.start_date <= p_as_of AND (sl.end_date IS NULL OR sl.end_date >= p_as_of)
           AND greatest(sl.first_mi, last_due_month(p_as_of - 1, sl.due_day) + 1) <= coalesce(sl.end_mi, 2147483647)
    ), history AS (
        SELECT a.lease_id,
               months_set(x.dues, x.first_mi, x.first_mi, a.last_mi) AS dues_so_far,
               months_set(x.dues, x.first_mi, x.first_mi, a.closed_mi) AS closed,
               months_set(x.on_time, x.first_mi, x.first_mi, a.last_mi) AS on_time_all,
               months_set(h.paid_10, h.first_mi, x.first_mi, a.closed_mi) AS paid10_closed,
               months_set(x.dues, x.first_mi, a.closed_mi - 2, a.closed_mi)
                 - months_set(h.paid_10, h.first_mi, a.closed_mi - 2, a.closed_mi) AS late3,
               months_set(x.dues, x.first_mi, a.closed_mi - 5, a.closed_mi)
                 - months_set(h.paid_10, h.first_mi, a.closed_mi - 5, a.closed_mi) AS late6,
               months_set(x.dues, x.first_mi, a.closed30_mi - 5, a.closed30_mi)
                 - months_set(h.paid_30, h.first_mi, a.closed30_mi - 5, a.closed30_mi) AS late30_6,
               CASE WHEN months_set(x.dues, x.first_mi, a.closed_mi, a.closed_mi) = 1
                    THEN 1 - months_set(h.paid_10, h.first_mi, a.closed_mi, a.closed_mi) END AS last_late,
               x.first_mi AS dues_first_mi, h.last_paid_on
          FROM active a
          LEFT JOIN lease_punctuality x ON x.lease_id = a.lease_id
          LEFT JOIN lease_paid_history h ON h.lease_id = a.lease_id
    ), after_k AS (
        -- paid from D on (paid_on is paid_at's date in Africa/Conakry; bounded on paid_at a day wider, so that
        -- only the partitions from D's month on are read)
        SELECT p.lease_id, sum(p.amount)::bigint AS s
          FROM payments p
         WHERE p.paid_on >= p_as_of AND p.paid_at >= (p_as_of - 1)::timestamp AT TIME ZONE 'UTC'
         GROUP BY p.lease_id
    ), recent AS (
        SELECT p.lease_id, p.paid_on, p.amount
          FROM payments p
         WHERE p.paid_on > p_as_of - 1 - 182 AND p.paid_on <= p_as_of - 1
           AND p.paid_at >= (p_as_of - 1 - 183)::timestamp AT TIME ZONE 'UTC'
           AND p.paid_at < (p_as_of + 1)::timestamp AT TIME ZONE 'UTC'
    ), paid AS (
        SELECT a.lease_id,
               coalesce(sum(r.amount), 0)::bigint AS paid_6m,
               count(r.amount)::integer AS payments_6m,
               count(r.amount) FILTER (WHERE r.amount < a.rent)::integer AS partial_6m,
               max(r.paid_on) AS last_recent
          FROM active a
          JOIN recent r ON r.lease_id = a.lease_id
         GROUP BY a.lease_id
    ), balance AS (
        SELECT a.lease_id, coalesce(t.paid_total, 0) - coalesce(ak.s, 0) AS paid
          FROM active a
          LEFT JOIN lease_payment_totals t ON t.lease_id = a.lease_id
          LEFT JOIN after_k ak ON ak.lease_id = a.lease_id
    ), promised AS (
        SELECT a.lease_id,
               count(*) FILTER (WHERE pr.due_date <= a.k AND coalesce(pp.paid, 0) >= pr.amount)::integer AS kept,
               count(*) FILTER (WHERE pr.due_date <= a.k AND coalesce(pp.paid, 0) = 0)::integer AS broken,
               count(*) FILTER (WHERE pr.due_date <= a.k AND coalesce(pp.paid, 0) > 0
                                  AND coalesce(pp.paid, 0) < pr.amount)::integer AS part,
               count(*) FILTER (WHERE pr.due_date > a.k)::integer AS pending
          FROM active a
          JOIN promises pr ON pr.lease_id = a.lease_id
          LEFT JOIN promise_payments pp ON pp.promise_id = pr.id
         WHERE pr.created_on <= p_as_of - 1 AND pr.due_date > p_as_of - 1 - 365
         GROUP BY a.lease_id
    ), contacts AS (
        SELECT c.lease_id, timezone('Africa/Conakry', c.called_at)::date AS day, true AS is_call, c.outcome
          FROM calls c
         WHERE c.called_at < p_as_of::timestamp AT TIME ZONE 'Africa/Conakry'
           AND c.called_at >= (p_as_of - 1 - 90)::timestamp AT TIME ZONE 'Africa/Conakry'
        UNION ALL
        SELECT v.lease_id, timezone('Africa/Conakry', v.visited_at)::date, false, v.outcome
          FROM visits v
         WHERE v.visited_at < p_as_of::timestamp AT TIME ZONE 'Africa/Conakry'
           AND v.visited_at >= (p_as_of - 1 - 90)::timestamp AT TIME ZONE 'Africa/Conakry'
    ), contacted AS (
        SELECT a.lease_id,
               count(*) FILTER (WHERE c.is_call)::integer AS calls,
               count(*) FILTER (WHERE c.is_call AND c.outcome IN ('no_answer', 'wrong_number'))::integer AS unreached,
               count(*) FILTER (WHERE c.is_call AND c.outcome = 'refused')::integer AS refused,
               count(*) FILTER (WHERE NOT c.is_call)::integer AS visits,
               count(*) FILTER (WHERE NOT c.is_call AND c.outcome IN ('absent', 'refused'))::integer AS absent,
               count(*) FILTER (WHERE c.outcome = 'promise')::integer AS promised
          FROM active a
          JOIN contacts c ON c.lease_id = a.lease_id AND c.day > a.k - 90 AND c.day <= a.k
         GROUP BY a.lease_id
    ), figures AS (
        SELECT a.*, h.dues_so_far, h.closed, h.on_time_all, h.paid10_closed, h.late3, h.late6, h.late30_6,
               h.last_late, h.last_paid_on, b.paid,
               -- the dues are stored month after month from the lease's first: the last one up to last_mi
               -- owes dues_so_far x rent in all, and the first not covered by what was paid is the oldest unpaid
               h.dues_so_far::bigint * a.rent AS due_total,
               CASE WHEN b.paid / a.rent < h.dues_so_far
                    THEN due_in_month(h.dues_first_mi + (b.paid / a.rent)::integer, a.due_day) END AS oldest_unpaid,
               pd.paid_6m, pd.payments_6m, pd.partial_6m, pd.last_recent
          FROM active a
          JOIN history h ON h.lease_id = a.lease_id
          JOIN balance b ON b.lease_id = a.lease_id
          LEFT JOIN paid pd ON pd.lease_id = a.lease_id
    )
    SELECT f.s, l.lease_ref, st.site_ref, o.owner_ref, st.commune,
           due_in_month(f.next_mi, f.due_day), f.rent,
           (due_in_month(f.next_mi, f.due_day) - f.s)::integer,
           date_part('month', due_in_month(f.next_mi, f.due_day))::integer,
           f.rent, f.dues_so_far,
           f.late3, f.late6, f.late30_6, f.last_late,
           (f.closed - f.paid10_closed)::double precision / nullif(f.closed, 0),
           f.on_time_all::double precision / nullif(f.dues_so_far, 0),
           greatest(0, f.due_total - f.paid)::bigint,
           greatest(0, f.due_total - f.paid)::double precision / f.rent,
           greatest(0, f.paid - f.due_total)::double precision / f.rent,
           coalesce(f.s - f.oldest_unpaid, 0)::integer,
           coalesce(f.payments_6m, 0), coalesce(f.partial_6m, 0),
           (f.s - coalesce(f.last_recent,
                           CASE WHEN f.last_paid_on <= f.k THEN f.last_paid_on
                                WHEN f.last_paid_on IS NOT NULL
                                THEN (SELECT max(p.paid_on) FROM payments p
                                       WHERE p.lease_id = f.lease_id AND p.paid_on <= f.k) END))::integer,
           coalesce(f.paid_6m, 0)::bigint,
           coalesce(pm.kept, 0), coalesce(pm.broken, 0), coalesce(pm.part, 0), coalesce(pm.pending, 0),
           coalesce(c.calls, 0), coalesce(c.unreached, 0), coalesce(c.refused, 0),
           coalesce(c.visits, 0), coalesce(c.absent, 0), coalesce(c.promised, 0)
      FROM figures f
      JOIN leases l ON l.id = f.lease_id
      JOIN sites st ON st.id = f.site_id
      JOIN owners o ON o.id = f.owner_id
      LEFT JOIN promised pm ON pm.lease_id = f.lease_id
      LEFT JOIN contacted c ON c.lease_id = f.lease_id
     ORDER BY f.s, l.lease_ref
$$;

GRANT EXECUTE ON FUNCTION months_set(varbit, integer, integer, integer) TO akig_read_all, akig_read_owner, akig_write;

-- risk_features (037): the read's function, as before a plain SQL function without a SET clause, now on
-- the one date's rows.
CREATE OR REPLACE FUNCTION risk_features(p_as_of date, p_owner_ref text DEFAULT NULL)
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
    SELECT * FROM risk_features_one_date(p_as_of, p_owner_ref)
$$;

GRANT EXECUTE ON FUNCTION risk_features_one_date(date, text) TO akig_read_all, akig_read_owner;
