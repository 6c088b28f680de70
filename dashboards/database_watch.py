"""Noticing that PostgreSQL is back, once per server process, so that every open page refreshes itself.

When a pane meets DatabaseUnavailable it shows a banner and reports the failure here. One background
thread per process then tries the database every few seconds (never one timer per session) and, when
it answers again, flips `available` back to True; every page bound to that parameter re-renders.
"""

from __future__ import annotations

import logging
import threading

import panel as pn
import param
import sqlalchemy as sa

from akig_data.runtime import get_runtime

log = logging.getLogger(__name__)


class DatabaseWatch(param.Parameterized):
    available = param.Boolean(default=True, doc="False from a failed read until PostgreSQL answers again")
    interval = param.Number(default=3.0, bounds=(0.05, None), doc="seconds between two tries while down")

    def __init__(self, **params):
        super().__init__(**params)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def report_failure(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._wait_for_database, name="akig-db-watch", daemon=True)
                self._thread.start()
        # Outside the lock: setting it re-renders bound panes, which may report failures themselves.
        if self.available:
            self.available = False

    @staticmethod
    def database_answers() -> bool:
        try:
            with get_runtime().engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except Exception:  # any failure means "not yet"
            return False

    def stop(self) -> None:
        """End the watcher thread (server shutdown, tests)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _wait_for_database(self) -> None:
        while not self._stop.wait(self.interval):
            if self.database_answers():
                log.info("PostgreSQL answers again: refreshing open pages")
                self.available = True
                return


def database_watch() -> DatabaseWatch:
    """The process's watch (kept in pn.state.cache, which lives as long as the server process)."""
    watch = pn.state.cache.get("akig_database_watch")
    if watch is None:
        watch = pn.state.cache.setdefault("akig_database_watch", DatabaseWatch())
    return watch
