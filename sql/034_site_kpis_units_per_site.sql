-- 034: site_kpis (026) counts each site's units and occupied units per site directly. It listed the units
-- with a lease running at D (a hash of 68,797 unit ids at `large` scale) and joined every unit to that list
-- before counting per site: about 0.1 s of the read, whatever its period. Now the units are counted per
-- site through units_site_id, and the occupied ones as the distinct units of the leases running at D,
-- per site through leases_site_id (a lease's site is its unit's: 001's triggers copy it on every write of
-- a lease, a unit or a site). Every answer is unchanged; the rest of the function is 026's.

CREATE OR REPLACE FUNCTION site_kpis(p_from date, p_to date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (site_ref text, owner_ref text, site_name text, commune text, quartier text,
               due bigint, collected bigint, collection_rate double precision,
               dues integer, on_time_dues integer, punctuality_rate double precision,
               arrears bigint, late_leases integer, units integer, occupied_units integer)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    -- Each per-site aggregate is materialized: computed once, however the planner joins it to sites
    -- (row-level security makes its row estimates too low to trust).
    WITH due AS MATERIALIZED (
        SELECT x.site_id, sum(x.due)::bigint AS due, sum(x.dues)::integer AS dues, sum(x.on_time)::integer AS on_time
          FROM (SELECT t.site_id, t.due, t.dues, t.on_time
                  FROM site_month_totals t
                 WHERE t.mi BETWEEN whole_months_first(p_from) AND whole_months_last(p_to)
                UNION ALL
                SELECT d.site_id, d.amount, 1, d.on_time::integer
                  FROM dues_status(p_from, CASE WHEN whole_months_first(p_from) <= whole_months_last(p_to)
                                                THEN due_in_month(whole_months_first(p_from), 1) - 1
                                                ELSE p_to END, p_owner_ref) d
                UNION ALL
                SELECT d.site_id, d.amount, 1, d.on_time::integer
                  FROM dues_status(due_in_month(whole_months_last(p_to) + 1, 1), p_to, p_owner_ref) d
                 WHERE whole_months_first(p_from) <= whole_months_last(p_to)) x
         GROUP BY x.site_id
    ), paid AS MATERIALIZED (
        SELECT x.site_id, sum(x.collected)::bigint AS collected
          FROM (SELECT t.site_id, t.collected
                  FROM site_month_totals t
                 WHERE t.mi BETWEEN whole_months_first(p_from) AND whole_months_last(p_to)
                UNION ALL
                SELECT l.site_id, p.amount
                  FROM payments p
                  JOIN leases l ON l.id = p.lease_id
                 WHERE p.paid_on BETWEEN p_from AND CASE WHEN whole_months_first(p_from) <= whole_months_last(p_to)
                                                         THEN due_in_month(whole_months_first(p_from), 1) - 1
                                                         ELSE p_to END
                   AND p.paid_at >= (p_from - 1)::timestamp AT TIME ZONE 'UTC'
                   AND p.paid_at < (CASE WHEN whole_months_first(p_from) <= whole_months_last(p_to)
                                         THEN due_in_month(whole_months_first(p_from), 1) - 1
                                         ELSE p_to END + 2)::timestamp AT TIME ZONE 'UTC'
                UNION ALL
                SELECT l.site_id, p.amount
                  FROM payments p
                  JOIN leases l ON l.id = p.lease_id
                 WHERE whole_months_first(p_from) <= whole_months_last(p_to)
                   AND p.paid_on BETWEEN due_in_month(whole_months_last(p_to) + 1, 1) AND p_to
                   AND p.paid_at >= (due_in_month(whole_months_last(p_to) + 1, 1) - 1)::timestamp AT TIME ZONE 'UTC'
                   AND p.paid_at < (p_to + 2)::timestamp AT TIME ZONE 'UTC') x
         GROUP BY x.site_id
    ), bal AS MATERIALIZED (
        SELECT b.site_id, sum(b.arrears)::bigint AS arrears, count(*) FILTER (WHERE b.arrears > 0)::integer AS late
          FROM lease_balances(p_to, p_owner_ref) b
         GROUP BY b.site_id
    ), stock AS MATERIALIZED (
        SELECT u.site_id, count(*)::integer AS units FROM units u GROUP BY u.site_id
    ), occupied AS MATERIALIZED (
        SELECT l.site_id, count(DISTINCT l.unit_id)::integer AS occupied
          FROM leases l
         WHERE l.start_date <= p_to AND (l.end_date IS NULL OR l.end_date >= p_to)
         GROUP BY l.site_id
    )
    SELECT s.site_ref, o.owner_ref, s.name, s.commune, s.quartier,
           coalesce(d.due, 0), coalesce(p.collected, 0),
           coalesce(p.collected, 0)::double precision / nullif(d.due, 0),
           coalesce(d.dues, 0), coalesce(d.on_time, 0),
           d.on_time::double precision / nullif(d.dues, 0),
           coalesce(b.arrears, 0), coalesce(b.late, 0), coalesce(st.units, 0), coalesce(oc.occupied, 0)
      FROM sites s
      JOIN owners o ON o.id = s.owner_id
      LEFT JOIN due d ON d.site_id = s.id
      LEFT JOIN paid p ON p.site_id = s.id
      LEFT JOIN bal b ON b.site_id = s.id
      LEFT JOIN stock st ON st.site_id = s.id
      LEFT JOIN occupied oc ON oc.site_id = s.id
     WHERE p_owner_ref IS NULL OR o.owner_ref = p_owner_ref
     ORDER BY s.site_ref
$$;

GRANT EXECUTE ON FUNCTION site_kpis(date, date, text) TO akig_read_all, akig_read_owner;
