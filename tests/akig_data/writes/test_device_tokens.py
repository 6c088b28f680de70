"""Device tokens (the agents' phones' logins) and the agent's day read (the phone's list of missions)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from akig_data import reads
from akig_data.access import scope
from akig_data.access.scope import Principal
from akig_data.errors import AccessDenied, InvalidParameter
from akig_data.writes import audit, collection, missions, users
from tests.conftest import give_mission

PASSWORD = "Correct-horse-42"
TODAY = dt.datetime.now(missions.TZ).date()
TODAY_FOLLOWS_THE_CLOCK = True   # tests/conftest.py sets TODAY again before each test


@pytest.fixture()
def agent(seeded):
    users.add("fode", PASSWORD, "agent", agent_ref="AGT-001", actor="cli:test")
    return "fode"


def stored(engine, device_id: int) -> sa.Row:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT * FROM device_tokens WHERE id = :i"), {"i": device_id}).one()


def test_a_device_token_is_shown_once_stored_hashed_and_audited(seeded, agent):
    token, device_id = users.issue_device_token(agent, "Tecno Spark 10", actor="fode", address="10.0.0.7")
    assert token.startswith("akigd_") and len(token) > 40
    row = stored(seeded.engine, device_id)
    assert token not in row.token_hash and len(row.token_hash) == 64 and row.label == "Tecno Spark 10"
    user = users.user_for_token(token)
    assert (user.username, user.role, user.agent_ref, user.agent_name) == ("fode", "agent", "AGT-001",
                                                                          users.get("fode").agent_name)
    assert user.agent_name
    entry = audit.entries(action="device_issue").iloc[0]
    assert (entry["actor"], entry["target"], entry["address"]) == ("fode", "fode", "10.0.0.7")
    assert token not in audit.entries().to_string()
    # one token per phone: a second phone, and the API token, work side by side
    second, second_id = users.issue_device_token(agent, "Itel A70", actor="fode")
    api_token = users.rotate_token(agent, actor="t")
    assert second_id != device_id
    assert all(users.user_for_token(t).username == "fode" for t in (token, second, api_token))
    assert users.user_for_token("akigd_" + "x" * 43) is None and users.user_for_token("akigd_") is None


def test_last_use_is_written_at_most_once_a_minute(seeded, agent):
    token, device_id = users.issue_device_token(agent, None, actor="fode")
    assert stored(seeded.engine, device_id).last_used_at is None
    users.user_for_token(token)
    first = stored(seeded.engine, device_id).last_used_at
    assert first is not None
    users.user_for_token(token)
    assert stored(seeded.engine, device_id).last_used_at == first
    with seeded.engine.begin() as conn:
        conn.execute(sa.text("UPDATE device_tokens SET last_used_at = now() - interval '61 seconds' WHERE id = :i"),
                     {"i": device_id})
    users.user_for_token(token)
    assert stored(seeded.engine, device_id).last_used_at > first - dt.timedelta(seconds=1)


def test_revoking_one_device_leaves_the_others_and_says_why_it_refuses(seeded, agent):
    lost, lost_id = users.issue_device_token(agent, "Perdu", actor="fode")
    kept, kept_id = users.issue_device_token(agent, "Neuf", actor="fode")
    device = users.revoke_device(agent, lost_id, actor="cli:admin", address="cli")
    assert not device.active and device.revoked_by == "cli:admin"
    assert users.user_for_token(lost) is None and users.user_for_token(kept).username == "fode"
    listing = users.list_devices(agent)
    assert [(d.id, d.label, d.active) for d in listing] == [(lost_id, "Perdu", False), (kept_id, "Neuf", True)]
    entry = audit.entries(action="device_revoke").iloc[0]
    assert (entry["actor"], entry["target"]) == ("cli:admin", "fode") and str(lost_id) in entry["details"]
    with pytest.raises(InvalidParameter, match="déjà révoqué"):
        users.revoke_device(agent, lost_id, actor="cli:admin")
    with pytest.raises(InvalidParameter, match="Appareil inconnu"):
        users.revoke_device(agent, 999_999, actor="cli:admin")
    with pytest.raises(InvalidParameter, match="invalide"):
        users.revoke_device(agent, "deux", actor="cli:admin")
    users.add("mariama", PASSWORD, "agent", agent_ref="AGT-002", actor="cli:test")
    with pytest.raises(InvalidParameter, match="Appareil inconnu"):   # another user's device is not his
        users.revoke_device("mariama", kept_id, actor="cli:admin")
    with pytest.raises(InvalidParameter, match="Utilisateur inconnu"):
        users.list_devices("personne")
    assert users.user_for_token(kept).username == "fode"


def test_the_phone_logs_itself_out_once(seeded, agent):
    token, device_id = users.issue_device_token(agent, "Tecno", actor="fode")
    device = users.revoke_device_token(token, address="10.0.0.7")
    assert device.id == device_id and device.revoked_by == "fode"
    assert users.user_for_token(token) is None
    assert users.revoke_device_token(token) is None            # nothing left to log out
    assert users.revoke_device_token(users.rotate_token(agent, actor="t")) is None   # not a device token
    entry = audit.entries(action="device_revoke").iloc[0]
    assert entry["actor"] == "fode" and '"logout"' in entry["details"]


def test_a_disabled_account_s_devices_stop_working_until_it_is_enabled(seeded, agent):
    token, _ = users.issue_device_token(agent, "Tecno", actor="fode")
    users.set_active(agent, False, actor="t")
    assert users.user_for_token(token) is None and users.revoke_device_token(token) is None
    users.set_active(agent, True, actor="t")
    assert users.user_for_token(token).username == "fode"


def test_a_new_password_ends_the_phones_logins(seeded, agent):
    phone, phone_id = users.issue_device_token(agent, "Tecno Spark 10", actor="fode")
    users.issue_device_token(agent, "Itel A70", actor="fode")
    api_token = users.rotate_token(agent, actor="t")
    users.set_password(agent, "Another-horse-43", actor="admin")
    assert users.user_for_token(phone) is None
    assert users.user_for_token(api_token).username == "fode"   # a script's token is not a login
    assert stored(seeded.engine, phone_id).revoked_by == "admin"
    assert all(d.revoked_at is not None for d in users.list_devices(agent))
    ended = audit.entries(action="device_revoke")
    assert len(ended) == 2 and set(ended["actor"]) == {"admin"}
    # a phone logging in with the new password works again
    fresh, _ = users.issue_device_token(agent, "Tecno Spark 10", actor="fode")
    assert users.user_for_token(fresh).username == "fode"


def test_a_hostile_label_is_kept_as_plain_text_and_cut_to_eighty(seeded, agent):
    hostile = '<img src=x onerror="alert(1)">\x1b[31m rouge\n' + "é" * 100
    _, device_id = users.issue_device_token(agent, hostile, actor="fode")
    label = stored(seeded.engine, device_id).label
    assert label.startswith('<img src=x onerror="alert(1)"> [31m rouge é') and len(label) == 80
    assert "\x1b" not in label and "\n" not in label
    assert users.list_devices(agent)[0].label == label
    assert users.clean_label(None) == "" and users.clean_label("  Tecno   Spark ") == "Tecno Spark"
    with pytest.raises(InvalidParameter, match="device"):
        users.clean_label(42)


# --- the agent's day --------------------------------------------------------------------------------

@pytest.fixture()
def planned_day(seeded):
    """Today planned; the agent with the most missions, and his missions in the missions read's order."""
    missions.generate(TODAY, visit_capacity=3, call_capacity=2)
    frame = reads.missions(day=TODAY)
    agent_ref = frame[frame["kind"] == "visit"].groupby("agent_ref").size().idxmax()
    if not ((frame["agent_ref"] == agent_ref) & (frame["kind"] == "call")).any():   # and a call to make
        other_lease = frame[frame["agent_ref"] != agent_ref]["lease_ref"].iloc[0]
        give_mission(seeded, agent_ref, other_lease, TODAY)
        seeded.memo.bump(("missions",))   # written behind the data layer's back
        frame = reads.missions(day=TODAY)
    return agent_ref, frame[frame["agent_ref"] == agent_ref].reset_index(drop=True)


