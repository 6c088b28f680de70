"""/agent, the agents' phone app, in headless Chromium at phone size (360×640), against a served AKIG over
the small data set: an agent with today's missions logs in, records calls, visits, promises and payments
online and offline, shares his position on duty, loses his device token; the pages pass axe-core.

One server for the module (its database is this module's own: the tests write); each test opens its own
browser context, so its own storage and service worker."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from akig_data import runtime
from akig_data.clock import TZ, today
from tests.conftest import settings_for
from tests.dashboards.server.test_server import SCREENSHOTS
from tests.serving import start_server, stop_server

AGENT_USER = "t-field"
AGENT_PASSWORD = "Field-password-1"
AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
APP = Path(__file__).resolve().parents[2] / "dashboards" / "agent_app"
PHONE = {
    "viewport": {"width": 360, "height": 640}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
    "locale": "fr-FR", "timezone_id": "Africa/Conakry",
    "user_agent": "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/120.0.0.0 Mobile Safari/537.36",
}
FIRST_LOAD_LIMIT = 250 * 1024


@pytest.fixture(scope="module")
def field(databases, seeded_template, redis_url, tmp_path_factory):
    """A served AKIG whose agent AGENT_USER has eight missions today (four visits in route order, four
    calls). Yields a namespace: base URL, engine (as the tables' owner), agent_ref, the missions."""
    name = databases.create("agentapp", template=seeded_template)
    url = databases.url(name)
    runtime.configure(settings_for(url, redis_url))
    try:
        from akig_data.writes import users

        engine = runtime.get_runtime().engine
        with engine.begin() as conn:
            agent_ref = conn.execute(sa.text("SELECT agent_ref FROM agents WHERE active ORDER BY agent_ref "
                                             "OFFSET 1 LIMIT 1")).scalar()
            leases = conn.execute(sa.text(   # one lease per site: eight stops apart on the map
                "SELECT lease_ref FROM (SELECT DISTINCT ON (s.id) l.lease_ref FROM leases l "
                "JOIN sites s ON s.id = l.site_id WHERE (l.end_date IS NULL OR l.end_date >= :d) "
                "AND s.lat IS NOT NULL ORDER BY s.id, l.lease_ref) one ORDER BY lease_ref LIMIT 8"),
                {"d": today()}).scalars().all()
            start = dt.datetime.combine(today(), dt.time(9, 0), TZ)
            for i, lease in enumerate(leases):
                kind, order = ("visit", i + 1) if i < 4 else ("call", i - 3)
                conn.execute(sa.text(
                    "INSERT INTO missions (mission_ref, day, agent_id, lease_id, kind, reason, arrears, chance, "
                    "priority, route_order, eta) SELECT :ref, :day, a.id, l.id, :kind, 'arrears', 500000, 0.5, "
                    ":prio, :order, :eta FROM agents a, leases l WHERE a.agent_ref = :agent AND l.lease_ref = :lease"),
                    {"ref": f"M-APP-{i}", "day": today(), "kind": kind, "prio": 1000 - i, "order": order,
                     "eta": start + dt.timedelta(minutes=30 * i), "agent": agent_ref, "lease": lease})
        users.add(AGENT_USER, AGENT_PASSWORD, "agent", agent_ref=agent_ref, actor="test")
        sites = {r.lease_ref: (r.lat, r.lon) for r in engine.connect().execute(sa.text(
            "SELECT l.lease_ref, s.lat, s.lon FROM leases l JOIN sites s ON s.id = l.site_id "
            "WHERE l.lease_ref = ANY(:l)"), {"l": list(leases)})}
    finally:
        runtime.reset()
    proc, base = start_server(url, redis_url, tmp_path_factory.mktemp("agentapp"),
                              env_extra={"AKIG_AGENT_POSITION_INTERVAL_S": "5"})
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        yield type("Field", (), {"base": base, "engine": engine, "agent_ref": agent_ref, "leases": leases,
                                 "sites": sites, "url": url, "redis_url": redis_url})
    finally:
        engine.dispose()
        stop_server(proc)
        databases.drop(name)


def _rows(field, sql: str, **params) -> list:
    with field.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def _phone(browser, field, *, geolocation=None, bypass_csp=False):
    """A new phone: its own storage, mobile emulation, geolocation allowed, requests leaving the machine
    (the basemap's tiles) refused so that the test never depends on the internet."""
    context = browser.new_context(**PHONE, geolocation=geolocation or {"latitude": 9.55, "longitude": -13.65},
                                  permissions=["geolocation"], bypass_csp=bypass_csp)
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(field.base)
                  else route.abort())
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}")
            # refused requests (tiles, a 4xx the app shows) are logged by Chromium: not the app's errors
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    return context, page, problems


