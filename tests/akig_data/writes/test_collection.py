"""Recording calls, visits, promises and payments: validation, refusals that change nothing, audit,
idempotent retries, cache invalidation, proof of presence and who may write."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from akig_data.writes import audit, collection
from akig_data import reads
from akig_data.errors import AccessDenied, InvalidParameter
from akig_data.access.scope import Principal
from tests.conftest import SMALL_UNTIL, give_mission

MANAGER = Principal("awa", "manager")
AGENT = Principal("fode", "agent", agent_ref="AGT-001")
TODAY = dt.datetime.now(collection.TZ).date()
TODAY_FOLLOWS_THE_CLOCK = True   # tests/conftest.py sets TODAY again before each test


@pytest.fixture()
def lease(seeded):
    """The lease with the largest arrears, on which AGT-001 had a mission yesterday (an agent writes on the
    leases of his missions only: tests/akig_data/writes/test_agent_write_scope.py)."""
    frame = reads.arrears_by_lease(as_of=SMALL_UNTIL)
    lease_ref = frame.sort_values("arrears")["lease_ref"].iloc[-1]
    give_mission(seeded, "AGT-001", lease_ref, TODAY - dt.timedelta(days=1))
    return lease_ref


def counts(rt) -> dict[str, int]:
    with rt.engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
                for t in ("calls", "visits", "promises", "payments", "audit_log")}


def site_of(rt, lease_ref):
    with rt.engine.connect() as conn:
        return conn.execute(sa.text("SELECT s.lat, s.lon FROM leases l JOIN sites s ON s.id = l.site_id "
                                    "WHERE l.lease_ref = :r"), {"r": lease_ref}).one()


def test_a_call_is_stored_with_who_and_audited(seeded, lease):
    result = collection.record_call(lease, "reached", note="rappeler lundi", agent_ref="AGT-002", who=MANAGER,
                                    address="10.0.0.5")
    assert result.kind == "call" and result.ref.startswith("APL-") and not result.duplicate
    with seeded.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT outcome, note, recorded_by FROM calls WHERE call_ref = :r"),
                           {"r": result.ref}).one()
    assert tuple(row) == ("reached", "rappeler lundi", "awa")
    entry = audit.entries().iloc[0]
    assert (entry["actor"], entry["action"], entry["target"], entry["address"]) == ("awa", "call", lease, "10.0.0.5")


@pytest.mark.parametrize("call, message", [
    (lambda l: collection.record_call("BAIL-NOPE", "reached", agent_ref="AGT-001"), "Bail inconnu"),
    (lambda l: collection.record_call(l, "maybe", agent_ref="AGT-001"), "outcome : valeur inconnue"),
    (lambda l: collection.record_call(l, "reached", agent_ref="AGT-999"), "Agent inconnu"),
    (lambda l: collection.record_call(l, "reached"), "agent_ref : l'agent qui a appelé"),
    (lambda l: collection.record_call(l, "reached", agent_ref="AGT-001", called_at="2026-06-01T10:00:00"),
     "fuseau horaire est obligatoire"),
    (lambda l: collection.record_call(l, "reached", agent_ref="AGT-001", called_at="2099-01-01T10:00:00+00:00"),
     "dans le futur"),
    (lambda l: collection.record_call(l, "reached", agent_ref="AGT-001", note="x" * 2001), "trop long"),
    (lambda l: collection.record_call(l, "reached", agent_ref="AGT-001", called_at="0874-11-22T10:00:00+00:00"),
     "trop ancienne"),
    (lambda l: collection.record_call(l, "reached", agent_ref="AGT-001", client_id="a b"), "client_id"),
    (lambda l: collection.record_promise(l, 0, TODAY), "supérieur à zéro"),
    (lambda l: collection.record_promise(l, -5, TODAY), "supérieur à zéro"),
    (lambda l: collection.record_promise(l, "1e6", TODAY), "nombre entier de GNF"),
    (lambda l: collection.record_promise(l, 10.5, TODAY), "nombre entier de GNF"),
    (lambda l: collection.record_promise(l, True, TODAY), "nombre entier de GNF"),
    (lambda l: collection.record_promise(l, 100_000, TODAY - dt.timedelta(days=1)), "déjà passée"),
    (lambda l: collection.record_promise(l, 100_000, TODAY + dt.timedelta(days=400)), "plus d'un an"),
    (lambda l: collection.record_promise(l, 100_000, "demain"), "date invalide"),
    (lambda l: collection.record_payment(l, 100_000, "cheque"), "method : valeur inconnue"),
    (lambda l: collection.record_payment(l, 100_000, "orange_money"), "référence de la transaction"),
    (lambda l: collection.record_payment(l, 100_000, "cash", paid_at="2099-01-01T00:00:00+00:00"), "dans le futur"),
    (lambda l: collection.record_payment(l, 100_000, "cash", paid_at="2000-01-01T00:00:00+00:00"),
     "avant le début du bail"),
    (lambda l: collection.record_payment(l, 20_000_000_000, "cash"), "dépasse le maximum"),
    (lambda l: collection.record_visit(l, "reached", lat=95, lon=0, agent_ref="AGT-001"), "lat : hors limites"),
    (lambda l: collection.record_visit(l, "reached", lat="abc", lon=0, agent_ref="AGT-001"), "lat : nombre attendu"),
    (lambda l: collection.record_visit(l, "reached", lat=9.5, lon=-13.7, accuracy_m=-1, agent_ref="AGT-001"),
     "ne peut pas être négative"),
    # PostgreSQL's text cannot hold NUL: a 400 that says so, not a 500 (found by schemathesis)
    (lambda l: collection.record_visit("BAIL\x00", "absent", lat=9.5, lon=-13.7, agent_ref="AGT-001"), "NUL"),
    (lambda l: collection.record_call(l, "reached", note="a\x00b", agent_ref="AGT-001"), "NUL"),
])
def test_refusals_say_why_and_change_nothing(seeded, lease, call, message):
    before = counts(seeded)
    with pytest.raises(InvalidParameter, match=message):
        call(lease)
    assert counts(seeded) == before


def test_a_payment_gets_a_receipt_and_moves_the_arrears_at_once(seeded, lease):
    as_of = TODAY
    before = int(reads.arrears_by_lease(as_of=as_of).set_index("lease_ref").loc[lease, "arrears"])
    result = collection.record_payment(lease, 100_000, "orange_money", reference="OM123456", who=MANAGER)
    assert result.ref == "ORANGE_MONEY-OM123456" and result.details["receipt_no"].startswith(f"REC-{TODAY:%Y%m%d}-")
    after = int(reads.arrears_by_lease(as_of=as_of).set_index("lease_ref").loc[lease, "arrears"])
    assert after == max(before - 100_000, 0)  # the memoized read was invalidated
    with pytest.raises(InvalidParameter, match="Paiement déjà enregistré"):
        collection.record_payment(lease, 100_000, "orange_money", reference="OM123456", who=MANAGER)
    second = collection.record_payment(lease, 50_000, "cash", who=MANAGER)
    assert second.details["receipt_no"] != result.details["receipt_no"]


def test_retries_with_the_same_client_id_are_idempotent(seeded, lease):
    first = collection.record_payment(lease, 75_000, "cash", client_id="phone-1/42", who=AGENT)
    before = counts(seeded)
    again = collection.record_payment(lease, 75_000, "cash", client_id="phone-1/42", who=AGENT)
    assert again.duplicate and again.ref == first.ref and again.details["receipt_no"] == first.details["receipt_no"]
    call = collection.record_call(lease, "promise", client_id="c-1", who=AGENT)
    assert collection.record_call(lease, "promise", client_id="c-1", who=AGENT).ref == call.ref
    promise = collection.record_promise(lease, 100_000, TODAY, client_id="p-1", who=AGENT)
    assert collection.record_promise(lease, 100_000, TODAY, client_id="p-1", who=AGENT).duplicate
    assert promise.details["amount"] == 100_000
    assert counts(seeded)["payments"] == before["payments"]


def test_a_new_promise_shows_as_pending_and_is_kept_by_a_payment(seeded, lease):
    promise = collection.record_promise(lease, 120_000, TODAY + dt.timedelta(days=3), who=MANAGER, agent_ref="AGT-001")
    row = reads.promises(as_of=TODAY).set_index("promise_ref").loc[promise.ref]
    assert row["status"] == "pending" and row["agent_ref"] == "AGT-001"
    collection.record_payment(lease, 120_000, "cash", who=MANAGER)
    assert reads.promises(as_of=TODAY).set_index("promise_ref").loc[promise.ref, "status"] == "kept"


def test_a_visit_at_the_site_is_proof_and_one_far_away_is_flagged(seeded, lease):
    lat, lon = site_of(seeded, lease)
    near = collection.record_visit(lease, "reached", lat=lat + 0.0005, lon=lon, accuracy_m=8, who=AGENT,
                                   visited_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2))
    assert near.details["proof"] and near.details["flags"] == [] and near.details["distance_m"] < 200
    far = collection.record_visit(lease, "absent", lat=lat + 0.01, lon=lon, who=AGENT,
                                  visited_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1))
    assert not far.details["proof"] and far.details["flags"] == ["far_from_site"] and far.details["distance_m"] > 1000
    # 1 minute later, 50 km away: nobody moves that fast in Conakry
    jump = collection.record_visit(lease, "absent", lat=lat + 0.45, lon=lon, who=AGENT,
                                   visited_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=59))
    assert "impossible_speed" in jump.details["flags"] and not jump.details["proof"]


def test_who_may_write(seeded, lease):
    for role in ("owner", "analyst", "ops"):
        with pytest.raises(AccessDenied):
            collection.record_call(lease, "reached", agent_ref="AGT-001", who=Principal("x", role, owner_ref="OWN-0001"))
    with pytest.raises(AccessDenied, match="ses propres actions"):
        collection.record_call(lease, "reached", agent_ref="AGT-002", who=AGENT)
    result = collection.record_call(lease, "reached", who=AGENT)  # credited to his own agent
    with seeded.engine.connect() as conn:
        agent = conn.execute(sa.text("SELECT a.agent_ref FROM calls c JOIN agents a ON a.id = c.agent_id "
                                     "WHERE c.call_ref = :r"), {"r": result.ref}).scalar()
    assert agent == "AGT-001"


def test_haversine_against_a_known_distance():
    # Kaloum (9.509, -13.712) to Matoto (9.574, -13.620): about 12.4 km
    assert 12_000 < collection.haversine_m(9.509, -13.712, 9.574, -13.620) < 12_800


def test_promise_transitions_over_time(seeded, lease):
    """pending until its date; then kept (paid in full), partial (paid in part) or broken (nothing)."""
    due = TODAY + dt.timedelta(days=2)
    full = collection.record_promise(lease, 100_000, due, who=MANAGER, agent_ref="AGT-001")
    status = lambda ref, day: reads.promises(as_of=day).set_index("promise_ref").loc[ref, "status"]  # noqa: E731
    assert status(full.ref, TODAY) == "pending" and status(full.ref, due) == "pending"
    assert status(full.ref, due + dt.timedelta(days=1)) == "broken"          # nothing paid by its date
    collection.record_payment(lease, 40_000, "cash", who=MANAGER)
    assert status(full.ref, TODAY) == "pending"                                # paid in part, date not passed
    assert status(full.ref, due + dt.timedelta(days=1)) == "partial"
    collection.record_payment(lease, 60_000, "cash", who=MANAGER)
    assert status(full.ref, TODAY) == "kept" and status(full.ref, due + dt.timedelta(days=30)) == "kept"
