-- 004: every due, stored with what had been paid by its due date, so that punctuality over any
-- window is an index range scan instead of a replay of the lease's payments.
--
-- A due is on time when paid(its due date) >= the lease's cumulative dues up to and including it.
-- `paid_by_due` is that paid(due date); statement-level triggers keep it exact when leases or payments
-- are written (one set-based refresh per statement, so a COPY of millions of rows is one pass).
-- Dues of open leases are stored up to a horizon (3 months ahead at creation); the data layer
-- extends it (extend_dues_horizon, 6 months past the date asked) before a read reaches past it.

CREATE TABLE dues_horizon (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    until_mi   integer NOT NULL
);
INSERT INTO dues_horizon (until_mi) VALUES (month_idx(current_date) + 3);

CREATE TABLE lease_dues (
    lease_id     bigint NOT NULL REFERENCES leases (id) ON DELETE CASCADE,
    mi           integer NOT NULL,
    due_date     date NOT NULL,
    amount       bigint NOT NULL,
    cum_due      bigint NOT NULL,
    paid_by_due  bigint NOT NULL DEFAULT 0,
    on_time      boolean GENERATED ALWAYS AS (paid_by_due >= cum_due) STORED,
    PRIMARY KEY (lease_id, mi)
);
CREATE INDEX lease_dues_due_date ON lease_dues (due_date) INCLUDE (lease_id, amount, on_time);

-- Recompute paid_by_due of the given leases' dues dated on or after p_from (NULL = all of them):
-- paid before p_from, plus a running sum over the later dues and payments ordered by date
-- (payments before dues on the same date: a payment on the due date is on time).
CREATE FUNCTION lease_dues_refresh(p_ids bigint[], p_from date) RETURNS void
LANGUAGE sql AS $$
    WITH ids AS (
        SELECT DISTINCT x.lease_id FROM unnest(p_ids) AS x(lease_id)
    ), base AS (
        SELECT i.lease_id, coalesce(sum(p.amount), 0)::bigint AS s
          FROM ids i
          LEFT JOIN payments p ON p.lease_id = i.lease_id AND p.paid_on < coalesce(p_from, '-infinity'::date)
         GROUP BY i.lease_id
    ), events AS (
        SELECT d.lease_id, d.mi, d.due_date AS day, 1 AS kind, 0::bigint AS amount
          FROM lease_dues d JOIN ids i ON i.lease_id = d.lease_id
         WHERE d.due_date >= coalesce(p_from, '-infinity'::date)
        UNION ALL
        SELECT p.lease_id, NULL, p.paid_on, 0, p.amount
          FROM payments p JOIN ids i ON i.lease_id = p.lease_id
         WHERE p.paid_on >= coalesce(p_from, '-infinity'::date)
    ), running AS (
        SELECT e.lease_id, e.mi, e.kind,
               sum(e.amount) OVER (PARTITION BY e.lease_id ORDER BY e.day, e.kind ROWS UNBOUNDED PRECEDING) AS s
          FROM events e
    )
    UPDATE lease_dues d
       SET paid_by_due = b.s + r.s
      FROM running r
      JOIN base b ON b.lease_id = r.lease_id
     WHERE r.kind = 1 AND d.lease_id = r.lease_id AND d.mi = r.mi
       AND d.paid_by_due IS DISTINCT FROM b.s + r.s
$$;

-- Regenerate the dues of the given leases (after an insert, or a change of dates, rent or due day).
CREATE FUNCTION lease_dues_rebuild(p_ids bigint[]) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM lease_dues d USING unnest(p_ids) AS x(lease_id) WHERE d.lease_id = x.lease_id;
    INSERT INTO lease_dues (lease_id, mi, due_date, amount, cum_due)
    SELECT l.id, mi, due_in_month(mi, l.due_day), l.monthly_rent, (mi - l.first_due_mi + 1)::bigint * l.monthly_rent
      FROM leases l
      JOIN unnest(p_ids) AS x(lease_id) ON x.lease_id = l.id
     CROSS JOIN dues_horizon h
     CROSS JOIN LATERAL generate_series(l.first_due_mi, least(coalesce(l.last_due_mi, h.until_mi), h.until_mi)) AS mi;
    SELECT lease_dues_refresh(p_ids, NULL);
$$;

