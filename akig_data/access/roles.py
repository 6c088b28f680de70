"""The six roles and what each may open, read, export and call: the one access table.

The server, the HTTP API and the data layer all ask this module; the access table of
docs/reference/access.md is generated from it (`markdown_table()`, by docs/generate.py), and tests/dashboards/server/test_access_table.py walks every cell
against the running server. A later app adds its path here and nowhere else.
"""

from __future__ import annotations

ROLES = ("admin", "manager", "owner", "agent", "analyst", "ops")
ROLE_LABELS = {
    "admin": "administrateur", "manager": "responsable", "owner": "propriétaire",
    "agent": "agent", "analyst": "analyste", "ops": "exploitation",
}

# Reads about sites and money totals: no tenant's name or phone in them.
SITE_READS = frozenset({"late_sites", "collections_by_site", "arrears_by_site", "site_kpis", "period_kpis", "monthly_trend", "portfolio_summary",
                        "sites", "owners", "cash_forecast", "reminder_effect"})
# Reads that name tenants (names, phones, ledgers).
TENANT_READS = frozenset({"arrears_by_lease", "good_payers", "late_tenants", "promises", "punctuality_by_cohort",
                          "search_tenants", "site_units", "tenant_card", "tenant_leases", "tenant_ledger",
                          "tenant_timeline", "missions", "lease_risk"})
# Agents' results: no tenant in them.
TEAM_READS = frozenset({"agent_performance", "agent_daily", "leaderboard", "leaderboard_month", "daily_stats"})
# The day's routes (agent, stop order, site, ETA, status; no tenant): the live map's route layer.
ROUTE_READS = frozenset({"agent_routes"})
# One agent's day as his phone shows it (missions, tenants, phones, last contact, pending promise): for the
# agent himself (the data layer forces his agent_ref) and for those who dispatch the agents.
AGENT_DAY_READS = frozenset({"agent_day"})
# Business alerts (akig_data.alerts.evaluate): for those who act on them.
ALERT_READS = frozenset({"alerts"})
# The alerts raised on a day, for the daily report: an owner gets those about his own sites and tenants.
REPORT_ALERT_READS = frozenset({"alerts_opened"})
# What an agent reads: his own missions of the day and his own performance (the data layer forces his
# agent_ref), and the leaderboards.
AGENT_READS = frozenset({"missions", "agent_routes", "agent_performance", "agent_daily", "leaderboard",
                         "leaderboard_month", "agent_day"})
# ... and the tenants of his missions (today's, tomorrow's and the last AKIG_AGENT_LEASE_DAYS days', 7 by
# default), checked by the data layer; he writes on those leases only (akig_data/writes/collection.py).
AGENT_TENANT_READS = frozenset({"tenant_card", "tenant_leases", "tenant_ledger", "tenant_timeline"})

# The mobile-money statements' transfers (booked, to review): for those who reconcile them.
RECONCILIATION_READS = frozenset({"statement_lines"})
# The SMS reminders' messages and the day's plan (tenants' names, phones, texts): for those who run them.
REMINDER_READS = frozenset({"reminder_messages", "reminder_plan"})

# Who sees every owner; an owner sees only his own (forced by the data layer and by PostgreSQL).
ALL_OWNERS = frozenset({"admin", "manager", "analyst", "ops"})

_READS_BY_ROLE = {
    "admin": (SITE_READS | TENANT_READS | TEAM_READS | ROUTE_READS | ALERT_READS | REPORT_ALERT_READS
              | AGENT_DAY_READS | RECONCILIATION_READS | REMINDER_READS),
    "manager": (SITE_READS | TENANT_READS | TEAM_READS | ROUTE_READS | ALERT_READS | REPORT_ALERT_READS
                | AGENT_DAY_READS | RECONCILIATION_READS | REMINDER_READS),
    "owner": SITE_READS | TENANT_READS | REPORT_ALERT_READS,   # restricted to his own sites
    "analyst": SITE_READS | TENANT_READS | TEAM_READS | REPORT_ALERT_READS,
    "ops": SITE_READS | TEAM_READS | ROUTE_READS | ALERT_READS | REPORT_ALERT_READS,  # no tenant contact details
    "agent": AGENT_READS | AGENT_TENANT_READS,  # his own missions and their tenants (checked by the data layer)
}

APPS = {
    # path -> roles that may open it
    "/": frozenset(ROLES),
    "/proprietaire": frozenset({"admin", "manager", "owner", "analyst"}),
    "/recouvrement": frozenset({"admin", "manager", "agent"}),
    "/classement": frozenset({"admin", "manager", "agent", "analyst", "ops"}),
    "/carte": frozenset({"admin", "manager", "ops"}),
    "/alertes": frozenset({"admin", "manager", "ops"}),
    "/admin/journal": frozenset({"admin"}),
}

# Agents' live positions, tracks and replays: for those who dispatch agents and watch the wall screen.
LIVE_VIEWERS = frozenset({"admin", "manager", "ops"})
# Who posts GPS fixes: an agent his own; an administrator for any agent (a device gateway).
POSITION_POSTERS = frozenset({"admin", "agent"})
# Who may ask for a route order; who may re-plan an agent's remaining route of the day.
ROUTE_OPTIMIZERS = frozenset({"admin", "manager", "agent"})
ROUTE_PLANNERS = frozenset({"admin", "manager"})

EXPORT_ROLES = frozenset({"admin", "manager", "owner", "analyst"})
# The agents' phone app (its login, logout and day): accounts that stand for an agent, and only agent
# accounts do (users.agent_id is set for them alone, sql/009).
AGENT_APP_USERS = frozenset({"agent"})

