-- 047: the day's late-payment risk and cash forecast, computed once and stored.
--
-- lease_risk and cash_forecast compute every running lease's features, score them and (for the forecast)
-- draw 2,000 months per owner at each read: at `large` scale, seconds for one owner and tens of seconds for
-- every owner, paid again after each write to the ledger (which drops the reads' cached answers). Yet their
-- answer for a date D depends only on what is dated before D (the features are taken on the morning of D;
-- risk_features' tests check that a payment or a call dated D or later changes none), on the stored models
-- and on the dues. So the day's answer is computed once, by the server's scheduled task (or
-- `akig model score`), and kept here; the two reads answer from it when it is there and compute as before
-- when it is not.
--
-- A stored day stays exact by being dropped, never adjusted: statement-level triggers delete the runs of the
-- days after the earliest date a write touches (a payment dated yesterday drops today's run; one dated today
-- does not), and every run for a new model, a lease, a site or an owner changed, or a table truncated. A run
-- is made in two steps: its row is committed first (ready = false), then the figures are computed and
-- written, and the run is marked ready only if its row is still there, so that a write committed while it
-- computed cannot leave a stale run behind. Rows of runs dropped are deleted by the next run.

CREATE TABLE risk_score_runs (
    run_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    as_of        date NOT NULL,
    ready        boolean NOT NULL DEFAULT false,
    started_at   timestamptz NOT NULL DEFAULT now(),
    computed_at  timestamptz,
    models       text
);
CREATE INDEX risk_score_runs_as_of ON risk_score_runs (as_of);
CREATE UNIQUE INDEX risk_score_runs_one_ready ON risk_score_runs (as_of) WHERE ready;

-- Each running lease's risk, as lease_risk gives it, but its tenant (looked up at each read, so that what is
-- erased or corrected about a tenant is never kept here). reasons_owner is the text as the lease's owner
-- reads it: the same as reasons_all once a model is trained; under the plain rule the reasons compare with
-- the medians of the leases read, every owner's or the owner's own.
CREATE TABLE lease_risk_stored (
    run_id           bigint NOT NULL,
    ord              integer NOT NULL,
    lease_id         bigint NOT NULL,
    owner_id         bigint NOT NULL,
    tenant_id        bigint,
    lease_ref        text NOT NULL,
    site_ref         text NOT NULL,
    owner_ref        text NOT NULL,
    next_due_date    date NOT NULL,
    next_due_amount  bigint NOT NULL,
    p_late_10        double precision NOT NULL,
    p_late_30        double precision NOT NULL,
    reasons_all      text NOT NULL,
    reasons_owner    text NOT NULL,
    model            text NOT NULL,
    PRIMARY KEY (run_id, lease_id)
);
-- ord is the read's order (riskiest first, then by lease): an owner's rows, a part of every owner's, keep it,
-- so both answers are read in order from an index instead of sorting 68,797 rows at `large` scale.
CREATE UNIQUE INDEX lease_risk_stored_ord ON lease_risk_stored (run_id, ord);
CREATE INDEX lease_risk_stored_owner ON lease_risk_stored (run_id, owner_id, ord);

-- The cash forecast of every owner together (scope_owner_id NULL) and of each owner alone: the two differ
-- (the late dues' catch-up share is the scope's), as the read's answers do. ord keeps simulate()'s order.
CREATE TABLE cash_forecast_stored (
    run_id          bigint NOT NULL,
    scope_owner_id  bigint,
    ord             integer NOT NULL,
    owner_ref       text NOT NULL,
    site_ref        text,
    month           date NOT NULL,
    period          text NOT NULL,
    dues            bigint NOT NULL,
    expected        bigint NOT NULL,
    low_80          bigint NOT NULL,
    high_80         bigint NOT NULL
);
CREATE INDEX cash_forecast_stored_scope ON cash_forecast_stored (run_id, scope_owner_id, ord);

ALTER TABLE risk_score_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY risk_score_runs_all ON risk_score_runs TO akig_read_all USING (true);
CREATE POLICY risk_score_runs_owner ON risk_score_runs TO akig_read_owner USING (true);
ALTER TABLE lease_risk_stored ENABLE ROW LEVEL SECURITY;
CREATE POLICY lease_risk_stored_all ON lease_risk_stored TO akig_read_all USING (true);
CREATE POLICY lease_risk_stored_owner ON lease_risk_stored TO akig_read_owner
    USING (owner_id = (SELECT akig_scope_owner_id()));
ALTER TABLE cash_forecast_stored ENABLE ROW LEVEL SECURITY;
CREATE POLICY cash_forecast_stored_all ON cash_forecast_stored TO akig_read_all USING (true);
CREATE POLICY cash_forecast_stored_owner ON cash_forecast_stored TO akig_read_owner
    USING (scope_owner_id = (SELECT akig_scope_owner_id()));
GRANT SELECT ON risk_score_runs, lease_risk_stored, cash_forecast_stored TO akig_read_all, akig_read_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON risk_score_runs, lease_risk_stored, cash_forecast_stored TO akig_write;
CREATE POLICY risk_score_runs_write ON risk_score_runs TO akig_write USING (true) WITH CHECK (true);
CREATE POLICY lease_risk_stored_write ON lease_risk_stored TO akig_write USING (true) WITH CHECK (true);
CREATE POLICY cash_forecast_stored_write ON cash_forecast_stored TO akig_write USING (true) WITH CHECK (true);

-- The trigger: TG_ARGV[0] is the expression of a row's date (what the features of the days after it may
-- have read), or '-infinity' for the tables whose rows count on every day.
CREATE FUNCTION risk_score_runs_drop_after() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_day date;
BEGIN
    IF TG_OP = 'TRUNCATE' OR TG_ARGV[0] = '-infinity' THEN
        DELETE FROM risk_score_runs;
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
    IF v_day IS NOT NULL THEN
        DELETE FROM risk_score_runs WHERE as_of > v_day;
    END IF;
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION risk_score_runs_drop_after() FROM PUBLIC;

