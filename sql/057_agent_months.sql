-- 057: a finished month's figures per agent, stored once, so that the month's leaderboard (and
-- agent_performance over exactly that month) answers without computing them again after each write.
--
-- agent_performance over a whole month, every agent, took 230-350 ms at `large` scale, and it ran again
-- after any payment, call or visit of the day, although none of them can change a month that is over.
-- What the figures of month M read: missions of M, calls and visits from 7 days before M to its end
-- (the payments' attribution), promises made or due in M with what their leases paid up to their due
-- date, payments dated in M, the leases' tenants and the agents. So a write whose rows are dated after M
-- leaves M as it is, and one dated on or before its last day may not.
--
-- * agent_month_store(M) computes every agent's parts (everything but the score, which depends on the
--   weights the server is configured with) through agent_performance itself, under an EXCLUSIVE lock on
--   agent_months, and keeps them in agent_month_parts. The server's scheduled task `agent_months` stores
--   last month once it is over.
-- * Statement-level triggers on payments, promises, calls, visits and missions delete the stored months
--   whose last day is on or after the earliest date a statement touches (the date of each row, old and
--   new); any write to leases or agents, or a truncation, deletes them all. Their DELETE takes the lock
--   that a store waits for, so a write under way during a store either is seen by it or drops it.
-- * agent_ranking answers from the stored parts when it is asked for exactly a stored month, for every
--   agent, by a reader of every owner's data; any other window, one agent, or an owner's reader (whose
--   figures are those of his leases) computes as before. The score is computed at each read, from the
--   weights given, as agent_performance computes it.

