"""The server's own metrics: every HTTP request's latency by route, method and status (Tornado's
`log_function`), open and created Bokeh sessions, and the /metrics payload, which with
`--num-procs N` gathers every process's values (prometheus_client's multiprocess mode).

Routes are labelled by what they are, never by the raw path (bounded label values): an app's path
(`/proprietaire`, `/proprietaire/ws` for its websocket), an API route (`/api/positions`), `/static` for
the scripts and styles, `/login`, `/logout`, `/metrics`, and `other` for anything else (404s).
"""

from __future__ import annotations

import atexit
import functools
import glob
import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from tornado.log import access_log

from akig_data import config
from akig_data.observe import metrics
from dashboards import catalog

STATIC = ("static", "panel_dist", "components", "favicon.ico", "autoload.js")
PLAIN = ("/login", "/logout", "/metrics")


@functools.cache
def _app_paths() -> tuple[str, ...]:
    """The apps' paths, longest first (built once: this runs on every request)."""
    return tuple(sorted((e.path for e in catalog.entries()), key=len, reverse=True))


def route_of(handler) -> str:
    api_route = getattr(handler, "route", None)
    if isinstance(api_route, str):
        return api_route
    path = handler.request.path.rstrip("/") or "/"
    for app in _app_paths():
        if path == app or (app != "/" and path.startswith(app + "/")):
            rest = path[len(app):].strip("/")
            return app.rstrip("/") + "/ws" if rest == "ws" else app
        if app == "/" and path in ("/ws",):
            return "/ws"
    if path in PLAIN:
        return path
    if path.strip("/").split("/")[0] in STATIC:
        return "/static"
    return "other"


def log_request(handler) -> None:
    """Tornado's log_function: observe the request, then write the usual access log line, except for a
    script or style sheet served (or not modified): a first visit asks for some thirty of them, and their
    lines were most of the log and about 6 % of the server's CPU for a page (py-spy). They are still counted
    (route /static of akig_http_request_duration_seconds); a static file that fails is written as any request."""
    status = handler.get_status()
    seconds = handler.request.request_time()
    route = route_of(handler)
    metrics.HTTP_SECONDS.labels(route, handler.request.method, str(status)).observe(seconds)
    if route == "/static" and status < 400:
        return
    log = access_log.info if status < 400 else access_log.warning if status < 500 else access_log.error
    log("%d %s %.2fms", status, handler._request_summary(), 1000.0 * seconds)


def count_sessions(server) -> None:
    metrics.SESSIONS_LIVE.set(len(server.get_sessions()))


def install(server) -> None:
    """In each server process, once it is ready: count sessions (created: at once; open: every 5 s), log the
    console's periodic summary (dashboards.server.logs) and let the multiprocess files of this process be
    dropped when it exits."""
    import panel as pn
    from tornado.ioloop import PeriodicCallback

    pn.state.on_session_created(lambda _context: metrics.SESSIONS_CREATED.inc())
    PeriodicCallback(lambda: count_sessions(server), 5000).start()
    from dashboards.server import logs

    logs.start_summary(config.load().log_summary_s)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        atexit.register(multiprocess.mark_process_dead, os.getpid())


def payload() -> tuple[bytes, str]:
    """The text Prometheus scrapes: this process's registry, or every process's with --num-procs N."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        registry = CollectorRegistry()
        registry.register(SizedFilesCollector(directory))
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


class SizedFilesCollector:
    """prometheus_client's multiprocess collector, over the processes' files that have been sized.

    A process creates its metrics file and sizes it just after: a scrape in between read an empty file and
    failed whole (500 on /metrics, every process's metrics lost; seen in the tests with two processes), and
    a process killed in between would leave that empty file, and /metrics failing, for good. An empty file
    holds nothing yet: it is left out."""

    def __init__(self, directory: str):
        self.directory = directory

    def collect(self):
        files = [f for f in glob.glob(os.path.join(self.directory, "*.db")) if os.path.getsize(f) > 0]
        return multiprocess.MultiProcessCollector.merge(files, accumulate=True)
