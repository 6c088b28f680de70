-- SMS reminders: a ladder of steps relative to each due date, per owner (or the default ladder), and an
-- outbox that holds one message per (lease, due, step) whatever happens (akig_data/reminders/).
--
-- * reminder_policies: one row per owner who has reminders on or set up: switched on, the owner's
--   mobile-money merchant number (said in the messages), the share of his leases held out of reminders to
--   measure their effect, and the salt that draws them (a lease stays in its group).
-- * reminder_steps: the ladder. owner_id NULL: the default ladder, used for an owner without steps of
--   his own. offset_days is relative to the due date (-3: three days before).
-- * reminder_outbox: queued -> sending -> sent -> delivered / failed; cancelled (paid meanwhile, opted
--   out, no phone) and held_out (the lease is in the held-out share: never sent, counted for the effect).
--   UNIQUE (lease_id, due_mi, step_code): planning the same day twice, or from two processes, adds nothing.
--   A message is claimed ('sending', committed) before the gateway is called: a process that dies then
--   leaves it 'sending', and it is never sent a second time.
-- * sms_optouts: phones that answered STOP or that a manager marked; honoured for good.

CREATE TABLE reminder_policies (
    owner_id        bigint PRIMARY KEY REFERENCES owners (id),
    enabled         boolean NOT NULL DEFAULT false,
    merchant_number text CHECK (merchant_number IS NULL OR length(merchant_number) <= 40),
    holdout_share   real NOT NULL DEFAULT 0 CHECK (holdout_share >= 0 AND holdout_share <= 0.5),
    holdout_salt    text NOT NULL DEFAULT md5(random()::text || clock_timestamp()::text),
    updated_by      text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE reminder_steps (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id     bigint REFERENCES owners (id),
    code         text NOT NULL CHECK (code ~ '^[a-z0-9_]{1,32}$'),
    label        text NOT NULL CHECK (label <> '' AND length(label) <= 60),
    offset_days  integer NOT NULL CHECK (offset_days BETWEEN -30 AND 90),
    template     text NOT NULL CHECK (template <> '' AND length(template) <= 480),
    UNIQUE NULLS NOT DISTINCT (owner_id, code),
    UNIQUE NULLS NOT DISTINCT (owner_id, offset_days)
);

INSERT INTO reminder_steps (owner_id, code, label, offset_days, template) VALUES
    (NULL, 'courtesy', 'J-3 courtoisie', -3,
     'Bonjour {locataire}, votre loyer de {montant} est dû le {echeance}. Paiement Orange Money / MTN MoMo au '
     '{marchand}, référence {reference}. Merci. {proprietaire}'),
    (NULL, 'late_1', 'J+1 rappel', 1,
     'Bonjour {locataire}, sauf erreur votre loyer du {echeance} ({montant}) n''est pas encore réglé. Payez au '
     '{marchand}, référence {reference}. {proprietaire}'),
    (NULL, 'late_7', 'J+7 ferme', 7,
     '{locataire}, votre loyer du {echeance} reste impayé : {montant}. Merci de régler sans délai au {marchand}, '
     'référence {reference}. {proprietaire}'),
    (NULL, 'late_15', 'J+15 visite', 15,
     '{locataire}, loyer du {echeance} impayé ({montant}). Un agent passera vous voir cette semaine. Pour '
     'l''éviter, payez au {marchand}, référence {reference}. {proprietaire}');

CREATE TABLE reminder_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lease_id        bigint NOT NULL REFERENCES leases (id),
    owner_id        bigint NOT NULL REFERENCES owners (id),
    due_mi          integer NOT NULL,
    due_date        date NOT NULL,
    step_code       text NOT NULL,
    step_label      text NOT NULL,
    phone           text,                 -- E.164, as sent
    body            text NOT NULL,
    status          text NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed',
                                                    'cancelled', 'held_out')),
    reason          text,                 -- why cancelled or failed (French)
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    provider        text,
    provider_id     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    delivered_at    timestamptz,
    UNIQUE (lease_id, due_mi, step_code)
);
CREATE INDEX reminder_outbox_queued ON reminder_outbox (next_attempt_at) WHERE status = 'queued';
CREATE INDEX reminder_outbox_provider_id ON reminder_outbox (provider_id) WHERE provider_id IS NOT NULL;
CREATE INDEX reminder_outbox_phone_sent ON reminder_outbox (phone, sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX reminder_outbox_created ON reminder_outbox (created_at);
CREATE INDEX reminder_outbox_due ON reminder_outbox (owner_id, due_date);

CREATE TABLE sms_optouts (
    phone       text PRIMARY KEY,        -- E.164
    source      text NOT NULL CHECK (source IN ('stop', 'manager')),
    note        text,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE reminder_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE reminder_steps ENABLE ROW LEVEL SECURITY;
ALTER TABLE reminder_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE sms_optouts ENABLE ROW LEVEL SECURITY;
CREATE POLICY reminder_policies_all ON reminder_policies TO akig_read_all USING (true);
CREATE POLICY reminder_steps_all ON reminder_steps TO akig_read_all USING (true);
CREATE POLICY reminder_outbox_all ON reminder_outbox TO akig_read_all USING (true);
CREATE POLICY sms_optouts_all ON sms_optouts TO akig_read_all USING (true);
CREATE POLICY reminder_policies_owner ON reminder_policies TO akig_read_owner
    USING (owner_id = (SELECT akig_scope_owner_id()));
CREATE POLICY reminder_outbox_owner ON reminder_outbox TO akig_read_owner
    USING (owner_id = (SELECT akig_scope_owner_id()));
CREATE POLICY reminder_steps_owner ON reminder_steps TO akig_read_owner
    USING (owner_id IS NULL OR owner_id = (SELECT akig_scope_owner_id()));
GRANT SELECT ON reminder_policies, reminder_steps, reminder_outbox, sms_optouts TO akig_read_all;
GRANT SELECT ON reminder_policies, reminder_steps, reminder_outbox TO akig_read_owner;
CREATE POLICY reminder_policies_write ON reminder_policies TO akig_write USING (true) WITH CHECK (true);
CREATE POLICY reminder_steps_write ON reminder_steps TO akig_write USING (true) WITH CHECK (true);
CREATE POLICY reminder_outbox_write ON reminder_outbox TO akig_write USING (true) WITH CHECK (true);
CREATE POLICY sms_optouts_write ON sms_optouts TO akig_write USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON reminder_policies TO akig_write;
GRANT SELECT, INSERT, UPDATE, DELETE ON reminder_steps TO akig_write;
GRANT SELECT, INSERT, UPDATE ON reminder_outbox TO akig_write;
GRANT SELECT, INSERT ON sms_optouts TO akig_write;
GRANT SELECT ON lease_dues, lease_payment_totals TO akig_write;

-- Is this lease in its owner's held-out share? A stable draw: the lease's reference and the owner's salt
-- hashed to a number in [0, 1), compared with the share.
CREATE FUNCTION reminder_held_out(p_lease_ref text, p_salt text, p_share real) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_share > 0
       AND (('x' || substr(md5(p_salt || ':' || p_lease_ref), 1, 8))::bit(32)::bigint / 4294967296.0) < p_share
$$;

-- The steps that apply to each owner with reminders switched on: his own ladder, or the default one.
CREATE FUNCTION reminder_ladders()
RETURNS TABLE (owner_id bigint, code text, label text, offset_days integer, template text)
LANGUAGE sql STABLE SECURITY INVOKER AS $$
    SELECT p.owner_id, s.code, s.label, s.offset_days, s.template
      FROM reminder_policies p
      JOIN reminder_steps s
        ON s.owner_id = p.owner_id
        OR (s.owner_id IS NULL AND NOT EXISTS (SELECT 1 FROM reminder_steps o WHERE o.owner_id = p.owner_id))
     WHERE p.enabled
$$;

-- What the ladders ask for on p_day: every due of a running lease, of an owner with reminders on, whose
-- date plus a step's offset is p_day and which is not fully paid (FIFO: the lease's payments to date cover
-- the dues in order), with what the message needs. remaining is what is left of that due.
CREATE FUNCTION reminder_candidates(p_day date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (lease_id bigint, owner_id bigint, owner_ref text, owner_name text, lease_ref text,
               tenant_ref text, tenant_name text, phone text, due_mi integer, due_date date, remaining bigint,
               step_code text, step_label text, offset_days integer, template text, merchant_number text,
               held_out boolean)
LANGUAGE sql STABLE SECURITY INVOKER AS $$
    SELECT l.id, o.id, o.owner_ref, o.name, l.lease_ref, t.tenant_ref, t.full_name, t.phone, d.mi, d.due_date,
           least(d.amount, d.cum_due - coalesce(pt.paid_total, 0))::bigint,
           st.code, st.label, st.offset_days, st.template, p.merchant_number,
           reminder_held_out(l.lease_ref, p.holdout_salt, p.holdout_share)
      FROM reminder_ladders() st
      JOIN reminder_policies p ON p.owner_id = st.owner_id
      JOIN owners o ON o.id = st.owner_id
      JOIN leases l ON l.owner_id = st.owner_id
      JOIN lease_dues d ON d.lease_id = l.id AND d.due_date = p_day - st.offset_days
      JOIN tenants t ON t.id = l.tenant_id
      LEFT JOIN lease_payment_totals pt ON pt.lease_id = l.id
     WHERE (p_owner_ref IS NULL OR o.owner_ref = p_owner_ref)
       AND (l.end_date IS NULL OR d.due_date <= l.end_date)
       AND d.cum_due - coalesce(pt.paid_total, 0) > 0
     ORDER BY o.owner_ref, st.offset_days, l.lease_ref
$$;
GRANT EXECUTE ON FUNCTION reminder_candidates(date, text) TO akig_read_all, akig_read_owner, akig_write;
GRANT EXECUTE ON FUNCTION reminder_ladders() TO akig_read_all, akig_read_owner, akig_write;

-- What is left to pay of one due now (0 once paid): checked again just before a message leaves.
CREATE FUNCTION reminder_due_remaining(p_lease_id bigint, p_due_mi integer) RETURNS bigint
LANGUAGE sql STABLE SECURITY INVOKER AS $$
    SELECT greatest(0, least(d.amount, d.cum_due - coalesce(pt.paid_total, 0)))::bigint
      FROM lease_dues d LEFT JOIN lease_payment_totals pt ON pt.lease_id = d.lease_id
     WHERE d.lease_id = p_lease_id AND d.mi = p_due_mi
$$;
GRANT EXECUTE ON FUNCTION reminder_due_remaining(bigint, integer) TO akig_write;

-- The messages of one day (created, sent or delivered that Conakry day), newest first, for the reminders
-- page ("what was sent today").
CREATE FUNCTION reminder_messages(p_day date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (message_id bigint, owner_ref text, lease_ref text, tenant_name text, phone text, due_date date,
               step_label text, body text, status text, reason text, attempts integer, created_at timestamptz,
               sent_at timestamptz, delivered_at timestamptz)
LANGUAGE sql STABLE SECURITY INVOKER AS $$
    SELECT m.id, o.owner_ref, l.lease_ref, t.full_name, m.phone, m.due_date, m.step_label, m.body, m.status,
           m.reason, m.attempts, m.created_at, m.sent_at, m.delivered_at
      FROM reminder_outbox m
      JOIN owners o ON o.id = m.owner_id
      JOIN leases l ON l.id = m.lease_id
      JOIN tenants t ON t.id = l.tenant_id
     WHERE (p_owner_ref IS NULL OR o.owner_ref = p_owner_ref)
       AND (timezone('Africa/Conakry', m.created_at)::date = p_day
            OR timezone('Africa/Conakry', m.sent_at)::date = p_day)
     ORDER BY coalesce(m.sent_at, m.created_at) DESC, m.id DESC
$$;
GRANT EXECUTE ON FUNCTION reminder_messages(date, text) TO akig_read_all, akig_read_owner;

-- Reminded against held-out dues, due from p_from to p_to: for each group, the number of dues, their
-- amount, the share of it paid by p_as_of (FIFO), the share paid by the due date, and the mean days from
-- the due date to its full payment (an unpaid due counts up to p_as_of). A due is "reminded" when at least
-- one of its messages left (sent or delivered); "held out" when its lease is in the held-out share.
CREATE FUNCTION reminder_effect(p_from date, p_to date, p_as_of date, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (grp text, dues bigint, amount bigint, collected bigint, collection_rate double precision,
               on_time_rate double precision, mean_days_late double precision)
LANGUAGE sql STABLE SECURITY INVOKER AS $$
    WITH marked AS (
        SELECT m.lease_id, m.due_mi,
               CASE WHEN bool_or(m.status = 'held_out') THEN 'held_out' ELSE 'reminded' END AS grp
          FROM reminder_outbox m
          JOIN owners o ON o.id = m.owner_id
         WHERE m.due_date BETWEEN p_from AND p_to
           AND (p_owner_ref IS NULL OR o.owner_ref = p_owner_ref)
           AND m.status IN ('held_out', 'sent', 'delivered')
         GROUP BY m.lease_id, m.due_mi
    ), dues AS (
        SELECT mk.grp, d.lease_id, d.due_date, d.amount, d.cum_due, d.paid_by_due,
               coalesce((SELECT sum(p.amount) FROM payments p
                          WHERE p.lease_id = d.lease_id AND p.paid_on <= p_as_of), 0) AS paid_then
          FROM marked mk
          JOIN lease_dues d ON d.lease_id = mk.lease_id AND d.mi = mk.due_mi
    ), settled AS (
        SELECT du.*,
               greatest(0, least(du.amount, du.paid_then - (du.cum_due - du.amount))) AS covered,
               (SELECT min(x.paid_on) FROM (
                    SELECT p.paid_on, sum(p.amount) OVER (ORDER BY p.paid_on, p.id) AS running
                      FROM payments p WHERE p.lease_id = du.lease_id AND p.paid_on <= p_as_of) x
                 WHERE x.running >= du.cum_due) AS paid_on
          FROM dues du
    )
    SELECT grp, count(*), sum(amount)::bigint, sum(covered)::bigint,
           sum(covered)::double precision / nullif(sum(amount), 0),
           avg(CASE WHEN paid_by_due >= cum_due THEN 1.0 ELSE 0.0 END)::double precision,
           avg(greatest(0, coalesce(paid_on, p_as_of) - due_date))::double precision
      FROM settled
     GROUP BY grp
     ORDER BY grp DESC
$$;
GRANT EXECUTE ON FUNCTION reminder_effect(date, date, date, text) TO akig_read_all, akig_read_owner;