def _log_in(page, field, password: str = AGENT_PASSWORD) -> None:
    page.goto(field.base + "/agent")
    page.get_by_label("Identifiant").fill(AGENT_USER)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.locator("#missions > li").first.wait_for(timeout=20_000)


def _mission(page, lease_ref: str):
    return page.locator(f"#missions > li[data-lease='{lease_ref}']")


def _record(page, lease_ref: str, kind: str, **fields) -> None:
    """Open a mission's form for `kind` (Appel, Visite, Promesse, Paiement), fill it, save it."""
    _mission(page, lease_ref).get_by_role("button", name=re.compile(f"^{kind}")).click()
    dialog = page.locator("dialog#entry")
    for label, value in fields.items():
        control = dialog.get_by_label(label)
        if control.evaluate("el => el.tagName") == "SELECT":
            control.select_option(label=value)
        else:
            control.fill(value)
    if kind == "Visite":
        dialog.get_by_text("Position relevée").wait_for(timeout=10_000)
    dialog.get_by_role("button", name="Enregistrer").click()
    dialog.wait_for(state="hidden")


def _entry(page, index: int = 0):
    """The outbox's entries, newest first."""
    return page.locator("#outbox > li").nth(index)


def _session(page) -> dict:
    """What the app keeps of its login in IndexedDB: the device token, its id, the user."""
    return page.evaluate("""() => new Promise((resolve, reject) => {
        const open = indexedDB.open('akig-agent');
        open.onsuccess = () => {
            const get = open.result.transaction('kv').objectStore('kv').get('session');
            get.onsuccess = () => { resolve(get.result); open.result.close(); };
            get.onerror = () => reject(get.error);
        };
    })""")


def _token(page) -> str:
    return _session(page)["token"]


