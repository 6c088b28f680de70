"""risk_features (sql/046), the features at one date that lease_risk and cash_forecast score, computed from
one row per lease (bit strings of the dues paid on time, within 10 and within 30 days, the last payment,
the balance), gives exactly risk_features_at's rows (computed from every due and payment of the history):
on the small data set for dates across its two years (month starts and ends, a due day, the last day, a
day after it), for every owner and for each owner alone under his row-level security."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from akig_data.engine import fetch_arrow
from tests.conftest import SMALL_UNTIL

DATES = [dt.date(2024, 9, 1), dt.date(2025, 1, 31), dt.date(2025, 3, 5), dt.date(2025, 8, 16),
         dt.date(2025, 12, 31), dt.date(2026, 2, 28), dt.date(2026, 4, 1), SMALL_UNTIL,
         SMALL_UNTIL + dt.timedelta(days=1), dt.date(2026, 9, 15)]


def rows(engine, sql: str, **params) -> list[dict]:
    scope = params.get("owner_ref") or "*"
    return fetch_arrow(engine, sql, params, scope=scope).to_pylist()


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_one_date_features_equal_the_history_features_for_every_owner_and_each(seeded, as_of):
    engine = seeded.engine
    with engine.connect() as conn:
        owners = [None] + conn.execute(sa.text("SELECT owner_ref FROM owners ORDER BY owner_ref")).scalars().all()
    compared = 0
    for owner_ref in owners:
        one = rows(engine, "SELECT * FROM risk_features(CAST(:as_of AS date), CAST(:owner_ref AS text))",
                   as_of=as_of, owner_ref=owner_ref)
        history = rows(engine, "SELECT * FROM risk_features_at(ARRAY[CAST(:as_of AS date)], CAST(:owner_ref AS text))",
                       as_of=as_of, owner_ref=owner_ref)
        assert one == history, (as_of, owner_ref)
        compared += len(one)
    assert compared > 100   # leases were running: the comparison is not of two empty lists


def test_the_one_date_features_follow_a_payment_and_a_rent_change(seeded):
    """After writes that move the stored rows (a payment dated in the past, a lease's rent changed, a
    payment deleted), the two functions still agree, and the bit strings have no drift."""
    from akig_data import reads
    from akig_data.access.scope import Principal
    from akig_data.writes import collection

    engine = seeded.engine
    late = reads.arrears_by_lease(as_of=SMALL_UNTIL).sort_values("arrears").iloc[-1]["lease_ref"]
    collection.record_payment(late, 150_000, "cash", paid_at="2026-03-10T10:00:00+00:00", agent_ref="AGT-001",
                              who=Principal("awa", "manager"))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE leases SET monthly_rent = monthly_rent + 5000 WHERE lease_ref = :l"), {"l": late})
        conn.execute(sa.text("DELETE FROM payments WHERE id = (SELECT min(p.id) FROM payments p"
                             " JOIN leases l ON l.id = p.lease_id WHERE l.lease_ref = :l)"), {"l": late})
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM lease_paid_history_drift")).scalar() == 0
    for as_of in (dt.date(2026, 3, 12), SMALL_UNTIL + dt.timedelta(days=1)):
        one = rows(engine, "SELECT * FROM risk_features(CAST(:as_of AS date), NULL)", as_of=as_of)
        history = rows(engine, "SELECT * FROM risk_features_at(ARRAY[CAST(:as_of AS date)], NULL)", as_of=as_of)
        assert one == history, as_of
        assert any(r["lease_ref"] == late for r in one)


def test_the_last_payment_before_the_date_whatever_came_after(fresh_db):
    """days_since_payment counts from the last payment before D: one within the 6 months, one only long
    before (kept per lease), one long before and another dated D itself (the lease's latest payment is then
    after the morning of D, so the payments are read), none at all."""
    from akig_data.testing.ledger import Ledger

    ledger = Ledger(fresh_db)
    for lease in ("RECENT", "OLD", "OLD_AND_TODAY", "NEVER"):
        ledger.one_lease("2024-01-01", lease=lease)
    ledger.pay("RECENT", "2025-12-20T10:00:00+00:00", 100_000)
    ledger.pay("OLD", "2024-03-02T10:00:00+00:00", 300_000)
    ledger.pay("OLD_AND_TODAY", "2024-04-02T10:00:00+00:00", 200_000)
    ledger.pay("OLD_AND_TODAY", "2026-02-01T09:00:00+00:00", 50_000)
    as_of = dt.date(2026, 2, 1)
    one = rows(fresh_db.engine, "SELECT * FROM risk_features(CAST(:as_of AS date), NULL)", as_of=as_of)
    history = rows(fresh_db.engine, "SELECT * FROM risk_features_at(ARRAY[CAST(:as_of AS date)], NULL)", as_of=as_of)
    assert one == history
    days = {r["lease_ref"]: r["days_since_payment"] for r in one}
    assert days == {"RECENT": 43, "OLD": (as_of - dt.date(2024, 3, 2)).days,
                    "OLD_AND_TODAY": (as_of - dt.date(2024, 4, 2)).days, "NEVER": None}
