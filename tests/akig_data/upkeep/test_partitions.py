"""Monthly partitions (sql/015 agent_positions, sql/016 payments): rows land in their month, a row with no
month yet waits in the DEFAULT partition and the daily task moves it, nothing is lost, the money totals do
not move, and a payment's ref, client id and receipt number stay unique across months."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from akig_data.upkeep import partitions
from akig_data.writes.importer import import_path
from tests.akig_data.writes.test_importer import FILES, write_folder
from tests.conftest import SMALL_UNTIL
from akig_data.testing.ledger import Ledger


def where(conn, table: str) -> dict[str, int]:
    return dict(conn.execute(sa.text(f"SELECT tableoid::regclass::text, count(*) FROM {table} GROUP BY 1")).all())


def drifts(conn) -> tuple[int, int]:
    return (conn.execute(sa.text("SELECT count(*) FROM lease_payment_totals_drift")).scalar(),
            conn.execute(sa.text("SELECT count(*) FROM lease_dues_drift")).scalar())


def test_seeded_rows_go_straight_into_their_months(seeded):
    with seeded.engine.connect() as conn:
        positions, payments = where(conn, "agent_positions"), where(conn, "payments")
        keys = conn.execute(sa.text("SELECT count(*) FROM payment_keys")).scalar()
        months = set(conn.execute(sa.text(
            "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'payments'::regclass")).scalars())
    assert "agent_positions_default" not in positions and "payments_default" not in payments
    assert f"payments_{SMALL_UNTIL:%Y_%m}" in payments and f"agent_positions_{SMALL_UNTIL:%Y_%m}" in positions
    assert len(payments) >= 12 and keys == sum(payments.values())
    coming = (dt.date.today().replace(day=1) + dt.timedelta(days=40)).strftime("%Y_%m")
    assert f"payments_{coming}" in months


def test_old_rows_wait_in_the_default_partition_then_find_their_month(seeded):
    """An import of history older than any partition: the rows are stored at once (DEFAULT partition), and
    the daily task moves them into their month without changing a total."""
    engine = seeded.engine
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO payments (payment_ref, lease_id, paid_at, amount, method) "
            "SELECT 'OLD-1', min(id), '2019-03-05 10:00+00', 250000, 'cash' FROM leases"))
        conn.execute(sa.text(
            "INSERT INTO agent_positions (agent_id, t, lat, lon) "
            "SELECT min(id), '2019-03-05 10:00+00', 9.5, -13.7 FROM agents"))
        before = where(conn, "payments"), where(conn, "agent_positions")
        total = conn.execute(sa.text("SELECT sum(paid_total) FROM lease_payment_totals")).scalar()
    assert before[0]["payments_default"] == 1 and before[1]["agent_positions_default"] == 1

    created = partitions.ensure()
    assert created["payments"] >= 1 and created["agent_positions"] >= 1
    with engine.connect() as conn:
        after = where(conn, "payments"), where(conn, "agent_positions")
        assert conn.execute(sa.text("SELECT sum(paid_total) FROM lease_payment_totals")).scalar() == total
        assert drifts(conn) == (0, 0)
        assert conn.execute(sa.text("SELECT count(*) FROM payment_keys WHERE payment_ref = 'OLD-1'")).scalar() == 1
    assert after[0]["payments_2019_03"] == 1 and after[1]["agent_positions_2019_03"] == 1
    assert "payments_default" not in after[0] and "agent_positions_default" not in after[1]
    assert sum(after[0].values()) == sum(before[0].values())
    assert sum(after[1].values()) == sum(before[1].values())
    assert partitions.ensure() == {"agent_positions": 0, "payments": 0}   # nothing more to do


@pytest.fixture()
def ledger(fresh_db):
    book = Ledger(fresh_db)
    book.owner()
    book.site()
    book.unit("U1")
    book.tenant("T1")
    book.lease("L1", "U1", "T1", start="2026-01-01")
    with fresh_db.engine.begin() as conn:
        partitions.ensure_on(conn, since=dt.date(2026, 1, 1))
    return book


@pytest.mark.parametrize("column, first, second", [
    ("payment_ref", "('A', NULL, NULL)", "('A', NULL, NULL)"),
    ("client_id", "('A', 'phone-1', NULL)", "('B', 'phone-1', NULL)"),
    ("receipt_no", "('A', NULL, 'REC-1')", "('B', NULL, 'REC-1')"),
])
def test_a_payments_keys_stay_unique_across_months(ledger, column, first, second):
    """January and March are different partitions: the second payment is still refused, and the first
    stays as it was."""
    insert = ("INSERT INTO payments (payment_ref, client_id, receipt_no, lease_id, paid_at, amount, method) "
              "SELECT k.*, l.id, CAST(:at AS timestamptz), 100000, 'cash' FROM (VALUES {}) k, leases l")
    engine = ledger.rt.engine
    with engine.begin() as conn:
        conn.execute(sa.text(insert.format(first)), {"at": "2026-01-10 09:00+00"})
    with pytest.raises(sa.exc.IntegrityError, match=f"payment_keys_{'pkey' if column == 'payment_ref' else column + '_key'}"):
        with engine.begin() as conn:
            conn.execute(sa.text(insert.format(second)), {"at": "2026-03-10 09:00+00"})
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*), sum(amount) FROM payments")).one() == (1, 100000)
        assert conn.execute(sa.text("SELECT paid_total FROM lease_payment_totals")).scalar() == 100000


def test_payment_keys_follow_updates_deletes_and_truncate(ledger):
    engine = ledger.rt.engine
    ledger.pay("L1", "2026-01-10", 100_000, ref="A")
    ledger.pay("L1", "2026-03-10", 100_000, ref="B")

    def keys() -> list[str]:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT payment_ref FROM payment_keys ORDER BY 1")).scalars())

    with pytest.raises(sa.exc.IntegrityError):      # renaming B to A: A is taken
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE payments SET payment_ref = 'A' WHERE payment_ref = 'B'"))
    with engine.begin() as conn:                    # a change of month moves the row, keys unchanged
        conn.execute(sa.text("UPDATE payments SET paid_at = '2026-02-20 10:00+00' WHERE payment_ref = 'B'"))
        conn.execute(sa.text("UPDATE payments SET payment_ref = 'C' WHERE payment_ref = 'A'"))
        assert where(conn, "payments") == {"payments_2026_02": 1, "payments_2026_01": 1}
        assert drifts(conn) == (0, 0)
    assert keys() == ["B", "C"]
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM payments WHERE payment_ref = 'C'"))
    assert keys() == ["B"]
    ledger.pay("L1", "2026-04-10", 50_000, ref="C")   # a deleted ref may be used again
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE payments"))
    assert keys() == []


def test_an_import_that_changes_a_payments_month_moves_it(fresh_db, tmp_path):
    import_path(write_folder(tmp_path / "a"))
    moved = FILES["payments"].replace("P2,L1,2026-02-06T10:15:00+00:00,1500000,cash",
                                      "P2,L1,2026-03-02T10:15:00+00:00,1500000,cash")
    report = import_path(write_folder(tmp_path / "b", payments=moved))
    payments = next(r for r in report.results if r.table == "payments")
    assert (payments.inserted, payments.updated, payments.unchanged) == (0, 1, 2)
    with fresh_db.engine.connect() as conn:
        month = conn.execute(sa.text("SELECT tableoid::regclass::text FROM payments WHERE payment_ref = 'P2'")).scalar()
        assert month == "payments_2026_03" and drifts(conn) == (0, 0)
        assert conn.execute(sa.text("SELECT count(*) FROM payment_keys")).scalar() == 3


def test_the_read_roles_cannot_open_a_partition_or_the_keys(seeded):
    """Reads go through the parent table, its grants and its row security; a partition read directly
    would bypass an owner's row security."""
    with seeded.engine.connect() as conn:
        for role in ("akig_read_owner", "akig_read_all"):
            for table in ("payment_keys", f"payments_{SMALL_UNTIL:%Y_%m}", "payments_default"):
                assert not conn.execute(sa.text("SELECT has_table_privilege(:r, :t, 'SELECT')"),
                                        {"r": role, "t": table}).scalar(), (role, table)
            assert conn.execute(sa.text("SELECT has_table_privilege(:r, 'payments', 'SELECT')"),
                                {"r": role}).scalar()
