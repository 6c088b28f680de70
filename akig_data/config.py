"""Every AKIG_* setting: read from the environment here and nowhere else, typed, documented and checked.

`Settings` is one frozen dataclass. Each field that comes from the environment declares its variable, its
type as the reference shows it, its default and a one-line description, and is grouped by area (database,
cache, server, security, agents and GPS, live map, scheduling and reports, alerts). Defaults work on a
developer's machine; an empty variable counts as unset.

* `Settings.from_env()` reads every variable and checks every value. Wrong values (not a number, out of
  range, a malformed URL, an unknown AKIG_ENV ...) raise one `SettingsError` (an `InvalidParameter`) whose
  message names each wrong variable and what it expects, in French, e.g.
  "AKIG_CACHE_TTL attend un nombre entier de secondes d'au moins 1 (reçu '15m')."
* `load()` is the same, memoised on the AKIG_* values of the environment: cheap enough to call where a
  setting is used (the API's rate limits at every request), and it still sees a variable changed since
  (`akig demo up` raising the per-address API limit for its simulated phones, tests' monkeypatch.setenv).
* The data layer's runtime keeps the `Settings` it was configured with (`get_runtime().settings`): the
  reads and writes take their settings there, so that tests and tools can configure them in code.
* `check_for_server()` adds the rules `akig serve` needs: with AKIG_ENV=production, both secrets set (32+
  characters) and different. It raises `StartupRefused`; other commands do not need the secrets.

The reference page docs/reference/settings.md is generated from the fields (`settings_markdown()`), with
the other reference pages, by `python docs/generate.py`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

from akig_data.errors import InvalidParameter

PREFIX = "AKIG_"
ALERT_PREFIX = "AKIG_ALERT_"
REFERENCE_PAGE = "docs/reference/settings.md"
REGENERATE = "python docs/generate.py"

AREAS = {  # the reference page's sections, in this order
    "database": "Database",
    "cache": "Cache",
    "server": "Server",
    "security": "Security",
    "field": "Agents and GPS",
    "live": "Live map",
    "schedule": "Scheduled tasks and reports",
    "alerts": "Business alerts",
    "reminders": "SMS reminders",
}


class SettingsError(InvalidParameter):
    """One or more AKIG_* variables hold a value AKIG cannot use; the message names each of them (French)."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class StartupRefused(SettingsError, RuntimeError):
    """The server must not start with these settings (production without its secrets)."""


class _Expected(ValueError):
    """A parser's refusal: what the variable expects (French, completes "AKIG_X attend ...")."""


# -- parsers: text of the variable -> typed value, or _Expected -----------------------------------------------
def _text(text: str) -> str:
    return text


def _of(unit: str) -> str:
    """" de secondes", " d'heures", or nothing."""
    return "" if not unit else f" d'{unit}" if unit[0] in "aeiouh" else f" de {unit}"


def _integer(minimum: int, maximum: int | None = None, unit: str = "") -> Callable[[str], int]:
    what = f"un nombre entier{_of(unit)}"
    expected = f"{what} entre {minimum} et {maximum}" if maximum is not None else f"{what} d'au moins {minimum}"

    def parse(text: str) -> int:
        try:
            value = int(text) if text.isascii() else None
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            raise _Expected(expected)
        return value
    return parse


def _number(minimum: float = 0.0, strict: bool = True, unit: str = "") -> Callable[[str], float]:
    expected = f"un nombre{_of(unit)} {'supérieur à' if strict else 'au moins égal à'} {minimum:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise _Expected(expected) from None
        if value != value or value in (float("inf"), float("-inf")) or value < minimum or (strict and value == minimum):
            raise _Expected(expected)
        return value
    return parse


