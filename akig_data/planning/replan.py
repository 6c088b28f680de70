"""Route orders on demand: `POST /api/routes/optimize` (any stops), and re-planning the rest of an
agent's day from where he is now (the map's "optimise again from here").

Both use the same solver as the daily missions (akig_data.planning.solver: exact up to 12 stops, OR-Tools'
search above, with the 0.5 s time limit given here). Re-planning never drops
a stop (the manager decides what to cancel): it only changes the order of the visits still planned,
saves the new order and ETAs, and says how much distance the new order saves over the old one from
the same position.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from akig_data.writes import audit, positions
from akig_data.access import roles
from akig_data.errors import AccessDenied, InvalidParameter
from akig_data.planning.solver import Stop, in_order, solve
from akig_data.runtime import get_runtime, write_transaction
from akig_data.access.scope import Principal

MAX_STOPS = 200
NO_DROP_MINUTES = 7 * 24 * 60   # re-planning keeps every stop: the working day does not cut the route


def _point(value: Any, field: str) -> tuple[float, float]:
    if not isinstance(value, dict) or set(value) - {"lat", "lon", "id"}:
        raise positions.FieldError(field, "un objet {lat, lon} est attendu.")
    coords = []
    for axis, bound in (("lat", 90), ("lon", 180)):
        number = value.get(axis)
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not abs(number) <= bound:
            raise positions.FieldError(f"{field}.{axis}", f"nombre de −{bound} à {bound} attendu.")
        coords.append(float(number))
    return coords[0], coords[1]


def _start_time(value: Any, now: dt.datetime) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise positions.FieldError("start_time", "date et heure ISO 8601 avec fuseau attendues.")
    if abs(moment - now) > dt.timedelta(days=14):
        raise positions.FieldError("start_time", "à plus de 14 jours d'aujourd'hui.")
    return moment


def optimize_request(body: dict, now: dt.datetime | None = None) -> dict:
    """{"start": {lat, lon}, "stops": [{"id", lat, lon}], "start_time": ISO (default now)} -> the best
    order (exact for a few stops, OR-Tools above), each leg's estimated road distance and each stop's ETA.
    Nothing is stored."""
    unknown = sorted(set(body) - {"start", "stops", "start_time"})
    if unknown:
        raise positions.FieldError(unknown[0], "champ inconnu (champs : start, stops, start_time).")
    start = _point(body.get("start"), "start")
    raw_stops = body.get("stops")
    if not isinstance(raw_stops, list) or not raw_stops:
        raise positions.FieldError("stops", "une liste non vide d'arrêts {id, lat, lon} est attendue.")
    if len(raw_stops) > MAX_STOPS:
        raise positions.FieldError("stops", f"au plus {MAX_STOPS} arrêts.", status=413)
    stops, seen = [], set()
    for i, raw in enumerate(raw_stops):
        lat, lon = _point(raw, f"stops[{i}]")
        key = raw.get("id", str(i))
        if not isinstance(key, (str, int)) or isinstance(key, bool) or str(key) in seen:
            raise positions.FieldError(f"stops[{i}].id", "identifiant (texte ou nombre) unique attendu.")
        seen.add(str(key))
        stops.append(Stop(key, lat, lon))
    begin = now or dt.datetime.now(positions.TZ)
    if body.get("start_time") is not None:
        begin = _start_time(body["start_time"], begin)
    route = solve(start, stops, time_limit_s=0.5, day_minutes=NO_DROP_MINUTES)
    given = in_order(start, stops)
    return {
        "order": route.order,
        "legs_m": [round(m) for m in route.legs_m],
        "etas": [(begin + dt.timedelta(minutes=m)).isoformat() for m in route.arrivals_min],
        "distance_m": round(route.distance_m),
        "distance_in_given_order_m": round(given.distance_m),
    }


def reoptimize(agent_ref: str, day: dt.date | None = None, *, start: tuple[float, float] | None = None,
               who: Principal | None = None, address: str | None = None, now: dt.datetime | None = None) -> dict:
    """Re-order the agent's visits still planned today from `start` (default: his latest GPS fix), save
    the order and ETAs, and return the distance before and after."""
    if who is not None and who.role not in roles.ROUTE_PLANNERS:
        raise AccessDenied("Accès refusé : seuls les responsables modifient la tournée d'un agent.")
    now = now or dt.datetime.now(positions.TZ)
    day = day or now.date()
    runtime = get_runtime()
    if start is None:
        latest = positions.latest(now)
        mine = latest[latest["agent_ref"] == agent_ref]
        if not mine.empty:
            start = (float(mine.iloc[0]["lat"]), float(mine.iloc[0]["lon"]))
    with write_transaction() as conn:
        rows = conn.execute(sa.text(
            "SELECT m.id, m.mission_ref, m.status, m.route_order, s.lat, s.lon FROM missions m"
            " JOIN agents a ON a.id = m.agent_id JOIN leases l ON l.id = m.lease_id JOIN sites s ON s.id = l.site_id"
            " WHERE a.agent_ref = :a AND m.day = :d AND m.kind = 'visit' ORDER BY m.route_order FOR UPDATE OF m"),
            {"a": agent_ref, "d": day}).all()
        planned = [r for r in rows if r.status == "planned"]
        if not planned:
            raise InvalidParameter(f"{agent_ref} n'a plus de visite prévue le {day:%d/%m/%Y}.")
        if start is None:  # no fix at all: from his first remaining stop
            start = (planned[0].lat, planned[0].lon)
        stops = [Stop(r.id, r.lat, r.lon) for r in planned]
        before = in_order(start, stops)
        after = solve(start, stops, time_limit_s=0.5, day_minutes=NO_DROP_MINUTES)
        if after.distance_m > before.distance_m:  # above 12 stops a heuristic: never make a route worse
            after = before
        first = len(rows) - len(planned) + 1
        for offset, (mission_id, leg, minutes) in enumerate(zip(after.order, after.legs_m, after.arrivals_min)):
            conn.execute(sa.text("UPDATE missions SET route_order = :o, eta = :eta, leg_m = :leg WHERE id = :id"),
                         {"o": first + offset, "eta": now + dt.timedelta(minutes=minutes), "leg": leg, "id": mission_id})
        refs = {r.id: r.mission_ref for r in planned}
        result = {"agent_ref": agent_ref, "day": day.isoformat(), "stops": len(planned),
                  "start": {"lat": start[0], "lon": start[1]},
                  "before_m": round(before.distance_m), "after_m": round(after.distance_m),
                  "saved_m": round(before.distance_m - after.distance_m),
                  "order": [refs[i] for i in after.order]}
        audit.record(conn, actor=who.username if who else audit.cli_actor(), role=who.role if who else None,
                     address=address or ("cli" if who is None else None), action="route_reoptimize",
                     target=agent_ref, details={k: v for k, v in result.items() if k != "order"})
    runtime.memo.bump(["missions"])
    return result
