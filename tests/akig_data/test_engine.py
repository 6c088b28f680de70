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
