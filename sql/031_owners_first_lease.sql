-- 031: the owners read also says when each owner's first lease starts. The daily report refuses a day
-- before any data; it used to ask PostgreSQL for that date on every page that shows the report's card (and
-- with a query of its own, outside sql/), where the owners read is cached like the others.

DROP FUNCTION owners(text);

CREATE FUNCTION owners(p_owner_ref text DEFAULT NULL)
RETURNS TABLE (owner_ref text, name text, phone text, email text, sites integer, first_lease_start date)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER AS $$
    SELECT o.owner_ref, o.name, o.phone, o.email,
           (SELECT count(*)::integer FROM sites s WHERE s.owner_id = o.id),
           (SELECT min(l.start_date) FROM leases l WHERE l.owner_id = o.id)
      FROM owners o
     WHERE p_owner_ref IS NULL OR o.owner_ref = p_owner_ref
     ORDER BY o.name, o.owner_ref
$$;

GRANT EXECUTE ON FUNCTION owners(text) TO akig_read_all, akig_read_owner;
