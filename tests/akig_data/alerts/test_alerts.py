"""Business alerts: each rule fires on a hand-made case and stays quiet on its near miss; evaluation
opens an alert once, keeps it while the rule fires and resolves it when it stops; acknowledgement is
kept in the history; the alerts read."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from akig_data.alerts import rules as alert_rules, evaluate as alerts
from akig_data import reads
from akig_data.errors import AccessDenied, InvalidParameter
from akig_data.access.scope import Principal
from tests.conftest import SMALL_UNTIL

TZ = ZoneInfo("Africa/Conakry")
NOW = dt.datetime.combine(SMALL_UNTIL, dt.time(15, 30), TZ)   # the last day of the small data set, 15:30


def fires(rt, code: str, now: dt.datetime = NOW, threshold: float | None = None, monkeypatch=None) -> set[str]:
    rule = alert_rules.BY_CODE[code]
    if threshold is not None:
        monkeypatch.setenv(rule.setting, repr(threshold))
    with rt.engine.connect() as conn:
        return set(alerts.fired(rule, now, conn)["object_ref"])


def values(rt, code: str, threshold: float, monkeypatch) -> dict[str, float]:
    rule = alert_rules.BY_CODE[code]
    monkeypatch.setenv(rule.setting, repr(threshold))
    with rt.engine.connect() as conn:
        frame = alerts.fired(rule, NOW, conn)
    return dict(zip(frame["object_ref"], frame["value"]))


def execute(rt, sql: str, **params):
    with rt.engine.begin() as conn:
        return conn.execute(sa.text(sql), params)


def one(rt, sql: str, **params):
    with rt.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).first()


@pytest.mark.parametrize("code", ["site_arrears_high", "site_arrears_spike", "collection_rate_behind"])
def test_threshold_rules_fire_just_above_and_not_at_the_threshold(seeded, monkeypatch, code):
    found = values(seeded, code, -1e12, monkeypatch)       # everything with a value
    assert found, f"no object to test {code} on"
    ref, value = max(found.items(), key=lambda kv: kv[1])
    assert ref in fires(seeded, code, threshold=value - 0.01, monkeypatch=monkeypatch)
    assert ref not in fires(seeded, code, threshold=value + 0.01, monkeypatch=monkeypatch)


def late_lease(rt):
    return one(rt, "SELECT l.id, l.lease_ref, l.tenant_id FROM arrears_by_lease(:d) b JOIN leases l ON"
                   " l.lease_ref = b.lease_ref WHERE b.arrears > 0 ORDER BY b.arrears DESC LIMIT 1", d=SMALL_UNTIL)


def test_promises_broken_today_and_due_tomorrow(seeded):
    lease = late_lease(seeded)
    other = one(seeded, "SELECT id, lease_ref FROM leases WHERE id <> :i ORDER BY id LIMIT 1", i=lease.id)
    execute(seeded, "DELETE FROM promises WHERE due_date BETWEEN :a AND :b", a=SMALL_UNTIL - dt.timedelta(days=1),
            b=SMALL_UNTIL + dt.timedelta(days=2))
    created = dt.datetime.combine(SMALL_UNTIL - dt.timedelta(days=5), dt.time(10), TZ)
    for ref, lease_id, due in (("P-BROKEN", lease.id, -1), ("P-TOMORROW", lease.id, 1), ("P-LATER", other.id, 2)):
        execute(seeded, "INSERT INTO promises (promise_ref, lease_id, created_at, due_date, amount) VALUES"
                        " (:r, :l, :c, :d, 100000)", r=ref, l=lease_id, c=created, d=SMALL_UNTIL + dt.timedelta(days=due))
    assert fires(seeded, "promises_broken_today") == {lease.lease_ref}
    assert fires(seeded, "promises_due_tomorrow") == {lease.lease_ref}      # not the one due in two days
    # near miss: paid in full before its due date, the promise is kept, not broken
    execute(seeded, "INSERT INTO payments (payment_ref, lease_id, paid_at, amount, method) VALUES ('PAY-KEPT', :l, :at,"
                    " 100000, 'cash')", l=lease.id, at=created + dt.timedelta(days=1))
    assert fires(seeded, "promises_broken_today") == set()


def agent_with_mission(rt):
    agent = one(rt, "SELECT id, agent_ref FROM agents WHERE active ORDER BY agent_ref LIMIT 1")
    leases = [r.id for r in rt.engine.connect().execute(sa.text("SELECT id FROM leases ORDER BY id LIMIT 4"))]
    for i, lease_id in enumerate(leases):
        execute(rt, "INSERT INTO missions (mission_ref, day, agent_id, lease_id, kind, reason, arrears, chance, priority,"
                    " status) VALUES (:m, :d, :a, :l, 'visit', 'arrears', 1000, 0.5, 500, :s)",
                m=f"M-{i}", d=SMALL_UNTIL, a=agent.id, l=lease_id, s="done" if i == 0 else "planned")
    return agent


def test_an_agent_without_gps_for_30_minutes_in_working_hours(seeded):
    agent = agent_with_mission(seeded)
    execute(seeded, "DELETE FROM agent_positions WHERE agent_id = :a", a=agent.id)
    assert agent.agent_ref in fires(seeded, "agent_no_gps")                     # never heard of today
    execute(seeded, "INSERT INTO agent_positions (agent_id, t, lat, lon) VALUES (:a, :t, 9.5, -13.6)",
            a=agent.id, t=NOW - dt.timedelta(minutes=31))
    assert agent.agent_ref in fires(seeded, "agent_no_gps")
    execute(seeded, "INSERT INTO agent_positions (agent_id, t, lat, lon) VALUES (:a, :t, 9.5, -13.6)",
            a=agent.id, t=NOW - dt.timedelta(minutes=29))
    assert agent.agent_ref not in fires(seeded, "agent_no_gps")                 # near miss: 29 minutes
    evening = dt.datetime.combine(SMALL_UNTIL, dt.time(18, 0), TZ)
    assert agent.agent_ref not in fires(seeded, "agent_no_gps", now=evening)    # outside working hours


def test_an_agent_below_half_of_his_missions_at_15h(seeded):
    agent = agent_with_mission(seeded)                                          # 1 of 4 done
    assert agent.agent_ref in fires(seeded, "agent_behind_plan")
    assert agent.agent_ref not in fires(seeded, "agent_behind_plan", now=NOW.replace(hour=14, minute=59))
    execute(seeded, "UPDATE missions SET status = 'done' WHERE mission_ref = 'M-1'")   # 2 of 4: exactly half
    assert agent.agent_ref not in fires(seeded, "agent_behind_plan")


def test_a_visit_without_proof_of_presence(seeded):
    agent = one(seeded, "SELECT id FROM agents ORDER BY id LIMIT 1")
    lease = late_lease(seeded)
    at = NOW - dt.timedelta(hours=2)
    for ref, distance, proof in (("V-FAR", 250.0, False), ("V-NEAR", 150.0, True)):
        execute(seeded, "INSERT INTO visits (visit_ref, lease_id, agent_id, visited_at, outcome, lat, lon, distance_m,"
                        " proof, flags) VALUES (:r, :l, :a, :t, 'absent', 9.5, -13.6, :d, :p, :f)",
                r=ref, l=lease.id, a=agent.id, t=at, d=distance, p=proof, f=[] if proof else ["far_from_site"])
    found = fires(seeded, "visit_without_proof")
    assert "V-FAR" in found and "V-NEAR" not in found


def test_a_tenant_90_days_late_without_contact_for_14_days(seeded):
    row = one(seeded, "SELECT tenant_ref FROM late_tenants(:d) WHERE days_late >= 90 ORDER BY arrears DESC LIMIT 1",
              d=SMALL_UNTIL)
    lease = one(seeded, "SELECT l.id FROM leases l JOIN tenants t ON t.id = l.tenant_id WHERE t.tenant_ref = :t"
                        " ORDER BY l.id LIMIT 1", t=row.tenant_ref)
    agent = one(seeded, "SELECT id FROM agents ORDER BY id LIMIT 1")
    call = "INSERT INTO calls (call_ref, lease_id, agent_id, called_at, outcome) VALUES (:r, :l, :a, :t, 'no_answer')"
    execute(seeded, "DELETE FROM calls WHERE lease_id IN (SELECT l.id FROM leases l JOIN tenants t ON t.id = l.tenant_id"
                    " WHERE t.tenant_ref = :t)", t=row.tenant_ref)
    execute(seeded, "DELETE FROM visits WHERE lease_id IN (SELECT l.id FROM leases l JOIN tenants t ON t.id = l.tenant_id"
                    " WHERE t.tenant_ref = :t)", t=row.tenant_ref)
    execute(seeded, call, r="C-OLD", l=lease.id, a=agent.id, t=NOW - dt.timedelta(days=15))
    assert row.tenant_ref in fires(seeded, "tenant_late_no_contact")
    execute(seeded, call, r="C-RECENT", l=lease.id, a=agent.id, t=NOW - dt.timedelta(days=13))
    assert row.tenant_ref not in fires(seeded, "tenant_late_no_contact")


def test_a_lease_ending_within_30_days_with_arrears(seeded):
    lease = late_lease(seeded)
    execute(seeded, "UPDATE leases SET end_date = :e WHERE id = :i", e=SMALL_UNTIL + dt.timedelta(days=30), i=lease.id)
    assert lease.lease_ref in fires(seeded, "lease_ending_with_arrears")
    execute(seeded, "UPDATE leases SET end_date = :e WHERE id = :i", e=SMALL_UNTIL + dt.timedelta(days=31), i=lease.id)
    assert lease.lease_ref not in fires(seeded, "lease_ending_with_arrears")


def test_evaluation_opens_once_resolves_automatically_and_keeps_acknowledgements(seeded, monkeypatch):
    lease = late_lease(seeded)
    execute(seeded, "UPDATE leases SET end_date = :e WHERE id = :i", e=SMALL_UNTIL + dt.timedelta(days=10), i=lease.id)
    first = alerts.evaluate(NOW)
    assert first.opened == sum(first.by_rule.values()) and first.resolved == 0
    again = alerts.evaluate(NOW + dt.timedelta(minutes=5))
    assert again.opened == 0 and again.kept == first.opened                     # never a duplicate
    active = reads.alerts()
    mine = active[(active["rule"] == "lease_ending_with_arrears") & (active["object_ref"] == lease.lease_ref)]
    alert_id = int(mine.iloc[0]["id"])
    assert list(active["severity"]) == sorted(active["severity"], key=["critical", "warning", "info"].index)
    with pytest.raises(AccessDenied):
        alerts.acknowledge(alert_id, "vu", who=Principal("o", "owner", "OWN-0001", None))
    with pytest.raises(InvalidParameter):
        alerts.acknowledge(alert_id, "  ", who=Principal("m", "manager", None, None))
    alerts.acknowledge(alert_id, "Appel prévu demain", who=Principal("m", "manager", None, None),
                       now=NOW + dt.timedelta(minutes=7))
    acked = reads.alerts().set_index("id").loc[alert_id]
    assert (acked["ack_by"], acked["ack_comment"]) == ("m", "Appel prévu demain")
    execute(seeded, "UPDATE leases SET end_date = NULL WHERE id = :i", i=lease.id)   # the lease was renewed
    later = alerts.evaluate(NOW + dt.timedelta(minutes=10))
    assert later.resolved >= 1
    assert alert_id not in set(reads.alerts()["id"]) and alert_id in set(reads.alerts(status="resolved")["id"])
    assert list(alerts.history(alert_id)["kind"]) == ["opened", "acknowledged", "resolved"]
    with pytest.raises(InvalidParameter):
        alerts.acknowledge(alert_id, "trop tard")
    with pytest.raises(InvalidParameter):
        reads.alerts(status="all")


def test_a_bad_threshold_setting_is_refused(monkeypatch):
    monkeypatch.setenv("AKIG_ALERT_SITE_ARREARS_HIGH", "beaucoup")
    with pytest.raises(ValueError, match="AKIG_ALERT_SITE_ARREARS_HIGH"):
        alert_rules.BY_CODE["site_arrears_high"].current_threshold()
    assert len(alert_rules.RULES) >= 10


def test_the_months_forecast_below_a_share_of_its_dues_warns_its_owner(seeded, monkeypatch):
    """A rule computed in Python (the cash forecast's simulation): the share of the month's dues expected
    on its 1st, or collected since when that is more; it fires below the threshold, not at it."""
    from akig_data import reads

    found = values(seeded, "forecast_below_due", 1e12, monkeypatch)      # every owner with dues this month
    assert set(found) == set(reads.owners()["owner_ref"])
    owner, share = min(found.items(), key=lambda kv: kv[1])
    forecast = reads.cash_forecast(as_of=SMALL_UNTIL.replace(day=1))   # every owner's, as the evaluation asks
    month = forecast[forecast["site_ref"].isna() & (forecast["owner_ref"] == owner)].iloc[0]
    collected = reads.site_kpis(date_from=SMALL_UNTIL.replace(day=1), date_to=SMALL_UNTIL,
                                owner_ref=owner)["collected"].sum()
    assert share == pytest.approx(100 * max(month["expected"], collected) / month["dues"])
    assert owner in fires(seeded, "forecast_below_due", threshold=share + 0.01, monkeypatch=monkeypatch)
    assert owner not in fires(seeded, "forecast_below_due", threshold=share - 0.01, monkeypatch=monkeypatch)
    rule = alert_rules.BY_CODE["forecast_below_due"]
    monkeypatch.setenv(rule.setting, "1000")
    with seeded.engine.connect() as conn:
        detail = alerts.fired(rule, NOW, conn).set_index("object_ref").loc[owner, "detail"]
    assert detail.startswith("Prévision du mois : ") and "attendus sur" in detail and "GNF dus" in detail


def test_the_months_forecast_is_made_once_an_hour_not_at_every_evaluation(seeded, monkeypatch):
    """The forecast made on the 1st does not follow today's payments: the evaluation, every 5 minutes, keeps
    it for an hour instead of simulating every owner's month again after each write."""
    from akig_data import reads

    made = []
    real = reads.cash_forecast
    monkeypatch.setattr(reads, "cash_forecast", lambda **kw: made.append(kw) or real(**kw))
    monkeypatch.setattr(alert_rules, "_month_forecasts", {})
    before = alert_rules.forecast_below_due(SMALL_UNTIL, 1e12)
    with seeded.engine.begin() as conn:   # a payment recorded between two evaluations
        conn.execute(sa.text(
            "INSERT INTO payments (payment_ref, lease_id, paid_at, amount, method)"
            " SELECT 'PAY-BETWEEN', min(id), :at, 1000000, 'cash' FROM leases"),
            {"at": dt.datetime.combine(SMALL_UNTIL, dt.time(9), dt.timezone.utc)})
    seeded.memo.bump(["payments"])
    after = alert_rules.forecast_below_due(SMALL_UNTIL, 1e12)
    assert made == [{"as_of": SMALL_UNTIL.replace(day=1)}] and len(after) == len(before) > 0
    monkeypatch.setattr(alert_rules, "FORECAST_MAX_AGE_S", 0)     # an hour later
    alert_rules.forecast_below_due(SMALL_UNTIL, 1e12)
    assert len(made) == 2
