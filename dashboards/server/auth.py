"""Logins for the one server: a Bokeh auth provider backed by the `users` table.

Every app (and its websocket) asks `get_user`, which accepts only a valid session cookie:

* the cookie `user` holds `username|issued|nonce`, signed by Tornado with AKIG_COOKIE_SECRET
  (HMAC-SHA256), HttpOnly, SameSite=Lax, Secure in production; the nonce names a row of
  `login_sessions` in PostgreSQL (akig_data.access.login_sessions), checked at every request;
* a session ends after AKIG_SESSION_HOURS (default 8), at logout (its row is revoked: a Redis restart
  cannot bring it back), when the account is disabled, or when its password changes after the login;
* the login form and the logout form carry Tornado's XSRF token and are refused without it; logging out
  is a POST (a link or an image on another site cannot log anybody out);
* admin and manager must give a TOTP code (and enrol one, with a QR code, at their first login);
  other roles do once they have enrolled. Enrolment happens only for an account without a confirmed
  factor; a confirmed factor is replaced only by an administrator (`akig users totp USER --remove`);
* failures are counted per username and per address (akig_data.access.throttle): 5 in 15 minutes lock both
  for 15 minutes (the lock is kept in PostgreSQL), with one message for unknown users and wrong
  passwords. Passwords are never logged; argon2 runs in a thread, so a burst of logins does not
  freeze the pages served by the same event loop.

The login cookie never reaches a page: the server keeps it out of the Bokeh session token embedded in
every page (see dashboards.server.app), and `session_principal()` reads it from the HTTP request that
opened the session, server-side. It turns it into the data layer's Principal, which restricts every read
the session makes (akig_data.access.scope).
"""

from __future__ import annotations

import base64
import html
import io
import logging
import secrets
import time
import weakref
from dataclasses import dataclass
from urllib.parse import quote, urlparse

from bokeh.server.auth_provider import AuthProvider
from tornado.ioloop import IOLoop
from tornado.web import RequestHandler, decode_signed_value

from akig_data import config
from akig_data.config import StartupRefused  # noqa: F401  (raised by AuthSettings.from_env)
from akig_data.writes import audit, users
from akig_data.access import login_sessions, throttle
from akig_data.observe import metrics
from akig_data.errors import AccessDenied, AkigError
from akig_data.access.scope import Principal

log = logging.getLogger("akig.auth")

COOKIE = "user"            # the name Panel's pn.state.user reads
PENDING = "akig_pending"   # password checked, second factor still to give (5 minutes)
PENDING_SECONDS = 300
_USER_CACHE_SECONDS = 15


@dataclass(frozen=True)
class AuthSettings:
    secret: str
    session_seconds: int
    secure_cookies: bool
    production: bool
    # Bokeh's secret_key: signs the ids of the Bokeh sessions (the live pages) and their tokens, so that a
    # client can neither choose a session id nor forge a token (attaching to another user's open page).
    page_session_secret: str = ""

    @classmethod
    def from_env(cls) -> "AuthSettings":
        """From akig_data.config; refuses (StartupRefused) production without its secrets."""
        settings = config.load()
        settings.check_for_server()
        secret = settings.cookie_secret or cls._random("AKIG_COOKIE_SECRET", "sessions end when the server restarts")
        page_secret = settings.session_secret or cls._random(
            "AKIG_SESSION_SECRET", "open pages stop working when the server restarts, and servers behind one "
                                   "load balancer cannot take over each other's pages")
        return cls(secret=secret, session_seconds=settings.session_seconds, secure_cookies=settings.production,
                   production=settings.production, page_session_secret=page_secret)

    @staticmethod
    def _random(name: str, cost: str) -> str:
        if name not in _WARNED:   # once: `akig serve` reads the settings before serving, and again in serve()
            _WARNED.add(name)
            log.warning("%s is not set: a random one is used, %s", name, cost)
        return secrets.token_urlsafe(48)


_settings: AuthSettings | None = None
_WARNED: set[str] = set()


def configure(settings: AuthSettings) -> None:
    global _settings
    _settings = settings


def settings() -> AuthSettings:
    if _settings is None:
        configure(AuthSettings.from_env())
    return _settings


# --- sessions -----------------------------------------------------------------------------------

def new_session_value(username: str, nonce: str) -> str:
    return f"{username}|{int(time.time())}|{nonce}"


def _session_fields(signed: str | bytes | None) -> tuple[str, int, str] | None:
    """(username, issued, nonce) of a cookie signed with our secret, or None."""
    if not signed:
        return None
    conf = settings()
    raw = decode_signed_value(conf.secret, COOKIE, signed, max_age_days=conf.session_seconds / 86400 + 1)
    if raw is None:
        return None
    try:
        username, issued_text, nonce = raw.decode("utf-8").split("|")
        return username, int(issued_text), nonce
    except ValueError:
        return None


