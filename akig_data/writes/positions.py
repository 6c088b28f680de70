"""Agents' GPS fixes: checking a phone's batch, storing it, and the latest position per agent.

A phone posts batches of fixes (`POST /api/positions`). A batch is checked whole before anything is
written (one bad fix refuses the batch and the error names the field, e.g. `fixes[3].lat`), then stored
in one transaction (`INSERT ... ON CONFLICT DO NOTHING` on (agent, t): a retried batch never
duplicates). After the commit the newest fix of the batch goes to Redis (a hash of the latest fix per
agent, written only if newer) and a version counter moves, which is all the map's poller watches.
Without Redis the map reads the same things from PostgreSQL.

Fixes are not written to the audit trail (thousands a day per agent); they are pruned after the
retention (AKIG_POSITIONS_RETENTION_DAYS, 90 days by default) by a scheduled task.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import redis
import sqlalchemy as sa

from akig_data.observe import metrics
from akig_data.access import roles
from akig_data.clock import LOCAL_TZ
from akig_data.engine import translated_errors
from akig_data.errors import AccessDenied, InvalidParameter
from akig_data.runtime import get_runtime, write_transaction
from akig_data.access.scope import Principal

TZ = ZoneInfo(LOCAL_TZ)
# Guinea's bounding box with a small margin (the country spans lat 7.19–12.68, lon −15.08 to −7.64).
LAT_MIN, LAT_MAX, LON_MIN, LON_MAX = 7.0, 12.8, -15.2, -7.5
MAX_FIXES = 1000
MAX_BYTES = 1_000_000
FUTURE_SLACK = dt.timedelta(minutes=5)
MAX_AGE = dt.timedelta(days=7)
INACTIVE_AFTER = dt.timedelta(minutes=10)   # the map greys an agent whose last fix is older ("inactif")
FIX_FIELDS = ("t", "lat", "lon", "accuracy_m", "battery")


class FieldError(InvalidParameter):
    """A refused batch: the message is French and `field` names what was wrong (the API returns both)."""

    def __init__(self, field: str, message: str, status: int = 400):
        self.field = field
        self.status = status
        super().__init__(f"{field} : {message}")


@dataclass(frozen=True)
class Fix:
    t: dt.datetime
    lat: float
    lon: float
    accuracy_m: float | None = None
    battery: int | None = None


@dataclass(frozen=True)
class IngestResult:
    agent_ref: str
    received: int
    stored: int

    @property
    def duplicates(self) -> int:
        return self.received - self.stored

    def as_dict(self) -> dict[str, Any]:
        return {"agent_ref": self.agent_ref, "received": self.received, "stored": self.stored,
                "duplicates": self.duplicates}


# --- checking a batch ---------------------------------------------------------------------------

def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FieldError(field, f"nombre attendu (reçu {value!r}).")
    number = float(value)
    if not math.isfinite(number):
        raise FieldError(field, "nombre fini attendu.")
    return number


def _moment(value: Any, field: str, now: dt.datetime) -> dt.datetime:
    if not isinstance(value, str):
        raise FieldError(field, "date et heure ISO 8601 avec fuseau attendues (ex. 2026-11-26T10:15:00+00:00).")
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise FieldError(field, f"date et heure invalides ({value[:40]!r}).") from None
    if moment.tzinfo is None:
        raise FieldError(field, "le fuseau horaire est obligatoire (ex. +00:00 ou Z).")
    if moment > now + FUTURE_SLACK:
        raise FieldError(field, "plus de 5 minutes dans le futur (horloge du téléphone ?).")
    if moment < now - MAX_AGE:
        raise FieldError(field, "plus vieux que 7 jours : ce relevé n'est plus accepté.")
    return moment


def parse_fix(raw: Any, index: int, now: dt.datetime) -> Fix:
    where = f"fixes[{index}]"
    if not isinstance(raw, dict):
        raise FieldError(where, "un objet {t, lat, lon, accuracy_m, battery} est attendu.")
    unknown = sorted(set(raw) - set(FIX_FIELDS))
    if unknown:
        raise FieldError(f"{where}.{unknown[0]}", f"champ inconnu (champs : {', '.join(FIX_FIELDS)}).")
    for name in ("t", "lat", "lon"):
        if raw.get(name) is None:
            raise FieldError(f"{where}.{name}", "obligatoire.")
    lat, lon = _number(raw["lat"], f"{where}.lat"), _number(raw["lon"], f"{where}.lon")
    if abs(lat) > 90:
        raise FieldError(f"{where}.lat", "hors limites (de −90 à 90).")
    if abs(lon) > 180:
        raise FieldError(f"{where}.lon", "hors limites (de −180 à 180).")
    if not (LAT_MIN <= lat <= LAT_MAX and LON_MIN <= lon <= LON_MAX):
        raise FieldError(where, f"position hors de la Guinée ({lat:.5f}, {lon:.5f}).")
    accuracy = None
    if raw.get("accuracy_m") is not None:
        accuracy = _number(raw["accuracy_m"], f"{where}.accuracy_m")
        if accuracy < 0:
            raise FieldError(f"{where}.accuracy_m", "ne peut pas être négative.")
    battery = raw.get("battery")
    if battery is not None:
        if isinstance(battery, float) and battery.is_integer():
            battery = int(battery)
        if isinstance(battery, bool) or not isinstance(battery, int) or not 0 <= battery <= 100:
            raise FieldError(f"{where}.battery", f"entier de 0 à 100 attendu (reçu {battery!r}).")
    return Fix(_moment(raw["t"], f"{where}.t", now), lat, lon, accuracy, battery)


def parse_batch(body: Any, now: dt.datetime | None = None) -> tuple[str, list[Fix]]:
    """(agent_ref, fixes) from a posted JSON object; FieldError names the first bad field."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if not isinstance(body, dict):
        raise FieldError("body", "un objet JSON {agent_ref, fixes} est attendu.")
    unknown = sorted(set(body) - {"agent_ref", "fixes"})
    if unknown:
        raise FieldError(unknown[0], "champ inconnu (champs : agent_ref, fixes).")
    agent_ref = body.get("agent_ref")
    if not isinstance(agent_ref, str) or not agent_ref.strip() or len(agent_ref) > 64:
        raise FieldError("agent_ref", "obligatoire (texte de 1 à 64 caractères).")
    fixes = body.get("fixes")
    if not isinstance(fixes, list) or not fixes:
        raise FieldError("fixes", "une liste non vide de relevés est attendue.")
    if len(fixes) > MAX_FIXES:
        raise FieldError("fixes", f"{len(fixes)} relevés : au plus {MAX_FIXES} par envoi.", status=413)
    return agent_ref, [parse_fix(raw, i, now) for i, raw in enumerate(fixes)]


