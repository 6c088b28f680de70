"""The read registry: declared parameters, checked and normalised arguments, lookup by name."""

from __future__ import annotations

import datetime as dt

import pytest

from akig_data import clock
from akig_data import reads
from akig_data.reads import registry
from akig_data.errors import InvalidParameter


def test_every_required_read_is_registered_with_its_parameters():
    specs = {s.name: s for s in reads.all_reads()}
    for name in ("arrears_by_lease", "arrears_by_site", "good_payers", "promises", "portfolio_summary"):
        assert [p.name for p in specs[name].params][:2] == ["as_of", "owner_ref"]
        assert "payments" in specs[name].depends_on
    assert [p.name for p in specs["promises"].params][2:] == ["due_from", "due_to"]
    assert [p.name for p in specs["site_kpis"].params] == ["date_from", "date_to", "owner_ref"]
    assert all(s.summary for s in specs.values())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"as_of": "2026-02-30"}, "as_of must be a date"),
        ({"as_of": "demain"}, "as_of must be a date"),
        ({"as_of": 20260101}, "as_of must be a date"),
        ({"asof": "2026-01-01"}, "has no parameter 'asof'"),
        ({"owner_ref": "x" * 10_001}, "too long"),
        ({"as_of": "7400-07-01"}, "must be between 1990-01-01 and"),   # would compute dues until year 7400
        ({"as_of": "1989-12-31"}, "must be between 1990-01-01 and"),
    ],
)
def test_bad_arguments_are_refused_before_any_query(kwargs, message):
    spec = reads.get("arrears_by_site")
    with pytest.raises(InvalidParameter, match=message):
        spec.bind(kwargs)


def test_arguments_are_normalised_and_defaults_resolved():
    spec = reads.get("site_kpis")
    bound = spec.bind({"date_from": "2026-01-01", "owner_ref": ""})
    assert bound == {"date_from": dt.date(2026, 1, 1), "date_to": clock.today(), "owner_ref": None}
    assert reads.get("arrears_by_site").bind({})["as_of"] == clock.today()


@pytest.mark.parametrize(
    "typ, raw, value",
    [(int, "12", 12), (int, 3.0, 3), (float, "0.5", 0.5), (bool, "oui", True), (bool, "off", False),
     (dt.date, dt.datetime(2026, 1, 2, 23, 0, tzinfo=dt.timezone.utc), dt.date(2026, 1, 2))],
)
def test_parameter_coercion(typ, raw, value):
    assert registry.Param("p", typ, None, True).coerce(raw) == value


@pytest.mark.parametrize("typ, raw", [(int, "1.5"), (int, True), (float, "nan"), (bool, "peut-être")])
def test_parameter_coercion_refusals(typ, raw):
    with pytest.raises(InvalidParameter):
        registry.Param("p", typ, None, True).coerce(raw)


def test_unknown_read_names_the_list_command():
    with pytest.raises(InvalidParameter, match="akig query --list"):
        reads.get("arrears_by_planet")


def test_reads_take_positional_arguments_and_run_by_name(small_data):
    positional = reads.arrears_by_site("2026-06-30", "OWN-0001")
    by_name = reads.run("arrears_by_site", as_of="2026-06-30", owner_ref="OWN-0001")
    assert positional.equals(by_name)
    with pytest.raises(InvalidParameter, match="at most 2 arguments"):
        reads.arrears_by_site("2026-06-30", "OWN-0001", "extra")


def test_frames_keep_integer_money_and_real_dates(small_data):
    frame = reads.arrears_by_lease(as_of="2026-06-30")
    assert str(frame["arrears"].dtype) == "Int64"
    assert isinstance(frame["oldest_unpaid_due_date"].dropna().iloc[0], dt.date)
    empty = reads.arrears_by_lease(as_of="1990-01-01")
    assert empty.empty and list(empty.columns) == list(frame.columns)
    assert str(empty["arrears"].dtype) == "Int64"
