"""due_paid_days (sql/045): the day each due was paid in full, kept by triggers, from which the risk features
and the cash forecast take it (risk_due_paid_on). After every kind of write that can move that day (one
payment, a bulk statement, a payment dated before the others, an amount, a date or a lease changed, a
payment deleted, a rent changed, the horizon of dues moved on while a lease has paid months ahead, a lease
deleted, payments truncated) the stored days equal the ones computed here from the raw payments and dues:
the first day on which the lease's payments, summed in date order, reach the due's cumulative amount."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import sqlalchemy as sa

from akig_data.testing.ledger import Ledger


def run(rt, sql: str, **params) -> None:
    with rt.engine.begin() as conn:
        conn.execute(sa.text(sql), params)
    rt.memo.bump(["payments", "leases"])


def oracle(rt) -> dict[tuple[int, int], dt.date]:
    """Every due's full-payment day from the raw rows, walking each lease's payments in date order."""
    with rt.engine.connect() as conn:
        dues = conn.execute(sa.text("SELECT lease_id, mi, cum_due FROM lease_dues")).all()
        payments = conn.execute(sa.text("SELECT lease_id, paid_on, amount FROM payments ORDER BY paid_on")).all()
    by_lease: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    for lease_id, paid_on, amount in payments:
        by_lease[lease_id].append((paid_on, amount))
    out = {}
    for lease_id, mi, cum_due in dues:
        total = 0
        for paid_on, amount in by_lease[lease_id]:
            total += amount
            if total >= cum_due:
                out[(lease_id, mi)] = paid_on
                break
    return out


def stored(rt) -> dict[tuple[int, int], dt.date]:
    with rt.engine.connect() as conn:
        return {(r.lease_id, r.mi): r.paid_on for r in conn.execute(sa.text("SELECT * FROM due_paid_days"))}


def check(rt) -> dict[tuple[int, int], dt.date]:
    want = oracle(rt)
    assert stored(rt) == want
    with rt.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM due_paid_days_drift")).scalar() == 0
        # and the per-lease bit strings and last payment kept from them (sql/046)
        assert conn.execute(sa.text("SELECT count(*) FROM lease_paid_history_drift")).scalar() == 0
        # what the risk features read: every due, its day or none
        rows = conn.execute(sa.text("SELECT lease_id, mi, fully_paid_on FROM risk_due_paid_on(NULL)")).all()
        assert len(rows) == conn.execute(sa.text("SELECT count(*) FROM lease_dues")).scalar()
    assert {(r.lease_id, r.mi): r.fully_paid_on for r in rows if r.fully_paid_on is not None} == want
    return want


def lease_id(rt, ref: str) -> int:
    with rt.engine.connect() as conn:
        return conn.execute(sa.text("SELECT id FROM leases WHERE lease_ref = :r"), {"r": ref}).scalar()


def test_the_full_payment_day_follows_every_write_that_can_move_it(fresh_db):
    rt = fresh_db
    ledger = Ledger(rt)
    ledger.one_lease("2026-01-01", lease="L1")                      # 100,000 a month, due on the 5th
    ledger.one_lease("2026-01-01", lease="L2", rent=80_000, due_day=28)
    ledger.one_lease("2026-01-01", lease="L3")
    assert check(rt) == {}                                           # nothing paid, nothing covered

    ledger.pay("L1", "2026-01-03T10:00:00+00:00", 100_000, ref="P1")  # January, before its date
    ledger.pay("L1", "2026-02-20T10:00:00+00:00", 50_000, ref="P2")   # half of February
    ledger.pay("L1", "2026-03-01T10:00:00+00:00", 150_000, ref="P3")  # the rest of February and March
    days = check(rt)
    l1 = lease_id(rt, "L1")
    assert [days[(l1, mi)] for mi in sorted(mi for lease, mi in days if lease == l1)] == [
        dt.date(2026, 1, 3), dt.date(2026, 3, 1), dt.date(2026, 3, 1)]

    # One statement for many rows, as a bulk load writes them.
    run(rt, "INSERT INTO payments (payment_ref, lease_id, paid_at, amount, method)"
            " SELECT 'B' || g, l.id, TIMESTAMPTZ '2026-01-10 08:00+00' + g * INTERVAL '9 days', 40000, 'cash'"
            "   FROM generate_series(1, 40) g JOIN leases l ON l.lease_ref = 'L' || (1 + g % 3)")
    check(rt)

    # Dated before every other payment of its lease: every later day moves earlier.
    ledger.pay("L2", "2026-01-02T09:00:00+00:00", 300_000, ref="EARLY")
    check(rt)

    # An amount lowered, a date moved later, a payment moved to another lease.
    run(rt, "UPDATE payments SET amount = 10000 WHERE payment_ref = 'P3'")
    check(rt)
    run(rt, "UPDATE payments SET paid_at = '2026-05-15T10:00:00+00:00' WHERE payment_ref = 'P1'")
    check(rt)
    run(rt, "UPDATE payments SET lease_id = (SELECT id FROM leases WHERE lease_ref = 'L3')"
            " WHERE payment_ref = 'EARLY'")
    check(rt)

    run(rt, "DELETE FROM payments WHERE payment_ref = 'P2'")
    check(rt)

    # A rent changed: the lease's dues are made again, with other cumulative amounts.
    run(rt, "UPDATE leases SET monthly_rent = 60000 WHERE lease_ref = 'L1'")
    check(rt)

    # L3 pays two years ahead; the dues stored beyond the horizon when it moves on are already covered.
    ledger.pay("L3", "2026-02-01T09:00:00+00:00", 2_400_000, ref="AHEAD")
    before = check(rt)
    with rt.engine.begin() as conn:
        horizon = conn.execute(sa.text("SELECT until_mi FROM dues_horizon")).scalar()
        conn.execute(sa.text("SELECT extend_dues_horizon(CAST(:d AS date))"), {"d": "2028-06-30"})
        assert conn.execute(sa.text("SELECT until_mi FROM dues_horizon")).scalar() > horizon
    after = check(rt)
    l3 = lease_id(rt, "L3")
    assert {key for key in after if key[0] == l3 and key[1] > horizon}   # new dues of L3 covered on 2026-02-01
    assert {key: day for key, day in after.items() if key in before} == before

    # A lease deleted (its payments first) takes its rows with it.
    run(rt, "DELETE FROM payments WHERE lease_id = (SELECT id FROM leases WHERE lease_ref = 'L2')")
    run(rt, "DELETE FROM leases WHERE lease_ref = 'L2'")
    check(rt)

    run(rt, "TRUNCATE payments")
    assert check(rt) == {}


def test_the_desk_keeps_the_days_exact_as_the_write_role(seeded):
    """The desk writes payments as akig_write, which cannot write due_paid_days itself: the triggers'
    SECURITY DEFINER functions do."""
    from akig_data import reads
    from akig_data.access.scope import Principal
    from akig_data.writes import collection

    late = reads.arrears_by_lease(as_of="2026-06-30").sort_values("arrears").iloc[-1]
    with seeded.engine.connect() as conn:
        before = conn.execute(sa.text(
            "SELECT count(*) FROM due_paid_days d JOIN leases l ON l.id = d.lease_id WHERE l.lease_ref = :l"),
            {"l": late["lease_ref"]}).scalar()
    collection.record_payment(late["lease_ref"], int(late["arrears"]), "cash", agent_ref="AGT-001",
                              who=Principal("awa", "manager"))
    with seeded.engine.connect() as conn:
        after = conn.execute(sa.text(
            "SELECT count(*) FROM due_paid_days d JOIN leases l ON l.id = d.lease_id WHERE l.lease_ref = :l"),
            {"l": late["lease_ref"]}).scalar()
        assert conn.execute(sa.text("SELECT count(*) FROM due_paid_days_drift")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM lease_paid_history_drift")).scalar() == 0
    assert after > before
