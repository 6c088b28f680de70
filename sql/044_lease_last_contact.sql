-- 044: each lease's last call and last visit, kept by triggers, for late_sites (the live map's late sites,
-- and the map's layer of them for every owner). Its "last contact" of a site was, for each site with
-- arrears, the latest call and the latest visit about any of its late leases before D + 1, found by
-- reading every call and visit of those leases (about 1,000 calls and 400 visits per site at `large`
-- scale, 2,000 sites): two thirds of the read's 0.8 s.
--
-- lease_last_contact holds one row per lease that was ever called or visited: the time of its latest call
-- and of its latest visit. When that time is before D + 1 (always, for today's map: nothing is recorded in
-- the future), it is the lease's last contact at D; when it is not (a map of a past day, and the lease was
-- called since), the lease's last contact before D + 1 is probed as before, through the same indexes
-- (calls_lease_id, visits_lease_id). So every answer is unchanged.
--
-- Exact at every commit: statement-level triggers with transition tables on calls and visits (inserted,
-- updated, deleted) recompute the rows of the leases a statement touched, from calls and visits (never
-- adjusted, so the order in which triggers fire does not matter); a truncation recomputes every row. A
-- lease deleted takes its row with it (the foreign key). The functions are SECURITY DEFINER, as 026's and
-- 033's are for the other derived tables, so a write keeps the rows exact whatever its writer can see.
-- lease_last_contact_drift lists the leases whose row disagrees with calls and visits.

CREATE TABLE lease_last_contact (
    lease_id       bigint PRIMARY KEY REFERENCES leases (id) ON DELETE CASCADE,
    last_call_at   timestamptz,
    last_visit_at  timestamptz,
    CHECK (last_call_at IS NOT NULL OR last_visit_at IS NOT NULL)
);

ALTER TABLE lease_last_contact ENABLE ROW LEVEL SECURITY;
CREATE POLICY lease_last_contact_all ON lease_last_contact TO akig_read_all USING (true);
CREATE POLICY lease_last_contact_owner ON lease_last_contact TO akig_read_owner USING (lease_id IN (SELECT id FROM leases));
GRANT SELECT ON lease_last_contact TO akig_read_all, akig_read_owner;

-- What lease_last_contact should hold, from calls and visits.
CREATE VIEW lease_last_contact_expected AS
SELECT coalesce(c.lease_id, v.lease_id) AS lease_id, c.at AS last_call_at, v.at AS last_visit_at
  FROM (SELECT lease_id, max(called_at) AS at FROM calls GROUP BY lease_id) c
  FULL JOIN (SELECT lease_id, max(visited_at) AS at FROM visits GROUP BY lease_id) v ON v.lease_id = c.lease_id;
REVOKE ALL ON lease_last_contact_expected FROM akig_read_all, akig_read_owner;

