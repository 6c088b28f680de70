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