def _api(field, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(field.base + path, method="GET" if body is None else "POST",
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


# --- served files ---------------------------------------------------------------------------------

def _get(url: str, **headers):
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _shell_paths() -> list[str]:
    return json.loads("[" + re.search(r"const SHELL = \[(.*?)\];", (APP / "sw.js").read_text(), re.S)
                      .group(1).strip().rstrip(",") + "]")


def test_the_app_is_served_with_a_strict_policy_and_no_login(field):
    status, headers, body = _get(field.base + "/agent")   # no cookie: the page is only the shell
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    policy = dict(d.strip().split(" ", 1) for d in headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'" and policy["connect-src"] == "'self'"
    assert policy["img-src"] == "'self' data: https://tile.openstreetmap.org"   # the tiles' origin, no more
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'"
    assert policy["worker-src"] == "'self'" and policy["manifest-src"] == "'self'"
    assert not any("unsafe" in v or "*" in v for v in policy.values())
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cache-Control"] == "no-cache"
    page = body.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)       # no inline script
    assert not re.search(r"\son[a-z]+\s*=", page) and " style=" not in page and "<style" not in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)           # nothing from elsewhere
    # Every file the page and the service worker name is served from /agent, with its own type.
    named = set(re.findall(r"(?:src|href)=\"(/agent/[^\"]+)\"", page)) | set(_shell_paths())
    types = {".js": "text/javascript", ".css": "text/css", ".png": "image/png",
             ".webmanifest": "application/manifest+json"}
    assert {p.name for p in APP.iterdir() if p.name not in ("index.html", "sw.js")} <= {p.rsplit("/", 1)[1] for p in named}
    for path in sorted(named - {"/agent"}):
        status, headers, _ = _get(field.base + path)
        assert status == 200, path
        assert headers["Content-Type"].startswith(types[Path(path).suffix]), path
        assert headers["X-Content-Type-Options"] == "nosniff" and "Content-Security-Policy" in headers
    status, headers, worker = _get(field.base + "/agent/sw.js")
    assert headers["Service-Worker-Allowed"] == "/agent"
    assert b"{{shell_version}}" not in worker and re.search(rb'const VERSION = "[0-9a-f]{16}"', worker)
    assert _get(field.base + "/agent/nothing.js")[0] == 404
    assert _get(field.base + "/agent/../pyproject.toml")[0] == 404


def test_the_files_revalidate_and_the_first_load_is_small(field):
    status, headers, body = _get(field.base + "/agent/app.js", **{"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip" and gzip.decompress(body).startswith(b"//")
    assert _get(field.base + "/agent/app.js", **{"Accept-Encoding": "gzip", "If-None-Match": headers["Etag"]})[0] == 304
    total = 0
    for path in _shell_paths():
        status, headers, body = _get(field.base + path, **{"Accept-Encoding": "gzip"})
        total += len(body) + sum(len(k) + len(v) + 4 for k, v in headers.items())
    assert total <= FIRST_LOAD_LIMIT, f"the app shell weighs {total} bytes"


# --- in the phone ---------------------------------------------------------------------------------

def test_log_in_and_see_the_day_in_route_order(field, browser):
    context, page, problems = _phone(browser, field)
    page.goto(field.base + "/agent")
    page.get_by_role("heading", name="Connexion").wait_for()
    assert page.get_by_label("Nom de ce téléphone").input_value().startswith("Android")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "agent_connexion.png"))
    # what the first visit downloaded: the page, its files, the manifest and icon (headers included)
    first_load = page.evaluate("""() => performance.getEntriesByType('navigation').concat(
        performance.getEntriesByType('resource')).reduce((sum, e) => sum + e.transferSize, 0)""")
    assert 0 < first_load <= FIRST_LOAD_LIMIT
    page.get_by_label("Identifiant").fill(AGENT_USER)
    page.get_by_label("Mot de passe").fill("Wrong-password-1")
    page.get_by_role("button", name="Se connecter").click()
    assert page.get_by_role("alert").filter(has_text=re.compile(r"\w")).first.inner_text(timeout=10_000)
    _log_in(page, field)
    status, day = _api(field, "/api/agent/today", _token(page))
    assert status == 200
    shown = page.locator("#missions > li").evaluate_all("items => items.map(li => li.dataset.lease)")
    assert shown == [m["lease_ref"] for m in day["missions"]] and sorted(shown) == sorted(field.leases)
    visits = [m["route_order"] for m in day["missions"] if m["kind"] == "visit"]
    assert visits == sorted(visits)
    first = _mission(page, day["missions"][0]["lease_ref"])
    assert re.search(r"\d{1,3}(\u202f\d{3})*\u00a0GNF", first.locator(".arrears").inner_text())
    assert first.get_by_role("link", name=re.compile("^Itinéraire")).get_attribute("href").startswith("geo:")
    assert page.locator("#map svg .map-stop").count() == 4       # the visits, drawn without tiles
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / "agent_aujourdhui.png"))
    context.close()
    assert problems == []


