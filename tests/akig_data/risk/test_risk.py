"""Late-payment risk and cash forecast on the small data set: features without leakage, trained models
stored and served, owner scoping, French reasons without anything personal, the forecast's consistency, and
the backtest command. Models are trained once per module with few iterations (seconds, not minutes)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from akig_cli.main import app
from akig_data import reads, runtime
from akig_data.access import scope
from akig_data.errors import InvalidParameter
from akig_data.risk import features as F
from akig_data.risk import model as M
from akig_data.risk import visits
from akig_data.writes import missions
from akig_data.risk.reasons import NO_SIGNAL
from tests.conftest import SMALL_UNTIL, settings_for

AS_OF = dt.date(2026, 4, 1)


@pytest.fixture(scope="module")
def trained_db(databases, seeded_template, redis_url) -> str:
    """A copy of the small data set with the 10-day, 30-day and visit models trained by `akig model train` on
    what was known on SMALL_UNTIL."""
    name = databases.create("risk", template=seeded_template)
    s = settings_for(databases.url(name), redis_url)
    env = {"AKIG_DATABASE_URL": s.database_url, "AKIG_REDIS_URL": s.redis_url, "AKIG_CACHE_PREFIX": s.cache_prefix}
    try:
        result = CliRunner(env=env).invoke(app, ["model", "train", "--as-of", SMALL_UNTIL.isoformat(), "--months", "12",
                                                 "--max-iter", "15", "--holdout-days", "30"])
    finally:
        runtime.reset()
    assert result.exit_code == 0, result.output
    assert "paid within 14 days of a visit" in result.output and "(rule: AUC" in result.output, result.output
    return databases.url(name)


@pytest.fixture()
def trained(trained_db, redis_url):
    rt = runtime.configure(settings_for(trained_db, redis_url))
    yield rt
    runtime.reset()


def _lease_with_history(frame):
    return frame.sort_values(["tenure_months", "lease_ref"]).iloc[-1]["lease_ref"]


def test_a_payment_or_a_call_on_or_after_the_as_of_date_changes_no_feature(seeded):
    before = F.features_at([AS_OF]).set_index("lease_ref")
    lease = _lease_with_history(before.reset_index())
    with seeded.engine.begin() as conn:
        lease_id = conn.execute(sa.text("SELECT id FROM leases WHERE lease_ref = :r"), {"r": lease}).scalar_one()
        agent_id = conn.execute(sa.text("SELECT min(id) FROM agents")).scalar_one()
        for i, day in enumerate((AS_OF, AS_OF + dt.timedelta(days=3))):
            conn.execute(sa.text(
                "INSERT INTO payments (payment_ref, lease_id, paid_at, amount, method)"
                " VALUES (:ref, :lease, :at, 7000000, 'cash')"),
                {"ref": f"PAY-LATER-{i}", "lease": lease_id, "at": dt.datetime.combine(day, dt.time(9), dt.timezone.utc)})
            conn.execute(sa.text(
                "INSERT INTO calls (call_ref, lease_id, agent_id, called_at, outcome) VALUES (:ref, :lease, :agent, :at, 'refused')"),
                {"ref": f"CALL-LATER-{i}", "lease": lease_id, "agent": agent_id,
                 "at": dt.datetime.combine(day, dt.time(10), dt.timezone.utc)})
    after = F.features_at([AS_OF]).set_index("lease_ref")
    assert after.loc[lease].equals(before.loc[lease])
    # ...while the same payment the day before does change what the lease shows (the check can fail).
    with seeded.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO payments (payment_ref, lease_id, paid_at, amount, method) VALUES ('PAY-EARLIER', :lease, :at, 7000000, 'cash')"),
            {"lease": lease_id, "at": dt.datetime.combine(AS_OF - dt.timedelta(days=1), dt.time(9), dt.timezone.utc)})
    earlier = F.features_at([AS_OF]).set_index("lease_ref")
    assert earlier.loc[lease, "days_since_payment"] == 1
    assert not earlier.loc[lease].equals(before.loc[lease])


def test_no_personal_attribute_is_a_feature():
    assert not {"full_name", "name", "phone", "email", "gender", "tenant_ref"} & set(F.FEATURES)


def test_training_stores_a_model_row_per_horizon_and_the_read_scores_every_running_lease(trained):
    with trained.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT horizon_days, trained_as_of, window_to, features, metrics FROM risk_models"
                                      " WHERE target = 'late'")).all()
    assert sorted(r.horizon_days for r in stored) == [10, 30]
    assert all(r.window_to < r.trained_as_of == SMALL_UNTIL for r in stored)
    assert all("late_last_6" in r.features["numeric"] and r.metrics["rows"] > 0 for r in stored)
    risk = reads.lease_risk(as_of=SMALL_UNTIL)
    running = F.features_at([SMALL_UNTIL])
    assert sorted(risk["lease_ref"]) == sorted(running["lease_ref"]) and len(risk) > 100
    for column in ("p_late_10", "p_late_30"):
        assert risk[column].between(0, 1).all()
    assert (risk["p_late_30"] <= risk["p_late_10"]).all()
    assert not risk["model"].str.startswith("rule").any()


def test_reasons_are_short_french_text_without_names_or_phones(trained):
    risk = reads.lease_risk(as_of=SMALL_UNTIL)
    with trained.engine.connect() as conn:
        people = conn.execute(sa.text("SELECT full_name, phone FROM tenants")).all()
    words = {part for p in people for part in p.full_name.split() if len(part) > 3}
    digits = {re.sub(r"\D", "", p.phone)[-6:] for p in people if p.phone}
    for text in risk["reasons"]:
        assert text and len(text) < 200
        assert not any(w in text for w in words), text
        assert not any(d in re.sub(r"\D", "", text) for d in digits if len(re.sub(r"\D", "", text)) >= 6), text
    risky = risk[risk["p_late_10"] > 0.8]["reasons"]
    assert (risky != NO_SIGNAL).mean() > 0.8
    assert risky.str.contains(r"retards? sur|arriérés|promesses? non tenues?|paiements? partiels?|aucun paiement|sans contact").any()


def test_an_owner_gets_only_his_own_leases(trained):
    everyone = reads.lease_risk(as_of=SMALL_UNTIL)
    owner = "OWN-0001"
    scope.set_principal_resolver(lambda: scope.Principal("p", "owner", owner))
    try:
        mine = reads.run("lease_risk", as_of=SMALL_UNTIL)
        forecast = reads.run("cash_forecast", as_of=SMALL_UNTIL)
        with pytest.raises(InvalidParameter):
            reads.run("lease_risk", as_of=SMALL_UNTIL, owner_ref="OWN-0002")
    finally:
        scope.set_principal_resolver(None)
    assert set(mine["owner_ref"]) == {owner} == set(forecast["owner_ref"])
    assert sorted(mine["lease_ref"]) == sorted(everyone[everyone["owner_ref"] == owner]["lease_ref"])


def test_the_forecast_interval_holds_its_mean_and_owners_add_up_their_sites(trained):
    fc = reads.cash_forecast(as_of=SMALL_UNTIL)
    assert len(fc["month"].unique()) == 4
    assert ((fc["low_80"] <= fc["expected"]) & (fc["expected"] <= fc["high_80"])).all()
    owners, sites = fc[fc["site_ref"].isna()], fc[fc["site_ref"].notna()]
    summed = sites.groupby(["owner_ref", "month"])[["expected", "dues"]].sum()
    count = sites.groupby(["owner_ref", "month"]).size()
    for row in owners.itertuples():
        key = (row.owner_ref, row.month)
        assert row.dues == summed.loc[key, "dues"]
        assert abs(row.expected - summed.loc[key, "expected"]) <= count.loc[key]   # rounding to the franc only
    assert (owners["expected"] > 0).all()


def test_without_a_model_the_reads_answer_with_the_plain_rule(small_data):
    risk = reads.lease_risk(as_of=SMALL_UNTIL)
    assert (risk["model"] == "rule:recent-lateness").all() and risk["p_late_10"].between(0, 1).all()


def test_backtest_command_prints_the_tables(trained, monkeypatch):
    s = trained.settings
    monkeypatch.setenv("AKIG_DATABASE_URL", s.database_url)
    monkeypatch.setenv("AKIG_REDIS_URL", s.redis_url)
    monkeypatch.setenv("AKIG_CACHE_PREFIX", s.cache_prefix)
    result = CliRunner().invoke(app, ["model", "backtest", "--as-of", "2026-07-01", "--origins", "2", "--months", "6",
                                      "--max-iter", "10"])
    assert result.exit_code == 0, result.output
    assert "| 10 days | all |" in result.output and "| 30 days | without arrears |" in result.output
    assert "Calibration, 10 days" in result.output and "MAPE model" in result.output


def test_a_risk_held_up_by_several_signals_is_told_by_its_figures():
    """Two signals each enough alone: putting back one family's typical values leaves the probability at 1,
    so no push counts; the figures worse than typical are then the reasons. A low risk keeps 'no signal'."""
    import numpy as np
    import pandas as pd

    from akig_data.risk.features import FEATURES
    from akig_data.risk.reasons import NO_SIGNAL, explain

    class EitherSignal:
        typical = {column: 0.0 for column in FEATURES} | {"tenure_months": 24.0, "days_since_payment": 10.0}

        def predict(self, frame):
            return np.where((frame["late_last_6"] >= 3) | (frame["arrears_months"] >= 1), 1.0, 0.1)

    risky = dict(EitherSignal.typical, late_last_6=6.0, arrears_months=4.0, arrears_age_days=96.0)
    calm = dict(EitherSignal.typical)
    frame = pd.DataFrame([risky, calm])
    texts = explain(EitherSignal(), frame, EitherSignal().predict(frame))
    assert "6 retards sur les 6 dernières échéances" in texts[0] and "arriérés de 4,0 mois de loyer" in texts[0]
    assert texts[1] == NO_SIGNAL


def test_a_visit_is_paid_when_a_payment_of_its_lease_is_dated_from_its_day_to_14_days_after(trained):
    """The visits' outcomes against pandas over the raw tables; none is known after the day before as_of,
    and each takes its features from a snapshot on or before its day (nothing after the visit)."""
    rows = visits.training_rows(SMALL_UNTIL, months=12)
    with trained.engine.connect() as conn:
        seen = pd.read_sql(sa.text(
            "SELECT v.visit_ref, v.visited_at, l.lease_ref FROM visits v JOIN leases l ON l.id = v.lease_id"), conn)
        paid = pd.read_sql(sa.text("SELECT l.lease_ref, p.paid_at FROM payments p JOIN leases l ON l.id = p.lease_id"), conn)
    day = seen["visited_at"].dt.tz_convert("Africa/Conakry").dt.date
    paid_day = paid["paid_at"].dt.tz_convert("Africa/Conakry").dt.date
    by_lease = paid.assign(day=paid_day).groupby("lease_ref")["day"].apply(list).to_dict()
    expected = {ref: any(d <= p <= d + dt.timedelta(days=14) for p in by_lease.get(lease, ()))
                for ref, lease, d in zip(seen["visit_ref"], seen["lease_ref"], day)}
    assert len(rows) > 200 and 0.05 < rows["target"].mean() < 0.95
    assert all(bool(t) == expected[ref] for ref, t in zip(rows["visit_ref"], rows["target"]))
    assert (rows["visit_day"] + pd.Timedelta(days=14) < pd.Timestamp(SMALL_UNTIL)).all()
    assert (rows["snapshot"] <= rows["visit_day"]).all()
    assert (rows["visit_day"] - rows["snapshot"]).dt.days.max() < 16
    assert rows["as_of"].equals(rows["snapshot"])


def test_the_missions_rank_by_the_visit_model_and_keep_the_rule_where_it_has_no_features(trained_db, trained,
                                                                                       redis_url):
    today = dt.datetime.now(missions.TZ).date()
    modelled, model = visits.chances(today)
    # planned as the server plans them: its login role, under row-level security (it reads no model itself)
    as_app = make_url(trained_db).set(username="akig_app", password=None).render_as_string(hide_password=False)
    runtime.configure(dataclasses.replace(settings_for(as_app, redis_url), row_security=True))
    try:
        report = missions.generate(today)
        assert visits.chances(today)[0] == pytest.approx(modelled)
    finally:
        runtime.configure(trained.settings)
    assert model is not None and model.target == "paid_after_visit"
    assert report.chance_from == f"model {model.model_id}"
    with trained.engine.connect() as conn:
        planned = pd.read_sql(sa.text(
            "SELECT l.lease_ref, m.kind, m.reason, m.chance, m.arrears, m.priority FROM missions m"
            " JOIN leases l ON l.id = m.lease_id WHERE m.day = :d"), conn, params={"d": today})
    assert len(planned) > 20
    by_model = planned[planned["lease_ref"].isin(modelled.keys())]
    assert len(by_model) > 0.8 * len(planned)
    assert by_model["chance"].to_numpy() == pytest.approx(by_model["lease_ref"].map(modelled).to_numpy())
    assert not (by_model["chance"].round(6).isin([0.05, 0.95])).all()        # not the rule's clamped values
    arrears = by_model[by_model["reason"] == "arrears"]
    assert arrears["priority"].to_numpy() == pytest.approx((arrears["arrears"] * arrears["chance"]).clip(lower=1)
                                                           .round().to_numpy(), abs=1)


def test_an_owners_month_swing_widens_his_interval_and_keeps_the_expected_amount():
    from akig_data.risk import forecast

    months = pd.DataFrame({"owner_ref": ["A"] * 4 + ["B"] * 2, "site_ref": ["S1", "S1", "S2", "S1", "T1", "T1"],
                           "mi": [1, 2, 2, 3, 1, 2], "due": [100, 60, 40, 100, 50, 50],
                           "collected": [90, 50, 30, 70, 50, 40]})
    rates = pd.Series([0.9, 0.8, 0.7])                 # A's three months (two sites in month 2); B has two
    assert forecast.owner_spreads(months) == pytest.approx({"A": rates.std() / rates.mean()})
    leases = pd.DataFrame({"owner_ref": ["A"] * 40, "site_ref": ["S1"] * 20 + ["S2"] * 20,
                           "rent": [1_000_000] * 40, "next_due_date": [dt.date(2026, 7, 5)] * 40,
                           "p_late_30": [0.3] * 40})
    plain = forecast.simulate(leases, dt.date(2026, 7, 1), [0.5], months_ahead=0)
    swung = forecast.simulate(leases, dt.date(2026, 7, 1), [0.5], months_ahead=0, spreads={"A": 0.2})
    owner = lambda f: f[f["site_ref"].isna()].iloc[0]   # noqa: E731
    assert owner(swung)["expected"] == pytest.approx(owner(plain)["expected"], rel=0.03)
    assert owner(swung)["high_80"] - owner(swung)["low_80"] > 1.5 * (owner(plain)["high_80"] - owner(plain)["low_80"])
    assert owner(swung)["expected"] == pytest.approx(swung[swung["site_ref"].notna()]["expected"].sum(), abs=2)


def test_an_owners_forecast_is_the_same_alone_and_among_every_owner():
    """The owner's dashboard (his forecast alone) and the analyst's (every owner's) show the same figures
    for him: each owner is drawn from a stream of his own, not from a place in one stream for everybody."""
    from akig_data.risk import forecast

    rng = np.random.default_rng(3)
    leases = pd.DataFrame({"owner_ref": ["A"] * 30 + ["B"] * 50 + ["C"] * 20,
                           "site_ref": [f"S{i % 4}" for i in range(100)],
                           "rent": rng.integers(5, 40, 100) * 100_000,
                           "next_due_date": [dt.date(2026, 7, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 60, 100)],
                           "p_late_30": rng.random(100) * 0.6})
    spreads = {"A": 0.1, "B": 0.2}
    every = forecast.simulate(leases, dt.date(2026, 7, 1), [0.4, 0.6], spreads=spreads)
    for owner in ("A", "B", "C"):
        alone = forecast.simulate(leases[leases["owner_ref"] == owner], dt.date(2026, 7, 1), [0.4, 0.6], spreads=spreads)
        mine = every[every["owner_ref"] == owner].reset_index(drop=True)
        assert mine.equals(alone), owner
    assert every["month"].is_monotonic_increasing
