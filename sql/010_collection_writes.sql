-- 010: recording the collection work (calls, visits, promises, payments) from the apps and the API.
--
-- Every write carries who recorded it and when, and an optional client-generated id: a phone that
-- retries a request with the same id gets the first answer back instead of a second row.

ALTER TABLE calls ADD COLUMN client_id text UNIQUE,
                  ADD COLUMN recorded_by text,
                  ADD COLUMN recorded_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE visits ADD COLUMN client_id text UNIQUE,
                   ADD COLUMN proof boolean,           -- within 200 m of the site: the agent was there
                   ADD COLUMN flags text[] NOT NULL DEFAULT '{}',  -- far_from_site, impossible_speed, ...
                   ADD COLUMN recorded_by text,
                   ADD COLUMN recorded_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE promises ADD COLUMN client_id text UNIQUE,
                     ADD COLUMN recorded_by text;
ALTER TABLE payments ADD COLUMN client_id text UNIQUE;

-- Receipt numbers: REC-YYYYMMDD-000123, from one sequence (gaps are possible, duplicates are not).
CREATE SEQUENCE receipt_seq;

-- The writing role: the application becomes it for the transaction of a write. It inserts collection
-- actions and payments, reads what validation needs, and appends to the audit trail; it never updates
-- or deletes money rows. Row-level security lets it see every owner (writers are admins, managers and
-- agents; the data layer checks which leases an agent may touch).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'akig_write') THEN
        CREATE ROLE akig_write NOLOGIN NOBYPASSRLS;
    END IF;
END $$;
GRANT akig_write TO akig_app;
GRANT USAGE ON SCHEMA public TO akig_write;
GRANT SELECT ON owners, sites, units, tenants, agents, leases, payments, promises, calls, visits,
                agent_positions, lease_dues, lease_payment_totals, dues_horizon TO akig_write;
GRANT INSERT ON calls, visits, promises, payments TO akig_write;
GRANT INSERT ON audit_log TO akig_write;
GRANT USAGE ON SEQUENCE receipt_seq TO akig_write;

CREATE POLICY owners_write ON owners TO akig_write USING (true);
CREATE POLICY sites_write ON sites TO akig_write USING (true);
CREATE POLICY units_write ON units TO akig_write USING (true);
CREATE POLICY tenants_write ON tenants TO akig_write USING (true);
CREATE POLICY leases_write ON leases TO akig_write USING (true);
CREATE POLICY payments_write ON payments TO akig_write USING (true) WITH CHECK (true);
CREATE POLICY promises_write ON promises TO akig_write USING (true) WITH CHECK (true);
CREATE POLICY calls_write ON calls TO akig_write USING (true) WITH CHECK (true);
CREATE POLICY visits_write ON visits TO akig_write USING (true) WITH CHECK (true);
CREATE POLICY lease_dues_write ON lease_dues TO akig_write USING (true);
CREATE POLICY lease_payment_totals_write ON lease_payment_totals TO akig_write USING (true);
