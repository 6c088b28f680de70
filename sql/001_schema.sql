-- 001: the core tables. Money is integer GNF (bigint); times are timestamptz; dates are local
-- (Africa/Conakry, UTC+0). External references (*_ref) are what users, imports and reads see;
-- integer ids are internal.

CREATE TABLE owners (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_ref   text NOT NULL UNIQUE CHECK (owner_ref <> ''),
    name        text NOT NULL CHECK (name <> ''),
    phone       text,
    email       text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sites (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_ref    text NOT NULL UNIQUE CHECK (site_ref <> ''),
    owner_id    bigint NOT NULL REFERENCES owners (id),
    name        text NOT NULL CHECK (name <> ''),
    commune     text NOT NULL,
    quartier    text NOT NULL,
    lat         double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon         double precision NOT NULL CHECK (lon BETWEEN -180 AND 180)
);
CREATE INDEX sites_owner_id ON sites (owner_id);

CREATE TABLE units (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_ref     text NOT NULL UNIQUE CHECK (unit_ref <> ''),
    site_id      bigint NOT NULL REFERENCES sites (id),
    label        text NOT NULL,
    monthly_rent bigint NOT NULL CHECK (monthly_rent > 0)
);
CREATE INDEX units_site_id ON units (site_id);

CREATE TABLE tenants (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_ref  text NOT NULL UNIQUE CHECK (tenant_ref <> ''),
    full_name   text NOT NULL CHECK (full_name <> ''),
    phone       text,
    email       text
);

CREATE TABLE agents (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_ref   text NOT NULL UNIQUE CHECK (agent_ref <> ''),
    full_name   text NOT NULL CHECK (full_name <> ''),
    phone       text,
    zone        text,
    active      boolean NOT NULL DEFAULT true
);

CREATE TABLE leases (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lease_ref    text NOT NULL UNIQUE CHECK (lease_ref <> ''),
    unit_id      bigint NOT NULL REFERENCES units (id),
    tenant_id    bigint NOT NULL REFERENCES tenants (id),
    start_date   date NOT NULL,
    end_date     date CHECK (end_date IS NULL OR end_date >= start_date),
    monthly_rent bigint NOT NULL CHECK (monthly_rent > 0),
    due_day      smallint NOT NULL CHECK (due_day BETWEEN 1 AND 31),
    -- The unit's site and that site's owner, copied here by triggers: every money read groups leases
    -- by site and filters them by owner, and row-level security filters them by owner.
    site_id      bigint NOT NULL REFERENCES sites (id),
    owner_id     bigint NOT NULL REFERENCES owners (id)
);
CREATE INDEX leases_unit_id ON leases (unit_id);
CREATE INDEX leases_tenant_id ON leases (tenant_id);
CREATE INDEX leases_site_id ON leases (site_id);
CREATE INDEX leases_owner_id ON leases (owner_id);

CREATE FUNCTION leases_set_site() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT u.site_id, s.owner_id INTO NEW.site_id, NEW.owner_id
      FROM units u JOIN sites s ON s.id = u.site_id
     WHERE u.id = NEW.unit_id;
    RETURN NEW;
END $$;
CREATE TRIGGER leases_set_site BEFORE INSERT OR UPDATE OF unit_id ON leases
    FOR EACH ROW EXECUTE FUNCTION leases_set_site();

CREATE FUNCTION units_move_leases() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE leases l SET site_id = n.site_id, owner_id = s.owner_id
      FROM new_rows n JOIN sites s ON s.id = n.site_id
     WHERE l.unit_id = n.id AND (l.site_id, l.owner_id) IS DISTINCT FROM (n.site_id, s.owner_id);
    RETURN NULL;
END $$;

CREATE FUNCTION sites_move_leases() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE leases l SET owner_id = n.owner_id
      FROM new_rows n
     WHERE l.site_id = n.id AND l.owner_id IS DISTINCT FROM n.owner_id;
    RETURN NULL;
END $$;

CREATE TRIGGER units_move_leases AFTER UPDATE ON units
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION units_move_leases();
CREATE TRIGGER sites_move_leases AFTER UPDATE ON sites
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sites_move_leases();

CREATE TABLE payments (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_ref  text NOT NULL UNIQUE CHECK (payment_ref <> ''),
    lease_id     bigint NOT NULL REFERENCES leases (id),
    paid_at      timestamptz NOT NULL,
    -- The money rules date a payment in Africa/Conakry; computed once, indexed.
    paid_on      date GENERATED ALWAYS AS ((timezone('Africa/Conakry', paid_at))::date) STORED,
    amount       bigint NOT NULL CHECK (amount > 0),
    method       text NOT NULL CHECK (method IN ('cash', 'orange_money', 'mtn_momo', 'bank')),
    agent_id     bigint REFERENCES agents (id),
    receipt_no   text UNIQUE,
    recorded_by  text,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_lease_paid_on ON payments (lease_id, paid_on) INCLUDE (amount);
CREATE INDEX payments_paid_on ON payments (paid_on) INCLUDE (lease_id, amount);

CREATE TABLE promises (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    promise_ref  text NOT NULL UNIQUE CHECK (promise_ref <> ''),
    lease_id     bigint NOT NULL REFERENCES leases (id),
    agent_id     bigint REFERENCES agents (id),
    created_at   timestamptz NOT NULL,
    created_on   date GENERATED ALWAYS AS ((timezone('Africa/Conakry', created_at))::date) STORED,
    due_date     date NOT NULL,
    amount       bigint NOT NULL CHECK (amount > 0)
);
CREATE INDEX promises_lease_id ON promises (lease_id);
CREATE INDEX promises_due_date ON promises (due_date);

-- Collection actions (calls, visits) and agents' GPS fixes: the demo data fills them with history;
-- the collection issue adds the writes that record new ones.
CREATE TABLE calls (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_ref    text NOT NULL UNIQUE,
    lease_id    bigint NOT NULL REFERENCES leases (id),
    agent_id    bigint NOT NULL REFERENCES agents (id),
    called_at   timestamptz NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('no_answer', 'wrong_number', 'reached', 'refused', 'promise', 'paid')),
    note        text
);
CREATE INDEX calls_lease_id ON calls (lease_id, called_at);
CREATE INDEX calls_agent_time ON calls (agent_id, called_at);

CREATE TABLE visits (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    visit_ref   text NOT NULL UNIQUE,
    lease_id    bigint NOT NULL REFERENCES leases (id),
    agent_id    bigint NOT NULL REFERENCES agents (id),
    visited_at  timestamptz NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('absent', 'reached', 'refused', 'promise', 'paid')),
    lat         double precision CHECK (lat BETWEEN -90 AND 90),
    lon         double precision CHECK (lon BETWEEN -180 AND 180),
    accuracy_m  double precision CHECK (accuracy_m >= 0),
    distance_m  double precision,
    note        text
);
CREATE INDEX visits_lease_id ON visits (lease_id, visited_at);
CREATE INDEX visits_agent_time ON visits (agent_id, visited_at);

CREATE TABLE agent_positions (
    agent_id    bigint NOT NULL REFERENCES agents (id),
    t           timestamptz NOT NULL,
    lat         double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon         double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    accuracy_m  double precision CHECK (accuracy_m >= 0),
    battery     smallint CHECK (battery BETWEEN 0 AND 100),
    PRIMARY KEY (agent_id, t)
);
