"""The agents' phone app's routes against a real server (as akig_app): login for a device token (lockout,
TOTP, agents only), the token on every route, the day's payload, logout and revocation.

The server trusts X-Real-IP here, so that each test that fails logins does it from an address of its own:
five failures from one address lock that address, and the others must go on logging in.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request

import pyotp
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from akig_data import runtime
from akig_data.writes import audit, missions, users
from tests.conftest import give_mission, settings_for
from tests.serving import PASSWORD, TOTP_SECRET, session_cookie, start_server, stop_server

TODAY = dt.datetime.now(missions.TZ).date()
TODAY_FOLLOWS_THE_CLOCK = True   # tests/conftest.py sets TODAY again before each test
AGENT_TOTP = "PHONEAGENTTOTPSECRETPHONEAGENTAA"
MISSION_KEYS = {"mission_ref", "route_order", "kind", "eta", "status", "lease_ref", "tenant_ref", "full_name", "phone",
                "site_ref", "site_name", "commune", "quartier", "lat", "lon", "arrears", "last_contact", "promise"}


class Served:
    def __init__(self, base: str, settings):
        self.base = base
        self.settings = settings

    def call(self, method: str, path: str, body=None, token: str | None = None, address: str | None = None,
             raw: bytes | None = None, cookie: str | None = None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if method == "POST" and data is None:
            data = b""
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        if address:
            request.add_header("X-Real-IP", address)
        if cookie:
            request.add_header("Cookie", f"user={cookie}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, err.headers, json.loads(err.read() or b"{}")

    def login(self, username: str, password: str = PASSWORD, address: str | None = None, **extra):
        status, headers, body = self.call("POST", "/api/agent/login", {"username": username, "password": password,
                                                                       **extra}, address=address)
        return status, headers, body

    def token(self, username: str, **extra) -> str:
        status, _, body = self.login(username, **extra)
        assert status == 201, body
        return body["token"]


@pytest.fixture(scope="module")
def served_app(databases, seeded_template, redis_url, tmp_path_factory):
    """A server of its own over a copy of the small data set, today planned: AGT-001 (t-agent) and
    AGT-002 (t-agent2) have missions; t-agent3 (AGT-003) has a confirmed TOTP factor."""
    name = databases.create("agentapp", template=seeded_template)
    url = databases.url(name)
    settings = settings_for(url, redis_url)
    runtime.configure(settings)
    try:
        missions.generate(TODAY, visit_capacity=3, call_capacity=2)
        engine = runtime.get_runtime().engine
        for agent_ref in ("AGT-001", "AGT-002"):
            with engine.connect() as conn:
                planned = conn.execute(sa.text(
                    "SELECT count(*) FROM missions m JOIN agents a ON a.id = m.agent_id WHERE a.agent_ref = :a "
                    "AND m.day = :d"), {"a": agent_ref, "d": TODAY}).scalar()
                lease = conn.execute(sa.text("SELECT lease_ref FROM leases ORDER BY id OFFSET :o LIMIT 1"),
                                     {"o": 5 if agent_ref == "AGT-001" else 6}).scalar()
            if not planned:
                give_mission(runtime.get_runtime(), agent_ref, lease, TODAY)
        users.add("t-agent2", PASSWORD, "agent", agent_ref="AGT-002", actor="test")
        users.add("t-agent3", PASSWORD, "agent", agent_ref="AGT-003", actor="test")
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE users SET totp_secret = :s, totp_confirmed = true WHERE username = 't-agent3'"),
                         {"s": AGENT_TOTP})
    finally:
        runtime.reset()
    proc, base = start_server(url, redis_url, tmp_path_factory.mktemp("agentapp"),
                              env_extra={"AKIG_TRUST_PROXY_HEADERS": "1", "AKIG_AGENT_POSITION_INTERVAL_S": "20",
                                         "AKIG_AGENT_LOW_BATTERY": "0.2"})
    runtime.configure(settings)
    try:
        yield Served(base, settings)
    finally:
        runtime.reset()
        stop_server(proc)
        databases.drop(name)


def device_rows(username: str) -> list[users.Device]:
    return users.list_devices(username)


def matches_the_document(payload, schema_name: str) -> None:
    """The payload against its schema in docs/openapi.yaml (the contract the phone app is built on), with
    every object closed: a field added or missing fails here."""
    from pathlib import Path

    import jsonschema
    import yaml

    spec = yaml.safe_load((Path(__file__).resolve().parents[3] / "docs" / "openapi.yaml").read_text(encoding="utf-8"))

    def plain(node):   # OpenAPI 3.0 -> JSON Schema: nullable, and $ref into the components
        if isinstance(node, list):
            return [plain(n) for n in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return plain(spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]])
        out = {k: plain(v) for k, v in node.items() if k not in ("nullable", "description", "format")}
        if node.get("nullable"):
            out = {"anyOf": [out, {"type": "null"}]}
        return out

    jsonschema.validate(payload, plain(spec["components"]["schemas"][schema_name]))


# --- login ----------------------------------------------------------------------------------------

def test_login_gives_a_device_token_and_the_agent(served_app):
    status, headers, body = served_app.login("T-Agent ", device="Tecno Spark 10")
    assert status == 201, body
    assert set(body) == {"token", "device_id", "user"} and body["token"].startswith("akigd_")
    matches_the_document(body, "AgentLogin")
    assert body["user"] == {"username": "t-agent", "role": "agent", "agent_ref": "AGT-001",
                            "agent_name": users.get("t-agent").agent_name}
    assert body["user"]["agent_name"]
    assert "Set-Cookie" not in headers and headers["Cache-Control"] == "no-store"
    device = next(d for d in device_rows("t-agent") if d.id == body["device_id"])
    assert device.label == "Tecno Spark 10" and device.active
    entry = audit.entries(action="login").iloc[0]
    assert entry["actor"] == "t-agent" and '"agent_app"' in entry["details"]
    assert body["token"] not in audit.entries().to_string()
    status, _, me = served_app.call("GET", "/api/me", token=body["token"])
    assert status == 200 and me["agent_ref"] == "AGT-001"


@pytest.mark.parametrize("username, password", [("t-agent2", "Wrong-password-1"), ("personne", PASSWORD)])
def test_a_wrong_password_and_an_unknown_name_get_the_same_401(served_app, username, password):
    status, _, body = served_app.login(username, password, address="10.1.0.1")
    assert (status, body) == (401, {"error": "Identifiant ou mot de passe incorrect."})
    entry = audit.entries(action="login_failed").iloc[0]
    assert entry["actor"] == username and entry["address"] == "10.1.0.1"


def test_five_failures_lock_the_account_even_with_the_right_password(served_app):
    users.add("t-agent4", PASSWORD, "agent", agent_ref="AGT-004", actor="test")
    for _ in range(5):
        assert served_app.login("t-agent4", "Wrong-password-1", address="10.2.0.1")[0] == 401
    status, headers, body = served_app.login("t-agent4", address="10.2.0.2")   # the username is locked
    assert status == 429 and "Trop de tentatives" in body["error"]
    assert int(headers["Retry-After"]) == body["retry_after"] > 0
    status, _, body = served_app.login("t-agent2", address="10.2.0.1")          # and so is the address
    assert status == 429
    assert served_app.login("t-agent2", address="10.2.0.3")[0] == 201          # others are not
    assert not device_rows("t-agent4")


def test_an_account_with_a_second_factor_needs_its_code(served_app):
    status, _, body = served_app.login("t-agent3", address="10.3.0.1")
    assert (status, body) == (401, {"error": "Code à 6 chiffres requis.", "needs_code": True})
    status, _, body = served_app.login("t-agent3", code="000000", address="10.3.0.1")
    if status == 201:   # 000000 happened to be the code of this 30-second step
        pytest.skip("the wrong code was the right one")
    assert (status, body) == (401, {"error": "Code incorrect.", "needs_code": True})
    assert audit.entries(action="login_failed").iloc[0]["details"] == '{"reason": "totp"}'
    status, _, body = served_app.login("t-agent3", code=pyotp.TOTP(AGENT_TOTP).now(), address="10.3.0.1")
    assert status == 201 and body["user"]["agent_ref"] == "AGT-003"


@pytest.mark.parametrize("username, code", [("t-analyst", None), ("t-manager", None),
                                            ("t-manager", "TOTP"), ("t-owner", None)])
def test_accounts_that_are_not_agents_are_refused(served_app, username, code):
    code = pyotp.TOTP(TOTP_SECRET).now() if code == "TOTP" else code
    status, _, body = served_app.login(username, address="10.4.0.1", **({"code": code} if code else {}))
    assert (status, body) == (403, {"error": "Cette application est réservée aux agents de recouvrement."})
    assert not device_rows(username)
    entry = audit.entries(action="login_refused").iloc[0]
    assert entry["actor"] == username and "not_an_agent" in entry["details"]


@pytest.mark.parametrize("raw, message", [
    (b"{not json", "JSON invalide"),
    (b'["t-agent"]', "objet JSON"),
    (b'{"username": "t-agent"}', "Champ obligatoire manquant : password"),
    (b'{"username": "t-agent", "password": 12}', "Champ obligatoire manquant : password"),
    (b'{"username": "t-agent", "password": "x", "remember": true}', "Champ inconnu : remember"),
    (b'{"username": "t-agent", "password": "x", "code": 123456}', "Texte attendu : code"),
    (b'{"username": "t-agent", "password": "x", "device": ["a"]}', "Texte attendu : device"),
])
def test_bad_bodies_are_400_and_count_no_failure(served_app, raw, message):
    before = len(audit.entries(action="login_failed"))
    status, _, body = served_app.call("POST", "/api/agent/login", raw=raw, address="10.5.0.1")
    assert status == 400 and message in body["error"]
    assert len(audit.entries(action="login_failed")) == before


def test_a_hostile_device_label_is_stored_as_plain_text_and_cut(served_app):
    label = '<script>alert("x")</script><img src=x onerror=alert(1)>' + "A" * 200
    status, _, body = served_app.login("t-agent", device=label)
    assert status == 201
    device = next(d for d in device_rows("t-agent") if d.id == body["device_id"])
    assert device.label == label[:80] and len(device.label) == 80
    runner = CliRunner()
    from akig_cli.main import app

    listing = runner.invoke(app, ["users", "devices", "t-agent"], env=_cli_env(served_app))
    runtime.configure(served_app.settings)
    assert listing.exit_code == 0 and label[:80] in listing.output


# --- the token on every route -------------------------------------------------------------------

def _site_of(served_app, lease_ref: str) -> tuple[float, float]:
    with runtime.get_runtime().engine.connect() as conn:
        return tuple(conn.execute(sa.text("SELECT s.lat, s.lon FROM leases l JOIN sites s ON s.id = l.site_id "
                                          "WHERE l.lease_ref = :r"), {"r": lease_ref}).one())


def test_the_device_token_writes_visits_payments_and_positions_idempotently(served_app):
    token = served_app.token("t-agent", device="Itel")
    status, _, day = served_app.call("GET", "/api/agent/today", token=token)
    assert status == 200 and day["missions"]
    lease = day["missions"][-1]["lease_ref"]
    lat, lon = _site_of(served_app, lease)
    visit = {"lease_ref": lease, "outcome": "reached", "lat": lat, "lon": lon, "accuracy_m": 6.5,
             "client_id": "tecno-visit-1"}
    status, _, first = served_app.call("POST", "/api/visits", visit, token=token)
    assert status == 201 and first["kind"] == "visit" and first["proof"] is True and not first["duplicate"]
    status, _, again = served_app.call("POST", "/api/visits", visit, token=token)
    assert status == 200 and again["duplicate"] and again["ref"] == first["ref"]
    payment = {"lease_ref": lease, "amount": 50_000, "method": "cash", "client_id": "tecno-pay-1"}
    status, _, paid = served_app.call("POST", "/api/payments", payment, token=token)
    assert status == 201 and paid["receipt_no"].startswith("REC-")
    status, _, again = served_app.call("POST", "/api/payments", payment, token=token)
    assert status == 200 and again["duplicate"] and again["receipt_no"] == paid["receipt_no"]
    with runtime.get_runtime().engine.connect() as conn:
        recorded = conn.execute(sa.text("SELECT count(*), min(recorded_by) FROM payments WHERE client_id = 'tecno-pay-1'")).one()
    assert tuple(recorded) == (1, "t-agent")
    fix_time = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    batch = {"agent_ref": "AGT-001", "fixes": [{"t": fix_time.isoformat(), "lat": lat, "lon": lon, "accuracy_m": 9,
                                                "battery": 64}]}
    status, _, stored = served_app.call("POST", "/api/positions", batch, token=token)
    assert status == 201 and stored["stored"] == 1
    status, _, day = served_app.call("GET", "/api/agent/today", token=token)
    assert day["position"] == {"lat": lat, "lon": lon, "at": fix_time.isoformat(), "accuracy_m": 9.0}
    matches_the_document(day, "AgentDay")
    visited = next(m for m in day["missions"] if m["lease_ref"] == lease)
    assert visited["last_contact"]["kind"] == "visit" and visited["last_contact"]["outcome"] == "reached"
    status, _, other = served_app.call("POST", "/api/positions", {**batch, "agent_ref": "AGT-002"}, token=token)
    assert status == 403


def test_the_day_is_the_agents_own_in_route_order_and_follows_his_writes(served_app):
    token = served_app.token("t-agent")
    status, headers, day = served_app.call("GET", f"/api/agent/today?date={TODAY.isoformat()}", token=token)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert set(day) == {"agent_ref", "agent_name", "date", "tiles_url", "settings", "position", "missions"}
    matches_the_document(day, "AgentDay")
    assert (day["agent_ref"], day["agent_name"], day["date"]) == ("AGT-001", users.get("t-agent").agent_name,
                                                                  TODAY.isoformat())
    assert day["tiles_url"] == "https://tile.openstreetmap.org/{Z}/{X}/{Y}.png"
    assert day["settings"] == {"position_interval_s": 20, "low_battery": 0.2}
    status, _, listed = served_app.call("GET", f"/api/missions?date={TODAY.isoformat()}", token=token)
    assert [m["mission_ref"] for m in day["missions"]] == [r["mission_ref"] for r in listed["rows"]]
    for mission in day["missions"]:
        assert set(mission) == MISSION_KEYS
        assert mission["kind"] in ("call", "visit") and isinstance(mission["arrears"], int)
        if mission["eta"] is not None:
            assert dt.datetime.fromisoformat(mission["eta"]).utcoffset() == dt.timedelta(0)
    visits = [m["route_order"] for m in day["missions"] if m["kind"] == "visit"]
    assert visits == sorted(visits)
    target = day["missions"][0]
    due = (TODAY + dt.timedelta(days=3)).isoformat()
    assert served_app.call("POST", "/api/calls", {"lease_ref": target["lease_ref"], "outcome": "promise",
                                                  "client_id": "tecno-call-1"}, token=token)[0] == 201
    assert served_app.call("POST", "/api/promises", {"lease_ref": target["lease_ref"], "amount": 120_000,
                                                     "due_date": due}, token=token)[0] == 201
    status, _, after = served_app.call("GET", "/api/agent/today", token=token)
    mission = next(m for m in after["missions"] if m["mission_ref"] == target["mission_ref"])
    assert mission["last_contact"]["kind"] == "call" and mission["last_contact"]["outcome"] == "promise"
    assert dt.datetime.fromisoformat(mission["last_contact"]["at"]).utcoffset() == dt.timedelta(0)
    assert mission["promise"] == {"amount": 120_000, "due_date": due, "status": "pending"}
    matches_the_document(after, "AgentDay")


def test_an_agent_never_reads_another_agents_day(served_app):
    mine = served_app.call("GET", "/api/agent/today", token=served_app.token("t-agent"))[2]
    token2 = served_app.token("t-agent2")
    status, _, theirs = served_app.call("GET", "/api/agent/today", token=token2)
    assert status == 200 and theirs["agent_ref"] == "AGT-002" and theirs["missions"]
    assert not {m["mission_ref"] for m in mine["missions"]} & {m["mission_ref"] for m in theirs["missions"]}
    status, _, body = served_app.call("GET", "/api/agent/today?agent=AGT-001", token=token2)
    assert status == 400 and "Paramètre inconnu : agent" in body["error"]
    assert not any(m["mission_ref"] in json.dumps(body) for m in mine["missions"])
    status, _, body = served_app.call("GET", "/api/reads/agent_day?agent_ref=AGT-001", token=token2)
    assert status == 403 and "Accès refusé" in body["error"]
    assert served_app.call("GET", "/api/agent/today?date=demain", token=token2)[0] == 400


def test_the_day_for_other_callers(served_app):
    cookie = session_cookie(served_app.base, "t-agent")      # a logged-in browser: the same day
    status, _, day = served_app.call("GET", "/api/agent/today", cookie=cookie)
    assert status == 200 and day["agent_ref"] == "AGT-001"
    admin = users.rotate_token("t-admin", actor="test")
    status, _, body = served_app.call("GET", "/api/agent/today", token=admin)
    assert status == 403 and "réservée aux agents" in body["error"]
    status, headers, body = served_app.call("GET", "/api/agent/today")
    assert status == 401 and "WWW-Authenticate" in headers


# --- logout and revocation ----------------------------------------------------------------------

def _cli_env(served_app) -> dict:
    s = served_app.settings
    return {"AKIG_DATABASE_URL": s.database_url, "AKIG_REDIS_URL": s.redis_url, "AKIG_CACHE_PREFIX": s.cache_prefix}


def _refused_everywhere(served_app, token: str, lease: str) -> None:
    assert served_app.call("GET", "/api/agent/today", token=token)[0] == 401
    assert served_app.call("GET", "/api/me", token=token)[0] == 401
    assert served_app.call("POST", "/api/calls", {"lease_ref": lease, "outcome": "reached"}, token=token)[0] == 401
    batch = {"agent_ref": "AGT-001", "fixes": [{"t": dt.datetime.now(dt.timezone.utc).isoformat(), "lat": 9.6,
                                                "lon": -13.6}]}
    assert served_app.call("POST", "/api/positions", batch, token=token)[0] == 401
    assert served_app.call("POST", "/api/agent/logout", token=token)[0] == 401


def test_logout_revokes_the_phones_token_only(served_app):
    token, other = served_app.token("t-agent", device="A"), served_app.token("t-agent", device="B")
    lease = served_app.call("GET", "/api/agent/today", token=token)[2]["missions"][0]["lease_ref"]
    status, _, body = served_app.call("POST", "/api/agent/logout", token=token)
    assert (status, body) == (200, {"revoked": True})
    _refused_everywhere(served_app, token, lease)
    assert served_app.call("GET", "/api/agent/today", token=other)[0] == 200
    entry = audit.entries(action="device_revoke").iloc[0]
    assert entry["actor"] == "t-agent" and '"logout"' in entry["details"]


def test_logout_wants_a_live_device_token(served_app):
    api_token = users.rotate_token("t-agent", actor="test")
    for token in (None, api_token, "akigd_" + "x" * 43):
        status, headers, body = served_app.call("POST", "/api/agent/logout", token=token)
        assert status == 401 and body["error"] and "WWW-Authenticate" in headers
    assert served_app.call("GET", "/api/me", token=api_token)[0] == 200


def test_an_administrator_revokes_a_lost_phone_with_the_cli(served_app):
    token = served_app.token("t-agent", device="Volé")
    lease = served_app.call("GET", "/api/agent/today", token=token)[2]["missions"][0]["lease_ref"]
    device_id = next(d.id for d in device_rows("t-agent") if d.label == "Volé")
    runner = CliRunner()
    from akig_cli.main import app

    listing = runner.invoke(app, ["users", "devices", "t-agent"], env=_cli_env(served_app))
    assert listing.exit_code == 0
    line = next(line for line in listing.output.splitlines() if line.split()[0] == str(device_id))
    assert " active " in line and line.endswith("Volé") and "never" not in line   # used once already
    revoked = runner.invoke(app, ["users", "devices", "t-agent", "--revoke", str(device_id)], env=_cli_env(served_app))
    unknown = runner.invoke(app, ["users", "devices", "t-agent", "--revoke", "987654"], env=_cli_env(served_app))
    runtime.configure(served_app.settings)   # the CLI configured the data layer for itself
    assert revoked.exit_code == 0 and f"device {device_id} (Volé) revoked for t-agent" in revoked.output
    assert unknown.exit_code == 2 and "Appareil inconnu" in unknown.output
    _refused_everywhere(served_app, token, lease)
    assert not next(d for d in device_rows("t-agent") if d.id == device_id).active