-- One set of four triggers per table (insert, update, delete, truncate), as 044 and 045 make theirs.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
            ('payments', 'paid_on'),
            ('lease_dues', 'due_date'),
            ('promises', 'created_on'),
            ('calls', '(called_at AT TIME ZONE ''Africa/Conakry'')::date'),
            ('visits', '(visited_at AT TIME ZONE ''Africa/Conakry'')::date'),
            ('leases', 'start_date - 1'),
            ('sites', '-infinity'),
            ('owners', '-infinity'),
            ('risk_models', '-infinity')) AS x (tab, day_expr)
    LOOP
        EXECUTE format('CREATE TRIGGER %1$s_risk_scores_insert AFTER INSERT ON %1$s REFERENCING NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION risk_score_runs_drop_after(%2$L)', t.tab, t.day_expr);
        EXECUTE format('CREATE TRIGGER %1$s_risk_scores_update AFTER UPDATE ON %1$s'
                       ' REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION risk_score_runs_drop_after(%2$L)', t.tab, t.day_expr);
        EXECUTE format('CREATE TRIGGER %1$s_risk_scores_delete AFTER DELETE ON %1$s REFERENCING OLD TABLE AS old_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION risk_score_runs_drop_after(%2$L)', t.tab, t.day_expr);
        EXECUTE format('CREATE TRIGGER %1$s_risk_scores_truncate AFTER TRUNCATE ON %1$s'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION risk_score_runs_drop_after(%2$L)', t.tab, t.day_expr);
    END LOOP;
END $$;

-- The ready run of a day, if any.
CREATE FUNCTION risk_score_run(p_as_of date) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT r.run_id FROM risk_score_runs r WHERE r.as_of = p_as_of AND r.ready
$$;

-- lease_risk's rows from a stored run, in its order, with the lease's tenant as he is now.
CREATE FUNCTION lease_risk_stored(p_run_id bigint, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (lease_ref text, tenant_ref text, full_name text, phone text, site_ref text, owner_ref text,
               next_due_date date, next_due_amount bigint, p_late_10 double precision,
               p_late_30 double precision, reasons text, model text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT s.lease_ref, t.tenant_ref, t.full_name, t.phone, s.site_ref, s.owner_ref, s.next_due_date,
           s.next_due_amount, s.p_late_10, s.p_late_30,
           CASE WHEN p_owner_ref IS NULL THEN s.reasons_all ELSE s.reasons_owner END, s.model
      FROM lease_risk_stored s
      LEFT JOIN tenants t ON t.id = s.tenant_id
     WHERE s.run_id = p_run_id
       AND (p_owner_ref IS NULL OR s.owner_id = (SELECT o.id FROM owners o WHERE o.owner_ref = p_owner_ref))
     ORDER BY s.ord
$$;

-- cash_forecast's rows from a stored run: every owner's together, or the owner's alone.
CREATE FUNCTION cash_forecast_stored(p_run_id bigint, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (owner_ref text, site_ref text, month date, period text, dues bigint, expected bigint,
               low_80 bigint, high_80 bigint)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT f.owner_ref, f.site_ref, f.month, f.period, f.dues, f.expected, f.low_80, f.high_80
      FROM cash_forecast_stored f
     WHERE f.run_id = p_run_id
       AND f.scope_owner_id IS NOT DISTINCT FROM
           (SELECT o.id FROM owners o WHERE o.owner_ref = p_owner_ref)
     ORDER BY f.ord
$$;

-- Each lease's ids, tenant and owner, for the run's rows and its forecast of each owner alone
-- (risk_due_outcomes names leases only).
CREATE FUNCTION risk_lease_owners()
RETURNS TABLE (lease_id bigint, lease_ref text, tenant_id bigint, owner_id bigint, owner_ref text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT l.id, l.lease_ref, l.tenant_id, o.id, o.owner_ref FROM leases l JOIN owners o ON o.id = l.owner_id
$$;

GRANT EXECUTE ON FUNCTION risk_score_run(date), lease_risk_stored(bigint, text), cash_forecast_stored(bigint, text),
    risk_lease_owners() TO akig_read_all, akig_read_owner;
