"""The business gauges ops watch (akig_arrears_gnf, akig_collection_rate_month, akig_agents_active …),
computed from the same reads the apps use and set every minute by one server process (a scheduled task),
so that Prometheus' business alert rules and the Grafana "Métier" dashboard see what the owners see.
"""

from __future__ import annotations

import datetime as dt
import time

import pandas as pd

from akig_data.observe import metrics
from akig_data.writes import positions
from akig_data import reads
from akig_data.reports.gather import same_day_last_month
from akig_data.clock import TZ


def _rate(value) -> float:
    return float("nan") if value is None or pd.isna(value) else float(value)


def refresh(now: dt.datetime | None = None) -> str:
    now = (now or dt.datetime.now(TZ)).astimezone(TZ)
    today = now.date()
    month = reads.period_kpis(date_from=today.replace(day=1), date_to=today).iloc[0]
    last = same_day_last_month(today)
    last_month = reads.period_kpis(date_from=last.replace(day=1), date_to=last).iloc[0]
    promises = reads.promises(as_of=today, due_from=today - dt.timedelta(days=1), due_to=today)
    broken = int(((promises["status"] == "broken") & (promises["due_date"] == today - dt.timedelta(days=1))).sum())
    due = int((promises["due_date"] == today).sum())
    agents = positions.agents_on_map(now)
    active = int(agents["active"].fillna(False).astype(bool).sum()) if len(agents) else 0
    with_missions = int((agents["missions_planned"] > 0).sum()) if len(agents) else 0
    metrics.ARREARS.set(int(month["arrears"]))
    metrics.LATE_LEASES.set(int(month["late_leases"]))
    metrics.COLLECTION_RATE_MONTH.set(_rate(month["collection_rate"]))
    metrics.COLLECTION_RATE_LAST_MONTH.set(_rate(last_month["collection_rate"]))
    metrics.PROMISES_BROKEN_TODAY.set(broken)
    metrics.PROMISES_DUE_TODAY.set(due)
    metrics.AGENTS_ACTIVE.set(active)
    metrics.AGENTS_WITH_MISSIONS.set(with_missions)
    metrics.BUSINESS_REFRESHED.set(time.time())
    return (f"arrears {int(month['arrears'])} GNF, {int(month['late_leases'])} late leases, "
            f"{broken} promises broken today, {active}/{with_missions} agents active")
