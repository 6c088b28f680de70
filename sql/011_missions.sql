-- 011: daily missions: one planned call or visit of one agent on one day, visits in route order.

CREATE TABLE missions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mission_ref   text NOT NULL UNIQUE,
    day           date NOT NULL,
    agent_id      bigint NOT NULL REFERENCES agents (id),
    lease_id      bigint NOT NULL REFERENCES leases (id),
    kind          text NOT NULL CHECK (kind IN ('call', 'visit')),
    reason        text NOT NULL CHECK (reason IN ('arrears', 'promise_due', 'broken_promise')),
    arrears       bigint NOT NULL CHECK (arrears >= 0),
    chance        double precision NOT NULL CHECK (chance BETWEEN 0 AND 1),
    priority      bigint NOT NULL,          -- expected recovery in GNF (arrears x chance, boosted)
    route_order   integer,                  -- visits: 1..n in the agent's tour; calls: by priority
    eta           timestamptz,              -- visits: estimated arrival
    leg_m         double precision,         -- visits: distance from the previous stop (detour included)
    status        text NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'done')),
    done_at       timestamptz,
    outcome       text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (day, lease_id, kind)            -- re-running a day never duplicates a mission
);
CREATE INDEX missions_agent_day ON missions (agent_id, day);
CREATE INDEX missions_day ON missions (day, status);

ALTER TABLE missions ENABLE ROW LEVEL SECURITY;
CREATE POLICY missions_all ON missions TO akig_read_all USING (true);
CREATE POLICY missions_owner ON missions TO akig_read_owner USING (lease_id IN (SELECT id FROM leases));
CREATE POLICY missions_write ON missions TO akig_write USING (true) WITH CHECK (true);
-- Only what is still planned may be replaced when a day is planned again.
CREATE POLICY missions_write_delete ON missions AS RESTRICTIVE FOR DELETE TO akig_write USING (status = 'planned');
GRANT SELECT ON missions TO akig_read_all, akig_read_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON missions TO akig_write;
