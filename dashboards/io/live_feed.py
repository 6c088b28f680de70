"""The live map's one poller per server process.

Every open map binds to this feed instead of polling the database itself: one background thread per
process looks at the Redis counter that every stored batch of GPS fixes moves (akig_data.writes.positions)
twice a second. Only when it moved does the thread read the latest positions (Redis) and the new fixes
(PostgreSQL, for the day's tracks); without Redis it reads PostgreSQL at each tick. It then hands the
same immutable snapshot to every subscribed session, which schedules the update on its own document
(Bokeh's add_next_tick_callback): N open maps cost one query per tick, not N.

The agents' ages and the "inactif" state change with time alone, so a snapshot is also rebuilt every
`refresh_s` seconds, together with the agents' names and today's missions counts. The thread stops when
the last session unsubscribes (a session unsubscribes when it is destroyed) and starts again with the
next one.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd
from prometheus_client import Gauge

from akig_data.observe import metrics
from akig_data.writes import positions

log = logging.getLogger(__name__)

MAX_TRACK_POINTS = 3000   # per agent and day; older points of a very long day are dropped first
OVERLAP = dt.timedelta(seconds=5)  # re-read fixes stored just before the last tick (commit order != clock)

SESSIONS = Gauge("akig_live_map_sessions", "Live map sessions bound to a poller", multiprocess_mode="livesum")


@dataclass(frozen=True)
class Snapshot:
    seq: int
    made_at: dt.datetime
    agents: pd.DataFrame                       # positions.agents_on_map()
    tracks: dict[str, pd.DataFrame] = field(default_factory=dict)  # agent_ref -> t, lat, lon of today
    _derived: dict = field(default_factory=dict, compare=False, repr=False)

    def derived(self, key, build: Callable[[], object]):
        """What the maps make of this snapshot (their table, their sources' columns), built by the first
        map that needs it and shared by the others: N maps, one computation. (All maps apply updates on
        the server's event loop, one at a time.)"""
        if key not in self._derived:
            self._derived[key] = build()
        return self._derived[key]


class LiveFeed:
    def __init__(self, interval_s: float = 0.5, refresh_s: float = 10.0):
        self.interval_s = interval_s
        self.refresh_s = refresh_s
        self.snapshot: Snapshot | None = None
        self.ticks = 0
        self.reads = 0
        self._subscribers: dict[int, Callable[[Snapshot], None]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._version: int | None = None
        self._last_build = 0.0
        self._received_after: dt.datetime | None = None
        self._day: dt.date | None = None
        self._tracks: dict[str, dict[pd.Timestamp, tuple[float, float]]] = {}
        self._seq = itertools.count(1)

    # -- sessions ------------------------------------------------------------------------------
    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def subscribe(self, callback: Callable[[Snapshot], None]) -> int:
        with self._lock:
            token = next(self._ids)
            self._subscribers[token] = callback
            SESSIONS.set(len(self._subscribers))
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="akig-live-feed", daemon=True)
                self._thread.start()
        return token

    def unsubscribe(self, token: int) -> None:
        with self._lock:
            self._subscribers.pop(token, None)
            SESSIONS.set(len(self._subscribers))
            if not self._subscribers:
                self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- the poller ----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                if self.tick():
                    self._publish()
            except Exception as exc:  # PostgreSQL or Redis away: keep the last snapshot, try again
                log.warning("live map poller: %s", exc)
                self._stop.wait(2.0)
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))

    def tick(self, now: dt.datetime | None = None) -> bool:
        """One poll; True when a new snapshot was built."""
        self.ticks += 1
        now = now or dt.datetime.now(positions.TZ)
        version = positions.version()
        stale = time.monotonic() - self._last_build >= self.refresh_s
        if version is not None and version == self._version and not stale and self.snapshot is not None:
            metrics.LIVE_FEED_POLLS.labels("version").inc()
            return False
        metrics.LIVE_FEED_POLLS.labels("positions" if version is not None else "database").inc()
        self.reads += 1
        self._version = version
        self._update_tracks(now)
        self.snapshot = Snapshot(next(self._seq), now, positions.agents_on_map(now),
                                 {agent: self._track_frame(points) for agent, points in self._tracks.items()})
        self._last_build = time.monotonic()
        return True

    def _update_tracks(self, now: dt.datetime) -> None:
        local = now.astimezone(positions.TZ)
        if local.date() != self._day:  # a new day: today's tracks start empty
            self._day, self._tracks, self._received_after = local.date(), {}, None
        day_start = dt.datetime.combine(local.date(), dt.time(), positions.TZ)
        after = (self._received_after - OVERLAP) if self._received_after else day_start - dt.timedelta(days=400)
        fresh = positions.received_since(after, day_start)
        for agent, t, lat, lon, received in fresh.itertuples(index=False):
            points = self._tracks.setdefault(agent, {})
            points[pd.Timestamp(t)] = (lat, lon)
            if len(points) > MAX_TRACK_POINTS:
                for old in sorted(points)[: len(points) - MAX_TRACK_POINTS]:
                    del points[old]
        if not fresh.empty:
            self._received_after = max(pd.Timestamp(fresh["received_at"].max()).to_pydatetime(),
                                       self._received_after or day_start)

    @staticmethod
    def _track_frame(points: dict) -> pd.DataFrame:
        times = sorted(points)
        return pd.DataFrame({"t": times, "lat": [points[t][0] for t in times], "lon": [points[t][1] for t in times]})

    def _publish(self) -> None:
        snapshot = self.snapshot
        for token, callback in list(self._subscribers.items()):
            try:
                callback(snapshot)
            except Exception:  # a session that cannot take updates any more (closed): forget it
                log.exception("live map session %d failed to take an update; unsubscribing it", token)
                self.unsubscribe(token)


def live_feed() -> LiveFeed:
    """The process's feed (pn.state.cache lives as long as the server process)."""
    import panel as pn

    from akig_data import config

    feed = pn.state.cache.get("akig_live_feed")
    if feed is None:
        settings = config.load()
        feed = pn.state.cache.setdefault("akig_live_feed", LiveFeed(interval_s=settings.live_interval_s,
                                                                    refresh_s=settings.live_refresh_s))
    return feed
