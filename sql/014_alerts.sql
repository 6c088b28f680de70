-- 014: business alerts. Each row is one alert of one rule about one object (site, agent, tenant, lease,
-- owner), open from first_seen until the rule stops firing (resolved_at), acknowledged or not.
-- alert_events keeps what happened to each alert (opened, acknowledged with a comment, resolved).

CREATE TABLE alerts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule         text NOT NULL,
    severity     text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    object_kind  text NOT NULL CHECK (object_kind IN ('site', 'agent', 'tenant', 'lease', 'owner', 'visit')),
    object_ref   text NOT NULL,
    owner_ref    text,                       -- the owner the object belongs to (NULL: agents)
    title        text NOT NULL,
    detail       text NOT NULL,
    value        double precision,
    first_seen   timestamptz NOT NULL,
    last_seen    timestamptz NOT NULL,
    resolved_at  timestamptz,
    ack_by       text,
    ack_at       timestamptz,
    ack_comment  text
);
-- One open alert per rule and object: evaluating again updates it instead of adding another.
CREATE UNIQUE INDEX alerts_open_unique ON alerts (rule, object_ref) WHERE resolved_at IS NULL;
CREATE INDEX alerts_open ON alerts (severity, rule) WHERE resolved_at IS NULL;

CREATE TABLE alert_events (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id  bigint NOT NULL REFERENCES alerts (id),
    at        timestamptz NOT NULL DEFAULT now(),
    kind      text NOT NULL CHECK (kind IN ('opened', 'acknowledged', 'resolved')),
    actor     text,
    comment   text
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, at);

GRANT SELECT ON alerts, alert_events TO akig_read_all;
GRANT SELECT, INSERT, UPDATE ON alerts TO akig_write;
GRANT SELECT, INSERT ON alert_events TO akig_write;
GRANT SELECT ON missions, visits, agent_positions TO akig_write;