-- The given leases' rows, recomputed: each lease's latest call and visit, read backwards from the end of
-- its index (a probe per lease, also for a bulk load's hundred thousand leases).
CREATE FUNCTION lease_last_contact_refresh(p_ids bigint[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH fresh AS MATERIALIZED (
        SELECT x.lease_id,
               (SELECT max(c.called_at) FROM calls c WHERE c.lease_id = x.lease_id) AS last_call_at,
               (SELECT max(v.visited_at) FROM visits v WHERE v.lease_id = x.lease_id) AS last_visit_at
          FROM (SELECT DISTINCT y AS lease_id FROM unnest(p_ids) AS y WHERE y IS NOT NULL) x
    ), gone AS (
        DELETE FROM lease_last_contact l
         USING fresh f
         WHERE l.lease_id = f.lease_id AND f.last_call_at IS NULL AND f.last_visit_at IS NULL
    )
    INSERT INTO lease_last_contact AS l (lease_id, last_call_at, last_visit_at)
    SELECT f.lease_id, f.last_call_at, f.last_visit_at
      FROM fresh f
     WHERE f.last_call_at IS NOT NULL OR f.last_visit_at IS NOT NULL
    ON CONFLICT (lease_id) DO UPDATE
       SET last_call_at = EXCLUDED.last_call_at, last_visit_at = EXCLUDED.last_visit_at
     WHERE (l.last_call_at, l.last_visit_at) IS DISTINCT FROM (EXCLUDED.last_call_at, EXCLUDED.last_visit_at)
$$;

CREATE FUNCTION contacts_last_contact() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_ids bigint[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        v_ids := ARRAY(SELECT lease_id FROM lease_last_contact);
    ELSIF TG_OP = 'INSERT' THEN
        v_ids := ARRAY(SELECT DISTINCT lease_id FROM new_rows);
    ELSIF TG_OP = 'DELETE' THEN
        v_ids := ARRAY(SELECT DISTINCT lease_id FROM old_rows);
    ELSE
        v_ids := ARRAY(SELECT lease_id FROM new_rows UNION SELECT lease_id FROM old_rows);
    END IF;
    IF cardinality(v_ids) > 0 THEN
        PERFORM lease_last_contact_refresh(v_ids);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER calls_last_contact_insert AFTER INSERT ON calls
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contacts_last_contact();
CREATE TRIGGER calls_last_contact_update AFTER UPDATE ON calls
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contacts_last_contact();
CREATE TRIGGER calls_last_contact_delete AFTER DELETE ON calls
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION contacts_last_contact();
CREATE TRIGGER calls_last_contact_truncate AFTER TRUNCATE ON calls
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_last_contact();
CREATE TRIGGER visits_last_contact_insert AFTER INSERT ON visits
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contacts_last_contact();
CREATE TRIGGER visits_last_contact_update AFTER UPDATE ON visits
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contacts_last_contact();
CREATE TRIGGER visits_last_contact_delete AFTER DELETE ON visits
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION contacts_last_contact();
CREATE TRIGGER visits_last_contact_truncate AFTER TRUNCATE ON visits
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_last_contact();

REVOKE EXECUTE ON FUNCTION lease_last_contact_refresh(bigint[]), contacts_last_contact() FROM PUBLIC;

-- A self-check for the tests: leases whose row disagrees with calls and visits.
CREATE VIEW lease_last_contact_drift AS
SELECT coalesce(e.lease_id, l.lease_id) AS lease_id
  FROM lease_last_contact_expected e
  FULL JOIN lease_last_contact l ON l.lease_id = e.lease_id
 WHERE e.lease_id IS NULL OR l.lease_id IS NULL
    OR (e.last_call_at, e.last_visit_at) IS DISTINCT FROM (l.last_call_at, l.last_visit_at);
REVOKE ALL ON lease_last_contact_drift FROM akig_read_all, akig_read_owner;

-- The existing calls and visits.
INSERT INTO lease_last_contact (lease_id, last_call_at, last_visit_at)
SELECT e.lease_id, e.last_call_at, e.last_visit_at FROM lease_last_contact_expected e;

-- map_late_sites (013): a late lease's last contact from lease_last_contact when it is before D + 1, probed
-- as before otherwise. Same signature, columns and order of rows.
CREATE OR REPLACE FUNCTION map_late_sites(p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (site_ref text, site_name text, owner_ref text, commune text, quartier text, lat double precision,
               lon double precision, tenants_late integer, arrears bigint, days_late integer,
               last_contact_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH late AS MATERIALIZED (
        SELECT b.site_id, count(DISTINCT b.tenant_id)::integer AS tenants, sum(b.arrears)::bigint AS arrears,
               max(b.days_late)::integer AS days_late,
               max(greatest(
                   CASE WHEN lc.last_call_at < p_as_of + 1 THEN lc.last_call_at
                        WHEN lc.last_call_at IS NOT NULL
                        THEN (SELECT max(c.called_at) FROM calls c
                               WHERE c.lease_id = b.lease_id AND c.called_at < p_as_of + 1) END,
                   CASE WHEN lc.last_visit_at < p_as_of + 1 THEN lc.last_visit_at
                        WHEN lc.last_visit_at IS NOT NULL
                        THEN (SELECT max(v.visited_at) FROM visits v
                               WHERE v.lease_id = b.lease_id AND v.visited_at < p_as_of + 1) END)) AS at
          FROM lease_balances(p_as_of, p_owner_ref) b
          LEFT JOIN lease_last_contact lc ON lc.lease_id = b.lease_id
         WHERE b.arrears > 0
         GROUP BY b.site_id
    )
    SELECT s.site_ref, s.name, o.owner_ref, s.commune, s.quartier, s.lat, s.lon, late.tenants, late.arrears,
           late.days_late, late.at
      FROM late
      JOIN sites s ON s.id = late.site_id
      JOIN owners o ON o.id = s.owner_id
     ORDER BY late.arrears DESC, s.site_ref
$$;