CREATE TABLE agent_months (
    month      date PRIMARY KEY CHECK (month = date_trunc('month', month)::date),
    last_day   date NOT NULL,
    stored_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_months_last_day ON agent_months (last_day);

CREATE TABLE agent_month_parts (
    month                date NOT NULL REFERENCES agent_months (month) ON DELETE CASCADE,
    agent_ref            text NOT NULL,
    agent_name           text NOT NULL,
    zone                 text,
    missions_planned     integer NOT NULL,
    missions_done        integer NOT NULL,
    calls                integer NOT NULL,
    visits               integer NOT NULL,
    visits_with_proof    integer NOT NULL,
    right_party_contacts integer NOT NULL,
    promises             integer NOT NULL,
    promised             bigint NOT NULL,
    promises_due         integer NOT NULL,
    promises_kept        integer NOT NULL,
    kept_amount          bigint NOT NULL,
    collected            bigint NOT NULL,
    collected_recorded   bigint NOT NULL,
    assigned_arrears     bigint NOT NULL,
    recovery_rate        double precision,
    kept_rate            double precision,
    completion_rate      double precision,
    PRIMARY KEY (month, agent_ref)
);

-- Every owner's readers and the writing role read them; an owner's reader sees none (his figures are
-- those of his own leases: he computes them).
ALTER TABLE agent_months ENABLE ROW LEVEL SECURITY;
ALTER TABLE agent_month_parts ENABLE ROW LEVEL SECURITY;
CREATE POLICY agent_months_all ON agent_months TO akig_read_all, akig_write USING (true);
CREATE POLICY agent_months_owner ON agent_months TO akig_read_owner USING (false);
CREATE POLICY agent_month_parts_all ON agent_month_parts TO akig_read_all, akig_write USING (true);
CREATE POLICY agent_month_parts_owner ON agent_month_parts TO akig_read_owner USING (false);
GRANT SELECT ON agent_months, agent_month_parts TO akig_read_all, akig_read_owner, akig_write;

-- The score of agent_performance (054), from the parts and the weights.
CREATE FUNCTION agent_score(p_recovery double precision, p_kept_rate double precision,
                            p_completion double precision, p_w_recovery double precision,
                            p_w_kept double precision, p_w_completion double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT round((100.0 * (p_w_recovery * coalesce(p_recovery, 0) + p_w_kept * coalesce(p_kept_rate, 0)
                           + p_w_completion * coalesce(p_completion, 0))
                  / nullif(p_w_recovery + p_w_kept + p_w_completion, 0))::numeric, 1)::double precision
$$;

-- Store month p_month (its 1st) in place of what was stored for it; returns the number of agents.
CREATE FUNCTION agent_month_store(p_month date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_last date := (p_month + interval '1 month' - interval '1 day')::date;
    v_rows integer;
BEGIN
    IF p_month IS DISTINCT FROM date_trunc('month', p_month)::date THEN
        RAISE EXCEPTION 'agent_month_store: % is not the first day of a month', p_month;
    END IF;
    LOCK TABLE agent_months IN EXCLUSIVE MODE;
    DELETE FROM agent_months WHERE month = p_month;
    INSERT INTO agent_months (month, last_day) VALUES (p_month, v_last);
    INSERT INTO agent_month_parts
    SELECT p_month, p.agent_ref, p.agent_name, p.zone, p.missions_planned, p.missions_done, p.calls, p.visits,
           p.visits_with_proof, p.right_party_contacts, p.promises, p.promised, p.promises_due, p.promises_kept,
           p.kept_amount, p.collected, p.collected_recorded, p.assigned_arrears, p.recovery_rate, p.kept_rate,
           p.completion_rate
      FROM agent_performance(p_month, v_last, 1, 1, 1, NULL) p;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END $$;
REVOKE EXECUTE ON FUNCTION agent_month_store(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agent_month_store(date) TO akig_write;

-- The trigger: TG_ARGV[0] is the expression of a row's date, or '-infinity' for the tables whose rows
-- count in every month.
CREATE FUNCTION agent_months_drop_after() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_day date;
BEGIN
    IF TG_OP = 'TRUNCATE' OR TG_ARGV[0] = '-infinity' THEN
        DELETE FROM agent_months;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        EXECUTE format('SELECT min(%s) FROM new_rows', TG_ARGV[0]) INTO v_day;
    ELSIF TG_OP = 'DELETE' THEN
        EXECUTE format('SELECT min(%s) FROM old_rows', TG_ARGV[0]) INTO v_day;
    ELSE
        EXECUTE format('SELECT least((SELECT min(%1$s) FROM new_rows), (SELECT min(%1$s) FROM old_rows))',
                       TG_ARGV[0]) INTO v_day;
    END IF;
    -- always a DELETE, even when nothing is dated: it takes the lock a store waits for
    DELETE FROM agent_months WHERE last_day >= coalesce(v_day, 'infinity'::date);
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION agent_months_drop_after() FROM PUBLIC;

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
            ('payments', 'paid_on'),
            ('promises', 'least(created_on, due_date)'),
            ('calls', '(called_at AT TIME ZONE ''Africa/Conakry'')::date'),
            ('visits', '(visited_at AT TIME ZONE ''Africa/Conakry'')::date'),
            ('missions', 'day'),
            ('leases', '-infinity'),
            ('agents', '-infinity')) AS x (tab, day_expr)
    LOOP
        EXECUTE format('CREATE TRIGGER %1$s_agent_months_insert AFTER INSERT ON %1$s REFERENCING NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION agent_months_drop_after(%2$L)', t.tab, t.day_expr);
        EXECUTE format('CREATE TRIGGER %1$s_agent_months_update AFTER UPDATE ON %1$s'
                       ' REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION agent_months_drop_after(%2$L)', t.tab, t.day_expr);
        EXECUTE format('CREATE TRIGGER %1$s_agent_months_delete AFTER DELETE ON %1$s REFERENCING OLD TABLE AS old_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION agent_months_drop_after(%2$L)', t.tab, t.day_expr);
        EXECUTE format('CREATE TRIGGER %1$s_agent_months_truncate AFTER TRUNCATE ON %1$s'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION agent_months_drop_after(%2$L)', t.tab, t.day_expr);
    END LOOP;
END $$;

-- agent_ranking (050): from the stored parts for exactly a stored month, every agent; computed otherwise.
CREATE OR REPLACE FUNCTION agent_ranking(p_from date, p_to date, p_w_recovery double precision,
                                         p_w_kept double precision, p_w_completion double precision,
                                         p_agent_ref text DEFAULT NULL)
RETURNS TABLE (agent_ref text, agent_name text, zone text, missions_planned integer, missions_done integer,
               calls integer, visits integer, visits_with_proof integer, right_party_contacts integer,
               promises integer, promised bigint, promises_due integer, promises_kept integer, kept_amount bigint,
               collected bigint, collected_recorded bigint, assigned_arrears bigint,
               recovery_rate double precision, kept_rate double precision, completion_rate double precision,
               score double precision)
LANGUAGE sql STABLE SECURITY INVOKER AS $$
    SELECT s.agent_ref, s.agent_name, s.zone, s.missions_planned, s.missions_done, s.calls, s.visits,
           s.visits_with_proof, s.right_party_contacts, s.promises, s.promised, s.promises_due, s.promises_kept,
           s.kept_amount, s.collected, s.collected_recorded, s.assigned_arrears, s.recovery_rate, s.kept_rate,
           s.completion_rate,
           agent_score(s.recovery_rate, s.kept_rate, s.completion_rate, p_w_recovery, p_w_kept, p_w_completion)
      FROM agent_month_parts s
     WHERE s.month = p_from
       AND p_agent_ref IS NULL
       AND EXISTS (SELECT 1 FROM agent_months m WHERE m.month = p_from AND m.last_day = p_to)
    UNION ALL
    SELECT p.*
      FROM agent_performance(p_from, p_to, p_w_recovery, p_w_kept, p_w_completion, p_agent_ref) p
     WHERE NOT (p_agent_ref IS NULL
                AND EXISTS (SELECT 1 FROM agent_months m WHERE m.month = p_from AND m.last_day = p_to))
     ORDER BY 21 DESC, 15 DESC, 1
$$;