def check_poster(who: Principal | None, agent_ref: str) -> None:
    """An agent posts his own fixes; an administrator may post for any agent (a device gateway)."""
    if who is None:
        return
    if who.role == "agent":
        if who.agent_ref != agent_ref:
            raise FieldError("agent_ref", "ce jeton appartient à un autre agent.", status=403)
        return
    if who.role not in roles.POSITION_POSTERS:
        raise AccessDenied(f"Accès refusé : le rôle {roles.ROLE_LABELS.get(who.role, who.role)} ne peut pas "
                           "envoyer de positions.")


# --- storing ------------------------------------------------------------------------------------

_INSERT = sa.text(
    "WITH ins AS (INSERT INTO agent_positions (agent_id, t, lat, lon, accuracy_m, battery)"
    " SELECT :agent, f.t, f.lat, f.lon, f.acc, f.bat"
    " FROM unnest(CAST(:ts AS timestamptz[]), CAST(:lats AS float8[]), CAST(:lons AS float8[]),"
    "             CAST(:accs AS float8[]), CAST(:bats AS smallint[])) AS f(t, lat, lon, acc, bat)"
    " ON CONFLICT (agent_id, t) DO NOTHING RETURNING 1) SELECT count(*) FROM ins")


def ingest(agent_ref: str, fixes: list[Fix], *, who: Principal | None = None) -> IngestResult:
    """Store a checked batch in one transaction (nothing of it if anything fails), then publish the
    newest fix to Redis for the map."""
    check_poster(who, agent_ref)
    unique = {f.t: f for f in fixes}   # the same instant twice in one batch counts once
    ordered = sorted(unique.values(), key=lambda f: f.t)
    with write_transaction() as conn:
        row = conn.execute(sa.text("SELECT id, active FROM agents WHERE agent_ref = :r"), {"r": agent_ref}).first()
        if row is None:
            raise FieldError("agent_ref", f"agent inconnu ({agent_ref!r}).", status=404)
        if not row.active:
            raise FieldError("agent_ref", f"l'agent {agent_ref} n'est plus actif.", status=403)
        stored = conn.execute(_INSERT, {
            "agent": row.id, "ts": [f.t for f in ordered], "lats": [f.lat for f in ordered],
            "lons": [f.lon for f in ordered], "accs": [f.accuracy_m for f in ordered],
            "bats": [f.battery for f in ordered]}).scalar_one()
    result = IngestResult(agent_ref, len(fixes), int(stored))
    metrics.POSITIONS.labels("stored").inc(result.stored)
    if result.duplicates:
        metrics.POSITIONS.labels("duplicate").inc(result.duplicates)
    if result.stored:
        publish_latest(agent_ref, ordered[-1])
    return result


