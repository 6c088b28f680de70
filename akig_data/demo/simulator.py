"""`akig simulate agents`: demo agents driving their routes of the day, posting GPS fixes to the real
`POST /api/positions` of a running server (with each agent's own API token), so the live map can be
watched in the demo and tests and benchmarks use the real path.

Each simulated agent starts at his last known position (else near his first stop), goes from stop to
stop of his route (akig_data.reads.agent_routes) in straight lines at walking (5 km/h) or moto
(25 km/h) speed times `speed` (a time-lapse factor), pauses 15 simulated minutes at each visit, and
reports a fix with GPS noise (a few metres, gaussian) and a slowly draining battery every `interval`
real seconds. Fixes carry the real clock's time (the server refuses times in the future). A batch the
server could not take (503: PostgreSQL down, or a network error) is kept and sent again with the next
one, as the phone app does; a refused batch (4xx) is reported and dropped.

The simulator records no visits, calls or payments: it moves agents, nothing else.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import math
import random
import secrets
import time
import urllib.error
import urllib.parse
from dataclasses import dataclass, field

from akig_data.writes import positions, users
from akig_data import reads
from akig_data.planning.solver import VISIT_MINUTES, haversine_m

GIVE_UP_S = 60.0   # a server gone for this long (the demo stopped): the simulator stops too
SPEEDS_MPS = {"walk": 5 / 3.6, "moto": 25 / 3.6}
METRES_PER_DEGREE = 111_320.0


@dataclass
class SimAgent:
    agent_ref: str
    token: str
    stops: list[tuple[float, float]]
    lat: float
    lon: float
    battery: float = 100.0
    next_stop: int = 0
    pause_left_s: float = 0.0
    pending: list[dict] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.next_stop >= len(self.stops) and self.pause_left_s <= 0

    def advance(self, sim_seconds: float, speed_mps: float) -> None:
        """Move along the route for `sim_seconds` of simulated time (the battery drains ~7 % an hour)."""
        self.battery = max(5.0, self.battery - 0.002 * sim_seconds)
        while sim_seconds > 0 and not self.finished:
            if self.pause_left_s > 0:
                used = min(self.pause_left_s, sim_seconds)
                self.pause_left_s -= used
                sim_seconds -= used
                continue
            target = self.stops[self.next_stop]
            distance = haversine_m(self.lat, self.lon, *target)
            reach = speed_mps * sim_seconds
            if reach >= distance:
                self.lat, self.lon = target
                sim_seconds -= distance / speed_mps if speed_mps else sim_seconds
                self.next_stop += 1
                self.pause_left_s = VISIT_MINUTES * 60
            else:
                share = reach / distance
                self.lat += (target[0] - self.lat) * share
                self.lon += (target[1] - self.lon) * share
                sim_seconds = 0

    def fix(self, rng: random.Random, noise_m: float, now: dt.datetime) -> dict:
        """A noisy GPS reading of where the agent is."""
        d_lat = rng.gauss(0, noise_m) / METRES_PER_DEGREE
        d_lon = rng.gauss(0, noise_m) / (METRES_PER_DEGREE * math.cos(math.radians(self.lat)))
        return {"t": now.isoformat(timespec="milliseconds"), "lat": round(self.lat + d_lat, 6),
                "lon": round(self.lon + d_lon, 6), "accuracy_m": round(abs(rng.gauss(noise_m, noise_m / 3)) + 3, 1),
                "battery": int(self.battery)}


def agent_token(agent_ref: str) -> str:
    """A fresh API token of the agent's simulator account `sim-<agent_ref>` (created on first use)."""
    name = f"sim-{agent_ref.lower()}"
    if users.get(name) is None:
        users.add(name, secrets.token_urlsafe(18) + "Aa1!", "agent", agent_ref=agent_ref, actor="simulator")
    return users.rotate_token(name, actor="simulator")


