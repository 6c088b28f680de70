"""lease_punctuality (sql/033): each lease's dues and on-time flags month by month, kept by triggers. After every
kind of write the stored rows equal lease_dues (lease_punctuality_drift), and good_payers, which counts its window
in them, equals the rules computed naively in pandas (the oracle's dues and arrears)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from akig_data import reads
from akig_data.testing import oracle as naive
from akig_data.testing.ledger import Ledger
from akig_data.upkeep import lease_positions

AS_OF = [dt.date(2026, 6, 30), dt.date(2026, 5, 9), dt.date(2026, 3, 31)]


@pytest.fixture()
def ledger(fresh_db):
    ledger = Ledger(fresh_db)
    ledger.owner("O1")
    ledger.owner("O2")
    ledger.site("S1", "O1")
    ledger.site("S2", "O2")
    for tenant in ("TA", "TB", "TC"):
        ledger.tenant(tenant)
    # TA rents two units (one of each owner), TB and TC one each; due days at both ends of the month
    for lease, site, tenant, start, due_day, rent in (("L1", "S1", "TA", "2025-05-15", 31, 100_000),
                                                      ("L2", "S2", "TA", "2025-07-01", 5, 80_000),
                                                      ("L3", "S1", "TB", "2025-04-01", 1, 50_000),
                                                      ("L4", "S2", "TC", "2025-06-10", 10, 60_000)):
        ledger.unit(f"U-{lease}", site, rent)
        ledger.lease(lease, f"U-{lease}", tenant, start, None, rent, due_day)
    # every month paid by its due day, but two paid 12 days late
    for lease, rent, (year, month), months, day in (("L1", 100_000, (2025, 5), 14, 28), ("L2", 80_000, (2025, 7), 12, 5),
                                                    ("L3", 50_000, (2025, 4), 15, 1), ("L4", 60_000, (2025, 6), 13, 10)):
        for i in range(months):
            y, m = year + (month - 1 + i) // 12, (month - 1 + i) % 12 + 1
            late = 12 if (lease, i) in (("L3", 6), ("L4", 2)) else 0
            ledger.pay(lease, f"{y}-{m:02d}-{day + late:02d}T09:00:00+00:00", rent, ref=f"{lease}-{i}")
    return ledger


def drift(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM lease_punctuality_drift")).scalar()


def expected_good_payers(raw, tenants: pd.Series, as_of: dt.date, owner: str | None) -> list[tuple]:
    leases = raw.leases if owner is None else raw.leases[raw.leases["owner_ref"] == owner]
    scoped = naive.RawTables(leases, raw.payments[raw.payments["lease_id"].isin(leases["lease_id"])], raw.sites)
    arrears = naive.arrears_by_lease(scoped, as_of).set_index("lease_id")["arrears"]
    status = naive.dues_status(scoped, as_of - dt.timedelta(days=364), as_of)
    rows = []
    for tenant, group in leases.assign(tenant=leases["lease_id"].map(tenants)).groupby("tenant"):
        if (arrears.reindex(group["lease_id"]).fillna(0) > 0).any():
            continue
        mine = status[status["lease_id"].isin(group["lease_id"])]
        dues, on_time = len(mine), int(mine["on_time"].sum())
        if dues < 6 or on_time / dues < 0.75:
            continue
        badge = "gold" if on_time == dues else "silver" if on_time / dues >= 0.9 else "bronze"
        rows.append((tenant, badge, dues, on_time))
    return sorted(rows, key=lambda r: (-r[3] / r[2], -r[2], r[0]))


def check(rt) -> None:
    assert drift(rt.engine) == 0
    with rt.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM lease_positions_drift")).scalar() == 0
    rt.memo.bump(["payments", "leases", "units", "sites"])
    raw = naive.load_raw(rt.engine)
    for col in ("lease_id", "amount"):  # typed when no payment is left
        raw.payments[col] = raw.payments[col].astype("int64")
    with rt.engine.connect() as conn:
        tenants = pd.Series(dict(conn.execute(sa.text(
            "SELECT l.id, t.tenant_ref FROM leases l JOIN tenants t ON t.id = l.tenant_id")).all()))
    for as_of in AS_OF:
        for owner in (None, "O1", "O2"):
            got = reads.good_payers(as_of=as_of, owner_ref=owner)
            rows = [(r.tenant_ref, r.badge, r.dues, r.on_time_dues) for r in got.itertuples()]
            assert rows == expected_good_payers(raw, tenants, as_of, owner), (as_of, owner)


def test_the_rows_follow_every_write_and_good_payers_equals_the_oracle(ledger):
    rt = ledger.rt
    # the first date's arrears come from the stored lease positions (sql/056), the others' are computed
    lease_positions.store(AS_OF[0])
    check(rt)
    badges = reads.good_payers(as_of=dt.date(2026, 6, 30))[["tenant_ref", "badge"]].values.tolist()
    assert badges == [["TA", "gold"], ["TB", "silver"], ["TC", "silver"]]
    with rt.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM lease_punctuality")).scalar() == 4
        assert conn.execute(sa.text("SELECT bit_count(on_time) < bit_count(dues) FROM lease_punctuality p "
                                    "JOIN leases l ON l.id = p.lease_id WHERE l.lease_ref = 'L3'")).scalar()
    for sql in (
        # a payment that makes a late month on time, one backdated that changes every later due, a new
        # amount, a payment moved to another lease and to another day, a deletion
        "INSERT INTO payments (payment_ref, lease_id, paid_at, amount, method) "
        "SELECT 'X1', id, '2025-10-01T08:00:00+00:00', 50000, 'cash' FROM leases WHERE lease_ref = 'L3'",
        "INSERT INTO payments (payment_ref, lease_id, paid_at, amount, method) "
        "SELECT 'X2', id, '2025-06-01T08:00:00+00:00', 300000, 'cash' FROM leases WHERE lease_ref = 'L4'",
        "UPDATE payments SET amount = 10000 WHERE payment_ref = 'L1-3'",
        "UPDATE payments SET lease_id = (SELECT id FROM leases WHERE lease_ref = 'L2') WHERE payment_ref = 'L1-5'",
        "UPDATE payments SET paid_at = '2026-06-25T10:00:00+00:00' WHERE payment_ref = 'L2-2'",
        "DELETE FROM payments WHERE payment_ref = 'X2'",
        # the dues change: due day and rent, an end date, the horizon moves on
        "UPDATE leases SET due_day = 28, monthly_rent = 90000 WHERE lease_ref = 'L2'",
        "UPDATE leases SET end_date = '2026-04-20' WHERE lease_ref = 'L1'",
        "SELECT extend_dues_horizon((SELECT due_in_month(until_mi + 3, 1) FROM dues_horizon))",
        # a lease deleted with its payments, every payment truncated
        "DELETE FROM payments WHERE lease_id = (SELECT id FROM leases WHERE lease_ref = 'L4')",
        "DELETE FROM leases WHERE lease_ref = 'L4'",
        "TRUNCATE payments",
    ):
        with rt.engine.begin() as conn:
            conn.execute(sa.text(sql))
        check(rt)
    with rt.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM lease_punctuality")).scalar() == 3


def test_an_owner_reads_only_his_leases_rows(ledger):
    with ledger.rt.engine.begin() as conn:
        conn.execute(sa.text("SELECT set_config('akig.owner_ref', 'O2', true), "
                             "set_config('role', 'akig_read_owner', true)"))
        leases = conn.execute(sa.text("SELECT l.lease_ref FROM lease_punctuality p JOIN leases l ON l.id = p.lease_id "
                                      "ORDER BY 1")).scalars().all()
        everyone = conn.execute(sa.text("SELECT count(*) FROM lease_punctuality")).scalar()
    assert leases == ["L2", "L4"] and everyone == 2
