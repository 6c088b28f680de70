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
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT l.id, l.unit_id, l.site_id, l.owner_id, l.tenant_id, l.start_date, l.end_date,
           l.due_day::integer, l.monthly_rent, l.first_due_mi, l.last_due_mi
      FROM leases l
     WHERE p_owner_ref IS NULL OR l.owner_id = (SELECT o.id FROM owners o WHERE o.owner_ref = p_owner_ref)
$$;
-- FIFO leaves the newest dues unpaid: with `arrears` owed on a lease whose last due so far is in month
-- lm, the dues of months after m are unpaid for rent x (lm - m), so what is unpaid of the dues of months
-- up to m is what remains of the arrears (never below 0). Each parameter is used once, so PostgreSQL
-- inlines the function whatever expressions it is given.
CREATE FUNCTION unpaid_through(arrears bigint, rent bigint, lm integer, m integer) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT greatest(0, arrears - rent * greatest(0, lm - m))
$$;

-- For each possible due day, the last month whose due date is at most 0, 31, 61 and 91 days before D:
-- the aging buckets are the months between two of them (0-30 days, 31-60, 61-90, over 90).
CREATE FUNCTION aging_bounds(p_as_of date)
RETURNS TABLE (due_day integer, m0 integer, m31 integer, m61 integer, m91 integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT dd, last_due_month(p_as_of, dd), last_due_month(p_as_of - 31, dd),
           last_due_month(p_as_of - 61, dd), last_due_month(p_as_of - 91, dd)
      FROM generate_series(1, 31) AS dd
$$;

-- Every lease's position at D: dues, paid, arrears, credit and FIFO aging.
--   paid(D) = all payments dated <= D = paid_total - payments dated after D (see 002).
--   The oldest unpaid due is in month lm - ceil(arrears / rent) + 1.
-- No CTE is materialized: unused columns (the oldest due's date for arrears_by_site) are never
-- computed, and PostgreSQL may run the scan in parallel.
CREATE FUNCTION lease_balances(p_as_of date, p_owner_ref text)
RETURNS TABLE (lease_id bigint, unit_id bigint, site_id bigint, owner_id bigint, tenant_id bigint,
               rent bigint, dues integer, due_total bigint, paid bigint, arrears bigint, credit bigint,
               bucket_0_30 bigint, bucket_31_60 bigint, bucket_61_90 bigint, bucket_90_plus bigint,
               oldest_unpaid_due_date date, days_late integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH after_d AS (
        SELECT p.lease_id, sum(p.amount)::bigint AS s FROM payments p WHERE p.paid_on > p_as_of GROUP BY p.lease_id
    ), pos AS (
        SELECT sl.lease_id, sl.unit_id, sl.site_id, sl.owner_id, sl.tenant_id, sl.due_day, sl.rent, sl.first_mi,
               least(coalesce(sl.end_mi, 2147483647), g.m0) AS lm, g.m31, g.m61, g.m91,
               coalesce(t.paid_total, 0) - coalesce(a.s, 0) AS paid
          FROM scoped_leases(p_owner_ref) sl
          JOIN aging_bounds(p_as_of) g ON g.due_day = sl.due_day
          LEFT JOIN lease_payment_totals t ON t.lease_id = sl.lease_id
          LEFT JOIN after_d a ON a.lease_id = sl.lease_id
    ), bal AS (
        SELECT pos.*, greatest(0, pos.lm - pos.first_mi + 1) AS n FROM pos
    ), owed AS (
        SELECT bal.*, bal.n * bal.rent AS due_total,
               greatest(0, bal.n * bal.rent - bal.paid) AS arrears,
               greatest(0, bal.paid - bal.n * bal.rent) AS credit
          FROM bal
    )
    SELECT o.lease_id, o.unit_id, o.site_id, o.owner_id, o.tenant_id, o.rent, o.n, o.due_total::bigint,
           o.paid::bigint, o.arrears::bigint, o.credit::bigint,
           unpaid_through(o.arrears, o.rent, o.lm, o.lm) - unpaid_through(o.arrears, o.rent, o.lm, o.m31),
           unpaid_through(o.arrears, o.rent, o.lm, o.m31) - unpaid_through(o.arrears, o.rent, o.lm, o.m61),
           unpaid_through(o.arrears, o.rent, o.lm, o.m61) - unpaid_through(o.arrears, o.rent, o.lm, o.m91),
           unpaid_through(o.arrears, o.rent, o.lm, o.m91),
           CASE WHEN o.arrears > 0
                THEN due_in_month(o.lm - ((o.arrears + o.rent - 1) / o.rent)::integer + 1, o.due_day) END,
           CASE WHEN o.arrears > 0
                THEN p_as_of - due_in_month(o.lm - ((o.arrears + o.rent - 1) / o.rent)::integer + 1, o.due_day)
                ELSE 0 END
      FROM owed o
$$;
