"""Agents' GPS fixes in the data layer: every refusal of a batch names its field and writes nothing,
retries never duplicate, the latest fix per agent (Redis, else PostgreSQL), pruning, scheduled tasks
that run once per period, route optimisation and re-planning, the map's reads, the simulator's moves."""

from __future__ import annotations

import datetime as dt
import random
import time

import pytest
import sqlalchemy as sa

from akig_data.writes import missions, positions
from akig_data.upkeep import partitions, claims as schedule
from akig_data import clock, reads, runtime
from akig_data.planning import replan as route_planning
from akig_data.demo import simulator
from akig_data.errors import AccessDenied, InvalidParameter
from akig_data.access.scope import Principal
from tests.conftest import settings_for

UTC = dt.timezone.utc


def now() -> dt.datetime:
    return dt.datetime.now(UTC)


def fix(**over) -> dict:
    raw = {"t": (now() - dt.timedelta(seconds=30)).isoformat(), "lat": 9.55, "lon": -13.66, "accuracy_m": 8,
           "battery": 80}
    raw.update(over)
    return {k: v for k, v in raw.items() if v is not Ellipsis}


def count(rt, agent_ref: str | None = None) -> int:
    with rt.engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT count(*) FROM agent_positions p JOIN agents a ON a.id = p.agent_id"
            " WHERE CAST(:a AS text) IS NULL OR a.agent_ref = CAST(:a AS text)"), {"a": agent_ref}).scalar()


@pytest.mark.parametrize("body, field, status", [
    ([], "body", 400),
    ({"agent_ref": "AGT-001"}, "fixes", 400),
    ({"agent_ref": "AGT-001", "fixes": []}, "fixes", 400),
    ({"agent_ref": "", "fixes": [fix()]}, "agent_ref", 400),
    ({"agent_ref": "AGT-001", "fixes": [fix()], "extra": 1}, "extra", 400),
    ({"agent_ref": "AGT-001", "fixes": [fix()] * 1001}, "fixes", 413),
    ({"agent_ref": "AGT-001", "fixes": [fix(), "nope"]}, "fixes[1]", 400),
    ({"agent_ref": "AGT-001", "fixes": [fix(lat=91)]}, "fixes[0].lat", 400),
    ({"agent_ref": "AGT-001", "fixes": [fix(lon=-181)]}, "fixes[0].lon", 400),
    ({"agent_ref": "AGT-001", "fixes": [fix(), fix(lat=48.85, lon=2.35)]}, "fixes[1]", 400),   # Paris
    ({"agent_ref": "AGT-001", "fixes": [fix(lat="9.5")]}, "fixes[0].lat", 400),
    ({"agent_ref": "AGT-001", "fixes": [fix(lat=True)]}, "fixes[0].lat", 400),
    ({"agent_ref": "AGT-001", "fixes": [fix(lat=...)]}, "fixes[0].lat", 400),
    ({"agent_ref": "AGT-001", "fixes": [fix(accuracy_m=-1)]}, "fixes[0].accuracy_m", 400),
    ({"agent_ref": "AGT-001", "fixes": [fix(battery=101)]}, "fixes[0].battery", 400),
    ({"agent_ref": "AGT-001", "fixes": [fix(speed=3)]}, "fixes[0].speed", 400),
    ({"agent_ref": "AGT-001", "fixes": [fix(t="2026-11-26T10:00:00")]}, "fixes[0].t", 400),        # no zone
    ({"agent_ref": "AGT-001", "fixes": [fix(t="hier")]}, "fixes[0].t", 400),
    ({"agent_ref": "AGT-001", "fixes": [fix(t=(now() + dt.timedelta(days=1)).isoformat())]}, "fixes[0].t", 400),
    ({"agent_ref": "AGT-001", "fixes": [fix(t=(now() - dt.timedelta(days=7, minutes=1)).isoformat())]},
     "fixes[0].t", 400),
])
def test_every_refusal_names_its_field(body, field, status):
    with pytest.raises(positions.FieldError) as info:
        positions.parse_batch(body)
    assert info.value.field == field and info.value.status == status
    assert str(info.value).startswith(field)


def test_limits_are_accepted_up_to_the_edge():
    agent, fixes = positions.parse_batch({"agent_ref": "AGT-001", "fixes": [
        fix(t=(now() + dt.timedelta(minutes=4)).isoformat()),
        fix(t=(now() - dt.timedelta(days=6, hours=23)).isoformat(), accuracy_m=0, battery=0),
        fix(t=(now() - dt.timedelta(seconds=1)).isoformat().replace("+00:00", "Z"), lat=7.2, lon=-15.0),
        fix(accuracy_m=..., battery=...)] * 250})
    assert agent == "AGT-001" and len(fixes) == 1000


