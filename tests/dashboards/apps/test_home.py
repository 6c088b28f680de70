"""The home page as a Python object (no browser): its KPIs come from the data layer, and an empty or
unreachable database gives a French message instead of an empty chart or a traceback."""

from __future__ import annotations

import panel as pn
import pytest

from akig_data import reads, runtime
from akig_data.config import Settings
from dashboards import format as fmt
from dashboards.apps.home import HomePage
from dashboards.view import guarded
from tests.conftest import SMALL_UNTIL


def texts(obj) -> str:
    """All the HTML/Markdown text inside a Panel object."""
    found = []
    for pane in obj.select(lambda o: isinstance(o, (pn.pane.HTML, pn.pane.Markdown, pn.pane.Alert))):
        found.append(str(pane.object))
    return "\n".join(found)


def test_summary_shows_the_portfolio_numbers(small_data):
    page = HomePage(as_of=SMALL_UNTIL)
    shown = texts(page.summary())
    row = reads.portfolio_summary(as_of=SMALL_UNTIL).iloc[0]
    assert fmt.fmt_gnf(row["arrears"]) in shown
    assert fmt.fmt_rate(row["collection_rate"]) in shown
    assert f"{fmt.fmt_int(row['occupied_units'])} / {fmt.fmt_int(row['units'])}" in shown
    assert "Impayés" in shown and "Ponctualité" in shown


def test_changing_the_date_changes_the_numbers(small_data):
    page = HomePage(as_of=SMALL_UNTIL)
    before = texts(page.summary())
    page.as_of = SMALL_UNTIL.replace(month=1)
    assert texts(page.summary()) != before


def test_empty_database_says_how_to_load_data(fresh_db):
    shown = texts(HomePage().summary())
    assert "Aucune donnée" in shown and "akig import" in shown


def test_unreachable_database_shows_a_banner_not_a_traceback():
    runtime.configure(Settings(database_url="postgresql://postgres@127.0.0.1:1/akig", redis_url="off"))
    try:
        shown = texts(guarded(HomePage().summary))
        assert "La base de données est injoignable" in shown
        assert "Traceback" not in shown
    finally:
        runtime.reset()


def test_the_server_page_is_a_template_with_the_akig_title(small_data):
    from akig_data.access.scope import Principal, acting_as
    from dashboards import catalog
    from dashboards.server import app as server

    home = next(entry for entry in catalog.entries() if entry.path == "/")
    with acting_as(Principal("t-analyst", "analyst")):
        template = server.guarded_factory(home)()
    assert isinstance(template, pn.template.VanillaTemplate)
    assert template.header_background == "#0b6e4f"
    assert template.title == "AKIG — Accueil"
    assert "Synthèse du portefeuille" in texts(pn.Column(*template.main))


@pytest.mark.parametrize(
    "value, text",
    [(1_250_000, "1\u202f250\u202f000\u00a0GNF"), (0, "0\u00a0GNF"), (None, "—"), (float("nan"), "—")],
)
def test_money_is_shown_the_french_way(value, text):
    assert fmt.fmt_gnf(value) == text


@pytest.mark.parametrize("value, text", [(0.4213, "42,1\u00a0%"), (1.25, "125,0\u00a0%"), (None, "—"),
                                         (float("nan"), "—")])
def test_rates_are_shown_as_percentages(value, text):
    assert fmt.fmt_rate(value) == text


def test_worst_sites_lists_the_largest_arrears_first(small_data):
    table = HomePage(as_of=SMALL_UNTIL).worst_sites()
    assert isinstance(table, pn.widgets.Tabulator)
    expected = reads.arrears_by_site(as_of=SMALL_UNTIL)
    expected = expected[expected["arrears"] > 0].head(10)
    assert list(table.value["Site"]) == list(expected["site_name"])
    assert list(table.value["Impayés (GNF)"]) == list(expected["arrears"])


def test_worst_sites_without_arrears_says_so(fresh_db):
    shown = texts(HomePage().worst_sites())
    assert "Aucun impayé" in shown
