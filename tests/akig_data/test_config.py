"""akig_data.config: the one place that reads AKIG_* variables, its checks, and the reference page it writes."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from akig_data import config
from akig_data.config import Settings, SettingsError, StartupRefused
from akig_data.errors import InvalidParameter

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("akig_data", "dashboards", "akig_cli")
CONFIG = REPO / "akig_data" / "config.py"


# -- nobody else reads AKIG_* variables ----------------------------------------------------------------------
class _Names:
    """How a module names os, os.environ and os.getenv (`import os as o`, `from os import environ as env` ...)."""

    def __init__(self, tree: ast.AST):
        self.os, self.environ, self.getenv = {"os"}, set(), set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                self.os |= {a.asname or a.name for a in node.names if a.name == "os"}
            elif isinstance(node, ast.ImportFrom) and node.module == "os":
                self.environ |= {a.asname or a.name for a in node.names if a.name in ("environ", "environb")}
                self.getenv |= {a.asname or a.name for a in node.names if a.name in ("getenv", "getenvb")}

    def _of_os(self, node: ast.AST, attrs: tuple[str, ...]) -> bool:
        if isinstance(node, ast.Attribute) and node.attr in attrs:
            base = node.value
            return (isinstance(base, ast.Name) and base.id in self.os) or (   # __import__("os").environ
                isinstance(base, ast.Call) and isinstance(base.func, ast.Name) and base.func.id == "__import__"
                and bool(base.args) and isinstance(base.args[0], ast.Constant) and base.args[0].value == "os")
        return False

    def environ_(self, node: ast.AST) -> bool:
        return self._of_os(node, ("environ", "environb")) or (isinstance(node, ast.Name) and node.id in self.environ)

    def getenv_(self, node: ast.AST) -> bool:
        return self._of_os(node, ("getenv", "getenvb")) or (isinstance(node, ast.Name) and node.id in self.getenv)


def _names_akig(key: ast.AST | None) -> bool:
    """The key is an AKIG_* name, or not written out (a variable, a call): it could be one."""
    if isinstance(key, ast.Constant):
        return isinstance(key.value, str) and key.value.startswith("AKIG_")
    if isinstance(key, ast.JoinedStr) and key.values and isinstance(key.values[0], ast.Constant):
        return str(key.values[0].value).startswith("AKIG")
    return True


def environment_reads(source: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """(line, code) of each read of an environment variable that is, or may be, an AKIG_* one: os.environ.get,
    .pop, os.environ[...] (read), `... in os.environ`, os.getenv. Writes (os.environ[...] = ..., setdefault,
    a copy handed to a child process) are not reads of a setting."""
    tree = ast.parse(source, filename)
    names = _Names(tree)
    found = []
    for node in ast.walk(tree):
        key: ast.AST | None = None
        if isinstance(node, ast.Call):
            func = node.func
            reads = (isinstance(func, ast.Attribute) and func.attr in ("get", "pop") and names.environ_(func.value)) \
                or names.getenv_(func)
            if not reads:
                continue
            key = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "key"), None)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and names.environ_(node.value):
            key = node.slice
        elif isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops) \
                and any(names.environ_(c) for c in node.comparators):
            key = node.left
        else:
            continue
        if _names_akig(key):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_only_the_config_module_reads_akig_variables():
    offenders = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if path == CONFIG:
                continue
            rel = path.relative_to(REPO)
            offenders += [f"{rel}:{line}: {code}" for line, code in environment_reads(path.read_text(), str(rel))]
    assert not offenders, ("AKIG_* settings are read by akig_data/config.py only: add a field to its Settings "
                           "and use config.load() (or get_runtime().settings) instead of:\n" + "\n".join(offenders))


def test_the_scan_finds_every_kind_of_read():
    source = """
