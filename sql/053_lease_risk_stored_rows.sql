-- 053: lease_risk from the day's stored run, for every owner (68,797 rows at `large` scale), spent a third of
-- its SQL in the sort by the run's order: the rows carry their reasons (French sentences), so the 68,797
-- did not fit the reads' 16 MB and were sorted on disk (external merge, 15 MB), after a hash join to the
-- tenants. PostgreSQL does not take the rows in order from the (run_id, ord) index instead: several runs
-- share the table, so ord does not follow the rows' place on disk.
--
-- The function now hands over each row's place in the order (ord) and no order: the data layer orders the
-- rows by it in Arrow, in memory, and drops the column (akig_data/reads/risk.py). The read's columns, rows
-- and order are unchanged. Through the data layer: 250 -> 190 ms for every owner.

DROP FUNCTION lease_risk_stored(bigint, text);

-- lease_risk's rows from a stored run, with their place in its order and the lease's tenant as he is now.
CREATE FUNCTION lease_risk_stored_rows(p_run_id bigint, p_owner_ref text DEFAULT NULL)
RETURNS TABLE (ord integer, lease_ref text, tenant_ref text, full_name text, phone text, site_ref text,
               owner_ref text, next_due_date date, next_due_amount bigint, p_late_10 double precision,
               p_late_30 double precision, reasons text, model text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT s.ord, s.lease_ref, t.tenant_ref, t.full_name, t.phone, s.site_ref, s.owner_ref, s.next_due_date,
           s.next_due_amount, s.p_late_10, s.p_late_30,
           CASE WHEN p_owner_ref IS NULL THEN s.reasons_all ELSE s.reasons_owner END, s.model
      FROM lease_risk_stored s
      LEFT JOIN tenants t ON t.id = s.tenant_id
     WHERE s.run_id = p_run_id
       AND (p_owner_ref IS NULL OR s.owner_id = (SELECT o.id FROM owners o WHERE o.owner_ref = p_owner_ref))
$$;

GRANT EXECUTE ON FUNCTION lease_risk_stored_rows(bigint, text) TO akig_read_all, akig_read_owner;
