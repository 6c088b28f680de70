"""akig_data.engine: a read's transaction gets its scope, its role and its memory for sorts; the garbage
collector is paused while a read's rows are fetched and converted, and is always on again afterwards: after
a read, after a failed one, and never switched on by a pause that found it off."""

from __future__ import annotations

import gc

import pytest

from akig_data.engine import collector_paused


@pytest.fixture(autouse=True)
def _collector_on():
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_off_inside_and_on_after():
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():       # a second pause (another read) does not switch it back on early
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_is_on_again_after_a_failure():
    with pytest.raises(ZeroDivisionError):
        with collector_paused():
            1 / 0
    assert gc.isenabled()


def test_a_pause_does_not_switch_on_a_collector_someone_else_switched_off():
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_a_read_leaves_the_collector_on(small_data):
    from akig_data import reads

    assert len(reads.arrears_by_lease(as_of="2026-06-30")) > 0
    assert gc.isenabled()


def test_a_read_sorts_with_its_own_memory_and_leaves_the_connection_as_it_was(small_data):
    from akig_data.engine import READ_WORK_MEM, fetch_arrow

    engine = small_data.engine
    with engine.connect() as conn:
        before = conn.exec_driver_sql("SELECT current_setting('work_mem')").scalar()
    inside = fetch_arrow(engine, "SELECT current_setting('work_mem') AS w, current_user AS u", {})
    assert inside.column("w").to_pylist() == [READ_WORK_MEM]
    assert inside.column("u").to_pylist() == ["akig_read_all"]
    with engine.connect() as conn:   # set for the read's transaction only
        assert conn.exec_driver_sql("SELECT current_setting('work_mem')").scalar() == before


# Every type a read returns, with the values CSV could get wrong: NULLs beside empty texts, quotes, commas,
# line breaks, accents, not-a-number and infinities, numeric, dates and times with their zone.
_EVERY_TYPE = """
    SELECT v.i, v.i::smallint AS small, v.i::integer AS int4, v.t, v.b, v.f, v.n, v.d, v.ts, v.tz,
           CASE WHEN v.i = 1 THEN 'NaN'::real ELSE (v.i / 10.0 - 1e-9)::real END AS r
      FROM (VALUES
        (1::bigint, 'Mariama "la grande", Kaloum'::text, true, 'NaN'::float8, 12.50::numeric,
         DATE '2026-12-07', TIMESTAMP '2026-12-07 10:15:00.123456', TIMESTAMPTZ '2026-12-07 10:15:00.5+00'),
        (2, E'deux\\nlignes\\r\\net ; «guillemets»', false, 'Infinity', -0.001, DATE '1999-01-31',
         TIMESTAMP '1970-01-01 00:00:00', TIMESTAMPTZ '2026-03-01 23:59:59.999999+02'),
        (3, '', NULL, 0.1, NULL, NULL, NULL, NULL),
        (4, NULL, true, -1e308, 1e20, DATE '2026-02-28', NULL, TIMESTAMPTZ '2026-12-07 00:00:00+00')
      ) AS v (i, t, b, f, n, d, ts, tz)
     WHERE v.i >= CAST(:lo AS bigint) AND (CAST(:skip AS text) IS NULL OR v.t IS DISTINCT FROM CAST(:skip AS text))
     ORDER BY v.i"""


def _by_the_driver_only(monkeypatch):
    """Fail the test if a statement's rows come through the driver instead of COPY."""
    from akig_data import engine as engine_module

    def refuse(*args, **kwargs):
        raise AssertionError("read through the driver")

    monkeypatch.setattr(engine_module, "arrow_from_result", refuse)


def test_a_statement_run_again_comes_through_copy_with_the_same_columns_and_values(small_data, monkeypatch):
    from akig_data.engine import fetch_arrow

    engine = small_data.engine
    first = fetch_arrow(engine, _EVERY_TYPE, {"lo": 0, "skip": None})     # through the driver
    assert first.num_rows == 4
    _by_the_driver_only(monkeypatch)
    again = fetch_arrow(engine, _EVERY_TYPE, {"lo": 0, "skip": None})     # through COPY
    assert again.schema == first.schema
    assert again.to_pylist()[1:] == first.to_pylist()[1:]
    assert again.column("f").to_pylist()[0] != again.column("f").to_pylist()[0]   # NaN stays NaN
    assert again.column("t").to_pylist() == ['Mariama "la grande", Kaloum', "deux\nlignes\r\net ; «guillemets»", "", None]
    assert again.column("b").to_pylist() == [True, False, None, True]
    empty = fetch_arrow(engine, _EVERY_TYPE, {"lo": 99, "skip": None})
    assert empty.num_rows == 0 and empty.schema == first.schema