-- Store the dues up to month_idx(p_until) + 6 if the horizon is nearer; returns the horizon month.
CREATE FUNCTION extend_dues_horizon(p_until date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_old integer;
    v_new integer := month_idx(p_until) + 6;
BEGIN
    SELECT until_mi INTO v_old FROM dues_horizon FOR UPDATE;
    IF v_old >= month_idx(p_until) THEN
        RETURN v_old;
    END IF;
    UPDATE dues_horizon SET until_mi = v_new;
    INSERT INTO lease_dues (lease_id, mi, due_date, amount, cum_due)
    SELECT l.id, mi, due_in_month(mi, l.due_day), l.monthly_rent, (mi - l.first_due_mi + 1)::bigint * l.monthly_rent
      FROM leases l
     CROSS JOIN LATERAL generate_series(greatest(l.first_due_mi, v_old + 1), least(coalesce(l.last_due_mi, v_new), v_new)) AS mi
     WHERE l.last_due_mi IS NULL OR l.last_due_mi > v_old;
    PERFORM lease_dues_refresh(ARRAY(SELECT id FROM leases WHERE last_due_mi IS NULL OR last_due_mi > v_old),
                               due_in_month(v_old + 1, 1));
    RETURN v_new;
END $$;

-- Triggers: leases (insert, or a change of what makes the dues), payments (any write).
CREATE FUNCTION leases_dues_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM lease_dues_rebuild(ARRAY(SELECT id FROM new_rows));
    RETURN NULL;
END $$;

CREATE FUNCTION leases_dues_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM lease_dues_rebuild(ARRAY(
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
         WHERE (n.start_date, n.end_date, n.monthly_rent, n.due_day)
               IS DISTINCT FROM (o.start_date, o.end_date, o.monthly_rent, o.due_day)));
    RETURN NULL;
END $$;

CREATE TRIGGER leases_dues_insert AFTER INSERT ON leases
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION leases_dues_on_insert();
CREATE TRIGGER leases_dues_update AFTER UPDATE ON leases
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION leases_dues_on_update();

CREATE FUNCTION payments_dues_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM lease_dues_refresh(ARRAY(SELECT DISTINCT lease_id FROM new_rows), (SELECT min(paid_on) FROM new_rows));
    RETURN NULL;
END $$;

CREATE FUNCTION payments_dues_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM lease_dues_refresh(ARRAY(SELECT DISTINCT lease_id FROM old_rows), (SELECT min(paid_on) FROM old_rows));
    RETURN NULL;
END $$;

CREATE FUNCTION payments_dues_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM lease_dues_refresh(
        ARRAY(SELECT lease_id FROM new_rows UNION SELECT lease_id FROM old_rows),
        (SELECT min(d) FROM (SELECT paid_on AS d FROM new_rows UNION ALL SELECT paid_on FROM old_rows) x));
    RETURN NULL;
END $$;

CREATE FUNCTION payments_dues_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lease_dues SET paid_by_due = 0 WHERE paid_by_due <> 0;
    RETURN NULL;
END $$;

CREATE TRIGGER payments_dues_insert AFTER INSERT ON payments
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION payments_dues_on_insert();
CREATE TRIGGER payments_dues_delete AFTER DELETE ON payments
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION payments_dues_on_delete();
CREATE TRIGGER payments_dues_update AFTER UPDATE ON payments
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION payments_dues_on_update();
CREATE TRIGGER payments_dues_truncate AFTER TRUNCATE ON payments
    FOR EACH STATEMENT EXECUTE FUNCTION payments_dues_on_truncate();

-- Every due with due date in [from, to] of the leases in scope, with its on-time flag.
CREATE FUNCTION dues_status(p_from date, p_to date, p_owner_ref text)
RETURNS TABLE (lease_id bigint, site_id bigint, owner_id bigint, tenant_id bigint,
               due_date date, amount bigint, on_time boolean)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT d.lease_id, sl.site_id, sl.owner_id, sl.tenant_id, d.due_date, d.amount, d.on_time
      FROM lease_dues d
      JOIN scoped_leases(p_owner_ref) sl ON sl.lease_id = d.lease_id
     WHERE d.due_date BETWEEN p_from AND p_to
$$;

-- A self-check for tests: stored dues that disagree with the rules (count, dates, amounts, on time).
CREATE VIEW lease_dues_drift AS
WITH expected AS (
    SELECT l.id AS lease_id, mi, due_in_month(mi, l.due_day) AS due_date, l.monthly_rent AS amount,
           (mi - l.first_due_mi + 1)::bigint * l.monthly_rent AS cum_due
      FROM leases l
     CROSS JOIN dues_horizon h
     CROSS JOIN LATERAL generate_series(l.first_due_mi, least(coalesce(l.last_due_mi, h.until_mi), h.until_mi)) AS mi
), paid AS (
    SELECT e.*, (SELECT coalesce(sum(p.amount), 0) FROM payments p
                  WHERE p.lease_id = e.lease_id AND p.paid_on <= e.due_date) AS paid_by_due
      FROM expected e
)
SELECT coalesce(p.lease_id, d.lease_id) AS lease_id, coalesce(p.mi, d.mi) AS mi
  FROM paid p
  FULL JOIN lease_dues d ON d.lease_id = p.lease_id AND d.mi = p.mi
 WHERE p.lease_id IS NULL OR d.lease_id IS NULL
    OR (p.due_date, p.amount, p.cum_due, p.paid_by_due) IS DISTINCT FROM (d.due_date, d.amount, d.cum_due, d.paid_by_due);
