-- 048: each payment carries its lease's owner, so that an owner's reads of payments are filtered by a value
-- instead of by the list of his leases built again for each of the 69 monthly partitions.
--
-- The owner's row-level security on payments was every ledger table's, `lease_id IN (SELECT id FROM leases)`.
-- On a partitioned table PostgreSQL gives each partition's scan its own copy of that hashed sub-plan, and
-- builds it when the partition is first read: an owner's tenant ledger at `large` scale (a tenant's 234 dues
-- and payments) built the list of OWN-0001's 5,501 leases 60 times, 84 ms of its 97 under `EXPLAIN ANALYZE`
-- (10 ms for every owner). `owner_id = (SELECT akig_scope_owner_id())` is evaluated once per statement.
--
-- payments.owner_id is kept by triggers, never written by the application: set from the lease when a payment
-- is inserted or moved to another lease, and moved with the lease when the lease changes owner (its unit or
-- site moved: 001's triggers move the lease). payments_owner_drift must stay empty.

ALTER TABLE payments ADD COLUMN owner_id bigint;

-- The existing payments, without firing the ledger's triggers (nothing they derive depends on the owner).
ALTER TABLE payments DISABLE TRIGGER USER;
UPDATE payments p SET owner_id = l.owner_id FROM leases l WHERE l.id = p.lease_id;
ALTER TABLE payments ENABLE TRIGGER USER;
ALTER TABLE payments ALTER COLUMN owner_id SET NOT NULL;

-- That update wrote a new version of every payment, and so a second entry in each of its indexes. Rebuilt
-- (partition by partition: a partitioned table is reindexed only outside a transaction), they are back to
-- their size (1,145 -> 536 MB at `large` scale) and a payment's insert, whose triggers probe them for the
-- lease's dues and promises, to its time (44-46 -> 25-31 ms a payment, one by one).
DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'payments'::regclass LOOP
        EXECUTE format('REINDEX TABLE %s', part);
    END LOOP;
END $$;

CREATE FUNCTION payments_set_owner() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    NEW.owner_id := (SELECT l.owner_id FROM leases l WHERE l.id = NEW.lease_id);
    RETURN NEW;
END $$;
-- Named to fire before the other BEFORE triggers on payments (alphabetical order).
CREATE TRIGGER payments_aa_set_owner BEFORE INSERT OR UPDATE ON payments
    FOR EACH ROW EXECUTE FUNCTION payments_set_owner();

CREATE FUNCTION leases_move_payments() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE payments p SET owner_id = n.owner_id
      FROM new_rows n
     WHERE p.lease_id = n.id AND p.owner_id IS DISTINCT FROM n.owner_id;
    RETURN NULL;
END $$;
CREATE TRIGGER leases_move_payments AFTER UPDATE ON leases
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION leases_move_payments();
REVOKE EXECUTE ON FUNCTION payments_set_owner(), leases_move_payments() FROM PUBLIC;

DROP POLICY payments_owner ON payments;
CREATE POLICY payments_owner ON payments TO akig_read_owner USING (owner_id = (SELECT akig_scope_owner_id()));

-- A self-check for the tests: payments whose owner is not their lease's.
CREATE VIEW payments_owner_drift AS
SELECT p.id, p.lease_id, p.owner_id, l.owner_id AS lease_owner_id
  FROM payments p JOIN leases l ON l.id = p.lease_id
 WHERE p.owner_id IS DISTINCT FROM l.owner_id;
REVOKE ALL ON payments_owner_drift FROM akig_read_all, akig_read_owner;

-- The checks a read makes of its arguments, as probes: an owner's and a site's existence in the caller's
-- scope (they were the whole owners and sites reads, computed again whenever a lease changed: 20 and 33 ms
-- at `large` scale before an owner's read could start).
CREATE FUNCTION scoped_owner(p_owner_ref text)
RETURNS TABLE (owner_ref text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT o.owner_ref FROM owners o WHERE o.owner_ref = p_owner_ref
$$;

CREATE FUNCTION scoped_site(p_site_ref text, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (site_ref text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT s.site_ref
      FROM sites s
     WHERE s.site_ref = p_site_ref
       AND (p_owner_ref IS NULL OR s.owner_id = (SELECT o.id FROM owners o WHERE o.owner_ref = p_owner_ref))
$$;

GRANT EXECUTE ON FUNCTION scoped_owner(text), scoped_site(text, text) TO akig_read_all, akig_read_owner;
