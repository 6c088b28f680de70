-- 017: privilege hygiene. Each part closes a way for the application's roles to do more than they should;
-- tests/akig_data/access/test_privileges.py performs each attack as the role concerned.

-- 1. SECURITY DEFINER functions name pg_temp last in their search_path. Left out of the setting,
-- pg_temp is searched FIRST for tables: a caller could create a temporary table named like one the
-- function uses (agent_positions, with a trigger of his own on it), and the function, running with
-- the tables' owner's rights, would write to it and fire his trigger with those rights.
-- 015 and 016 gave these four `search_path = public` only; every other one already ends with pg_temp.
ALTER FUNCTION ensure_month_partitions(text, text, date, date) SET search_path = public, pg_temp;
ALTER FUNCTION ensure_position_partitions(date, date) SET search_path = public, pg_temp;
ALTER FUNCTION ensure_payment_partitions(date, date) SET search_path = public, pg_temp;
ALTER FUNCTION prune_positions(timestamptz) SET search_path = public, pg_temp;

-- On PostgreSQL 14 and older, everyone may create objects in public (15 stopped that): a function
-- or table planted there would be found by every search_path above.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- 2. Nobody executes a SECURITY DEFINER function unless named below. PostgreSQL grants EXECUTE on
-- every new function to PUBLIC: a read role could call lease_dues_rebuild or extend_dues_horizon and
-- write the derived tables with the owner's rights. Trigger functions need no grant (a trigger fires
-- whatever the writer's privileges; they cannot be called directly anyway).
REVOKE EXECUTE ON FUNCTION
    akig_scope_owner_id(),
    leases_set_site(), units_move_leases(), sites_move_leases(),
    payments_totals_on_insert(), payments_totals_on_delete(), payments_totals_on_update(),
    payments_totals_on_truncate(),
    lease_dues_refresh(bigint[], date), lease_dues_rebuild(bigint[]), extend_dues_horizon(date),
    audit_log_chain(),
    ensure_month_partitions(text, text, date, date), ensure_position_partitions(date, date),
    ensure_payment_partitions(date, date), prune_positions(timestamptz),
    payments_keys_on_insert(), payments_keys_on_delete(), payments_keys_on_update(),
    payments_keys_on_truncate()
FROM PUBLIC;
-- akig_read_owner's policies call it (008).
GRANT EXECUTE ON FUNCTION akig_scope_owner_id() TO akig_read_owner;
-- payments' dues triggers (004) run as the writer, akig_write, and call it.
GRANT EXECUTE ON FUNCTION lease_dues_refresh(bigint[], date) TO akig_write;
-- the data layer extends the horizon as the login role before a read looks past it (akig_data/upkeep/dues_horizon.py).
GRANT EXECUTE ON FUNCTION extend_dues_horizon(date) TO akig_app;
-- (ensure_position_partitions, ensure_payment_partitions and prune_positions keep their grant to
-- akig_write from 015/016: the server's daily tasks.)

-- 3. The read roles read what they are granted, table by table. 008 gave them SELECT on every future
-- table by default: a table without row-level security was then readable by akig_read_owner, every
-- owner's rows included. From here on a migration grants its reads explicitly.
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM akig_read_all, akig_read_owner;

-- Bookkeeping no read uses (the health check and the scheduler read them as akig_app and akig_write).
REVOKE ALL ON schema_migrations, scheduled_runs, dues_horizon FROM akig_read_all, akig_read_owner;
-- Self-checks for tests and operators. A view reads with its owner's rights, past row-level security:
-- as akig_read_owner they listed every owner's leases and amounts.
REVOKE ALL ON lease_dues_drift, lease_payment_totals_drift FROM akig_read_all, akig_read_owner;
-- Agents' positions are the agents' personal data, for the live map (akig_read_all) only.
REVOKE ALL ON agent_positions FROM akig_read_owner;
-- Alerts' history is for those who act on alerts (akig_read_all), not for owners.
REVOKE ALL ON alert_events FROM akig_read_owner;
-- A partition read directly would skip its parent's grants and row security; 016's maintainer revokes
-- them on the partitions it creates, but the positions' partitions made by 015 kept 008's defaults.
DO $$
DECLARE part regclass;
BEGIN
    FOR part IN SELECT i.inhrelid::regclass FROM pg_inherits i
                 WHERE i.inhparent IN ('agent_positions'::regclass, 'payments'::regclass) LOOP
        EXECUTE format('REVOKE ALL ON %s FROM akig_read_all, akig_read_owner, akig_write', part);
    END LOOP;
END $$;

-- 4. Owners read the alerts about their own sites, leases and tenants (the daily report's new alerts).
-- The data layer filters by owner_ref; PostgreSQL now does too, like every other owner's table (008).
ALTER TABLE alerts ENABLE ROW LEVEL SECURITY;
CREATE POLICY alerts_all ON alerts TO akig_read_all USING (true);
CREATE POLICY alerts_owner ON alerts TO akig_read_owner
    USING (owner_ref = current_setting('akig.owner_ref', true));
CREATE POLICY alerts_write ON alerts TO akig_write USING (true) WITH CHECK (true);
GRANT SELECT ON alerts TO akig_read_all, akig_read_owner;
