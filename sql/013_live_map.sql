-- 013: the live map: agents' GPS fixes written by the server, late sites for the map, and the
-- bookkeeping of scheduled tasks (pruning old fixes) shared by every server process.

-- When the server stored a fix (not when the phone took it): the map's poller reads what arrived since
-- its last tick. BRIN indexes: both columns grow with insertion order, so tiny indexes suffice and
-- ingestion stays fast (a b-tree per column would cost every insert).
ALTER TABLE agent_positions ADD COLUMN received_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX agent_positions_received_brin ON agent_positions USING brin (received_at);
CREATE INDEX agent_positions_t_brin ON agent_positions USING brin (t);

GRANT INSERT, DELETE ON agent_positions TO akig_write;
GRANT SELECT ON agent_positions TO akig_read_all;

-- One row per scheduled task: a process runs the task only if it wins the UPDATE that moves last_run
-- forward, so with several processes (or hosts) each run happens once.
CREATE TABLE scheduled_runs (
    task        text PRIMARY KEY,
    last_run    timestamptz NOT NULL DEFAULT '-infinity',
    last_result text
);
GRANT SELECT, INSERT, UPDATE ON scheduled_runs TO akig_write;

-- Late sites for the map: per site with arrears, how many tenants are late, the arrears, the oldest
-- unpaid due in days, and the last call or visit about any of its leases.
CREATE FUNCTION map_late_sites(p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (site_ref text, site_name text, owner_ref text, commune text, quartier text, lat double precision,
               lon double precision, tenants_late integer, arrears bigint, days_late integer,
               last_contact_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH late AS MATERIALIZED (
        SELECT b.site_id, count(DISTINCT b.tenant_id)::integer AS tenants, sum(b.arrears)::bigint AS arrears,
               max(b.days_late)::integer AS days_late, array_agg(b.lease_id) AS lease_ids
          FROM lease_balances(p_as_of, p_owner_ref) b
         WHERE b.arrears > 0
         GROUP BY b.site_id
    ), contact AS (
        SELECT late.site_id,
               greatest((SELECT max(c.called_at) FROM calls c
                          WHERE c.lease_id = ANY (late.lease_ids) AND c.called_at < p_as_of + 1),
                        (SELECT max(v.visited_at) FROM visits v
                          WHERE v.lease_id = ANY (late.lease_ids) AND v.visited_at < p_as_of + 1)) AS at
          FROM late
    )
    SELECT s.site_ref, s.name, o.owner_ref, s.commune, s.quartier, s.lat, s.lon, late.tenants, late.arrears,
           late.days_late, contact.at
      FROM late
      JOIN sites s ON s.id = late.site_id
      JOIN owners o ON o.id = s.owner_id
      JOIN contact ON contact.site_id = late.site_id
     ORDER BY late.arrears DESC, s.site_ref
$$;