def test_copys_parameters_are_values_never_sql(small_data, monkeypatch):
    from akig_data.engine import fetch_arrow

    engine = small_data.engine
    fetch_arrow(engine, _EVERY_TYPE, {"lo": 0, "skip": None})
    _by_the_driver_only(monkeypatch)
    for hostile in ("x') TO STDOUT; DROP TABLE owners; --", "'; SELECT 1; --", "%(lo)s", "\\", 'a"b'):
        rows = fetch_arrow(engine, _EVERY_TYPE, {"lo": 0, "skip": hostile})
        assert rows.num_rows == 4
    skipped = fetch_arrow(engine, _EVERY_TYPE, {"lo": 0, "skip": 'Mariama "la grande", Kaloum'})
    assert skipped.column("i").to_pylist() == [2, 3, 4]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM owners").scalar() > 0


def test_copy_keeps_the_scope_and_the_data_layers_errors(small_data, monkeypatch):
    from akig_data.engine import fetch_arrow
    from akig_data.errors import InvalidParameter

    engine = small_data.engine
    sql = "SELECT current_user AS u, make_date(CAST(:y AS integer), 1, 1) AS d, count(*) AS leases FROM leases"
    everyone = fetch_arrow(engine, sql, {"y": 2026})
    owner = fetch_arrow(engine, "SELECT owner_ref FROM owners ORDER BY owner_ref LIMIT 1", {}).column(0)[0].as_py()
    _by_the_driver_only(monkeypatch)
    his = fetch_arrow(engine, sql, {"y": 2026}, scope=owner)
    assert his.column("u").to_pylist() == ["akig_read_owner"]
    assert 0 < his.column("leases")[0].as_py() < everyone.column("leases")[0].as_py()
    with pytest.raises(InvalidParameter):
        fetch_arrow(engine, sql, {"y": 0})


def test_an_answer_that_does_not_fit_the_first_columns_comes_through_the_driver(small_data):
    from akig_data.engine import fetch_arrow

    engine = small_data.engine
    sql = "SELECT CAST(:d AS date) AS d"
    assert fetch_arrow(engine, sql, {"d": "2026-12-07"}).column("d")[0].as_py().isoformat() == "2026-12-07"
    # PostgreSQL writes 'infinity', which no Arrow date holds: the driver refuses it as it always did
    with pytest.raises(Exception, match="(?i)infinity|too large|out of range"):
        fetch_arrow(engine, sql, {"d": "infinity"})


def test_a_row_of_one_null_column_is_kept(small_data, monkeypatch):
    """Its CSV line is empty: it must stay a row, not be skipped as a blank line."""
    from akig_data.engine import fetch_arrow

    engine = small_data.engine
    sql = "SELECT v.x FROM (VALUES (CAST(:a AS bigint)), (NULL), (NULL), (CAST(:b AS bigint))) AS v (x)"
    first = fetch_arrow(engine, sql, {"a": 1, "b": 2})
    _by_the_driver_only(monkeypatch)
    assert fetch_arrow(engine, sql, {"a": 1, "b": 2}).column("x").to_pylist() == first.column("x").to_pylist() == [1, None, None, 2]
    assert fetch_arrow(engine, sql, {"a": None, "b": None}).column("x").to_pylist() == [None] * 4


def test_columns_that_changed_under_a_statement_are_learnt_again(fresh_db):
    """A migration renames or retypes a column while a server runs: the statement's next answer must carry
    the new columns, not fail nor come back under the old ones."""
    from akig_data import engine as engine_module
    from akig_data.engine import fetch_arrow

    engine = fresh_db.engine
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE copy_probe (a bigint, b text)")
        conn.exec_driver_sql("INSERT INTO copy_probe VALUES (1, 'un'), (2, NULL)")
        conn.exec_driver_sql("GRANT SELECT ON copy_probe TO akig_read_all")
    sql = "SELECT * FROM copy_probe ORDER BY 1"
    assert fetch_arrow(engine, sql, {}).to_pylist() == [{"a": 1, "b": "un"}, {"a": 2, "b": None}]
    assert fetch_arrow(engine, sql, {}).to_pylist() == [{"a": 1, "b": "un"}, {"a": 2, "b": None}]   # COPY
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE copy_probe RENAME COLUMN b TO label")
        conn.exec_driver_sql("ALTER TABLE copy_probe ALTER COLUMN a TYPE text")
    assert fetch_arrow(engine, sql, {}).to_pylist() == [{"a": "1", "label": "un"}, {"a": "2", "label": None}]
    assert engine_module._COLUMNS[(engine.url, sql)][1][1].name == "label"   # (compiled, columns)
    assert fetch_arrow(engine, sql, {}).to_pylist() == [{"a": "1", "label": "un"}, {"a": "2", "label": None}]
