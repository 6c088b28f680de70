"""PostgreSQL going away and coming back: a banner first, then the page recovers by itself, with one
watcher per process (not one timer per session)."""

from __future__ import annotations

import time

import panel as pn
import pytest

from akig_data import runtime
from akig_data.config import Settings
from dashboards.io.database_watch import DatabaseWatch, database_watch
from dashboards.apps.home import HomePage
from dashboards.view import guarded
from tests.dashboards.apps.test_home import texts

DOWN = Settings(database_url="postgresql://postgres@127.0.0.1:1/akig", redis_url="off")


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture()
def watch():
    pn.state.cache.pop("akig_database_watch", None)
    w = database_watch()
    w.interval = 0.05
    yield w
    w.stop()
    pn.state.cache.pop("akig_database_watch", None)


def test_the_watch_is_one_per_process(watch):
    assert database_watch() is watch


def test_page_shows_a_banner_then_recovers_when_the_database_is_back(small_data, watch):
    good = small_data.settings
    runtime.configure(DOWN)
    page = HomePage()
    assert "La base de données est injoignable" in texts(guarded(page.summary))
    assert watch.available is False
    renders = []
    watch.param.watch(lambda event: renders.append(event.new), "available")
    runtime.configure(good)                         # PostgreSQL is back
    assert wait_until(lambda: watch.available)
    assert renders == [True]                        # bound panes re-render on this change
    assert "Impayés" in texts(page.summary())


def test_a_second_failure_does_not_start_a_second_watcher(watch):
    runtime.configure(DOWN)
    try:
        watch.report_failure()
        first = watch._thread
        watch.report_failure()
        assert watch._thread is first and first.is_alive()
    finally:
        runtime.reset()


def test_database_answers_is_false_when_down():
    runtime.configure(DOWN)
    try:
        assert DatabaseWatch.database_answers() is False
    finally:
        runtime.reset()
