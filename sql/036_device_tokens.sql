-- Device tokens and the agent's day: what the field agents' phone app needs.
--
-- The phone app logs in once (password, and the TOTP code when the account has a factor) and then
-- keeps a token of its own, one per phone: an agent has a phone and maybe a spare, an API token is one
-- per account (rotating it for a new phone would cut off the old one), and a lost phone must be cut off
-- alone, by an administrator (`akig users devices NAME --revoke ID`) or by the phone itself (logout).
-- As with API tokens only the SHA-256 of the token is stored: it is 32 random bytes, so a fast hash is
-- enough and lets the server find the row by its hash. A revoked row is kept (who revoked it and when),
-- so the device list tells what happened to each phone.

CREATE TABLE device_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    label        text NOT NULL DEFAULT '' CHECK (length(label) <= 80),   -- the device's name, from the phone
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    revoked_by   text,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX device_tokens_user ON device_tokens (user_id, created_at);

-- Only the application role issues, checks and revokes them; the read roles never see them (no
-- default SELECT since 017), like the login sessions.
GRANT SELECT, INSERT, UPDATE ON device_tokens TO akig_app;

-- One agent's missions of a day, in the order of the missions read (visits in route order, then calls),
-- each with what the agent needs at the door: the lease's last contact up to the end of that day (call or
-- visit, by anyone) and its latest pending promise (made by that day, not yet due, not yet paid in full;
-- the rule of the promises read: kept when the payments since it was made reach its amount). Arrears are
-- the mission's, as planned (the same figure as the missions read and the desk).
CREATE FUNCTION agent_day(p_day date, p_agent_ref text)
RETURNS TABLE (mission_ref text, agent_ref text, agent_name text, route_order integer, kind text,
               eta timestamptz, status text, lease_ref text, tenant_ref text, full_name text, phone text,
               site_ref text, site_name text, commune text, quartier text, lat double precision,
               lon double precision, arrears bigint, last_contact_at timestamptz, last_contact_kind text,
               last_contact_outcome text, promise_amount bigint, promise_due_date date, promise_status text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT m.mission_ref, m.agent_ref, m.agent_name, m.route_order, m.kind, m.eta, m.status, m.lease_ref,
           m.tenant_ref, m.full_name, m.phone, m.site_ref, m.site_name, m.commune, m.quartier, m.lat, m.lon,
           m.arrears, c.at, c.kind, c.outcome, p.amount, p.due_date, p.status
      FROM missions(p_day, p_agent_ref) WITH ORDINALITY AS m
      JOIN leases l ON l.lease_ref = m.lease_ref
      LEFT JOIN LATERAL (
          SELECT x.at, x.kind, x.outcome
            FROM ((SELECT ca.called_at AS at, 'call'::text AS kind, ca.outcome
                     FROM calls ca
                    WHERE ca.lease_id = l.id
                      AND ca.called_at < (p_day + 1)::timestamp AT TIME ZONE 'Africa/Conakry'
                    ORDER BY ca.called_at DESC LIMIT 1)
                  UNION ALL
                  (SELECT v.visited_at, 'visit'::text, v.outcome
                     FROM visits v
                    WHERE v.lease_id = l.id
                      AND v.visited_at < (p_day + 1)::timestamp AT TIME ZONE 'Africa/Conakry'
                    ORDER BY v.visited_at DESC LIMIT 1)) x
           ORDER BY x.at DESC
           LIMIT 1
      ) c ON true
      LEFT JOIN LATERAL (
          SELECT pr.amount, pr.due_date, 'pending'::text AS status
            FROM promises pr
           CROSS JOIN LATERAL (
               SELECT coalesce(sum(pa.amount), 0)::bigint AS paid
                 FROM payments pa
                WHERE pa.lease_id = pr.lease_id
                  AND pa.paid_on BETWEEN pr.created_on AND p_day
                  -- the same bounds on paid_at, so that only the months concerned are opened
                  AND pa.paid_at >= (pr.created_on - 1)::timestamp AT TIME ZONE 'UTC'
                  AND pa.paid_at < (p_day + 2)::timestamp AT TIME ZONE 'UTC'
           ) pp
           WHERE pr.lease_id = l.id
             AND pr.created_on <= p_day
             AND pr.due_date >= p_day
             AND pp.paid < pr.amount
           ORDER BY pr.created_at DESC, pr.id DESC
           LIMIT 1
      ) p ON true
     ORDER BY m.ordinality
$$;

GRANT EXECUTE ON FUNCTION agent_day(date, text) TO akig_read_all, akig_read_owner;
