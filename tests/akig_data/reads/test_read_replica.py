"""AKIG_DATABASE_READ_URL: reads go to the replica, unless a write was announced within the window (or
Redis cannot tell), when they stay on the primary. The "replica" here is the same database reached
through a TCP proxy the test cuts, which shows where each read's SQL went."""

from __future__ import annotations

import dataclasses
import time

import pytest

from akig_data import reads, runtime
from akig_data.errors import DatabaseUnavailable
from tests.conftest import SMALL_UNTIL, settings_for
from akig_data.testing.tcp_proxy import proxied_database_url


@pytest.fixture()
def replicated(small_db, redis_url):
    proxy, through = proxied_database_url(small_db)
    settings = dataclasses.replace(settings_for(small_db, redis_url), database_read_url=through, read_after_write_s=2)
    rt = runtime.configure(settings)
    rt.memo.client.delete(rt.memo._last_write_key)
    yield rt, proxy
    proxy.close()
    runtime.reset()


def fresh_read(rt):
    """A read whose answer is not cached (a new generation each time), so its SQL runs."""
    rt.memo.client.incr(rt.memo._gen_key("payments"))
    return reads.period_kpis(date_from=SMALL_UNTIL.replace(day=1), date_to=SMALL_UNTIL)


def test_reads_go_to_the_replica_and_stay_on_the_primary_after_a_write(replicated):
    rt, replica = replicated
    assert rt.engine_for_reads() is rt.read_engine          # no write known
    expected = fresh_read(rt)
    replica.cut()
    try:
        with pytest.raises(DatabaseUnavailable):             # the replica is gone: its reads fail...
            fresh_read(rt)
        rt.memo.bump(["payments"])                           # ...a write is announced:
        assert fresh_read(rt).equals(expected)               # reads are served by the primary
        time.sleep(2.1)                                      # the window is over: back to the replica
        assert rt.engine_for_reads() is rt.read_engine
    finally:
        replica.restore()
    assert fresh_read(rt).equals(expected)


def test_without_redis_to_tell_reads_stay_on_the_primary(small_db):
    proxy, through = proxied_database_url(small_db)
    settings = dataclasses.replace(settings_for(small_db, "off"), database_read_url=through)
    rt = runtime.configure(settings)
    try:
        proxy.cut()
        assert rt.engine_for_reads() is rt.engine
        assert len(reads.period_kpis(date_from=SMALL_UNTIL.replace(day=1), date_to=SMALL_UNTIL)) == 1
    finally:
        proxy.close()
        runtime.reset()


def test_without_a_replica_everything_uses_the_primary(small_data):
    assert small_data.read_engine is None and small_data.engine_for_reads() is small_data.engine
