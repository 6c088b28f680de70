"""The server's scheduled tasks: one thread per server process wakes up every minute and runs each task
that is due. `akig_data.upkeep.claims` makes sure that a task runs once per period across all processes
(and hosts): with `--num-procs 4` the positions are still pruned once a day, not four times.

Tasks: evaluating the business alerts (every 5 minutes), planning the SMS reminders (every 15 minutes) and
sending them (every minute; the outbox itself makes sure that no message leaves twice,
akig_data.reminders.outbox), the business gauges for Prometheus (every
minute), pruning agents' GPS fixes older than the
retention (daily), storing the late-payment risk and cash forecast of today and of the month's 1st (every 10
minutes; nothing to do once they are stored, akig_data.risk.stored_scores), storing every lease's position of
the day that arrears_by_lease answers from (every 10 minutes; nothing to do once today's are stored,
akig_data.upkeep.lease_positions), storing last month's figures per agent that its leaderboard answers from
(every 10 minutes; nothing to do once they are stored, akig_data.upkeep.agent_months), writing the daily reports into the reports folder (every day at AKIG_DAILY_REPORT_AT,
19:00 by default, Conakry time).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from dataclasses import dataclass
from typing import Callable

from akig_data import config
from akig_data.alerts import evaluate as alerts
from akig_data.observe import gauges as business_metrics, health
from akig_data.upkeep import agent_months, lease_positions, partitions, claims as schedule
from akig_data.writes import positions
from akig_data.reports import files as report_files
from akig_data.reminders import outbox as reminders
from akig_data.risk import stored_scores
from akig_data.access.scope import Principal, acting_as

log = logging.getLogger(__name__)
# The identity the tasks' reads run as: in the server, a read outside a browser session is refused unless
# someone is named (the reports cover every owner, as an admin's would).
SCHEDULER = Principal("planificateur", "admin")


@dataclass(frozen=True)
class Task:
    name: str
    every: dt.timedelta | dt.time   # a period, or a time of day (daily)
    action: Callable[[], object]


def tasks() -> list[Task]:
    return [Task("evaluate_alerts", dt.timedelta(minutes=5), alerts.evaluate),
            # every tick (55 s rather than 60: a tick a little early must not skip a minute)
            Task("business_gauges", dt.timedelta(seconds=55), business_metrics.refresh),
            # the day's ladder is planned every 15 minutes (idempotent), what is due is sent every tick
            Task("plan_reminders", dt.timedelta(minutes=15), reminders.plan),
            Task("send_reminders", dt.timedelta(seconds=55), reminders.send_due),
            Task("prune_positions", dt.timedelta(days=1), positions.prune),
            Task("partitions", dt.timedelta(days=1), partitions.ensure),
            Task("risk_scores", dt.timedelta(minutes=10), stored_scores.store_due),
            Task("lease_positions", dt.timedelta(minutes=10), lease_positions.store_due),
            Task("agent_months", dt.timedelta(minutes=10), agent_months.store_due),
            Task("daily_report", report_files.daily_time(), report_files.scheduled_run)]


class Scheduler:
    def __init__(self, tick_s: float, task_list: list[Task], every_tick: list[Callable[[], object]] | None = None):
        self.tick_s = tick_s
        self.tasks = task_list
        self.every_tick = every_tick or []   # cheap refreshes each process does for itself (its gauges)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="akig-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def run_due(self) -> list[str]:
        """Run every task that is due now; returns the names of those this process ran."""
        with acting_as(SCHEDULER):
            return [t.name for t in self.tasks if schedule.run_if_due(t.name, t.every, t.action)]

    def _loop(self) -> None:
        while not self._stop.wait(self.tick_s):
            ran = self.run_due()
            if ran:
                log.info("scheduled tasks run by process %d: %s", os.getpid(), ", ".join(ran))
            for refresh in self.every_tick:
                try:
                    with acting_as(SCHEDULER):
                        refresh()
                except Exception as exc:  # the database is away: the next tick tries again
                    log.warning("refresh %s failed: %s", getattr(refresh, "__name__", refresh), exc)


def start_for_this_process() -> Scheduler:
    """Called by the server in each (forked) process once it is ready to serve."""
    scheduler = Scheduler(config.load().scheduler_tick_s, tasks(),
                          every_tick=[alerts.publish_gauges, health.check])
    scheduler.start()
    return scheduler
