"""Reads of the collection team: missions, routes, performance, leaderboards, daily figures."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from akig_data.reads.registry import MONTH_START, TODAY, read, sql_table
from akig_data.reads.shared import PERFORMANCE_TABLES


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
    from akig_data.clock import today

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