def prepare(count: int, day: dt.date | None = None, seed: int = 7) -> list[SimAgent]:
    """The first `count` active agents that have visits planned today, ready to drive."""
    rng = random.Random(seed)
    day = day or dt.datetime.now(positions.TZ).date()
    routes = reads.agent_routes(day=day)
    latest = positions.latest()
    where = {r.agent_ref: (r.lat, r.lon) for r in latest.itertuples()}
    agents = []
    for agent_ref, group in routes.groupby("agent_ref", sort=True):
        if len(agents) >= count:
            break
        stops = [(float(a), float(b)) for a, b in zip(group["lat"], group["lon"])]
        start = where.get(agent_ref)
        if start is None or haversine_m(*start, *stops[0]) > 20_000:  # nowhere near: start ~800 m off his first stop
            angle = rng.uniform(0, 2 * math.pi)
            start = (stops[0][0] + 0.007 * math.sin(angle), stops[0][1] + 0.007 * math.cos(angle))
        agents.append(SimAgent(agent_ref, agent_token(agent_ref), stops, float(start[0]), float(start[1]),
                               battery=rng.uniform(60, 100)))
    return agents


class Poster:
    """One keep-alive HTTP connection to the server."""

    def __init__(self, base_url: str, timeout: float = 10.0):
        parsed = urllib.parse.urlsplit(base_url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def post(self, path: str, token: str, payload: dict) -> tuple[int, dict]:
        body = json.dumps(payload).encode()
        for attempt in (1, 2):  # a keep-alive connection the server closed: reconnect once
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.conn.request("POST", path, body, {"Authorization": f"Bearer {token}",
                                                       "Content-Type": "application/json"})
                response = self.conn.getresponse()
                data = response.read()
                return response.status, (json.loads(data) if data else {})
            except (OSError, http.client.HTTPException):
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover


def wait_for_server(base_url: str, timeout_s: float = 180.0) -> bool:
    """True once the server's /api/health answers (the demo starts the simulator with the server)."""
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base_url.rstrip("/") + "/api/health", timeout=2)
            return True
        except urllib.error.HTTPError as err:  # 503: up, but PostgreSQL is not; the phones retry anyway
            return err.code == 503
        except OSError:
            time.sleep(1)
    return False


@dataclass
class Totals:
    posted: int = 0
    stored: int = 0
    refused: int = 0
    retried: int = 0


def run(base_url: str, agents: list[SimAgent], *, speed: float = 10.0, mode: str = "moto", interval_s: float = 2.0,
        duration_s: float | None = None, noise_m: float = 8.0, seed: int = 7, echo=print) -> Totals:
    """Drive the agents until every route is done or `duration_s` real seconds have passed."""
    if mode not in SPEEDS_MPS:
        raise ValueError(f"mode must be one of {', '.join(SPEEDS_MPS)}")
    rng, poster, totals = random.Random(seed), Poster(base_url), Totals()
    started = last = reached = time.monotonic()
    while agents and not all(a.finished for a in agents):
        now_mono = time.monotonic()
        if duration_s is not None and now_mono - started >= duration_s:
            break
        if now_mono - reached > GIVE_UP_S:
            echo(f"the server has not answered for {GIVE_UP_S:.0f} s: stopping")
            break
        elapsed, last = now_mono - last, now_mono
        now = dt.datetime.now(dt.timezone.utc)
        for agent in agents:
            agent.advance(elapsed * speed, SPEEDS_MPS[mode])
            agent.pending.append(agent.fix(rng, noise_m, now))
            try:
                status, answer = poster.post("/api/positions", agent.token,
                                             {"agent_ref": agent.agent_ref, "fixes": agent.pending[-positions.MAX_FIXES:]})
            except OSError as exc:
                totals.retried += 1
                echo(f"{agent.agent_ref}: server unreachable ({exc}); will retry")
                continue
            reached = time.monotonic()
            if status in (200, 201):
                totals.posted += len(agent.pending)
                totals.stored += answer.get("stored", 0)
                agent.pending = []
            elif status in (429, 503):
                totals.retried += 1
            else:
                totals.refused += len(agent.pending)
                echo(f"{agent.agent_ref}: refused ({status}): {answer.get('error')}")
                agent.pending = []
        time.sleep(max(0.0, interval_s - (time.monotonic() - now_mono)))
    return totals
