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
        "SELECT * FROM missions(CAST(:day AS date), CAST(:agent_ref AS text), CAST(:owner_ref AS text))",
        day=day, agent_ref=agent_ref, owner_ref=owner_ref,
    )


@read(depends_on=("missions", "leases", "tenants", "sites", "agents", "calls", "visits", "promises", "payments"))
def agent_day(agent_ref: str, day: dt.date = TODAY) -> pa.Table:
    """One agent's missions of a day in route order, each with the lease's last contact (call or visit)
    and its latest pending promise: the agents' phone app's list (`GET /api/agent/today`). It depends on
    the contacts, promises and payments too, so that a call logged from the phone shows at the next fetch."""
    return sql_table(
        "SELECT * FROM agent_day(CAST(:day AS date), CAST(:agent_ref AS text))",
        day=day, agent_ref=agent_ref,
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
        "SELECT * FROM agent_ranking(CAST(:f AS date), CAST(:t AS date), CAST(:w1 AS double precision),"
        " CAST(:w2 AS double precision), CAST(:w3 AS double precision), CAST(:agent_ref AS text))",
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
        "SELECT * FROM daily_stats(CAST(:day AS date))",
        day=day,
    )


@read(depends_on=("calls", "visits", "promises", "payments", "agents"))
def agent_daily(agent_ref: str, date_from: dt.date = MONTH_START, date_to: dt.date = TODAY) -> pa.Table:
    """One agent's days: calls, right-party contacts, visits, promises and the payments he recorded."""
    from akig_data.errors import InvalidParameter

    if date_to < date_from or (date_to - date_from).days > 366:
        raise InvalidParameter("the window runs forward and is at most one year")
    return sql_table(
        "SELECT * FROM agent_daily(CAST(:agent_ref AS text), CAST(:f AS date), CAST(:t AS date))",
        agent_ref=agent_ref, f=date_from, t=date_to,
    )


@read(depends_on=("missions", "leases", "sites", "agents"))
def agent_routes(day: dt.date = TODAY, agent_ref: str | None = None) -> pa.Table:
    """The day's visits in route order per agent: site, position, ETA, leg, status (no tenant in it)."""
    return sql_table(
        "SELECT * FROM agent_routes(CAST(:day AS date), CAST(:agent_ref AS text))",
        day=day, agent_ref=agent_ref,
    )
