"""Benchmark of every app's page in headless Chromium: for each app and each concurrency, the time from
the HTTP GET to the KPI row (or the page's first meaningful element) and to the first chart drawn, p50 and
p95; the server's CPU time per page opened and its resident memory after.

    AKIG_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/akig_demo AKIG_REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/pages.py [--concurrency 1,8,20] [--loads 5] [--apps proprietaire,carte,...]

The database holds a demo-scale data set (`akig demo seed --scale demo`). It starts its own `akig serve` on
a free port (one process, or `--procs N`) and stops it at the end; it creates the accounts bench-analyst, bench-owner
(OWN-0001), bench-ops and bench-manager (bench.dashboard.bench_cookie) in the database it points at.

* Each app is opened once first, not counted (its module's imports, the templates, the first reads).
* `--browser-cache cold` (default): every load is a first visit, in a browser context of its own, which
  downloads Bokeh's and Panel's scripts (about 6 MB) and compiles them. `warm`: a returning user, every
  load a new page of one context per app whose HTTP cache already holds them.
* At concurrency C, max(loads, C) page loads run with C of them in flight at any time, each in its own
  browser context (its own cookies and page) of one Chromium. Times run from page.goto.
* Server CPU per page: the utime+stime (/proc/PID/stat) of the `akig serve` process and its children from
  the first of `loads` sequential opens of the page until the server is idle again (the panes a page
  defers are drawn after it was counted as shown), minus what the idle server spends (its pollers, the
  live feed: the median rate of short windows over a few seconds with no page open, just before) over that wall time,
  divided by `loads`.
* Browser CPU per page: the CPU time of headless Chromium's processes (and Playwright's driver, a small
  share) over the same sequential opens, divided by `loads`, the processes of closed pages included (their
  time is added to their parent's when they exit). The browsers run on the server's cores here: at C pages
  at once, C × (browser + server CPU per page) / cores is the least time the last of them can take.
* Server RSS: the process tree's resident memory once an app's loads are done (sessions not yet expired).
* `--client protocol`: no browser. Each load is a client that speaks Bokeh's websocket protocol itself
  (bench/load.py): the page's GET, the websocket, the document pulled ("page": the KPI row is in it), then
  `document_ready` and until every deferred pane is drawn ("ready", in the first chart's columns for the
  apps with a chart). It costs little CPU, so at C at once this is what the server alone gives to
  browsers that run elsewhere (phones, laptops).

Prints one Markdown table, with the commit measured, the cores and the load average; not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from akig_data import runtime  # noqa: E402
from akig_data.config import Settings  # noqa: E402
from bench.dashboard import ARGS, bench_cookie, percentile, start_server  # noqa: E402
from bench.load import cpu_seconds, process_tree, stop_server  # noqa: E402

KPI = ".akig-kpi-value"


@dataclass(frozen=True)
class Case:
    key: str
    path: str
    role: str
    label: str
    first: str          # CSS selector of the first meaningful element
    first_label: str
    chart: bool         # does the page draw a chart (a canvas) without any click?
    owner_ref: str | None = None


CASES = [
    Case("proprietaire", "/proprietaire", "analyst", "analyste (tous)", KPI, "KPI row", True),
    Case("proprietaire-owner", "/proprietaire", "owner", "propriétaire OWN-0001", KPI, "KPI row", True,
         owner_ref="OWN-0001"),
    Case("carte", "/carte", "ops", "exploitation", ".akig-agents-table .tabulator-row, .akig-agents-table .tabulator",
         "agents table", True),
    Case("recouvrement", "/recouvrement", "manager", "responsable", KPI, "KPI row", False),
    Case("classement", "/classement", "manager", "responsable", f"{KPI}, .alert", "podium", False),
    Case("alertes", "/alertes", "manager", "responsable", KPI, "KPI row", False),
]
# A returning user's browser: its HTTP cache is kept between page loads, so no route may be set; it
# resolves no host but the server's instead, so the map's tiles are not fetched from outside either.
WARM_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
CHART_WAIT_MS = 30_000   # an app flagged with a chart that draws none by then is reported with "—"


async def load(browser, url: str, cookie: str, case: Case, shared=None) -> tuple[float, float | None]:
    """Seconds from goto to the first meaningful element, and to the first chart's canvas (None: no chart).
    In a context of its own (a first visit: nothing cached), or as a new page of `shared`, a context whose
    HTTP cache already holds the scripts (a returning user)."""
    if shared is None:
        context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        await context.add_cookies([{"name": "user", "value": cookie, "url": url}])
        page = await context.new_page()
        # Playwright turns the HTTP cache off for a routed page: only a first visit is routed (a returning
        # user's browser resolves no outside host instead, see WARM_ARGS).
        await page.route("**/*", lambda route: route.continue_()
                         if route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1")) else route.abort())
    else:
        page = await shared.new_page()
    start = time.perf_counter()
    try:
        await page.goto(url, timeout=300_000, wait_until="commit")
        await page.wait_for_selector(case.first, timeout=300_000, state="attached")
        first = time.perf_counter() - start
        chart = None
        if case.chart:
            try:
                await page.wait_for_selector("canvas", timeout=CHART_WAIT_MS, state="attached")
                chart = time.perf_counter() - start
            except Exception:  # playwright's TimeoutError: no chart on this page as it opens
                chart = None
    finally:
        await (page.close() if shared is not None else page.context.close())
    return first, chart


async def concurrent(browser, url, cookie, case, total: int, width: int, shared=None) -> list[tuple[float, float | None]]:
    gate = asyncio.Semaphore(width)

    async def one():
        async with gate:
            return await load(browser, url, cookie, case, shared)

    return await asyncio.gather(*[one() for _ in range(total)])


def browser_cpu_seconds(server_pid: int) -> float:
    """CPU seconds of this script's child processes but the server (Playwright's driver and the Chromium it
    started) and of their descendants, with those that exited and were waited for (a closed page's
    renderer)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    server = set(process_tree(server_pid))
    for pid in process_tree(os.getpid())[1:]:
        if pid in server:
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15]) / tick   # utime, stime, cutime, cstime
        except (OSError, IndexError, ValueError):
            continue
    return total


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def fmt(values) -> tuple[str, str]:
    values = [v for v in values if v is not None]
    if not values:
        return "—", "—"
    return f"{statistics.median(values):.2f} s", f"{percentile(values, 0.95):.2f} s"


