-- 008: owner isolation in PostgreSQL itself (row-level security), on top of the data layer's checks.
--
-- Reads never run as the tables' owner. Each read transaction becomes one of two roles, neither of
-- which can bypass RLS:
--   akig_read_owner  sees one owner's rows: the owner named by `akig.owner_ref` (set with SET LOCAL in the
--                    same transaction); with no scope set it sees nothing;
--   akig_read_all    sees every owner (admins, managers, analysts); its policies are plain `true`, so
--                    the planner drops them and the all-owner reads pay nothing for RLS.
-- The application logs in as akig_app, which holds no privilege of its own (NOINHERIT) and may only
-- become one of these roles. Imports, seeds and migrations run as the tables' owner. Derived tables
-- (totals, stored dues) are maintained by SECURITY DEFINER functions, so a write made by the
-- application keeps them exact whatever it can see.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'akig_read_all') THEN
        CREATE ROLE akig_read_all NOLOGIN NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'akig_read_owner') THEN
        CREATE ROLE akig_read_owner NOLOGIN NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'akig_app') THEN
        CREATE ROLE akig_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
END $$;
GRANT akig_read_all, akig_read_owner TO akig_app;

GRANT USAGE ON SCHEMA public TO akig_read_all, akig_read_owner;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO akig_read_all, akig_read_owner;
-- Tables created by later migrations are readable too (their policies come with them).
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO akig_read_all, akig_read_owner;

-- The owner whose rows akig_read_owner sees: the owner_ref in akig.owner_ref, looked up with the owner's
-- rights. Policies call it inside a scalar subquery, so it runs once per query, not once per row.
CREATE FUNCTION akig_scope_owner_id() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT id FROM owners WHERE owner_ref = current_setting('akig.owner_ref', true)
$$;

ALTER TABLE owners ENABLE ROW LEVEL SECURITY;
CREATE POLICY owners_all ON owners TO akig_read_all USING (true);
CREATE POLICY owners_owner ON owners TO akig_read_owner USING (id = (SELECT akig_scope_owner_id()));

ALTER TABLE sites ENABLE ROW LEVEL SECURITY;
CREATE POLICY sites_all ON sites TO akig_read_all USING (true);
CREATE POLICY sites_owner ON sites TO akig_read_owner USING (owner_id = (SELECT akig_scope_owner_id()));

ALTER TABLE leases ENABLE ROW LEVEL SECURITY;
CREATE POLICY leases_all ON leases TO akig_read_all USING (true);
CREATE POLICY leases_owner ON leases TO akig_read_owner USING (owner_id = (SELECT akig_scope_owner_id()));

ALTER TABLE units ENABLE ROW LEVEL SECURITY;
CREATE POLICY units_all ON units TO akig_read_all USING (true);
CREATE POLICY units_owner ON units TO akig_read_owner USING (site_id IN (SELECT id FROM sites));

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenants_all ON tenants TO akig_read_all USING (true);
CREATE POLICY tenants_owner ON tenants TO akig_read_owner USING (id IN (SELECT tenant_id FROM leases));

-- Everything hanging off a lease follows the lease (the subquery on leases applies its own policy).
ALTER TABLE payments ENABLE ROW LEVEL SECURITY;
CREATE POLICY payments_all ON payments TO akig_read_all USING (true);
CREATE POLICY payments_owner ON payments TO akig_read_owner USING (lease_id IN (SELECT id FROM leases));
ALTER TABLE promises ENABLE ROW LEVEL SECURITY;
CREATE POLICY promises_all ON promises TO akig_read_all USING (true);
CREATE POLICY promises_owner ON promises TO akig_read_owner USING (lease_id IN (SELECT id FROM leases));
ALTER TABLE calls ENABLE ROW LEVEL SECURITY;
CREATE POLICY calls_all ON calls TO akig_read_all USING (true);
CREATE POLICY calls_owner ON calls TO akig_read_owner USING (lease_id IN (SELECT id FROM leases));
ALTER TABLE visits ENABLE ROW LEVEL SECURITY;
CREATE POLICY visits_all ON visits TO akig_read_all USING (true);
CREATE POLICY visits_owner ON visits TO akig_read_owner USING (lease_id IN (SELECT id FROM leases));
ALTER TABLE lease_dues ENABLE ROW LEVEL SECURITY;
CREATE POLICY lease_dues_all ON lease_dues TO akig_read_all USING (true);
CREATE POLICY lease_dues_owner ON lease_dues TO akig_read_owner USING (lease_id IN (SELECT id FROM leases));
ALTER TABLE lease_payment_totals ENABLE ROW LEVEL SECURITY;
CREATE POLICY lease_payment_totals_all ON lease_payment_totals TO akig_read_all USING (true);
CREATE POLICY lease_payment_totals_owner ON lease_payment_totals TO akig_read_owner
    USING (lease_id IN (SELECT id FROM leases));

-- Maintenance of derived tables runs with the owner's rights (see the header).
ALTER FUNCTION leases_set_site() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION units_move_leases() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION sites_move_leases() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION payments_totals_on_insert() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION payments_totals_on_delete() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION payments_totals_on_update() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION payments_totals_on_truncate() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION lease_dues_refresh(bigint[], date) SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION lease_dues_rebuild(bigint[]) SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION extend_dues_horizon(date) SECURITY DEFINER SET search_path = public, pg_temp;
