"""promise_payments (sql/035): what was paid toward each promise over its window, kept by triggers. After every
kind of write the stored rows equal their source (promise_payments_drift), and the promises read, which takes
them for the promises due by D, equals the rule computed naively: the lease's payments dated from the day the
promise was made to its due date or D, whichever comes first."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from akig_data import reads
from akig_data.errors import InvalidParameter
from akig_data.testing.ledger import Ledger

AS_OF = [dt.date(2026, 3, 31), dt.date(2026, 3, 12), dt.date(2026, 3, 5), dt.date(2026, 2, 28)]


@pytest.fixture()
def ledger(fresh_db):
    ledger = Ledger(fresh_db)
    ledger.one_lease(start="2025-10-01", due_day=5, lease="L1", owner="O1", site="S1")
    ledger.one_lease(start="2025-11-01", due_day=10, lease="L2", owner="O2", site="S2")
    for ref, lease, created, due, amount in (("PR1", "L1", "2026-03-01T10:00:00+00:00", "2026-03-10", 100_000),
                                             ("PR2", "L1", "2026-03-02T23:30:00+00:00", "2026-03-20", 50_000),
                                             ("PR3", "L2", "2026-02-20T08:00:00+00:00", "2026-03-06", 200_000),
                                             ("PR4", "L2", "2026-03-08T08:00:00+00:00", "2026-04-15", 80_000)):
        ledger.promise(ref, lease, created, due, amount)
    for lease, at, amount, ref in (("L1", "2026-03-01T12:00:00+00:00", 60_000, "A"),
                                   ("L1", "2026-03-10T23:59:00+00:00", 40_000, "B"),
                                   ("L1", "2026-03-15T09:00:00+00:00", 10_000, "C"),
                                   ("L2", "2026-02-19T09:00:00+00:00", 30_000, "D"),
                                   ("L2", "2026-03-06T09:00:00+00:00", 70_000, "E"),
                                   ("L2", "2026-03-31T09:00:00+00:00", 20_000, "F")):
        ledger.pay(lease, at, amount, ref=ref)
    return ledger


def drift(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM promise_payments_drift")).scalar()


def expected(engine, as_of: dt.date, owner: str | None, due_from: dt.date = dt.date.min,
             due_to: dt.date = dt.date.max) -> list[tuple]:
    with engine.connect() as conn:
        promises = conn.execute(sa.text(
            "SELECT pr.promise_ref, pr.lease_id, pr.created_on, pr.due_date, pr.amount, o.owner_ref FROM promises pr "
            "JOIN leases l ON l.id = pr.lease_id JOIN owners o ON o.id = l.owner_id")).all()
        payments = conn.execute(sa.text("SELECT lease_id, paid_on, amount FROM payments")).all()
    rows = []
    for ref, lease_id, created_on, due_date, amount, owner_ref in promises:
        if created_on > as_of or (owner is not None and owner_ref != owner) or not due_from <= due_date <= due_to:
            continue
        until = min(due_date, as_of)
        paid = sum(a for lease, day, a in payments if lease == lease_id and created_on <= day <= until)
        status = ("kept" if paid >= amount else "pending" if as_of <= due_date
                  else "partial" if paid > 0 else "broken")
        rows.append((due_date, ref, paid, status))
    rows.sort(key=lambda r: (-r[0].toordinal(), r[1]))
    return [(ref, paid, status) for _, ref, paid, status in rows]


def check(rt) -> None:
    assert drift(rt.engine) == 0
    rt.memo.bump(["payments", "promises", "leases"])
    for as_of in AS_OF:
        for owner in (None, "O1", "O2"):
            got = reads.promises(as_of=as_of, owner_ref=owner)
            rows = [(r.promise_ref, r.paid, r.status) for r in got.itertuples()]
            assert rows == expected(rt.engine, as_of, owner), (as_of, owner)
            # a window on the due date, as the desk and the gauges ask (ends included)
            low, high = as_of - dt.timedelta(days=9), as_of + dt.timedelta(days=10)
            got = reads.promises(as_of=as_of, owner_ref=owner, due_from=low, due_to=high)
            rows = [(r.promise_ref, r.paid, r.status) for r in got.itertuples()]
            assert rows == expected(rt.engine, as_of, owner, low, high), (as_of, owner, low, high)


def test_the_rows_follow_every_write_and_the_promises_equal_the_rule(ledger):
    rt = ledger.rt
    check(rt)
    with rt.engine.connect() as conn:
        stored = dict(conn.execute(sa.text(
            "SELECT pr.promise_ref, t.paid FROM promise_payments t JOIN promises pr ON pr.id = t.promise_id")).all())
    assert stored == {"PR1": 100_000, "PR2": 50_000, "PR3": 70_000, "PR4": 20_000}
    for sql in (
        # a payment inside a window, one on a due date, a new amount, a payment moved out of a window and to
        # the other lease, a deletion
        "INSERT INTO payments (payment_ref, lease_id, paid_at, amount, method) "
        "SELECT 'X1', id, '2026-03-20T10:00:00+00:00', 5000, 'cash' FROM leases WHERE lease_ref = 'L1'",
        "INSERT INTO payments (payment_ref, lease_id, paid_at, amount, method) "
        "SELECT 'X2', id, '2026-03-06T23:00:00+00:00', 130000, 'cash' FROM leases WHERE lease_ref = 'L2'",
        "UPDATE payments SET amount = 1000 WHERE payment_ref = 'A'",
        "UPDATE payments SET paid_at = '2026-02-27T10:00:00+00:00' WHERE payment_ref = 'B'",
        "UPDATE payments SET lease_id = (SELECT id FROM leases WHERE lease_ref = 'L2') WHERE payment_ref = 'C'",
        "DELETE FROM payments WHERE payment_ref = 'E'",
        # promises: a new one, one moved in time, one given to the other lease, one deleted
        "INSERT INTO promises (promise_ref, lease_id, created_at, due_date, amount) "
        "SELECT 'PR5', id, '2026-02-25T08:00:00+00:00', '2026-03-31', 90000 FROM leases WHERE lease_ref = 'L1'",
        "UPDATE promises SET created_at = '2026-02-15T08:00:00+00:00', due_date = '2026-03-01' WHERE promise_ref = 'PR3'",
        "UPDATE promises SET lease_id = (SELECT id FROM leases WHERE lease_ref = 'L1') WHERE promise_ref = 'PR4'",
        "DELETE FROM promises WHERE promise_ref = 'PR2'",
        "TRUNCATE payments",
    ):
        with rt.engine.begin() as conn:
            conn.execute(sa.text(sql))
        check(rt)


def test_an_owner_reads_only_his_promises_rows(ledger):
    with ledger.rt.engine.begin() as conn:
        conn.execute(sa.text("SELECT set_config('akig.owner_ref', 'O2', true), "
                             "set_config('role', 'akig_read_owner', true)"))
        refs = conn.execute(sa.text("SELECT pr.promise_ref FROM promise_payments t "
                                    "JOIN promises pr ON pr.id = t.promise_id ORDER BY 1")).scalars().all()
        everyone = conn.execute(sa.text("SELECT count(*) FROM promise_payments")).scalar()
    assert refs == ["PR3", "PR4"] and everyone == 2
    with ledger.rt.engine.begin() as conn:    # a promise given to another owner's lease leaves with it
        conn.execute(sa.text("UPDATE promises SET lease_id = (SELECT id FROM leases WHERE lease_ref = 'L1') "
                             "WHERE promise_ref = 'PR4'"))
        conn.execute(sa.text("SELECT set_config('akig.owner_ref', 'O2', true), "
                             "set_config('role', 'akig_read_owner', true)"))
        assert conn.execute(sa.text("SELECT count(*) FROM promise_payments")).scalar() == 1


def test_a_window_that_runs_backwards_is_refused(ledger):
    with pytest.raises(InvalidParameter, match="due_to must not be before due_from"):
        reads.promises(as_of=dt.date(2026, 3, 31), due_from=dt.date(2026, 3, 10), due_to=dt.date(2026, 3, 9))
