"""A tenant's personal data: everything we hold about him (export), and forgetting who he is (erase).

Erasing pseudonymises identity and contacts (name, phone, e-mail, the free-text notes of calls and
visits about his leases) and keeps the money history: dues, payments and promises stay, so owners'
totals and the audit of collected money do not change. Both are written to the audit trail.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from akig_data.writes import audit
from akig_data.engine import translated_errors
from akig_data.errors import InvalidParameter
from akig_data.runtime import get_runtime

ERASED_NAME = "Locataire effacé"

_SECTIONS = {
    "leases": """SELECT l.lease_ref, u.unit_ref, s.site_ref, s.name AS site_name, o.owner_ref, l.start_date,
                        l.end_date, l.monthly_rent, l.due_day
                   FROM leases l JOIN units u ON u.id = l.unit_id JOIN sites s ON s.id = l.site_id
                   JOIN owners o ON o.id = l.owner_id WHERE l.tenant_id = :t ORDER BY l.start_date""",
    "payments": """SELECT p.payment_ref, l.lease_ref, p.paid_at, p.amount, p.method, p.receipt_no
                     FROM payments p JOIN leases l ON l.id = p.lease_id WHERE l.tenant_id = :t ORDER BY p.paid_at""",
    "promises": """SELECT p.promise_ref, l.lease_ref, p.created_at, p.due_date, p.amount
                     FROM promises p JOIN leases l ON l.id = p.lease_id WHERE l.tenant_id = :t ORDER BY p.created_at""",
    "calls": """SELECT c.call_ref, l.lease_ref, c.called_at, c.outcome, c.note
                  FROM calls c JOIN leases l ON l.id = c.lease_id WHERE l.tenant_id = :t ORDER BY c.called_at""",
    "visits": """SELECT v.visit_ref, l.lease_ref, v.visited_at, v.outcome, v.lat, v.lon, v.note
                   FROM visits v JOIN leases l ON l.id = v.lease_id WHERE l.tenant_id = :t ORDER BY v.visited_at""",
}


def _tenant_id(conn, tenant_ref: str) -> int:
    tenant_id = conn.execute(sa.text("SELECT id FROM tenants WHERE tenant_ref = :r"), {"r": tenant_ref}).scalar()
    if tenant_id is None:
        raise InvalidParameter(f"Locataire inconnu : {tenant_ref!r}.")
    return tenant_id


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def export_tenant(tenant_ref: str, *, actor: str, address: str = "cli") -> dict[str, Any]:
    """Everything stored about one tenant, as a JSON-ready dict."""
    with translated_errors(), get_runtime().engine.begin() as conn:
        tenant_id = _tenant_id(conn, tenant_ref)
        tenant = conn.execute(sa.text("SELECT tenant_ref, full_name, phone, email FROM tenants WHERE id = :t"),
                              {"t": tenant_id}).mappings().one()
        out: dict[str, Any] = {"tenant": dict(tenant), "exported_at": dt.datetime.now(dt.timezone.utc).isoformat()}
        for name, sql in _SECTIONS.items():
            rows = conn.execute(sa.text(sql), {"t": tenant_id}).mappings().all()
            out[name] = [{k: _jsonable(v) for k, v in row.items()} for row in rows]
        audit.record(conn, actor=actor, action="tenant_export", target=tenant_ref, address=address)
    return json.loads(json.dumps(out, default=str))


def erase_tenant(tenant_ref: str, *, actor: str, address: str = "cli") -> dict[str, int]:
    """Pseudonymise one tenant; returns how many rows were changed per table."""
    runtime = get_runtime()
    with translated_errors(), runtime.engine.begin() as conn:
        tenant_id = _tenant_id(conn, tenant_ref)
        changed = {
            "tenants": conn.execute(sa.text(
                "UPDATE tenants SET full_name = :n, phone = NULL, email = NULL WHERE id = :t"),
                {"n": f"{ERASED_NAME} {tenant_ref}", "t": tenant_id}).rowcount,
            "calls": conn.execute(sa.text(
                "UPDATE calls SET note = NULL WHERE note IS NOT NULL AND lease_id IN "
                "(SELECT id FROM leases WHERE tenant_id = :t)"), {"t": tenant_id}).rowcount,
            "visits": conn.execute(sa.text(
                "UPDATE visits SET note = NULL WHERE note IS NOT NULL AND lease_id IN "
                "(SELECT id FROM leases WHERE tenant_id = :t)"), {"t": tenant_id}).rowcount,
        }
        audit.record(conn, actor=actor, action="tenant_erase", target=tenant_ref, address=address, details=changed)
    runtime.memo.bump(["tenants", "calls", "visits"])
    return changed
