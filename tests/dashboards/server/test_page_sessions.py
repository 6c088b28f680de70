"""A page's live session belongs to the user who opened it, and the page never carries the login cookie.

The attacks: a link with a chosen `?bokeh-session-id=` (then attaching to the victim's page over the
websocket with that id), a forged session token on the websocket, and a script in the page reading the
HttpOnly login cookie out of the Bokeh session token embedded in the HTML.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
import re
import urllib.error
import urllib.request

import pytest
from bokeh.util.token import (check_session_id_signature, generate_jwt_token, generate_session_id,
                              get_session_id, get_token_payload)
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClosedError, websocket_connect

from tests.serving import SESSION_SECRET, session_cookie


def _page(url: str, cookie: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Cookie": f"user={cookie}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _token_of(page: str) -> str:
    match = re.search(r'"token":\s*"([^"]+)"', page) or re.search(r"token=([A-Za-z0-9_.\-]+)", page)
    assert match, "no session token in the page"
    return match.group(1)


def test_a_chosen_session_id_is_refused(served):
    cookie = session_cookie(served, "t-analyst")
    for chosen in ("victim-session-1234567890", generate_session_id(signed=False)):
        status, _ = _page(f"{served}/proprietaire?bokeh-session-id={chosen}", cookie)
        assert status == 403, chosen
    forged = generate_session_id(secret_key=b"not-the-server-secret-" + b"k" * 20, signed=True)
    assert _page(f"{served}/proprietaire?bokeh-session-id={forged}", cookie)[0] == 403


def test_the_page_token_is_signed_and_carries_no_cookie(served):
    cookie = session_cookie(served, "t-analyst")
    status, page = _page(served + "/proprietaire", cookie)
    assert status == 200
    assert cookie not in page and cookie[:24] not in page
    token = _token_of(page)
    payload = get_token_payload(token)
    assert payload.get("cookies") == {}
    assert not any(name.lower() == "cookie" for name in payload.get("headers", {}))
    assert cookie not in json.dumps(payload)
    session_id = get_session_id(token)
    assert check_session_id_signature(session_id, secret_key=SESSION_SECRET.encode(), signed=True)
    assert not check_session_id_signature(session_id, secret_key=b"another-secret-" + b"q" * 30, signed=True)


async def _websocket_outcome(served: str, cookie: str, token: str) -> str:
    """'ack' when the server attached this websocket to a session, 'refused' when it would not."""
    url = served.replace("http://", "ws://") + "/proprietaire/ws"
    request = HTTPRequest(url, headers={"Cookie": f"user={cookie}", "Origin": served})
    try:
        conn = await websocket_connect(request, subprotocols=["bokeh", token])
    except (HTTPClientError, WebSocketClosedError, ConnectionError):
        return "refused"
    try:
        message = await asyncio.wait_for(conn.read_message(), timeout=30)
    except asyncio.TimeoutError:
        message = None
    finally:
        conn.close()
    if message is None:
        return "refused"
    return "ack" if '"msgtype":"ACK"' in str(message).replace(" ", "") else f"other: {str(message)[:80]}"


def run_async(coroutine):
    """Run a coroutine on a loop of its own, in a thread: Playwright's sync API leaves an event loop
    running in the test thread, where asyncio.run() refuses to start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_a_forged_token_cannot_attach_to_a_page(served):
    cookie = session_cookie(served, "t-analyst")
    _, page = _page(served + "/proprietaire", cookie)
    real = _token_of(page)
    victim_id = get_session_id(real)
    forgeries = {
        "unsigned, the victim's id": generate_jwt_token(victim_id, signed=False),
        "signed with another key": generate_jwt_token(victim_id, secret_key=b"guess-" + b"g" * 40, signed=True),
        "chosen id, unsigned": generate_jwt_token("chosen-session-id-123456", signed=False),
    }
    for what, token in forgeries.items():
        assert run_async(_websocket_outcome(served, cookie, token)) == "refused", what
    assert run_async(_websocket_outcome(served, cookie, real)) == "ack"   # the page's own token works


def test_no_script_in_the_page_can_read_the_login_cookie(served, browser):
    """Logged in through the login form, as a user is: the cookie is HttpOnly, and neither
    `document.cookie`, the page's HTML nor its scripts (where Bokeh embeds the session token) hold it."""
    from tests.serving import PASSWORD

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.route("**/*", lambda route: route.continue_()
               if route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1")) else route.abort())
    try:
        page.goto(served + "/login?next=/proprietaire")
        page.fill("input[name=username]", "t-analyst")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_function("window.Bokeh !== undefined && Bokeh.documents.length > 0 "
                               "&& Bokeh.documents[0].roots().length > 0", timeout=30_000)
        page.wait_for_selector(".akig-kpi", timeout=30_000)
        login = next(c for c in context.cookies() if c["name"] == "user")
        assert login["httpOnly"] and len(login["value"]) > 40
        assert "user=" not in page.evaluate("document.cookie")
        assert login["value"] not in page.content()
        scripts = page.evaluate("Array.from(document.scripts).map(s => s.textContent).join('\\n')")
        assert login["value"] not in scripts
        payload = get_token_payload(_token_of(scripts))      # the token is base64: read it as a script would
        assert payload.get("cookies") == {} and login["value"] not in json.dumps(payload)
        assert problems == []
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/", "/carte"])
def test_other_apps_keep_the_cookie_out_too(served, path):
    cookie = session_cookie(served, "t-admin")
    status, page = _page(served + path, cookie)
    assert status == 200 and cookie not in page
    assert get_token_payload(_token_of(page)).get("cookies") == {}
