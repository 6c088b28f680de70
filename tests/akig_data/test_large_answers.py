"""akig_data.large_answers: a statement whose last answer was large comes back through the ADBC driver with
exactly the columns and values psycopg gives (types, NULLs, quotes, NaN, zones), under the same scope and
role, with its parameters as values never SQL; what it cannot give exactly (an 'infinity' date, a renamed
column, a lost connection) is read again through psycopg, and its connections close with the engine."""

from __future__ import annotations

import time

import pytest

from akig_data import engine as engine_module
from akig_data import large_answers

from tests.akig_data.test_engine import _EVERY_TYPE


@pytest.fixture()
def every_answer_is_large(monkeypatch):
    """Every answer counts as large, and one that comes through psycopg after its first run fails the test."""
    monkeypatch.setattr(large_answers, "LARGE_ANSWER_ROWS", 0)
    monkeypatch.setattr(engine_module, "_LAST_ROWS", {})
    yield


def _through_adbc_only(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("read through psycopg")

    monkeypatch.setattr(engine_module, "arrow_from_result", refuse)
    monkeypatch.setattr(engine_module, "copied_table", refuse)


def _adbc_backends(engine) -> int:
    """PostgreSQL's sessions of this database opened by the ADBC driver."""
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            f" AND application_name = '{large_answers.APPLICATION_NAME}'").scalar()


def test_a_large_answer_has_the_columns_and_values_psycopg_gives(small_data, every_answer_is_large, monkeypatch):
    from akig_data.engine import fetch_arrow

    engine = small_data.engine
    first = fetch_arrow(engine, _EVERY_TYPE, {"lo": 0, "skip": None})            # learnt through psycopg
    _through_adbc_only(monkeypatch)
    again = fetch_arrow(engine, _EVERY_TYPE, {"lo": 0, "skip": None})
    assert again.schema == first.schema
    assert again.to_pylist()[1:] == first.to_pylist()[1:]
    assert again.column("f").to_pylist()[0] != again.column("f").to_pylist()[0]   # NaN stays NaN
    assert again.column("t").to_pylist() == ['Mariama "la grande", Kaloum', "deux\nlignes\r\net ; «guillemets»", "", None]
    assert again.column("n").to_pylist() == [12.5, -0.001, None, 1e20]
    assert again.column("r").to_pylist()[1:] == [0.2, 0.3, 0.4]     # a real as PostgreSQL writes it, not widened
    assert [v.isoformat() if v else None for v in again.column("tz").to_pylist()] == [
        "2026-12-07T10:15:00.500000+00:00", "2026-03-01T21:59:59.999999+00:00", None, "2026-12-07T00:00:00+00:00"]
    empty = fetch_arrow(engine, _EVERY_TYPE, {"lo": 99, "skip": None})
    assert empty.num_rows == 0 and empty.schema == first.schema


def test_real_reads_are_the_same_both_ways(small_data, every_answer_is_large, monkeypatch):
    """The reads' own statements, run by their bodies (no cache): learnt through psycopg, then through ADBC."""
    from akig_data import reads

    calls = [(reads.arrears_by_lease, {"as_of": "2026-06-30"}), (reads.good_payers, {"as_of": "2026-06-30"}),
             (reads.promises, {"as_of": "2026-06-30"}), (reads.late_sites, {"as_of": "2026-06-30"})]
    first = [read.spec.func(**read.spec.bind(kwargs)) for read, kwargs in calls]
    assert sum(table.num_rows for table in first) > 1000
    _through_adbc_only(monkeypatch)
    for (read, kwargs), expected in zip(calls, first):
        assert read.spec.func(**read.spec.bind(kwargs)).equals(expected), read.spec.name


def test_parameters_are_values_never_sql(small_data, every_answer_is_large, monkeypatch):
    from akig_data.engine import fetch_arrow

    engine = small_data.engine
    fetch_arrow(engine, _EVERY_TYPE, {"lo": 0, "skip": None})
    _through_adbc_only(monkeypatch)
    for hostile in ("x') TO STDOUT; DROP TABLE owners; --", "'; SELECT 1; --", "%(lo)s", "\\", 'a"b', "é'«»"):
        assert fetch_arrow(engine, _EVERY_TYPE, {"lo": 0, "skip": hostile}).num_rows == 4
    skipped = fetch_arrow(engine, _EVERY_TYPE, {"lo": 0, "skip": 'Mariama "la grande", Kaloum'})
    assert skipped.column("i").to_pylist() == [2, 3, 4]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM owners").scalar() > 0


