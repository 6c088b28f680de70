-- 048: each payment carries its lease's owner, so that an owner's reads of payments are filtered by a value
-- instead of by the list of his leases built again for each of the 69 monthly partitions.
--
-- The owner's row-level security on payments was every ledger table's, `lease_id IN (SELECT id FROM leases)`.
-- On a partitioned table PostgreSQL gives each partition's scan its own copy of that hashed sub-plan, and
-- builds it when the partition is first read: an owner's tenant ledger at `large` scale (a tenant's 234 dues
-- and payments) built the list of OWN-0001's 5,501 leases 60 times, 84 ms of its 97 under `EXPLAIN ANALYZE`
-- (10 ms for every owner). `owner_id = (SELECT akig_scope_owner_id())` is evaluated once per statement.
--
-- payments.owner_id is written with the payment by the data layer (akig_data/writes: a payment recorded, the
-- bulk loader), and a foreign key with its lease, (lease_id, owner_id) -> leases (id, owner_id), refuses any
-- other owner and moves it with the lease when the lease changes owner (ON UPDATE CASCADE; 001's triggers move
-- a lease with its unit or site). A payment written without it (by hand) is filtered by its lease, as before:
-- the policy's second branch, whose list of leases PostgreSQL builds only if such a payment is met. (A
-- trigger setting the column on each row was tried: with any BEFORE ROW trigger on payments, PostgreSQL 18
-- inserted the demo data set's 136,642 payments in 73-78 s instead of 7.)

ALTER TABLE payments ADD COLUMN owner_id bigint;

-- The existing payments, without firing the ledger's triggers (nothing they derive depends on the owner).
ALTER TABLE payments DISABLE TRIGGER USER;
UPDATE payments p SET owner_id = l.owner_id FROM leases l WHERE l.id = p.lease_id;
ALTER TABLE payments ENABLE TRIGGER USER;

-- (049 rebuilds the indexes that update doubled.)

ALTER TABLE leases ADD CONSTRAINT leases_id_owner_key UNIQUE (id, owner_id);
ALTER TABLE payments ADD CONSTRAINT payments_lease_owner_fkey FOREIGN KEY (lease_id, owner_id)
    REFERENCES leases (id, owner_id) ON UPDATE CASCADE;

DROP POLICY payments_owner ON payments;
CREATE POLICY payments_owner ON payments TO akig_read_owner
    USING (owner_id = (SELECT akig_scope_owner_id())
           OR (owner_id IS NULL AND lease_id IN (SELECT id FROM leases)));

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
