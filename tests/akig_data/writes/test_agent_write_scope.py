"""An agent writes (calls, visits, promises, payments) on the leases of his missions only, exactly as he
reads the cards of their tenants: today's missions, tomorrow's and those of the last AKIG_AGENT_LEASE_DAYS
days (7 by default). Any other lease is answered like a lease that does not exist. A client id makes a
retry idempotent for its author only: another user reusing it never gets the first write back.
Admins and managers write on any lease."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa

from akig_data.writes import collection
from akig_data import reads, runtime
from akig_data.errors import InvalidParameter
from akig_data.access.scope import Principal, acting_as
from akig_data.config import Settings
from tests.conftest import SMALL_UNTIL, give_mission

AGENT = Principal("fode", "agent", agent_ref="AGT-001")
OTHER_AGENT = Principal("mariama", "agent", agent_ref="AGT-002")
MANAGER = Principal("awa", "manager")
TODAY = dt.datetime.now(collection.TZ).date()
TODAY_FOLLOWS_THE_CLOCK = True   # tests/conftest.py sets TODAY again before each test


@pytest.fixture()
def leases(seeded):
    """Four leases of four different tenants: AGT-001's mission of yesterday, AGT-001's mission of 3 days
    ago, AGT-002's mission of today, and one without any mission."""
    frame = reads.arrears_by_lease(as_of=SMALL_UNTIL).sort_values("arrears", ascending=False)
    frame = frame.drop_duplicates("tenant_ref")
    mine, older, theirs, none = frame.iloc[:4].itertuples()
    give_mission(seeded, "AGT-001", mine.lease_ref, TODAY - dt.timedelta(days=1))
    give_mission(seeded, "AGT-001", older.lease_ref, TODAY - dt.timedelta(days=3))
    give_mission(seeded, "AGT-002", theirs.lease_ref, TODAY)
    return mine, older, theirs, none


def counts(rt) -> dict[str, int]:
    with rt.engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
                for t in ("calls", "visits", "promises", "payments", "audit_log")}


def every_write(lease_ref: str, who: Principal, client_id: str | None = None) -> list:
    """The four writes an agent can make, each on `lease_ref`."""
    return [
        lambda: collection.record_call(lease_ref, "reached", note="rappeler", who=who, client_id=client_id),
        lambda: collection.record_visit(lease_ref, "reached", lat=9.55, lon=-13.65, who=who, client_id=client_id),
        lambda: collection.record_promise(lease_ref, 100_000, TODAY + dt.timedelta(days=2), who=who,
                                          client_id=client_id),
        lambda: collection.record_payment(lease_ref, 100_000, "cash", who=who, client_id=client_id),
    ]


def refusal(write) -> str:
    with pytest.raises(InvalidParameter) as err:
        write()
    return str(err.value)


def test_an_agent_writes_on_the_leases_of_his_missions(seeded, leases):
    mine, older, _, _ = leases
    for lease in (mine, older):
        for write in every_write(lease.lease_ref, AGENT):
            assert not write().duplicate


def test_another_lease_is_refused_like_an_unknown_one_and_nothing_is_written(seeded, leases):
    _, _, theirs, none = leases
    before = counts(seeded)
    for lease_ref in (theirs.lease_ref, none.lease_ref):   # another agent's mission's lease, and no mission
        for write, unknown in zip(every_write(lease_ref, AGENT), every_write("BAIL-NOPE", AGENT)):
            message = refusal(write)
            assert message.replace(lease_ref, "?") == refusal(unknown).replace("BAIL-NOPE", "?")
            assert message.startswith("Bail inconnu")
    assert counts(seeded) == before


def test_admins_and_managers_write_on_any_lease(seeded, leases):
    _, _, theirs, none = leases
    for who in (MANAGER, Principal("root", "admin")):
        for lease in (theirs, none):
            assert collection.record_call(lease.lease_ref, "reached", agent_ref="AGT-001", who=who).kind == "call"
            assert collection.record_payment(lease.lease_ref, 10_000, "cash", who=who).kind == "payment"


def test_the_window_is_one_setting_for_his_reads_and_his_writes(seeded, leases, monkeypatch):
    """AKIG_AGENT_LEASE_DAYS=2: the mission of 3 days ago no longer opens its lease to a write, nor its
    tenant's card to a read; yesterday's still does both."""
    monkeypatch.setenv("AKIG_AGENT_LEASE_DAYS", "2")
    assert Settings.from_env().agent_lease_days == 2
    assert Settings().agent_lease_days == 7
    mine, older, _, _ = leases
    runtime.configure(dataclasses.replace(seeded.settings, agent_lease_days=2))
    with acting_as(AGENT):
        assert not reads.run("tenant_card", tenant_ref=mine.tenant_ref).empty
        with pytest.raises(InvalidParameter, match="Locataire inconnu"):
            reads.run("tenant_card", tenant_ref=older.tenant_ref)
    assert collection.record_call(mine.lease_ref, "reached", who=AGENT).kind == "call"
    assert refusal(lambda: collection.record_call(older.lease_ref, "reached", who=AGENT)).startswith("Bail inconnu")
    runtime.configure(dataclasses.replace(seeded.settings, agent_lease_days=7))
    with acting_as(AGENT):
        assert not reads.run("tenant_card", tenant_ref=older.tenant_ref).empty
    assert collection.record_call(older.lease_ref, "reached", who=AGENT).kind == "call"


@pytest.mark.parametrize("value", ["-1", "sept"])
def test_a_bad_window_is_refused_at_start(monkeypatch, value):
    monkeypatch.setenv("AKIG_AGENT_LEASE_DAYS", value)
    with pytest.raises(ValueError, match="AKIG_AGENT_LEASE_DAYS"):
        Settings.from_env()


def test_a_client_id_reused_by_another_agent_never_returns_the_first_receipt(seeded, leases):
    mine, _, theirs, _ = leases
    first = collection.record_payment(mine.lease_ref, 75_000, "cash", client_id="phone/1", who=AGENT)
    stolen = collection.record_payment(theirs.lease_ref, 20_000, "cash", client_id="phone/1", who=OTHER_AGENT)
    assert not stolen.duplicate and stolen.ref != first.ref
    assert stolen.details["receipt_no"] != first.details["receipt_no"] and stolen.details["amount"] == 20_000
    again = collection.record_payment(mine.lease_ref, 75_000, "cash", client_id="phone/1", who=AGENT)
    assert again.duplicate and again.details["receipt_no"] == first.details["receipt_no"]
    # the same for every kind of write
    for ours, others in zip(every_write(mine.lease_ref, AGENT, "phone/2"),
                            every_write(theirs.lease_ref, OTHER_AGENT, "phone/2")):
        first = ours()
        second = others()
        assert not second.duplicate and second.ref != first.ref
        assert ours().ref == first.ref and ours().duplicate
