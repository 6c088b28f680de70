"""The one server: /api/health, and every app path opened in headless Chromium."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from tornado.web import Application

from akig_data import runtime
from akig_data.config import Settings
from dashboards import catalog
from dashboards.server import api as http_handlers

SCREENSHOTS = Path(__file__).resolve().parents[3] / "screenshots"


def test_health_is_ok_and_says_nothing_secret(served):
    with urllib.request.urlopen(served + "/api/health") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/json")
        body = response.read().decode()
    report = json.loads(body)
    assert report["status"] == "ok"
    assert report["database"]["ok"] and report["database"]["schema_version"] >= 4
    assert report["cache"]["ok"] and report["cache"]["enabled"]
    assert not re.search(r"postgres|redis://|127\.0\.0\.1|password", body)


def test_unknown_path_is_404(served):
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(served + "/nulle-part")
    assert info.value.code == 404


@pytest.mark.parametrize("path", ["/proprietaire", "/classement"])
def test_pages_load_no_script_bundle_they_never_use(served, path):
    """A first visit downloads and compiles every script the page lists: Bokeh's WebGL and MathJax bundles
    (2 MB of the 6.3 MB) and FAST's web components are not among them, the widgets and tables ones are.
    Nothing is fetched from another host (the template's web font was)."""
    from tests.serving import session_cookie

    request = urllib.request.Request(served + path, headers={"Cookie": f"user={session_cookie(served, 't-admin')}"})
    with urllib.request.urlopen(request) as response:
        body = response.read().decode()
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', body)
    bundles = {Path(src.split("?")[0]).name for src in scripts}
    assert {"bokeh.min.js", "bokeh-widgets.min.js", "bokeh-tables.min.js"} <= bundles
    assert not bundles & {"bokeh-mathjax.min.js", "bokeh-gl.min.js", "fast-components.js"}, bundles
    links = re.findall(r'(?:src|href)="([^"]+)"', body)
    assert links and not [url for url in links if re.match(r"(https?:)?//", url)]


def test_several_server_processes_answer(small_db, redis_url, tmp_path):
    from tests.serving import start_server, stop_server

    proc, base = start_server(small_db, redis_url, tmp_path, "--num-procs", "2")
    try:
        for _ in range(6):
            with urllib.request.urlopen(base + "/api/health") as response:
                assert json.loads(response.read())["status"] == "ok"
            with urllib.request.urlopen(base + "/") as response:
                assert response.status == 200 and b"AKIG" in response.read()
    finally:
        stop_server(proc)


def serve_in_thread(app: Application, port: int):
    """Run a Tornado app on its own event loop in a thread (the browser tests own the main thread's loop)."""
    import asyncio
    import threading

    ready = threading.Event()
    holder: dict = {}

    def run():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        server = app.listen(port, address="127.0.0.1")
        holder.update(loop=loop, server=server)
        ready.set()
        loop.run_forever()
        server.stop()
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    return lambda: (holder["loop"].call_soon_threadsafe(holder["loop"].stop), thread.join(5))


def test_health_is_503_with_status_down_when_postgresql_is_down():
    from tests.serving import free_port

    runtime.configure(Settings(database_url="postgresql://postgres@127.0.0.1:1/akig", redis_url="off"))
    port = free_port()
    stop = serve_in_thread(Application(http_handlers.routes()), port)
    try:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10)
        assert info.value.code == 503
        report = json.loads(info.value.read())
    finally:
        stop()
        runtime.reset()
    assert report["status"] == "down" and report["database"]["ok"] is False
    assert report["cache"] == {"ok": False, "enabled": False}


def open_app(browser, url: str, user: str | None = "t-analyst"):
    """Open a page logged in as a test user (None: not logged in), refuse every request that leaves the
    machine and count it as a problem (a page must work with no route to the internet, map tiles aside),
    collect console and page errors."""
    from tests.serving import session_cookie

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    base = "/".join(url.split("/", 3)[:3])
    if user is not None:
        page.context.add_cookies([{"name": "user", "value": session_cookie(base, user), "url": base}])
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}")
            if msg.type == "error" and "net::ERR_FAILED" not in msg.text else None)
    page.on("requestfailed", lambda req: problems.append(f"failed request: {req.url}")
            if req.url.startswith(url.split("/", 3)[0] + "//" + url.split("/", 3)[2]) else None)
    def stay_on_the_machine(route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "ws://127.0.0.1")):
            return route.continue_()
        if route.request.resource_type != "image":      # the live map's tiles come from a tile server
            problems.append(f"request leaving the machine: {url}")
        return route.abort()

    page.route("**/*", stay_on_the_machine)
    page.goto(url)
    page.wait_for_function(
        "window.Bokeh !== undefined && Bokeh.documents.length > 0 && Bokeh.documents[0].roots().length > 0",
        timeout=30_000,
    )
    return page, problems


READY = {"/admin/journal": ".tabulator-row", "/classement": ".tabulator-row", "/carte": ".tabulator-row"}


@pytest.mark.parametrize("path", [entry.path for entry in catalog.entries()])
def test_every_app_opens_without_errors(served, browser, path):
    page, problems = open_app(browser, served + path, user="t-admin")
    page.wait_for_selector(READY.get(path, ".akig-kpi"), timeout=30_000)
    page.wait_for_timeout(500)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"app{path.replace('/', '_') or '_home'}.png"), full_page=True)
    # Locators see inside Panel's shadow roots (page.inner_text("body") would not).
    failures = page.get_by_text("Traceback").count() + page.get_by_text("Erreur inattendue").count()
    page.close()
    assert failures == 0
    assert problems == []


def test_home_page_shows_the_portfolio(served, browser):
    page, problems = open_app(browser, served + "/")
    page.wait_for_selector(".akig-kpi-value", timeout=20_000)
    values = page.locator(".akig-kpi-value").all_inner_texts()
    page.close()
    assert any(v.endswith("GNF") for v in values)
    assert "AKIG" in "".join(values) or len(values) == 6
    assert problems == []
