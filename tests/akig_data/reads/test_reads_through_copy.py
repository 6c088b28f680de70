"""Every registered read answers the same through COPY, and through the ADBC driver, as through psycopg's
rows: same columns, types and values, row for row (akig_data.engine.fetch_arrow: a statement seen once comes
back through COPY, or through akig_data.large_answers when its last answer was large)."""

from __future__ import annotations

import pandas as pd
import pytest

from akig_data import engine as engine_module
from akig_data import large_answers
from akig_data import reads
from akig_data.reads import registry
from tests.conftest import SMALL_UNTIL


def test_every_read_answers_the_same_through_copy_through_adbc_and_through_the_driver(small_data, monkeypatch):
    leases = reads.arrears_by_lease(as_of=SMALL_UNTIL)
    team = reads.agent_performance(date_from=SMALL_UNTIL.replace(day=1), date_to=SMALL_UNTIL)
    values = {"as_of": SMALL_UNTIL, "date_to": SMALL_UNTIL, "day": SMALL_UNTIL, "month": SMALL_UNTIL.replace(day=1),
              "date_from": SMALL_UNTIL.replace(day=1), "site_ref": reads.sites()["site_ref"].iloc[0],
              "tenant_ref": leases.sort_values("arrears")["tenant_ref"].iloc[-1],
              "agent_ref": team["agent_ref"].iloc[0], "q": "a"}
    compared: list[tuple[str, int]] = []
    through_adbc: list[str] = []
    through_the_driver = engine_module.fetch_arrow

    def both_ways(engine, sql, params, **kwargs):
        engine_module._COLUMNS.pop((engine.url, sql), None)
        driver = through_the_driver(engine, sql, params, **kwargs)
        assert (engine.url, sql) in engine_module._COLUMNS
        copied = engine_module.copied_table
        seen = []
        monkeypatch.setattr(engine_module, "copied_table", lambda *a: seen.append(a) or copied(*a))
        monkeypatch.setattr(large_answers, "LARGE_ANSWER_ROWS", 10**12)
        again = through_the_driver(engine, sql, params, **kwargs)
        monkeypatch.setattr(engine_module, "copied_table", copied)
        if engine_module._COLUMNS[(engine.url, sql)] is not None:   # every column has a CSV form
            assert seen, sql
        assert again.schema == driver.schema, sql
        pd.testing.assert_frame_equal(again.to_pandas(), driver.to_pandas(), check_exact=True)
        if engine_module._COLUMNS[(engine.url, sql)] is not None:   # now as a large answer, through ADBC
            adbc = large_answers.fetch
            taken = []
            monkeypatch.setattr(large_answers, "LARGE_ANSWER_ROWS", 0)
            monkeypatch.setattr(large_answers, "fetch", lambda *a: taken.append(a) or adbc(*a))
            monkeypatch.setattr(engine_module, "copied_table", lambda *a: pytest.fail(f"read through COPY: {sql}"))
            large = through_the_driver(engine, sql, params, **kwargs)
            monkeypatch.setattr(engine_module, "copied_table", copied)
            monkeypatch.setattr(large_answers, "fetch", adbc)
            assert taken, sql
            assert large.schema == driver.schema, sql
            pd.testing.assert_frame_equal(large.to_pandas(), driver.to_pandas(), check_exact=True)
            through_adbc.append(sql)
        compared.append((sql, driver.num_rows))
        return again

    monkeypatch.setattr(registry, "fetch_arrow", both_ways)
    for spec in reads.all_reads():
        kwargs = {p.name: values[p.name] for p in spec.params if p.name in values and (p.required or p.name != "agent_ref")}
        if any(p.required and p.name not in kwargs for p in spec.params):
            continue
        small_data.memo.bump(spec.depends_on)
        reads.run(spec.name, **kwargs)
    assert len({sql for sql, _ in compared}) >= 40
    assert len(set(through_adbc)) >= 35    # every statement whose columns all have a CSV form
    assert sum(rows for _, rows in compared) > 2_000
