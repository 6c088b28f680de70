"""The money rules on small hand-made ledgers whose answers are worked out by hand in the comments."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa

from akig_data import reads
from akig_data.errors import InvalidParameter
from akig_data.testing.ledger import Ledger, d


@pytest.fixture()
def ledger(fresh_db):
    return Ledger(fresh_db)


def lease_row(as_of: str, lease: str = "L1", **kw):
    frame = reads.arrears_by_lease(as_of=as_of, **kw)
    rows = frame[frame["lease_ref"] == lease]
    return None if rows.empty else rows.iloc[0]


def test_partial_payments_are_aged_fifo(ledger):
    # Rent 100 000 due on the 5th from January; paid 100 000 on 5 Jan and 50 000 on 10 Feb.
    ledger.one_lease(start="2026-01-01", due_day=5)
    ledger.pay("L1", "2026-01-05", 100_000)
    ledger.pay("L1", "2026-02-10", 50_000)
    # At 10 March: dues 5 Jan, 5 Feb, 5 Mar = 300 000; paid 150 000; arrears 150 000.
    # FIFO: January is covered; 50 000 of 5 Feb is unpaid (33 days), 5 Mar is unpaid (5 days).
    row = lease_row("2026-03-10")
    assert row["arrears"] == 150_000 and row["credit"] == 0
    assert (row["bucket_0_30"], row["bucket_31_60"], row["bucket_61_90"], row["bucket_90_plus"]) == (100_000, 50_000, 0, 0)
    assert row["oldest_unpaid_due_date"] == d("2026-02-05")
    assert row["days_late"] == 33
    assert (row["tenant_ref"], row["unit_ref"], row["site_ref"], row["owner_ref"]) == ("T-L1", "U-L1", "S1", "O1")


def test_overpayment_is_credit_not_arrears(ledger):
    ledger.one_lease(start="2026-01-01", due_day=5)
    ledger.pay("L1", "2026-01-03", 400_000)
    row = lease_row("2026-03-10")  # dues 300 000, paid 400 000
    assert row["arrears"] == 0 and row["credit"] == 100_000
    assert row["days_late"] == 0 and row["oldest_unpaid_due_date"] is None
    assert row[["bucket_0_30", "bucket_31_60", "bucket_61_90", "bucket_90_plus"]].sum() == 0
    site = reads.arrears_by_site(as_of="2026-03-10").iloc[0]
    assert site["arrears"] == 0 and site["late_leases"] == 0


def test_lease_that_ended_owes_only_its_dues_and_later_payments_count(ledger):
    # 1 Jan - 31 Mar 2025, due on the 1st: three dues (Jan, Feb, Mar) and never more.
    ledger.one_lease(start="2025-01-01", end="2025-03-31", due_day=1)
    ledger.pay("L1", "2025-01-01", 100_000)
    ledger.pay("L1", "2025-06-15", 100_000)  # after the end: still counts
    row = lease_row("2025-04-30")
    assert row["arrears"] == 200_000
    # 1 Feb is 88 days old (61-90), 1 Mar is 60 days old (31-60).
    assert (row["bucket_31_60"], row["bucket_61_90"]) == (100_000, 100_000)
    row = lease_row("2026-01-01")
    assert row["arrears"] == 100_000
    assert row["oldest_unpaid_due_date"] == d("2025-03-01") and row["days_late"] == 306
    assert row["bucket_90_plus"] == 100_000


def test_due_day_31_is_clamped_to_the_end_of_february(ledger):
    ledger.one_lease(start="2026-01-15", due_day=31)
    assert lease_row("2026-01-30") is None                     # first due is 31 Jan
    assert lease_row("2026-02-27")["arrears"] == 100_000        # 31 Jan only
    row = lease_row("2026-02-28")                               # 31 Jan + 28 Feb
    assert row["arrears"] == 200_000 and row["oldest_unpaid_due_date"] == d("2026-01-31")
    assert lease_row("2026-04-29")["arrears"] == 300_000        # 31 Mar; 30 Apr not yet
    assert lease_row("2026-04-30")["arrears"] == 400_000


def test_due_day_31_in_a_leap_february(ledger):
    ledger.one_lease(start="2024-02-01", due_day=31)
    assert lease_row("2024-02-28") is None
    row = lease_row("2024-02-29")
    assert row["arrears"] == 100_000 and row["oldest_unpaid_due_date"] == d("2024-02-29")


def test_payment_on_the_due_date_is_on_time(ledger):
    ledger.one_lease(start="2026-01-01", due_day=5)
    ledger.pay("L1", "2026-01-05T18:00:00+00:00", 100_000)   # on the due date: on time
    ledger.pay("L1", "2026-02-06", 100_000)                  # a day late
    kpi = reads.site_kpis(date_from="2026-01-01", date_to="2026-02-28").iloc[0]
    assert (kpi["dues"], kpi["on_time_dues"]) == (2, 1)
    assert kpi["punctuality_rate"] == pytest.approx(0.5)
    assert (kpi["due"], kpi["collected"]) == (200_000, 200_000)
    assert kpi["collection_rate"] == pytest.approx(1.0)


def test_payment_date_is_its_date_in_conakry(ledger):
    ledger.one_lease(start="2026-06-01", due_day=1)
    # 23:30 at UTC-2 on 1 June is 01:30 on 2 June in Conakry (UTC+0).
    ledger.pay("L1", "2026-06-01T23:30-02:00", 100_000)
    assert lease_row("2026-06-01")["arrears"] == 100_000
    assert lease_row("2026-06-02") is None
    with ledger.rt.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT paid_on FROM payments")).scalar() == d("2026-06-02")


def test_payment_before_the_lease_started_counts(ledger):
    ledger.one_lease(start="2026-03-01", due_day=1)
    ledger.pay("L1", "2026-02-20", 100_000)
    row = lease_row("2026-02-25")
    assert row["arrears"] == 0 and row["credit"] == 100_000
    assert lease_row("2026-03-01") is None  # the March due is paid: neither arrears nor credit


def test_one_lease_credit_never_offsets_another_lease_arrears(ledger):
    ledger.one_lease(start="2026-01-01", due_day=1, lease="L1")
    ledger.one_lease(start="2026-01-01", due_day=1, lease="L2")
    ledger.pay("L2", "2026-01-01", 150_000)
    site = reads.arrears_by_site(as_of="2026-01-10").iloc[0]
    assert site["arrears"] == 100_000 and site["late_leases"] == 1


@pytest.mark.parametrize(
    "as_of, buckets",
    [
        # dues 1 Jan, 1 Feb, 1 Mar ... unpaid; ages decide the bucket (<=30, 31-60, 61-90, >90)
        ("2026-03-02", (200_000, 100_000, 0, 0)),        # ages 1, 29, 60
        ("2026-03-03", (200_000, 0, 100_000, 0)),        # ages 2, 30, 61
        ("2026-03-31", (100_000, 100_000, 100_000, 0)),  # ages 30, 58, 89
        ("2026-04-01", (100_000, 200_000, 100_000, 0)),  # ages 0, 31, 59, 90
        ("2026-04-02", (100_000, 200_000, 0, 100_000)),  # ages 1, 32, 60, 91
    ],
)
def test_aging_bucket_boundaries(ledger, as_of, buckets):
    ledger.one_lease(start="2026-01-01", due_day=1)
    row = lease_row(as_of)
    assert (row["bucket_0_30"], row["bucket_31_60"], row["bucket_61_90"], row["bucket_90_plus"]) == buckets
    assert sum(buckets) == row["arrears"]


def test_collection_rate_may_exceed_one_and_is_null_without_dues(ledger):
    ledger.one_lease(start="2026-01-01", due_day=1, lease="L1", site="S1")
    ledger.pay("L1", "2026-01-02", 250_000)
    ledger.site("S2", "O1")
    ledger.unit("U-L2", "S2")
    ledger.tenant("T-L2")
    ledger.lease("L2", "U-L2", "T-L2", "2025-01-01", "2025-06-30", due_day=1)
    ledger.pay("L2", "2026-01-15", 100_000)   # a late settlement of an ended lease
    kpis = reads.site_kpis(date_from="2026-01-01", date_to="2026-01-31").set_index("site_ref")
    assert kpis.loc["S1", "collection_rate"] == pytest.approx(2.5)
    assert kpis.loc["S2", "due"] == 0 and kpis.loc["S2", "collected"] == 100_000
    assert math.isnan(kpis.loc["S2", "collection_rate"])
    assert math.isnan(kpis.loc["S2", "punctuality_rate"])


def test_on_time_compares_paid_with_cumulative_dues(ledger):
    ledger.one_lease(start="2026-01-01", due_day=5)
    ledger.pay("L1", "2026-01-05", 50_000)    # Jan: 50 000 < 100 000 -> late
    ledger.pay("L1", "2026-02-05", 150_000)   # Feb: 200 000 >= 200 000 -> on time
    # Mar: 200 000 < 300 000 -> late
    kpi = reads.site_kpis(date_from="2026-01-01", date_to="2026-03-31").iloc[0]
    assert (kpi["dues"], kpi["on_time_dues"]) == (3, 1)
    # A window that starts later still counts what was paid before it.
    kpi = reads.site_kpis(date_from="2026-02-01", date_to="2026-02-28").iloc[0]
    assert (kpi["dues"], kpi["on_time_dues"], kpi["collected"]) == (1, 1, 150_000)


def _monthly(ledger, lease, first, last, late=(), day=1):
    """Pay 100 000 on each due date from month `first` to `last` (YYYY-MM), on the 10th for `late` months."""
    y, m = map(int, first.split("-"))
    ly, lm = map(int, last.split("-"))
    while (y, m) <= (ly, lm):
        key = f"{y:04d}-{m:02d}"
        ledger.pay(lease, f"{key}-{10 if key in late else day:02d}", 100_000)
        m += 1
        if m == 13:
            y, m = y + 1, 1


def test_good_payer_badges(ledger):
    as_of = "2026-06-30"   # window (2025-06-30, 2026-06-30]
    ledger.one_lease(start="2025-01-01", lease="G", due_day=1)
    _monthly(ledger, "G", "2025-01", "2026-06")                                  # 12/12 -> gold
    ledger.one_lease(start="2025-09-01", lease="S", due_day=1)
    _monthly(ledger, "S", "2025-09", "2026-06", late={"2025-11"})                # 9/10 -> silver
    ledger.one_lease(start="2025-11-01", lease="B", due_day=1)
    _monthly(ledger, "B", "2025-11", "2026-06", late={"2025-12", "2026-02"})     # 6/8 -> bronze
    ledger.one_lease(start="2025-11-01", lease="N", due_day=1)
    _monthly(ledger, "N", "2025-11", "2026-06", late={"2025-12", "2026-02", "2026-04"})  # 5/8: no badge
    ledger.one_lease(start="2026-02-01", lease="F", due_day=1)
    _monthly(ledger, "F", "2026-02", "2026-06")                                  # 5 dues: too few
    ledger.one_lease(start="2025-01-01", lease="A", due_day=1)
    _monthly(ledger, "A", "2025-01", "2026-05")                                  # June unpaid: arrears
    payers = reads.good_payers(as_of=as_of).set_index("tenant_ref")
    assert payers["badge"].to_dict() == {"T-G": "gold", "T-S": "silver", "T-B": "bronze"}
    assert payers.loc["T-G", "dues"] == 12 and payers.loc["T-G", "ratio"] == 1.0
    assert payers.loc["T-S", "ratio"] == pytest.approx(0.9)
    assert payers.loc["T-B", "ratio"] == pytest.approx(0.75)


def test_good_payer_with_an_owner_counts_only_that_owner_leases(ledger):
    ledger.one_lease(start="2025-01-01", lease="G1", due_day=1, owner="O1", site="S1")
    _monthly(ledger, "G1", "2025-01", "2026-06")
    ledger.owner("O2")
    ledger.site("S2", "O2")
    ledger.unit("U-X", "S2")
    ledger.lease("X", "U-X", "T-G1", "2026-01-01", due_day=1)   # same tenant, O2's site, never paid
    assert "T-G1" not in set(reads.good_payers(as_of="2026-06-30")["tenant_ref"])
    scoped = reads.good_payers(as_of="2026-06-30", owner_ref="O1")
    assert list(scoped["tenant_ref"]) == ["T-G1"] and list(scoped["owner_ref"]) == ["O1"]
    assert reads.good_payers(as_of="2026-06-30", owner_ref="O2").empty


def test_promise_statuses(ledger):
    ledger.one_lease(start="2026-01-01", due_day=1)
    ledger.promise("KEPT", "L1", "2026-03-01T10:00:00+00:00", "2026-03-10", 100_000)
    ledger.pay("L1", "2026-03-05", 150_000)                      # in [1 Mar, 10 Mar]: kept, not capped
    ledger.promise("PARTIAL", "L1", "2026-04-01T09:00:00+00:00", "2026-04-10", 100_000)
    ledger.pay("L1", "2026-04-01", 40_000)                       # on the day it was made: counts
    ledger.promise("BROKEN", "L1", "2026-05-01T09:00:00+00:00", "2026-05-10", 100_000)
    ledger.pay("L1", "2026-05-15", 100_000)                      # after its due date: does not count
    ledger.promise("PENDING", "L1", "2026-05-18T09:00:00+00:00", "2026-05-25", 100_000)
    ledger.promise("LATER", "L1", "2026-05-25T09:00:00+00:00", "2026-05-30", 100_000)
    table = reads.promises(as_of="2026-05-20").set_index("promise_ref")
    assert table["status"].to_dict() == {"KEPT": "kept", "PARTIAL": "partial", "BROKEN": "broken", "PENDING": "pending"}
    assert table["paid"].to_dict() == {"KEPT": 150_000, "PARTIAL": 40_000, "BROKEN": 0, "PENDING": 0}
    # The pending promise is kept once a payment comes before its date.
    ledger.pay("L1", "2026-05-25", 100_000)
    assert reads.promises(as_of="2026-05-30").set_index("promise_ref").loc["PENDING", "status"] == "kept"
    # Before its due date, an unpaid promise is pending even if it will break.
    assert reads.promises(as_of="2026-05-05").set_index("promise_ref").loc["BROKEN", "status"] == "pending"


def test_portfolio_summary_counts_active_leases_and_the_month_to_date(ledger):
    ledger.one_lease(start="2026-01-01", due_day=5, lease="L1")
    ledger.unit("U2", "S1")
    ledger.tenant("T2")
    ledger.lease("L2", "U2", "T2", "2025-01-01", "2025-12-31", due_day=5)
    ledger.unit("U3", "S1")                                     # vacant
    ledger.pay("L1", "2026-03-02", 100_000)
    ledger.pay("L1", "2026-02-28", 100_000)                     # last month: not in the month
    row = reads.portfolio_summary(as_of="2026-03-10").iloc[0]
    assert (row["sites"], row["units"], row["occupied_units"], row["tenants"]) == (1, 3, 1, 1)
    assert row["month_start"] == d("2026-03-01")
    # The 5 March due is late: 200 000 paid by then against 300 000 of cumulative dues.
    assert (row["due"], row["collected"], row["dues"], row["on_time_dues"]) == (100_000, 100_000, 1, 0)
    assert row["collection_rate"] == pytest.approx(1.0)
    # L1: 3 dues, 200 000 paid -> 100 000; L2: 12 dues, nothing paid -> 1 200 000.
    assert (row["arrears"], row["late_leases"]) == (1_300_000, 2)


def test_owner_scope_and_unknown_owner(ledger):
    ledger.one_lease(start="2026-01-01", lease="L1", owner="O1", site="S1")
    ledger.one_lease(start="2026-01-01", lease="L2", owner="O2", site="S2")
    for read in (reads.arrears_by_lease, reads.arrears_by_site, reads.promises, reads.good_payers,
                 reads.portfolio_summary):
        frame = read(as_of="2026-03-10", owner_ref="O1")
        assert set(frame["owner_ref"]) <= {"O1"}, read.__name__
        with pytest.raises(InvalidParameter, match="Propriétaire inconnu : NOPE"):
            read(as_of="2026-03-10", owner_ref="NOPE")
    assert list(reads.arrears_by_site(as_of="2026-03-10", owner_ref="O2")["site_ref"]) == ["S2"]
    assert list(reads.site_kpis(date_from="2026-01-01", date_to="2026-03-10", owner_ref="O2")["site_ref"]) == ["S2"]
    assert reads.portfolio_summary(as_of="2026-03-10", owner_ref="O1").iloc[0]["arrears"] == 300_000
    assert reads.portfolio_summary(as_of="2026-03-10").iloc[0]["arrears"] == 600_000


def test_lease_payment_totals_follow_every_kind_of_write(ledger):
    ledger.one_lease(start="2026-01-01")
    ledger.pay("L1", "2026-01-05", 100_000, ref="A")
    ledger.pay("L1", "2026-02-05", 70_000, ref="B")
    engine = ledger.rt.engine

    def totals():
        with engine.connect() as conn:
            drift = conn.execute(sa.text("SELECT count(*) FROM lease_payment_totals_drift")).scalar()
            total = conn.execute(sa.text("SELECT paid_total FROM lease_payment_totals")).scalar()
        return drift, total

    assert totals() == (0, 170_000)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE payments SET amount = 90000 WHERE payment_ref = 'B'"))
    assert totals() == (0, 190_000)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM payments WHERE payment_ref = 'A'"))
    assert totals() == (0, 90_000)
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE payments"))
    assert totals() == (0, None)


def test_reads_refuse_a_reversed_period(fresh_db):
    with pytest.raises(InvalidParameter, match="after date_to"):
        reads.site_kpis(date_from="2026-02-01", date_to="2026-01-01")


def drift(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM lease_dues_drift")).scalar()


def test_stored_dues_follow_every_write(ledger):
    engine = ledger.rt.engine
    ledger.one_lease(start="2026-01-01", due_day=31, lease="L1")
    ledger.one_lease(start="2025-11-15", end="2026-04-10", due_day=15, lease="L2")
    ledger.pay("L1", "2026-01-31", 100_000, ref="A")
    ledger.pay("L1", "2026-03-02", 150_000, ref="B")
    ledger.pay("L2", "2025-10-01", 300_000, ref="C")
    assert drift(engine) == 0
    for sql in (
        "UPDATE payments SET paid_at = '2026-01-15' WHERE payment_ref = 'B'",
        "UPDATE payments SET amount = 50000, lease_id = (SELECT id FROM leases WHERE lease_ref = 'L2') "
        "WHERE payment_ref = 'A'",
        "DELETE FROM payments WHERE payment_ref = 'C'",
        "UPDATE leases SET due_day = 1, monthly_rent = 120000 WHERE lease_ref = 'L1'",
        "UPDATE leases SET end_date = NULL WHERE lease_ref = 'L2'",
        "UPDATE leases SET start_date = '2026-02-01' WHERE lease_ref = 'L1'",
        "TRUNCATE payments",
    ):
        with engine.begin() as conn:
            conn.execute(sa.text(sql))
        assert drift(engine) == 0, sql


def test_reads_past_the_dues_horizon_extend_it(ledger):
    ledger.one_lease(start="2026-01-01", due_day=1)
    with ledger.rt.engine.connect() as conn:
        horizon = conn.execute(sa.text("SELECT until_mi FROM dues_horizon")).scalar()
    far = d(f"{horizon // 12 + 1}-06-30")   # past the stored horizon (reads accept up to two years ahead)
    kpi = reads.site_kpis(date_from=far.replace(month=1, day=1), date_to=far).iloc[0]
    assert kpi["dues"] == 6 and kpi["on_time_dues"] == 0
    assert drift(ledger.rt.engine) == 0


def test_moving_a_unit_or_a_site_moves_its_leases(ledger):
    ledger.one_lease(start="2026-01-01", lease="L1", owner="O1", site="S1")
    ledger.owner("O2")
    ledger.site("S2", "O2")
    engine = ledger.rt.engine
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE units SET site_id = (SELECT id FROM sites WHERE site_ref = 'S2')"))
    ledger.rt.memo.bump(["units"])
    assert list(reads.arrears_by_lease(as_of="2026-03-10")[["site_ref", "owner_ref"]].iloc[0]) == ["S2", "O2"]
    assert reads.arrears_by_site(as_of="2026-03-10", owner_ref="O2").iloc[0]["arrears"] == 300_000
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE sites SET owner_id = (SELECT id FROM owners WHERE owner_ref = 'O1') "
                             "WHERE site_ref = 'S2'"))
    ledger.rt.memo.bump(["sites"])
    assert reads.arrears_by_lease(as_of="2026-03-10", owner_ref="O1").iloc[0]["site_ref"] == "S2"
    assert reads.arrears_by_lease(as_of="2026-03-10", owner_ref="O2").empty