def principal_from_cookie(signed: str | bytes | None) -> Principal | None:
    """The Principal of a signed session cookie, or None when it is missing, forged, expired, revoked,
    or its account is disabled or changed its password since. A cookie signed with our secret is not
    enough: its session must exist in PostgreSQL (a leaked cookie secret alone opens nothing)."""
    fields = _session_fields(signed)
    if fields is None:
        return None
    username, issued, nonce = fields
    if time.time() - issued > settings().session_seconds:
        return None
    try:
        user = login_sessions.active_user(username, nonce)
    except AkigError:
        return None
    return Principal(user.username, user.role, user.owner_ref, user.agent_ref) if user else None


def revoke(signed: str | bytes | None) -> None:
    fields = _session_fields(signed)
    if fields:
        login_sessions.revoke(fields[2])


_doc_cache: "weakref.WeakKeyDictionary[object, tuple[float, Principal | None]]" = weakref.WeakKeyDictionary()


def session_principal() -> Principal:
    """The logged-in user of the current Panel session (the server's principal resolver). Without a
    session, or with an invalid one, reads are refused: never run unrestricted by accident."""
    import panel as pn

    doc = pn.state.curdoc
    context = getattr(doc, "session_context", None) if doc is not None else None
    request = getattr(context, "request", None)
    if request is None:
        raise AccessDenied("Accès refusé : aucune session ouverte.")
    now = time.monotonic()
    hit = _doc_cache.get(doc)
    if hit is not None and now - hit[0] < _USER_CACHE_SECONDS and hit[1] is not None:
        return hit[1]
    who = principal_from_cookie(_login_cookie_of(request))
    _doc_cache[doc] = (now, who)
    if who is None:
        raise AccessDenied("Votre session a expiré : reconnectez-vous.")
    return who


def _login_cookie_of(request) -> str | None:
    """The login cookie of the HTTP request that opened a page's session. Bokeh wraps that request in a
    proxy whose `cookies` are the ones copied into the page's session token, and the server copies none
    (the login cookie must stay HttpOnly): the cookie is read from the wrapped Tornado request, which
    never leaves the server."""
    original = getattr(request, "_request", None) or request
    cookies = getattr(original, "cookies", None) or {}
    cookie = cookies.get(COOKIE)
    return getattr(cookie, "value", cookie)


