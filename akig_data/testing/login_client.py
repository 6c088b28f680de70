"""Logging in to the server over HTTP, as a browser would (XSRF token, password, TOTP code).

For the tools that drive the server from outside: the test suite, `bench/`, the screenshot script.
Returns the signed session cookie, which a Playwright context or an HTTP client then sends.
"""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

import pyotp

_XSRF = re.compile(r'name="_xsrf" value="([^"]+)"')


class LoginFailed(RuntimeError):
    pass


def _opener() -> tuple[urllib.request.OpenerDirector, http.cookiejar.CookieJar]:
    jar = http.cookiejar.CookieJar()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect()), jar


def _post(opener, url: str, fields: dict) -> tuple[int, str]:
    data = urllib.parse.urlencode(fields).encode()
    try:
        with opener.open(url, data=data, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def login_cookie(base: str, username: str, password: str, totp_secret: str | None = None) -> str:
    """The `user` cookie of a new session, or LoginFailed with the page's message."""
    opener, jar = _opener()
    with opener.open(base + "/login", timeout=30) as response:
        token = _XSRF.search(response.read().decode()).group(1)
    status, page = _post(opener, base + "/login",
                         {"_xsrf": token, "step": "password", "username": username, "password": password})
    if status not in (200, 302):
        raise LoginFailed(f"{status}: {_message(page)}")
    if status == 200:  # a second factor is asked
        step = "enrol" if 'value="enrol"' in page else "code"
        if step == "enrol":  # first login of a role that requires a second factor: enrol the shown key
            totp_secret = re.search(r"<code>([A-Z2-7]+)</code>", page).group(1)
        if not totp_secret:
            raise LoginFailed("a TOTP code is required")
        status, page = _post(opener, base + "/login", {"_xsrf": token, "step": step,
                                                       "code": pyotp.TOTP(totp_secret).now()})
        if status != 302:
            raise LoginFailed(f"{status}: {_message(page)}")
    for cookie in jar:
        if cookie.name == "user":
            return cookie.value
    raise LoginFailed("no session cookie")


def _message(page: str) -> str:
    match = re.search(r'role="alert">([^<]+)', page)
    return match.group(1) if match else page[:200]
