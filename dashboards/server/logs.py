"""The server's logging: a readable console, the access log in a file, and a periodic summary.

Every HTTP request writes one `tornado.access` line (dashboards.server.metrics.log_request); with the demo's
simulated phones posting GPS fixes several times a second those lines flooded the console. So:

* the console (stderr) shows warnings and errors, AKIG's own informational lines (loggers `akig*` and
  `dashboards*`) and, every AKIG_LOG_SUMMARY_S seconds (60), one summary line of the requests answered
  meanwhile: by status class, GPS fixes stored, pages opened and the 95th percentile of the latency, taken
  from the Prometheus counters the server keeps for /metrics (one line per server process);
* the file AKIG_ACCESS_LOG (default AKIG_HOME/logs/access.log, rotated at 10 MB with 5 old files kept) gets
  every access line (but the scripts and style sheets served: counted in /metrics, not written), with the
  libraries' informational chatter (Bokeh's start-up details, websocket
  opened / closed) that no longer goes to the console. A 5xx access line is an error: it goes to both.

AKIG_ACCESS_LOG=- keeps the former behaviour: everything at INFO on the console.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ACCESS_LOGGER = "tornado.access"
OWN_LOGGERS = ("akig", "dashboards")
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5

summary_log = logging.getLogger("akig.summary")


def on_console(record: logging.LogRecord) -> bool:
    """Warnings and errors (but an access line only from 500 up), and AKIG's own informational lines."""
    if record.name == ACCESS_LOGGER:
        return record.levelno >= logging.ERROR
    return record.levelno >= logging.WARNING or record.name.split(".")[0].startswith(OWN_LOGGERS)


def in_file(record: logging.LogRecord) -> bool:
    """Every access line, and what the console leaves out."""
    return record.name == ACCESS_LOGGER or not on_console(record)


def access_log_path(settings) -> Path | None:
    """The access log's file, or None when AKIG_ACCESS_LOG is `-` (the console)."""
    if settings.access_log == "-":
        return None
    return Path(settings.access_log) if settings.access_log else Path(settings.home) / "logs" / "access.log"


def configure(settings) -> Path | None:
    """Install the console and file handlers on the root logger (replacing those of an earlier call);
    return the access log's path (None: everything on the console)."""
    from bokeh.util import logconfig

    if logconfig.default_handler is not None:   # Bokeh's own printer (its INFO lines on stderr): through ours
        logconfig.bokeh_logger.removeHandler(logconfig.default_handler)
        logconfig.bokeh_logger.propagate = True
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "akig", False)]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.INFO)
    formatter = logging.Formatter(FORMAT)
    console = logging.StreamHandler()
    console.setFormatter(formatter)
    console.akig = True
    path = access_log_path(settings)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        file = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
        file.setFormatter(formatter)
        file.addFilter(in_file)
        file.akig = True
        root.addHandler(file)
        console.addFilter(on_console)
    root.addHandler(console)
    return path


# -- the summary ------------------------------------------------------------------------------------------------
def snapshot(registry=None) -> dict:
    """The running totals the summary subtracts: requests by status class, latency buckets (all routes),
    GPS fixes stored, pages (Bokeh sessions) opened. The default registry holds this process's own values,
    also in multiprocess mode (where /metrics adds up every process's)."""
    from prometheus_client import REGISTRY

    registry = registry or REGISTRY
    classes: dict[str, float] = {}
    buckets: dict[float, float] = {}
    fixes = pages = 0.0
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == "akig_http_request_duration_seconds_count":
                cls = sample.labels.get("status", "?")[:1] + "xx"
                classes[cls] = classes.get(cls, 0.0) + sample.value
            elif sample.name == "akig_http_request_duration_seconds_bucket":
                le = float(sample.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + sample.value
            elif sample.name == "akig_gps_fixes_total" and sample.labels.get("outcome") == "stored":
                fixes += sample.value
            elif sample.name == "akig_sessions_created_total":
                pages += sample.value
    return {"classes": classes, "buckets": buckets, "fixes": fixes, "pages": pages}


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Like Prometheus's histogram_quantile: the q-quantile of cumulative buckets {upper bound: count},
    interpolated linearly within its bucket; the highest finite bound when it falls in +Inf; None if empty."""
    bounds = sorted(buckets)
    total = buckets.get(float("inf"), buckets[bounds[-1]] if bounds else 0.0)
    if not bounds or total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == float("inf"):
                return lower
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, count
    return lower


def summary_line(before: dict, now: dict, seconds: float, who: str = "") -> str | None:
    """One line for what happened between two snapshots; None when no request was answered."""
    classes = {c: now["classes"].get(c, 0.0) - before["classes"].get(c, 0.0) for c in now["classes"]}
    classes = {c: n for c, n in sorted(classes.items()) if n > 0}
    requests = sum(classes.values())
    if requests <= 0:
        return None
    buckets = {le: n - before["buckets"].get(le, 0.0) for le, n in now["buckets"].items()}
    p95 = quantile(0.95, buckets)
    by_class = ", ".join(f"{c} {int(n)}" for c, n in classes.items())
    latency = f"p95 {p95 * 1000:.0f} ms" if p95 is not None else "p95 –"
    return (f"{who}last {seconds:.0f} s: {int(requests)} requests ({by_class}), "
            f"{int(now['fixes'] - before['fixes'])} GPS fixes stored, "
            f"{int(now['pages'] - before['pages'])} pages opened, {latency}")


def start_summary(interval_s: int) -> None:
    """Every interval_s seconds, log the summary line of this process's requests. 0: no summary. Where
    several processes serve (`--num-procs N`, or the image's one server per port, which share their metrics
    through PROMETHEUS_MULTIPROC_DIR), each writes its own line, starting with its PID."""
    import time

    from tornado.ioloop import PeriodicCallback

    if interval_s <= 0:
        return
    who = f"pid {os.getpid()}, " if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else ""
    state = {"snapshot": snapshot(), "at": time.monotonic()}

    def report() -> None:
        now, at = snapshot(), time.monotonic()
        line = summary_line(state["snapshot"], now, at - state["at"], who)
        state.update(snapshot=now, at=at)
        if line:
            summary_log.info(line)

    PeriodicCallback(report, interval_s * 1000).start()
