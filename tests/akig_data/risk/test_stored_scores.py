"""The day's stored risk scores and cash forecast (sql/047, akig_data/risk/stored_scores.py): the reads answer
from them with exactly what they compute, for every owner and for each owner alone (whose reasons, under the
plain rule, compare with his own leases); a write dated before the day drops the day's run and one dated that
day does not; a run dropped while it is computed is not kept; an owner's reader sees only his own rows."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa
from pandas.testing import assert_frame_equal
from typer.testing import CliRunner

from akig_data import reads, runtime
from akig_data.access import scope
from akig_data.access.scope import ALL, scoped
from akig_data.engine import fetch_arrow
from akig_data.reads import risk as risk_reads
from akig_data.risk import stored_scores
from tests.conftest import SMALL_UNTIL, settings_for

DAY = SMALL_UNTIL + dt.timedelta(days=1)          # the morning after the data set's last day
OWNERS = ("OWN-0001", "OWN-0002")


@pytest.fixture()
def uncached(databases, seeded_template):
    """The small data set in a database of this test's own, with no answer cache: every read runs."""
    name = databases.create("t", template=seeded_template)
    rt = runtime.configure(settings_for(databases.url(name), None))
    yield rt
    runtime.reset()
    databases.drop(name)


def as_owner(owner_ref: str, read: str) -> pd.DataFrame:
    scope.set_principal_resolver(lambda: scope.Principal("p", "owner", owner_ref))
    try:
        return reads.run(read, as_of=DAY)
    finally:
        scope.set_principal_resolver(None)


def answers() -> dict:
    found = {("lease_risk", None): reads.lease_risk(as_of=DAY), ("cash_forecast", None): reads.cash_forecast(as_of=DAY)}
    for owner in OWNERS:
        for read in ("lease_risk", "cash_forecast"):
            found[(read, owner)] = as_owner(owner, read)
    return found


def run_of(day: dt.date) -> int | None:
    with scoped(ALL):
        return risk_reads.stored_run(day)


def test_the_reads_answer_from_the_stored_run_with_what_they_compute(uncached, monkeypatch):
    computed = answers()
    assert len(computed[("lease_risk", None)]) > 100 and len(computed[("cash_forecast", None)]) > 20
    run = stored_scores.store(DAY)
    assert run is not None and run.leases == len(computed[("lease_risk", None)])
    assert run.models == "rule:recent-lateness"
    assert stored_scores.store(DAY) is None            # stored once a day: nothing to do the second time

    def not_computed(*args, **kwargs):
        raise AssertionError("the read computed instead of answering from the stored run")

    monkeypatch.setattr(risk_reads, "scored_leases", not_computed)
    stored = answers()
    for key, frame in computed.items():
        assert_frame_equal(stored[key], frame, check_exact=True, obj=str(key))
    # The owner's reasons are his own (under the rule, against his leases' medians), not every owner's.
    mine = computed[("lease_risk", OWNERS[0])].set_index("lease_ref")["reasons"]
    everyone = computed[("lease_risk", None)].set_index("lease_ref").loc[mine.index, "reasons"]
    assert (mine != everyone).any()
    # Each owner alone is forecast from his own history, not every owner's share of it.
    alone = computed[("cash_forecast", OWNERS[0])]
    among = computed[("cash_forecast", None)]
    among = among[among["owner_ref"] == OWNERS[0]].reset_index(drop=True)
    assert list(alone["dues"]) == list(among["dues"]) and list(alone["expected"]) != list(among["expected"])


def _pay(engine, lease_ref: str, when: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO payments (payment_ref, lease_id, amount, method, paid_at)"
            " SELECT 'PAY-TEST-' || md5(random()::text), id, 50000, 'cash', CAST(:at AS timestamptz)"
            "   FROM leases WHERE lease_ref = :lease"), {"at": when, "lease": lease_ref})


def test_a_write_dated_before_the_day_drops_its_run_and_one_dated_that_day_does_not(uncached):
    engine = uncached.engine
    lease = reads.lease_risk(as_of=DAY).iloc[0]["lease_ref"]
    assert stored_scores.store(DAY) is not None
    kept = run_of(DAY)
    _pay(engine, lease, f"{DAY}T09:00:00+00:00")                               # dated the day itself
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO calls (call_ref, lease_id, agent_id, called_at, outcome)"
                             " SELECT 'CALL-TEST-A', l.id, a.id, CAST(:at AS timestamptz), 'no_answer'"
                             "   FROM leases l, agents a"
                             " WHERE l.lease_ref = :lease ORDER BY a.id LIMIT 1"),
                        {"at": f"{DAY}T08:00:00+00:00", "lease": lease})
    assert run_of(DAY) == kept
    cases = {
        "a payment dated the day before": lambda c: c.execute(sa.text(
            "INSERT INTO payments (payment_ref, lease_id, amount, method, paid_at) SELECT 'PAY-TEST-B', id, 50000,"
            " 'cash', CAST(:at AS timestamptz) FROM leases WHERE lease_ref = :lease"),
            {"at": f"{DAY - dt.timedelta(days=1)}T22:30:00+00:00", "lease": lease}),
        "a call of the day before": lambda c: c.execute(sa.text(
            "INSERT INTO calls (call_ref, lease_id, agent_id, called_at, outcome) SELECT 'CALL-TEST-B', l.id, a.id,"
            " CAST(:at AS timestamptz), 'refused' FROM leases l, agents a WHERE l.lease_ref = :lease"
            " ORDER BY a.id LIMIT 1"), {"at": f"{DAY - dt.timedelta(days=1)}T12:00:00+00:00", "lease": lease}),
        "a payment deleted": lambda c: c.execute(sa.text(
            "DELETE FROM payments WHERE payment_ref = 'PAY-TEST-B'")),
        "a lease's rent changed": lambda c: c.execute(sa.text(
            "UPDATE leases SET monthly_rent = monthly_rent + 1000 WHERE lease_ref = :lease"), {"lease": lease}),
        "a site renamed": lambda c: c.execute(sa.text(
            "UPDATE sites SET commune = commune WHERE id = (SELECT min(id) FROM sites)")),
        "a promise made the day before": lambda c: c.execute(sa.text(
            "INSERT INTO promises (promise_ref, lease_id, agent_id, amount, due_date, created_at)"
            " SELECT 'PRM-TEST', l.id, a.id, 10000, CAST(:due AS date), CAST(:made AS timestamptz)"
            "   FROM leases l, agents a WHERE l.lease_ref = :lease ORDER BY a.id LIMIT 1"),
            {"due": DAY + dt.timedelta(days=3), "made": f"{DAY - dt.timedelta(days=1)}T15:00:00+00:00", "lease": lease}),
    }
    for what, write in cases.items():
        if run_of(DAY) is None:
            assert stored_scores.store(DAY) is not None, what
        with engine.begin() as conn:
            write(conn)
        assert run_of(DAY) is None, what
    # Dropped, the reads compute again, and the next run stores the new figures.
    computed = reads.lease_risk(as_of=DAY)
    assert stored_scores.store(DAY) is not None
    assert_frame_equal(reads.lease_risk(as_of=DAY), computed, check_exact=True)


