-- 026: each site's dues and collections per month, kept by triggers, for the reads whose cost grew with the
-- length of their period: site_kpis over a year read every due and every payment of the year (about 1.1
-- million dues and 0.7 million payments at `large` scale), and monthly_trend over every site twelve months
-- of both.
--
-- site_month_totals holds, per site and month (month_idx), what those reads sum: the dues of the site's
-- leases whose due date falls in the month (amount, count, count paid on time, as lease_dues says) and the
-- payments dated (paid_on) in the month. A read takes the whole months of its period from here (2,000 sites
-- x 12 months for a year) and the days before the first whole month and after the last from lease_dues and
-- payments as before, so every answer is unchanged.
--
-- Exact at every commit: statement-level triggers with transition tables note the (site, month) cells a
-- statement touched, and those cells are recomputed from lease_dues and payments (never adjusted by
-- deltas, so the order in which triggers fire does not matter):
--   * lease_dues (inserted, deleted, updated: a payment changes what is on time, a lease change rebuilds
--     its dues, the horizon adds months) -> the lease's site, the due's month;
--   * payments (inserted, deleted, updated, truncated) -> the lease's site, the month of paid_on (old
--     and new);
--   * leases moved to another site (a unit or its lease moved) or deleted -> every month of the old and
--     new sites.
-- A statement touching many cells (a bulk load, the horizon moving on) recomputes the sites concerned over
-- the months concerned in one aggregate pass instead of cell by cell. The functions are SECURITY DEFINER, as 008's are for
-- the other derived tables, so a write keeps the totals exact whatever its writer can see.
-- site_month_totals_drift, like lease_dues_drift, lists the cells that disagree with their sources.

CREATE TABLE site_month_totals (
    site_id    bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    mi         integer NOT NULL,
    due        bigint NOT NULL,
    dues       integer NOT NULL,
    on_time    integer NOT NULL,
    collected  bigint NOT NULL,
    PRIMARY KEY (site_id, mi)
);
CREATE INDEX site_month_totals_mi ON site_month_totals (mi) INCLUDE (site_id, due, dues, on_time, collected);

ALTER TABLE site_month_totals ENABLE ROW LEVEL SECURITY;
CREATE POLICY site_month_totals_all ON site_month_totals TO akig_read_all USING (true);
CREATE POLICY site_month_totals_owner ON site_month_totals TO akig_read_owner USING (site_id IN (SELECT id FROM sites));
GRANT SELECT ON site_month_totals TO akig_read_all, akig_read_owner;

-- Every month from p_from_mi to p_to_mi (NULL: without that bound) of the given sites, recomputed in one
-- pass.
CREATE FUNCTION site_month_totals_refresh_sites(p_sites bigint[], p_from_mi integer DEFAULT NULL,
                                                p_to_mi integer DEFAULT NULL) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH s AS (
        SELECT DISTINCT x.site_id FROM unnest(p_sites) AS x(site_id) WHERE x.site_id IS NOT NULL
    ), fresh AS (
        SELECT e.site_id, e.mi, sum(e.due)::bigint AS due, sum(e.dues)::integer AS dues,
               sum(e.on_time)::integer AS on_time, sum(e.collected)::bigint AS collected
          FROM (SELECT l.site_id, d.mi, d.amount AS due, 1 AS dues, d.on_time::integer AS on_time, 0::bigint AS collected
                  FROM lease_dues d JOIN leases l ON l.id = d.lease_id
                 WHERE l.site_id IN (SELECT site_id FROM s)
                   AND d.due_date >= coalesce(due_in_month(p_from_mi, 1), '-infinity'::date)
                   AND d.due_date < coalesce(due_in_month(p_to_mi + 1, 1), 'infinity'::date)
                UNION ALL
                SELECT l.site_id, month_idx(p.paid_on), 0, 0, 0, p.amount
                  FROM payments p JOIN leases l ON l.id = p.lease_id
                 WHERE l.site_id IN (SELECT site_id FROM s)
                   AND p.paid_on >= coalesce(due_in_month(p_from_mi, 1), '-infinity'::date)
                   AND p.paid_on < coalesce(due_in_month(p_to_mi + 1, 1), 'infinity'::date)
                   AND p.paid_at >= coalesce((due_in_month(p_from_mi, 1) - 1)::timestamp AT TIME ZONE 'UTC', '-infinity')
                   AND p.paid_at < coalesce((due_in_month(p_to_mi + 1, 1) + 1)::timestamp AT TIME ZONE 'UTC', 'infinity')) e
         GROUP BY e.site_id, e.mi
    ), gone AS (
        DELETE FROM site_month_totals t
         WHERE t.site_id IN (SELECT site_id FROM s)
           AND t.mi >= coalesce(p_from_mi, -2147483648) AND t.mi <= coalesce(p_to_mi, 2147483647)
           AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.site_id = t.site_id AND f.mi = t.mi)
    )
    INSERT INTO site_month_totals AS t (site_id, mi, due, dues, on_time, collected)
    SELECT * FROM fresh
    ON CONFLICT (site_id, mi) DO UPDATE
       SET due = EXCLUDED.due, dues = EXCLUDED.dues, on_time = EXCLUDED.on_time, collected = EXCLUDED.collected
     WHERE (t.due, t.dues, t.on_time, t.collected)
           IS DISTINCT FROM (EXCLUDED.due, EXCLUDED.dues, EXCLUDED.on_time, EXCLUDED.collected)