ENDPOINTS = {
    # "METHOD path" -> roles, or "open" / "metrics token"
    "GET /api/health": "open",
    "GET /api/me": frozenset(ROLES),
    "GET /api/reads/{name}": "per read",
    "GET /api/missions, /api/tenants/{ref}/history, /api/stats/daily, /api/agents/{ref}/performance, "
    "/api/leaderboard": "per read",
    "POST /api/calls, /api/visits, /api/promises, /api/payments": frozenset({"admin", "manager", "agent"}),
    "POST /api/missions/generate": frozenset({"admin", "manager"}),
    "POST /api/positions": POSITION_POSTERS,
    "GET /api/map/late-sites": "per read",
    "GET /api/agents/positions": LIVE_VIEWERS,
    "POST /api/routes/optimize": ROUTE_OPTIMIZERS,
    "POST /api/agent/login, /api/agent/logout, GET /api/agent/today": AGENT_APP_USERS,
    "POST /api/sms/delivery, /api/sms/inbound": "sms gateway token",
    "GET /metrics": "metrics token",
}


def can_open(role: str | None, path: str) -> bool:
    return role in APPS.get(path, frozenset())


def can_read(role: str | None, read_name: str) -> bool:
    return read_name in _READS_BY_ROLE.get(role or "", frozenset())


def can_write_collection(role: str | None) -> bool:
    """Record calls, visits, promises and payments (an agent in his own name only)."""
    return role in ENDPOINTS["POST /api/calls, /api/visits, /api/promises, /api/payments"]


def sees_live_positions(role: str | None) -> bool:
    return role in LIVE_VIEWERS


def can_export(role: str | None) -> bool:
    return role in EXPORT_ROLES


def sees_all_owners(role: str | None) -> bool:
    return role in ALL_OWNERS


def shows_contact_details(role: str | None) -> bool:
    """Tenants' phones and e-mails: not for ops (they watch the map and the health of the system)."""
    return role in ("admin", "manager", "owner", "analyst", "agent")


def readable(role: str | None) -> frozenset[str]:
    return _READS_BY_ROLE.get(role or "", frozenset())


def markdown_table() -> str:
    """The access table (docs/reference/access.md): one row per app, read group, export and endpoint."""
    head = "| | " + " | ".join(ROLES) + " |\n|---|" + "---|" * len(ROLES) + "\n"
    rows: list[tuple[str, list[str]]] = []
    for path, roles in APPS.items():
        rows.append((f"app `{path}`", ["✔" if r in roles else "—" for r in ROLES]))

    def mark(r: str, group: frozenset[str]) -> str:
        if not group <= readable(r):
            return "—"
        return "own sites" if not sees_all_owners(r) else "✔"

    rows.append(("reads about sites and totals (" + ", ".join(sorted(SITE_READS)) + ")",
                 [mark(r, SITE_READS) for r in ROLES]))
    rows.append(("reads naming tenants (" + ", ".join(sorted(TENANT_READS)) + ")",
                 [mark(r, TENANT_READS) if r != "agent" else "his missions and their tenants' cards" for r in ROLES]))
    rows.append(("agents' results (" + ", ".join(sorted(TEAM_READS)) + ")",
                 ["✔" if TEAM_READS <= readable(r) and r != "agent" else
                  "his own performance, the leaderboards" if r == "agent" else "—" for r in ROLES]))
    rows.append(("the day's routes, no tenant in them (" + ", ".join(sorted(ROUTE_READS)) + ")",
                 ["his own" if r == "agent" else "✔" if ROUTE_READS <= readable(r) else "—" for r in ROLES]))
    rows.append(("one agent's day for his phone (" + ", ".join(sorted(AGENT_DAY_READS)) + ")",
                 ["his own" if r == "agent" else "✔" if AGENT_DAY_READS <= readable(r) else "—" for r in ROLES]))
    rows.append(("business alerts (" + ", ".join(sorted(ALERT_READS)) + ")",
                 ["✔" if ALERT_READS <= readable(r) else "—" for r in ROLES]))
    rows.append(("the day's new alerts, in the daily report (" + ", ".join(sorted(REPORT_ALERT_READS)) + ")",
                 [("own sites" if not sees_all_owners(r) else "✔") if REPORT_ALERT_READS <= readable(r) else "—"
                  for r in ROLES]))
    rows.append(("mobile-money statements' transfers, booked and to review (" + ", ".join(sorted(RECONCILIATION_READS))
                 + "); importing statements and deciding on the review queue",
                 ["✔" if RECONCILIATION_READS <= readable(r) else "—" for r in ROLES]))
    rows.append(("SMS reminders: the day's messages and plan (" + ", ".join(sorted(REMINDER_READS))
                 + "); settings, ladders and opt-outs",
                 ["✔" if REMINDER_READS <= readable(r) else "—" for r in ROLES]))
    rows.append(("CSV / Excel exports", [("own sites" if not sees_all_owners(r) else "✔") if can_export(r) else "—"
                                          for r in ROLES]))
    for endpoint, who in ENDPOINTS.items():
        if who == "open":
            cells = ["open"] * len(ROLES)
        elif who in ("metrics token", "sms gateway token"):
            cells = ["token only"] * len(ROLES)
        elif who == "per read":
            cells = ["as reads above"] * len(ROLES)
        else:
            cells = ["✔" if r in who else "—" for r in ROLES]
        rows.append((f"`{endpoint}`", cells))
    return head + "".join(f"| {label} | " + " | ".join(cells) + " |\n" for label, cells in rows)