import os
import os as system
from os import environ, getenv
from os import environ as env, getenv as read
a = os.environ.get("AKIG_ONE", "1")
b = os.environ["AKIG_TWO"]
c = os.getenv("AKIG_THREE")
d = "AKIG_FOUR" in os.environ
e = environ.get(f"AKIG_ALERT_{code}")
f = getenv(name)
g = os.environ.pop("AKIG_FIVE", None)
h = system.environ.get("AKIG_SIX")
i = env["AKIG_SEVEN"]
j = read("AKIG_EIGHT")
k = __import__("os").environ.get("AKIG_NINE")
ok1 = os.environ.get("XDG_RUNTIME_DIR")
ok2 = os.environ["PROMETHEUS_MULTIPROC_DIR"]
os.environ["AKIG_DATABASE_URL"] = "postgresql://x/y"
os.environ.setdefault("AKIG_API_RATE_PER_ADDRESS", "100000")
child = dict(os.environ, AKIG_DATABASE_URL="postgresql://x/y")
"""
    assert [line for line, _ in environment_reads(source)] == list(range(6, 17))


# -- the fields ----------------------------------------------------------------------------------------------
def env_fields() -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(Settings) if "env" in f.metadata]


def test_every_setting_is_documented_once():
    names = [f.metadata["env"] for f in env_fields()]
    assert len(names) == len(set(names)) >= 30
    for f in env_fields():
        m = f.metadata
        assert m["env"].startswith("AKIG_") and m["area"] in config.AREAS, f.name
        assert m["kind"] and m["doc"] and m["shown_default"], f.name
        assert "\n" not in m["doc"] and len(m["doc"]) < 200, f"{m['env']}: one line"


def test_an_empty_environment_gives_the_defaults():
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({name: "" for name in (f.metadata["env"] for f in env_fields())}) == Settings()
    s = Settings()
    assert (s.database_url, s.redis_url, s.home, s.cache_prefix, s.cache_ttl) == (None, None, Path(".akig"), "akig", 900)
    assert (s.statement_timeout_ms, s.row_security, s.app_role, s.app_password) == (60_000, True, "akig_app", None)
    assert (s.server_threads, s.allowed_origins, s.trust_proxy_headers, s.unused_session_s) == (2, (), False, 60)
    assert (s.api_rate_per_user, s.api_rate_per_address, s.metrics_token) == (120, 300, None)
    assert (s.env, s.production, s.cookie_secret, s.session_secret, s.session_seconds) == (
        "development", False, None, None, 8 * 3600)
    assert (s.agent_lease_days, s.positions_retention_days, s.score_weights) == (7, 90, (60.0, 20.0, 20.0))
    assert (s.agent_position_interval_s, s.agent_low_battery) == (30, 0.15)
    assert (s.tiles_url, s.live_interval_s, s.live_refresh_s) == (
        "https://tile.openstreetmap.org/{Z}/{X}/{Y}.png", 0.5, 10.0)
    assert (s.scheduler_tick_s, s.daily_report_at, s.reports_dir) == (60.0, dt.time(19, 0), Path("reports"))
    assert (s.database_read_url, s.read_after_write_s, s.alert_thresholds) == (None, 5.0, ())


def test_values_are_parsed_to_their_types():
    s = Settings.from_env({
        "AKIG_DATABASE_URL": "postgres://u:p@db:5432/akig", "AKIG_REDIS_URL": "OFF", "AKIG_HOME": "/srv/akig",
        "AKIG_CACHE_TTL": " 60 ", "AKIG_ROW_SECURITY": "off", "AKIG_ALLOWED_ORIGINS": "akig.example.org, x.org:8443,",
        "AKIG_TRUST_PROXY_HEADERS": "1", "AKIG_ENV": " Production ", "AKIG_SESSION_HOURS": "0.5",
        "AKIG_SCORE_WEIGHTS": "1,2,3", "AKIG_DAILY_REPORT_AT": "07:30", "AKIG_AGENT_LEASE_DAYS": "0",
        "AKIG_TILES_URL": "off", "AKIG_ALERT_SITE_ARREARS_HIGH": "5e6", "AKIG_METRICS_TOKEN": "t0ken",
        "AKIG_AGENT_POSITION_INTERVAL_S": "600", "AKIG_AGENT_LOW_BATTERY": "0",
    })
    assert s.agent_position_interval_s == 600 and s.agent_low_battery == 0.0
    assert s.database_url == "postgres://u:p@db:5432/akig" and s.cache_disabled and s.home == Path("/srv/akig")
    assert s.cache_ttl == 60 and s.row_security is False and s.trust_proxy_headers is True
    assert s.allowed_origins == ("akig.example.org", "x.org:8443")
    assert s.production and s.session_seconds == 1800 and s.score_weights == (1.0, 2.0, 3.0)
    assert s.daily_report_at == dt.time(7, 30) and s.agent_lease_days == 0 and s.tiles_url == "off"
    assert s.alert_threshold("site_arrears_high", 1) == 5e6 and s.alert_threshold("agent_no_gps", 30) == 30
    assert s.metrics_token == "t0ken" and "t0ken" not in repr(s)


@pytest.mark.parametrize("name, value, message", [
    ("AKIG_CACHE_TTL", "15m", "AKIG_CACHE_TTL attend un nombre entier de secondes d'au moins 1 (reçu '15m')."),
    ("AKIG_CACHE_TTL", "0", "AKIG_CACHE_TTL attend un nombre entier de secondes d'au moins 1 (reçu '0')."),
    ("AKIG_STATEMENT_TIMEOUT_MS", "-1", "AKIG_STATEMENT_TIMEOUT_MS attend un nombre entier de millisecondes"),
    ("AKIG_SERVER_THREADS", "2.5", "AKIG_SERVER_THREADS attend un nombre entier d'au moins 1 (reçu '2.5')."),
    ("AKIG_AGENT_LEASE_DAYS", "-1", "AKIG_AGENT_LEASE_DAYS attend un nombre entier de jours d'au moins 0"),
    ("AKIG_AGENT_LEASE_DAYS", "sept", "AKIG_AGENT_LEASE_DAYS attend un nombre entier de jours d'au moins 0"),
    ("AKIG_POSITIONS_RETENTION_DAYS", "0", "AKIG_POSITIONS_RETENTION_DAYS attend un nombre entier de jours d'au "
                                           "moins 1"),
    ("AKIG_UNUSED_SESSION_S", "0", "AKIG_UNUSED_SESSION_S : un nombre de secondes entre 1 et 3600 est attendu, "
                                   "pas '0'."),
    ("AKIG_UNUSED_SESSION_S", "1m", "AKIG_UNUSED_SESSION_S : un nombre de secondes entre 1 et 3600 est attendu"),
    ("AKIG_UNUSED_SESSION_S", "3601", "AKIG_UNUSED_SESSION_S : un nombre de secondes entre 1 et 3600"),
    ("AKIG_AGENT_POSITION_INTERVAL_S", "4", "AKIG_AGENT_POSITION_INTERVAL_S attend un nombre entier de secondes "
                                            "entre 5 et 600 (reçu '4')."),
    ("AKIG_AGENT_POSITION_INTERVAL_S", "601", "AKIG_AGENT_POSITION_INTERVAL_S attend un nombre entier de secondes"),
    ("AKIG_AGENT_LOW_BATTERY", "15%", "AKIG_AGENT_LOW_BATTERY attend un nombre entre 0 et 1 (0.15 pour 15 %) "
                                      "(reçu '15%')."),
    ("AKIG_AGENT_LOW_BATTERY", "1.5", "AKIG_AGENT_LOW_BATTERY attend un nombre entre 0 et 1"),
    ("AKIG_AGENT_LOW_BATTERY", "nan", "AKIG_AGENT_LOW_BATTERY attend un nombre entre 0 et 1"),
    ("AKIG_API_RATE_PER_USER", "beaucoup", "AKIG_API_RATE_PER_USER attend un nombre entier d'au moins 1"),
    ("AKIG_SESSION_HOURS", "0", "AKIG_SESSION_HOURS attend un nombre d'heures supérieur à 0 (reçu '0')."),
    ("AKIG_LIVE_INTERVAL_S", "nan", "AKIG_LIVE_INTERVAL_S attend un nombre de secondes supérieur à 0"),
    ("AKIG_READ_AFTER_WRITE_S", "-2", "AKIG_READ_AFTER_WRITE_S attend un nombre de secondes au moins égal à 0"),
    ("AKIG_SCHEDULER_TICK_S", "1 minute", "AKIG_SCHEDULER_TICK_S attend un nombre de secondes supérieur à 0"),
    ("AKIG_DAILY_REPORT_AT", "19h", "AKIG_DAILY_REPORT_AT doit être une heure HH:MM (reçu '19h')"),
    ("AKIG_ENV", "prod", "AKIG_ENV attend development ou production (reçu 'prod')."),
    ("AKIG_ROW_SECURITY", "peut-être", "AKIG_ROW_SECURITY attend on ou off"),
    ("AKIG_TRUST_PROXY_HEADERS", "true", "AKIG_TRUST_PROXY_HEADERS attend 1 (derrière nginx) ou 0 (reçu 'true')."),
    ("AKIG_SCORE_WEIGHTS", "60,40", "AKIG_SCORE_WEIGHTS attend trois nombres positifs ou nuls"),
    ("AKIG_SCORE_WEIGHTS", "0,0,0", "AKIG_SCORE_WEIGHTS attend trois nombres positifs ou nuls, pas tous nuls"),
    ("AKIG_DATABASE_URL", "mysql://root:hunter2@db/akig", "AKIG_DATABASE_URL attend une URL PostgreSQL "
                                                         "(postgresql://utilisateur:mot-de-passe@hôte:5432/base) "
                                                         "(reçu 'mysql://root:***@db/akig')."),
    ("AKIG_DATABASE_READ_URL", "replica:5432", "AKIG_DATABASE_READ_URL attend une URL PostgreSQL"),
    ("AKIG_REDIS_URL", "localhost:6379", "AKIG_REDIS_URL attend une URL Redis"),
    ("AKIG_TILES_URL", "tile.openstreetmap.org/{Z}/{X}/{Y}.png", "AKIG_TILES_URL attend une URL de tuiles"),
    ("AKIG_ALLOWED_ORIGINS", "https://akig.example.org", "AKIG_ALLOWED_ORIGINS attend des noms d'hôte"),
    ("AKIG_ALERT_SITE_ARREARS_HIGH", "beaucoup", "AKIG_ALERT_SITE_ARREARS_HIGH attend un nombre"),
])
def test_a_wrong_value_is_refused_with_a_french_message_naming_it(name, value, message):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({name: value})
    assert message in str(refused.value)
    assert isinstance(refused.value, InvalidParameter) and isinstance(refused.value, ValueError)
    assert "hunter2" not in str(refused.value)


def test_every_wrong_variable_is_named_in_one_error():
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"AKIG_CACHE_TTL": "x", "AKIG_ENV": "prod", "AKIG_DAILY_REPORT_AT": "7h",
                           "AKIG_SERVER_THREADS": "4"})
    assert [p.split()[0] for p in refused.value.problems] == ["AKIG_CACHE_TTL", "AKIG_ENV", "AKIG_DAILY_REPORT_AT"]
    assert str(refused.value).count("\n") == 2


def test_load_follows_the_environment_and_reuses_unchanged_settings(monkeypatch):
    monkeypatch.delenv("AKIG_API_RATE_PER_ADDRESS", raising=False)
    first = config.load()
    assert config.load() is first
    monkeypatch.setenv("AKIG_API_RATE_PER_ADDRESS", "100000")
    assert config.load().api_rate_per_address == 100000
    monkeypatch.setenv("AKIG_API_RATE_PER_ADDRESS", "cent")
    with pytest.raises(SettingsError, match="AKIG_API_RATE_PER_ADDRESS"):
        config.load()


# -- what the server needs on top ------------------------------------------------------------------------------
GOOD_COOKIE, GOOD_PAGE = "c" * 40, "p" * 40


@pytest.mark.parametrize("values, message", [
    ({"AKIG_ENV": "production", "AKIG_SESSION_SECRET": GOOD_PAGE}, "AKIG_ENV=production needs AKIG_COOKIE_SECRET "
                                                                   "(at least 32 random characters"),
    ({"AKIG_ENV": "production", "AKIG_COOKIE_SECRET": GOOD_COOKIE}, "AKIG_ENV=production needs AKIG_SESSION_SECRET"),
    ({"AKIG_COOKIE_SECRET": "short"}, "AKIG_COOKIE_SECRET is too short: at least 32 random characters."),
    ({"AKIG_COOKIE_SECRET": GOOD_COOKIE, "AKIG_SESSION_SECRET": GOOD_COOKIE},
     "AKIG_SESSION_SECRET must differ from AKIG_COOKIE_SECRET"),
])
def test_the_server_refuses_to_start_without_its_secrets(values, message):
    settings = Settings.from_env(values)   # other commands need no secret
    with pytest.raises(StartupRefused, match=message.replace("(", r"\(")):
        settings.check_for_server()


def test_development_and_production_with_secrets_may_serve():
    Settings.from_env({}).check_for_server()
    Settings.from_env({"AKIG_ENV": "production", "AKIG_COOKIE_SECRET": GOOD_COOKIE,
                       "AKIG_SESSION_SECRET": GOOD_PAGE}).check_for_server()


# -- the reference page ------------------------------------------------------------------------------------------
def test_the_settings_reference_is_generated_from_the_code():
    page = REPO / config.REFERENCE_PAGE
    expected = config.settings_markdown()
    if not page.is_file() or page.read_text(encoding="utf-8") != expected:
        pytest.fail(f"{config.REFERENCE_PAGE} differs from the settings in akig_data/config.py; regenerate it "
                    f"(from the repository's root):\n    .venv/bin/{config.REGENERATE}", pytrace=False)


def test_the_reference_lists_every_variable_with_its_default():
    page = config.settings_markdown()
    for f in env_fields():
        assert f"| `{f.metadata['env']}` | {f.metadata['kind']} | {f.metadata['shown_default']} |" in page
