-- Each lease in scope with its tenant: the name and phone shown beside a lease's risk (lease_risk), whose
-- features name leases only (the desk calls the tenants at risk before their due date). SECURITY INVOKER:
-- row-level security keeps an owner to his own leases.
CREATE FUNCTION lease_tenants(p_owner_ref text DEFAULT NULL)
RETURNS TABLE (lease_ref text, tenant_ref text, full_name text, phone text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT l.lease_ref, t.tenant_ref, t.full_name, t.phone
      FROM scoped_leases(p_owner_ref) s
      JOIN leases l ON l.id = s.lease_id
      JOIN tenants t ON t.id = l.tenant_id
$$;

GRANT EXECUTE ON FUNCTION lease_tenants(text) TO akig_read_all, akig_read_owner;