def test_a_call_and_a_visit_reach_the_desk(field, browser):
    lease_visit, lease_call = field.leases[0], field.leases[4]
    lat, lon = field.sites[lease_visit]
    context, page, problems = _phone(browser, field, geolocation={"latitude": lat, "longitude": lon, "accuracy": 12})
    _log_in(page, field)
    _record(page, lease_call, "Appel", **{"Résultat de l'appel": "joint", "Note (facultatif)": "Rappeler lundi"})
    _record(page, lease_visit, "Visite", **{"Résultat de la visite": "absent"})
    page.locator("#outbox .badge-sent").nth(1).wait_for(timeout=20_000)
    assert page.locator("#sync-status").inner_text().endswith("rien en attente")
    (visit,) = _rows(field, "SELECT v.lat, v.lon, v.accuracy_m, v.distance_m, v.outcome, v.proof FROM visits v "
                            "JOIN leases l ON l.id = v.lease_id WHERE l.lease_ref = :l AND v.recorded_by = :u",
                     l=lease_visit, u=AGENT_USER)
    assert (visit.lat, visit.lon, visit.accuracy_m, visit.outcome, visit.proof) == (
        pytest.approx(lat, abs=1e-6), pytest.approx(lon, abs=1e-6), 12, "absent", True)
    assert 0 <= visit.distance_m < 1   # the phone stood at the site: its distance to it is stored with the visit
    (call,) = _rows(field, "SELECT c.outcome, c.note FROM calls c JOIN leases l ON l.id = c.lease_id "
                           "WHERE l.lease_ref = :l AND c.recorded_by = :u", l=lease_call, u=AGENT_USER)
    assert tuple(call) == ("reached", "Rappeler lundi")
    # The desk reads the day's missions and figures: both actions are there.
    from akig_data import reads

    runtime.configure(settings_for(field.url, field.redis_url))
    try:
        missions = reads.missions(day=today(), agent_ref=field.agent_ref).set_index("lease_ref")
        stats = reads.daily_stats(day=today()).set_index("agent_ref")
    finally:
        runtime.reset()
    assert missions.loc[lease_visit, "status"] == "done" and missions.loc[lease_visit, "outcome"] == "absent"
    assert missions.loc[lease_call, "status"] == "done" and missions.loc[lease_call, "outcome"] == "reached"
    assert stats.loc[field.agent_ref, "calls"] >= 1 and stats.loc[field.agent_ref, "visits"] >= 1
    context.close()
    assert problems == []


def test_offline_entries_survive_a_reload_and_are_sent_once_in_order(field, browser):
    lease_visit, lease_pay = field.leases[1], field.leases[5]
    lat, lon = field.sites[lease_visit]
    context, page, problems = _phone(browser, field, geolocation={"latitude": lat, "longitude": lon, "accuracy": 8})
    _log_in(page, field)
    page.evaluate("navigator.serviceWorker.ready")
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=10_000)
    context.set_offline(True)
    _record(page, lease_visit, "Visite", **{"Résultat de la visite": "promesse"})
    _record(page, lease_pay, "Paiement", **{"Montant reçu (GNF)": "150000", "Moyen de paiement": "Orange Money",
                                             "Référence de la transaction": "OM-TEST-0001"})
    page.get_by_text("2 envois en attente").wait_for()
    page.reload()   # offline: the service worker serves the app, IndexedDB keeps the day and the entries
    page.locator("#missions > li").first.wait_for(timeout=10_000)
    assert page.locator("#sync-status").inner_text().startswith("Hors ligne · 2 envois en attente")
    assert page.locator("#outbox .badge-pending").count() == 2
    context.set_offline(False)
    page.get_by_text("reçu n°").first.wait_for(timeout=20_000)
    page.locator("#sync-status", has_text="rien en attente").wait_for(timeout=10_000)
    assert _rows(field, "SELECT count(*) FROM visits v JOIN leases l ON l.id = v.lease_id WHERE l.lease_ref = :l",
                 l=lease_visit)[0][0] == 1
    (payment,) = _rows(field, "SELECT p.amount, p.method, p.receipt_no FROM payments p JOIN leases l "
                              "ON l.id = p.lease_id WHERE l.lease_ref = :l AND p.recorded_by = :u",
                       l=lease_pay, u=AGENT_USER)
    assert (payment.amount, payment.method) == (150000, "orange_money")
    assert page.get_by_text(f"reçu n° {payment.receipt_no}").count() >= 1
    actions = [r.action for r in _rows(field, "SELECT action FROM audit_log WHERE actor = :u AND action IN "
                                              "('visit', 'payment') AND target IN (:a, :b) ORDER BY id",
                                       u=AGENT_USER, a=lease_visit, b=lease_pay)]
    assert actions == ["visit", "payment"]
    context.close()
    assert problems == []


