"""The registered reads. Each is one function here and one SQL function in `sql/` (the money rules
are there, in PostgreSQL, so every client sees the same numbers). Adding a read is adding both.

Every read of owner data takes `owner_ref` (None = every owner) and every row that belongs to one owner
carries it; the agents' reads (performance, leaderboards, daily stats) take `agent_ref` instead.
Money columns are integer GNF, rates floats in 0..1 (collection may exceed 1), NULL/NaN when undefined.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from akig_data.registry import MONTH_START, TODAY, read, sql_table

# The tables whose writes change the ledger (dues come from leases, payments pay them).
LEDGER_TABLES = ("owners", "sites", "units", "tenants", "leases", "payments")


@read(depends_on=("owners", "sites"))
def owners(owner_ref: str | None = None) -> pa.Table:
    """Owners (all, or the one asked for) with the number of their sites; the apps' owner filter lists them."""
    return sql_table(
        "SELECT o.owner_ref, o.name, o.phone, o.email, count(s.id)::integer AS sites"
        " FROM owners o LEFT JOIN sites s ON s.owner_id = o.id"
        " WHERE CAST(:owner_ref AS text) IS NULL OR o.owner_ref = CAST(:owner_ref AS text)"
        " GROUP BY o.id ORDER BY o.name, o.owner_ref",
        owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES)
