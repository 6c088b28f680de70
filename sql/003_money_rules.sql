-- 003: the money rules, as SQL functions every client shares (the README states them in words).
--
-- Dues are never stored: a lease owes `monthly_rent` on its due day of every month (clamped to the
-- month's last day), so the number of dues in any window is arithmetic (`dues_count`). Functions here
-- are single-expression SQL functions so that PostgreSQL inlines them into the calling query.

-- Months are counted as year * 12 + month - 1 so that month arithmetic is integer arithmetic.
CREATE FUNCTION month_idx(d date) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (date_part('year', d)::integer * 12 + date_part('month', d)::integer - 1)
$$;

CREATE FUNCTION days_in_month(mi integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_part('day', make_date((mi + 1) / 12, (mi + 1) % 12 + 1, 1) - 1)::integer
$$;

-- The due date in month `mi` for a lease due on `due_day` (31 in February -> the 28th or 29th).
CREATE FUNCTION due_in_month(mi integer, due_day integer) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT make_date(mi / 12, mi % 12 + 1, least(due_day, days_in_month(mi)))
$$;

-- Index of the first month whose due date is on or after `d` (compares days of the month, so that
-- for a constant `d` everything but the due day folds into constants at plan time).
CREATE FUNCTION first_due_month(d date, due_day integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT month_idx(d) + (least(due_day, days_in_month(month_idx(d))) < date_part('day', d)::integer)::integer
$$;

-- Index of the last month whose due date is on or before `d`.
CREATE FUNCTION last_due_month(d date, due_day integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT month_idx(d) - (least(due_day, days_in_month(month_idx(d))) > date_part('day', d)::integer)::integer
$$;

-- Number of due dates d of a lease (start_date, end_date or NULL = open, due_day) with lo <= d <= hi
-- (lo NULL = since the start). hi must not be NULL.
CREATE FUNCTION dues_count(p_start date, p_end date, p_due_day integer, p_lo date, p_hi date) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT greatest(0, last_due_month(least(p_end, p_hi), p_due_day)
                       - first_due_month(greatest(p_start, p_lo), p_due_day) + 1)
$$;

-- Each lease keeps the month of its first due and of its last due (NULL while open): computed once
-- at write time, they turn every "how many dues between two dates" into integer arithmetic.
ALTER TABLE leases
    ADD COLUMN first_due_mi integer GENERATED ALWAYS AS (first_due_month(start_date, due_day)) STORED,
    ADD COLUMN last_due_mi integer GENERATED ALWAYS AS (last_due_month(end_date, due_day)) STORED;

-- Leases in an owner's scope (every lease when p_owner_ref is NULL), with their site and owner.
-- (The data layer refuses an unknown owner_ref before calling any read.)
CREATE FUNCTION scoped_leases(p_owner_ref text)
RETURNS TABLE (lease_id bigint, unit_id bigint, site_id bigint, owner_id bigint, tenant_id bigint,
               start_date date, end_date date, due_day integer, rent bigint, first_mi integer, end_mi integer)
LANGUAGE sql STABLE AS $$
    SELECT l.id, l.unit_id, u.site_id, s.owner_id, l.tenant_id, l.start_date, l.end_date,
           l.due_day::integer, l.monthly_rent, l.first_due_mi, l.last_due_mi
      FROM leases l
      JOIN units u ON u.id = l.unit_id
      JOIN sites s ON s.id = u.site_id
      JOIN owners o ON o.id = s.owner_id
     WHERE p_owner_ref IS NULL OR o.owner_ref = p_owner_ref
$$;

-- Amount of the unpaid dues of one lease whose due dates fall in [lo, hi] (lo NULL = no lower
-- bound), given FIFO: the unpaid dues are those of months om..lm, the oldest (month om) unpaid for
-- `rest` only, the others for the full rent.
CREATE FUNCTION unpaid_in_window(om integer, lm integer, p_due_day integer, rent bigint, rest bigint,
                                 lo date, hi date) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN om IS NULL THEN 0::bigint ELSE
           rent * greatest(0, least(lm, last_due_month(hi, p_due_day))
                              - greatest(om, coalesce(first_due_month(lo, p_due_day), om)) + 1)
           - CASE WHEN om <= last_due_month(hi, p_due_day)
                   AND (lo IS NULL OR om >= first_due_month(lo, p_due_day)) THEN rent - rest ELSE 0 END
           END
$$;

-- Every lease's position at D: dues, paid, arrears, credit and FIFO aging.
--   paid(D) = all payments dated <= D = paid_total - payments dated after D (see 002).
--   Unpaid dues under FIFO are the newest k = ceil(arrears / rent) dues: months om..lm.
CREATE FUNCTION lease_balances(p_as_of date, p_owner_ref text)
RETURNS TABLE (lease_id bigint, unit_id bigint, site_id bigint, owner_id bigint, tenant_id bigint,
               rent bigint, dues integer, due_total bigint, paid bigint, arrears bigint, credit bigint,
               bucket_0_30 bigint, bucket_31_60 bigint, bucket_61_90 bigint, bucket_90_plus bigint,
               oldest_unpaid_due_date date, days_late integer)
LANGUAGE sql STABLE AS $$
    WITH after_d AS (
        SELECT p.lease_id, sum(p.amount)::bigint AS s FROM payments p WHERE p.paid_on > p_as_of GROUP BY p.lease_id
    ), pos AS (
        SELECT sl.lease_id, sl.unit_id, sl.site_id, sl.owner_id, sl.tenant_id, sl.due_day, sl.rent,
               greatest(0, least(coalesce(sl.end_mi, 2147483647), last_due_month(p_as_of, sl.due_day))
                           - sl.first_mi + 1) AS n,
               least(coalesce(sl.end_mi, 2147483647), last_due_month(p_as_of, sl.due_day)) AS lm,
               coalesce(t.paid_total, 0) - coalesce(a.s, 0) AS paid
          FROM scoped_leases(p_owner_ref) sl
          LEFT JOIN lease_payment_totals t ON t.lease_id = sl.lease_id
          LEFT JOIN after_d a ON a.lease_id = sl.lease_id
    ), bal AS (
        SELECT pos.*, pos.n * pos.rent AS due_total,
               greatest(0, pos.n * pos.rent - pos.paid) AS arrears,
               greatest(0, pos.paid - pos.n * pos.rent) AS credit
          FROM pos
    ), aged AS (
        SELECT bal.*,
               CASE WHEN bal.arrears > 0 THEN bal.lm - ((bal.arrears + bal.rent - 1) / bal.rent)::integer + 1 END AS om,
               bal.arrears - ((bal.arrears + bal.rent - 1) / bal.rent - 1) * bal.rent AS rest
          FROM bal
    )
    SELECT a.lease_id, a.unit_id, a.site_id, a.owner_id, a.tenant_id, a.rent, a.n, a.due_total::bigint,
           a.paid::bigint, a.arrears::bigint, a.credit::bigint,
           unpaid_in_window(a.om, a.lm, a.due_day, a.rent, a.rest, p_as_of - 30, p_as_of),
           unpaid_in_window(a.om, a.lm, a.due_day, a.rent, a.rest, p_as_of - 60, p_as_of - 31),
           unpaid_in_window(a.om, a.lm, a.due_day, a.rent, a.rest, p_as_of - 90, p_as_of - 61),
           unpaid_in_window(a.om, a.lm, a.due_day, a.rent, a.rest, NULL, p_as_of - 91),
           due_in_month(a.om, a.due_day),
           CASE WHEN a.arrears > 0 THEN p_as_of - due_in_month(a.om, a.due_day) ELSE 0 END
      FROM aged a
$$;

-- Every due with due date in [from, to] of the leases in scope, and whether it was paid on time:
-- paid(due date) >= the lease's cumulative dues up to and including it.
--   paid(d) = paid before `from` + payments dated in [from, d]; the second term is a running sum
--   over the window's dues and payments ordered by date (payments before dues on the same date).
CREATE FUNCTION dues_status(p_from date, p_to date, p_owner_ref text)
RETURNS TABLE (lease_id bigint, site_id bigint, owner_id bigint, tenant_id bigint,
               due_date date, amount bigint, on_time boolean)
LANGUAGE sql STABLE AS $$
    WITH win AS MATERIALIZED (
        SELECT sl.lease_id, sl.site_id, sl.owner_id, sl.tenant_id, sl.rent, sl.due_day, sl.first_mi,
               greatest(sl.first_mi, first_due_month(p_from, sl.due_day)) AS from_mi,
               least(coalesce(sl.end_mi, 2147483647), last_due_month(p_to, sl.due_day)) AS to_mi
          FROM scoped_leases(p_owner_ref) sl
    ), dues AS (
        SELECT w.lease_id, w.site_id, w.owner_id, w.tenant_id, w.rent,
               due_in_month(mi, w.due_day) AS due_date, (mi - w.first_mi + 1)::bigint * w.rent AS cum_due
          FROM win w, generate_series(w.from_mi, w.to_mi) AS mi
         WHERE w.from_mi <= w.to_mi
    ), since_from AS (
        SELECT p.lease_id, sum(p.amount)::bigint AS s FROM payments p WHERE p.paid_on >= p_from GROUP BY p.lease_id
    ), base AS (
        SELECT w.lease_id, coalesce(t.paid_total, 0) - coalesce(sf.s, 0) AS paid_before
          FROM win w
          LEFT JOIN lease_payment_totals t ON t.lease_id = w.lease_id
          LEFT JOIN since_from sf ON sf.lease_id = w.lease_id
         WHERE w.from_mi <= w.to_mi
    ), events AS (
        SELECT d.lease_id, d.due_date AS day, 1 AS kind, 0::bigint AS amount, d.cum_due, d.due_date,
               d.site_id, d.owner_id, d.tenant_id, d.rent
          FROM dues d
        UNION ALL
        SELECT p.lease_id, p.paid_on, 0, p.amount, NULL, NULL, NULL, NULL, NULL, NULL
          FROM payments p
          JOIN win w ON w.lease_id = p.lease_id AND w.from_mi <= w.to_mi
         WHERE p.paid_on BETWEEN p_from AND p_to
    ), running AS (
        SELECT e.*, sum(e.amount) OVER (PARTITION BY e.lease_id ORDER BY e.day, e.kind
                                        ROWS UNBOUNDED PRECEDING) AS paid_in_window
          FROM events e
    )
    SELECT r.lease_id, r.site_id, r.owner_id, r.tenant_id, r.due_date, r.rent,
           (b.paid_before + r.paid_in_window >= r.cum_due)
      FROM running r
      JOIN base b ON b.lease_id = r.lease_id
     WHERE r.kind = 1
$$;
