"""The stored dues reach a horizon (see sql/004_lease_dues.sql); before a read looks past it, the
horizon is pushed further. The check is an in-memory comparison on every read; the database is asked
once per process, and written to only when a date beyond the horizon is asked for (it starts 3 months
ahead and each extension goes 6 months past the date asked: about twice a year for today's reads)."""

from __future__ import annotations

import datetime as dt
import threading

import sqlalchemy as sa

from akig_data.engine import translated_errors
from akig_data.runtime import Runtime

_lock = threading.Lock()
_known: dict[str, int] = {}  # database URL -> horizon month index


def month_idx(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def ensure_dues_horizon(runtime: Runtime, until: dt.date) -> None:
    key = runtime.database_url
    wanted = month_idx(until)
    if _known.get(key, -1) >= wanted:
        return
    with _lock, translated_errors():
        with runtime.engine.begin() as conn:
            horizon = conn.execute(sa.text("SELECT until_mi FROM dues_horizon")).scalar()
            if horizon < wanted:
                horizon = conn.execute(sa.text("SELECT extend_dues_horizon(:d)"), {"d": until}).scalar()
        _known[key] = horizon
