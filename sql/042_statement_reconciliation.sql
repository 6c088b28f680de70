-- Mobile-money reconciliation: the transfers of an owner's merchant statements (Orange Money, MTN MoMo),
-- each matched to a lease and booked as a payment, or kept for a manager to review
-- (akig_data/writes/reconciliation.py).
--
-- * statement_imports: one row per statement file imported (who, when, which owner, its SHA-256).
-- * statement_lines: one row per transfer, unique per operator and transaction id: importing the same
--   statement twice, or two statements that overlap, books nothing twice (the second INSERT of a
--   transaction id does nothing, in the transaction that would have booked it).
--   status: booked (a payment holds it: payment_ref), review (waiting for a manager: candidates and
--   reason say why), rejected (a manager's decision), reversed (the operator cancelled the transfer:
--   never booked, or its payment taken back).
-- * unbook_statement_payment(line): the one way the writing role can delete a payment: the payment a
--   statement line booked, when the operator reversed that transfer (the role has no DELETE on payments).

CREATE TABLE statement_imports (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    operator     text NOT NULL CHECK (operator IN ('orange_money', 'mtn_momo')),
    owner_id     bigint NOT NULL REFERENCES owners (id),
    file_name    text NOT NULL,
    file_sha256  text NOT NULL,
    lines        integer NOT NULL CHECK (lines >= 0),
    imported_by  text NOT NULL,
    imported_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE statement_lines (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    import_id       bigint NOT NULL REFERENCES statement_imports (id),
    owner_id        bigint NOT NULL REFERENCES owners (id),
    operator        text NOT NULL CHECK (operator IN ('orange_money', 'mtn_momo')),
    transaction_id  text NOT NULL CHECK (transaction_id <> ''),
    line_no         integer NOT NULL,
    occurred_at     timestamptz NOT NULL,
    sender_phone    text,            -- the national number (9 digits) when the statement's number is Guinean
    sender_shown    text,            -- the number as the statement shows it
    sender_name     text,
    amount          bigint NOT NULL CHECK (amount > 0),
    reference_text  text,
    status          text NOT NULL CHECK (status IN ('booked', 'review', 'rejected', 'reversed')),
    match_rule      text CHECK (match_rule IN ('reference', 'phone', 'manual', 'existing')),
    lease_id        bigint REFERENCES leases (id),
    payment_ref     text,
    candidates      bigint[] NOT NULL DEFAULT '{}',   -- leases a manager is offered, most likely first
    reason          text,                              -- why a manager must look (French)
    decided_by      text,
    decided_at      timestamptz,
    UNIQUE (operator, transaction_id),
    CHECK (status <> 'booked' OR (lease_id IS NOT NULL AND payment_ref IS NOT NULL))
);
CREATE INDEX statement_lines_status ON statement_lines (status, owner_id, occurred_at);
CREATE INDEX statement_lines_import ON statement_lines (import_id);

ALTER TABLE statement_imports ENABLE ROW LEVEL SECURITY;
ALTER TABLE statement_lines ENABLE ROW LEVEL SECURITY;
CREATE POLICY statement_imports_all ON statement_imports TO akig_read_all USING (true);
CREATE POLICY statement_lines_all ON statement_lines TO akig_read_all USING (true);
CREATE POLICY statement_imports_write ON statement_imports TO akig_write USING (true) WITH CHECK (true);
CREATE POLICY statement_lines_write ON statement_lines TO akig_write USING (true) WITH CHECK (true);
-- A manager's read scoped to one owner (owner_ref given) runs as akig_read_owner: that owner's lines only.
CREATE POLICY statement_imports_owner ON statement_imports TO akig_read_owner
    USING (owner_id = (SELECT akig_scope_owner_id()));
CREATE POLICY statement_lines_owner ON statement_lines TO akig_read_owner
    USING (owner_id = (SELECT akig_scope_owner_id()));
GRANT SELECT ON statement_imports, statement_lines TO akig_read_all, akig_read_owner;
GRANT SELECT, INSERT ON statement_imports TO akig_write;
GRANT SELECT, INSERT, UPDATE ON statement_lines TO akig_write;

-- The payment a booked line made, deleted when the operator reversed the transfer; the line becomes
-- 'reversed'. Returns the payment's reference (NULL when the line had booked nothing). Runs as the
-- migrations' owner: the writing role may delete no other payment.
CREATE FUNCTION unbook_statement_payment(p_line_id bigint) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_ref text;
    v_lease bigint;
BEGIN
    SELECT payment_ref, lease_id INTO v_ref, v_lease
      FROM statement_lines WHERE id = p_line_id AND status = 'booked' FOR UPDATE;
    IF v_ref IS NULL THEN
        RETURN NULL;
    END IF;
    DELETE FROM payments WHERE payment_ref = v_ref AND lease_id = v_lease;
    UPDATE statement_lines SET status = 'reversed' WHERE id = p_line_id;
    RETURN v_ref;
END;
$$;
REVOKE EXECUTE ON FUNCTION unbook_statement_payment(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION unbook_statement_payment(bigint) TO akig_write;

-- The statement lines of one status (all of them when NULL), newest first, with the lease they were booked
-- to and the leases a manager is offered (reference, tenant and rent, "; "-separated). For the desk's
-- reconciliation tab: those who reconcile see every owner (SECURITY INVOKER: the read role's policies).
CREATE FUNCTION statement_lines(p_status text DEFAULT NULL, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (line_id bigint, owner_ref text, operator text, transaction_id text, occurred_at timestamptz,
               sender_shown text, sender_name text, amount bigint, reference_text text, status text,
               match_rule text, lease_ref text, tenant_name text, payment_ref text, candidates text,
               candidate_refs text[], reason text, decided_by text, decided_at timestamptz, file_name text,
               imported_at timestamptz)
LANGUAGE sql STABLE SECURITY INVOKER AS $$
    SELECT sl.id, o.owner_ref, sl.operator, sl.transaction_id, sl.occurred_at, sl.sender_shown, sl.sender_name,
           sl.amount, sl.reference_text, sl.status, sl.match_rule, l.lease_ref, t.full_name, sl.payment_ref,
           (SELECT string_agg(cl.lease_ref || ' — ' || ct.full_name || ' (' || cl.monthly_rent || ' GNF/mois)',
                              '; ' ORDER BY c.ord)
              FROM unnest(sl.candidates) WITH ORDINALITY c(lease_id, ord)
              JOIN leases cl ON cl.id = c.lease_id JOIN tenants ct ON ct.id = cl.tenant_id),
           ARRAY(SELECT cl.lease_ref FROM unnest(sl.candidates) WITH ORDINALITY c(lease_id, ord)
                   JOIN leases cl ON cl.id = c.lease_id ORDER BY c.ord),
           sl.reason, sl.decided_by, sl.decided_at, si.file_name, si.imported_at
      FROM statement_lines sl
      JOIN owners o ON o.id = sl.owner_id
      JOIN statement_imports si ON si.id = sl.import_id
      LEFT JOIN leases l ON l.id = sl.lease_id
      LEFT JOIN tenants t ON t.id = l.tenant_id
     WHERE (p_status IS NULL OR sl.status = p_status)
       AND (p_owner_ref IS NULL OR o.owner_ref = p_owner_ref)
     ORDER BY sl.occurred_at DESC, sl.id DESC
$$;
GRANT EXECUTE ON FUNCTION statement_lines(text, text) TO akig_read_all, akig_read_owner;