IDLE_S = 4.0        # how long the idle server's own CPU (pollers, live feed) is measured, before each app
SETTLE_STEP_S = 0.5


async def idle_cpu_rate(pid: int) -> float:
    """CPU seconds per second the server spends with no page opening (its pollers, the live feed): the
    median of IDLE_S / SETTLE_STEP_S short windows, so that one of the server's scheduled tasks running
    meanwhile (alert rules, reminders: a second or two of CPU) does not count as its background (it did
    once, and a page's CPU came out negative)."""
    await settle(pid, None)
    rates = []
    for _ in range(round(IDLE_S / SETTLE_STEP_S)):
        cpu0, wall0 = cpu_seconds(process_tree(pid)), time.monotonic()
        await asyncio.sleep(SETTLE_STEP_S)
        rates.append((cpu_seconds(process_tree(pid)) - cpu0) / (time.monotonic() - wall0))
    return statistics.median(rates)


async def settle(pid: int, idle_rate: float | None, limit_s: float = 30.0) -> None:
    """Wait until the server is back to idle: a page's deferred panes are rendered after the page was
    counted as shown (and after the benchmark closed it), and that CPU belongs to the page."""
    ceiling = 0.05 if idle_rate is None else idle_rate * 1.5 + 0.02
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = cpu_seconds(process_tree(pid))
        await asyncio.sleep(SETTLE_STEP_S)
        if (cpu_seconds(process_tree(pid)) - before) / SETTLE_STEP_S <= ceiling:
            return


async def run(proc, base: str, cases: list[Case], widths: list[int], loads: int, warm: bool = False) -> list[tuple]:
    from playwright.async_api import async_playwright

    rows = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS + (WARM_ARGS if warm else []))
        for case in cases:
            url = base + case.path
            cookie = bench_cookie(base, case.role, case.owner_ref)
            shared = None
            if warm:
                shared = await browser.new_context(viewport={"width": 1400, "height": 1000})
                await shared.add_cookies([{"name": "user", "value": cookie, "url": url}])
            await load(browser, url, cookie, case, shared)  # the app's first open: not counted (fills the cache)
            cpu_per_page = browser_per_page = None
            for width in widths:
                if width == 1:
                    idle_rate = await idle_cpu_rate(proc.pid)
                    cpu0, wall0 = cpu_seconds(process_tree(proc.pid)), time.monotonic()
                    browser0 = browser_cpu_seconds(proc.pid)
                    results = [await load(browser, url, cookie, case, shared) for _ in range(loads)]
                    browser_per_page = (browser_cpu_seconds(proc.pid) - browser0) / loads
                    await settle(proc.pid, idle_rate)   # the closed pages' last panes are still server work
                    busy = cpu_seconds(process_tree(proc.pid)) - cpu0
                    cpu_per_page = (busy - idle_rate * (time.monotonic() - wall0)) / loads
                else:
                    results = await concurrent(browser, url, cookie, case, max(loads, width), width, shared)
                rows.append((case, width, results, cpu_per_page if width == 1 else None,
                             browser_per_page if width == 1 else None, rss_mb(process_tree(proc.pid))))
                print(f"  {case.key} ×{width}: done", file=sys.stderr, flush=True)
            if shared is not None:
                await shared.close()
        await browser.close()
    return rows


