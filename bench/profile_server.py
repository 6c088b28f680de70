"""Where a running server's time goes while browsers open one app's page: py-spy samples the `akig serve`
process (every thread) while headless Chromium opens the page N times, one after the other, and the
script sums the samples by what the server was doing.

    AKIG_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/akig_demo AKIG_REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/profile_server.py proprietaire [--loads 8] [--rate 200] [--raw out.txt]

`bench/profile_page.py` builds a page in-process under cProfile, which multiplies its cost by 4 to 5 and
cannot see the server's own work around it; this one samples the real server at a low overhead: the
session's creation in the GET handler, the deferred panes rendered in the thread pool and applied on the
event loop, the websocket's messages, the static files (a first visit downloads about 6 MB of scripts).
py-spy counts a thread as busy when it is not waiting in a known idle call, so a thread waiting for the
GIL counts too: the shares matter, not the seconds. Needs py-spy (`pip install -e '.[bench]'`) and the
right to trace the process (root, or ptrace allowed). The app keys are those of bench/pages.py. Prints
Markdown tables; not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dashboard import ARGS, bench_cookie, start_server  # noqa: E402
from bench.load import stop_server  # noqa: E402
from bench.pages import CASES, load, settle  # noqa: E402

# What the server does, recognised by a frame of the sampled stack (the first that matches wins).
ACTIVITIES = [
    ("session built in the page's GET (the app, its panes, the template, the document)", "DocHandler.get "),
    ("deferred panes rendered in the thread pool", "_execute_on_thread "),
    ("deferred panes' models applied to the document (event loop)", "_scheduled_update_model "),
    ("websocket: messages received and answered (pull of the document, events)", "WSHandler.on_message "),
    ("websocket: messages sent (patches of the document)", "WSHandler.send_message "),
    ("static files (Bokeh's and Panel's scripts, style sheets)", "StaticFileHandler.get "),
    ("the JSON API and the other HTTP routes", "RequestHandler._execute "),
    ("waiting for events (the event loop idle)", "EpollSelector.select "),
]
OURS = re.compile(r"\((?:.*/)?(dashboards|akig_data)/")


def frames(line: str) -> tuple[list[str], int]:
    stack, _, count = line.rstrip().rpartition(" ")
    return stack.split(";"), int(count)


def summarise(raw: Path, top: int) -> None:
    total, by_activity, ours = 0, Counter(), Counter()
    for line in raw.read_text().splitlines():
        if not line.strip():
            continue
        stack, count = frames(line)
        total += count
        activity = next((label for label, marker in ACTIVITIES if any(marker in f for f in stack)), "other")
        by_activity[activity] += count
        seen = set()
        for frame in stack:
            if OURS.search(frame):
                name = re.sub(r"\s*\((?:.*/)?((?:dashboards|akig_data)/[^:]+):\d+\)", r" (\1)", frame)
                if name not in seen:
                    seen.add(name)
                    ours[name] += count
    print(f"{total} samples\n\n| what the server was doing | share of the samples |\n|---|---:|")
    for label, _ in [*ACTIVITIES, ("other", "")]:
        if by_activity[label]:
            print(f"| {label} | {by_activity[label] / total:.0%} |")
    print("\n| our functions (cumulative: a function and what it calls) | share |\n|---|---:|")
    for name, count in ours.most_common(top):
        print(f"| `{name}` | {count / total:.1%} |")


async def open_pages(base: str, case, loads: int, pid: int, rate: int, raw: Path) -> None:
    from playwright.async_api import async_playwright

    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        cookie = bench_cookie(base, case.role, case.owner_ref)
        await load(browser, base + case.path, cookie, case)   # the app's first open: imports, first reads
        await settle(pid, None)
        recorder = subprocess.Popen([spy, "record", "--pid", str(pid), "--output", str(raw), "--format", "raw",
                                     "--rate", str(rate), "--nonblocking", "--threads"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)
        if recorder.poll() is not None:
            raise SystemExit(f"py-spy could not record: {recorder.stderr.read().decode(errors='replace').strip()}")
        for _ in range(loads):
            await load(browser, base + case.path, cookie, case)
        await settle(pid, None)
        recorder.send_signal(2)   # SIGINT: py-spy writes its file and exits
        recorder.wait(timeout=60)
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("app", choices=[c.key for c in CASES])
    parser.add_argument("--loads", type=int, default=8)
    parser.add_argument("--rate", type=int, default=200, help="samples per second")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--raw", help="keep py-spy's raw samples in this file (for a flame graph)")
    args = parser.parse_args()

    from akig_data import runtime
    from akig_data.config import Settings

    case = next(c for c in CASES if c.key == args.app)
    prefix = f"benchspy:{uuid.uuid4().hex[:6]}"
    runtime.configure(Settings(**{**Settings.from_env().__dict__, "cache_prefix": prefix}))
    raw = Path(args.raw) if args.raw else Path(tempfile.mkstemp(suffix=".txt")[1])
    proc, base = start_server(prefix)
    try:
        asyncio.run(open_pages(base, case, args.loads, proc.pid, args.rate, raw))
    finally:
        stop_server(proc)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    print(f"{case.path} as {case.label}: {args.loads} page loads, commit {commit}, py-spy at {args.rate} Hz\n")
    summarise(raw, args.top)


if __name__ == "__main__":
    main()
