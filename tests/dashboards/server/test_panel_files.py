"""Panel's stylesheets come from this server, also for what Panel builds outside a page's drawing: it points
those at its CDN root, which AKIG makes this server's /panel-cdn/ (dashboards.server.panel_files)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

# A Tabulator and an alert built outside any page's first drawing (no document, as a tab built on first
# view), in a fresh interpreter that imports dashboards first, as `akig serve` does: their stylesheets' URLs.
LATE_MODELS = """
import json, os
os.environ.pop("PANEL_CDN_ROOT", None)
import dashboards.server.app
import pandas as pd, panel as pn
from bokeh.models import ImportedStyleSheet
from dashboards.server import panel_files
pn.extension("tabulator")
urls = []
for widget in (pn.widgets.Tabulator(pd.DataFrame({"a": [1]})), pn.pane.Alert("x")):
    root = widget.get_root()
    urls += [s.url for s in root.select({"type": ImportedStyleSheet})]
print(json.dumps({"urls": urls, "serves": panel_files.serves_panels_cdn()}))
"""


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def test_late_built_models_point_at_this_server_and_it_serves_every_one(served):
    out = subprocess.run([sys.executable, "-c", LATE_MODELS], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[3])
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["serves"] is True
    assert found["urls"] and all(url.startswith("/panel-cdn/") for url in found["urls"]), found["urls"]
    for url in found["urls"]:
        status, body = get(served + url.split("?")[0])
        assert status == 200 and body, url


def test_the_files_are_panels_own_and_nothing_outside_its_folder(served):
    from panel import __version__
    from panel.io.resources import DIST_DIR

    status, body = get(f"{served}/panel-cdn/{__version__}/dist/css/alerts.css")
    assert status == 200 and body == (DIST_DIR / "css" / "alerts.css").read_bytes()
    for attempt in ("/panel-cdn/x/dist/../../../../../etc/passwd", "/panel-cdn/x/dist/%2e%2e/%2e%2e/__init__.py",
                    "/panel-cdn/x/dist/css/missing.css"):
        assert get(served + attempt)[0] in (403, 404), attempt


@pytest.mark.parametrize("path", ["/panel-cdn/x/dist/../../../../etc/passwd"])
def test_a_raw_traversal_is_refused(served, path):
    import http.client

    host = served.split("//", 1)[1]
    conn = http.client.HTTPConnection(host, timeout=30)
    conn.request("GET", path)          # sent as written, not normalised by a URL library
    response = conn.getresponse()
    assert response.status in (403, 404) and b"root:" not in response.read()
    conn.close()