def test_a_batch_is_stored_once_and_a_retry_never_duplicates(seeded):
    before = count(seeded, "AGT-001")
    body = {"agent_ref": "AGT-001", "fixes": [fix(t=(now() - dt.timedelta(seconds=s)).isoformat()) for s in (30, 20, 10)]}
    agent, fixes = positions.parse_batch(body)
    first = positions.ingest(agent, fixes)
    assert (first.stored, first.duplicates) == (3, 0)
    again = positions.ingest(*positions.parse_batch(body))        # the phone did not get the answer and retries
    assert (again.stored, again.duplicates) == (0, 3)
    overlapping = body["fixes"][1:] + [fix(t=now().isoformat())]
    assert positions.ingest(*positions.parse_batch({"agent_ref": "AGT-001", "fixes": overlapping})).stored == 1
    twice = [fix(t=(now() - dt.timedelta(seconds=5)).isoformat())] * 2   # the same instant twice in one batch
    assert positions.ingest(*positions.parse_batch({"agent_ref": "AGT-001", "fixes": twice})).as_dict() == {
        "agent_ref": "AGT-001", "received": 2, "stored": 1, "duplicates": 1}
    assert count(seeded, "AGT-001") == before + 5
    latest = positions.latest()
    assert latest.set_index("agent_ref").loc["AGT-001", "active"]


def test_unknown_or_inactive_agents_and_other_agents_tokens_write_nothing(seeded):
    before = count(seeded)
    _, fixes = positions.parse_batch({"agent_ref": "AGT-001", "fixes": [fix()]})
    with pytest.raises(positions.FieldError) as info:
        positions.ingest("AGT-999", fixes)
    assert (info.value.field, info.value.status) == ("agent_ref", 404)
    with pytest.raises(positions.FieldError) as info:
        positions.ingest("AGT-001", fixes, who=Principal("x", "agent", None, "AGT-002"))
    assert (info.value.field, info.value.status) == ("agent_ref", 403)
    with pytest.raises(AccessDenied):
        positions.ingest("AGT-001", fixes, who=Principal("m", "manager", None, None))
    with seeded.engine.begin() as conn:
        conn.execute(sa.text("UPDATE agents SET active = false WHERE agent_ref = 'AGT-003'"))
    with pytest.raises(positions.FieldError) as info:
        positions.ingest("AGT-003", fixes)
    assert info.value.status == 403
    assert count(seeded) == before
    assert positions.ingest("AGT-002", fixes, who=Principal("a", "admin", None, None)).stored == 1  # a gateway


def test_latest_comes_from_redis_and_from_postgresql_without_it(seeded, redis_url):
    positions.ingest(*positions.parse_batch({"agent_ref": "AGT-002", "fixes": [fix(lat=9.6, lon=-13.6, battery=42)]}))
    older = fix(t=(now() - dt.timedelta(minutes=20)).isoformat(), lat=9.7)
    positions.ingest(*positions.parse_batch({"agent_ref": "AGT-002", "fixes": [older]}))  # late, older fix
    version = positions.version()
    cached = positions.latest().set_index("agent_ref").loc["AGT-002"]
    assert (cached["lat"], cached["battery"], bool(cached["active"])) == (9.6, 42, True)
    runtime.configure(settings_for(seeded.database_url, "off"))
    assert positions.version() is None
    plain = positions.latest().set_index("agent_ref").loc["AGT-002"]
    assert (plain["lat"], plain["battery"]) == (9.6, 42)
    runtime.configure(settings_for(seeded.database_url, redis_url))   # a new Redis prefix: warmed from PostgreSQL
    assert positions.latest().set_index("agent_ref").loc["AGT-002", "lat"] == 9.6
    assert version >= 2


def test_agents_on_map_lists_every_active_agent_with_his_missions(seeded):
    positions.ingest(*positions.parse_batch({"agent_ref": "AGT-001", "fixes": [fix()]}))
    frame = positions.agents_on_map().set_index("agent_ref")
    assert frame.loc["AGT-001", "active"] and frame.loc["AGT-001", "age_s"] < 120
    assert {"full_name", "missions_done", "missions_planned", "battery"} <= set(frame.columns)


