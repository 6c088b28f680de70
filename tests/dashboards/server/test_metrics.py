"""The server's metrics: request latency by bounded route labels, sessions, health gauges, the business
gauges against the reads, and `--num-procs 2` adding every process's values on /metrics."""

from __future__ import annotations

import datetime as dt
import os
import re
import time
import urllib.request
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from akig_data.observe import gauges as business_metrics, health, metrics
from akig_data import reads
from dashboards.server.metrics import route_of
from tests.conftest import SMALL_UNTIL
from tests.serving import METRICS_TOKEN, start_server, stop_server
from tests.dashboards.server.test_server import open_app

TZ = ZoneInfo("Africa/Conakry")


def handler(path: str, route: str | None = None):
    fake = SimpleNamespace(request=SimpleNamespace(path=path))
    if route is not None:
        fake.route = route
    return fake


@pytest.mark.parametrize("path, expected", [
    ("/", "/"), ("/ws", "/ws"), ("/proprietaire", "/proprietaire"), ("/proprietaire/", "/proprietaire"),
    ("/proprietaire/ws", "/proprietaire/ws"), ("/admin/journal", "/admin/journal"),
    ("/admin/journal/ws", "/admin/journal/ws"), ("/static/js/bokeh.min.js", "/static"), ("/login", "/login"),
    ("/metrics", "/metrics"), ("/wp-admin/setup.php", "other"), ("/proprietaire-x", "other"),
])
def test_routes_are_labelled_by_what_they_are(path, expected):
    assert route_of(handler(path)) == expected


def test_api_routes_use_their_handlers_label():
    assert route_of(handler("/api/tenants/TEN-0001/history", "/api/tenants/history")) == "/api/tenants/history"


def scrape(base: str) -> str:
    request = urllib.request.Request(base + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.read().decode()


def value(text: str, name: str, **labels) -> float:
    """The value of one sample (labels matched as given, in any order); 0 when absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_the_business_gauges_are_the_reads(small_data):
    now = dt.datetime.combine(SMALL_UNTIL, dt.time(12), TZ)
    summary = business_metrics.refresh(now)
    month = reads.period_kpis(date_from=SMALL_UNTIL.replace(day=1), date_to=SMALL_UNTIL).iloc[0]
    assert metrics.ARREARS._value.get() == month["arrears"] and metrics.LATE_LEASES._value.get() == month["late_leases"]
    assert metrics.COLLECTION_RATE_MONTH._value.get() == pytest.approx(month["collection_rate"])
    last = reads.period_kpis(date_from=dt.date(2026, 5, 1), date_to=dt.date(2026, 5, 30)).iloc[0]
    assert metrics.COLLECTION_RATE_LAST_MONTH._value.get() == pytest.approx(last["collection_rate"])
    promises = reads.promises(as_of=SMALL_UNTIL)
    assert metrics.PROMISES_DUE_TODAY._value.get() == (promises["due_date"] == SMALL_UNTIL).sum()
    broken = (promises["status"] == "broken") & (promises["due_date"] == SMALL_UNTIL - dt.timedelta(days=1))
    assert metrics.PROMISES_BROKEN_TODAY._value.get() == broken.sum()
    assert metrics.BUSINESS_REFRESHED._value.get() > 0 and "late leases" in summary


def test_a_health_check_sets_the_up_gauges(small_data):
    answer = health.check()
    assert metrics.DATABASE_UP._value.get() == (1 if answer["database"]["ok"] else 0) == 1
    assert metrics.CACHE_UP._value.get() == (1 if answer["cache"]["ok"] else 0)


def test_requests_and_sessions_are_counted(served, browser):
    before = scrape(served)
    for _ in range(3):
        urllib.request.urlopen(served + "/api/health", timeout=10).read()
    page, problems = open_app(browser, f"{served}/classement")
    page.locator(".tabulator-row").first.wait_for(timeout=60_000)
    text = scrape(served)
    count = "akig_http_request_duration_seconds_count"
    assert value(text, count, route="/api/health", status="200") - value(before, count, route="/api/health",
                                                                        status="200") == 3
    assert value(text, count, route="/classement", method="GET", status="200") >= 1
    assert value(text, "akig_sessions_created_total") > value(before, "akig_sessions_created_total")
    page.close()
    assert problems == []


def test_several_processes_add_up_on_metrics(small_db, redis_url, tmp_path):
    proc, base = start_server(small_db, redis_url, tmp_path, "--num-procs", "2")
    try:
        count = "akig_http_request_duration_seconds_count"
        # start_server's own polls: its last one may be counted only after it got its answer, so read the
        # count once it stays the same for half a second
        before, deadline = value(scrape(base), count, route="/api/health", status="200"), time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.5)
            again = value(scrape(base), count, route="/api/health", status="200")
            if again == before:
                break
            before = again
        for _ in range(20):
            urllib.request.urlopen(base + "/api/health", timeout=10).read()
        # A request is counted as Tornado logs it, just after its answer is sent: wait for the last one.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and value(scrape(base), count, route="/api/health", status="200") < before + 20:
            time.sleep(0.1)
        # Whichever process answers the scrape, it reports all 20 requests, whichever process answered them.
        seen = {value(scrape(base), count, route="/api/health", status="200") for _ in range(6)}
        assert seen == {before + 20}
        text = scrape(base)
        assert value(text, "akig_database_up") == 1 and value(text, "akig_cache_up") == 1
        assert "Starting 2 processes" in (tmp_path / "logs" / "access.log").read_text()   # Tornado's INFO line
    finally:
        stop_server(proc)


def test_metrics_skip_a_processs_file_not_sized_yet(tmp_path, monkeypatch):
    """A process creates its metrics file before sizing it: a scrape in between (or forever, if the process
    was killed then) met an empty file, and prometheus_client's collector failed whole."""
    import struct
    import subprocess
    import sys

    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    from dashboards.server import metrics as server_metrics

    subprocess.run([sys.executable, "-c", "from prometheus_client import Counter; "
                    "Counter('akig_test_events', 'events').inc(3)"],
                   env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}, check=True)
    (tmp_path / "counter_4242.db").touch()          # another process, between creating and sizing its file
    with pytest.raises(struct.error):               # what /metrics answered: a 500
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(tmp_path))
        generate_latest(registry)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    body, _ = server_metrics.payload()
    assert b"akig_test_events_total 3.0" in body