def test_a_refused_entry_stays_with_the_servers_message(field, browser):
    lease_pay, lease_call = field.leases[6], field.leases[7]
    context, page, problems = _phone(browser, field)
    _log_in(page, field)
    _record(page, lease_pay, "Paiement", **{"Montant reçu (GNF)": "0", "Moyen de paiement": "espèces"})
    _record(page, lease_call, "Appel", **{"Résultat de l'appel": "pas de réponse"})
    refused = page.locator("#outbox > li.entry-refused")
    refused.locator(".entry-message").wait_for(timeout=20_000)
    assert "supérieur à zéro" in refused.locator(".entry-message").inner_text()
    page.locator("#outbox .badge-sent").first.wait_for(timeout=20_000)   # the call after it went
    page.reload()
    page.locator("#outbox > li.entry-refused .entry-message", has_text="supérieur à zéro").wait_for(timeout=10_000)
    assert _rows(field, "SELECT count(*) FROM payments p JOIN leases l ON l.id = p.lease_id WHERE l.lease_ref = :l "
                        "AND p.recorded_by = :u", l=lease_pay, u=AGENT_USER)[0][0] == 0
    context.close()
    assert problems == []


def test_on_duty_the_positions_reach_the_server_and_the_live_map(field, browser):
    context, page, problems = _phone(browser, field, geolocation={"latitude": 9.5412, "longitude": -13.6771,
                                                                 "accuracy": 15})
    _log_in(page, field)
    page.get_by_role("switch", name=re.compile("En tournée")).check()
    page.get_by_text("dernière position").wait_for(timeout=10_000)

    def stored() -> list:
        return _rows(field, "SELECT p.lat, p.lon FROM agent_positions p JOIN agents a ON a.id = p.agent_id "
                            "WHERE a.agent_ref = :a AND p.t > now() - interval '1 hour' ORDER BY p.t",
                     a=field.agent_ref)

    for _ in range(40):
        if stored():
            break
        page.wait_for_timeout(250)
    assert stored()[0][:2] == (pytest.approx(9.5412), pytest.approx(-13.6771))
    context.set_geolocation({"latitude": 9.5450, "longitude": -13.6700, "accuracy": 10})
    for _ in range(60):   # kept at most every interval/3 (here 5 s), posted every interval
        if any(abs(lat - 9.545) < 1e-6 for lat, _ in stored()):
            break
        page.wait_for_timeout(250)
    assert any(abs(lat - 9.545) < 1e-6 for lat, _ in stored())
    # ops see him move on the live map, exactly as from the simulator's posts
    from dashboards.widgets import map_layers
    from tests.dashboards.apps.test_live_map import open_map, wait_for_marker

    live, live_problems = open_map(browser, field.base, user="t-ops")
    x, y = map_layers.mercator([-13.6700], [9.5450])
    wait_for_marker(live, field.agent_ref, float(x[0]), float(y[0]))
    live.close()
    assert live_problems == []
    page.get_by_role("switch", name=re.compile("En tournée")).uncheck()
    page.get_by_text("Suivi GPS arrêté").wait_for()
    context.close()
    assert problems == []


# Chromium has no battery emulation: the page gets a battery whose level and charging state the test sets,
# with the events the Battery Status API sends when they change.
FAKE_BATTERY = """(() => {
    const battery = new EventTarget();
    battery.level = 0.08; battery.charging = false;
    window.__battery = battery;
    navigator.getBattery = () => Promise.resolve(battery);
})()"""


def test_on_duty_the_tracking_pauses_on_a_low_battery_until_it_charges(field, browser):
    lat, lon = 9.5333, -13.6601
    context, page, problems = _phone(browser, field, geolocation={"latitude": lat, "longitude": lon, "accuracy": 12})
    context.add_init_script(FAKE_BATTERY)
    _log_in(page, field)
    page.get_by_role("switch", name=re.compile("En tournée")).check()
    page.locator("#duty-status", has_text="Batterie faible (8 %)").wait_for(timeout=10_000)

    def here() -> int:
        return _rows(field, "SELECT count(*) FROM agent_positions p JOIN agents a ON a.id = p.agent_id "
                            "WHERE a.agent_ref = :a AND abs(p.lat - :lat) < 1e-6 AND abs(p.lon - :lon) < 1e-6",
                     a=field.agent_ref, lat=lat, lon=lon)[0][0]

    page.wait_for_timeout(6_000)   # more than the interval (5 s here): nothing taken, nothing posted
    assert here() == 0
    page.evaluate("() => { window.__battery.charging = true; window.__battery.dispatchEvent(new Event('chargingchange')); }")
    page.locator("#duty-status", has_text="En tournée").wait_for(timeout=10_000)
    for _ in range(60):
        if here():
            break
        page.wait_for_timeout(250)
    assert here() >= 1
    page.get_by_role("switch", name=re.compile("En tournée")).uncheck()
    context.close()
    assert problems == []


