"""Monthly partitions of the two tables that only grow: agents' GPS fixes (`agent_positions`, sql/015) and
payments (sql/016). A row whose month has no partition lands in the table's DEFAULT partition, so a write
never fails for want of one; `ensure` creates the coming months and moves such rows into their month.
The server runs it daily; `akig demo seed` runs it first with the data's first day, so rows go straight
into their partitions, and `akig import` runs it after loading, moving whatever old rows the files held."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from akig_data.engine import translated_errors
from akig_data.runtime import get_runtime

# table -> its SECURITY DEFINER maintainer (callable by akig_write)
MAINTAINERS = {"agent_positions": "ensure_position_partitions", "payments": "ensure_payment_partitions"}
MONTHS_AHEAD = 2


def ensure_on(conn: sa.Connection, since: dt.date | None = None) -> dict[str, int]:
    """In the caller's transaction: partitions from `since` (default: the oldest row waiting in a DEFAULT
    partition, at most a month back) to MONTHS_AHEAD months ahead; returns how many each table got."""
    created = {}
    for table, function in MAINTAINERS.items():
        created[table] = int(conn.execute(
            sa.text(f"SELECT {function}((now() + make_interval(months => :ahead))::date, CAST(:since AS date))"),
            {"ahead": MONTHS_AHEAD, "since": since}).scalar())
    return created


def ensure() -> dict[str, int]:
    """The daily task: `ensure_on` in a transaction of its own, as akig_write where roles are enforced."""
    runtime = get_runtime()
    with translated_errors(), runtime.engine.begin() as conn:
        if runtime.settings.row_security:
            conn.execute(sa.text("SELECT set_config('role', 'akig_write', true)"))
        return ensure_on(conn)
