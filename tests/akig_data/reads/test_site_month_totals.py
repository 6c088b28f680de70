"""site_month_totals (sql/026): each site's dues and collections per month, kept by triggers. After every kind
of write the stored cells equal their sources (site_month_totals_drift), and the reads that use them,
site_kpis and monthly_trend, equal the naive pandas oracle, whole months and edge days alike."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from akig_data import reads
from akig_data.testing import oracle as naive
from akig_data.testing.ledger import Ledger

WINDOWS = [(dt.date(2025, 12, 1), dt.date(2026, 6, 30)), (dt.date(2025, 11, 17), dt.date(2026, 5, 9)),
           (dt.date(2026, 3, 1), dt.date(2026, 3, 31)), (dt.date(2026, 2, 3), dt.date(2026, 2, 20))]
AS_OF = [dt.date(2026, 6, 30), dt.date(2026, 5, 9)]


@pytest.fixture()
def ledger(fresh_db):
    ledger = Ledger(fresh_db)
    ledger.one_lease(start="2025-11-15", due_day=31, lease="L1", owner="O1", site="S1")
    ledger.one_lease(start="2026-01-01", end="2026-04-10", due_day=5, lease="L2", owner="O1", site="S1")
    ledger.one_lease(start="2025-10-01", due_day=1, lease="L3", owner="O2", site="S2")
    for lease, day, amount, ref in (("L1", "2025-11-30", 100_000, "A"), ("L1", "2026-01-31", 200_000, "B"),
                                    ("L1", "2026-03-15", 150_000, "C"), ("L2", "2026-01-05", 100_000, "D"),
                                    ("L2", "2026-03-20", 80_000, "E"), ("L3", "2025-10-01", 100_000, "F"),
                                    ("L3", "2026-02-01", 300_000, "G"), ("L3", "2026-05-02", 100_000, "H")):
        ledger.pay(lease, f"{day}T10:00:00+00:00", amount, ref=ref)
    return ledger


def drift(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM site_month_totals_drift")).scalar()


def expected_site_kpis(raw, date_from: dt.date, date_to: dt.date) -> pd.DataFrame:
    status = naive.dues_status(raw, date_from, date_to).merge(raw.leases[["lease_id", "site_ref"]], on="lease_id")
    due = status.groupby("site_ref").agg(due=("amount", "sum"), dues=("on_time", "size"),
                                         on_time_dues=("on_time", "sum"))
    pay = raw.payments[(raw.payments["paid_on"] >= pd.Timestamp(date_from))
                       & (raw.payments["paid_on"] <= pd.Timestamp(date_to))]
    collected = pay.merge(raw.leases[["lease_id", "site_ref"]], on="lease_id").groupby("site_ref")["amount"].sum()
    out = raw.sites.set_index("site_ref")[[]].join(due).join(collected.rename("collected")).fillna(0)
    return out.astype("int64").sort_index()


def expected_trend(raw, as_of: dt.date, site_ref: str, months: dict) -> list[tuple]:
    """The oracle's twelve months; `months` keeps each month's answer for the other sites and dates (the
    same windows come back, and the oracle is the slow part of this file)."""
    rows = []
    for back in range(11, -1, -1):
        start = (pd.Timestamp(as_of).to_period("M") - back).to_timestamp().date()
        end = min((pd.Timestamp(start) + pd.offsets.MonthEnd(0)).date(), as_of)
        if (start, end) not in months:
            months[start, end] = expected_site_kpis(raw, start, end)
        kpis = months[start, end].loc[site_ref]
        rows.append((start, int(kpis["due"]), int(kpis["collected"]), int(kpis["dues"]), int(kpis["on_time_dues"])))
    return rows


def check_reads(rt) -> None:
    assert drift(rt.engine) == 0
    rt.memo.bump(["payments", "leases", "units", "sites"])
    raw = naive.load_raw(rt.engine)
    for col in ("lease_id", "amount"):  # typed when no payment is left
        raw.payments[col] = raw.payments[col].astype("int64")
    for date_from, date_to in WINDOWS:
        got = reads.site_kpis(date_from=date_from, date_to=date_to).set_index("site_ref").sort_index()
        exp = expected_site_kpis(raw, date_from, date_to)
        cols = ["due", "dues", "on_time_dues", "collected"]
        assert got[cols].astype("int64").equals(exp[cols]), (date_from, date_to)
    months: dict = {}
    for as_of in AS_OF:
        for site in ("S1", "S2"):
            trend = reads.monthly_trend(as_of=as_of, site_ref=site)
            got = [(r.month, r.due, r.collected, r.dues, r.on_time_dues) for r in trend.itertuples()]
            assert got == expected_trend(raw, as_of, site, months), (as_of, site)


def test_the_totals_follow_every_write_and_the_reads_equal_the_oracle(ledger):
    rt = ledger.rt
    check_reads(rt)
    with rt.engine.connect() as conn:
        cells = conn.execute(sa.text(
            "SELECT count(*), sum(collected) FROM site_month_totals t JOIN sites s ON s.id = t.site_id "
            "WHERE s.site_ref = 'S1'")).one()
    assert cells[1] == 630_000
    for sql in (
        # a new payment, a payment moved to another month, to another site's lease, a new amount, a deletion
        "INSERT INTO payments (payment_ref, lease_id, paid_at, amount, method) "
        "SELECT 'I', id, '2026-02-28T23:30:00+00:00', 400000, 'cash' FROM leases WHERE lease_ref = 'L1'",
        "UPDATE payments SET paid_at = '2026-04-02T08:00:00+00:00' WHERE payment_ref = 'B'",
        "UPDATE payments SET lease_id = (SELECT id FROM leases WHERE lease_ref = 'L3') WHERE payment_ref = 'C'",
        "UPDATE payments SET amount = 50000 WHERE payment_ref = 'G'",
        "DELETE FROM payments WHERE payment_ref = 'A'",
        # the dues change: due day and rent, end date, the horizon
        "UPDATE leases SET due_day = 1, monthly_rent = 120000 WHERE lease_ref = 'L1'",
        "UPDATE leases SET end_date = NULL WHERE lease_ref = 'L2'",
        "SELECT extend_dues_horizon((SELECT due_in_month(until_mi + 3, 1) FROM dues_horizon))",
        # a unit moved to the other site, a lease without payments deleted, every payment truncated
        "UPDATE units SET site_id = (SELECT id FROM sites WHERE site_ref = 'S2') WHERE unit_ref = 'U-L2'",
        "DELETE FROM payments WHERE lease_id = (SELECT id FROM leases WHERE lease_ref = 'L2')",
        "DELETE FROM leases WHERE lease_ref = 'L2'",
        "TRUNCATE payments",
    ):
        with rt.engine.begin() as conn:
            conn.execute(sa.text(sql))
        check_reads(rt)


def test_an_owner_reads_only_his_sites_cells(ledger):
    with ledger.rt.engine.begin() as conn:
        conn.execute(sa.text("SELECT set_config('akig.owner_ref', 'O2', true), "
                             "set_config('role', 'akig_read_owner', true)"))
        sites = conn.execute(sa.text("SELECT DISTINCT s.site_ref FROM site_month_totals t "
                                     "JOIN sites s ON s.id = t.site_id")).scalars().all()
        everyone = conn.execute(sa.text("SELECT count(DISTINCT site_id) FROM site_month_totals")).scalar()
    assert sites == ["S2"] and everyone == 1
    kpis = reads.site_kpis(date_from=dt.date(2025, 12, 1), date_to=dt.date(2026, 6, 30), owner_ref="O2")
    assert kpis["site_ref"].tolist() == ["S2"] and kpis["collected"].tolist() == [400_000]