# --- the latest fix per agent in Redis ------------------------------------------------------------

_SET_IF_NEWER = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (not current) or tonumber(string.match(current, '^[^|]+')) < tonumber(ARGV[2]) then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
end
return redis.call('INCR', KEYS[2])
"""


def _keys() -> tuple[str, str]:
    prefix = get_runtime().memo.prefix
    return f"{prefix}:positions:latest", f"{prefix}:positions:version"


def publish_latest(agent_ref: str, fix: Fix) -> None:
    """Keep the newest fix per agent in Redis and move the version counter the map watches. A Redis
    failure is not the phone's problem: the fix is stored, and the map falls back to PostgreSQL."""
    memo = get_runtime().memo
    if not memo.available():
        return
    payload = json.dumps({"lat": fix.lat, "lon": fix.lon, "accuracy_m": fix.accuracy_m, "battery": fix.battery,
                          "t": fix.t.isoformat()}, separators=(",", ":"))
    try:
        memo.client.eval(_SET_IF_NEWER, 2, *_keys(), agent_ref, f"{fix.t.timestamp():.6f}", payload)
    except redis.RedisError as exc:
        memo._mark_down("positions", exc)


def version() -> int | None:
    """The counter that moves on every stored batch (None when Redis cannot say)."""
    memo = get_runtime().memo
    if not memo.available():
        return None
    try:
        value = memo.client.get(_keys()[1])
    except redis.RedisError as exc:
        memo._mark_down("positions", exc)
        return None
    return int(value or 0)


@contextlib.contextmanager
def _reading():
    """A read-only transaction as akig_read_all (the server connects as akig_app, which reads nothing
    by itself; sql/008)."""
    runtime = get_runtime()
    with translated_errors(), runtime.engine.begin() as conn:
        if runtime.settings.row_security:
            conn.execute(sa.text("SELECT set_config('role', 'akig_read_all', true)"))
        yield conn


LATEST_COLUMNS = ["agent_ref", "t", "lat", "lon", "accuracy_m", "battery"]


def _latest_from_redis() -> pd.DataFrame | None:
    """The hash of latest fixes; filled from PostgreSQL first when Redis does not have it (a new or
    restarted Redis), so that agents who have not posted since are not missing from the map."""
    memo = get_runtime().memo
    if not memo.available():
        return None
    latest_key = _keys()[0]
    warm_key = latest_key + ":warm"
    try:
        if not memo.client.exists(warm_key):
            _warm(memo)
            memo.client.set(warm_key, "1")
        raw = memo.client.hgetall(latest_key)
    except redis.RedisError as exc:
        memo._mark_down("positions", exc)
        return None
    rows = []
    for agent, value in raw.items():
        fix = json.loads(value.split(b"|", 1)[1])
        rows.append({"agent_ref": agent.decode(), "t": pd.Timestamp(fix["t"]).tz_convert(TZ), "lat": fix["lat"],
                     "lon": fix["lon"], "accuracy_m": fix["accuracy_m"], "battery": fix["battery"]})
    return pd.DataFrame(rows, columns=LATEST_COLUMNS)


