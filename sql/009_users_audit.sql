-- 009: who may log in (users) and what they did (audit_log, append-only and hash-chained).

CREATE TABLE users (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username         text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{2,39}$'),
    password_hash    text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    role             text NOT NULL CHECK (role IN ('admin', 'manager', 'owner', 'agent', 'analyst', 'ops')),
    owner_id         bigint REFERENCES owners (id),
    agent_id         bigint REFERENCES agents (id),
    totp_secret      text,            -- base32; set by enrolment, required at login once confirmed
    totp_confirmed   boolean NOT NULL DEFAULT false,
    token_hash       text UNIQUE,     -- sha256 of the API token; the token itself is shown once
    token_created_at timestamptz,
    active           boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    -- an owner user stands for one owner, an agent user for one agent, nobody else stands for either
    CHECK ((role = 'owner') = (owner_id IS NOT NULL)),
    CHECK ((role = 'agent') = (agent_id IS NOT NULL)),
    CHECK (NOT totp_confirmed OR totp_secret IS NOT NULL)
);

CREATE TABLE audit_log (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor     text NOT NULL,          -- a username, or "cli:<system user>" for the command line
    role      text,
    address   text,                   -- the client's IP address (or "cli")
    action    text NOT NULL,          -- login, login_failed, logout, export, user_add, write ...
    target    text,                   -- what it was about (a ref, a file name, a username)
    details   jsonb NOT NULL DEFAULT '{}'::jsonb,
    prev_hash text NOT NULL,
    hash      text NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, at);

-- The text a row's hash covers. akig_data/writes/audit.py builds the same text to verify the chain, so both
-- sides must change together (hence a new migration if it ever does).
CREATE FUNCTION audit_payload(r audit_log) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT concat_ws(E'\x1f', r.prev_hash, r.id::text,
                     to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                     r.actor, coalesce(r.role, ''), coalesce(r.address, ''), r.action,
                     coalesce(r.target, ''), r.details::text)
$$;

-- Each row is chained to the previous one. Inserts are serialised by an advisory lock so that two
-- concurrent writers cannot both chain to the same predecessor.
CREATE FUNCTION audit_log_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1096107092);  -- 0x41554454, "AUDT"
    NEW.at := clock_timestamp();
    NEW.prev_hash := coalesce((SELECT a.hash FROM audit_log a ORDER BY a.id DESC LIMIT 1), repeat('0', 64));
    NEW.hash := encode(sha256(convert_to(audit_payload(NEW), 'UTF8')), 'hex');
    RETURN NEW;
END $$;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_chain();

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Neither reading role sees users or the audit trail (migration 008 granted SELECT on every table).
REVOKE ALL ON users, audit_log FROM akig_read_all, akig_read_owner;
-- The application's login role: manages users, appends to the audit trail, never edits it.
GRANT SELECT, INSERT, UPDATE ON users TO akig_app;
GRANT SELECT, INSERT ON audit_log TO akig_app;
GRANT SELECT ON owners, agents TO akig_app;
-- (owners has row-level security: the login role may read the owner a user stands for)
CREATE POLICY owners_app ON owners TO akig_app USING (true);
GRANT SELECT ON schema_migrations, dues_horizon TO akig_app;  -- health check, dues horizon check