def test_old_positions_are_pruned_after_the_retention(seeded):
    with seeded.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM agent_positions"))
        conn.execute(sa.text(
            "INSERT INTO agent_positions (agent_id, t, lat, lon) SELECT id, now() - make_interval(days => d), 9.5, -13.6"
            " FROM agents, unnest(ARRAY[1, 89, 91, 400]) AS d WHERE agent_ref = 'AGT-001'"))
    partitions.ensure()                       # the 400-day-old fix gets its month's partition
    old_month = f"agent_positions_{dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=400):%Y_%m}"

    def months() -> set[str]:
        with seeded.engine.connect() as conn:
            return set(conn.execute(sa.text("SELECT inhrelid::regclass::text FROM pg_inherits "
                                            "WHERE inhparent = 'agent_positions'::regclass")).scalars())

    assert old_month in months()
    assert positions.prune() == 2
    assert count(seeded) == 2
    assert old_month not in months()          # a month wholly past the retention is dropped, not deleted
    assert positions.prune(30) == 1
    with pytest.raises(InvalidParameter):
        positions.prune(0)


def test_a_scheduled_task_runs_once_per_period(seeded):
    ran = []
    assert schedule.run_if_due("test_task", dt.timedelta(hours=1), lambda: ran.append(1) or "fine")
    assert not schedule.run_if_due("test_task", dt.timedelta(hours=1), lambda: ran.append(2))   # another process
    assert ran == [1] and schedule.last_runs()["test_task"][1] == "ok: fine"
    assert schedule.run_if_due("failing", dt.timedelta(hours=1), lambda: 1 / 0)
    assert schedule.last_runs()["failing"][1].startswith("error:")


def test_the_servers_scheduler_prunes_evaluates_and_writes_the_reports(seeded, tmp_path, monkeypatch):
    from dashboards.server import tasks as scheduled_tasks

    from akig_data.observe import metrics

    from akig_data.errors import AccessDenied
    from akig_data.access.scope import set_principal_resolver

    monkeypatch.setenv("AKIG_REPORTS_DIR", str(tmp_path))
    monkeypatch.setenv("AKIG_DAILY_REPORT_AT", "00:00")

    def no_session():   # as in the server: a read outside a browser session names nobody
        raise AccessDenied("Accès refusé : aucune session ouverte.")

    set_principal_resolver(no_session)
    refreshed = []
    scheduler = scheduled_tasks.Scheduler(0.05, scheduled_tasks.tasks(), every_tick=[lambda: refreshed.append(1)])
    try:
        assert scheduler.run_due() == ["evaluate_alerts", "business_gauges", "plan_reminders", "send_reminders",
                                     "prune_positions", "partitions", "risk_scores", "lease_positions",
                                       "agent_months", "daily_report"]
    finally:
        set_principal_resolver(None)
    assert scheduler.run_due() == []      # alerts every 5 minutes, pruning and the reports once a day
    day = schedule.latest_slot(dt.time(0, 0)).date()                    # today's reports, as it is past 00:00
    assert (tmp_path / day.isoformat() / f"rapport-{day}.pdf").exists()
    assert all(result.startswith("ok:") for _, result in schedule.last_runs().values()), schedule.last_runs()
    with seeded.engine.connect() as conn:   # today's lease positions stored, as the rules compute them
        assert conn.execute(sa.text("SELECT as_of FROM lease_positions_day")).scalar() == clock.today()
        assert conn.execute(sa.text("SELECT count(*) FROM lease_positions_drift")).scalar() == 0
    assert metrics.ALERTS_ACTIVE.labels("tenant_late_no_contact", "critical")._value.get() > 0
    scheduler.start()
    deadline = time.monotonic() + 5
    while not refreshed and time.monotonic() < deadline:
        time.sleep(0.05)
    scheduler.stop()
    assert refreshed


def test_route_optimisation_request():
    stops = [{"id": f"s{i}", "lat": 9.50 + (i * 37 % 11) * 0.004, "lon": -13.70 + (i * 53 % 13) * 0.004} for i in range(8)]
    answer = route_planning.optimize_request({"start": {"lat": 9.52, "lon": -13.68}, "stops": stops,
                                              "start_time": "2026-11-26T08:00:00+00:00"},
                                             now=dt.datetime(2026, 11, 26, 7, tzinfo=UTC))
    assert sorted(answer["order"]) == sorted(s["id"] for s in stops)
    assert answer["distance_m"] == sum(answer["legs_m"]) or abs(answer["distance_m"] - sum(answer["legs_m"])) <= 8
    assert answer["distance_m"] <= answer["distance_in_given_order_m"]
    assert answer["etas"][0].startswith("2026-11-26T08") and answer["etas"] == sorted(answer["etas"])
    for body, field in [({"stops": stops}, "start"), ({"start": {"lat": 95, "lon": 0}, "stops": stops}, "start.lat"),
                        ({"start": {"lat": 9, "lon": -13}, "stops": []}, "stops"),
                        ({"start": {"lat": 9, "lon": -13}, "stops": [stops[0], stops[0]]}, "stops[1].id"),
                        ({"start": {"lat": 9, "lon": -13}, "stops": stops, "start_time": "demain"}, "start_time"),
                        ({"start": {"lat": 9, "lon": -13}, "stops": stops, "x": 1}, "x")]:
        with pytest.raises(positions.FieldError) as info:
            route_planning.optimize_request(body)
        assert info.value.field == field