def _warm(memo) -> None:
    frame = _latest_from_database(dt.datetime.now(TZ) - MAX_AGE)
    for row in frame.itertuples(index=False):
        fix = Fix(pd.Timestamp(row.t).to_pydatetime(), float(row.lat), float(row.lon),
                  None if pd.isna(row.accuracy_m) else float(row.accuracy_m),
                  None if pd.isna(row.battery) else int(row.battery))
        publish_latest(row.agent_ref, fix)


def _latest_from_database(since: dt.datetime) -> pd.DataFrame:
    with _reading() as conn:
        rows = conn.execute(sa.text(
            "SELECT a.agent_ref, p.t AS fix_time, p.lat, p.lon, p.accuracy_m, p.battery FROM agents a"
            " JOIN LATERAL (SELECT * FROM agent_positions ap WHERE ap.agent_id = a.id AND ap.t >= :since"
            "               ORDER BY ap.t DESC LIMIT 1) p ON true ORDER BY a.agent_ref"), {"since": since}).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=LATEST_COLUMNS)


def latest(now: dt.datetime | None = None) -> pd.DataFrame:
    """The newest fix of each agent heard from in the last 7 days (Redis, else PostgreSQL), with its age
    in seconds and whether the agent counts as active (a fix in the last 10 minutes)."""
    now = now or dt.datetime.now(TZ)
    frame = _latest_from_redis()
    if frame is None or frame.empty:  # Redis down, or emptied (restart): PostgreSQL has the truth
        frame = _latest_from_database(now - MAX_AGE)
    if frame.empty:
        return frame.assign(age_s=pd.Series(dtype="float64"), active=pd.Series(dtype="bool"))
    frame["t"] = pd.to_datetime(frame["t"], utc=True).dt.tz_convert(TZ)
    frame = frame[frame["t"] >= now - MAX_AGE].copy()
    frame["age_s"] = (pd.Timestamp(now) - frame["t"]).dt.total_seconds().clip(lower=0)
    frame["active"] = frame["age_s"] <= INACTIVE_AFTER.total_seconds()
    return frame.sort_values("agent_ref").reset_index(drop=True)


def received_since(after: dt.datetime, day_start: dt.datetime) -> pd.DataFrame:
    """Fixes stored after `after` (by arrival) and taken since `day_start`: the poller's increment."""
    with _reading() as conn:
        rows = conn.execute(sa.text(
            "SELECT a.agent_ref, p.t AS fix_time, p.lat, p.lon, p.received_at FROM agent_positions p"
            " JOIN agents a ON a.id = p.agent_id WHERE p.received_at > :after AND p.t >= :day"
            " ORDER BY p.received_at"), {"after": after, "day": day_start}).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=["agent_ref", "t", "lat", "lon", "received_at"])


def track(agent_ref: str, day: dt.date) -> pd.DataFrame:
    """One agent's fixes of one local day, in time order (the replay and the day's track)."""
    start = dt.datetime.combine(day, dt.time(), TZ)
    with _reading() as conn:
        rows = conn.execute(sa.text(
            "SELECT p.t AS fix_time, p.lat, p.lon, p.accuracy_m, p.battery FROM agent_positions p"
            " JOIN agents a ON a.id = p.agent_id WHERE a.agent_ref = :a AND p.t >= :s AND p.t < :e ORDER BY p.t"),
            {"a": agent_ref, "s": start, "e": start + dt.timedelta(days=1)}).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=["t", "lat", "lon", "accuracy_m", "battery"])
    frame["t"] = pd.to_datetime(frame["t"], utc=True).dt.tz_convert(TZ)
    return frame