def _fraction(text: str) -> float:
    """A share from 0 to 1 (0.15 for 15 %)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:   # NaN fails too
        raise _Expected("un nombre entre 0 et 1 (0.15 pour 15 %)")
    return value


def _switch(on: Iterable[str], off: Iterable[str], expected: str) -> Callable[[str], bool]:
    on, off = {v.lower() for v in on}, {v.lower() for v in off}

    def parse(text: str) -> bool:
        if text.lower() in on:
            return True
        if text.lower() in off:
            return False
        raise _Expected(expected)
    return parse


def _url(schemes: tuple[str, ...], expected: str, off: bool = False) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if off and text.lower() == "off":
            return text
        try:
            parts = urlsplit(text)
        except ValueError:
            raise _Expected(expected) from None
        if parts.scheme.lower() not in schemes or not (parts.netloc or parts.path or parts.query):
            raise _Expected(expected)
        return text
    return parse


_POSTGRES_URL = _url(("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"),
                     "une URL PostgreSQL (postgresql://utilisateur:mot-de-passe@hôte:5432/base)")
_REDIS_URL = _url(("redis", "rediss", "unix"), "une URL Redis (redis://hôte:6379/0, rediss://…, unix://…) ou off",
                  off=True)


def _tiles(text: str) -> str:
    """off, an http(s) URL or a path on the same site (behind a tile proxy)."""
    if text.lower() == "off" or text.startswith("/"):
        return text
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise _Expected("une URL de tuiles (https://…/{Z}/{X}/{Y}.png) ou off")
    return text


def _weights(text: str) -> tuple[float, float, float]:
    """Three non-negative numbers, not all zero: recovery, kept rate, completion."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 0 or sum(values) == 0 or any(v != v for v in values):
        raise _Expected("trois nombres positifs ou nuls, pas tous nuls, séparés par des virgules (ex. 60,20,20)")
    return values  # type: ignore[return-value]


def _origins(text: str) -> tuple[str, ...]:
    origins = tuple(o.strip() for o in text.split(",") if o.strip())
    if any("://" in o or "/" in o or " " in o for o in origins):
        raise _Expected("des noms d'hôte séparés par des virgules (hôte ou hôte:port, sans https:// ni chemin)")
    return origins


def _environment_name(text: str) -> str:
    value = text.lower()
    if value not in ("development", "production"):
        raise _Expected("development ou production")
    return value