def test_replanning_from_the_agents_position_saves_distance_and_keeps_done_visits(seeded):
    day = dt.datetime.now(missions.TZ).date()
    missions.generate(day)
    routes = reads.agent_routes(day=day)
    agent = routes.groupby("agent_ref").size().idxmax()
    mine = routes[routes["agent_ref"] == agent].sort_values("route_order")
    with seeded.engine.begin() as conn:   # the first stop is done; the order of the rest is scrambled
        conn.execute(sa.text("UPDATE missions SET status = 'done' WHERE mission_ref = :m"), {"m": mine.iloc[0]["mission_ref"]})
        for i, ref in enumerate(random.Random(3).sample(list(mine["mission_ref"][1:]), len(mine) - 1)):
            conn.execute(sa.text("UPDATE missions SET route_order = :o WHERE mission_ref = :m"), {"o": i + 2, "m": ref})
    far = (float(mine.iloc[-1]["lat"]), float(mine.iloc[-1]["lon"]))
    with pytest.raises(AccessDenied):
        route_planning.reoptimize(agent, day, start=far, who=Principal("o", "ops", None, None))
    result = route_planning.reoptimize(agent, day, start=far, who=Principal("m", "manager", None, None))
    assert result["stops"] == len(mine) - 1 and result["after_m"] <= result["before_m"]
    assert result["saved_m"] == result["before_m"] - result["after_m"]
    after = reads.agent_routes(day=day, agent_ref=agent).sort_values("route_order")
    assert after.iloc[0]["mission_ref"] == mine.iloc[0]["mission_ref"]          # done visit stays first
    assert list(after["mission_ref"][1:]) == result["order"]
    assert list(after["route_order"]) == list(range(1, len(mine) + 1))
    with seeded.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM audit_log WHERE action = 'route_reoptimize'")).scalar() == 1
    with pytest.raises(InvalidParameter):
        route_planning.reoptimize("AGT-NONE", day, start=far)


def test_late_sites_for_the_map(seeded):
    every = reads.late_sites()
    assert not every.empty and (every["arrears"] > 0).all() and (every["tenants_late"] >= 1).all()
    by_site = reads.arrears_by_site().set_index("site_ref")["arrears"]
    assert all(by_site[r.site_ref] == r.arrears for r in every.itertuples())
    commune = every.iloc[0]["commune"]
    assert set(reads.late_sites(commune=commune)["commune"]) == {commune}
    assert (reads.late_sites(min_days_late=91)["days_late"] >= 91).all()
    big = int(every["arrears"].median())
    assert (reads.late_sites(min_arrears=big)["arrears"] >= big).all()
    with pytest.raises(InvalidParameter):
        reads.late_sites(min_arrears=-1)


def test_a_simulated_agent_drives_his_route_with_pauses():
    agent = simulator.SimAgent("AGT-001", "tok", [(9.51, -13.70), (9.52, -13.70)], 9.50, -13.70, battery=50)
    agent.advance(60, simulator.SPEEDS_MPS["moto"])            # 60 s at 25 km/h: ~417 m of the first 1.1 km
    assert 9.503 < agent.lat < 9.505 and agent.next_stop == 0
    agent.advance(200, simulator.SPEEDS_MPS["moto"])           # reaches the first stop, then pauses
    assert (agent.lat, agent.next_stop) == (9.51, 1) and agent.pause_left_s > 0
    agent.advance(2 * 15 * 60 + 400, simulator.SPEEDS_MPS["moto"])  # the second stop and its visit
    assert agent.finished and (agent.lat, agent.lon) == (9.52, -13.70) and agent.battery < 48
    reading = agent.fix(random.Random(1), 8.0, now())
    parsed = positions.parse_fix(reading, 0, now())
    assert abs(parsed.lat - 9.52) < 0.001 and parsed.accuracy_m > 0
