"""lease_positions (sql/056): every lease's position of one day, stored, then kept by the writes' triggers.
After every kind of write the stored rows equal what the rules compute (lease_positions_drift), and
arrears_by_lease of the stored day answers from them and equals the naive pandas oracle; two writers of one
lease, or a write and the day's store, never leave a stale row behind; an owner reads only his rows."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pandas as pd
import pytest
import sqlalchemy as sa

from akig_data import clock, reads
from akig_data.testing import oracle as naive
from akig_data.testing.ledger import Ledger
from akig_data.upkeep import lease_positions

DAY = dt.date(2026, 6, 30)
COLUMNS = ["arrears", "credit", "bucket_0_30", "bucket_31_60", "bucket_61_90", "bucket_90_plus", "days_late"]


@pytest.fixture()
def ledger(fresh_db):
    ledger = Ledger(fresh_db)
    ledger.one_lease(start="2025-11-15", due_day=31, lease="L1", owner="O1", site="S1")
    ledger.one_lease(start="2026-01-01", end="2026-09-10", due_day=5, lease="L2", owner="O1", site="S1")
    ledger.one_lease(start="2025-10-01", due_day=1, lease="L3", owner="O2", site="S2")
    for lease, day, amount, ref in (("L1", "2025-11-30", 100_000, "A"), ("L1", "2026-01-31", 200_000, "B"),
                                    ("L1", "2026-03-15", 150_000, "C"), ("L2", "2026-01-05", 100_000, "D"),
                                    ("L2", "2026-03-20", 80_000, "E"), ("L3", "2025-10-01", 100_000, "F"),
                                    ("L3", "2026-02-01", 900_000, "G"), ("L3", "2026-05-02", 100_000, "H")):
        ledger.pay(lease, f"{day}T10:00:00+00:00", amount, ref=ref)
    # two tenants who paid every month on its due day, one of whom has not paid June: a good payer, and one
    # whose arrears keep him off the list
    ledger.one_lease(start="2025-09-01", due_day=5, lease="L5", owner="O1", site="S1")
    ledger.one_lease(start="2025-09-01", due_day=1, lease="L6", owner="O2", site="S2")
    for i in range(10):
        y, m = 2025 + (8 + i) // 12, (8 + i) % 12 + 1
        ledger.pay("L5", f"{y}-{m:02d}-05T09:00:00+00:00", 100_000, ref=f"L5-{i}")
        if i < 9:
            ledger.pay("L6", f"{y}-{m:02d}-01T09:00:00+00:00", 100_000, ref=f"L6-{i}")
    lease_positions.store(DAY)
    return ledger


def scalar(rt, sql: str, **params):
    with rt.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def expected(rt) -> pd.DataFrame:
    raw = naive.load_raw(rt.engine)
    for col in ("lease_id", "amount"):  # typed when no payment is left
        raw.payments[col] = raw.payments[col].astype("int64")
    out = naive.arrears_by_lease(raw, DAY)
    out = out[(out["arrears"] > 0) | (out["credit"] > 0)]
    return out.set_index("lease_ref")[COLUMNS].astype("int64").sort_index()


def answers(rt, stored: bool) -> list:
    """arrears_by_lease and good_payers of DAY for every owner and each, from the stored rows or, with the
    stored day deleted in a transaction rolled back, computed."""
    with rt.engine.connect() as conn, conn.begin() as tx:
        if not stored:
            conn.execute(sa.text("DELETE FROM lease_positions_day"))
        got = [conn.execute(sa.text(f"SELECT * FROM {read}(:d, :o)"), {"d": DAY, "o": owner}).all()
               for read in ("arrears_by_lease", "good_payers") for owner in (None, "O1", "O2", "O2-bis")]
        tx.rollback()
    return got


def check(rt) -> None:
    """The stored day is there, its rows are what the rules compute, both reads answer from them what they
    compute without them, and arrears_by_lease equals the oracle."""
    assert scalar(rt, "SELECT as_of FROM lease_positions_day") == DAY
    assert scalar(rt, "SELECT count(*) FROM lease_positions_drift") == 0
    assert scalar(rt, "SELECT count(*) FROM lease_positions") == scalar(rt, "SELECT count(*) FROM leases")
    assert answers(rt, stored=True) == answers(rt, stored=False)
    rt.memo.bump(["payments", "leases"])
    got = reads.arrears_by_lease(as_of=DAY).set_index("lease_ref")[COLUMNS].astype("int64").sort_index()
    pd.testing.assert_frame_equal(got, expected(rt), check_names=False)


def test_the_rows_follow_every_write_and_the_read_equals_the_oracle(ledger):
    rt = ledger.rt
    check(rt)
    assert reads.good_payers(as_of=DAY)[["tenant_ref", "badge"]].values.tolist() == [["T-L5", "gold"]]
    for sql in (
        # a payment: new, moved after the day (no longer counted), moved to another lease, a new amount, deleted
        "INSERT INTO payments (payment_ref, lease_id, paid_at, amount, method) "
        "SELECT 'I', id, '2026-06-29T23:30:00+00:00', 400000, 'cash' FROM leases WHERE lease_ref = 'L1'",
        "UPDATE payments SET paid_at = '2026-07-02T08:00:00+00:00' WHERE payment_ref = 'B'",
        "UPDATE payments SET lease_id = (SELECT id FROM leases WHERE lease_ref = 'L3') WHERE payment_ref = 'C'",
        "UPDATE payments SET amount = 50000 WHERE payment_ref = 'G'",
        "DELETE FROM payments WHERE payment_ref = 'A'",
        # the lease's terms: due day and rent, end date
        "UPDATE leases SET due_day = 1, monthly_rent = 120000 WHERE lease_ref = 'L1'",
        "UPDATE leases SET end_date = '2026-04-10' WHERE lease_ref = 'L2'",
        # a unit moved to the other owner's site, a site given to the other owner
        "UPDATE units SET site_id = (SELECT id FROM sites WHERE site_ref = 'S2') WHERE unit_ref = 'U-L2'",
        "UPDATE sites SET owner_id = (SELECT id FROM owners WHERE owner_ref = 'O1') WHERE site_ref = 'S2'",
        # the references shown in the rows
        "UPDATE tenants SET tenant_ref = 'T-L3-bis' WHERE tenant_ref = 'T-L3'",
        "UPDATE units SET unit_ref = 'U-L3-bis' WHERE unit_ref = 'U-L3'",
        "UPDATE sites SET site_ref = 'S2-bis' WHERE site_ref = 'S2'",
        "UPDATE owners SET owner_ref = 'O2-bis' WHERE owner_ref = 'O2'",
        # a lease without payments deleted, a new one
        "DELETE FROM payments WHERE lease_id = (SELECT id FROM leases WHERE lease_ref = 'L2')",
        "DELETE FROM leases WHERE lease_ref = 'L2'",
    ):
        with rt.engine.begin() as conn:
            conn.execute(sa.text(sql))
        check(rt)
    ledger.one_lease(start="2026-03-01", due_day=10, lease="L4", owner="O1", site="S1")
    check(rt)


def test_the_read_answers_from_the_stored_rows_on_their_day_only(ledger):
    rt = ledger.rt
    computed = reads.arrears_by_lease(as_of=DAY)
    with rt.engine.begin() as conn:   # a stored row altered by hand shows in the read of its day
        conn.execute(sa.text("UPDATE lease_positions SET arrears = arrears + 1 "
                             "WHERE lease_ref = 'L1'"))
    rt.memo.bump(["payments"])
    stored = reads.arrears_by_lease(as_of=DAY).set_index("lease_ref")
    assert stored.loc["L1", "arrears"] == computed.set_index("lease_ref").loc["L1", "arrears"] + 1
    other = reads.arrears_by_lease(as_of=DAY - dt.timedelta(days=1)).set_index("lease_ref")
    with rt.engine.begin() as conn:
        conn.execute(sa.text("SELECT lease_positions_forget()"))
    rt.memo.bump(["payments"])
    pd.testing.assert_frame_equal(reads.arrears_by_lease(as_of=DAY), computed)
    assert other.equals(reads.arrears_by_lease(as_of=DAY - dt.timedelta(days=1)).set_index("lease_ref"))
    # the scheduled task stores today, then has nothing to do
    assert lease_positions.store_due().leases == 5 and lease_positions.store_due() is None
    assert lease_positions.stored_day() == clock.today()


def test_a_truncate_forgets_the_day_and_the_reads_compute(ledger):
    rt = ledger.rt
    with rt.engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE payments"))
    assert scalar(rt, "SELECT count(*) FROM lease_positions_day") == 0
    assert scalar(rt, "SELECT count(*) FROM lease_positions") == 0
    rt.memo.bump(["payments"])
    assert reads.arrears_by_lease(as_of=DAY)["credit"].sum() == 0
    lease_positions.store(DAY)
    check(rt)
    with rt.engine.begin() as conn:   # as `akig demo seed --reset` empties the tables
        conn.execute(sa.text("TRUNCATE leases, payments CASCADE"))
    assert scalar(rt, "SELECT count(*) FROM lease_positions_day") == 0
    lease_positions.store(DAY)
    assert scalar(rt, "SELECT count(*) FROM lease_positions") == 0


class Waiting(threading.Thread):
    """An action in a thread of its own, which keeps what it raised for the test to see."""

    def __init__(self, action):
        super().__init__()
        self.action, self.error = action, None
        self.start()
        time.sleep(0.5)            # long enough to reach the lock it waits for

    def run(self):
        try:
            self.action()
        except Exception as exc:   # noqa: BLE001 - handed to the test
            self.error = exc

    def finish(self) -> None:
        self.join(10)
        assert not self.is_alive() and self.error is None, self.error


def test_two_writers_of_one_lease_take_turns(ledger):
    rt = ledger.rt
    pay_l1 = ("INSERT INTO payments (payment_ref, lease_id, paid_at, amount, method) "
              "SELECT :ref, id, '2026-06-01T10:00:00+00:00', 70000, 'cash' FROM leases WHERE lease_ref = 'L1'")

    def pay(ref: str):
        def run():
            with rt.engine.begin() as conn:
                conn.execute(sa.text(pay_l1), {"ref": ref})
        return run

    # the tenant's new reference not yet committed, then a payment of the same lease: the payment's refresh
    # waits for it and shows it
    with rt.engine.connect() as first:
        with first.begin():
            first.execute(sa.text("UPDATE tenants SET tenant_ref = 'T-L1-bis' WHERE tenant_ref = 'T-L1'"))
            second = Waiting(pay("P1"))
            assert second.is_alive()
        second.finish()
    check(rt)
    assert reads.arrears_by_lease(as_of=DAY, owner_ref="O1").set_index("lease_ref").loc["L1", "tenant_ref"] == "T-L1-bis"
    # two payments of one lease at once
    with rt.engine.connect() as first:
        with first.begin():
            first.execute(sa.text(pay_l1), {"ref": "P2"})
            second = Waiting(pay("P3"))
        second.finish()
    check(rt)
    assert scalar(rt, "SELECT count(*) FROM payments WHERE payment_ref IN ('P1', 'P2', 'P3')") == 3


def test_the_days_store_waits_for_a_write_under_way(ledger):
    rt = ledger.rt
    with rt.engine.connect() as first:
        with first.begin():
            first.execute(sa.text(
                "INSERT INTO payments (payment_ref, lease_id, paid_at, amount, method) "
                "SELECT 'W', id, '2026-06-15T10:00:00+00:00', 250000, 'cash' FROM leases WHERE lease_ref = 'L2'"))
            store = Waiting(lambda: lease_positions.store(DAY))
            assert store.is_alive()
        store.finish()
    check(rt)


def test_an_owner_reads_only_his_rows(ledger):
    with ledger.rt.engine.begin() as conn:
        conn.execute(sa.text("SELECT set_config('akig.owner_ref', 'O2', true), "
                             "set_config('role', 'akig_read_owner', true)"))
        refs = conn.execute(sa.text("SELECT lease_ref FROM lease_positions")).scalars().all()
        answer = conn.execute(sa.text("SELECT lease_ref FROM arrears_by_lease(:d, 'O2')"), {"d": DAY}).scalars().all()
        everyone = conn.execute(sa.text("SELECT lease_ref FROM arrears_by_lease(:d)"), {"d": DAY}).scalars().all()
    assert sorted(refs) == ["L3", "L6"] and answer == ["L6", "L3"] and everyone == ["L6", "L3"]   # arrears first
    assert reads.arrears_by_lease(as_of=DAY, owner_ref="O2")["lease_ref"].tolist() == ["L6", "L3"]
