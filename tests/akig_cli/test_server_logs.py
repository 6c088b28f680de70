"""`akig serve`'s logging: access lines in AKIG_HOME/logs/access.log, not on the console; warnings and the
periodic summary on the console (one server, with a 1 s summary)."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request

from dashboards.server import logs
from tests.serving import start_server, stop_server

SUMMARY = re.compile(r"akig\.summary: (?:pid \d+, )?last \d+ s: (\d+) requests \(([^)]*)\), (\d+) GPS fixes stored, "
                     r"(\d+) pages opened, p95 (\d+|–) ms")


def _request(url: str, data: bytes | None = None, headers: dict | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers or {}), timeout=20) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _by_class(text: str) -> dict[str, int]:
    """The summary lines' counts by status class, added up."""
    total: dict[str, int] = {}
    for match in SUMMARY.finditer(text):
        for part in match.group(2).split(", "):
            cls, n = part.split()
            total[cls] = total.get(cls, 0) + int(n)
    return total


def test_access_lines_go_to_the_file_and_the_console_keeps_warnings_and_a_summary(small_db, redis_url, tmp_path):
    # No page-session secret: the server warns that it uses a random one (a warning, through the same logging).
    proc, base = start_server(small_db, redis_url, tmp_path,
                              env_extra={"AKIG_LOG_SUMMARY_S": "1", "AKIG_SESSION_SECRET": ""})
    console = tmp_path / "serve.log"
    try:
        for _ in range(3):
            assert _request(base + "/api/health") == 200
        assert _request(base + "/no-such-page") == 404
        assert _request(base + "/static/js/bokeh.min.js") == 200      # counted, not written
        assert _request(base + "/static/js/no-such-script.js") == 404  # written, as any failure
        assert _request(base + "/api/positions", data=b"{}", headers={
            "Authorization": "Bearer not-a-token", "Content-Type": "application/json"}) == 401
        deadline = time.monotonic() + 20
        while _by_class(console.read_text()).get("4xx", 0) < 3 and time.monotonic() < deadline:
            time.sleep(0.3)
    finally:
        stop_server(proc)
    text = console.read_text()
    access = (tmp_path / "logs" / "access.log").read_text()
    assert f"Access log: {tmp_path / 'logs' / 'access.log'}" in text
    for line in ("200 GET /api/health", "404 GET /no-such-page", "401 POST /api/positions"):
        assert line in access
        assert line not in text
    assert "GET /static/js/bokeh.min.js" not in access and "404 GET /static/js/no-such-script.js" in access
    assert "tornado.access" not in text
    assert "Starting Bokeh server" in access and "Starting Bokeh server" not in text   # Bokeh's INFO chatter
    assert text.count("AKIG_SESSION_SECRET is not set") == 1
    assert "WARNING akig.auth: AKIG_SESSION_SECRET is not set" in text
    assert "AKIG_SESSION_SECRET is not set" not in access
    counts = _by_class(text)
    assert counts.get("4xx") == 3 and counts.get("2xx", 0) >= 4, text   # the static file's too


def test_the_summary_line_and_its_percentile():
    buckets = {0.01: 90.0, 0.1: 100.0, float("inf"): 100.0}
    assert abs(logs.quantile(0.95, buckets) - 0.055) < 1e-9       # halfway into the 10-100 ms bucket
    assert logs.quantile(0.95, {0.01: 0.0, float("inf"): 0.0}) is None
    before = {"classes": {"2xx": 10.0}, "buckets": {0.01: 10.0, 0.1: 10.0, float("inf"): 10.0},
              "fixes": 5.0, "pages": 1.0}
    now = {"classes": {"2xx": 100.0, "4xx": 10.0}, "buckets": {0.01: 100.0, 0.1: 110.0, float("inf"): 110.0},
           "fixes": 305.0, "pages": 3.0}
    line = logs.summary_line(before, now, 60.2)
    assert line == "last 60 s: 100 requests (2xx 90, 4xx 10), 300 GPS fixes stored, 2 pages opened, p95 55 ms"
    assert SUMMARY.search("akig.summary: " + line)
    assert logs.summary_line(before, now, 60, "pid 12, ").startswith("pid 12, last 60 s: 100 requests")
    assert logs.summary_line(now, now, 60) is None                # nothing answered: no line


def test_where_each_line_goes_and_the_console_only_setting(tmp_path, capsys):
    import logging
    from types import SimpleNamespace

    root, level = logging.getLogger(), logging.getLogger().level
    try:
        path = logs.configure(SimpleNamespace(access_log=None, home=tmp_path))
        assert path == tmp_path / "logs" / "access.log"
        logging.getLogger("tornado.access").info("201 POST /api/positions")
        logging.getLogger("tornado.access").error("500 GET /boom")
        logging.getLogger("bokeh.server.views.ws").info("WebSocket connection opened")
        logging.getLogger("akig_data.somewhere").warning("a warning")
        logging.getLogger("dashboards.server.tasks").info("scheduled tasks run")
        err, written = capsys.readouterr().err, path.read_text()
        assert "201 POST" in written and "201 POST" not in err
        assert "500 GET /boom" in written and "500 GET /boom" in err
        assert "WebSocket connection opened" in written and "WebSocket" not in err
        assert "a warning" in err and "scheduled tasks run" in err and "a warning" not in written
        assert logs.configure(SimpleNamespace(access_log="-", home=tmp_path)) is None   # everything on the console
        logging.getLogger("tornado.access").info("200 GET /api/health")
        assert "200 GET /api/health" in capsys.readouterr().err
        assert sum(getattr(h, "akig", False) for h in root.handlers) == 1   # the earlier handlers replaced
    finally:
        for handler in [h for h in root.handlers if getattr(h, "akig", False)]:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)
