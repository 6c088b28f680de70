"""A real `akig serve` in a subprocess, on a free port, over the small data set."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


from tests.conftest import settings_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


COOKIE_SECRET = "test-secret-" + "x" * 40
SESSION_SECRET = "test-page-session-secret-" + "z" * 40
METRICS_TOKEN = "test-metrics-token"
PASSWORD = "Test-password-1"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
# One account per role (admin and manager with a confirmed TOTP factor), and a second owner.
TEST_USERS = {
    "t-admin": ("admin", {}), "t-manager": ("manager", {}), "t-owner": ("owner", {"owner_ref": "OWN-0001"}),
    "t-owner2": ("owner", {"owner_ref": "OWN-0002"}), "t-agent": ("agent", {"agent_ref": "AGT-001"}),
    "t-analyst": ("analyst", {}), "t-ops": ("ops", {}),
}


def app_url(database_url: str) -> str:
    """The same database, as the application's login role (akig_app: no privilege of its own, RLS)."""
    from sqlalchemy.engine import make_url

    return make_url(database_url).set(username="akig_app", password=None).render_as_string(hide_password=False)


def ensure_test_users(database_url: str, redis_url: str) -> None:
    """Create the test accounts once per database (as the tables' owner, like `akig users add`)."""
    import sqlalchemy as sa

    from akig_data import runtime
    from akig_data.writes import users

    runtime.configure(settings_for(database_url, redis_url))
    try:
        for username, (role, refs) in TEST_USERS.items():
            if users.get(username) is None:
                users.add(username, PASSWORD, role, actor="test", **refs)
                if role in users.TOTP_REQUIRED:
                    with runtime.get_runtime().engine.begin() as conn:
                        conn.execute(sa.text("UPDATE users SET totp_secret = :s, totp_confirmed = true "
                                             "WHERE username = :u"), {"s": TOTP_SECRET, "u": username})
    finally:
        runtime.reset()


def start_server(database_url: str, redis_url: str, home: Path, *extra: str,
                 env_extra: dict | None = None, as_app: bool = True) -> tuple[subprocess.Popen, str]:
    """Run `akig serve` (the same command users run) on a free port, connected as akig_app; return the
    process and base URL."""
    ensure_test_users(database_url, redis_url)
    for attempt in range(3):
        try:
            return _start_server(database_url, redis_url, home, extra, env_extra, as_app)
        except PortTaken:   # another test process took the free port before the server bound it
            if attempt == 2:
                raise


class PortTaken(RuntimeError):
    pass


def _start_server(database_url: str, redis_url: str, home: Path, extra: tuple, env_extra: dict | None,
                  as_app: bool) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, AKIG_DATABASE_URL=app_url(database_url) if as_app else database_url, AKIG_REDIS_URL=redis_url,
               AKIG_CACHE_PREFIX=settings_for(database_url, redis_url).cache_prefix, AKIG_HOME=str(home),
               AKIG_COOKIE_SECRET=COOKIE_SECRET, AKIG_SESSION_SECRET=SESSION_SECRET,
               AKIG_METRICS_TOKEN=METRICS_TOKEN,
               AKIG_API_RATE_PER_ADDRESS="100000", AKIG_API_RATE_PER_USER="100000",
               # the shared small data set ends in June: the daily pruning of old GPS fixes would empty it
               AKIG_SCHEDULER_TICK_S="86400",
               # closed pages freed within ~10 s: the live map tests count the open maps' subscriptions
               AKIG_UNUSED_SESSION_S="5")
    env.update(env_extra or {})
    log = home / "serve.log"
    akig = Path(sys.executable).parent / "akig"
    with log.open("wb") as out:
        # its own process group: with --num-procs N the forked children are stopped with the parent
        proc = subprocess.Popen([str(akig), "serve", "--port", str(port), *extra],
                                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = log.read_text()
            raise (PortTaken if "Address already in use" in output else RuntimeError)(f"akig serve exited:\n{output}")
        try:
            # A generous timeout: a poll given up on would still be answered, and counted, later (a test that
            # reads the server's request counters once it is up would see one request too many).
            urllib.request.urlopen(base + "/api/health", timeout=20)
            return proc, base
        except OSError:
            time.sleep(0.3)
    stop_server(proc)
    raise RuntimeError(f"akig serve did not answer:\n{log.read_text()}")


def stop_server(proc: subprocess.Popen) -> None:
    """Stop the server and every process it forked (`--num-procs N`): the whole process group."""
    def signal_group(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)

    def group_alive() -> bool:   # a running (not zombie) process of the group, read from /proc
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()   # state ppid pgrp ...
                if int(fields[2]) == proc.pid and fields[0] != "Z":
                    return True
        return False

    signal_group(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)
    deadline = time.monotonic() + 5
    while group_alive() and time.monotonic() < deadline:   # children finishing their own exit
        time.sleep(0.1)
    signal_group(signal.SIGKILL)   # whatever outlived the parent
    proc.wait(10)


@contextlib.contextmanager
def seeded_server(databases, seeded_template, redis_url: str, home: Path, prefix: str, env_extra: dict | None = None):
    """A server of its own over a fresh copy of the small data set (for tests that write); yields
    (base URL, database URL) and drops the database afterwards."""
    name = databases.create(prefix, template=seeded_template)
    url = databases.url(name)
    proc, base = start_server(url, redis_url, home, env_extra=env_extra)
    try:
        yield base, url
    finally:
        stop_server(proc)
        databases.drop(name)


def login(base: str, username: str) -> str:
    """A session cookie for one of TEST_USERS."""
    from akig_data.testing.login_client import login_cookie

    return login_cookie(base, username, PASSWORD, TOTP_SECRET)


_cookies: dict[tuple[str, str], str] = {}


def session_cookie(base: str, username: str) -> str:
    """One session per test user and server, reused (logging in costs an argon2 check)."""
    if (base, username) not in _cookies:
        _cookies[(base, username)] = login(base, username)
    return _cookies[(base, username)]


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
