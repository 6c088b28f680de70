"""Agent performance, attribution and score on a hand-worked day; leaderboards; score weights."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from akig_data import reads
from akig_data.writes.importer import import_path
from akig_data.config import _weights
from tests.akig_data.writes.test_importer import write_folder

D = dt.date(2026, 3, 10)


@pytest.fixture()
def day(fresh_db, tmp_path):
    """Two agents' day D (see the expected numbers in the test)."""
    import_path(write_folder(tmp_path / "data"))
    with fresh_db.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO agents (agent_ref, full_name, zone) VALUES ('A2', 'Mariama Sow', 'Kaloum')"))
        ids = dict(conn.execute(sa.text("SELECT agent_ref, id FROM agents")).all())
        leases = dict(conn.execute(sa.text("SELECT lease_ref, id FROM leases")).all())
        a1, a2, l1, l2 = ids["A1"], ids["A2"], leases["L1"], leases["L2"]
        conn.execute(sa.text("""
            INSERT INTO missions (mission_ref, day, agent_id, lease_id, kind, reason, arrears, chance, priority, status)
            VALUES ('M1', :d, :a1, :l1, 'visit', 'arrears', 1500000, 0.5, 750000, 'done'),
                   ('M2', :d, :a1, :l2, 'call', 'arrears', 2000000, 0.5, 1000000, 'planned'),
                   ('M3', :d, :a2, :l2, 'visit', 'arrears', 2000000, 0.5, 1000000, 'done')"""),
            {"d": D, "a1": a1, "a2": a2, "l1": l1, "l2": l2})
        conn.execute(sa.text("""
            INSERT INTO calls (call_ref, lease_id, agent_id, called_at, outcome) VALUES
                ('C1', :l1, :a1, '2026-03-10T09:00:00+00:00', 'reached'),
                ('C2', :l2, :a1, '2026-03-10T11:00:00+00:00', 'no_answer')"""), {"l1": l1, "l2": l2, "a1": a1})
        conn.execute(sa.text("""
            INSERT INTO visits (visit_ref, lease_id, agent_id, visited_at, outcome, lat, lon, distance_m, proof)
            VALUES ('V1', :l2, :a2, '2026-03-10T10:00:00+00:00', 'promise', 9.5155, -13.7125, 20, true)"""),
            {"l2": l2, "a2": a2})
        conn.execute(sa.text("""
            INSERT INTO payments (payment_ref, lease_id, paid_at, amount, method, agent_id) VALUES
                ('PA', :l1, '2026-03-10T15:00:00+00:00', 500000, 'cash', NULL),   -- A1 reached T1 at 09:00
                ('PB', :l2, '2026-03-10T16:00:00+00:00', 300000, 'cash', :a1),    -- recorded by A1
                ('PD', :l2, '2026-03-10T17:00:00+00:00', 200000, 'cash', NULL),   -- A2's visit (A1's no_answer does not count)
                ('PX', :l2, '2026-03-12T09:00:00+00:00', 999000, 'cash', NULL)    -- outside the window"""),
            {"l1": l1, "l2": l2, "a1": a1})
        conn.execute(sa.text("""
            INSERT INTO promises (promise_ref, lease_id, agent_id, created_at, due_date, amount) VALUES
                ('PRX2', :l2, :a2, '2026-03-05T10:00:00+00:00', '2026-03-10', 200000),  -- due on D, kept
                ('PRX1', :l1, :a1, '2026-03-10T09:05:00+00:00', '2026-03-13', 100000)   -- obtained on D"""),
            {"l1": l1, "l2": l2, "a1": a1, "a2": a2})
    fresh_db.memo.bump(["missions", "calls", "visits", "payments", "promises"])
    return fresh_db


def test_a_hand_worked_day(day):
    perf = reads.agent_performance(date_from=D, date_to=D).set_index("agent_ref")
    a1, a2 = perf.loc["A1"], perf.loc["A2"]
    assert (a1["missions_planned"], a1["missions_done"], a1["calls"], a1["visits"], a1["right_party_contacts"]) == (2, 1, 2, 0, 1)
    # PR1 (from the import: 1,500,000 due on D) got only 500,000: not kept
    assert (a1["promises"], a1["promised"], a1["promises_due"], a1["promises_kept"]) == (1, 100_000, 1, 0)
    assert (a1["collected"], a1["collected_recorded"], a1["assigned_arrears"]) == (800_000, 300_000, 3_500_000)
    assert a1["recovery_rate"] == pytest.approx(800_000 / 3_500_000) and a1["completion_rate"] == 0.5
    assert a1["kept_rate"] == 0.0
    assert a1["score"] == pytest.approx(round(60 * 800_000 / 3_500_000 + 20 * 0.5, 1))  # 23.7
    assert (a2["visits"], a2["visits_with_proof"], a2["promises_due"], a2["promises_kept"], a2["kept_amount"]) == (1, 1, 1, 1, 200_000)
    assert (a2["collected"], a2["assigned_arrears"]) == (200_000, 2_000_000)
    assert a2["score"] == pytest.approx(60 * 0.1 + 20 + 20)  # 46.0