async def protocol_load(base: str, path: str, cookie: str) -> tuple[float, float]:
    """One page opened by a client that speaks Bokeh's protocol: seconds to the pulled document, and to
    every deferred pane drawn."""
    from tornado.httpclient import AsyncHTTPClient

    from bench.load import one_session_until_ready

    result: dict = {}
    await one_session_until_ready(AsyncHTTPClient(), base, path, cookie, result)
    return result["page"], result["ready"]


async def run_protocol(proc, base: str, cases: list[Case], widths: list[int], loads: int) -> list[tuple]:
    rows = []
    for case in cases:
        cookie = bench_cookie(base, case.role, case.owner_ref)
        await protocol_load(base, case.path, cookie)   # the app's first open: not counted
        for width in widths:
            gate = asyncio.Semaphore(width)
            cpu_per_page = None
            if width == 1:
                idle_rate = await idle_cpu_rate(proc.pid)
                cpu0, wall0 = cpu_seconds(process_tree(proc.pid)), time.monotonic()

            async def one():
                async with gate:
                    return await protocol_load(base, case.path, cookie)

            results = await asyncio.gather(*[one() for _ in range(max(loads, width))])
            if width == 1:
                await settle(proc.pid, idle_rate)
                busy = cpu_seconds(process_tree(proc.pid)) - cpu0
                cpu_per_page = (busy - idle_rate * (time.monotonic() - wall0)) / len(results)
            rows.append((case, width, results, cpu_per_page, None, rss_mb(process_tree(proc.pid))))
            print(f"  {case.key} ×{width}: done", file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", default="1,8,20", help="comma-separated numbers of browsers at once")
    parser.add_argument("--loads", type=int, default=5, help="page loads per app and concurrency (at least C)")
    parser.add_argument("--browser-cache", choices=("cold", "warm"), default="cold",
                        help="cold: every load a first visit (default); warm: a returning user, scripts cached")
    parser.add_argument("--client", choices=("browser", "protocol"), default="browser",
                        help="browser: headless Chromium (default); protocol: Bokeh's protocol, no browser")
    parser.add_argument("--procs", type=int, default=1, help="akig serve --num-procs (default 1)")
    parser.add_argument("--apps", default=",".join(c.key for c in CASES),
                        help="comma-separated among " + ", ".join(c.key for c in CASES))
    args = parser.parse_args()
    widths = [int(w) for w in args.concurrency.split(",")]
    keys = args.apps.split(",")
    unknown = [k for k in keys if k not in {c.key for c in CASES}]
    if unknown:
        raise SystemExit(f"unknown apps: {', '.join(unknown)}")
    cases = [c for c in CASES if c.key in keys]
    prefix = f"benchpages:{uuid.uuid4().hex[:6]}"
    settings = Settings.from_env()
    runtime.configure(Settings(**{**settings.__dict__, "cache_prefix": prefix}))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    load_before = os.getloadavg()
    proc, base = start_server(prefix, procs=args.procs)
    try:
        if args.client == "protocol":
            rows = asyncio.run(run_protocol(proc, base, cases, widths, args.loads))
        else:
            rows = asyncio.run(run(proc, base, cases, widths, args.loads, warm=args.browser_cache == "warm"))
    finally:
        stop_server(proc)
    load_after = os.getloadavg()
    print(f"Commit {commit}; {os.cpu_count()} cores; load average (1, 5, 15 min) "
          f"{' '.join(f'{v:.2f}' for v in load_before)} before, {' '.join(f'{v:.2f}' for v in load_after)} after; "
          f"{args.loads} loads per row (at least C), "
          + ("a client speaking Bokeh's protocol, no browser (first chart = every deferred pane drawn)"
             if args.client == "protocol" else
             f"headless Chromium ({'first visits, nothing cached' if args.browser_cache == 'cold' else 'returning users, scripts cached'})")
          + f", `akig serve --num-procs {args.procs}`.\n")
    print("| app | as | C | loads | until | p50 | p95 | first chart p50 | p95 | server CPU / page "
          "| browser CPU / page | server RSS after |")
    print("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for case, width, results, cpu, browser_cpu, rss in rows:
        first = fmt([r[0] for r in results])
        chart = fmt([r[1] for r in results]) if case.chart else ("—", "—")
        print(f"| {case.path} | {case.label} | {width} | {len(results)} | {case.first_label} | {first[0]} | {first[1]} "
              f"| {chart[0]} | {chart[1]} | {f'{cpu:.2f} s' if cpu is not None else '—'} "
              f"| {f'{browser_cpu:.2f} s' if browser_cpu is not None else '—'} | {rss:.0f} MB |")


if __name__ == "__main__":
    main()
