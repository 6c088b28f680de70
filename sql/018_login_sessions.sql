-- 018: login sessions and login locks kept in PostgreSQL.
--
-- A logout and a lockout must survive a Redis restart (Redis keeps nothing on disk) and be known to
-- every server process at once, also while Redis is down. Each login opens a row in login_sessions;
-- the signed cookie carries its nonce, and every request checks the row (revoked, expired, account
-- changed). login_locks holds the usernames and addresses locked after too many failed logins; the
-- failure counters themselves stay in Redis (losing one costs a few more tries, never a lock).

CREATE TABLE login_sessions (
    nonce       text PRIMARY KEY CHECK (length(nonce) BETWEEN 16 AND 64),
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    opened_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    address     text,
    revoked_at  timestamptz,
    CHECK (expires_at > opened_at)
);
CREATE INDEX login_sessions_user ON login_sessions (user_id);
CREATE INDEX login_sessions_expiry ON login_sessions (expires_at);

CREATE TABLE login_locks (
    subject      text PRIMARY KEY,          -- 'user:NAME' or 'addr:ADDRESS'
    locked_until timestamptz NOT NULL
);

-- The application role opens, checks and revokes sessions and sets locks; nobody else needs them.
GRANT SELECT, INSERT, UPDATE, DELETE ON login_sessions, login_locks TO akig_app;