def test_a_revoked_device_gets_the_login_again(field, browser):
    context, page, problems = _phone(browser, field)
    _log_in(page, field)
    session = _session(page)
    token = session["token"]
    assert token.startswith("akigd_") and session["user"]["agent_ref"] == field.agent_ref
    revoke_device(field, session["device_id"])
    page.reload()   # the app asks for the day: 401, so it forgets everything and asks for a login
    page.get_by_role("heading", name="Connexion").wait_for(timeout=10_000)
    page.get_by_text("connectez-vous à nouveau").wait_for()
    assert "akig-agent" not in [d["name"] for d in page.evaluate("indexedDB.databases()")]   # wiped
    assert _api(field, "/api/agent/today", token)[0] == 401
    assert _api(field, "/api/calls", token, {"lease_ref": field.leases[4], "outcome": "reached"})[0] == 401
    context.close()
    assert problems == []


def test_an_entry_waiting_when_the_device_is_revoked_is_sent_after_the_agent_logs_in_again(field, browser):
    """A revoked phone forgets the day, but not the agent's unsent work (a promise taken offline): it is
    kept for him and sent once he logs in again; nobody else's login may send it."""
    lease = field.leases[2]
    due = (dt.date.today() + dt.timedelta(days=5)).isoformat()
    context, page, problems = _phone(browser, field)
    _log_in(page, field)
    page.evaluate("navigator.serviceWorker.ready")
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=10_000)
    device_id = _session(page)["device_id"]
    context.set_offline(True)
    _record(page, lease, "Promesse", **{"Montant promis (GNF)": "250000", "Date promise": due})
    page.get_by_text("1 envoi en attente").wait_for()
    revoke_device(field, device_id)
    context.set_offline(False)
    page.reload()
    page.locator("#login-error", has_text=f"quand {AGENT_USER} se reconnectera").wait_for(timeout=30_000)
    taken = ("SELECT count(*) FROM promises p JOIN leases l ON l.id = p.lease_id WHERE l.lease_ref = :l "
             "AND p.amount = 250000 AND p.due_date = :d")
    assert _rows(field, taken, l=lease, d=dt.date.fromisoformat(due))[0][0] == 0
    _log_in(page, field)
    page.locator("#sync-status", has_text="rien en attente").wait_for(timeout=20_000)
    assert _rows(field, taken, l=lease, d=dt.date.fromisoformat(due))[0][0] == 1
    context.close()
    assert problems == []


def revoke_device(field, device_id: int) -> None:
    """What a manager does with `akig users devices NAME --revoke ID`."""
    runtime.configure(settings_for(field.url, field.redis_url))
    try:
        from akig_data.writes import users

        users.revoke_device(AGENT_USER, device_id, actor="test")
    finally:
        runtime.reset()


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (scripts/install-system-deps.sh runs "
                                              "npm ci --prefix tests/browser/axe)")
def test_login_and_today_pass_axe(field, browser):
    context, page, problems = _phone(browser, field, bypass_csp=True)   # axe is injected as a script

    def serious() -> list[str]:
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        return [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in result["violations"]
                if v["impact"] in ("serious", "critical")]

    page.goto(field.base + "/agent")
    page.get_by_role("heading", name="Connexion").wait_for()
    assert serious() == []
    _log_in(page, field)
    page.locator("#outbox-empty, #outbox > li").first.wait_for()
    assert serious() == []
    context.close()
