"""Noticing that PostgreSQL is back, once per server process, so that every open page refreshes itself.

When a pane meets DatabaseUnavailable it shows a banner and reports the failure here. One background
thread per process then tries the database every few seconds (never one timer per session) and, when
it answers again, flips `available` back to True; every pane bound to that parameter re-renders.

Each browser session has its own `available` (a SessionWatch): the process's thread flips it in the
session's own event loop, with the session as Panel's current document, because the panes' reads run
as the session's user (a flip from the watcher thread re-rendered them as nobody, and they stayed
refused). Without a session (in-process use, notebooks) the process watch itself is the flag.
"""

from __future__ import annotations

import logging
import threading
import weakref

import panel as pn
import param
import sqlalchemy as sa

from panel.io.state import set_curdoc

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

        self._sessions: "weakref.WeakSet[SessionWatch]" = weakref.WeakSet()

    def report_failure(self, session: "SessionWatch | None" = None) -> None:
        if session is not None:
            self._sessions.add(session)
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
                for session in list(self._sessions):
                    session.recovered()
                self._sessions.clear()
                return


class SessionWatch(param.Parameterized):
    """One browser session's flag; the process's DatabaseWatch does the waiting."""

    available = param.Boolean(default=True, doc="False from a failed read until PostgreSQL answers again")

    def __init__(self, process: DatabaseWatch, doc, **params):
        super().__init__(**params)
        self._process = process
        self._doc = weakref.ref(doc)

    def report_failure(self) -> None:
        self._process.report_failure(self)
        if self.available:
            self.available = False

    def recovered(self) -> None:
        """Called from the watcher thread: flip the flag in the session's own event loop."""
        doc = self._doc()
        if doc is None or not session_connected(doc):
            return   # the page was closed: nothing to refresh (and a closed session must not be updated)

        def flip() -> None:
            with set_curdoc(doc):
                self.available = True

        doc.add_next_tick_callback(flip)


def session_connected(doc) -> bool:
    """Whether the session of `doc` has an open websocket."""
    session = getattr(doc.session_context, "_session", None) if doc.session_context else None
    return session is not None and session.connection_count > 0


_per_session: "weakref.WeakKeyDictionary[object, SessionWatch]" = weakref.WeakKeyDictionary()


def process_watch() -> DatabaseWatch:
    """The process's watch (kept in pn.state.cache, which lives as long as the server process)."""
    watch = pn.state.cache.get("akig_database_watch")
    if watch is None:
        watch = pn.state.cache.setdefault("akig_database_watch", DatabaseWatch())
    return watch


def database_watch() -> DatabaseWatch | SessionWatch:
    """What a page binds its panes to: its session's flag in a served page, else the process's watch."""
    doc = pn.state.curdoc
    if doc is None or getattr(doc, "session_context", None) is None:
        return process_watch()
    watch = _per_session.get(doc)
    if watch is None:
        watch = _per_session.setdefault(doc, SessionWatch(process_watch(), doc))
    return watch
