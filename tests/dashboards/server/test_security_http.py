"""Logins and the HTTP endpoints against a real `akig serve`: XSRF, cookies (tampered, expired, after
logout or a password change), TOTP, lockout, tokens, rate limits, /metrics, production start-up."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pyotp
import sqlalchemy as sa
import pytest
from tornado.web import create_signed_value

from akig_data import runtime
from akig_data.writes import users
from akig_data.testing.login_client import LoginFailed, login_cookie
from tests.conftest import settings_for
from tests.serving import (COOKIE_SECRET, METRICS_TOKEN, PASSWORD, TOTP_SECRET, login, session_cookie, start_server, stop_server)


def get(url: str, cookie: str | None = None, token: str | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, headers=headers or {})
    if cookie:
        request.add_header("Cookie", f"user={cookie}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def open_no_redirect(url: str, cookie: str | None = None) -> tuple[int, str]:
    opener = urllib.request.build_opener(NoRedirect())
    request = urllib.request.Request(url, headers={"Cookie": f"user={cookie}"} if cookie else {})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, ""
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Location", "")


def test_every_app_redirects_to_the_login_page_without_a_session(served):
    from dashboards import catalog

    for entry in catalog.entries():
        status, location = open_no_redirect(served + entry.path)
        assert status == 302 and "/login?next=" in location, entry.path


def test_login_page_is_french_with_an_xsrf_token(served):
    status, headers, page = get(served + "/login?next=/proprietaire")
    assert status == 200 and "Connexion" in page and "Mot de passe" in page and "Se connecter" in page
    assert re.search(r'name="_xsrf" value="[^"]+"', page)
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_a_login_post_without_the_xsrf_token_is_refused(served):
    request = urllib.request.Request(served + "/login", data=b"username=t-analyst&password=" + PASSWORD.encode())
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=30)
    assert err.value.code == 403


def test_next_never_leads_to_another_site(served):
    from dashboards.server.auth import _safe_next

    for hostile in ("https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)"):
        assert _safe_next(hostile) == "/"
    assert _safe_next("/proprietaire?site=S1") == "/proprietaire?site=S1"


def test_a_session_opens_the_apps_and_the_api(served):
    cookie = session_cookie(served, "t-analyst")
    assert open_no_redirect(served + "/proprietaire", cookie)[0] == 200
    status, _, body = get(served + "/api/me", cookie=cookie)
    assert status == 200 and json.loads(body)["role"] == "analyst"


def _forge(value: str, secret: str = COOKIE_SECRET) -> str:
    return create_signed_value(secret, "user", value).decode()


def test_tampered_forged_and_expired_cookies_are_refused(served):
    good = session_cookie(served, "t-analyst")
    tampered = good[:-3] + ("aaa" if not good.endswith("aaa") else "bbb")
    now = int(time.time())
    forged = _forge(f"t-admin|{now}|abc", secret="not-the-secret-" + "y" * 40)
    expired = _forge(f"t-analyst|{now - 9 * 3600}|abc")      # the session lasts 8 hours
    # signed with the secret but naming no session opened by /login: a leaked secret alone opens nothing
    no_session = _forge(f"t-analyst|{now}|{'0' * 24}")
    other_user = _forge(f"t-admin|{now}|{good and _nonce_of(good)}")   # a real nonce, another username
    for cookie in (tampered, forged, expired, "t-admin", no_session, other_user):
        assert get(served + "/api/me", cookie=cookie)[0] == 401, cookie
        assert open_no_redirect(served + "/proprietaire", cookie)[0] == 302
    assert get(served + "/api/me", cookie=good)[0] == 200


def _nonce_of(cookie: str) -> str:
    from tornado.web import decode_signed_value

    return decode_signed_value(COOKIE_SECRET, "user", cookie).decode().rsplit("|", 1)[-1]


def logout(base: str, cookie: str) -> tuple[int, str]:
    """Log out as a browser does: GET the page, POST its form with the XSRF token."""
    from akig_data.testing.login_client import _opener

    opener, jar = _opener()
    request = urllib.request.Request(base + "/logout", headers={"Cookie": f"user={cookie}"})
    with opener.open(request, timeout=30) as response:
        page = response.read().decode()
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page).group(1)
    xsrf_cookie = next(c.value for c in jar if c.name == "_xsrf")
    request = urllib.request.Request(base + "/logout", data=urllib.parse.urlencode({"_xsrf": xsrf}).encode(),
                                     headers={"Cookie": f"user={cookie}; _xsrf={xsrf_cookie}"})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_logout_ends_the_session_even_if_the_cookie_is_replayed(served):
    cookie = login(served, "t-analyst")
    assert get(served + "/api/me", cookie=cookie)[0] == 200
    status, page = logout(served, cookie)
    assert status == 200 and "déconnecté" in page
    assert get(served + "/api/me", cookie=cookie)[0] == 401
    assert open_no_redirect(served + "/", cookie)[0] == 302


def test_a_link_or_a_forged_form_cannot_log_a_user_out(served):
    """GET /logout only asks; a POST without the XSRF token (a form on another site) is refused."""
    cookie = login(served, "t-analyst")
    status, _, page = get(served + "/logout", cookie=cookie)
    assert status == 200 and "Voulez-vous fermer votre session" in page and 'method="post"' in page
    request = urllib.request.Request(served + "/logout", data=b"x=1", headers={"Cookie": f"user={cookie}"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=30)
    assert err.value.code == 403
    assert get(served + "/api/me", cookie=cookie)[0] == 200
    assert logout(served, cookie)[0] == 200
    assert get(served + "/api/me", cookie=cookie)[0] == 401


def test_admins_need_the_totp_code(served):
    with pytest.raises(LoginFailed, match="TOTP code is required"):
        login_cookie(served, "t-admin", PASSWORD, None)
    cookie = login_cookie(served, "t-admin", PASSWORD, TOTP_SECRET)
    assert json.loads(get(served + "/api/me", cookie=cookie)[2])["role"] == "admin"


def test_api_tokens_authenticate_and_rotate(served, small_db, redis_url):
    runtime.configure(settings_for(small_db, redis_url))
    try:
        first = users.rotate_token("t-agent", actor="test")
        status, _, body = get(served + "/api/me", token=first)
        assert status == 200 and json.loads(body)["agent_ref"] == "AGT-001"
        second = users.rotate_token("t-agent", actor="test")
    finally:
        runtime.reset()
    assert get(served + "/api/me", token=first)[0] == 401
    assert get(served + "/api/me", token=second)[0] == 200
    status, headers, _ = get(served + "/api/me", token="akig_not-a-token")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")


def test_metrics_need_the_bearer_token(served):
    assert get(served + "/metrics")[0] == 401
    assert get(served + "/metrics", token="wrong")[0] == 401
    assert get(served + "/metrics", cookie=session_cookie(served, "t-admin"))[0] == 401
    status, _, body = get(served + "/metrics", token=METRICS_TOKEN)
    assert status == 200 and "akig_login_attempts_total" in body


def test_health_stays_open(served):
    assert get(served + "/api/health")[0] == 200


def test_bad_read_parameters_are_400_with_a_message(served):
    cookie = session_cookie(served, "t-analyst")
    status, _, body = get(served + "/api/reads/arrears_by_site?as_of=demain", cookie=cookie)
    assert status == 400 and "as_of must be a date" in json.loads(body)["error"]
    assert get(served + "/api/reads/no_such_read", cookie=cookie)[0] == 404


# --- servers of their own (their counters and locks must not lock the shared one) ----------------

@pytest.fixture()
def own_db(databases, seeded_template):
    """A copy of the small data set: login locks are kept in the database, so a test that locks
    127.0.0.1 must not do it in the database the shared server uses."""
    name = databases.create("sec", template=seeded_template)
    yield databases.url(name)
    databases.drop(name)


@pytest.fixture()
def own_server(own_db, redis_url, tmp_path):
    servers = []

    def start(**env):
        proc, base = start_server(own_db, redis_url, tmp_path, env_extra=env)
        servers.append(proc)
        return base

    yield start
    for proc in servers:
        stop_server(proc)


def _login_status(base: str, username: str, password: str) -> tuple[int, str]:
    try:
        login_cookie(base, username, password)
        return 302, ""
    except LoginFailed as exc:
        status, _, message = str(exc).partition(": ")
        return int(status), message


def test_five_failures_lock_the_username_with_one_message_for_all(own_server, tmp_path):
    base = own_server()
    unknown = _login_status(base, "nobody-here", "whatever-1")
    wrong = _login_status(base, "t-ops", "wrong-password-1")
    assert unknown == wrong == (401, "Identifiant ou mot de passe incorrect.")
    for _ in range(2):
        _login_status(base, "t-ops", "wrong-password-1")
    assert _login_status(base, "t-ops", "wrong-password-2")[0] == 401  # the 5th failure still answers
    status, message = _login_status(base, "t-ops", PASSWORD)        # right password, but locked
    assert status == 429 and message == "Trop de tentatives. Réessayez dans 15 minutes."
    # the address is locked too (5 failures from 127.0.0.1): another account cannot try either
    assert _login_status(base, "t-analyst", PASSWORD)[0] == 429
    log = (tmp_path / "serve.log").read_text() + (tmp_path / "logs" / "access.log").read_text()
    assert "POST /login" in log and "wrong-password" not in log and PASSWORD not in log  # never logged


def test_api_rate_limit_answers_429_with_retry_after(own_server):
    base = own_server(AKIG_API_RATE_PER_USER="3")
    cookie = login(base, "t-analyst")
    statuses = [get(base + "/api/me", cookie=cookie)[0] for _ in range(3)]
    status, headers, body = get(base + "/api/me", cookie=cookie)
    assert statuses == [200, 200, 200] and status == 429
    assert 1 <= int(headers["Retry-After"]) <= 60 and json.loads(body)["retry_after"] == int(headers["Retry-After"])


@pytest.mark.parametrize("trusted", [True, False])
def test_the_proxys_client_address_counts_only_when_trusted(own_server, trusted):
    """Behind nginx (AKIG_TRUST_PROXY_HEADERS=1) each client has its own per-address budget, read from
    X-Real-IP; without it the header is ignored, or anybody could dodge the limit by sending one."""
    base = own_server(AKIG_API_RATE_PER_ADDRESS="3", **({"AKIG_TRUST_PROXY_HEADERS": "1"} if trusted else {}))
    cookie = login(base, "t-analyst")

    def status(address: str) -> int:
        return get(base + "/api/me", cookie=cookie, headers={"X-Real-IP": address, "X-Forwarded-For": address})[0]

    assert [status("10.1.1.1") for _ in range(3)] == [200, 200, 200]
    assert status("10.1.1.1") == 429
    assert status("10.2.2.2") == (200 if trusted else 429)


def test_a_password_change_or_a_disabled_account_ends_access(own_server, own_db, redis_url):
    base = own_server()
    cookie = login(base, "t-owner2")
    runtime.configure(settings_for(own_db, redis_url))
    try:
        users.set_password("t-owner2", "Changed-password-2", actor="test")
        users.rotate_token("t-owner2", actor="test")
        time.sleep(1.5)
        token = users.rotate_token("t-owner2", actor="test")
        assert get(base + "/api/me", token=token)[0] == 200
        users.set_active("t-owner2", False, actor="test")
        assert get(base + "/api/me", token=token)[0] == 401          # a token is checked at every request
        assert _login_status(base, "t-owner2", "Changed-password-2")[0] == 401
    finally:
        users.set_active("t-owner2", True, actor="test")
        users.set_password("t-owner2", PASSWORD, actor="test")
        runtime.reset()
    deadline = time.monotonic() + 20  # the server re-reads an account at most every 15 s
    while get(base + "/api/me", cookie=cookie)[0] == 200 and time.monotonic() < deadline:
        time.sleep(1)
    assert get(base + "/api/me", cookie=cookie)[0] == 401


def test_totp_enrolment_at_first_login_shows_a_qr_code(own_server, own_db, redis_url):
    runtime.configure(settings_for(own_db, redis_url))
    try:
        if users.get("t-newmanager") is None:
            users.add("t-newmanager", PASSWORD, "manager", actor="test")
    finally:
        runtime.reset()
    base = own_server()
    from akig_data.testing.login_client import _opener, _post

    opener, _ = _opener()
    with opener.open(base + "/login") as response:
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', response.read().decode()).group(1)
    status, page = _post(opener, base + "/login", {"_xsrf": xsrf, "step": "password", "username": "t-newmanager",
                                                   "password": PASSWORD})
    assert status == 200 and 'src="data:image/svg+xml;base64,' in page and "Activer" in page
    secret = re.search(r"<code>([A-Z2-7]+)</code>", page).group(1)
    status, page = _post(opener, base + "/login", {"_xsrf": xsrf, "step": "enrol", "code": "000000"
                                                   if pyotp.TOTP(secret).now() != "000000" else "111111"})
    assert status == 401 and "Code de vérification incorrect." in page
    assert re.search(r"<code>([A-Z2-7]+)</code>", page).group(1) == secret  # a wrong code changes nothing
    status, _ = _post(opener, base + "/login", {"_xsrf": xsrf, "step": "enrol", "code": pyotp.TOTP(secret).now()})
    assert status == 302
    runtime.configure(settings_for(own_db, redis_url))
    try:
        assert users.get("t-newmanager").totp_confirmed
    finally:
        runtime.reset()


@pytest.mark.parametrize("missing", ["AKIG_COOKIE_SECRET", "AKIG_SESSION_SECRET"])
def test_production_refuses_to_start_without_its_secrets(small_db, redis_url, tmp_path, missing):
    env = {k: v for k, v in os.environ.items() if k not in ("AKIG_COOKIE_SECRET", "AKIG_SESSION_SECRET")}
    env.update(AKIG_ENV="production", AKIG_DATABASE_URL=small_db, AKIG_REDIS_URL=redis_url, AKIG_HOME=str(tmp_path),
               AKIG_COOKIE_SECRET="c" * 40, AKIG_SESSION_SECRET="s" * 40)
    del env[missing]
    akig = Path(sys.executable).parent / "akig"
    result = subprocess.run([str(akig), "serve", "--port", "1"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and f"needs {missing}" in result.stderr


def test_serve_switches_from_the_tables_owner_to_the_application_role(small_db, redis_url, tmp_path):
    proc, base = start_server(small_db, redis_url, tmp_path, as_app=False)
    try:
        cookie = login(base, "t-analyst")
        assert get(base + "/api/reads/sites", cookie=cookie)[0] == 200
    finally:
        stop_server(proc)
    assert "Serving as akig_app (row-level security enforced" in (tmp_path / "serve.log").read_text()


def test_production_refuses_to_serve_as_a_role_that_bypasses_row_security(small_db, redis_url, tmp_path):
    env = dict(os.environ, AKIG_ENV="production", AKIG_COOKIE_SECRET="c" * 40, AKIG_SESSION_SECRET="s" * 40,
               AKIG_DATABASE_URL=small_db,
               AKIG_REDIS_URL=redis_url, AKIG_HOME=str(tmp_path), AKIG_APP_ROLE="akig_nobody")
    akig = Path(sys.executable).parent / "akig"
    result = subprocess.run([str(akig), "serve", "--port", "1"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "bypasses row-level security" in result.stderr


@pytest.mark.parametrize("setting, value, message", [
    ("AKIG_DAILY_REPORT_AT", "19h", "AKIG_DAILY_REPORT_AT doit être une heure HH:MM"),
    ("AKIG_UNUSED_SESSION_S", "0", "AKIG_UNUSED_SESSION_S : un nombre de secondes entre 1 et 3600"),
    ("AKIG_UNUSED_SESSION_S", "1m", "AKIG_UNUSED_SESSION_S : un nombre de secondes entre 1 et 3600"),
])
def test_serve_refuses_a_bad_setting_at_start(small_db, redis_url, tmp_path, setting, value, message):
    env = dict(os.environ, AKIG_DATABASE_URL=small_db, AKIG_REDIS_URL=redis_url, AKIG_HOME=str(tmp_path),
               **{setting: value})
    akig = Path(sys.executable).parent / "akig"
    result = subprocess.run([str(akig), "serve", "--port", "1"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and message in result.stderr


def test_unused_sessions_are_kept_a_minute_by_default(monkeypatch):
    from dashboards.server.app import unused_session_lifetime_s

    monkeypatch.delenv("AKIG_UNUSED_SESSION_S", raising=False)
    assert unused_session_lifetime_s() == 60
    monkeypatch.setenv("AKIG_UNUSED_SESSION_S", "120")
    assert unused_session_lifetime_s() == 120


# --- the second factor cannot be replaced from the login page ------------------------------------

def test_the_password_alone_cannot_enrol_a_new_second_factor(served, small_db, redis_url):
    """The attack: with an admin's password only, post the enrolment step (`step=enrol`) instead of the
    code step. It must not show or store a new key, nor open a session with a code of the attacker's."""
    victim_secret = pyotp.random_base32()
    runtime.configure(settings_for(small_db, redis_url))
    try:
        if users.get("t-victim") is None:
            users.add("t-victim", PASSWORD, "admin", actor="test")
        with runtime.get_runtime().engine.begin() as conn:
            conn.execute(sa.text("UPDATE users SET totp_secret = :s, totp_confirmed = true WHERE username = 't-victim'"),
                         {"s": victim_secret})
    finally:
        runtime.reset()
    from akig_data.testing.login_client import _opener, _post

    opener, jar = _opener()
    with opener.open(served + "/login") as response:
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', response.read().decode()).group(1)
    status, page = _post(opener, served + "/login", {"_xsrf": xsrf, "step": "password", "username": "t-victim",
                                                     "password": PASSWORD})
    assert status == 200 and 'value="code"' in page and "<code>" not in page
    attacker = pyotp.random_base32()
    for code in ("000000", pyotp.TOTP(attacker).now()):
        status, page = _post(opener, served + "/login", {"_xsrf": xsrf, "step": "enrol", "code": code})
        assert status == 401 and "Code de vérification incorrect." in page
        assert "<code>" not in page and "data:image/svg+xml" not in page and 'value="enrol"' not in page
    assert not any(c.name == "user" for c in jar)
    runtime.configure(settings_for(small_db, redis_url))
    try:
        stored = users.get("t-victim")
        assert stored.totp_confirmed and stored.totp_secret == victim_secret
    finally:
        runtime.reset()
    cookie = login_cookie(served, "t-victim", PASSWORD, victim_secret)   # the owner's phone still works
    assert json.loads(get(served + "/api/me", cookie=cookie)[2])["role"] == "admin"