def _time_of_day(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise _Expected("une heure HH:MM") from None


def _quiet_hours(text: str) -> tuple[dt.time, dt.time]:
    """HH:MM-HH:MM, the window (Conakry time) in which no SMS leaves; it may span midnight."""
    start, sep, end = text.partition("-")
    try:
        if not sep:
            raise ValueError
        return dt.time.fromisoformat(start.strip()), dt.time.fromisoformat(end.strip())
    except ValueError:
        raise _Expected("deux heures HH:MM-HH:MM (ex. 21:00-08:00)") from None


def _sms_provider(text: str) -> str:
    value = text.lower()
    if value not in ("file", "http", "off"):
        raise _Expected("file, http ou off")
    return value


def _secret(text: str) -> str | None:
    return text or None


def _hide_password(text: str) -> str:
    """A URL as it may be shown in a message: without its password."""
    try:
        parts = urlsplit(text)
        if parts.password:
            return text.replace(f":{parts.password}@", ":***@", 1)
    except ValueError:
        pass
    return text


# -- the fields ------------------------------------------------------------------------------------------------
def _setting(env: str, default: Any, parse: Callable[[str], Any], kind: str, doc: str, area: str, *,
             shown_default: str | None = None, message: str | None = None, secret: bool = False,
             url: bool = False) -> Any:
    """A field read from the variable `env`. `kind` and `shown_default` are what the reference shows;
    `message` replaces the standard refusal ("{env} attend {expected} (reçu {text!r}).")."""
    if shown_default is None:
        shown_default = "–" if default is None else f"`{default}`"
    return field(default=default, repr=not secret, metadata={
        "env": env, "parse": parse, "kind": kind, "doc": doc, "area": area, "shown_default": shown_default,
        "message": message, "secret": secret, "url": url})


OSM_TILES = "https://tile.openstreetmap.org/{Z}/{X}/{Y}.png"


@dataclass(frozen=True)
class Settings:
    # database
    database_url: str | None = _setting(
        "AKIG_DATABASE_URL", None, _POSTGRES_URL, "PostgreSQL URL",
        "the database (as the tables' owner: migrations run as it); unset: the embedded PostgreSQL under AKIG_HOME",
        "database", shown_default="embedded PostgreSQL", url=True)
    database_read_url: str | None = _setting(
        "AKIG_DATABASE_READ_URL", None, _POSTGRES_URL, "PostgreSQL URL",
        "a read replica for the reads' SQL (writes, migrations and scheduled tasks stay on the primary)",
        "database", url=True)
    read_after_write_s: float = _setting(
        "AKIG_READ_AFTER_WRITE_S", 5.0, _number(0, strict=False, unit="secondes"), "seconds (≥ 0)",
        "after any write, reads stay on the primary this long (a user sees what he just recorded)", "database",
        shown_default="`5`")
    statement_timeout_ms: int = _setting(
        "AKIG_STATEMENT_TIMEOUT_MS", 60_000, _integer(0, unit="millisecondes"), "milliseconds (≥ 0)",
        "PostgreSQL statement timeout for reads (bulk loads have none; 0: no limit)", "database",
        shown_default="`60000`")
    row_security: bool = _setting(
        "AKIG_ROW_SECURITY", True, _switch(("on", "1", "true", "yes"), ("off", "0", "false", "no"), "on ou off"),
        "`on` / `off`",
        "`on`: every read runs as akig_read_all or akig_read_owner (row-level security); `off` only for tools "
        "that must read as the connecting user", "database", shown_default="`on`")
    app_role: str = _setting(
        "AKIG_APP_ROLE", "akig_app", _text, "role name",
        "the login role `akig serve` switches to when AKIG_DATABASE_URL's role could bypass row-level security",
        "database")
    app_password: str | None = _setting(
        "AKIG_APP_PASSWORD", None, _secret, "secret", "that role's password, if the server asks for one",
        "database", secret=True)
    home: Path = _setting(
        "AKIG_HOME", Path(".akig"), Path, "folder", "the embedded servers' data (PostgreSQL, the Redis socket, "
        "the demo simulator's log)", "database", shown_default="`.akig`")
    # cache
    redis_url: str | None = _setting(
        "AKIG_REDIS_URL", None, _REDIS_URL, "Redis URL or `off`",
        "the cache; unset: the embedded Redis (started by `akig serve`), `off`: no cache (reads go to "
        "PostgreSQL)", "cache", shown_default="embedded Redis", url=True)
    cache_prefix: str = _setting(
        "AKIG_CACHE_PREFIX", "akig", _text, "text",
        "prefix of every Redis key, so that several databases can share a Redis", "cache")
    cache_ttl: int = _setting(
        "AKIG_CACHE_TTL", 900, _integer(1, unit="secondes"), "seconds (≥ 1)",
        "default lifetime of a memoized read", "cache")
    redis_socket_timeout: float = 0.5   # not an environment setting: how long a Redis call may take
    redis_retry_after: float = 2.0      # not an environment setting: pause after Redis failed (tests shorten it)
    # server
    server_threads: int = _setting(
        "AKIG_SERVER_THREADS", 2, _integer(1), "integer (≥ 1)",
        "threads per server process that render deferred panes (charts, tables)", "server")
    allowed_origins: tuple[str, ...] = _setting(
        "AKIG_ALLOWED_ORIGINS", (), _origins, "comma-separated `host[:port]`",
        "extra origins allowed to open the apps' websocket: the public host name(s) behind a proxy", "server",
        shown_default="–")
    trust_proxy_headers: bool = _setting(
        "AKIG_TRUST_PROXY_HEADERS", False, _switch(("1",), ("0",), "1 (derrière nginx) ou 0"), "`1` / `0`",
        "`1` behind nginx: the client's address comes from X-Real-IP / X-Forwarded-For", "server",
        shown_default="`0`")
    unused_session_s: int = _setting(
        "AKIG_UNUSED_SESSION_S", 60, _integer(1, 3600, unit="secondes"), "seconds (1 to 3600)",
        "how long a page session nobody is connected to is kept (a page's websocket connects after its GET)",
        "server", message="{env} : un nombre de secondes entre 1 et 3600 est attendu, pas {text!r}.")
    api_rate_per_user: int = _setting(
        "AKIG_API_RATE_PER_USER", 120, _integer(1), "requests per minute (≥ 1)",
        "API requests per minute per token or user before 429", "server")
    api_rate_per_address: int = _setting(
        "AKIG_API_RATE_PER_ADDRESS", 300, _integer(1), "requests per minute (≥ 1)",
        "API requests per minute per client address before 429", "server")
    access_log: str | None = _setting(
        "AKIG_ACCESS_LOG", None, _text, "file path or `-`",
        "where the server writes one line per HTTP request but the static files served (rotated at 10 MB, 5 old "
        "files kept); `-`: on the console, as before", "server", shown_default="`AKIG_HOME/logs/access.log`")
    log_summary_s: int = _setting(
        "AKIG_LOG_SUMMARY_S", 60, _integer(0, 86400, unit="secondes"), "seconds (0 to 86400)",
        "how often the console shows a one-line summary of the requests (by status class, GPS fixes stored, "
        "pages opened, p95 latency); `0`: never", "server")
    metrics_token: str | None = _setting(
        "AKIG_METRICS_TOKEN", None, _secret, "secret", "bearer token Prometheus sends to /metrics", "server",
        shown_default="– (/metrics answers 404)", secret=True)
    # security
    env: str = _setting(
        "AKIG_ENV", "development", _environment_name, "`development` / `production`",
        "`production`: Secure cookies, and the server does not start without AKIG_COOKIE_SECRET and "
        "AKIG_SESSION_SECRET", "security")
    cookie_secret: str | None = _setting(
        "AKIG_COOKIE_SECRET", None, _secret, "secret (32+ characters)",
        "signs the session cookies; the same value on every host (changing it logs everyone out)", "security",
        shown_default="random at each start (development)", secret=True)
    session_secret: str | None = _setting(
        "AKIG_SESSION_SECRET", None, _secret, "secret (32+ characters)",
        "signs the open pages' Bokeh session ids and tokens; not the cookie secret, the same on every host",
        "security", shown_default="random at each start (development)", secret=True)
    session_hours: float = _setting(
        "AKIG_SESSION_HOURS", 8.0, _number(0, unit="heures"), "hours (> 0)", "lifetime of a login session",
        "security", shown_default="`8`")
    # agents and GPS
    agent_lease_days: int = _setting(
        "AKIG_AGENT_LEASE_DAYS", 7, _integer(0, unit="jours"), "days (≥ 0)",
        "an agent reads the tenants' cards of, and writes on the leases of, his missions of today, tomorrow "
        "and this many past days (0: today and tomorrow only)", "field")
    positions_retention_days: int = _setting(
        "AKIG_POSITIONS_RETENTION_DAYS", 90, _integer(1, unit="jours"), "days (≥ 1)",
        "agents' GPS fixes older than this are pruned (daily, by the server)", "field")
    score_weights: tuple[float, float, float] = _setting(
        "AKIG_SCORE_WEIGHTS", (60.0, 20.0, 20.0), _weights, "three numbers",
        "weights of the agent score: recovery, promise-kept rate, mission completion", "field",
        shown_default="`60,20,20`")
    agent_position_interval_s: int = _setting(
        "AKIG_AGENT_POSITION_INTERVAL_S", 30, _integer(5, 600, unit="secondes"), "seconds (5 to 600)",
        "how often the agents' phone app takes a GPS fix (given to the phone by `GET /api/agent/today`)", "field")
    agent_low_battery: float = _setting(
        "AKIG_AGENT_LOW_BATTERY", 0.15, _fraction, "number (0 to 1)",
        "battery level (0.15: 15 %) under which the agents' phone app counts its battery as low (given to "
        "the phone by `GET /api/agent/today`)", "field")
    # live map
    tiles_url: str = _setting(
        "AKIG_TILES_URL", OSM_TILES, _tiles, "XYZ URL template or `off`",
        "the maps' basemap tiles ({Z}/{X}/{Y}); `off`: no basemap", "live", shown_default="OpenStreetMap's")
    live_interval_s: float = _setting(
        "AKIG_LIVE_INTERVAL_S", 0.5, _number(0, unit="secondes"), "seconds (> 0)",
        "the live map poller's tick (it reads the positions only when the fixes counter moved)", "live")
    live_refresh_s: float = _setting(
        "AKIG_LIVE_REFRESH_S", 10.0, _number(0, unit="secondes"), "seconds (> 0)",
        "the live map rebuilds ages and mission counts this often even without new fixes", "live",
        shown_default="`10`")
    # scheduled tasks and reports
    scheduler_tick_s: float = _setting(
        "AKIG_SCHEDULER_TICK_S", 60.0, _number(0, unit="secondes"), "seconds (> 0)",
        "how often each server process looks for due scheduled tasks", "schedule", shown_default="`60`")
    daily_report_at: dt.time = _setting(
        "AKIG_DAILY_REPORT_AT", dt.time(19, 0), _time_of_day, "HH:MM",
        "when (Conakry time) the server writes the day's reports", "schedule", shown_default="`19:00`",
        message="{env} doit être une heure HH:MM (reçu {text!r})")
    reports_dir: Path = _setting(
        "AKIG_REPORTS_DIR", Path("reports"), Path, "folder",
        "where the server (and `akig report folder`) writes the daily reports, one folder per day", "schedule",
        shown_default="`reports`")
    # SMS reminders
    sms_provider: str = _setting(
        "AKIG_SMS_PROVIDER", "file", _sms_provider, "`file` / `http` / `off`",
        "how reminders leave: `file` writes each message as a JSON file in AKIG_SMS_DIR (development, "
        "`make demo`), `http` posts it to the SMS gateway AKIG_SMS_URL, `off` sends nothing (they stay queued)",
        "reminders")
    sms_dir: Path = _setting(
        "AKIG_SMS_DIR", Path(".akig/sms"), Path, "folder", "where the `file` provider writes the messages",
        "reminders", shown_default="`.akig/sms`")
    sms_url: str | None = _setting(
        "AKIG_SMS_URL", None, _url(("http", "https"), "une URL http(s) de passerelle SMS"), "http(s) URL",
        "the SMS gateway's send endpoint (POST JSON: from, to, text; bearer AKIG_SMS_TOKEN)", "reminders",
        url=True)
    sms_token: str | None = _setting(
        "AKIG_SMS_TOKEN", None, _secret, "secret", "the bearer token AKIG sends to the SMS gateway", "reminders",
        secret=True)
    sms_sender: str = _setting(
        "AKIG_SMS_SENDER", "AKIG", _text, "text (≤ 11 characters)",
        "the sender name or number the tenants see", "reminders")
    sms_webhook_token: str | None = _setting(
        "AKIG_SMS_WEBHOOK_TOKEN", None, _secret, "secret",
        "the bearer token the gateway sends with delivery reports and replies (`/api/sms/delivery`, "
        "`/api/sms/inbound`); unset: both answer 404", "reminders", shown_default="– (webhooks off)", secret=True)
    reminder_quiet_hours: tuple[dt.time, dt.time] = _setting(
        "AKIG_REMINDER_QUIET_HOURS", (dt.time(21, 0), dt.time(8, 0)), _quiet_hours, "HH:MM-HH:MM",
        "no reminder leaves in this window (Conakry time); what falls in it waits for its end", "reminders",
        shown_default="`21:00-08:00`")
    reminder_daily_cap: int = _setting(
        "AKIG_REMINDER_DAILY_CAP", 1, _integer(1, 10), "integer (1 to 10)",
        "reminders a tenant's phone receives per day at most; the rest wait for the next day", "reminders")
    reminder_max_attempts: int = _setting(
        "AKIG_REMINDER_MAX_ATTEMPTS", 5, _integer(1, 20), "integer (1 to 20)",
        "sending attempts of one message when the gateway fails (5xx, timeout) before it is marked failed; "
        "the waits double from 1 minute", "reminders")
    # business alerts: AKIG_ALERT_<CODE>, one variable per rule (akig_data/alerts/rules.py)
    alert_thresholds: tuple[tuple[str, float], ...] = field(default=(), metadata={
        "env": ALERT_PREFIX + "<CODE>", "kind": "number", "area": "alerts", "shown_default": "the rule's",
        "doc": "threshold of the alert rule CODE (e.g. AKIG_ALERT_SITE_ARREARS_HIGH); rules, units and "
               "defaults: akig_data/alerts/rules.py"})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Every setting from `environ` (default: the process's environment), checked; SettingsError names
        every wrong variable at once."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[str] = []
        for f in dataclasses.fields(cls):
            parse = f.metadata.get("parse")
            if parse is None:
                continue
            name = f.metadata["env"]
            text = (environ.get(name) or "").strip()
            if not text:
                continue
            try:
                values[f.name] = parse(text)
            except _Expected as exc:
                shown = "…" if f.metadata["secret"] else _hide_password(text) if f.metadata["url"] else text
                problems.append((f.metadata["message"] or "{env} attend {expected} (reçu {text!r}).")
                                .format(env=name, expected=exc, text=shown))
        thresholds = []
        for name in sorted(k for k in environ if k.startswith(ALERT_PREFIX)):
            text = (environ.get(name) or "").strip()
            if not text:
                continue
            try:
                thresholds.append((name[len(ALERT_PREFIX):].lower(), _number(float("-inf"))(text)))
            except _Expected:
                problems.append(f"{name} attend un nombre, le seuil de sa règle d'alerte (reçu {text!r}).")
        values["alert_thresholds"] = tuple(thresholds)
        if problems:
            raise SettingsError(problems)
        return cls(**values)

    @property
    def cache_disabled(self) -> bool:
        return (self.redis_url or "").lower() == "off"

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def session_seconds(self) -> int:
        return int(self.session_hours * 3600)

    def alert_threshold(self, code: str, default: float) -> float:
        """AKIG_ALERT_<CODE> when set, else the rule's default."""
        return dict(self.alert_thresholds).get(code.lower(), default)

    def check_for_server(self) -> None:
        """What `akig serve` needs on top: in production both secrets; any secret set has 32+ characters;
        the two differ (each signs something else). Raises StartupRefused."""
        for name, value in (("AKIG_COOKIE_SECRET", self.cookie_secret), ("AKIG_SESSION_SECRET", self.session_secret)):
            if self.production and len(value or "") < 32:
                raise StartupRefused([
                    f"AKIG_ENV=production needs {name} (at least 32 random characters, e.g. "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`); the server will not start "
                    "without it."])
            if value and len(value) < 32:
                raise StartupRefused([f"{name} is too short: at least 32 random characters."])
        if self.cookie_secret and self.cookie_secret == self.session_secret:
            raise StartupRefused(["AKIG_SESSION_SECRET must differ from AKIG_COOKIE_SECRET (each signs something else)."])


_memo: tuple[tuple[tuple[str, str], ...], Settings] | None = None
_memo_lock = threading.Lock()


def load() -> Settings:
    """The settings of the environment as it is now (memoised on its AKIG_* values)."""
    global _memo
    key = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(PREFIX)))
    memo = _memo
    if memo is not None and memo[0] == key:
        return memo[1]
    settings = Settings.from_env(dict(key))
    with _memo_lock:
        _memo = (key, settings)
    return settings


# -- the reference page ---------------------------------------------------------------------------------------
def settings_markdown() -> str:
    """docs/reference/settings.md: one table per area (variable, type, default, description)."""
    lines = [
        "# Settings reference",
        "",
        f"<!-- Generated from akig_data/config.py by `{REGENERATE}`; edit the fields there, not this page. -->",
        "",
        "AKIG reads its settings from `AKIG_*` environment variables, in one place (`akig_data/config.py`).",
        "An empty variable counts as unset. The values are checked when a command starts: a wrong value",
        "(not a number, out of range, a malformed URL, an unknown `AKIG_ENV` ...) stops it with one message,",
        "in French, naming each wrong variable and what it expects. `akig serve` also refuses to start with",
        "`AKIG_ENV=production` unless `AKIG_COOKIE_SECRET` and `AKIG_SESSION_SECRET` are set (32+ characters",
        "each, different).",
    ]
    by_area: dict[str, list[dataclasses.Field]] = {}
    for f in dataclasses.fields(Settings):
        if "env" in f.metadata:
            by_area.setdefault(f.metadata["area"], []).append(f)
    for area, title in AREAS.items():
        lines += ["", f"## {title}", "", "| Variable | Type | Default | Description |", "|---|---|---|---|"]
        for f in by_area.pop(area, []):
            m = f.metadata
            cells = [f"`{m['env']}`", m["kind"], m["shown_default"], m["doc"]]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    assert not by_area, f"areas without a section: {sorted(by_area)}"
    lines += [
        "",
        "## Not read by the application",
        "",
        "* `AKIG_NUM_PROCS`, `AKIG_INGEST_PROCS`: the container's entrypoint (`ops/docker/entrypoint.sh`).",
        "* `PANEL_CDN_ROOT`: Panel's own setting, which AKIG defaults to `/panel-cdn/` (`dashboards/__init__.py`):",
        "  the stylesheets of what a page builds after its first drawing (a tab's tables on first view, search",
        "  results) then come from the server (`dashboards/server/panel_files.py`), not from Panel's CDN, which a",
        "  user's browser may not reach. With two server processes or more, Panel gave the models built after",
        "  a page's first drawing its CDN's addresses: tables came out as unstyled text.",
        "* `AKIG_IMAGE`, `AKIG_TLS_DIR`, `AKIG_NGINX_UPSTREAM_DIR`: `docker-compose.yml` (see `.env.example`).",
        "* `AKIG_TEST_*`: the test suite; `AKIG_NOTEBOOK_*`: the notebooks; the blue-green switch's variables:",
        "  `ops/blue-green.sh`.",
        "",
    ]
    return "\n".join(lines)