def test_the_leaderboards_rank_by_score(day):
    board = reads.leaderboard(day=D)
    assert list(board["agent_ref"][:2]) == ["A2", "A1"] and list(board["rank"][:2]) == [1, 2]
    month = reads.leaderboard_month(month=D)
    assert month["rank"].tolist() == list(range(1, len(month) + 1))
    assert month.set_index("agent_ref").loc["A1", "collected"] == 800_000 + 0  # PX has no contact within 7 days


def test_a_payment_counts_for_the_latest_successful_contact_within_seven_days(day):
    with day.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO payments (payment_ref, lease_id, paid_at, amount, method) "
                             "SELECT 'PLATE', id, '2026-03-18T12:00:00+00:00', 400000, 'cash' FROM leases WHERE lease_ref = 'L1'"))
    day.memo.bump(["payments"])
    late = reads.agent_performance(date_from=dt.date(2026, 3, 18), date_to=dt.date(2026, 3, 18)).set_index("agent_ref")
    assert late["collected"].sum() == 0  # 8 days after A1's call: nobody's


def test_weights_come_from_settings(day):
    from akig_data import runtime
    from dataclasses import replace

    rt = runtime.get_runtime()
    runtime.configure(replace(rt.settings, score_weights=(0.0, 0.0, 100.0)))
    perf = reads.agent_performance(date_from=D, date_to=D).set_index("agent_ref")
    assert perf.loc["A1", "score"] == 50.0 and perf.loc["A2", "score"] == 100.0
    assert _weights("1,2,3") == (1.0, 2.0, 3.0)
    for bad in ("1,2", "a,b,c", "-1,2,3", "0,0,0"):
        with pytest.raises(ValueError):
            _weights(bad)


def test_bad_windows_are_refused(day):
    from akig_data.errors import InvalidParameter

    with pytest.raises(InvalidParameter, match="before"):
        reads.agent_performance(date_from=D, date_to=D - dt.timedelta(days=1))
    with pytest.raises(InvalidParameter, match="at most one year"):
        reads.agent_performance(date_from=D - dt.timedelta(days=400), date_to=D)


def _alone_equals_his_row(date_from: dt.date, date_to: dt.date) -> int:
    """Every agent's figures read for him alone equal his row of the whole team's; the number of agents."""
    import pandas as pd

    team = reads.agent_performance(date_from=date_from, date_to=date_to).set_index("agent_ref")
    for ref in team.index:
        alone = reads.agent_performance(date_from=date_from, date_to=date_to, agent_ref=ref).set_index("agent_ref")
        pd.testing.assert_frame_equal(alone, team.loc[[ref]])
    return len(team)


def test_one_agent_alone_equals_his_row_of_the_team(day):
    assert _alone_equals_his_row(D, D) == 2
    # A1 reaches L2's tenant after A2's visit and before PD: PD becomes his, and A2 alone loses it too
    with day.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO calls (call_ref, lease_id, agent_id, called_at, outcome) "
                             "SELECT 'C3', l.id, a.id, '2026-03-10T16:30:00+00:00', 'reached' "
                             "FROM leases l, agents a WHERE l.lease_ref = 'L2' AND a.agent_ref = 'A1'"))
    day.memo.bump(["calls"])
    assert _alone_equals_his_row(D, D) == 2
    a2 = reads.agent_performance(date_from=D, date_to=D, agent_ref="A2").set_index("agent_ref").loc["A2"]
    assert a2["collected"] == 0
    a1 = reads.agent_performance(date_from=D, date_to=D, agent_ref="A1").set_index("agent_ref").loc["A1"]
    assert a1["collected"] == 800_000 + 200_000
    assert reads.agent_performance(date_from=D, date_to=D, agent_ref="NOBODY").empty


def test_one_agent_alone_equals_his_row_on_the_demo_data(small_data):
    assert _alone_equals_his_row(dt.date(2026, 6, 1), dt.date(2026, 6, 30)) >= 5
    assert _alone_equals_his_row(dt.date(2026, 6, 15), dt.date(2026, 6, 15)) >= 5
