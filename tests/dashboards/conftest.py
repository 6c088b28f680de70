"""A real `akig serve` in a subprocess, on a free port, over the small data set."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import settings_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(database_url: str, redis_url: str, home: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """Run `akig serve` (the same command users run) on a free port; return the process and base URL."""
    port = free_port()
    env = dict(os.environ, AKIG_DATABASE_URL=database_url, AKIG_REDIS_URL=redis_url,
               AKIG_CACHE_PREFIX=settings_for(database_url, redis_url).cache_prefix, AKIG_HOME=str(home))
    log = home / "serve.log"
    akig = Path(sys.executable).parent / "akig"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(akig), "serve", "--port", str(port), *extra],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"akig serve exited:\n{log.read_text()}")
        try:
            urllib.request.urlopen(base + "/api/health", timeout=2)
            return proc, base
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"akig serve did not answer:\n{log.read_text()}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def served(small_db, redis_url, tmp_path_factory):
    """Base URL of a running server over the small data set, stopped at the end of the session."""
    proc, base = start_server(small_db, redis_url, tmp_path_factory.mktemp("home"))
    yield base
    stop_server(proc)


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (browsers are never downloaded)."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        pytest.skip("chromium is not installed (make test installs it with apt-get when run as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
