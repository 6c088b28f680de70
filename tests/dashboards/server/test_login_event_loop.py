"""A password check never holds the event loop: while one is running, the same server answers other
requests (the pages' websockets, the API). argon2 is slow on purpose; here the check is made to wait for
the test's signal, so the test does not depend on how fast the machine is."""

from __future__ import annotations

import asyncio
import re
import threading
import urllib.parse

import pytest
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from akig_data.writes import users
from dashboards.server import auth
from tests.dashboards.server.test_page_sessions import run_async


class Ping(RequestHandler):
    def get(self) -> None:
        self.write("pong")


@pytest.fixture()
def login_app(fresh_db):
    auth.configure(auth.AuthSettings(secret="s" * 48, session_seconds=3600, secure_cookies=False,
                                     production=False, page_session_secret="p" * 48))
    app = Application([(r"/login", auth.LoginHandler), (r"/ping", Ping)], cookie_secret="s" * 48)
    yield app
    auth.configure(auth.AuthSettings.from_env())


def test_a_slow_password_check_does_not_stop_other_requests(login_app, monkeypatch):
    entered, release = threading.Event(), threading.Event()
    real_verify = users.verify_password

    def held_verify(username: str, password: str):
        entered.set()
        release.wait(20)            # the check takes as long as the test wants (at most 20 s)
        return real_verify(username, password)

    monkeypatch.setattr(users, "verify_password", held_verify)

    async def scenario() -> tuple[str, int]:
        server = HTTPServer(login_app)
        sockets = bind_sockets(0, "127.0.0.1")
        server.add_sockets(sockets)
        base = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
        client = AsyncHTTPClient(force_instance=True)
        try:
            form = await client.fetch(base + "/login")
            xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.body.decode()).group(1)
            cookie = form.headers["Set-Cookie"].split(";", 1)[0]
            body = urllib.parse.urlencode({"_xsrf": xsrf, "step": "password", "username": "nobody",
                                           "password": "Wrong-password-1"})
            pending = asyncio.ensure_future(client.fetch(base + "/login", method="POST", body=body,
                                                         headers={"Cookie": cookie}, raise_error=False))
            while not entered.is_set():          # the login is now inside the password check
                await asyncio.sleep(0.01)
            ping = await asyncio.wait_for(client.fetch(base + "/ping"), timeout=30)
            still_checking = not pending.done()
            release.set()
            login = await pending
            return ping.body.decode() + (" during the check" if still_checking else ""), login.code
        finally:
            release.set()
            client.close()
            server.stop()

    answered, login_status = run_async(scenario())
    assert answered == "pong during the check"
    assert login_status == 401