# --- the login and logout pages -----------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>AKIG — {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f4f6f5; margin: 0; }}
header {{ background: #0b6e4f; color: #fff; padding: 14px 24px; font-size: 1.3em; font-weight: 600; }}
main {{ max-width: 380px; margin: 48px auto; background: #fff; border: 1px solid #e3e6e8; border-radius: 8px;
        padding: 24px 28px; }}
label {{ display: block; margin-top: 14px; color: #1d2a30; font-size: .95em; }}
input[type=text], input[type=password] {{ width: 100%; box-sizing: border-box; padding: 8px; margin-top: 4px;
        border: 1px solid #b9c2c7; border-radius: 4px; font-size: 1em; }}
button {{ margin-top: 20px; width: 100%; padding: 10px; background: #0b6e4f; color: #fff; border: 0;
          border-radius: 4px; font-size: 1em; cursor: pointer; }}
.error {{ background: #fdecea; color: #b3261e; padding: 8px 10px; border-radius: 4px; margin-top: 10px; }}
.info {{ color: #5f6b73; font-size: .9em; }}
code {{ word-break: break-all; }}
</style></head>
<body><header>AKIG — recouvrement des loyers</header><main>
<h2 style="margin-top:0">{title}</h2>{body}
</main></body></html>"""

GENERIC_FAILURE = "Identifiant ou mot de passe incorrect."
CODE_FAILURE = "Code de vérification incorrect."
LOCKED = "Trop de tentatives. Réessayez dans {minutes} minutes."


def locked_for(username: str, address: str) -> float:
    """Seconds before this username and this address may try to log in again (0: now). A refused try is
    counted and audited. The browser's login form and the phone app's login share it (and the next two),
    so that a lock set by one holds for the other."""
    left = throttle.login_locked_for(username, address)
    if left > 0:
        metrics.LOGIN_ATTEMPTS.labels("locked").inc()
        audit.record(actor=username[:80] or "?", action="login_locked", address=address)
    return left


def login_failed(username: str, address: str, reason: str) -> None:
    """Count a failed login (a wrong password, a wrong code) against the username and the address; the
    fifth in 15 minutes locks them."""
    metrics.LOGIN_ATTEMPTS.labels("failure").inc()
    if throttle.login_failed(username, address):
        metrics.LOCKOUTS.inc()
    audit.record(actor=username[:80] or "?", action="login_failed", address=address, details={"reason": reason})


def login_succeeded(user: users.User, address: str, details: dict | None = None) -> None:
    """A login went through: it clears the username's failures and is audited."""
    metrics.LOGIN_ATTEMPTS.labels("success").inc()
    throttle.login_succeeded(user.username, address)
    audit.record(actor=user.username, role=user.role, action="login", address=address, details=details)


def _safe_next(target: str | None) -> str:
    """Only a path of this server (never another site: no open redirect)."""
    target = (target or "/").strip()
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class _AuthPage(RequestHandler):
    def render_page(self, title: str, body: str, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'")
        self.finish(_PAGE.format(title=html.escape(title), body=body))

    @property
    def address(self) -> str:
        return self.request.remote_ip or "?"

    def _cookie_flags(self) -> dict:
        return {"httponly": True, "samesite": "Lax", "secure": settings().secure_cookies}


class LoginHandler(_AuthPage):
    """GET: the form. POST: step "password", then "code" or "enrol" when a second factor is due."""

    def get(self) -> None:
        self.password_form(self.get_argument("next", "/"))

    def password_form(self, next_url: str, error: str = "", username: str = "", status: int = 200) -> None:
        body = (
            (f'<div class="error" role="alert">{html.escape(error)}</div>' if error else "")
            + f'<form method="post" action="./login">{self.xsrf_form_html()}'
            f'<input type="hidden" name="step" value="password">'
            f'<input type="hidden" name="next" value="{html.escape(_safe_next(next_url))}">'
            f'<label>Identifiant<input type="text" name="username" autocomplete="username" required autofocus '
            f'value="{html.escape(username)}"></label>'
            f'<label>Mot de passe<input type="password" name="password" autocomplete="current-password" required></label>'
            f'<button type="submit">Se connecter</button></form>'
        )
        self.render_page("Connexion", body, status)

    def code_form(self, next_url: str, error: str = "", status: int = 200) -> None:
        body = (
            (f'<div class="error" role="alert">{html.escape(error)}</div>' if error else "")
            + '<p class="info">Saisissez le code à 6 chiffres de votre application d\'authentification.</p>'
            f'<form method="post" action="./login">{self.xsrf_form_html()}'
            f'<input type="hidden" name="step" value="code">'
            f'<input type="hidden" name="next" value="{html.escape(_safe_next(next_url))}">'
            f'<label>Code de vérification<input type="text" name="code" inputmode="numeric" autocomplete="one-time-code" '
            f'pattern="[0-9 ]{{6,7}}" required autofocus></label><button type="submit">Valider</button></form>'
        )
        self.render_page("Vérification en deux étapes", body, status)

    def enrol_form(self, user: users.User, next_url: str, error: str = "", status: int = 200) -> None:
        import qrcode
        import qrcode.image.svg

        secret = users.begin_totp(user.username, actor=user.username, address=self.address)
        uri = users.totp_uri(user, secret)
        image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
        buffer = io.BytesIO()
        image.save(buffer)
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        body = (
            (f'<div class="error" role="alert">{html.escape(error)}</div>' if error else "")
            + '<p class="info">Votre rôle exige une vérification en deux étapes. Scannez ce code avec une '
            'application d\'authentification (Google Authenticator, FreeOTP, Aegis…), puis saisissez le code affiché.</p>'
            f'<img alt="QR code d\'enrôlement" src="data:image/svg+xml;base64,{data}" style="width:220px;display:block;margin:auto">'
            f'<p class="info">Ou saisissez la clé : <code>{html.escape(secret)}</code></p>'
            f'<form method="post" action="./login">{self.xsrf_form_html()}'
            f'<input type="hidden" name="step" value="enrol">'
            f'<input type="hidden" name="next" value="{html.escape(_safe_next(next_url))}">'
            f'<label>Code de vérification<input type="text" name="code" inputmode="numeric" autocomplete="one-time-code" '
            f'required autofocus></label><button type="submit">Activer et se connecter</button></form>'
        )
        self.render_page("Activer la vérification en deux étapes", body, status)

    async def post(self) -> None:
        self.check_xsrf_cookie()  # raises 403 without the form's token
        step = self.get_argument("step", "password")
        next_url = _safe_next(self.get_argument("next", "/"))
        try:
            if step == "password":
                await self._password_step(next_url)
            elif step in ("code", "enrol"):
                self._code_step(next_url)
            else:
                self.password_form(next_url, "Requête invalide.", status=400)
        except AkigError as exc:
            self.password_form(next_url, str(exc), status=503)

    def _locked(self, username: str, next_url: str) -> bool:
        left = locked_for(username, self.address)
        if left <= 0:
            return False
        self.password_form(next_url, LOCKED.format(minutes=max(1, round(left / 60))), username, status=429)
        return True

    def _failed(self, username: str, reason: str) -> None:
        login_failed(username, self.address, reason)

    async def _password_step(self, next_url: str) -> None:
        username = self.get_argument("username", "").strip().lower()[:80]
        password = self.get_argument("password", "")
        if self._locked(username, next_url):
            return
        # argon2 costs tens of milliseconds of CPU and memory on purpose: in the event loop, a burst of
        # logins would freeze every page this process serves. In a thread (argon2-cffi releases the GIL)
        # the loop goes on answering.
        user = (await IOLoop.current().run_in_executor(None, users.verify_password, username, password)
                if username and password else None)
        if user is None:
            self._failed(username, "password")
            self.password_form(next_url, GENERIC_FAILURE, username, status=401)
            return
        if user.needs_totp:
            self.set_signed_cookie(PENDING, f"{user.username}|{int(time.time())}", expires_days=None,
                                   **self._cookie_flags())
            if user.totp_confirmed:
                self.code_form(next_url)
            else:
                self.enrol_form(user, next_url)
            return
        self._open_session(user, next_url)

    def _pending_user(self) -> users.User | None:
        raw = self.get_signed_cookie(PENDING, max_age_days=1)
        if not raw:
            return None
        username, _, issued = raw.decode("utf-8").partition("|")
        if not issued.isdigit() or time.time() - int(issued) > PENDING_SECONDS:
            return None
        user = users.get(username)
        return user if user is not None and user.active else None

    def _code_step(self, next_url: str) -> None:
        """The second step. Which one it is follows the account, never the form: an account with a
        confirmed factor is asked for a code from it, whatever `step` says (posting `step=enrol` with the
        password alone must not reach the enrolment and replace the factor). A wrong code changes nothing
        stored: the enrolment form shows the same key again."""
        user = self._pending_user()
        if user is None:
            self.password_form(next_url, "Délai dépassé : reconnectez-vous.", status=401)
            return
        if self._locked(user.username, next_url):
            return
        code = self.get_argument("code", "")
        if user.totp_confirmed:
            ok = users.check_totp(user.totp_secret, code)
        else:
            ok = users.confirm_totp(user.username, code, actor=user.username, address=self.address)
        if not ok:
            self._failed(user.username, "totp")
            if user.totp_confirmed:
                self.code_form(next_url, CODE_FAILURE, status=401)
            else:
                self.enrol_form(user, next_url, CODE_FAILURE, status=401)
            return
        self.clear_cookie(PENDING)
        self._open_session(user, next_url)

    def _open_session(self, user: users.User, next_url: str) -> None:
        nonce = login_sessions.open_session(user.username, settings().session_seconds, self.address)
        self.set_signed_cookie(COOKIE, new_session_value(user.username, nonce), expires_days=None,
                               **self._cookie_flags())
        login_succeeded(user, self.address)
        self.redirect(next_url)


class LogoutHandler(_AuthPage):
    """GET asks, POST (with the XSRF token) logs out. A logout by GET could be triggered from any other
    site (a link, an image): users would find themselves logged out by a third party."""

    def get(self) -> None:
        if principal_from_cookie(self.get_cookie(COOKIE)) is None:
            self._done()
            return
        body = (f'<form method="post" action="./logout">{self.xsrf_form_html()}'
                '<p>Voulez-vous fermer votre session AKIG ?</p>'
                '<button type="submit">Se déconnecter</button></form>'
                '<p class="info"><a href="/">Non, revenir à l\'accueil</a></p>')
        self.render_page("Déconnexion", body)

    def post(self) -> None:
        self.check_xsrf_cookie()  # raises 403 without the form's token
        signed = self.get_cookie(COOKIE)
        who = principal_from_cookie(signed)
        if who is not None:
            revoke(signed)
            audit.record(actor=who.username, role=who.role, action="logout", address=self.address)
        self._done()

    def _done(self) -> None:
        self.clear_cookie(COOKIE)
        self.clear_cookie("is_guest")
        self.render_page("Déconnexion", '<p>Vous êtes déconnecté.</p><p><a href="./login">Se reconnecter</a></p>')


class AkigAuthProvider(AuthProvider):
    """What Bokeh asks before serving any app page or websocket."""

    @property
    def get_user(self):
        def get_user(handler: RequestHandler):
            who = principal_from_cookie(handler.get_cookie(COOKIE))
            return who.username if who else None
        return get_user

    @property
    def login_url(self) -> str:
        return "/login"

    @property
    def get_login_url(self):
        return None

    @property
    def login_handler(self):
        return LoginHandler

    @property
    def logout_url(self) -> str:
        return "/logout"

    @property
    def logout_handler(self):
        return LogoutHandler


def login_redirect_url(path: str) -> str:
    return f"/login?next={quote(_safe_next(path))}"
