"""Benchmark of the owner dashboard in Chromium: time from the HTTP GET of /proprietaire to the KPI row
and to the first chart drawn, with a cold cache (every read's tables bumped before each load) and a
warm one; the server-side time to create a session (the GET of the page); and 20 sessions at once.

    AKIG_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/akig_bench AKIG_REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/dashboard.py [--loads 10] [--concurrent 20]

It starts its own `akig serve` on a free port. Prints a Markdown table; not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from akig_data import runtime  # noqa: E402
from akig_data.reads.shared import CONTACT_TABLES, LEDGER_TABLES  # noqa: E402
from akig_data.config import Settings  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


BENCH_PASSWORD = "Bench-password-1"


def bench_cookie(base: str, role: str = "analyst", owner_ref: str | None = None) -> str:
    """Log in as a `bench-<role>` account (created on first use, with a TOTP factor for the roles that
    need one) and return the session cookie. The data layer must point at the served database."""
    import pyotp

    from akig_data.writes import users
    from akig_data.testing.login_client import login_cookie

    name = f"bench-{role}"
    if users.get(name) is None:
        users.add(name, BENCH_PASSWORD, role, owner_ref=owner_ref, actor="bench")
        if role in users.TOTP_REQUIRED:
            secret = users.begin_totp(name, actor="bench")
            users.confirm_totp(name, pyotp.TOTP(secret).now(), actor="bench")
    return login_cookie(base, name, BENCH_PASSWORD, users.get(name).totp_secret)


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def start_server(prefix: str, procs: int = 1, env_extra: dict | None = None,
                 log_path: Path | None = None) -> tuple[subprocess.Popen, str]:
    """`akig serve` on a free port (with `--num-procs`, extra settings and a log file when given), once its
    health answers; the benchmarks (dashboard, ingest, load) all start theirs here."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, AKIG_CACHE_PREFIX=prefix, **(env_extra or {}))
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL
    command = [str(Path(sys.executable).parent / "akig"), "serve", "--port", str(port)]
    proc = subprocess.Popen(command + (["--num-procs", str(procs)] if procs > 1 else []),
                            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(base + "/api/health", timeout=2)
            return proc, base
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    os.killpg(proc.pid, 9)
    raise SystemExit(f"akig serve --num-procs {procs} did not start" + (f" (see {log_path})" if log_path else ""))


async def load(browser, url: str, cookie: str) -> tuple[float, float]:
    """Seconds from goto to the KPI values, and to the first chart's canvas (logged in)."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    await context.add_cookies([{"name": "user", "value": cookie, "url": url}])
    page = await context.new_page()
    await page.route("**/*", lambda route: route.continue_()
                     if route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1")) else route.abort())
    start = time.perf_counter()
    await page.goto(url, timeout=300_000, wait_until="commit")
    await page.wait_for_selector(".akig-kpi-value", timeout=300_000)
    kpi = time.perf_counter() - start
    await page.wait_for_selector("canvas", timeout=300_000)
    chart = time.perf_counter() - start
    await context.close()
    return kpi, chart


async def run(base: str, loads: int, concurrent: int, memo) -> list[tuple]:
    from playwright.async_api import async_playwright

    url = base + "/proprietaire"
    cookie = bench_cookie(base)
    rows = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        await load(browser, url, cookie)  # first load of the process (imports, templates), not counted
        cold = []
        for _ in range(loads):
            memo.bump(LEDGER_TABLES + CONTACT_TABLES)
            cold.append(await load(browser, url, cookie))
        warm = [await load(browser, url, cookie) for _ in range(loads)]
        gets = []
        for _ in range(loads):
            start = time.perf_counter()
            urllib.request.urlopen(urllib.request.Request(url, headers={"Cookie": f"user={cookie}"}), timeout=60).read()
            gets.append(time.perf_counter() - start)
        together = await asyncio.gather(*[load(browser, url, cookie) for _ in range(concurrent)])
        await browser.close()
    for label, values in (("cold cache", cold), ("warm cache", warm), (f"{concurrent} sessions at once (warm)", together)):
        rows.append((label, "KPI row", [v[0] for v in values]))
        rows.append((label, "first chart", [v[1] for v in values]))
    rows.append(("server: session creation (GET /proprietaire)", "HTML", gets))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--concurrent", type=int, default=20)
    args = parser.parse_args()
    prefix = f"benchdash:{uuid.uuid4().hex[:6]}"
    settings = Settings.from_env()
    rt = runtime.configure(Settings(**{**settings.__dict__, "cache_prefix": prefix}))
    proc, base = start_server(prefix)
    try:
        rows = asyncio.run(run(base, args.loads, args.concurrent, rt.memo))
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"/proprietaire, {args.loads} loads each; times from page.goto in headless Chromium.\n")
    print("| case | until | loads | p50 | p95 |")
    print("|---|---|---:|---:|---:|")
    for case, until, values in rows:
        print(f"| {case} | {until} | {len(values)} | {statistics.median(values):.2f} s | {percentile(values, 0.95):.2f} s |")


if __name__ == "__main__":
    main()
