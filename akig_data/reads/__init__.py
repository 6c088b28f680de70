"""The registered reads: every question the apps, the API, the reports and notebooks ask of the ledger.

Each read is a function in one of the modules below and one SQL function in `sql/` (the money rules are
there, in PostgreSQL, so every client sees the same numbers); `registry` holds the machinery (the
`@read` decorator, typed parameters, access checks, memoization). Importing this package registers
every read, so `get`, `run` and `all_reads` live here rather than in the registry: the registry never
imports the reads, and nothing imports in a circle.

Every read of owner data takes `owner_ref` (None = every owner) and every row that belongs to one owner
carries it; the agents' reads (performance, leaderboards, daily stats) take `agent_ref` instead.
Money columns are integer GNF, rates floats in 0..1 (collection may exceed 1), NULL/NaN when undefined.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from akig_data.errors import InvalidParameter
from akig_data.reads.agents import (agent_daily, agent_day, agent_performance, agent_routes, daily_stats,
                                    leaderboard, leaderboard_month, missions)
from akig_data.reads.alerts import alerts, alerts_opened
from akig_data.reads.portfolio import (arrears_by_lease, arrears_by_site, collections_by_site, good_payers,
                                       late_sites, late_tenants, monthly_trend, owners, period_kpis,
                                       portfolio_summary, promises, punctuality_by_cohort, site_kpis, site_units,
                                       sites)
from akig_data.reads.reconciliation import statement_lines
from akig_data.reads.reminders import reminder_effect, reminder_messages, reminder_plan
from akig_data.reads.registry import REGISTRY, ReadSpec, execute, table_to_frame
from akig_data.reads.risk import cash_forecast, lease_risk
from akig_data.reads.shared import LEDGER_TABLES
from akig_data.reads.tenants import search_tenants, tenant_card, tenant_leases, tenant_ledger, tenant_timeline

__all__ = [
    "LEDGER_TABLES", "agent_daily", "agent_day", "agent_performance", "agent_routes", "alerts", "alerts_opened",
    "all_reads", "arrears_by_lease", "arrears_by_site", "cash_forecast", "collections_by_site", "daily_stats", "get",
    "good_payers", "late_sites", "late_tenants", "leaderboard", "lease_risk", "leaderboard_month", "missions",
    "monthly_trend", "owners",
    "period_kpis", "portfolio_summary", "promises", "punctuality_by_cohort", "reminder_effect", "reminder_messages", "reminder_plan", "run", "search_tenants",
    "site_kpis", "site_units", "sites", "statement_lines", "tenant_card", "tenant_leases", "tenant_ledger", "tenant_timeline",
]


def get(name: str) -> ReadSpec:
    """The read registered under `name`."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise InvalidParameter(f"unknown read {name!r}; `akig query --list` lists them") from None


def run(name: str, **kwargs: Any) -> pd.DataFrame:
    """Run a read by name (the CLI, the JSON API and notebooks use this)."""
    return table_to_frame(execute(get(name), kwargs))


def all_reads() -> list[ReadSpec]:
    """Every registered read, by name."""
    return [REGISTRY[name] for name in sorted(REGISTRY)]
