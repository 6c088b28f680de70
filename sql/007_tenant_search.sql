-- 007: tenant search in PostgreSQL. One box finds tenants by name, phone (with or without +224 and
-- spaces), unit label or site name: accent- and case-insensitive (unaccent), typo-tolerant and
-- prefix-friendly (pg_trgm word similarity: "Dialo" finds "Diallo", "Kei" finds "Keïta"), ranked,
-- paginated, and owner-scoped. GIN trigram indexes on the folded texts keep it fast.

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- Lower case without accents. unaccent() is only STABLE (its dictionary could change); naming the
-- dictionary makes the result depend on the text alone, so the wrapper can be IMMUTABLE and indexed.
CREATE FUNCTION fold_text(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT lower(public.unaccent('public.unaccent'::regdictionary, t))
$$;

-- A phone number's digits without the country code: '+224 622 12 34 56' -> '622123456'.
CREATE FUNCTION phone_digits(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN length(d) > 9 AND d LIKE '224%' THEN substr(d, 4) ELSE d END
      FROM (SELECT regexp_replace(coalesce(t, ''), '[^0-9]', '', 'g') AS d) x
$$;

-- A text usable inside LIKE as a literal (%, _ and \ escaped).
CREATE FUNCTION like_literal(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT replace(replace(replace(t, '\', '\\'), '%', '\%'), '_', '\_')
$$;

CREATE INDEX tenants_name_trgm ON tenants USING gin (fold_text(full_name) gin_trgm_ops);
CREATE INDEX tenants_phone_trgm ON tenants USING gin (phone_digits(phone) gin_trgm_ops);
CREATE INDEX units_label_trgm ON units USING gin (fold_text(label) gin_trgm_ops);
CREATE INDEX sites_name_trgm ON sites USING gin (fold_text(name) gin_trgm_ops);

-- Tenants matching p_q, best first. A name matches when the query is similar to a word of it (three
-- characters or more) or, for one or two characters, starts one of its words; a phone when its digits
-- contain the query's (4 digits or more); a unit or a site when its label/name matches like a name and
-- the tenant has a lease there. With p_owner_ref, only tenants with a lease of that owner, and only that
-- owner's units and sites, are searched. total_matches counts every match, for pagination.
CREATE FUNCTION search_tenants(p_q text, p_owner_ref text DEFAULT NULL, p_limit integer DEFAULT 20,
                               p_offset integer DEFAULT 0)
RETURNS TABLE (tenant_ref text, full_name text, phone text, owner_ref text, site_ref text, site_name text,
               unit_label text, matched_on text, score real, total_matches bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH scope AS (
        SELECT (SELECT o.id FROM owners o WHERE o.owner_ref = p_owner_ref) AS owner_id
    ), hits AS (
        SELECT t.id AS tenant_id, NULL::bigint AS lease_owner,
               word_similarity(fold_text(btrim(p_q)), fold_text(t.full_name)) AS score, 'name' AS matched_on
          FROM tenants t
         WHERE length(btrim(p_q)) >= 3 AND fold_text(btrim(p_q)) <% fold_text(t.full_name)
        UNION ALL
        SELECT t.id, NULL, 0.9, 'name'
          FROM tenants t
         WHERE length(btrim(p_q)) < 3
           AND (fold_text(t.full_name) LIKE like_literal(fold_text(btrim(p_q))) || '%'
                OR fold_text(t.full_name) LIKE '% ' || like_literal(fold_text(btrim(p_q))) || '%')
        UNION ALL
        SELECT t.id, NULL, 1.0, 'phone'
          FROM tenants t
         WHERE length(phone_digits(p_q)) >= 4 AND phone_digits(t.phone) LIKE '%' || phone_digits(p_q) || '%'
        UNION ALL
        SELECT l.tenant_id, l.owner_id, 0.95 * word_similarity(fold_text(btrim(p_q)), fold_text(u.label)), 'unit'
          FROM units u JOIN leases l ON l.unit_id = u.id
         WHERE length(btrim(p_q)) >= 3 AND fold_text(btrim(p_q)) <% fold_text(u.label)
        UNION ALL
        SELECT l.tenant_id, l.owner_id, 0.9 * word_similarity(fold_text(btrim(p_q)), fold_text(s.name)), 'site'
          FROM sites s JOIN leases l ON l.site_id = s.id
         WHERE length(btrim(p_q)) >= 3 AND fold_text(btrim(p_q)) <% fold_text(s.name)
    ), scoped AS (
        SELECT h.* FROM hits h, scope
         WHERE scope.owner_id IS NULL
            OR h.lease_owner = scope.owner_id
            OR (h.lease_owner IS NULL AND EXISTS (
                    SELECT 1 FROM leases l WHERE l.tenant_id = h.tenant_id AND l.owner_id = scope.owner_id))
    ), best AS (
        SELECT DISTINCT ON (s.tenant_id) s.tenant_id, s.score, s.matched_on
          FROM scoped s
         ORDER BY s.tenant_id, s.score DESC, s.matched_on
    ), ranked AS (
        SELECT b.*, count(*) OVER () AS total FROM best b
    ), page AS (
        SELECT r.*, t.tenant_ref, t.full_name, t.phone
          FROM ranked r JOIN tenants t ON t.id = r.tenant_id
         ORDER BY r.score DESC, t.full_name, t.tenant_ref
         LIMIT p_limit OFFSET p_offset
    )
    SELECT p.tenant_ref, p.full_name, p.phone, o.owner_ref, s.site_ref, s.name, u.label, p.matched_on,
           p.score::real, p.total
      FROM page p
      LEFT JOIN LATERAL (
          SELECT l.* FROM leases l, scope
           WHERE l.tenant_id = p.tenant_id AND (scope.owner_id IS NULL OR l.owner_id = scope.owner_id)
           ORDER BY l.start_date DESC LIMIT 1
      ) l ON true
      LEFT JOIN units u ON u.id = l.unit_id
      LEFT JOIN sites s ON s.id = l.site_id
      LEFT JOIN owners o ON o.id = l.owner_id
     ORDER BY p.score DESC, p.full_name, p.tenant_ref
$$;