def test_a_run_dropped_while_it_is_computed_is_not_kept(uncached, monkeypatch):
    engine = uncached.engine
    lease = reads.lease_risk(as_of=DAY).iloc[0]["lease_ref"]
    compute = stored_scores._compute

    def compute_while_a_payment_is_written(as_of):
        rows = compute(as_of)
        _pay(engine, lease, f"{DAY - dt.timedelta(days=2)}T10:00:00+00:00")   # committed meanwhile
        return rows

    monkeypatch.setattr(stored_scores, "_compute", compute_while_a_payment_is_written)
    assert stored_scores.store(DAY) is None
    assert run_of(DAY) is None
    monkeypatch.setattr(stored_scores, "_compute", compute)
    assert stored_scores.store(DAY) is not None
    with engine.connect() as conn:      # the dropped run's rows went with the next run's start
        runs = conn.execute(sa.text("SELECT count(*) FROM risk_score_runs")).scalar()
        orphans = conn.execute(sa.text("SELECT count(*) FROM lease_risk_stored s WHERE NOT EXISTS"
                                       " (SELECT 1 FROM risk_score_runs r WHERE r.run_id = s.run_id)")).scalar()
    assert runs == 1 and orphans == 0


def test_an_owners_reader_sees_only_his_own_stored_rows(uncached):
    assert stored_scores.store(DAY) is not None
    engine = uncached.engine
    owner = OWNERS[1]
    leases = fetch_arrow(engine, "SELECT DISTINCT owner_ref FROM lease_risk_stored", {}, scope=owner).to_pylist()
    scopes = fetch_arrow(engine, "SELECT DISTINCT f.scope_owner_id, o.owner_ref FROM cash_forecast_stored f"
                                 " JOIN owners o ON o.id = f.scope_owner_id", {}, scope=owner).to_pylist()
    everyone = fetch_arrow(engine, "SELECT count(DISTINCT owner_ref) AS n FROM lease_risk_stored", {}).to_pylist()
    assert leases == [{"owner_ref": owner}]
    assert [s["owner_ref"] for s in scopes] == [owner]
    assert everyone[0]["n"] > 1
    # and no owner reads every owner's forecast through the function either
    rows = fetch_arrow(engine, "SELECT * FROM cash_forecast_stored(risk_score_run(CAST(:d AS date)), NULL)",
                       {"d": DAY}, scope=owner).to_pylist()
    assert rows == []


def test_the_score_command_stores_the_day(uncached, monkeypatch):
    from akig_cli.main import app

    s = uncached.settings
    env = {"AKIG_DATABASE_URL": s.database_url, "AKIG_REDIS_URL": "off"}
    result = CliRunner(env=env).invoke(app, ["model", "score", "--as-of", DAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert "leases and" in result.output and run_of(DAY) is not None
    again = CliRunner(env=env).invoke(app, ["model", "score", "--as-of", DAY.isoformat()])
    assert again.exit_code == 0 and "already stored" in again.output
    wrong = CliRunner(env=env).invoke(app, ["model", "score", "--as-of", "2026-13-01"])
    assert wrong.exit_code == 2


def test_the_rules_typical_figures_of_each_owner_in_one_pass_are_one_rules_each():
    from akig_data.risk.model import RecentLatenessRule

    frame = pd.DataFrame({"owner_ref": ["A", "A", "A", "B", "B"], "late_last_6": [1.0, 4.0, 2.0, 0.0, 5.0],
                          "days_since_payment": [10.0, None, 31.0, None, None], "tenure_months": [3, 8, 13, 2, 40]})
    by_owner = RecentLatenessRule.typical_by(frame, "owner_ref")
    assert by_owner == {o: RecentLatenessRule(10, own).typical for o, own in frame.groupby("owner_ref")}
    assert "days_since_payment" not in by_owner["B"] and by_owner["A"]["days_since_payment"] == 20.5


def test_the_scheduled_task_stores_today_and_the_months_first_once(uncached):
    from akig_data import clock

    today = clock.today()
    stored = stored_scores.store_due()
    assert sorted(r.as_of for r in stored) == sorted({today.replace(day=1), today})
    assert run_of(today) is not None and run_of(today.replace(day=1)) is not None
    assert stored_scores.store_due() == []
