"""A finished month's figures per agent stored once (sql/057), so that the month's leaderboard answers
without computing them again after each write of the days that follow.

Why it stays exact: what month M's figures read is dated in M, or in the 7 days before it (the contacts a
payment is attributed to), or on or before its last day (what a promise due in M was paid); a write to
payments, promises, calls, visits or missions deletes the stored months whose last day is on or after the
earliest date it touches, and a write to leases or agents deletes them all, in the same transaction. The
stored parts are those of agent_performance itself; the score is computed at each read from the weights
the server runs with (AKIG_SCORE_WEIGHTS). The server's scheduled task `agent_months` stores last month
when it is missing (once, on the 1st, and again after a write dated in it)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

import sqlalchemy as sa

from akig_data import clock
from akig_data.runtime import write_transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredMonth:
    month: dt.date
    agents: int
    seconds: float


def stored_months() -> list[dt.date]:
    """The months whose figures are stored, oldest first."""
    with write_transaction() as conn:
        return list(conn.execute(sa.text("SELECT month FROM agent_months ORDER BY month")).scalars())


def store(month: dt.date) -> StoredMonth:
    """Store the figures of the month that holds `month`, in a transaction of its own (as akig_write where
    roles are enforced). Refused for a month that is not over: its figures still move every day."""
    from akig_data.errors import InvalidParameter

    first = month.replace(day=1)
    if (first + dt.timedelta(days=32)).replace(day=1) > clock.today():
        raise InvalidParameter(f"the month of {first} is not over: its figures are not stored")
    started = time.perf_counter()
    with write_transaction() as conn:
        agents = int(conn.execute(sa.text("SELECT agent_month_store(CAST(:m AS date))"), {"m": first}).scalar())
    stored = StoredMonth(first, agents, round(time.perf_counter() - started, 2))
    log.info("agents' figures of %s stored: %d agents, %.1f s", first.strftime("%Y-%m"), agents, stored.seconds)
    return stored


def store_due() -> StoredMonth | None:
    """The scheduled task: store last month's figures unless they are stored already."""
    last_month = (clock.today().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    if last_month in stored_months():
        return None
    return store(last_month)
