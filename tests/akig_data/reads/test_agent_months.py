"""agent_months (sql/057): a finished month's figures per agent, stored. The ranking of the stored month
answers from them exactly what it computes without them, whatever the weights; a write dated on or before
the month's last day (or in the week before it, for the attribution of its payments), to leases or to
agents drops it, one dated after it does not; an owner's reader never sees them; a store waits for a write
under way."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa

from akig_data import clock, reads
from akig_data.errors import InvalidParameter
from akig_data.upkeep import agent_months

MONTH, LAST_DAY = dt.date(2026, 5, 1), dt.date(2026, 5, 31)
RANKING = "SELECT * FROM agent_ranking(:f, :t, :w1, :w2, :w3, :a)"


def ranking(engine, stored: bool, weights=(60, 25, 15), agent_ref=None, owner: str | None = None) -> list:
    """The ranking of MONTH from the stored month, or computed (the stored months deleted in a transaction
    rolled back); as an owner's reader when `owner` is given."""
    with engine.connect() as conn, conn.begin() as tx:
        if not stored:
            conn.execute(sa.text("DELETE FROM agent_months"))
        if owner is not None:
            conn.execute(sa.text("SELECT set_config('akig.owner_ref', :o, true), "
                                 "set_config('role', 'akig_read_owner', true)"), {"o": owner})
        rows = conn.execute(sa.text(RANKING), {"f": MONTH, "t": LAST_DAY, "w1": weights[0], "w2": weights[1],
                                               "w3": weights[2], "a": agent_ref}).all()
        tx.rollback()
    return rows


def stored(engine) -> list[dt.date]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT month FROM agent_months ORDER BY month")).scalars())


def run(engine, sql: str) -> int:
    with engine.begin() as conn:
        return conn.execute(sa.text(sql)).rowcount


def test_the_stored_month_answers_what_it_computes(seeded):
    engine = seeded.engine
    computed = ranking(engine, stored=True)            # nothing stored yet: computed
    assert agent_months.store(MONTH).agents == len(computed) > 0
    assert stored(engine) == [MONTH]
    assert ranking(engine, stored=True) == computed
    assert sum(r.collected for r in computed) > 0 and sum(r.calls for r in computed) > 0
    for weights in ((1, 0, 0), (0, 1, 0), (33.3, 33.3, 33.4), (0, 0, 0)):
        assert ranking(engine, stored=True, weights=weights) == ranking(engine, stored=False, weights=weights)
    # the answer comes from the stored rows: one altered by hand shows, for the whole month only
    run(engine, "UPDATE agent_month_parts SET collected = collected + 1 WHERE agent_ref = "
                "(SELECT min(agent_ref) FROM agent_month_parts)")
    assert ranking(engine, stored=True) != computed
    window = {"f": MONTH, "t": dt.date(2026, 5, 30), "w1": 60, "w2": 25, "w3": 15, "a": None}
    with engine.connect() as conn, conn.begin() as tx:   # another window computes
        part = conn.execute(sa.text(RANKING), window).all()
        conn.execute(sa.text("DELETE FROM agent_months"))
        assert part == conn.execute(sa.text(RANKING), window).all()
        tx.rollback()
    # one agent, and an owner's reader, compute
    agent = computed[0].agent_ref
    assert ranking(engine, stored=True, agent_ref=agent) == ranking(engine, stored=False, agent_ref=agent)
    owner = ranking(engine, stored=True, owner="OWN-0001")
    assert owner == ranking(engine, stored=False, owner="OWN-0001") and owner != ranking(engine, stored=False)
    # the read, through the data layer
    agent_months.store(MONTH)
    seeded.memo.bump(["payments"])
    board = reads.leaderboard_month(month=dt.date(2026, 5, 17))
    expected = ranking(engine, stored=False, weights=seeded.settings.score_weights)
    assert board["agent_ref"].tolist() == [r.agent_ref for r in expected]
    assert board["score"].tolist() == [r.score for r in expected]


@pytest.mark.parametrize("sql, kept", [
    # dated after the month: kept
    ("INSERT INTO payments (payment_ref, lease_id, paid_at, amount, method) "
     "SELECT 'AFTER', min(id), '2026-06-02T10:00:00+00:00', 1000, 'cash' FROM leases", True),
    ("UPDATE calls SET outcome = outcome WHERE id = (SELECT min(id) FROM calls WHERE called_at >= '2026-06-10')",
     True),
    # dated in it, or in the week before it (the contacts its payments are attributed to): dropped
    ("INSERT INTO payments (payment_ref, lease_id, paid_at, amount, method) "
     "SELECT 'IN', min(id), '2026-05-20T10:00:00+00:00', 1000, 'cash' FROM leases", False),
    ("UPDATE calls SET outcome = outcome WHERE id = (SELECT min(id) FROM calls "
     "WHERE called_at >= '2026-04-25' AND called_at < '2026-05-01')", False),
    ("UPDATE visits SET outcome = outcome WHERE id = (SELECT min(id) FROM visits "
     "WHERE visited_at >= '2026-05-01' AND visited_at < '2026-06-01')", False),
    ("UPDATE promises SET amount = amount WHERE due_date = (SELECT min(due_date) FROM promises "
     "WHERE due_date >= '2026-05-25')", False),
    ("DELETE FROM payments WHERE payment_ref = (SELECT min(payment_ref) FROM payments "
     "WHERE paid_on = '2026-05-12')", False),
    # the leases (the tenants payments are attributed through) and the agents: dropped
    ("UPDATE leases SET monthly_rent = monthly_rent WHERE id = (SELECT min(id) FROM leases)", False),
    ("UPDATE agents SET zone = zone WHERE agent_ref = 'AGT-001'", False),
    ("TRUNCATE calls", False),
])
def test_a_write_drops_the_month_when_it_may_change_it(seeded, sql, kept):
    agent_months.store(MONTH)
    assert run(seeded.engine, sql) != 0          # the statement wrote rows
    assert stored(seeded.engine) == ([MONTH] if kept else [])
    if kept:   # still what it computes
        assert ranking(seeded.engine, stored=True) == ranking(seeded.engine, stored=False)


def test_the_store_waits_for_a_write_under_way_and_refuses_a_month_not_over(seeded):
    engine = seeded.engine
    agent_months.store(MONTH)
    errors = []

    def store():
        try:
            agent_months.store(MONTH)
        except Exception as exc:   # noqa: BLE001 - handed to the test
            errors.append(exc)

    with engine.connect() as conn:
        with conn.begin():
            conn.execute(sa.text("INSERT INTO payments (payment_ref, lease_id, paid_at, amount, method, agent_id) "
                                 "SELECT 'LATE', min(l.id), '2026-05-20T10:00:00+00:00', 777000, 'cash', min(a.id) "
                                 "FROM leases l, agents a"))
            thread = threading.Thread(target=store)
            thread.start()
            time.sleep(0.5)
            assert thread.is_alive()      # waiting for the payment's transaction
        thread.join(10)
    assert not thread.is_alive() and not errors, errors
    assert stored(engine) == [MONTH]
    assert ranking(engine, stored=True) == ranking(engine, stored=False)
    assert 777000 <= sum(r.collected_recorded for r in ranking(engine, stored=True))
    with pytest.raises(InvalidParameter, match="not over"):
        agent_months.store(clock.today())
    # the scheduled task: last month, once
    assert agent_months.store_due() is not None and agent_months.store_due() is None
