"""POST /api/calls|visits|promises|payments against a real server (as akig_app): created, idempotent,
every bad body a 4xx JSON error that writes nothing, roles, XSRF for browser sessions; and the SMS
gateway's webhooks (delivery reports, STOP answers), which take the gateway's token and nothing else."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request

import pytest
import sqlalchemy as sa

from akig_data import reads, runtime
from akig_data.access import roles
from akig_data.writes import users
from tests.conftest import SMALL_UNTIL, give_mission, settings_for
from tests.serving import TEST_USERS, seeded_server, session_cookie

TODAY = dt.datetime.now(dt.timezone.utc).date()
TODAY_FOLLOWS_THE_CLOCK = True   # tests/conftest.py sets TODAY again before each test
SMS_TOKEN = "sms-gateway-webhook-token"


@pytest.fixture(scope="module")
def api(databases, seeded_template, redis_url, tmp_path_factory):
    """A server of its own over a copy of the small data set (these tests write), with tokens."""
    with seeded_server(databases, seeded_template, redis_url, tmp_path_factory.mktemp("api"), "api",
                       env_extra={"AKIG_SMS_WEBHOOK_TOKEN": SMS_TOKEN}) as (base, url):
        runtime.configure(settings_for(url, redis_url))
        tokens = {name: users.rotate_token(name, actor="test") for name in TEST_USERS}
        lease = reads.arrears_by_lease(as_of=SMALL_UNTIL).sort_values("arrears")["lease_ref"].iloc[-1]
        # t-agent (AGT-001) writes on the leases of his missions only: one yesterday on this lease
        give_mission(runtime.get_runtime(), "AGT-001", lease, TODAY - dt.timedelta(days=1))
        yield base, tokens, lease, runtime.get_runtime().engine
        runtime.reset()


def post(base: str, path: str, body, token: str | None = None, cookie: str | None = None, raw: bytes | None = None,
         headers: dict | None = None):
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if cookie:
        request.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
                for t in ("calls", "visits", "promises", "payments")}


def test_an_agent_records_a_call_a_promise_and_a_payment(api):
    base, tokens, lease, engine = api
    agent = tokens["t-agent"]
    status, body = post(base, "/api/calls", {"lease_ref": lease, "outcome": "promise", "client_id": "ph-1"}, agent)
    assert status == 201 and body["kind"] == "call" and not body["duplicate"]
    status, again = post(base, "/api/calls", {"lease_ref": lease, "outcome": "promise", "client_id": "ph-1"}, agent)
    assert status == 200 and again["duplicate"] and again["ref"] == body["ref"]
    status, body = post(base, "/api/promises", {"lease_ref": lease, "amount": 150000,
                                                "due_date": (TODAY + dt.timedelta(days=2)).isoformat()}, agent)
    assert status == 201 and body["amount"] == 150000
    status, body = post(base, "/api/payments", {"lease_ref": lease, "amount": 150000, "method": "mtn_momo",
                                                "reference": "MOMO-778899"}, agent)
    assert status == 201 and body["receipt_no"].startswith("REC-")
    with engine.connect() as conn:
        who = conn.execute(sa.text("SELECT a.agent_ref, p.recorded_by FROM payments p JOIN agents a ON a.id = p.agent_id "
                                   "WHERE p.payment_ref = :r"), {"r": body["ref"]}).one()
    assert tuple(who) == ("AGT-001", "t-agent")


def test_a_visit_reports_its_proof(api):
    base, tokens, lease, engine = api
    with engine.connect() as conn:
        lat, lon = conn.execute(sa.text("SELECT s.lat, s.lon FROM leases l JOIN sites s ON s.id = l.site_id "
                                        "WHERE l.lease_ref = :r"), {"r": lease}).one()
    status, body = post(base, "/api/visits", {"lease_ref": lease, "outcome": "reached", "lat": lat, "lon": lon,
                                              "accuracy_m": 5}, tokens["t-manager"])
    assert status == 400 and "agent_ref" in body["error"]  # a manager names the agent who visited
    status, body = post(base, "/api/visits", {"lease_ref": lease, "outcome": "reached", "lat": lat, "lon": lon,
                                              "accuracy_m": 5, "agent_ref": "AGT-003"}, tokens["t-manager"])
    assert status == 201 and body["proof"] is True and body["distance_m"] == 0


@pytest.mark.parametrize("path, body, raw, status, message", [
    ("/api/calls", None, b"{not json", 400, "JSON invalide"),
    ("/api/calls", None, b"[1, 2]", 400, "objet JSON"),
    ("/api/calls", {"outcome": "reached"}, None, 400, "Champ obligatoire manquant : lease_ref"),
    ("/api/calls", {"lease_ref": "L", "outcome": "reached", "extra": 1}, None, 400, "Champ inconnu : extra"),
    ("/api/calls", {"lease_ref": 12, "outcome": "reached"}, None, 400, "lease_ref"),
    ("/api/calls", {"lease_ref": "BAIL-NOPE", "outcome": "reached"}, None, 400, "Bail inconnu"),
    ("/api/calls", {"lease_ref": "LEASE", "outcome": ["x"]}, None, 400, "outcome"),
    ("/api/calls", {"lease_ref": "LEASE", "outcome": "reached", "agent_ref": {"a": 1}}, None, 400, "agent_ref"),
    ("/api/promises", {"lease_ref": "LEASE", "amount": "beaucoup", "due_date": "2099-01-01"}, None, 400, "entier"),
    ("/api/promises", {"lease_ref": "LEASE", "amount": 1000, "due_date": "2020-01-01"}, None, 400, "déjà passée"),
    ("/api/payments", {"lease_ref": "LEASE", "amount": -1, "method": "cash"}, None, 400, "supérieur à zéro"),
    ("/api/payments", {"lease_ref": "LEASE", "amount": 1000, "method": "cash", "paid_at": 12}, None, 400, "paid_at"),
    ("/api/visits", {"lease_ref": "LEASE", "outcome": "reached", "lat": "x", "lon": 0}, None, 400, "lat"),
    ("/api/calls", None, b"{" + b" " * (70 * 1024) + b"}", 413, "trop gros"),
])
def test_bad_bodies_are_4xx_json_and_write_nothing(api, path, body, raw, status, message):
    base, tokens, lease, engine = api
    if body is not None:
        body = {k: (lease if v == "LEASE" else v) for k, v in body.items()}
    before = counts(engine)
    got, answer = post(base, path, body, tokens["t-agent"], raw=raw)
    assert got == status and message in answer["error"]
    assert counts(engine) == before


@pytest.mark.parametrize("role", roles.ROLES)
def test_writes_follow_the_access_table(api, role):
    base, tokens, lease, engine = api
    username = next(n for n, (r, _) in TEST_USERS.items() if r == role)
    body = {"lease_ref": lease, "outcome": "no_answer"} | ({} if role == "agent" else {"agent_ref": "AGT-002"})
    status, answer = post(base, "/api/calls", body, tokens[username])
    assert status == (201 if roles.can_write_collection(role) else 403), answer


def test_an_agent_cannot_write_in_another_agents_name(api):
    base, tokens, lease, _ = api
    status, body = post(base, "/api/calls", {"lease_ref": lease, "outcome": "reached", "agent_ref": "AGT-002"},
                        tokens["t-agent"])
    assert status == 403 and "propres actions" in body["error"]


WRITE_BODIES = {
    "/api/calls": {"outcome": "reached"},
    "/api/visits": {"outcome": "reached", "lat": 9.55, "lon": -13.65},
    "/api/promises": {"amount": 1000, "due_date": (TODAY + dt.timedelta(days=2)).isoformat()},
    "/api/payments": {"amount": 1000, "method": "cash"},
}


def test_a_lease_outside_the_agents_missions_is_answered_like_an_unknown_one(api):
    base, tokens, _, engine = api
    with engine.connect() as conn:
        other = conn.execute(sa.text(
            "SELECT l.lease_ref FROM leases l WHERE NOT EXISTS (SELECT 1 FROM missions m JOIN agents a"
            " ON a.id = m.agent_id WHERE m.lease_id = l.id AND a.agent_ref = 'AGT-001') LIMIT 1")).scalar()
    before = counts(engine)
    for path, body in WRITE_BODIES.items():
        forbidden = post(base, path, {"lease_ref": other, **body}, tokens["t-agent"])
        unknown = post(base, path, {"lease_ref": "BAIL-NOPE", **body}, tokens["t-agent"])
        assert forbidden[0] == unknown[0] == 400, (path, forbidden, unknown)
        assert forbidden[1]["error"].replace(other, "?") == unknown[1]["error"].replace("BAIL-NOPE", "?")
        assert forbidden[1]["error"].startswith("Bail inconnu")
    assert counts(engine) == before
    status, _ = post(base, "/api/calls", {"lease_ref": other, "outcome": "reached", "agent_ref": "AGT-001"},
                     tokens["t-manager"])
    assert status == 201   # a manager writes on any lease


def test_another_agent_reusing_a_client_id_gets_his_own_write_not_the_first_receipt(api):
    base, tokens, lease, engine = api
    if users.get("t-agent2") is None:
        users.add("t-agent2", "Test-password-2", "agent", actor="test", agent_ref="AGT-002")
    token2 = users.rotate_token("t-agent2", actor="test")
    with engine.connect() as conn:
        theirs = conn.execute(sa.text("SELECT lease_ref FROM leases WHERE lease_ref <> :l ORDER BY id LIMIT 1"),
                              {"l": lease}).scalar()
    give_mission(runtime.get_runtime(), "AGT-002", theirs, TODAY)
    body = {"amount": 5000, "method": "cash", "client_id": "phone-7/1"}
    status, first = post(base, "/api/payments", {"lease_ref": lease, **body}, tokens["t-agent"])
    assert status == 201
    status, second = post(base, "/api/payments", {"lease_ref": theirs, **body}, token2)
    assert status == 201 and not second["duplicate"]
    assert second["receipt_no"] != first["receipt_no"] and second["ref"] != first["ref"]
    status, again = post(base, "/api/payments", {"lease_ref": lease, **body}, tokens["t-agent"])
    assert status == 200 and again["duplicate"] and again["receipt_no"] == first["receipt_no"]


def test_a_browser_session_must_send_the_xsrf_token(api):
    base, _, lease, _ = api
    cookie = session_cookie(base, "t-manager")
    body = {"lease_ref": lease, "outcome": "reached", "agent_ref": "AGT-002"}
    status, answer = post(base, "/api/calls", body, cookie=f"user={cookie}")
    assert status == 403 and "XSRF" in answer["error"]
    with urllib.request.urlopen(base + "/login") as response:  # the page sets the _xsrf cookie
        xsrf = response.headers["Set-Cookie"].split("_xsrf=")[1].split(";")[0]
    status, _ = post(base, "/api/calls", body, cookie=f"user={cookie}; _xsrf={xsrf}", headers={"X-XSRFToken": "forged"})
    assert status == 403
    status, _ = post(base, "/api/calls", body, cookie=f"user={cookie}; _xsrf={xsrf}", headers={"X-XSRFToken": xsrf})
    assert status == 201


def test_without_credentials_nothing_is_written(api):
    base, _, lease, engine = api
    before = counts(engine)
    status, _ = post(base, "/api/payments", {"lease_ref": lease, "amount": 1000, "method": "cash"})
    assert status == 401 and counts(engine) == before


def get_json(base: str, path: str, token: str):
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_missions_stats_performance_and_leaderboards_over_the_api(api):
    base, tokens, lease, engine = api
    status, body = post(base, "/api/missions/generate", {"date": "2020-01-01"}, tokens["t-manager"])
    assert status == 400 and "journée passée" in body["error"]
    assert post(base, "/api/missions/generate", {"date": TODAY.isoformat()}, tokens["t-agent"])[0] == 403
    assert post(base, "/api/missions/generate", {"day": "x"}, tokens["t-manager"])[0] == 400
    status, report = post(base, "/api/missions/generate", {"date": TODAY.isoformat()}, tokens["t-manager"])
    assert status == 200 and report["planned_visits"] + report["planned_calls"] > 0

    status, mine = get_json(base, f"/api/missions?date={TODAY}&page_size=5", tokens["t-agent"])
    assert status == 200 and {r["agent_ref"] for r in mine["rows"]} <= {"AGT-001"} and mine["page_size"] == 5
    assert get_json(base, f"/api/missions?date={TODAY}&agent=AGT-002", tokens["t-agent"])[0] == 403
    status, everyone = get_json(base, f"/api/missions?date={TODAY}&page=2&page_size=10", tokens["t-manager"])
    assert status == 200 and everyone["page"] == 2 and everyone["total"] >= mine["total"]
    assert get_json(base, "/api/missions?page=0", tokens["t-manager"])[0] == 400

    if mine["rows"]:  # the agent may open the history of a tenant of his missions, not another's
        tenant = mine["rows"][0]["tenant_ref"]
        status, history = get_json(base, f"/api/tenants/{tenant}/history", tokens["t-agent"])
        assert status == 200 and "rows" in history
    with engine.connect() as conn:
        other = conn.execute(sa.text(
            "SELECT t.tenant_ref FROM tenants t WHERE NOT EXISTS (SELECT 1 FROM missions m JOIN leases l ON l.id = m.lease_id "
            "JOIN agents a ON a.id = m.agent_id WHERE l.tenant_id = t.id AND a.agent_ref = 'AGT-001') LIMIT 1")).scalar()
    assert get_json(base, f"/api/tenants/{other}/history", tokens["t-agent"])[0] == 400
    assert get_json(base, f"/api/tenants/{other}/history", tokens["t-manager"])[0] == 200

    status, stats = get_json(base, f"/api/stats/daily?date={TODAY}", tokens["t-manager"])
    assert status == 200 and stats["rows"][-1]["is_total"] is True
    assert get_json(base, f"/api/stats/daily?date={TODAY}", tokens["t-owner"])[0] == 403
    status, perf = get_json(base, "/api/agents/AGT-001/performance", tokens["t-agent"])
    assert status == 200 and perf["agent_ref"] == "AGT-001" and 0 <= perf["score"] <= 100
    assert get_json(base, "/api/agents/AGT-002/performance", tokens["t-agent"])[0] == 403
    assert get_json(base, "/api/agents/AGT-999/performance", tokens["t-manager"])[0] == 400
    status, board = get_json(base, f"/api/leaderboard?date={TODAY}", tokens["t-agent"])
    assert status == 200 and [r["rank"] for r in board["rows"]] == list(range(1, len(board["rows"]) + 1))
    status, month = get_json(base, f"/api/leaderboard?month={TODAY:%Y-%m}", tokens["t-analyst"])
    assert status == 200 and month["total"] >= 1


def test_the_sms_gateways_webhooks_take_its_token_only(api):
    base, tokens, lease, engine = api
    with engine.begin() as conn:   # a reminder the gateway took, as the outbox leaves it
        conn.execute(sa.text(
            "INSERT INTO reminder_outbox (lease_id, owner_id, due_mi, due_date, step_code, step_label, phone, body, "
            "status, next_attempt_at, provider, provider_id, sent_at) SELECT l.id, l.owner_id, 1, DATE '2026-06-01', "
            "'late_1', 'J+1', '+224620000111', 'Bonjour', 'sent', now(), 'http', 'gw-77', now() "
            "FROM leases l WHERE l.lease_ref = :l"), {"l": lease})
    report = {"id": "gw-77", "status": "DELIVRD"}
    assert post(base, "/api/sms/delivery", report)[0] == 401
    assert post(base, "/api/sms/delivery", report, token=tokens["t-admin"])[0] == 401   # a user's token is not it
    assert post(base, "/api/sms/delivery", report, token=SMS_TOKEN + "x")[0] == 401
    assert post(base, "/api/sms/delivery", {"id": "gw-77", "status": "maybe"}, token=SMS_TOKEN)[0] == 400
    assert post(base, "/api/sms/delivery", None, token=SMS_TOKEN, raw=b"{not json")[0] == 400
    assert post(base, "/api/sms/delivery", {"id": "gw-78", "status": "delivered"}, token=SMS_TOKEN) == \
        (200, {"updated": False})
    assert post(base, "/api/sms/delivery", report, token=SMS_TOKEN) == (200, {"updated": True})
    assert post(base, "/api/sms/inbound", {"from": "00224620000111", "text": "merci"}, token=SMS_TOKEN) == \
        (200, {"opted_out": False})
    assert post(base, "/api/sms/inbound", {"from": "00224620000111", "text": "STOP"}, token=SMS_TOKEN) == \
        (200, {"opted_out": True})
    assert post(base, "/api/sms/inbound", {"from": 5, "text": "STOP"}, token=SMS_TOKEN)[0] == 400
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM reminder_outbox WHERE provider_id = 'gw-77'")).scalar() == \
            "delivered"
        assert conn.execute(sa.text("SELECT source FROM sms_optouts WHERE phone = '+224620000111'")).scalar() == "stop"
