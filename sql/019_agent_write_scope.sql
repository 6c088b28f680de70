-- 019: an agent works on the leases of his missions; a client id is unique per author.
--
-- 1. The leases an agent may read about and write on: those of his missions from p_days days before
-- p_today to the day after (a route planned for tomorrow may be prepared). One definition for the
-- reads (akig_data/reads/registry.py, a tenant's card) and the writes (akig_data/writes/collection.py); p_days is
-- AKIG_AGENT_LEASE_DAYS. Runs with the caller's rights: akig_read_all and akig_write read missions.
CREATE FUNCTION agent_mission_leases(p_agent_ref text, p_today date, p_days integer)
RETURNS TABLE (lease_id bigint) LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT DISTINCT m.lease_id
      FROM missions m JOIN agents a ON a.id = m.agent_id
     WHERE a.agent_ref = p_agent_ref AND m.day BETWEEN p_today - p_days AND p_today + 1
$$;

-- 2. A phone's client id makes a retried write idempotent: the same id returns the first result. The
-- lookup now includes the author (recorded_by), so a client id reused by someone else can never
-- return another user's receipt; two authors' ids may then coincide, so uniqueness is per author.
-- The index keeps its name (an error names it as before); NULLS NOT DISTINCT: rows without an author
-- (written before 010 recorded one) still share one space of ids.
ALTER TABLE calls DROP CONSTRAINT calls_client_id_key;
CREATE UNIQUE INDEX calls_client_id_key ON calls (recorded_by, client_id) NULLS NOT DISTINCT
    WHERE client_id IS NOT NULL;
ALTER TABLE visits DROP CONSTRAINT visits_client_id_key;
CREATE UNIQUE INDEX visits_client_id_key ON visits (recorded_by, client_id) NULLS NOT DISTINCT
    WHERE client_id IS NOT NULL;
ALTER TABLE promises DROP CONSTRAINT promises_client_id_key;
CREATE UNIQUE INDEX promises_client_id_key ON promises (recorded_by, client_id) NULLS NOT DISTINCT
    WHERE client_id IS NOT NULL;

-- payments is partitioned by month: its keys unique across months live in payment_keys (016), which
-- learns the author; its insert and update triggers copy it.
ALTER TABLE payment_keys ADD COLUMN recorded_by text;
UPDATE payment_keys k SET recorded_by = p.recorded_by FROM payments p WHERE p.payment_ref = k.payment_ref;
ALTER TABLE payment_keys DROP CONSTRAINT payment_keys_client_id_key;
CREATE UNIQUE INDEX payment_keys_client_id_key ON payment_keys (recorded_by, client_id) NULLS NOT DISTINCT
    WHERE client_id IS NOT NULL;

CREATE OR REPLACE FUNCTION payments_keys_on_insert() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO payment_keys (payment_ref, client_id, receipt_no, recorded_by)
    SELECT payment_ref, client_id, receipt_no, recorded_by FROM new_rows;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION payments_keys_on_update() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM payment_keys k USING old_rows o JOIN new_rows n ON n.id = o.id
     WHERE k.payment_ref = o.payment_ref
       AND (n.payment_ref, n.client_id, n.receipt_no, n.recorded_by)
           IS DISTINCT FROM (o.payment_ref, o.client_id, o.receipt_no, o.recorded_by);
    INSERT INTO payment_keys (payment_ref, client_id, receipt_no, recorded_by)
    SELECT n.payment_ref, n.client_id, n.receipt_no, n.recorded_by FROM new_rows n JOIN old_rows o ON o.id = n.id
     WHERE (n.payment_ref, n.client_id, n.receipt_no, n.recorded_by)
           IS DISTINCT FROM (o.payment_ref, o.client_id, o.receipt_no, o.recorded_by);
    RETURN NULL;
END $$;
