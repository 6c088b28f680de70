-- 028: due_in_month (003) used its month index three times (year, month, and the month's length). PostgreSQL
-- inlines a SQL function whose parameter is used more than once only when the argument is cheap, and
-- lease_balances passes it the oldest unpaid month, an expression of about twenty operators built from the
-- lease's arrears: so for every lease in arrears, oldest_unpaid_due_date and days_late each called
-- due_in_month through the SQL-function executor. At `large` scale that was about 0.5 s of
-- arrears_by_lease's 0.9-1.5 s (60,277 rows), and most of late_sites' aggregate (max(days_late)).
--
-- The same date is now one expression that names each parameter once: the due_day-th of January 2000 (a
-- 31-day month) plus the months from there to mi. Adding months to a date keeps its day, or gives the
-- month's last day when the month is shorter, which is the rule (31 in February -> the 28th or 29th). So it
-- is inlined whatever its arguments. It was compared with the previous body for every month from 1900 to
-- 2200 and every due day 1 to 31: identical. A due day above 31 is clamped to 31, as least(due_day,
-- days_in_month(mi)) did. Still IMMUTABLE (make_date, make_interval and date + interval are).

CREATE OR REPLACE FUNCTION due_in_month(mi integer, due_day integer) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (make_date(2000, 1, least(due_day, 31)) + make_interval(months => mi - 24000))::date
$$;