def test_the_scope_the_role_and_the_data_layers_errors_hold(small_data, every_answer_is_large, monkeypatch):
    from akig_data.engine import READ_WORK_MEM, fetch_arrow
    from akig_data.errors import InvalidParameter

    engine = small_data.engine
    sql = ("SELECT current_user AS u, current_setting('work_mem') AS w, make_date(CAST(:y AS integer), 1, 1) AS d,"
           " count(*) AS leases FROM leases")
    everyone = fetch_arrow(engine, sql, {"y": 2026})
    owner = fetch_arrow(engine, "SELECT owner_ref FROM owners ORDER BY owner_ref LIMIT 1", {}).column(0)[0].as_py()
    fetch_arrow(engine, sql, {"y": 2026}, scope=owner)
    _through_adbc_only(monkeypatch)
    again = fetch_arrow(engine, sql, {"y": 2026})
    assert again.column("u").to_pylist() == ["akig_read_all"] and again.column("w").to_pylist() == [READ_WORK_MEM]
    assert again.column("leases").to_pylist() == everyone.column("leases").to_pylist()
    his = fetch_arrow(engine, sql, {"y": 2026}, scope=owner)
    assert his.column("u").to_pylist() == ["akig_read_owner"]
    assert 0 < his.column("leases")[0].as_py() < everyone.column("leases")[0].as_py()
    with pytest.raises(InvalidParameter, match="date field value out of range"):
        fetch_arrow(engine, sql, {"y": 0})
    # the connection went back clean: no role, no scope left on it
    assert fetch_arrow(engine, sql, {"y": 2026}).column("u").to_pylist() == ["akig_read_all"]


def test_what_adbc_cannot_give_exactly_comes_through_psycopg(small_data, every_answer_is_large):
    from akig_data.engine import fetch_arrow

    engine = small_data.engine
    sql = "SELECT CAST(:d AS date) AS d"
    assert fetch_arrow(engine, sql, {"d": "2026-12-07"}).column("d")[0].as_py().isoformat() == "2026-12-07"
    assert fetch_arrow(engine, sql, {"d": "2026-12-08"}).column("d")[0].as_py().isoformat() == "2026-12-08"
    with pytest.raises(Exception, match="(?i)infinity|too large|out of range"):
        fetch_arrow(engine, sql, {"d": "infinity"})
    stamp = "SELECT CAST(:t AS timestamptz) AS t"
    fetch_arrow(engine, stamp, {"t": "2026-12-07 10:00+00"})
    with pytest.raises(Exception, match="(?i)infinity|too large|out of range"):
        fetch_arrow(engine, stamp, {"t": "-infinity"})


def test_a_lost_connection_is_replaced_and_the_read_still_answers(small_data, every_answer_is_large):
    from akig_data.engine import fetch_arrow

    engine = small_data.engine
    sql = "SELECT pg_backend_pid() AS pid, CAST(:x AS bigint) AS x"
    fetch_arrow(engine, sql, {"x": 1})
    first_pid = fetch_arrow(engine, sql, {"x": 2}).column("pid")[0].as_py()     # an ADBC connection
    with engine.connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(first_pid)})")
    answers = [fetch_arrow(engine, sql, {"x": 3}), fetch_arrow(engine, sql, {"x": 4})]
    assert [a.column("x")[0].as_py() for a in answers] == [3, 4]
    assert first_pid not in [a.column("pid")[0].as_py() for a in answers]