def arrears_by_lease(as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """Each lease with arrears or credit at as_of: FIFO aging buckets, oldest unpaid due, days late."""
    return sql_table(
        "SELECT * FROM arrears_by_lease(CAST(:as_of AS date), CAST(:owner_ref AS text))",
        as_of=as_of, owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES)
def arrears_by_site(as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """Every site's arrears at as_of, its late leases and its four aging buckets."""
    return sql_table(
        "SELECT * FROM arrears_by_site(CAST(:as_of AS date), CAST(:owner_ref AS text))",
        as_of=as_of, owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES)
def site_kpis(date_from: dt.date = MONTH_START, date_to: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """Per site over [date_from, date_to]: due, collected, collection and punctuality rates; arrears at date_to."""
    _check_period(date_from, date_to)
    return sql_table(
        "SELECT * FROM site_kpis(CAST(:date_from AS date), CAST(:date_to AS date), CAST(:owner_ref AS text))",
        date_from=date_from, date_to=date_to, owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES)
def good_payers(as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """Tenants with a good-payer badge at as_of (gold, silver, bronze) and their on-time ratio over a year."""
    return sql_table(
        "SELECT * FROM good_payers(CAST(:as_of AS date), CAST(:owner_ref AS text))",
        as_of=as_of, owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES + ("promises", "agents"))
def promises(as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """Promises to pay made by as_of, with what was paid toward each and its status (kept, pending, partial, broken)."""
    return sql_table(
        "SELECT * FROM promises(CAST(:as_of AS date), CAST(:owner_ref AS text))",
        as_of=as_of, owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES)
def portfolio_summary(as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """One row: sites, units, occupancy, tenants, arrears and late leases at as_of; the month to date."""
    return sql_table(
        "SELECT * FROM portfolio_summary(CAST(:as_of AS date), CAST(:owner_ref AS text))",
        as_of=as_of, owner_ref=owner_ref,
    )


def _tenant_sql(function: str, tenant_ref: str, as_of: dt.date, owner_ref: str | None) -> pa.Table:
    """The tenant reads share one signature (function names are constants of this module)."""
    return sql_table(
        f"SELECT * FROM {function}(CAST(:tenant_ref AS text), CAST(:as_of AS date), CAST(:owner_ref AS text))",
        tenant_ref=tenant_ref, as_of=as_of, owner_ref=owner_ref,
    )


def _check_period(date_from: dt.date, date_to: dt.date) -> None:
    from akig_data.errors import InvalidParameter

    if date_from > date_to:
        raise InvalidParameter(f"date_from ({date_from}) is after date_to ({date_to})")


# -- the owner dashboard's reads (sql/006_dashboard_reads.sql) -------------------------------------
CONTACT_TABLES = ("calls", "visits", "promises", "agents")


@read(depends_on=("owners", "sites", "units", "leases"))
def sites(owner_ref: str | None = None) -> pa.Table:
    """Sites (all, or one owner's) with their place and number of units; the apps' site filter lists them."""
    return sql_table(
        "SELECT s.site_ref, o.owner_ref, s.name AS site_name, s.commune, s.quartier, s.lat, s.lon,"
        " (SELECT count(*) FROM units u WHERE u.site_id = s.id)::integer AS units"
        " FROM sites s JOIN owners o ON o.id = s.owner_id"
        " WHERE CAST(:owner_ref AS text) IS NULL OR o.owner_ref = CAST(:owner_ref AS text)"
        " ORDER BY s.name, s.site_ref",
        owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES)
def period_kpis(date_from: dt.date = MONTH_START, date_to: dt.date = TODAY, owner_ref: str | None = None,
                site_ref: str | None = None) -> pa.Table:
    """One row: arrears, late leases and tenants at date_to; due, collected and rates over [date_from, date_to]."""
    _check_period(date_from, date_to)
    return sql_table(
        "SELECT * FROM period_kpis(CAST(:date_from AS date), CAST(:date_to AS date), CAST(:owner_ref AS text),"
        " CAST(:site_ref AS text))",
        date_from=date_from, date_to=date_to, owner_ref=owner_ref, site_ref=site_ref,
    )


@read(depends_on=LEDGER_TABLES)
def monthly_trend(as_of: dt.date = TODAY, months: int = 12, owner_ref: str | None = None,
                  site_ref: str | None = None) -> pa.Table:
    """The last `months` months up to as_of (the last one to date): due, collected, collection and punctuality rates."""
    from akig_data.errors import InvalidParameter

    if not 1 <= months <= 120:
        raise InvalidParameter(f"months must be from 1 to 120 (got {months})")
    return sql_table(
        "SELECT * FROM monthly_trend(CAST(:as_of AS date), CAST(:months AS integer), CAST(:owner_ref AS text),"
        " CAST(:site_ref AS text))",
        as_of=as_of, months=months, owner_ref=owner_ref, site_ref=site_ref,
    )


@read(depends_on=LEDGER_TABLES)
def site_units(site_ref: str, as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """A site's units with their tenant at as_of, his arrears and a status (vacant, late, up_to_date)."""
    return sql_table(
        "SELECT * FROM site_units(CAST(:site_ref AS text), CAST(:as_of AS date), CAST(:owner_ref AS text))",
        site_ref=site_ref, as_of=as_of, owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES + CONTACT_TABLES)
def late_tenants(as_of: dt.date = TODAY, owner_ref: str | None = None, site_ref: str | None = None,
                 limit: int | None = None) -> pa.Table:
    """Tenants with arrears at as_of, largest first, with days late and their last call or visit."""
    from akig_data.errors import InvalidParameter

    if limit is not None and not 1 <= limit <= 100_000:
        raise InvalidParameter(f"limit must be from 1 to 100000 (got {limit})")
    return sql_table(
        "SELECT * FROM late_tenants(CAST(:as_of AS date), CAST(:owner_ref AS text), CAST(:site_ref AS text),"
        " CAST(:limit AS integer))",
        as_of=as_of, owner_ref=owner_ref, site_ref=site_ref, limit=limit,
    )


@read(depends_on=LEDGER_TABLES)
def tenant_card(tenant_ref: str, as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """One tenant: identity, contact, his arrears and aging over his leases (of the owner, with owner_ref)."""
    return _tenant_sql("tenant_card", tenant_ref, as_of, owner_ref)


@read(depends_on=LEDGER_TABLES)
def tenant_leases(tenant_ref: str, as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """A tenant's leases with each one's dues, payments, arrears and credit at as_of."""
    return _tenant_sql("tenant_leases", tenant_ref, as_of, owner_ref)


@read(depends_on=LEDGER_TABLES)
def tenant_ledger(tenant_ref: str, as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """Every due and payment of a tenant up to as_of with the running balance and, per due, its unpaid rest (FIFO)."""
    return _tenant_sql("tenant_ledger", tenant_ref, as_of, owner_ref)


@read(depends_on=LEDGER_TABLES + CONTACT_TABLES)
def tenant_timeline(tenant_ref: str, as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """A tenant's calls, visits, promises (with their status) and payments up to as_of, newest first."""
    return _tenant_sql("tenant_timeline", tenant_ref, as_of, owner_ref)


@read(depends_on=("owners", "sites", "units", "tenants", "leases"))
def search_tenants(q: str, owner_ref: str | None = None, limit: int = 20, offset: int = 0) -> pa.Table:
    """Tenants by name, phone, unit label or site name: accent-insensitive, typo-tolerant, ranked, paginated."""
    from akig_data.errors import InvalidParameter

    text = q.strip()
    if not text:
        raise InvalidParameter("q must not be empty")
    if len(text) > 200:
        raise InvalidParameter(f"q is too long ({len(text)} characters, at most 200)")
    if "\x00" in text:
        raise InvalidParameter("q must not contain NUL characters")
    if not 1 <= limit <= 100:
        raise InvalidParameter(f"limit must be from 1 to 100 (got {limit})")
    if not 0 <= offset <= 10_000:
        raise InvalidParameter(f"offset must be from 0 to 10000 (got {offset})")
    return sql_table(
        "SELECT * FROM search_tenants(CAST(:q AS text), CAST(:owner_ref AS text), CAST(:limit AS integer),"
        " CAST(:offset AS integer))",
        q=text, owner_ref=owner_ref, limit=limit, offset=offset,
    )


@read(depends_on=LEDGER_TABLES)
def punctuality_by_cohort(date_from: dt.date = MONTH_START, date_to: dt.date = TODAY,
                          owner_ref: str | None = None) -> pa.Table:
    """Leases grouped by the month they started: their dues in [date_from, date_to] and the share paid on time."""
    _check_period(date_from, date_to)
    return sql_table(
        "SELECT * FROM punctuality_by_cohort(CAST(:date_from AS date), CAST(:date_to AS date),"
        " CAST(:owner_ref AS text))",
        date_from=date_from, date_to=date_to, owner_ref=owner_ref,
    )


@read(depends_on=("missions", "leases", "tenants", "sites", "agents"))
def missions(day: dt.date = TODAY, agent_ref: str | None = None, owner_ref: str | None = None) -> pa.Table:
    """The day's missions: agent, route order, call or visit, tenant, phone, site, arrears, ETA, status."""
    return sql_table(
        "SELECT m.mission_ref, a.agent_ref, a.full_name AS agent_name, m.kind, m.route_order, m.eta, m.leg_m,"
        " m.reason, m.arrears, m.chance, m.priority, m.status, m.done_at, m.outcome, l.lease_ref, t.tenant_ref,"
        " t.full_name, t.phone, s.site_ref, s.name AS site_name, s.commune, s.quartier, s.lat, s.lon, o.owner_ref"
        " FROM missions m JOIN agents a ON a.id = m.agent_id JOIN leases l ON l.id = m.lease_id"
        " JOIN tenants t ON t.id = l.tenant_id JOIN sites s ON s.id = l.site_id JOIN owners o ON o.id = l.owner_id"
        " WHERE m.day = CAST(:day AS date)"
        " AND (CAST(:agent_ref AS text) IS NULL OR a.agent_ref = CAST(:agent_ref AS text))"
        " AND (CAST(:owner_ref AS text) IS NULL OR o.owner_ref = CAST(:owner_ref AS text))"
        " ORDER BY a.agent_ref, m.kind DESC, m.route_order",
        day=day, agent_ref=agent_ref, owner_ref=owner_ref,
    )


PERFORMANCE_TABLES = ("agents", "missions", "calls", "visits", "promises", "payments", "leases")


def _performance(date_from: dt.date, date_to: dt.date, agent_ref: str | None) -> pa.Table:
    from akig_data.errors import InvalidParameter
    from akig_data.runtime import get_runtime

    if date_to < date_from:
        raise InvalidParameter("date_to must not be before date_from")
    if (date_to - date_from).days > 366:
        raise InvalidParameter("the window is at most one year")
    w = get_runtime().settings.score_weights
    return sql_table(
        "SELECT * FROM agent_performance(CAST(:f AS date), CAST(:t AS date), :w1, :w2, :w3)"
        " WHERE CAST(:agent_ref AS text) IS NULL OR agent_ref = CAST(:agent_ref AS text)"
        " ORDER BY score DESC, collected DESC, agent_ref",
        f=date_from, t=date_to, w1=w[0], w2=w[1], w3=w[2], agent_ref=agent_ref,
    )


@read(depends_on=PERFORMANCE_TABLES)
def agent_performance(date_from: dt.date = MONTH_START, date_to: dt.date = TODAY,
                      agent_ref: str | None = None) -> pa.Table:
    """Per agent over a window: missions planned/done, calls, right-party contacts, visits with proof,
    promises obtained and kept, amount collected (attributed), and the score 0-100, best first."""
    return _performance(date_from, date_to, agent_ref)


@read(depends_on=PERFORMANCE_TABLES)
def leaderboard(day: dt.date = TODAY) -> pa.Table:
    """The day's ranking of the agents by score (rank 1 first)."""
    return _ranked(_performance(day, day, None))


@read(depends_on=PERFORMANCE_TABLES)
def leaderboard_month(month: dt.date = MONTH_START) -> pa.Table:
    """The month's ranking (month = any day of it; up to today for the current month)."""
    from akig_data.registry import today

    start = month.replace(day=1)
    end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return _ranked(_performance(start, min(end, max(start, today())), None))


def _ranked(table: pa.Table) -> pa.Table:
    return table.append_column("rank", pa.array(range(1, table.num_rows + 1), pa.int64()))


@read(depends_on=("calls", "visits", "promises", "payments", "agents"))
def daily_stats(day: dt.date = TODAY) -> pa.Table:
    """The day's work by agent and in total (agent_ref NULL, is_total): calls, right-party contacts,
    visits (with proof), promises obtained (count, amount), money collected (every payment of the day;
    by agent: the payments he recorded)."""
    return sql_table(
        "WITH ev AS ("
        "  SELECT agent_id, 1 AS calls, (outcome IN ('reached','promise','paid'))::int AS rpc, 0 AS visits, 0 AS proofs,"
        "         0 AS promises, 0::bigint AS promised, 0::bigint AS collected"
        "    FROM calls WHERE (called_at AT TIME ZONE 'Africa/Conakry')::date = CAST(:day AS date)"
        "  UNION ALL SELECT agent_id, 0, (outcome IN ('reached','promise','paid'))::int, 1,"
        "         coalesce(proof, distance_m <= 200)::int, 0, 0, 0"
        "    FROM visits WHERE (visited_at AT TIME ZONE 'Africa/Conakry')::date = CAST(:day AS date)"
        "  UNION ALL SELECT agent_id, 0, 0, 0, 0, 1, amount, 0 FROM promises WHERE created_on = CAST(:day AS date)"
        "  UNION ALL SELECT agent_id, 0, 0, 0, 0, 0, 0, amount FROM payments WHERE paid_on = CAST(:day AS date)"
        ")"
        " SELECT CASE WHEN grouping(a.agent_ref) = 1 THEN NULL ELSE a.agent_ref END AS agent_ref,"
        "        CASE WHEN grouping(a.agent_ref) = 1 THEN 'Total' ELSE coalesce(a.full_name, 'Sans agent') END AS agent_name,"
        "        (grouping(a.agent_ref) = 1) AS is_total,"
        "        sum(calls)::integer AS calls, sum(rpc)::integer AS right_party_contacts, sum(visits)::integer AS visits,"
        "        sum(proofs)::integer AS visits_with_proof, sum(promises)::integer AS promises,"
        "        sum(promised)::bigint AS promised, sum(collected)::bigint AS collected"
        "   FROM ev LEFT JOIN agents a ON a.id = ev.agent_id"
        "  GROUP BY GROUPING SETS ((a.agent_ref, a.full_name), ())"
        "  ORDER BY is_total, collected DESC, agent_ref",
        day=day,
    )


@read(depends_on=("calls", "visits", "promises", "payments", "agents"))
def agent_daily(agent_ref: str, date_from: dt.date = MONTH_START, date_to: dt.date = TODAY) -> pa.Table:
    """One agent's days: calls, right-party contacts, visits, promises and the payments he recorded."""
    from akig_data.errors import InvalidParameter

    if date_to < date_from or (date_to - date_from).days > 366:
        raise InvalidParameter("the window runs forward and is at most one year")
    return sql_table(
        "WITH a AS (SELECT id FROM agents WHERE agent_ref = CAST(:agent_ref AS text)),"
        " ev AS ("
        "  SELECT (called_at AT TIME ZONE 'Africa/Conakry')::date AS day, 1 AS calls,"
        "         (outcome IN ('reached','promise','paid'))::int AS rpc, 0 AS visits, 0 AS promises, 0::bigint AS collected"
        "    FROM calls WHERE agent_id = (SELECT id FROM a)"
        "  UNION ALL SELECT (visited_at AT TIME ZONE 'Africa/Conakry')::date, 0,"
        "         (outcome IN ('reached','promise','paid'))::int, 1, 0, 0 FROM visits WHERE agent_id = (SELECT id FROM a)"
        "  UNION ALL SELECT created_on, 0, 0, 0, 1, 0 FROM promises WHERE agent_id = (SELECT id FROM a)"
        "  UNION ALL SELECT paid_on, 0, 0, 0, 0, amount FROM payments WHERE agent_id = (SELECT id FROM a))"
        " SELECT d::date AS day, coalesce(sum(ev.calls), 0)::integer AS calls,"
        "        coalesce(sum(ev.rpc), 0)::integer AS right_party_contacts, coalesce(sum(ev.visits), 0)::integer AS visits,"
        "        coalesce(sum(ev.promises), 0)::integer AS promises, coalesce(sum(ev.collected), 0)::bigint AS collected"
        "   FROM generate_series(CAST(:f AS date), CAST(:t AS date), interval '1 day') d"
        "   LEFT JOIN ev ON ev.day = d::date GROUP BY d ORDER BY d",
        agent_ref=agent_ref, f=date_from, t=date_to,
    )


# -- the live map (sql/013_live_map.sql) ---------------------------------------------------------------

@read(depends_on=LEDGER_TABLES + ("calls", "visits"))
def late_sites(as_of: dt.date = TODAY, owner_ref: str | None = None, commune: str | None = None,
               min_arrears: int = 0, min_days_late: int = 0) -> pa.Table:
    """Sites with arrears, for the map: tenants late, arrears, days since the oldest unpaid due, last
    call or visit; filtered by commune, minimum arrears (GNF) and minimum days late."""
    from akig_data.errors import InvalidParameter

    if min_arrears < 0 or min_days_late < 0:
        raise InvalidParameter("min_arrears and min_days_late must not be negative")
    return sql_table(
        "SELECT * FROM map_late_sites(CAST(:as_of AS date), CAST(:owner_ref AS text))"
        " WHERE (CAST(:commune AS text) IS NULL OR commune = CAST(:commune AS text))"
        " AND arrears >= :min_arrears AND days_late >= :min_days_late",
        as_of=as_of, owner_ref=owner_ref, commune=commune, min_arrears=min_arrears, min_days_late=min_days_late,
    )


@read(depends_on=("missions", "leases", "sites", "agents"))
def agent_routes(day: dt.date = TODAY, agent_ref: str | None = None) -> pa.Table:
    """The day's visits in route order per agent: site, position, ETA, leg, status (no tenant in it)."""
    return sql_table(
        "SELECT a.agent_ref, a.full_name AS agent_name, m.mission_ref, m.kind, m.route_order, m.eta, m.leg_m,"
        " m.status, m.done_at, s.site_ref, s.name AS site_name, s.commune, s.lat, s.lon"
        " FROM missions m JOIN agents a ON a.id = m.agent_id JOIN leases l ON l.id = m.lease_id"
        " JOIN sites s ON s.id = l.site_id"
        " WHERE m.day = CAST(:day AS date) AND m.kind = 'visit'"
        " AND (CAST(:agent_ref AS text) IS NULL OR a.agent_ref = CAST(:agent_ref AS text))"
        " ORDER BY a.agent_ref, m.route_order",
        day=day, agent_ref=agent_ref,
    )


@read(depends_on=("alerts",), ttl=60)
def alerts(status: str = "active", owner_ref: str | None = None) -> pa.Table:
    """Business alerts (akig_data.alerts): the open ones ("active", most severe first) or the resolved
    ones ("resolved", newest first), with who acknowledged them."""
    from akig_data.errors import InvalidParameter

    if status not in ("active", "resolved"):
        raise InvalidParameter("status must be active or resolved")
    return sql_table(
        "SELECT id, rule, severity, title, object_kind, object_ref, owner_ref, detail, value, first_seen, last_seen,"
        " resolved_at, ack_by, ack_at, ack_comment,"
        # what to open for it: a lease's tenant card, a visit's agent on the map, else the object itself
        " CASE object_kind WHEN 'lease' THEN (SELECT t.tenant_ref FROM leases l JOIN tenants t ON t.id = l.tenant_id"
        "                                     WHERE l.lease_ref = a.object_ref)"
        "   WHEN 'visit' THEN (SELECT g.agent_ref FROM visits v JOIN agents g ON g.id = v.agent_id"
        "                      WHERE v.visit_ref = a.object_ref)"
        "   ELSE object_ref END AS link_ref FROM alerts a"
        " WHERE (resolved_at IS NULL) = (CAST(:status AS text) = 'active')"
        " AND (CAST(:owner_ref AS text) IS NULL OR owner_ref = CAST(:owner_ref AS text))"
        " ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, coalesce(resolved_at, last_seen) DESC,"
        " id DESC LIMIT 5000",
        status=status, owner_ref=owner_ref,
    )


@read(depends_on=("alerts",), ttl=60)
def alerts_opened(day: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """The alerts first raised on one day (Conakry date), still open or not: the daily report's "new
    alerts". An owner's are those about his sites, leases and tenants (agents' alerts have no owner)."""
    return sql_table(
        "SELECT id, rule, severity, title, object_kind, object_ref, owner_ref, detail, first_seen, resolved_at"
        " FROM alerts WHERE first_seen >= CAST(:day AS date)::timestamp AT TIME ZONE 'Africa/Conakry'"
        " AND first_seen < (CAST(:day AS date) + 1)::timestamp AT TIME ZONE 'Africa/Conakry'"
        " AND (CAST(:owner_ref AS text) IS NULL OR owner_ref = CAST(:owner_ref AS text))"
        " ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, first_seen, id",
        day=day, owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES)
def collections_by_site(day: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """Money collected on one day by site and payment method (the daily report)."""
    return sql_table(
        "SELECT s.site_ref, s.name AS site_name, o.owner_ref, p.method, count(*)::integer AS payments,"
        " sum(p.amount)::bigint AS collected"
        " FROM payments p JOIN leases l ON l.id = p.lease_id JOIN sites s ON s.id = l.site_id"
        " JOIN owners o ON o.id = l.owner_id"
        " WHERE p.paid_on = CAST(:day AS date)"
        " AND (CAST(:owner_ref AS text) IS NULL OR o.owner_ref = CAST(:owner_ref AS text))"
        " GROUP BY s.site_ref, s.name, o.owner_ref, p.method ORDER BY collected DESC, s.site_ref, p.method",
        day=day, owner_ref=owner_ref,
    )
