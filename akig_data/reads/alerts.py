"""Reads of the business alerts (open ones, and those opened on a day)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from akig_data.reads.registry import TODAY, read, sql_table


@read(depends_on=("alerts",), ttl=60)
def alerts(status: str = "active", owner_ref: str | None = None) -> pa.Table:
    """Business alerts (akig_data.alerts.evaluate): the open ones ("active", most severe first) or the resolved
    ones ("resolved", newest first), with who acknowledged them."""
    from akig_data.errors import InvalidParameter

    if status not in ("active", "resolved"):
        raise InvalidParameter("status must be active or resolved")
    return sql_table(
        "SELECT * FROM alerts(CAST(:status AS text), CAST(:owner_ref AS text))",
        status=status, owner_ref=owner_ref,
    )


@read(depends_on=("alerts",), ttl=60)
def alerts_opened(day: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """The alerts first raised on one day (Conakry date), still open or not: the daily report's "new
    alerts". An owner's are those about his sites, leases and tenants (agents' alerts have no owner)."""
    return sql_table(
        "SELECT * FROM alerts_opened(CAST(:day AS date), CAST(:owner_ref AS text))",
        day=day, owner_ref=owner_ref,
    )