def test_small_answers_stay_with_psycopg_and_the_pool_closes_with_the_engine(small_data, monkeypatch):
    from akig_data.engine import create_engine, fetch_arrow

    monkeypatch.setattr(engine_module, "_LAST_ROWS", {})
    engine = create_engine(str(small_data.engine.url.render_as_string(hide_password=False)))
    sql = "SELECT x FROM generate_series(1, CAST(:n AS integer)) AS x"
    before = _adbc_backends(small_data.engine)
    for n in (10, 10, 10):
        fetch_arrow(engine, sql, {"n": n})
    assert engine not in large_answers._POOLS._pools        # no ADBC connection opened for small answers
    fetch_arrow(engine, sql, {"n": large_answers.LARGE_ANSWER_ROWS})   # learnt large
    big = fetch_arrow(engine, sql, {"n": large_answers.LARGE_ANSWER_ROWS + 1})
    assert big.num_rows == large_answers.LARGE_ANSWER_ROWS + 1
    assert large_answers._POOLS._pools[engine].checkedin() == 1
    assert _adbc_backends(small_data.engine) == before + 1
    engine.dispose()
    assert engine not in large_answers._POOLS._pools
    deadline = time.monotonic() + 10          # a closed session leaves pg_stat_activity a moment later
    while _adbc_backends(small_data.engine) != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _adbc_backends(small_data.engine) == before


def test_when_every_connection_is_busy_psycopg_answers(small_data, every_answer_is_large, monkeypatch):
    from akig_data.engine import create_engine, fetch_arrow

    monkeypatch.setattr(large_answers, "POOL_SIZE", 1)
    monkeypatch.setattr(large_answers, "POOL_OVERFLOW", 0)
    monkeypatch.setattr(large_answers, "POOL_WAIT_S", 0.1)
    engine = create_engine(str(small_data.engine.url.render_as_string(hide_password=False)))
    sql = "SELECT current_setting('application_name') AS app, CAST(:x AS bigint) AS x"
    try:
        fetch_arrow(engine, sql, {"x": 1})
        assert fetch_arrow(engine, sql, {"x": 2}).column("app").to_pylist() == [large_answers.APPLICATION_NAME]
        held = large_answers._POOLS.get(engine).connect()           # the only one, taken
        try:
            answer = fetch_arrow(engine, sql, {"x": 3})
        finally:
            held.close()
        assert answer.to_pylist() == [{"app": "akig", "x": 3}]      # through psycopg, after a short wait
        assert fetch_arrow(engine, sql, {"x": 4}).column("app").to_pylist() == [large_answers.APPLICATION_NAME]
    finally:
        engine.dispose()


def test_each_way_is_counted_for_the_operators(small_data, every_answer_is_large):
    """/metrics says how reads' rows came back (akig_read_transfers_total{way}): a first run through the
    driver, then ADBC; a connection lost under the ADBC driver counts a fallback."""
    from akig_data.engine import fetch_arrow
    from akig_data.observe.metrics import READ_TRANSFERS

    def counts():
        return {way: READ_TRANSFERS.labels(way)._value.get() for way in ("driver", "copy", "adbc", "adbc_fallback")}

    engine = small_data.engine
    sql = "SELECT pg_backend_pid() AS pid, CAST(:x AS bigint) AS counted"   # a statement no other test ran
    before = counts()
    fetch_arrow(engine, sql, {"x": 1})
    pid = fetch_arrow(engine, sql, {"x": 2}).column("pid")[0].as_py()
    with engine.connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
    fetch_arrow(engine, sql, {"x": 3})
    after = counts()
    assert {way: after[way] - before[way] for way in after} == {"driver": 1, "copy": 1, "adbc": 1, "adbc_fallback": 1}


def test_an_engine_made_elsewhere_reads_through_psycopg_and_counts_no_fallback(small_data, every_answer_is_large):
    import sqlalchemy as sa

    from akig_data.engine import fetch_arrow, normalise_url
    from akig_data.observe.metrics import READ_TRANSFERS

    engine = sa.create_engine(normalise_url(small_data.engine.url.render_as_string(hide_password=False)))
    try:
        assert not large_answers.serves(engine)
        sql = "SELECT CAST(:x AS bigint) AS made_elsewhere"
        before = READ_TRANSFERS.labels("adbc_fallback")._value.get()
        assert [fetch_arrow(engine, sql, {"x": x}).column(0)[0].as_py() for x in (1, 2)] == [1, 2]
        assert READ_TRANSFERS.labels("adbc_fallback")._value.get() == before
    finally:
        engine.dispose()
