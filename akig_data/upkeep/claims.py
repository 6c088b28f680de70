"""Scheduled tasks that must run once per period however many server processes (or hosts) there are.

Each task has a row in `scheduled_runs` (sql/013). A process runs a task only after winning the UPDATE
that moves `last_run` forward past the period: the others see the new `last_run` and skip. If the run
then fails, the claim stands and the next period tries again (a failing task is not retried in a loop).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Callable

import sqlalchemy as sa

from akig_data.observe import metrics
from akig_data.engine import translated_errors
from akig_data.clock import TZ
from akig_data.runtime import get_runtime

log = logging.getLogger(__name__)


def _write_role(conn: sa.Connection) -> None:
    if get_runtime().settings.row_security:
        conn.execute(sa.text("SELECT set_config('role', 'akig_write', true)"))


def latest_slot(at: dt.time, now: dt.datetime | None = None) -> dt.datetime:
    """The most recent moment (Conakry time) a task that runs daily at `at` was due: today's if that time
    has passed, else yesterday's."""
    now = (now or dt.datetime.now(TZ)).astimezone(TZ)
    slot = dt.datetime.combine(now.date(), at, tzinfo=TZ)
    return slot if slot <= now else slot - dt.timedelta(days=1)


def claim(task: str, every: dt.timedelta | dt.time) -> bool:
    """True for exactly one caller per period (across processes sharing the database). `every` is a period
    (a timedelta) or a time of day: the task is then due once a day, from that time on (Conakry time); a
    server that was down at that time runs it when it comes back."""
    if isinstance(every, dt.time):
        condition, bound = "last_run < :slot", {"slot": latest_slot(every)}
    else:
        condition, bound = "last_run <= now() - :every", {"every": every}
    with translated_errors(), get_runtime().engine.begin() as conn:
        _write_role(conn)
        conn.execute(sa.text("INSERT INTO scheduled_runs (task) VALUES (:t) ON CONFLICT (task) DO NOTHING"), {"t": task})
        won = conn.execute(sa.text(
            f"UPDATE scheduled_runs SET last_run = now() WHERE task = :t AND {condition} RETURNING task"),
            {"t": task, **bound}).first()
    return won is not None


def record(task: str, result: str) -> None:
    with translated_errors(), get_runtime().engine.begin() as conn:
        _write_role(conn)
        conn.execute(sa.text("UPDATE scheduled_runs SET last_result = :r WHERE task = :t"), {"t": task, "r": result[:500]})


def run_if_due(task: str, every: dt.timedelta | dt.time, action: Callable[[], object]) -> bool:
    """Claim the period and run `action`; returns whether this process ran it. Errors are logged and
    kept as the task's last result, never raised (a scheduler thread must survive them)."""
    try:
        if not claim(task, every):
            return False
    except Exception as exc:  # the database is down: try again at the next tick
        log.warning("scheduled task %s: cannot claim (%s)", task, exc)
        return False
    started = time.perf_counter()
    try:
        outcome = action()
        result = f"ok: {outcome}"
    except Exception as exc:
        log.exception("scheduled task %s failed", task)
        result = f"error: {exc}"
    metrics.SCHEDULED_SECONDS.labels(task).observe(time.perf_counter() - started)
    try:
        record(task, result)
    except Exception:  # pragma: no cover - the database went away during the run
        log.warning("scheduled task %s: cannot record its result", task)
    return True


def last_runs() -> dict[str, tuple[dt.datetime, str | None]]:
    with translated_errors(), get_runtime().engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT task, last_run, last_result FROM scheduled_runs ORDER BY task")).all()
    return {r.task: (r.last_run, r.last_result) for r in rows}
