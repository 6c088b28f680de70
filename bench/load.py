"""Load test of the one server: N dashboard users and M agents posting GPS fixes, for a fixed time,
against `akig serve --num-procs 1`, then `--num-procs 2` (a fresh server, and a fresh cache prefix,
for each).

    AKIG_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/akig_demo AKIG_REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/load.py [--users 20] [--agents 10] [--seconds 30] [--procs 1 2] [--scale demo]

What one simulated user does, again and again until the time is up (no browser; the client speaks
Bokeh's websocket protocol itself, so it costs little CPU next to a browser):

1. GET the app page with the session cookie `user`. The server builds the session's document there.
2. Opens the page's websocket (/<app>/ws, the token found in the page, the cookie in the handshake) and
   asks for the document (PULL-DOC-REQ) until PULL-DOC-REPLY arrives. "page" time = 1 + 2.
3. Sends `document_ready`, as Bokeh's browser client does once it has drawn the page. Panel then draws
   the deferred panes (charts, tables). "ready" time = from 1 until every pane that showed Panel's
   loading indicator (`pn-loading`) has been redrawn without it.
4. Changes a filter the way the browser does: a PATCH-DOC that sets a widget's value in the pulled
   document (the date picker "Date de situation" on / and /proprietaire, "Journée" on /classement and
   /recouvrement, the "Sévérité" select on /alertes, the "Retard" select on /carte), then waits for the
   server's reply: its busy spinner goes on, the panes that depend on the filter show the loading
   indicator and are redrawn; "update" time = until the last indicator (spinner included) is off, with
   0.3 s of calm after it. Dates are today minus 1 to 14 days, chosen at random: some are cold reads,
   the repeats are warm.
5. Closes the websocket, waits `--think` seconds, and goes on with the next app.

Users 0, 1, 3, 4, 6, … are managers (account bench-manager) cycling through the six apps; users 2, 5, 8,
… are owners (bench-owner, OWN-0001: row-level security applies) cycling through / and /proprietaire.
Users arrive over the first `--ramp` seconds and start no session after the window; the sessions then
running are finished (up to 120 s a step) and kept. A session counts when all of its steps are done;
sessions/s = sessions done / time from the start to the end of the last one (a saturated server can take
longer than the window for one session, so "done within the window" would read 0).

The agents run in a separate client process (their own interpreter, so that the users' JSON parsing does
not delay them): `akig_data.demo.simulator` agents on today's routes, each with its own API token (accounts
`load-<agent>`, not the simulator's `sim-<agent>`: a running `akig simulate` keeps its tokens), posting
one fix every `--interval` seconds on a keep-alive connection, like a phone. The per-address API limit
is lifted (all phones come from 127.0.0.1 here); the per-token limit stays.

Also measured: the CPU of the server (every process of it), of the PostgreSQL backends on the database,
of the clients and of the whole machine (other work on a shared machine shows there), and the Bokeh
sessions the server created (its /metrics, `akig_sessions_created_total`) against the sessions the users
opened. More created than opened means documents built twice: with several processes a page's websocket
may reach another process than its GET, and with any number of processes a session whose websocket
comes more than 5-10 s after its GET (a busy server) has been discarded (dashboards/server/app.py:
unused_session_lifetime_milliseconds=5000) and is built again.

Before each measured run, one session per app and process warms the server up (not counted). The server
is stopped with its forked children (by their ids: Tornado's parent does not pass SIGTERM on). `--scale`
is only a note printed with the results. Prints Markdown tables; not a test. Writes GPS fixes for today
into the database it points at, and creates the accounts bench-manager, bench-owner (bench.dashboard)
and load-<agent> there if missing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dashboard import bench_cookie, percentile, start_server  # noqa: E402

MANAGER_APPS = ["/proprietaire", "/", "/recouvrement", "/classement", "/carte", "/alertes"]
OWNER_APPS = ["/proprietaire", "/"]
# The filter each app's update changes: (kind of widget, its title).
FILTERS = {
    "/": ("DatePicker", "Date de situation"),
    "/proprietaire": ("DatePicker", "Date de situation"),
    "/classement": ("DatePicker", "Journée"),
    "/recouvrement": ("DatePicker", "Journée"),
    "/alertes": ("Select", "Sévérité"),
    "/carte": ("Select", "Retard"),
}
STEP_TIMEOUT_S = 120.0
QUIET_S = 0.3
TOKEN = re.compile(r'"token":\s*"([^"]+)"')
# The French banners a pane shows instead of its content when it fails (dashboards.view.error_panel). Not
# the class "alert-danger": the live map keeps an empty, hidden danger banner for its own messages.
# (The document's JSON may write "ê" as \\u00ea.)
ERROR_BANNER = re.compile(r"Erreur inattendue|Requ(?:ê|\\u00ea)te refus|est injoignable")


# --- the server -----------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_tree(pid: int) -> list[int]:
    """pid and its descendants (Tornado's forked children), from /proc."""
    children = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                children[int(fields[1])].append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return total


def database_backends(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to `database` (any client: other users of the
    same database count too)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmdline.startswith("postgres: ") and f" {database} " in cmdline:
            out[int(entry.name)] = cpu_seconds([int(entry.name)])
    return out


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def stop_server(proc: subprocess.Popen) -> None:
    """Stop the server and its forked children by their ids: with --num-procs N, Tornado's parent does
    not pass SIGTERM on, and the children would outlive it."""
    pids = process_tree(proc.pid)
    for pid in reversed(pids):
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            pass
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    deadline = time.monotonic() + 10
    for pid in pids[1:]:
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, 9)


def sessions_created(base: str, token: str) -> float | None:
    request = urllib.request.Request(base + "/metrics", headers={"Authorization": f"Bearer {token}"})
    try:
        text = urllib.request.urlopen(request, timeout=30).read().decode()
    except OSError:
        return None
    match = re.search(r"^akig_sessions_created_total(?:\{[^}]*\})? ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else None


# --- one dashboard user -----------------------------------------------------------------------------------

class Failure(Exception):
    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


def message(msgtype: str, content: dict) -> list[str]:
    return [json.dumps({"msgid": uuid.uuid4().hex, "msgtype": msgtype}), "{}", json.dumps(content)]


async def read_message(ws, timeout: float) -> tuple[dict, dict, str]:
    """One Bokeh protocol message: header, content and its raw text (buffers are skipped). Only the
    wait for its first fragment has `timeout`: a message is never cut in the middle."""
    async def read(wait: float) -> str:
        fragment = await asyncio.wait_for(ws.read_message(), wait)
        if fragment is None:
            raise Failure("websocket closed")
        return fragment if isinstance(fragment, str) else fragment.decode("utf-8", "replace")

    header = json.loads(await read(timeout))
    await read(STEP_TIMEOUT_S)
    raw = await read(STEP_TIMEOUT_S)
    for _ in range(header.get("num_buffers", 0)):
        await read(STEP_TIMEOUT_S)
        await asyncio.wait_for(ws.read_message(), STEP_TIMEOUT_S)
    return header, json.loads(raw), raw


def objects(node):
    """Every Bokeh model representation inside a JSON document or patch."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") == "object" and "id" in item:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def busy(css_classes) -> bool:
    """A pane's loading indicator (`pn-loading`), or the template's busy spinner (`loader spin`: the
    server is running a callback of this session)."""
    classes = css_classes or []
    return "pn-loading" in classes or ("loader" in classes and "spin" in classes)


def loading(model: dict) -> bool:
    return busy((model.get("attributes") or {}).get("css_classes"))


def find_filter(doc: dict, path: str) -> tuple[str, object] | None:
    """(model id, new value) of the app's filter widget in the pulled document."""
    kind, title = FILTERS[path]
    for model in objects(doc):
        attributes = model.get("attributes") or {}
        if attributes.get("title") != title or kind not in model.get("name", ""):
            continue
        if kind == "DatePicker":
            day = dt.date.today() - dt.timedelta(days=random.randint(1, 14))
            return model["id"], day.isoformat()
        options = [o[0] if isinstance(o, list) else o for o in attributes.get("options", [])]
        # Bokeh leaves a property at its default out of the document: a Select's default value is "".
        others = [o for o in options if o != attributes.get("value", "")]
        if others:
            return model["id"], random.choice(others)
    return None


async def settle(ws, pending: set, started: float, need_busy: bool) -> float:
    """Read the server's patches until no pane shows the loading indicator (nor the template its busy
    spinner) and none started or ended for QUIET_S; seconds from `started` to the last one cleared (0
    when nothing was pending). With `need_busy`, first wait for the server to show that it works on the
    change: on /carte the live feed sends patches of its own, which are not the reply."""
    done_at = None if need_busy or pending else started
    seen_busy = not need_busy
    last_change = time.perf_counter()
    deadline = last_change + STEP_TIMEOUT_S
    while True:
        now = time.perf_counter()
        quiet = not pending and seen_busy
        if quiet and now - last_change >= QUIET_S:
            return done_at - started
        if now >= deadline:
            raise Failure("timeout")
        wait = min(deadline - now, QUIET_S - (now - last_change) if quiet else deadline - now)
        try:
            header, content, raw = await read_message(ws, max(0.01, wait))
        except asyncio.TimeoutError:
            continue
        if header["msgtype"] == "ERROR":
            raise Failure("bokeh ERROR message")
        if header["msgtype"] != "PATCH-DOC":
            continue
        if ERROR_BANNER.search(raw):
            raise Failure("error banner")
        now = time.perf_counter()
        for event in content.get("events", []):
            if event.get("kind") == "ModelChanged" and event.get("attr") == "css_classes":
                model_id = (event.get("model") or {}).get("id")
                if busy(event.get("new")):
                    pending.add(model_id)
                    seen_busy, last_change = True, now
                elif model_id in pending or not seen_busy:
                    # a pane redrawn, or a spinner on and off within one flush (only "off" reaches us)
                    pending.discard(model_id)
                    seen_busy, done_at, last_change = True, now, now
            for model in objects(event.get("new")):
                if loading(model):
                    pending.add(model["id"])
                    seen_busy, last_change = True, now


async def one_session_until_ready(client, base: str, path: str, cookie: str, result: dict, keep_open: bool = False):
    """Steps 1 to 3: the page's GET, its websocket and document ("page"), then `document_ready` until every
    deferred pane is drawn ("ready"). Returns the websocket and the pulled document when `keep_open`
    (closed otherwise)."""
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    headers = {"Cookie": f"user={cookie}"}
    started = time.perf_counter()
    try:
        response = await client.fetch(base + path, headers=headers, connect_timeout=STEP_TIMEOUT_S,
                                       request_timeout=STEP_TIMEOUT_S, follow_redirects=False)
    except HTTPClientError as exc:
        raise Failure(f"GET {exc.code}") from None
    page = response.body.decode()
    token = TOKEN.search(page)
    if token is None:
        raise Failure("no session token in the page")
    ws_url = base.replace("http://", "ws://") + path.rstrip("/") + "/ws"
    try:
        # Tornado's client gives up a handshake after 20 s by default; a browser waits much longer.
        request = HTTPRequest(ws_url, headers=headers, connect_timeout=STEP_TIMEOUT_S, request_timeout=STEP_TIMEOUT_S)
        ws = await asyncio.wait_for(websocket_connect(request,
                                                      subprotocols=["bokeh", token.group(1)],
                                                      max_message_size=64 << 20), STEP_TIMEOUT_S)
    except HTTPClientError as exc:
        raise Failure(f"websocket {exc.code}") from None
    except asyncio.TimeoutError:
        raise Failure("timeout") from None
    try:
        header, _, _ = await read_message(ws, STEP_TIMEOUT_S)
        if header["msgtype"] != "ACK":
            raise Failure(f"websocket: {header['msgtype']} before ACK")
        for fragment in message("PULL-DOC-REQ", {}):
            await ws.write_message(fragment)
        while True:
            header, content, raw = await read_message(ws, STEP_TIMEOUT_S)
            if header["msgtype"] == "PULL-DOC-REPLY":
                break
            if header["msgtype"] == "ERROR":
                raise Failure("bokeh ERROR message")
        result["page"] = time.perf_counter() - started
        if ERROR_BANNER.search(raw):
            raise Failure("error banner")
        doc = content["doc"]
        pending = {m["id"] for m in objects(doc) if loading(m)}
        ready = {"kind": "MessageSent", "msg_type": "bokeh_event",
                 "msg_data": {"type": "event", "name": "document_ready", "values": {"type": "map", "entries": []}}}
        for fragment in message("PATCH-DOC", {"events": [ready]}):
            await ws.write_message(fragment)
        result["ready"] = result["page"] + await settle(ws, pending, time.perf_counter(), need_busy=False)
    except BaseException:
        ws.close()
        raise
    if keep_open:
        return ws, doc
    ws.close()
    return None


async def one_session(client, base: str, path: str, cookie: str, result: dict) -> None:
    ws, doc = await one_session_until_ready(client, base, path, cookie, result, keep_open=True)
    try:
        target = find_filter(doc, path)
        if target is None:
            raise Failure("filter widget not found")
        change = {"kind": "ModelChanged", "model": {"id": target[0]}, "attr": "value", "new": target[1]}
        sent = time.perf_counter()
        for fragment in message("PATCH-DOC", {"events": [change]}):
            await ws.write_message(fragment)
        result["update"] = await settle(ws, set(), sent, need_busy=True)
    finally:
        ws.close()


async def user(index: int, base: str, cookies: dict, until: float, think: float, ramp: float, out: list,
               errors: Counter) -> None:
    from tornado.httpclient import AsyncHTTPClient

    client = AsyncHTTPClient(force_instance=True, max_clients=4)
    owner = index % 3 == 2
    apps = OWNER_APPS if owner else MANAGER_APPS
    cookie = cookies["owner" if owner else "manager"]
    turn = index // 3 if owner else index // 3 * 2 + index % 3  # the n-th manager starts on the n-th app
    await asyncio.sleep(random.uniform(0, ramp))  # users arrive over the first `ramp` seconds
    while time.perf_counter() < until:
        path = apps[turn % len(apps)]
        turn += 1
        result = {"app": path, "role": "owner" if owner else "manager", "start": time.perf_counter()}
        try:
            await one_session(client, base, path, cookie, result)
            result["end"] = time.perf_counter()
            out.append(result)
        except Failure as exc:
            errors[f"{path}: {exc.kind}"] += 1
        except (OSError, asyncio.TimeoutError, ValueError, KeyError) as exc:
            errors[f"{path}: {type(exc).__name__}"] += 1
        await asyncio.sleep(think)
    client.close()


async def run_users(base: str, cookies: dict, users: int, seconds: float, think: float, ramp: float):
    out: list = []
    errors: Counter = Counter()
    start = time.perf_counter()
    until = start + seconds
    tasks = [asyncio.create_task(user(i, base, cookies, until, think, ramp, out, errors)) for i in range(users)]
    if tasks:
        await asyncio.wait(tasks, timeout=seconds + STEP_TIMEOUT_S + 10)
    else:
        await asyncio.sleep(seconds)  # agents only
    unfinished = sum(1 for t in tasks if not t.done())
    for t in tasks:
        t.cancel()
    return start, until, out, errors, unfinished


async def warm_up(base: str, cookies: dict, procs: int) -> None:
    """One session per app and process (not counted): the first session of a process imports the apps'
    modules and fills the cache for today."""
    from tornado.httpclient import AsyncHTTPClient

    client = AsyncHTTPClient(force_instance=True, max_clients=20)
    jobs = []
    for path in MANAGER_APPS:
        for _ in range(procs):
            jobs.append(one_session(client, base, path, cookies["manager"], {}))
    jobs.append(one_session(client, base, "/proprietaire", cookies["owner"], {}))
    results = await asyncio.gather(*jobs, return_exceptions=True)
    client.close()
    failed = [r for r in results if isinstance(r, Exception)]
    if failed:
        print(f"warm-up: {len(failed)} of {len(results)} sessions failed ({failed[0]!r})", file=sys.stderr)


# --- the agents (in their own process) ------------------------------------------------------------------

def agents_process(base: str, agents: list, seconds: float, interval: float, speed: float, queue) -> None:
    """Each agent on its own thread and keep-alive connection, one fix every `interval` seconds."""
    from akig_data.demo.simulator import SPEEDS_MPS, Poster

    records: list = []
    lock = threading.Lock()
    until = time.monotonic() + seconds

    def drive(agent, seed: int) -> None:
        rng = random.Random(seed)
        poster = Poster(base, timeout=STEP_TIMEOUT_S)
        time.sleep(rng.uniform(0, interval))
        last = time.monotonic()
        while time.monotonic() < until:
            tick = time.monotonic()
            agent.advance((tick - last) * speed, SPEEDS_MPS["moto"])
            last = tick
            agent.pending.append(agent.fix(rng, 8.0, dt.datetime.now(dt.timezone.utc)))
            sent = time.perf_counter()
            try:
                status, answer = poster.post("/api/positions", agent.token, {"agent_ref": agent.agent_ref,
                                                                             "fixes": agent.pending[-1000:]})
            except OSError:
                status, answer = 0, {}
            latency = time.perf_counter() - sent
            stored = answer.get("stored", 0) if status in (200, 201) else 0
            if status in (200, 201) or (400 <= status < 500 and status != 429):
                agent.pending = []
            with lock:
                records.append((sent, latency, status, stored))
            time.sleep(max(0.0, interval - (time.monotonic() - tick)))

    threads = [threading.Thread(target=drive, args=(a, i)) for i, a in enumerate(agents)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put((records, time.process_time()))


def load_token(agent_ref: str) -> str:
    """Like akig_data.demo.simulator.agent_token, on an account of the load test's own (`load-<agent>`)."""
    from akig_data.writes import users

    name = f"load-{agent_ref.lower()}"
    if users.get(name) is None:
        users.add(name, secrets.token_urlsafe(18) + "Aa1!", "agent", agent_ref=agent_ref, actor="bench-load")
    return users.rotate_token(name, actor="bench-load")


def prepare_agents(count: int) -> list:
    from akig_data.demo import simulator

    real = simulator.agent_token
    simulator.agent_token = load_token   # prepare() gives each agent a token: ours, not sim-<agent>'s
    try:
        return simulator.prepare(count)
    finally:
        simulator.agent_token = real


# --- one run ----------------------------------------------------------------------------------------------

def run(procs: int, args) -> dict:
    from tornado.httpclient import AsyncHTTPClient

    metrics_token = secrets.token_urlsafe(24)
    metrics_dir = Path(tempfile.mkdtemp(prefix="akig-load-metrics-"))
    log_path = Path(tempfile.gettempdir()) / f"akig-load-{os.getpid()}-{procs}p.log"
    env = {"AKIG_METRICS_TOKEN": metrics_token, "AKIG_API_RATE_PER_ADDRESS": "1000000",
           "AKIG_COOKIE_SECRET": secrets.token_urlsafe(48),
           "AKIG_SESSION_SECRET": secrets.token_urlsafe(48), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    prefix = f"benchload:{uuid.uuid4().hex[:6]}"
    proc, base = start_server(prefix, procs, env, log_path)
    try:
        cookies = {"manager": bench_cookie(base, "manager"), "owner": bench_cookie(base, "owner", "OWN-0001")}
        agents = prepare_agents(args.agents) if args.agents else []
        AsyncHTTPClient.configure(None, max_clients=max(10, args.users * 2))
        asyncio.run(warm_up(base, cookies, procs))
        created_before = sessions_created(base, metrics_token)
        pids = process_tree(proc.pid)
        cpu_before, machine_before, client_before = cpu_seconds(pids), machine_cpu(), time.process_time()
        database = urllib.parse.urlsplit(os.environ.get("AKIG_DATABASE_URL", "")).path.lstrip("/")
        pg_before = database_backends(database)
        queue = multiprocessing.get_context("spawn").Queue()
        phones = None
        if agents:
            phones = multiprocessing.get_context("spawn").Process(
                target=agents_process, args=(base, agents, args.seconds, args.interval, args.speed, queue))
            phones.start()
        start, until, sessions, errors, unfinished = asyncio.run(
            run_users(base, cookies, args.users, args.seconds, args.think, args.ramp))
        records, phones_cpu = [], 0.0
        if phones:
            try:
                records, phones_cpu = queue.get(timeout=STEP_TIMEOUT_S + 60)
            except Exception:  # queue.Empty: the agents' process died; say so instead of stopping here
                errors["agents' process: no result"] += 1
        client_cpu = time.process_time() - client_before + phones_cpu
        if phones:
            phones.join(30)
        elapsed_window = args.seconds
        pids = process_tree(proc.pid)
        cpu_after, machine_after = cpu_seconds(pids), machine_cpu()
        pg_after = database_backends(database)
        wall = time.perf_counter() - start
        created_after = sessions_created(base, metrics_token)
    finally:
        stop_server(proc)
        for f in metrics_dir.glob("*"):
            f.unlink()
        metrics_dir.rmdir()
    log_text = log_path.read_text(errors="replace")
    server_errors = len(re.findall(r" ERROR ", log_text))
    in_window = [s for s in sessions if s["end"] <= until]
    ok_posts = [r for r in records if r[2] in (200, 201)]
    busy = (machine_after[0] - machine_before[0]) / max(1, machine_after[1] - machine_before[1])
    return {
        "procs": procs, "users": args.users, "agents": len(agents), "seconds": args.seconds,
        "sessions": len(sessions), "sessions_in_window": len(in_window),
        # Sessions started in the window and finished, over the time from the start to the last one's end:
        # with 20 users on 2 cores a session can take longer than a 30 s window.
        "sessions_s": len(sessions) / max(elapsed_window, max((s["end"] for s in sessions), default=start) - start),
        "page": [s["page"] for s in sessions], "ready": [s["ready"] for s in sessions],
        "update": [s["update"] for s in sessions],
        "by_app": {app: [s for s in sessions if s["app"] == app] for app in MANAGER_APPS},
        "errors": errors, "unfinished": unfinished,
        "posts": len(records), "posts_ok": len(ok_posts),
        "fixes_s": sum(r[3] for r in ok_posts) / elapsed_window,
        "post_latency": [r[1] for r in records],
        "post_errors": Counter(str(r[2]) for r in records if r[2] not in (200, 201)),
        "pg_cpu": sum(v - pg_before.get(k, 0.0) for k, v in pg_after.items()) / wall,
        "server_cpu": (cpu_after - cpu_before) / wall, "machine_busy": busy, "client_cpu": client_cpu / wall,
        "created": (created_after - created_before) if created_before is not None and created_after is not None else None,
        "client_sessions": len(sessions) + sum(errors.values()),
        "server_errors": server_errors, "log": str(log_path),
    }


def fmt_s(values: list, q: float) -> str:
    return f"{percentile(values, q):.2f} s" if values else "–"


def print_run(r: dict, args) -> None:
    errors = sum(r["errors"].values()) + sum(r["post_errors"].values())
    print(f"\n### --num-procs {r['procs']}: {r['users']} users, {r['agents']} agents, {r['seconds']:g} s\n")
    print("| sessions done | sessions/s | page p50 | page p95 | ready p50 | ready p95 | update p50 | update p95 "
          "| fixes posted/s | POST p50 | POST p95 | errors |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    post_p50 = f"{percentile(r['post_latency'], 0.5) * 1000:.0f} ms" if r["post_latency"] else "–"
    post_p95 = f"{percentile(r['post_latency'], 0.95) * 1000:.0f} ms" if r["post_latency"] else "–"
    print(f"| {r['sessions']} | {r['sessions_s']:.2f} | {fmt_s(r['page'], .5)} | {fmt_s(r['page'], .95)} | "
          f"{fmt_s(r['ready'], .5)} | {fmt_s(r['ready'], .95)} | {fmt_s(r['update'], .5)} | {fmt_s(r['update'], .95)} | "
          f"{r['fixes_s']:.1f} | {post_p50} | {post_p95} | {errors} |")
    print("\n| app | sessions | page p50 | page p95 | ready p50 | update p50 | update p95 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for app, rows in r["by_app"].items():
        page = [s["page"] for s in rows]
        update = [s["update"] for s in rows]
        print(f"| {app} | {len(rows)} | {fmt_s(page, .5)} | {fmt_s(page, .95)} | {fmt_s([s['ready'] for s in rows], .5)} "
              f"| {fmt_s(update, .5)} | {fmt_s(update, .95)} |")
    created = "?" if r["created"] is None else f"{r['created']:.0f}"
    others = r["machine_busy"] * (os.cpu_count() or 1) - r["server_cpu"] - r["client_cpu"] - r["pg_cpu"]
    print(f"\nCPU in cores: server {r['server_cpu']:.2f} (all its processes), load-test clients {r['client_cpu']:.2f}, "
          f"PostgreSQL backends on this database {r['pg_cpu']:.2f}, "
          f"everything else (Redis, other work on the machine) {max(0.0, others):.2f}; "
          f"machine busy {r['machine_busy'] * 100:.0f} %. "
          f"Bokeh sessions created by the server {created} for {r['client_sessions']} opened by the users; "
          f"{r['sessions'] - r['sessions_in_window']} sessions finished after the window, {r['unfinished']} users cut; "
          f"POSTs {r['posts']} ({r['posts_ok']} accepted); server log ERROR lines {r['server_errors']} ({r['log']})")
    if r["errors"] or r["post_errors"]:
        print("errors: " + ", ".join(f"{k} ×{v}" for k, v in sorted(r["errors"].items()))
              + ("; " if r["errors"] and r["post_errors"] else "")
              + ", ".join(f"POST /api/positions {k} ×{v}" for k, v in sorted(r["post_errors"].items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20, help="simulated dashboard users (default 20)")
    parser.add_argument("--agents", type=int, default=10, help="simulated agents posting fixes (default 10)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured time per process count (default 30)")
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2], help="process counts to run (default 1 2)")
    parser.add_argument("--think", type=float, default=1.0, help="pause of a user between sessions, s (default 1)")
    parser.add_argument("--ramp", type=float, default=5.0, help="users arrive over the first RAMP s (default 5)")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between an agent's fixes (default 2)")
    parser.add_argument("--speed", type=float, default=10.0, help="agents' time-lapse factor (default 10)")
    parser.add_argument("--scale", default="demo", help="note: the data set's scale, printed with the results")
    args = parser.parse_args()

    from akig_data import runtime

    runtime.configure()
    with runtime.get_runtime().engine.connect() as conn:
        counts = {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()
                  for t in ("tenants", "lease_dues", "payments", "agent_positions")}
    load = os.getloadavg()
    print(f"AKIG load test, {dt.datetime.now():%Y-%m-%d %H:%M}; {os.cpu_count()} CPU cores (os.cpu_count()), "
          f"load average before {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; clients and server on the same machine.")
    print(f"Data: scale {args.scale}: " + ", ".join(f"{n:,} {t}" for t, n in counts.items())
          + f". Users think {args.think:g} s between sessions; agents post 1 fix every {args.interval:g} s.")
    results = []
    for procs in args.procs:
        result = run(procs, args)
        print_run(result, args)
        results.append(result)
    if len(results) > 1:
        print("\n### Summary\n")
        print("| procs | sessions/s | page p50 | page p95 | update p50 | update p95 | fixes posted/s | POST p95 "
              "| errors | CPU cores: server / PostgreSQL | server sessions / opened |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in results:
            errors = sum(r["errors"].values()) + sum(r["post_errors"].values())
            post_p95 = f"{percentile(r['post_latency'], 0.95) * 1000:.0f} ms" if r["post_latency"] else "–"
            created = "?" if r["created"] is None else f"{r['created']:.0f}"
            print(f"| {r['procs']} | {r['sessions_s']:.2f} | {fmt_s(r['page'], .5)} | {fmt_s(r['page'], .95)} | "
                  f"{fmt_s(r['update'], .5)} | {fmt_s(r['update'], .95)} | {r['fixes_s']:.1f} | {post_p95} | {errors} | "
                  f"{r['server_cpu']:.2f} / {r['pg_cpu']:.2f} | {created} / {r['client_sessions']} |")


if __name__ == "__main__":
    main()