$$;

-- The given (site, month) cells, recomputed through the sites' leases; more than 2,000 cells: their sites
-- over the cells' months, in one pass (a bulk load, the dues horizon moving on).
CREATE FUNCTION site_month_totals_refresh(p_sites bigint[], p_mis integer[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    -- the cells' first and last months, as parameters: payments is pruned to their partitions when the
    -- statement is planned, instead of planning a probe of every month's partition
    v_from timestamptz := (due_in_month((SELECT min(m) FROM unnest(p_mis) AS m), 1) - 1)::timestamp AT TIME ZONE 'UTC';
    v_to timestamptz := (due_in_month((SELECT max(m) FROM unnest(p_mis) AS m) + 1, 1) + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
    IF cardinality(p_sites) > 2000 THEN
        PERFORM site_month_totals_refresh_sites(p_sites, (SELECT min(m) FROM unnest(p_mis) AS m),
                                                (SELECT max(m) FROM unnest(p_mis) AS m));
        RETURN;
    END IF;
    WITH k AS (
        SELECT DISTINCT x.site_id, x.mi FROM unnest(p_sites, p_mis) AS x(site_id, mi)
         WHERE x.site_id IS NOT NULL AND x.mi IS NOT NULL
    ), fresh AS (
        SELECT e.site_id, e.mi, sum(e.due)::bigint AS due, sum(e.dues)::integer AS dues,
               sum(e.on_time)::integer AS on_time, sum(e.collected)::bigint AS collected
          FROM (SELECT k.site_id, k.mi, d.amount AS due, 1 AS dues, d.on_time::integer AS on_time, 0::bigint AS collected
                  FROM k JOIN leases l ON l.site_id = k.site_id
                  JOIN lease_dues d ON d.lease_id = l.id AND d.mi = k.mi
                UNION ALL
                SELECT k.site_id, k.mi, 0, 0, 0, p.amount
                  FROM k JOIN leases l ON l.site_id = k.site_id
                  JOIN payments p ON p.lease_id = l.id
                   AND p.paid_on >= due_in_month(k.mi, 1) AND p.paid_on < due_in_month(k.mi + 1, 1)
                   AND p.paid_at >= v_from AND p.paid_at < v_to) e
         GROUP BY e.site_id, e.mi
    ), gone AS (
        DELETE FROM site_month_totals t
         USING k
         WHERE t.site_id = k.site_id AND t.mi = k.mi
           AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.site_id = t.site_id AND f.mi = t.mi)
    )
    INSERT INTO site_month_totals AS t (site_id, mi, due, dues, on_time, collected)
    SELECT * FROM fresh
    ON CONFLICT (site_id, mi) DO UPDATE
       SET due = EXCLUDED.due, dues = EXCLUDED.dues, on_time = EXCLUDED.on_time, collected = EXCLUDED.collected
     WHERE (t.due, t.dues, t.on_time, t.collected)
           IS DISTINCT FROM (EXCLUDED.due, EXCLUDED.dues, EXCLUDED.on_time, EXCLUDED.collected);
END $$;

-- lease_dues: the site of each due's lease (a lease deleted with its dues is handled on leases, below).
CREATE FUNCTION lease_dues_site_months() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_sites bigint[];
    v_mis integer[];
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT array_agg(c.site_id), array_agg(c.mi) INTO v_sites, v_mis
          FROM (SELECT DISTINCT l.site_id, k.mi FROM new_rows k JOIN leases l ON l.id = k.lease_id) c;
    ELSE
        SELECT array_agg(c.site_id), array_agg(c.mi) INTO v_sites, v_mis
          FROM (SELECT DISTINCT l.site_id, k.mi FROM old_rows k JOIN leases l ON l.id = k.lease_id) c;
    END IF;
    IF v_sites IS NOT NULL THEN
        PERFORM site_month_totals_refresh(v_sites, v_mis);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER lease_dues_site_months_insert AFTER INSERT ON lease_dues
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lease_dues_site_months();
CREATE TRIGGER lease_dues_site_months_update AFTER UPDATE ON lease_dues
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lease_dues_site_months();
CREATE TRIGGER lease_dues_site_months_delete AFTER DELETE ON lease_dues
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lease_dues_site_months();

-- payments: the site of each payment's lease, the month of its date (before and after an update).
CREATE FUNCTION payments_site_months() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_sites bigint[];
    v_mis integer[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(c.site_id), array_agg(c.mi) INTO v_sites, v_mis
          FROM (SELECT DISTINCT l.site_id, month_idx(k.paid_on) AS mi
                  FROM new_rows k JOIN leases l ON l.id = k.lease_id) c;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(c.site_id), array_agg(c.mi) INTO v_sites, v_mis
          FROM (SELECT DISTINCT l.site_id, month_idx(k.paid_on) AS mi
                  FROM old_rows k JOIN leases l ON l.id = k.lease_id) c;
    ELSE
        SELECT array_agg(c.site_id), array_agg(c.mi) INTO v_sites, v_mis
          FROM (SELECT l.site_id, month_idx(k.paid_on) AS mi FROM new_rows k JOIN leases l ON l.id = k.lease_id
                UNION
                SELECT l.site_id, month_idx(k.paid_on) FROM old_rows k JOIN leases l ON l.id = k.lease_id) c;
    END IF;
    IF v_sites IS NOT NULL THEN
        PERFORM site_month_totals_refresh(v_sites, v_mis);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION payments_site_months_on_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    -- the dues' on-time flags are reset by 004's truncate trigger (an update of lease_dues, seen above)
    UPDATE site_month_totals SET collected = 0 WHERE collected <> 0;
    DELETE FROM site_month_totals WHERE dues = 0 AND collected = 0;
    RETURN NULL;
END $$;

CREATE TRIGGER payments_site_months_insert AFTER INSERT ON payments
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payments_site_months();
CREATE TRIGGER payments_site_months_update AFTER UPDATE ON payments
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payments_site_months();
CREATE TRIGGER payments_site_months_delete AFTER DELETE ON payments
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION payments_site_months();
CREATE TRIGGER payments_site_months_truncate AFTER TRUNCATE ON payments
    FOR EACH STATEMENT EXECUTE FUNCTION payments_site_months_on_truncate();

-- leases: a lease that changed site (its unit moved, or it moved to another unit) or was deleted takes its
-- dues and payments away from a site: both sites are recomputed whole.
CREATE FUNCTION leases_site_months_on_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_sites bigint[];
BEGIN
    SELECT array_agg(x.site_id) INTO v_sites
      FROM (SELECT o.site_id FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.site_id <> o.site_id
            UNION
            SELECT n.site_id FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.site_id <> o.site_id) x;
    IF v_sites IS NOT NULL THEN
        PERFORM site_month_totals_refresh_sites(v_sites);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION leases_site_months_on_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM site_month_totals_refresh_sites(ARRAY(SELECT DISTINCT site_id FROM old_rows));
    RETURN NULL;
END $$;

CREATE TRIGGER leases_site_months_update AFTER UPDATE ON leases
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION leases_site_months_on_update();
CREATE TRIGGER leases_site_months_delete AFTER DELETE ON leases
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION leases_site_months_on_delete();

REVOKE EXECUTE ON FUNCTION site_month_totals_refresh_sites(bigint[], integer, integer), site_month_totals_refresh(bigint[], integer[]),
    lease_dues_site_months(), payments_site_months(), payments_site_months_on_truncate(),
    leases_site_months_on_update(), leases_site_months_on_delete()
FROM PUBLIC;

-- A self-check for the tests: cells that disagree with lease_dues and payments.
CREATE VIEW site_month_totals_drift AS
WITH expected AS (
    SELECT e.site_id, e.mi, sum(e.due)::bigint AS due, sum(e.dues)::integer AS dues,
           sum(e.on_time)::integer AS on_time, sum(e.collected)::bigint AS collected
      FROM (SELECT l.site_id, d.mi, d.amount AS due, 1 AS dues, d.on_time::integer AS on_time, 0::bigint AS collected
              FROM lease_dues d JOIN leases l ON l.id = d.lease_id
            UNION ALL
            SELECT l.site_id, month_idx(p.paid_on), 0, 0, 0, p.amount
              FROM payments p JOIN leases l ON l.id = p.lease_id) e
     GROUP BY e.site_id, e.mi
)
SELECT coalesce(e.site_id, t.site_id) AS site_id, coalesce(e.mi, t.mi) AS mi
  FROM expected e
  FULL JOIN site_month_totals t ON t.site_id = e.site_id AND t.mi = e.mi
 WHERE e.site_id IS NULL OR t.site_id IS NULL
    OR (e.due, e.dues, e.on_time, e.collected) IS DISTINCT FROM (t.due, t.dues, t.on_time, t.collected);

-- The existing dues and payments.
SELECT site_month_totals_refresh_sites(ARRAY(SELECT id FROM sites));

-- The whole months of [p_from, p_to]: from the first month starting on or after p_from to the last ending on
-- or before p_to (none when the period holds no whole month; then p_first > p_last).
CREATE FUNCTION whole_months_first(p_from date) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT month_idx(p_from) + (date_part('day', p_from) > 1)::integer
$$;

CREATE FUNCTION whole_months_last(p_to date) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT month_idx(p_to) - (p_to <> due_in_month(month_idx(p_to) + 1, 1) - 1)::integer
$$;

-- site_kpis (005): the due and collected parts take the period's whole months from site_month_totals, and
-- the days before and after them from lease_dues (dues_status) and payments, as before. The rest (arrears
-- at p_to, units, occupancy) is unchanged, and so is every answer: a site's dues and payments are its
-- leases', which carry its owner (001), so the owner filter on sites keeps the same rows.
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
    ), occupied AS MATERIALIZED (
        SELECT DISTINCT l.unit_id FROM leases l
         WHERE l.start_date <= p_to AND (l.end_date IS NULL OR l.end_date >= p_to)
    ), stock AS MATERIALIZED (
        SELECT u.site_id, count(*)::integer AS units, count(oc.unit_id)::integer AS occupied
          FROM units u LEFT JOIN occupied oc ON oc.unit_id = u.id
         GROUP BY u.site_id
    )
    SELECT s.site_ref, o.owner_ref, s.name, s.commune, s.quartier,
           coalesce(d.due, 0), coalesce(p.collected, 0),
           coalesce(p.collected, 0)::double precision / nullif(d.due, 0),
           coalesce(d.dues, 0), coalesce(d.on_time, 0),
           d.on_time::double precision / nullif(d.dues, 0),
           coalesce(b.arrears, 0), coalesce(b.late, 0), coalesce(st.units, 0), coalesce(st.occupied, 0)
      FROM sites s
      JOIN owners o ON o.id = s.owner_id
      LEFT JOIN due d ON d.site_id = s.id
      LEFT JOIN paid p ON p.site_id = s.id
      LEFT JOIN bal b ON b.site_id = s.id
      LEFT JOIN stock st ON st.site_id = s.id
     WHERE p_owner_ref IS NULL OR o.owner_ref = p_owner_ref
     ORDER BY s.site_ref
$$;

-- monthly_trend (025): every month but the last (month to date) from site_month_totals, the last from
-- lease_dues and payments as before.
CREATE OR REPLACE FUNCTION monthly_trend(p_as_of date, p_months integer DEFAULT 12, p_owner_ref text DEFAULT NULL,
                                         p_site_ref text DEFAULT NULL)
RETURNS TABLE (owner_ref text, site_ref text, month date, due bigint, collected bigint,
               collection_rate double precision, dues integer, on_time_dues integer,
               punctuality_rate double precision)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    WITH months AS (
        SELECT due_in_month(m, 1) AS month_start,
               least(due_in_month(m + 1, 1) - 1, p_as_of) AS month_end
          FROM generate_series(month_idx(p_as_of) - p_months + 1, month_idx(p_as_of)) AS m
    ), cells AS MATERIALIZED (
        SELECT t.mi, t.due, t.dues, t.on_time, t.collected
          FROM site_month_totals t
         WHERE t.mi BETWEEN month_idx(p_as_of) - p_months + 1 AND month_idx(p_as_of) - 1
           AND (p_site_ref IS NULL OR t.site_id = (SELECT s.id FROM sites s WHERE s.site_ref = p_site_ref))
           AND (p_owner_ref IS NULL OR t.site_id IN (SELECT s.id FROM sites s JOIN owners o ON o.id = s.owner_id
                                                     WHERE o.owner_ref = p_owner_ref))
    ), due AS MATERIALIZED (
        SELECT x.month_start, sum(x.due)::bigint AS due, sum(x.dues)::integer AS dues,
               sum(x.on_time)::integer AS on_time
          FROM (SELECT due_in_month(c.mi, 1) AS month_start, c.due, c.dues, c.on_time FROM cells c
                UNION ALL
                SELECT due_in_month(month_idx(d.due_date), 1), d.amount, 1, d.on_time::integer
                  FROM dues_status(greatest(due_in_month(month_idx(p_as_of), 1),
                                            due_in_month(month_idx(p_as_of) - p_months + 1, 1)),
                                   p_as_of, p_owner_ref) d
                 WHERE p_months >= 1
                   AND (p_site_ref IS NULL OR d.site_id = (SELECT s.id FROM sites s WHERE s.site_ref = p_site_ref))) x
         GROUP BY 1
    ), paid AS MATERIALIZED (
        SELECT x.month_start, sum(x.collected)::bigint AS collected
          FROM (SELECT due_in_month(c.mi, 1) AS month_start, c.collected FROM cells c
                UNION ALL
                SELECT due_in_month(month_idx(p.paid_on), 1), p.amount
                  FROM payments p
                  JOIN scoped_site_leases(p_owner_ref, p_site_ref) sl ON sl.lease_id = p.lease_id
                 WHERE p_months >= 1
                   AND p.paid_on BETWEEN due_in_month(month_idx(p_as_of), 1) AND p_as_of
                   AND p.paid_at >= (due_in_month(month_idx(p_as_of), 1) - 1)::timestamp AT TIME ZONE 'UTC'
                   AND p.paid_at < (p_as_of + 2)::timestamp AT TIME ZONE 'UTC') x
         GROUP BY 1
    )
    SELECT p_owner_ref, p_site_ref, m.month_start, coalesce(d.due, 0), coalesce(p.collected, 0),
           coalesce(p.collected, 0)::double precision / nullif(d.due, 0),
           coalesce(d.dues, 0), coalesce(d.on_time, 0), d.on_time::double precision / nullif(d.dues, 0)
      FROM months m
      LEFT JOIN due d ON d.month_start = m.month_start
      LEFT JOIN paid p ON p.month_start = m.month_start
     ORDER BY m.month_start
$$;

GRANT EXECUTE ON FUNCTION site_kpis(date, date, text), monthly_trend(date, integer, text, text)
TO akig_read_all, akig_read_owner;
