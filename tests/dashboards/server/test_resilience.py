"""A served AKIG losing Redis, then PostgreSQL, and getting them back (both reached through TCP proxies
the test cuts: for the server they go down; the real ones stay up for the other tests).

Redis away: reads are answered from PostgreSQL, /metrics counts the fallbacks, health says "degraded";
back: reads are cached again. PostgreSQL away: health says so (503), ingestion answers 503, an app shows
the banner; back: health is ok, the page recovers by itself and the batch refused meanwhile is stored.
"""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import urlsplit

import pytest

from akig_data import runtime
from akig_data.writes import users
from tests.conftest import SMALL_UNTIL, settings_for
from tests.serving import app_url, start_server, stop_server
from tests.dashboards.server.test_collection_api import get_json, post
from tests.dashboards.server.test_server import open_app
from tests.dashboards.server.test_metrics import scrape, value
from akig_data.testing.tcp_proxy import TcpProxy, proxied_database_url

READ = f"/api/reads/arrears_by_site?as_of={SMALL_UNTIL.isoformat()}"


@pytest.fixture(scope="module")
def fragile(databases, seeded_template, redis_url, tmp_path_factory):
    name = databases.create("fragile", template=seeded_template)
    url = databases.url(name)
    runtime.configure(settings_for(url, redis_url))
    pg, through = proxied_database_url(app_url(url))
    parts = urlsplit(redis_url)
    cache = TcpProxy((parts.hostname, parts.port or 6379))
    cache_url = f"redis://127.0.0.1:{cache.port}{parts.path or '/0'}"
    proc, base = start_server(url, redis_url, tmp_path_factory.mktemp("fragile"),
                              env_extra={"AKIG_DATABASE_URL": through, "AKIG_REDIS_URL": cache_url})
    runtime.configure(settings_for(url, redis_url))
    token = users.rotate_token("t-manager", actor="test")
    agent_token = users.rotate_token("t-agent", actor="test")
    try:
        yield base, token, agent_token, pg, cache, runtime.get_runtime().engine
    finally:
        stop_server(proc)
        pg.close()
        cache.close()
        runtime.reset()
        databases.drop(name)


def until(condition, seconds: float = 30.0, step: float = 0.5):
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(step)


def test_without_redis_reads_come_from_postgresql_and_caching_resumes(fragile):
    base, token, _agent, _pg, cache, _engine = fragile
    status, expected = get_json(base, READ, token)
    assert status == 200 and expected["rows"]
    fallbacks = value(scrape(base), "akig_cache_fallback_total", read="arrears_by_site")
    cache.cut()
    try:
        status, answer = get_json(base, READ, token)
        assert status == 200 and answer["rows"] == expected["rows"]            # from PostgreSQL
        text = scrape(base)
        assert value(text, "akig_cache_fallback_total", read="arrears_by_site") > fallbacks
        status, report = get_json(base, "/api/health", token)
        assert status == 200 and report["status"] == "degraded" and not report["cache"]["ok"]
        assert value(scrape(base), "akig_cache_up") == 0
    finally:
        cache.restore()
    assert until(lambda: get_json(base, "/api/health", token)[1]["cache"]["ok"])
    hits = value(scrape(base), "akig_cache_requests_total", read="arrears_by_site", outcome="hit")

    def cached_again() -> bool:   # the connections the cut broke are dropped one by one, then reads hit
        assert get_json(base, READ, token)[1]["rows"] == expected["rows"]
        return value(scrape(base), "akig_cache_requests_total", read="arrears_by_site", outcome="hit") > hits

    assert until(cached_again, 30)
    assert value(scrape(base), "akig_cache_up") == 1


def test_without_postgresql_health_ingestion_and_pages_say_so_then_recover(fragile, browser):
    base, token, agent_token, pg, cache, engine = fragile
    now = dt.datetime.now(dt.timezone.utc)
    batch = {"agent_ref": "AGT-001", "fixes": [
        {"t": (now - dt.timedelta(seconds=40 - i)).isoformat(), "lat": 9.55 + i * 1e-4, "lon": -13.66} for i in range(3)]}
    with engine.connect() as conn:
        before = conn.exec_driver_sql("SELECT count(*) FROM agent_positions").scalar()
    first, _ = open_app(browser, f"{base}/classement", user="t-manager")   # logged in before the outage
    first.locator(".tabulator-row").first.wait_for(timeout=60_000)
    pg.cut()
    cache.cut()   # and Redis, so that no read can be answered from the cache: every pane needs PostgreSQL
    try:
        status, report = get_json(base, "/api/health", token)
        assert status == 503 and report["status"] == "down" and not report["database"]["ok"]
        code, answer = post(base, "/api/positions", batch, token=agent_token)
        assert code == 503 and "injoignable" in answer["error"]
        page, _problems = open_app(browser, f"{base}/classement", user="t-manager")
        page.get_by_text("La base de données est injoignable").first.wait_for(timeout=60_000)
        assert page.get_by_text("Traceback").count() == 0
    finally:
        pg.restore()
        cache.restore()
    assert until(lambda: get_json(base, "/api/health", token)[0] == 200)
    page.locator(".tabulator-row").first.wait_for(timeout=60_000)              # the page recovered by itself
    assert until(lambda: page.get_by_text("La base de données est injoignable").count() == 0, 30)
    code, answer = post(base, "/api/positions", batch, token=agent_token)     # the phone's retry
    assert (code, answer["stored"]) == (201, 3)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM agent_positions").scalar() == before + 3
    assert value(scrape(base), "akig_database_up") == 1
    page.close()
    first.close()
