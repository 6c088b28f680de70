"""The day's missions (`akig missions generate --date D`): who calls or visits which tenant, in which order.

1. **Candidates**: every lease in arrears on day D, plus every promise falling due on D, plus the
   promises broken the day before.
2. **Chance to pay** if contacted on D: the newest visit model's probability that the lease pays on the
   visit's day or in the 14 days after it (akig_data/risk/visits.py, trained by `akig model train` on the
   past visits' outcomes); before any model is trained, and for a lease the model's features do not cover
   (a lease ended with arrears left), a transparent rule (`rule_chance`, documented in
   docs/explanation/collection.md): lateness × (0.5 + 0.5 × promise-kept rate) × last-contact factor,
   clamped to 5–95 %. The report says which one ranked the day.
3. **Priority** = expected recovery = arrears × chance, ×1.5 after a broken promise (those come first),
   ×1.2 for a promise due today.
4. **Call or visit**: a visit when more than 30 days late, after a broken promise, or when the last call
   did not reach the tenant; otherwise a call (a promise due today is a reminder call).
5. **Assignment**: greedily by priority to the active agent of the site's commune (his zone) with the
   fewest missions, within his daily capacity (12 visits, 30 calls by default); a candidate whose zone
   has no agent with room is left unassigned (counted in the report).
6. **Routes**: each agent's visits are ordered by OR-Tools (akig_data.planning.solver) from his last GPS fix
   (else his first site), within the working day (08:00–17:00, 15 minutes per visit); visits that do not
   fit are dropped, the least valuable first. Calls are ordered by priority.

Re-running a day keeps the missions already done and replaces only the planned ones; the unique
(day, lease, kind) key means a mission is never duplicated.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from akig_data.writes import audit
from akig_data.clock import LOCAL_TZ
from akig_data.errors import AccessDenied, InvalidParameter
from akig_data.upkeep.dues_horizon import ensure_dues_horizon
from akig_data.planning.solver import Stop, solve
from akig_data.risk.visits import chances as visit_chances
from akig_data.risk.visits import rule_chance
from akig_data.runtime import get_runtime, write_transaction
from akig_data.access.scope import Principal

TZ = ZoneInfo(LOCAL_TZ)
VISIT_CAPACITY = 12
CALL_CAPACITY = 30
DAY_START = dt.time(8, 0)

_CANDIDATES = sa.text("""
WITH bal AS MATERIALIZED (
    SELECT b.lease_id, b.site_id, b.tenant_id, b.arrears, b.days_late
      FROM lease_balances(:d, NULL) b
), due_promises AS (
    SELECT pr.lease_id, bool_or(pr.due_date = :d) AS due_today,
           bool_or(pr.due_date = :d - 1 AND coalesce(pp.paid, 0) = 0) AS broken_yesterday
      FROM promises pr
      LEFT JOIN LATERAL (SELECT sum(p.amount) AS paid FROM payments p
                          WHERE p.lease_id = pr.lease_id AND p.paid_on BETWEEN pr.created_on AND pr.due_date) pp ON true
     WHERE pr.due_date IN (:d, :d - 1) AND pr.created_on <= :d
     GROUP BY pr.lease_id
), history AS (
    SELECT l.tenant_id,
           count(*) FILTER (WHERE pr.due_date < :d) AS came_due,
           count(*) FILTER (WHERE pr.due_date < :d AND coalesce(pp.paid, 0) >= pr.amount) AS kept
      FROM promises pr JOIN leases l ON l.id = pr.lease_id
      LEFT JOIN LATERAL (SELECT sum(p.amount) AS paid FROM payments p
                          WHERE p.lease_id = pr.lease_id AND p.paid_on BETWEEN pr.created_on AND pr.due_date) pp ON true
     WHERE pr.created_on <= :d
     GROUP BY l.tenant_id
), contacts AS (
    SELECT DISTINCT ON (lease_id) lease_id, kind, outcome FROM (
        SELECT lease_id, 'call' AS kind, outcome, called_at AS at FROM calls WHERE called_at < :day_start
        UNION ALL
        SELECT lease_id, 'visit', outcome, visited_at FROM visits WHERE visited_at < :day_start
    ) c ORDER BY lease_id, at DESC
)
SELECT l.id AS lease_id, l.lease_ref, s.commune, s.lat, s.lon, coalesce(b.arrears, 0) AS arrears,
       coalesce(b.days_late, 0) AS days_late, coalesce(dp.due_today, false) AS due_today,
       coalesce(dp.broken_yesterday, false) AS broken_yesterday,
       h.came_due, h.kept, c.kind AS last_kind, c.outcome AS last_outcome
  FROM leases l
  JOIN sites s ON s.id = l.site_id
  LEFT JOIN bal b ON b.lease_id = l.id
  LEFT JOIN due_promises dp ON dp.lease_id = l.id
  LEFT JOIN history h ON h.tenant_id = l.tenant_id
  LEFT JOIN contacts c ON c.lease_id = l.id
 WHERE coalesce(b.arrears, 0) > 0 OR dp.due_today OR dp.broken_yesterday
