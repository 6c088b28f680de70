"""Daily missions: the chance-to-pay model on hand-worked cases, routing against its baselines, and
generation (capacity, zones, no duplicates, valid tours, broken promises first, re-runs keep what is done)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from akig_data.writes import collection, missions
from akig_data import reads
from akig_data.planning import solver as routing
from akig_data.errors import AccessDenied, InvalidParameter
from akig_data.access.scope import Principal
from akig_data.risk.visits import rule_chance

TODAY = dt.datetime.now(missions.TZ).date()
TODAY_FOLLOWS_THE_CLOCK = True   # tests/conftest.py sets TODAY again before each test


@pytest.mark.parametrize("days_late, came_due, kept, outcome, expected", [
    (10, None, None, None, 0.9 * (0.5 + 0.5 * 0.5)),   # no promise history: kept rate 0.5
    (45, 4, 4, "reached", min(0.95, 0.7 * 1.0 * 1.1)),
    (75, 4, 0, "refused", 0.5 * 0.5 * 0.6),
    (200, 2, 1, "wrong_number", max(0.05, 0.3 * 0.75 * 0.5)),
    (5, 1, 1, "paid", 0.95),            # clamped
    (400, 10, 0, "wrong_number", 0.075),
])
def test_chance_to_pay_on_hand_worked_cases(days_late, came_due, kept, outcome, expected):
    assert rule_chance(days_late, came_due, kept, outcome) == pytest.approx(expected)


# --- routing ------------------------------------------------------------------------------------

STOPS = [routing.Stop(i, 9.50 + (i * 37 % 11) * 0.004, -13.70 + (i * 53 % 13) * 0.004, 100 + i) for i in range(12)]
START = (9.52, -13.68)


def test_or_tools_beats_or_equals_the_baselines():
    best = routing.solve(START, STOPS, time_limit_s=1.0)
    nn = routing.nearest_neighbour(START, STOPS)
    rand = routing.random_order(START, STOPS)
    assert sorted(best.order) == list(range(12)) and best.dropped == []
    assert best.distance_m <= nn.distance_m + 1 and best.distance_m < rand.distance_m
    assert best.arrivals_min == sorted(best.arrivals_min)
    assert best.distance_m == pytest.approx(sum(best.legs_m))


def test_a_short_day_drops_the_least_valuable_stops():
    route = routing.solve(START, STOPS, time_limit_s=0.5, day_minutes=60)
    assert 0 < len(route.order) < 12 and len(route.order) + len(route.dropped) == 12
    assert route.arrivals_min[-1] <= 60
    assert routing.solve(START, []).order == []


# --- generation ---------------------------------------------------------------------------------

def planned(rt, day) -> pd.DataFrame:
    with rt.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT m.*, a.agent_ref, a.zone, s.commune FROM missions m JOIN agents a ON a.id = m.agent_id "
            "JOIN leases l ON l.id = m.lease_id JOIN sites s ON s.id = l.site_id WHERE m.day = :d"), {"d": day})
        return pd.DataFrame(rows.fetchall(), columns=list(rows.keys()))


def test_generation_respects_capacity_zones_and_the_working_day(seeded):
    report = missions.generate(TODAY, visit_capacity=3, call_capacity=4)
    assert report.chance_from == "rule"                  # no visit model trained on this data set
    frame = planned(seeded, TODAY)
    assert report.planned_visits == (frame["kind"] == "visit").sum() > 0
    assert report.planned_calls == (frame["kind"] == "call").sum()  # the small set ends in June: all 30+ days late
    per_agent = frame.groupby(["agent_ref", "kind"]).size()
    assert per_agent.max() <= 4 and per_agent.xs("visit", level="kind").max() <= 3
    assert (frame["zone"] == frame["commune"]).all()
    assert not frame.duplicated(["lease_id", "kind"]).any()
    for _, visits in frame[frame["kind"] == "visit"].groupby("agent_ref"):
        visits = visits.sort_values("route_order")
        assert list(visits["route_order"]) == list(range(1, len(visits) + 1))      # a tour, in order
        etas = list(visits["eta"])
        assert etas == sorted(etas)
        assert etas[0].astimezone(missions.TZ).time() >= dt.time(8, 0)
        assert etas[-1].astimezone(missions.TZ).time() <= dt.time(17, 0)
    assert report.unassigned == report.candidates - len(frame)


def test_broken_promises_come_first(seeded):
    with seeded.engine.begin() as conn:
        lease = conn.execute(sa.text(
            "SELECT l.id, l.lease_ref FROM leases l JOIN sites s ON s.id = l.site_id JOIN agents a ON a.zone = s.commune "
            "ORDER BY l.monthly_rent LIMIT 1")).one()
        conn.execute(sa.text("INSERT INTO promises (promise_ref, lease_id, created_at, due_date, amount) "
                             "VALUES ('PR-BROKEN', :l, now() - interval '3 days', :d, 100000)"),
                     {"l": lease.id, "d": TODAY - dt.timedelta(days=1)})
    missions.generate(TODAY, visit_capacity=1, call_capacity=1)
    frame = planned(seeded, TODAY)
    mine = frame[frame["lease_id"] == lease.id]
    assert list(mine["reason"]) == ["broken_promise"] and list(mine["kind"]) == ["visit"]


def test_rerunning_keeps_what_is_done_and_never_duplicates(seeded):
    first = missions.generate(TODAY)
    frame = planned(seeded, TODAY)
    call = frame[frame["kind"] == "visit"].iloc[0]
    with seeded.engine.connect() as conn:
        lat, lon, lease_ref = conn.execute(sa.text(
            "SELECT s.lat, s.lon, l.lease_ref FROM leases l JOIN sites s ON s.id = l.site_id WHERE l.id = :i"),
            {"i": int(call["lease_id"])}).one()
    collection.record_visit(lease_ref, "reached", lat=lat, lon=lon, agent_ref=call["agent_ref"])
    done = reads.missions(day=TODAY)
    assert (done["status"] == "done").sum() == 1
    second = missions.generate(TODAY)
    again = planned(seeded, TODAY)
    assert second.kept_done == 1 and len(again) == len(frame)
    assert not again.duplicated(["lease_id", "kind"]).any()
    assert again.set_index("mission_ref").loc[call["mission_ref"], "status"] == "done"
    assert first.planned_visits == second.planned_visits + 1


def test_refusals(seeded):
    with pytest.raises(InvalidParameter, match="journée passée"):
        missions.generate(TODAY - dt.timedelta(days=5))
    with pytest.raises(InvalidParameter, match="deux semaines"):
        missions.generate(TODAY + dt.timedelta(days=30))
    for role in ("agent", "owner", "analyst", "ops"):
        with pytest.raises(AccessDenied):
            missions.generate(TODAY, who=Principal("x", role, owner_ref="OWN-0001", agent_ref="AGT-001"))


def test_an_agent_reads_only_his_missions(seeded):
    from akig_data.access import scope

    missions.generate(TODAY)
    scope.set_principal_resolver(lambda: Principal("fode", "agent", agent_ref="AGT-001"))
    try:
        mine = reads.missions(day=TODAY)
        assert set(mine["agent_ref"]) <= {"AGT-001"}
        with pytest.raises(AccessDenied):
            reads.missions(day=TODAY, agent_ref="AGT-002")
        with pytest.raises(AccessDenied):
            reads.arrears_by_site()
    finally:
        scope.set_principal_resolver(None)