def day_latest(agent_ref: str, day: dt.date) -> dict[str, Any] | None:
    """One agent's newest fix of one local day, as the phone app shows it ({lat, lon, at, accuracy_m}), or
    None. Read from PostgreSQL at each call, not memoized: fixes are stored without moving the reads'
    generations (thousands a day), so a memoized answer would lag behind the phone by its lifetime."""
    start = dt.datetime.combine(day, dt.time(), TZ)
    with _reading() as conn:
        row = conn.execute(sa.text(
            "SELECT p.t AS fix_time, p.lat, p.lon, p.accuracy_m FROM agent_positions p JOIN agents a ON a.id = p.agent_id"
            " WHERE a.agent_ref = :a AND p.t >= :s AND p.t < :e ORDER BY p.t DESC LIMIT 1"),
            {"a": agent_ref, "s": start, "e": start + dt.timedelta(days=1)}).first()
    if row is None:
        return None
    return {"lat": float(row.lat), "lon": float(row.lon), "at": row.fix_time.astimezone(TZ).isoformat(),
            "accuracy_m": None if row.accuracy_m is None else float(row.accuracy_m)}


def retention_days() -> int:
    return get_runtime().settings.positions_retention_days


def prune(days: int | None = None) -> int:
    """Remove fixes older than the retention (whole months are dropped, sql/016); returns how many went."""
    days = retention_days() if days is None else days
    if days < 1:
        raise InvalidParameter("la durée de conservation des positions est d'au moins 1 jour.")
    with write_transaction() as conn:
        deleted = conn.execute(sa.text("SELECT prune_positions(now() - make_interval(days => :d))"),
                               {"d": days}).scalar()
    metrics.POSITIONS.labels("pruned").inc(deleted)
    return int(deleted)


def agents_on_map(now: dt.datetime | None = None) -> pd.DataFrame:
    """Every active agent with his latest fix (if any in 7 days), its age, battery, and today's missions
    done / planned: the map's agents layer and `GET /api/agents/positions`."""
    now = now or dt.datetime.now(TZ)
    with _reading() as conn:
        rows = conn.execute(sa.text(
            "SELECT a.agent_ref, a.full_name, a.zone,"
            " count(m.id) FILTER (WHERE m.status = 'done')::int AS missions_done, count(m.id)::int AS missions_planned"
            " FROM agents a LEFT JOIN missions m ON m.agent_id = a.id AND m.day = :d"
            " WHERE a.active GROUP BY a.id ORDER BY a.agent_ref"), {"d": now.astimezone(TZ).date()}).all()
    agents = pd.DataFrame([tuple(r) for r in rows],
                          columns=["agent_ref", "full_name", "zone", "missions_done", "missions_planned"])
    frame = agents.merge(latest(now), on="agent_ref", how="left")
    frame["active"] = frame["active"].astype("boolean").fillna(False).astype(bool)
    return frame


def day_visits(agent_ref: str, day: dt.date) -> pd.DataFrame:
    """One agent's visits of one local day with their proof of presence (the replay's markers)."""
    start = dt.datetime.combine(day, dt.time(), TZ)
    with _reading() as conn:
        rows = conn.execute(sa.text(
            "SELECT v.visited_at, v.outcome, v.lat, v.lon, v.distance_m, coalesce(v.proof, false) AS proof,"
            " s.name AS site_name FROM visits v JOIN agents a ON a.id = v.agent_id JOIN leases l ON l.id = v.lease_id"
            " JOIN sites s ON s.id = l.site_id"
            " WHERE a.agent_ref = :a AND v.visited_at >= :s AND v.visited_at < :e AND v.lat IS NOT NULL"
            " ORDER BY v.visited_at"), {"a": agent_ref, "s": start, "e": start + dt.timedelta(days=1)}).all()
    frame = pd.DataFrame([tuple(r) for r in rows],
                         columns=["visited_at", "outcome", "lat", "lon", "distance_m", "proof", "site_name"])
    frame["visited_at"] = pd.to_datetime(frame["visited_at"], utc=True).dt.tz_convert(TZ)
    return frame