""")

@dataclass
class Candidate:
    lease_id: int
    lease_ref: str
    commune: str
    lat: float
    lon: float
    arrears: int
    kind: str
    reason: str
    chance: float
    priority: int


def candidates(conn: sa.Connection, day: dt.date, modelled: dict[str, float] | None = None) -> list[Candidate]:
    """Day D's candidates, ranked; `modelled` holds the visit model's chance per lease_ref (the rule for the
    others)."""
    day_start = dt.datetime.combine(day, dt.time(0, 0), TZ)
    modelled = modelled or {}
    out = []
    for r in conn.execute(_CANDIDATES, {"d": day, "day_start": day_start}):
        chance = modelled.get(r.lease_ref)
        if chance is None:
            chance = rule_chance(r.days_late, r.came_due, r.kept, r.last_outcome)
        priority = r.arrears * chance
        reason = "broken_promise" if r.broken_yesterday else "promise_due" if r.due_today else "arrears"
        if reason == "broken_promise":
            priority *= 1.5
        elif reason == "promise_due":
            priority *= 1.2
        unreached = r.last_kind == "call" and r.last_outcome in ("no_answer", "wrong_number")
        kind = "visit" if (r.days_late > 30 or reason == "broken_promise" or unreached) and reason != "promise_due" else "call"
        out.append(Candidate(r.lease_id, r.lease_ref, r.commune, r.lat, r.lon, int(r.arrears), kind, reason, chance,
                             int(round(max(priority, r.arrears * 0.01, 1)))))
    # broken promises first, then by expected recovery
    out.sort(key=lambda c: (c.reason != "broken_promise", -c.priority, c.lease_ref))
    return out


@dataclass
class AgentPlan:
    agent_id: int
    agent_ref: str
    zone: str
    start: tuple[float, float] | None
    visits: list[Candidate] = field(default_factory=list)
    calls: list[Candidate] = field(default_factory=list)


@dataclass
class Report:
    day: dt.date
    candidates: int
    planned_calls: int
    planned_visits: int
    kept_done: int
    unassigned: int
    dropped_visits: int
    solve_seconds: float
    distance_km: float
    chance_from: str = "rule"      # or "model N": what ranked the candidates

    def as_dict(self) -> dict:
        return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in self.__dict__.items()}


def _agents(conn: sa.Connection) -> list[AgentPlan]:
    rows = conn.execute(sa.text("""
        SELECT a.id, a.agent_ref, a.zone, p.lat, p.lon
          FROM agents a
          LEFT JOIN LATERAL (SELECT lat, lon FROM agent_positions ap WHERE ap.agent_id = a.id
                              ORDER BY t DESC LIMIT 1) p ON true
         WHERE a.active ORDER BY a.agent_ref"""))
    return [AgentPlan(r.id, r.agent_ref, r.zone or "", (r.lat, r.lon) if r.lat is not None else None) for r in rows]


def generate(day: dt.date, *, who: Principal | None = None, address: str | None = None,
             visit_capacity: int = VISIT_CAPACITY, call_capacity: int = CALL_CAPACITY,
             time_limit_s: float = 0.2) -> Report:
    """Plan day D (see the module docstring); returns what was planned."""
    if not isinstance(day, dt.date):
        raise InvalidParameter("date : une date AAAA-MM-JJ est attendue.")
    if who is not None and who.role not in ("admin", "manager"):
        raise AccessDenied("Accès refusé : seuls les responsables planifient les missions.")
    today = dt.datetime.now(TZ).date()
    if day < today - dt.timedelta(days=1):
        raise InvalidParameter(f"date : on ne planifie pas une journée passée ({day:%d/%m/%Y}).")
    if day > today + dt.timedelta(days=14):
        raise InvalidParameter("date : au plus deux semaines à l'avance.")
    runtime = get_runtime()
    ensure_dues_horizon(runtime, day)
    actor = who.username if who else audit.cli_actor()
    modelled, model = visit_chances(day)        # before the lock: the features are a read of their own
    with write_transaction() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(1296651091)"))  # "MISS": one planner at a time
        done_rows = conn.execute(sa.text("SELECT lease_id, agent_id, kind FROM missions WHERE day = :d AND status = 'done'"),
                                 {"d": day}).all()
        done = {(r.lease_id, r.kind) for r in done_rows}
        done_load: dict[tuple[int, str], int] = defaultdict(int)  # what is done counts against the day's capacity
        for r in done_rows:
            done_load[(r.agent_id, r.kind)] += 1
        conn.execute(sa.text("DELETE FROM missions WHERE day = :d AND status = 'planned'"), {"d": day})
        pool = [c for c in candidates(conn, day, modelled) if (c.lease_id, c.kind) not in done]
        agents = _agents(conn)
        by_zone: dict[str, list[AgentPlan]] = defaultdict(list)
        for agent in agents:
            by_zone[agent.zone].append(agent)
        unassigned = 0
        for cand in pool:
            capacity = visit_capacity if cand.kind == "visit" else call_capacity
            room = [a for a in by_zone.get(cand.commune, [])
                    if len(a.visits if cand.kind == "visit" else a.calls) + done_load[(a.agent_id, cand.kind)] < capacity]
            if not room:
                unassigned += 1
                continue
            agent = min(room, key=lambda a: (len(a.visits) + len(a.calls), a.agent_ref))
            (agent.visits if cand.kind == "visit" else agent.calls).append(cand)
        started, rows, dropped, distance = time.perf_counter(), [], 0, 0.0
        day_start = dt.datetime.combine(day, DAY_START, TZ)
        for agent in agents:
            if agent.visits:
                start = agent.start or (agent.visits[0].lat, agent.visits[0].lon)
                stops = [Stop(c, c.lat, c.lon, c.priority) for c in agent.visits]
                route = solve(start, stops, time_limit_s=time_limit_s)
                dropped += len(route.dropped)
                distance += route.distance_m
                for order, (cand, leg, minutes) in enumerate(zip(route.order, route.legs_m, route.arrivals_min), 1):
                    rows.append(_row(day, agent, cand, order, day_start + dt.timedelta(minutes=minutes), leg))
            for order, cand in enumerate(sorted(agent.calls, key=lambda c: -c.priority), 1):
                rows.append(_row(day, agent, cand, order, None, None))
        solve_seconds = time.perf_counter() - started
        if rows:
            conn.execute(sa.text("""
                INSERT INTO missions (mission_ref, day, agent_id, lease_id, kind, reason, arrears, chance, priority,
                                      route_order, eta, leg_m)
                VALUES (:ref, :day, :agent, :lease, :kind, :reason, :arrears, :chance, :priority, :ord, :eta, :leg)
                ON CONFLICT (day, lease_id, kind) DO NOTHING"""), rows)
        report = Report(day, len(pool), sum(r["kind"] == "call" for r in rows), sum(r["kind"] == "visit" for r in rows),
                        len(done), unassigned, dropped, round(solve_seconds, 3), round(distance / 1000, 1),
                        "rule" if model is None else f"model {model.model_id}")
        audit.record(conn, actor=actor, role=who.role if who else None, address=address or ("cli" if who is None else None),
                     action="missions_generate", target=day.isoformat(), details=report.as_dict())
    runtime.memo.bump(["missions"])
    return report


def _row(day, agent: AgentPlan, cand: Candidate, order: int, eta, leg) -> dict:
    return {"ref": f"MIS-{day:%Y%m%d}-{uuid.uuid4().hex[:10].upper()}", "day": day,
            "agent": agent.agent_id, "lease": cand.lease_id, "kind": cand.kind, "reason": cand.reason,
            "arrears": cand.arrears, "chance": cand.chance, "priority": cand.priority, "ord": order, "eta": eta,
            "leg": leg}


def complete(conn: sa.Connection, lease_id: int, agent_id: int, kind: str, at: dt.datetime, outcome: str) -> int:
    """Mark the matching planned mission of that day done (called by the call and visit writes)."""
    return conn.execute(sa.text(
        "UPDATE missions SET status = 'done', done_at = :at, outcome = :outcome "
        "WHERE day = :day AND lease_id = :lease AND agent_id = :agent AND kind = :kind AND status = 'planned'"),
        {"at": at, "outcome": outcome, "day": at.astimezone(TZ).date(), "lease": lease_id, "agent": agent_id,
         "kind": kind}).rowcount