def test_the_day_lists_the_missions_in_route_order_with_contact_and_promise(seeded, planned_day):
    agent_ref, expected = planned_day
    day = reads.agent_day(agent_ref=agent_ref, day=TODAY)
    assert list(day["mission_ref"]) == list(expected["mission_ref"])
    assert list(day["kind"]) == list(expected["kind"]) and set(day["kind"]) == {"visit", "call"}
    visits = day[day["kind"] == "visit"]
    assert list(visits["route_order"]) == list(range(1, len(visits) + 1))
    assert (day["arrears"] == expected["arrears"]).all() and (day["agent_ref"] == agent_ref).all()
    lease = day["lease_ref"].iloc[0]
    # a call logged now is the lease's last contact at the next read (the read depends on calls)
    collection.record_call(lease, "promise", agent_ref=agent_ref)
    collection.record_promise(lease, 150_000, TODAY + dt.timedelta(days=5), agent_ref=agent_ref)
    after = reads.agent_day(agent_ref=agent_ref, day=TODAY).iloc[0]
    assert (after["last_contact_kind"], after["last_contact_outcome"]) == ("call", "promise")
    assert abs(after["last_contact_at"] - pd.Timestamp.now(tz="UTC")) < pd.Timedelta(minutes=1)
    assert (after["promise_amount"], after["promise_due_date"], after["promise_status"]) == (
        150_000, TODAY + dt.timedelta(days=5), "pending")
    # paid in full, the promise is kept: no pending promise any more
    collection.record_payment(lease, 150_000, "cash", agent_ref=agent_ref)
    paid = reads.agent_day(agent_ref=agent_ref, day=TODAY).iloc[0]
    assert pd.isna(paid["promise_status"]) and pd.isna(paid["promise_amount"]) and pd.isna(paid["promise_due_date"])


def test_an_agent_reads_only_his_own_day(seeded, planned_day):
    agent_ref, expected = planned_day
    other = "AGT-002" if agent_ref != "AGT-002" else "AGT-001"
    scope.set_principal_resolver(lambda: Principal("x", "agent", agent_ref=agent_ref))
    try:
        assert list(reads.agent_day(agent_ref=agent_ref)["mission_ref"]) == list(expected["mission_ref"])
        with pytest.raises(AccessDenied):
            reads.agent_day(agent_ref=other)
    finally:
        scope.set_principal_resolver(None)
    for role in ("owner", "analyst", "ops"):
        scope.set_principal_resolver(lambda role=role: Principal("x", role, owner_ref="OWN-0001"))
        try:
            with pytest.raises(AccessDenied):
                reads.agent_day(agent_ref=agent_ref)
        finally:
            scope.set_principal_resolver(None)
