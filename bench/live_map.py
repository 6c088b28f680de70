"""Does the live map stay live with many maps open? N `/carte` pages in headless Chromium (as ops), the
demo's simulated agents driving their routes, and one agent's phone posting a fix every few seconds: the
time from the server's answer to the POST until that agent's marker stands at the new place, in every
open map.

    AKIG_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/akig_demo AKIG_REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/live_map.py [--maps 10] [--fixes 10] [--no-simulate]

The database holds the `demo` data set with today's missions planned (`akig missions generate`). The script
starts its own `akig serve` (one process, API rate limits lifted) and, unless --no-simulate, `akig simulate
agents` against it, as `make demo` does, for every agent with visits today but the one the benchmark moves. Each fix is 300 m from the previous one; a map counts as updated when the
agent's point in its Bokeh data source (`akig-agents`) is within a metre of the fix's Web Mercator
position. Prints one Markdown table with the commit, the cores and the load average; not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dashboard import ARGS, bench_cookie, percentile, start_server  # noqa: E402
from bench.load import cpu_seconds, process_tree, stop_server  # noqa: E402

MARKER = """agent => {
    const src = Bokeh.documents[0].get_model_by_name('akig-agents');
    if (!src) return null;
    const i = Array.from(src.data.agent_ref).indexOf(agent);
    return i < 0 ? null : [src.data.x[i], src.data.y[i]];
}"""
GIVE_UP_S = 30.0


def posting_agent() -> tuple[str, int]:
    """The agent the benchmark moves, and how many agents the simulator may drive without him: the
    simulator takes the agents with visits today in agent_ref order, so the last of them is left out."""
    from akig_data import reads
    from akig_data.clock import today

    driven = sorted(set(reads.agent_routes(day=today())["agent_ref"]))
    if len(driven) < 2:
        raise SystemExit("plan today's missions first (akig missions generate): the simulator has no route")
    return driven[-1], len(driven) - 1


async def open_maps(browser, base: str, cookie: str, count: int) -> list:
    pages = []
    for _ in range(count):   # one after the other: opening ten maps at once is another benchmark's question
        context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        await context.add_cookies([{"name": "user", "value": cookie, "url": base}])
        page = await context.new_page()
        await page.route("**/*", lambda route: route.continue_()
                         if route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1")) else route.abort())
        await page.goto(base + "/carte", timeout=300_000)
        await page.wait_for_function("Bokeh.documents.length > 0 && "
                                     "Bokeh.documents[0].get_model_by_name('akig-agents') !== null", timeout=300_000)
        pages.append(page)
    return pages


async def moved_after(page, agent: str, x: float, y: float, posted: float) -> float | None:
    """Seconds from `posted` until the page's marker for `agent` is at (x, y); None after GIVE_UP_S."""
    while time.perf_counter() - posted < GIVE_UP_S:
        where = await page.evaluate(MARKER, agent)
        if where and abs(where[0] - x) < 1 and abs(where[1] - y) < 1:
            return time.perf_counter() - posted
        await asyncio.sleep(0.05)
    return None


async def run(base: str, maps: int, fixes: int, interval: float, agent: str, token: str, pid: int) -> dict:
    from playwright.async_api import async_playwright

    from akig_data.demo.simulator import Poster
    from dashboards.widgets.map_layers import mercator

    poster = Poster(base)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        pages = await open_maps(browser, base, bench_cookie(base, "ops"), maps)
        delays, missed = [], 0
        cpu0, wall0 = cpu_seconds(process_tree(pid)), time.monotonic()
        lat, lon = 9.5400, -13.6700
        for k in range(fixes):
            lat += 0.0027   # about 300 m north each time
            body = {"agent_ref": agent, "fixes": [{"t": dt.datetime.now(dt.timezone.utc).isoformat(), "lat": lat,
                                                   "lon": lon, "accuracy_m": 6.0, "battery": 80}]}
            status, answer = await asyncio.to_thread(poster.post, "/api/positions", token, body)
            posted = time.perf_counter()
            if status != 201:
                raise SystemExit(f"POST /api/positions answered {status}: {answer}")
            x, y = mercator([lon], [lat])
            results = await asyncio.gather(*[moved_after(page, agent, float(x[0]), float(y[0]), posted) for page in pages])
            delays += [r for r in results if r is not None]
            missed += sum(r is None for r in results)
            await asyncio.sleep(max(0.0, interval - (time.perf_counter() - posted)))
        server_cores = (cpu_seconds(process_tree(pid)) - cpu0) / (time.monotonic() - wall0)
        await browser.close()
    return {"delays": delays, "missed": missed, "server_cores": server_cores}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--maps", type=int, default=10, help="open /carte pages")
    parser.add_argument("--fixes", type=int, default=10, help="fixes posted, one at a time")
    parser.add_argument("--interval", type=float, default=4.0, help="seconds between two fixes")
    parser.add_argument("--simulate", action=argparse.BooleanOptionalAction, default=True,
                        help="run the demo's simulated agents alongside (default: yes)")
    args = parser.parse_args()

    from akig_data import runtime
    from akig_data.config import Settings
    from akig_data.demo import simulator

    prefix = f"benchmap:{uuid.uuid4().hex[:6]}"
    runtime.configure(Settings(**{**Settings.from_env().__dict__, "cache_prefix": prefix}))
    agent, others = posting_agent()
    token = simulator.agent_token(agent)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    load_before = os.getloadavg()
    # the simulated phones and the benchmark all post from this machine: lift the per-address limit
    proc, base = start_server(prefix, env_extra={"AKIG_API_RATE_PER_ADDRESS": "1000000"})
    driving = None
    try:
        if args.simulate:
            driving = subprocess.Popen([str(Path(sys.executable).parent / "akig"), "simulate", "agents", "--url", base,
                                        "--agents", str(others), "--speed", "5", "--interval", "3"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.STDOUT, env=dict(os.environ, AKIG_CACHE_PREFIX=prefix),
                                       start_new_session=True)
        result = asyncio.run(run(base, args.maps, args.fixes, args.interval, agent, token, proc.pid))
    finally:
        if driving is not None:
            driving.terminate()
            driving.wait(timeout=30)
        stop_server(proc)
    load_after = os.getloadavg()
    delays = result["delays"]
    print(f"Commit {commit}; {os.cpu_count()} cores; load average (1, 5, 15 min) "
          f"{' '.join(f'{v:.2f}' for v in load_before)} before, {' '.join(f'{v:.2f}' for v in load_after)} after; "
          f"one `akig serve` process; headless Chromium on the same machine.\n")
    print("| maps open | simulator | fixes posted | marker updates | p50 | p95 | max | not moved within 30 s | "
          "server cores used |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    fmt = (lambda q: f"{percentile(delays, q):.2f} s") if delays else (lambda q: "—")
    print(f"| {args.maps} | {'on' if args.simulate else 'off'} | {args.fixes} | {len(delays)} | {fmt(0.5)} | "
          f"{fmt(0.95)} | {fmt(1.0)} | {result['missed']} | {result['server_cores']:.2f} |")


if __name__ == "__main__":
    main()
