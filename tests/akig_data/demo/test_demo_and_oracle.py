"""The demo data set, and the SQL money rules checked against the naive pandas oracle on it."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from akig_data.testing import oracle as naive
from akig_data import reads
from akig_data.demo.generate import SCALES, DemoGenerator
from akig_data.demo.seed import DatabaseNotEmpty, seed
from tests.conftest import SMALL_UNTIL

DATES = [SMALL_UNTIL, dt.date(2025, 12, 15), dt.date(2025, 2, 28), dt.date(2026, 3, 1)]


@pytest.fixture(scope="module")
def raw(small_db):
    engine = sa.create_engine(small_db, poolclass=sa.pool.NullPool)
    tables = naive.load_raw(engine)
    engine.dispose()
    return tables


def _rows(generator: DemoGenerator) -> dict[str, list]:
    return {t.name: list(t.rows) for t in generator.tables()}


def test_same_seed_same_data_other_seed_other_data():
    a = _rows(DemoGenerator("small", seed=11, until=SMALL_UNTIL))
    b = _rows(DemoGenerator("small", seed=11, until=SMALL_UNTIL))
    c = _rows(DemoGenerator("small", seed=12, until=SMALL_UNTIL))
    assert a == b
    assert a["payments"] != c["payments"]


def test_small_scale_has_the_announced_shape(small_data):
    with small_data.engine.connect() as conn:
        count = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
                 for t in ("owners", "sites", "tenants", "agents", "payments", "calls", "visits", "promises",
                           "agent_positions")}
        span = conn.execute(sa.text("SELECT min(start_date), max(paid_on) FROM leases, payments")).one()
        methods = set(conn.execute(sa.text("SELECT DISTINCT method FROM payments")).scalars())
        communes = set(conn.execute(sa.text("SELECT DISTINCT commune FROM sites")).scalars())
    scale = SCALES["small"]
    assert (count["owners"], count["sites"], count["agents"]) == (scale.owners, scale.sites, scale.agents)
    assert 0.8 * scale.tenants <= count["tenants"] <= 1.2 * scale.tenants
    assert min(count.values()) > 0
    assert span[1] <= SMALL_UNTIL and (SMALL_UNTIL - span[0]).days >= 365 * 2
    assert methods == {"cash", "orange_money", "mtn_momo", "bank"}
    assert communes <= {"Kaloum", "Dixinn", "Matam", "Ratoma", "Matoto"}


def test_demo_data_has_every_kind_of_payer(small_data):
    arrears = reads.arrears_by_lease(as_of=SMALL_UNTIL)
    assert (arrears["arrears"] > 0).sum() > 10          # late payers
    assert (arrears["credit"] > 0).sum() > 0            # payers ahead
    assert (arrears["bucket_90_plus"] > 0).sum() > 0    # stopped payers
    assert set(reads.good_payers(as_of=SMALL_UNTIL)["badge"]) == {"gold", "silver", "bronze"}
    assert {"kept", "broken"} <= set(reads.promises(as_of=SMALL_UNTIL)["status"])


@pytest.mark.parametrize("as_of", DATES)
def test_arrears_by_lease_equals_the_naive_oracle(small_data, raw, as_of):
    expected = naive.arrears_by_lease(raw, as_of)
    expected = expected[(expected["arrears"] > 0) | (expected["credit"] > 0)].set_index("lease_ref").sort_index()
    got = reads.arrears_by_lease(as_of=as_of).set_index("lease_ref").sort_index()
    assert list(got.index) == list(expected.index)
    for column in ("arrears", "credit", "bucket_0_30", "bucket_31_60", "bucket_61_90", "bucket_90_plus", "days_late"):
        assert (got[column].astype("int64") == expected[column].astype("int64")).all(), column
    oldest = pd.to_datetime(got["oldest_unpaid_due_date"])
    assert (oldest.fillna(pd.Timestamp(0)) == expected["oldest"].fillna(pd.Timestamp(0))).all()


@pytest.mark.parametrize("as_of", DATES)
def test_arrears_by_site_equals_the_naive_oracle(small_data, raw, as_of):
    expected = naive.arrears_by_site(raw, as_of).set_index("site_ref").sort_index()
    got = reads.arrears_by_site(as_of=as_of).set_index("site_ref").sort_index()
    for column in ("arrears", "late_leases", "bucket_0_30", "bucket_31_60", "bucket_61_90", "bucket_90_plus"):
        assert (got[column].astype("int64") == expected[column].astype("int64")).all(), column
    assert (got[["bucket_0_30", "bucket_31_60", "bucket_61_90", "bucket_90_plus"]].sum(axis=1)
            == got["arrears"]).all()


@pytest.mark.parametrize("window", [(dt.date(2026, 6, 1), SMALL_UNTIL), (dt.date(2025, 7, 1), SMALL_UNTIL),
                                    (dt.date(2025, 1, 10), dt.date(2025, 3, 20))])
def test_punctuality_and_collection_equal_the_naive_oracle(small_data, raw, window):
    date_from, date_to = window
    status = naive.dues_status(raw, date_from, date_to)
    status = status.merge(raw.leases[["lease_id", "site_ref"]], on="lease_id")
    per_site = status.groupby("site_ref").agg(dues=("on_time", "size"), on_time=("on_time", "sum"),
                                             due=("amount", "sum"))
    pay = raw.payments[(raw.payments["paid_on"] >= pd.Timestamp(date_from))
                       & (raw.payments["paid_on"] <= pd.Timestamp(date_to))]
    collected = pay.merge(raw.leases[["lease_id", "site_ref"]], on="lease_id").groupby("site_ref")["amount"].sum()
    got = reads.site_kpis(date_from=date_from, date_to=date_to).set_index("site_ref")
    for site, row in got.iterrows():
        exp = per_site.loc[site] if site in per_site.index else {"dues": 0, "on_time": 0, "due": 0}
        assert (row["dues"], row["on_time_dues"], row["due"]) == (exp["dues"], exp["on_time"], exp["due"]), site
        assert row["collected"] == collected.get(site, 0), site


def test_seed_refuses_a_database_with_data_unless_reset(fresh_db):
    seed("small", seed=3, until=SMALL_UNTIL)
    with pytest.raises(DatabaseNotEmpty, match="--reset"):
        seed("small", seed=3, until=SMALL_UNTIL)
    results = seed("small", seed=4, until=SMALL_UNTIL, reset=True)
    assert {r.table for r in results} >= {"owners", "payments", "agent_positions"}
    assert all(r.inserted == r.rows for r in results)
    with fresh_db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM lease_payment_totals_drift")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM payments")).scalar() == next(
            r.rows for r in results if r.table == "payments")
