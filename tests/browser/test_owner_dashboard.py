"""The owner dashboard in headless Chromium: KPIs from the data layer, a site picked in the table
opens its detail, the search box finds a misspelt tenant and opens his card, the URL keeps it all."""

from __future__ import annotations

import re

import pytest

from akig_data import reads
from dashboards import format as fmt
from tests.conftest import SMALL_UNTIL, settings_for
from tests.dashboards.server.test_server import SCREENSHOTS, open_app


@pytest.fixture()
def dashboard(served, browser):
    page, problems = open_app(browser, f"{served}/proprietaire?date={SMALL_UNTIL.isoformat()}")
    page.wait_for_selector(".akig-kpi-value", timeout=30_000)
    yield page, problems
    page.close()


@pytest.fixture()
def numbers(small_db, redis_url):
    from akig_data import runtime

    runtime.configure(settings_for(small_db, redis_url))
    yield reads.period_kpis(date_from=SMALL_UNTIL.replace(day=1), date_to=SMALL_UNTIL).iloc[0]
    runtime.reset()


def test_kpi_row_shows_the_data_layer_numbers(dashboard, numbers):
    page, problems = dashboard
    values = page.locator(".akig-kpi-value").all_inner_texts()
    expected = [fmt.fmt_gnf(numbers["arrears"]), fmt.fmt_int(numbers["late_tenants"]),
                fmt.fmt_rate(numbers["collection_rate"]), fmt.fmt_rate(numbers["punctuality_rate"]),
                fmt.fmt_gnf(numbers["collected"]), fmt.fmt_gnf(numbers["due"])]
    normalise = lambda text: re.sub(r"\s", " ", text)  # noqa: E731 (thin and no-break spaces)
    assert [normalise(v) for v in values[:6]] == [normalise(v) for v in expected]
    page.wait_for_selector("canvas", timeout=20_000)   # the first chart is drawn
    assert page.get_by_text("Traceback").count() == 0 and page.get_by_text("Erreur inattendue").count() == 0
    assert problems == []


def test_arrears_tab_draws_its_charts_when_opened(dashboard):
    """The arrears charts are built when their tab is first opened, not with the page."""
    page, problems = dashboard
    page.wait_for_selector("canvas", timeout=20_000)
    page.locator(".bk-tab", has_text="Impayés").click()
    page.get_by_text("Impayés par :").wait_for(timeout=20_000)
    page.wait_for_function("""() => {
        const visible = [];
        const walk = (root) => root.querySelectorAll('*').forEach((el) => {
            if (el.shadowRoot) walk(el.shadowRoot);
            if (el.tagName === 'CANVAS' && el.getBoundingClientRect().width > 0) visible.push(el);
        });
        walk(document);
        return visible.length >= 2;
    }""", timeout=20_000)   # the aging chart and the chart by commune, on screen
    assert page.get_by_text("Traceback").count() == 0 and page.get_by_text("Erreur inattendue").count() == 0
    assert problems == []


def test_picking_a_site_opens_its_detail_and_goes_in_the_url(dashboard):
    page, problems = dashboard
    page.get_by_text("Sites", exact=True).first.click()
    row = page.locator(".tabulator-row").nth(1)
    row.wait_for(timeout=20_000)
    site_name = row.locator(".tabulator-cell[tabulator-field='Site']").inner_text()
    site_ref = row.locator(".tabulator-cell[tabulator-field='Réf.']").inner_text()
    row.locator(".tabulator-cell[tabulator-field='Site']").click()
    page.get_by_text("Logements", exact=True).wait_for(timeout=20_000)
    assert page.get_by_text(site_name).count() >= 2          # the table row and the detail's title
    page.wait_for_function(f"window.location.search.includes('site={site_ref}')", timeout=10_000)
    assert problems == []


def test_search_box_finds_a_misspelt_tenant_and_opens_his_card(dashboard):
    page, problems = dashboard
    page.get_by_placeholder("ex. Dialo, 622 12 34 56…").fill("Dialo")
    first = page.locator(".akig-search-results .tabulator-row").first
    first.wait_for(timeout=60_000)   # a loaded CI box can take a while to answer
    name = first.locator(".tabulator-cell[tabulator-field='Nom']").inner_text()
    assert "Diallo" in name
    first.locator(".tabulator-cell[tabulator-field='Nom']").click(timeout=60_000)
    page.get_by_text("Historique du recouvrement").wait_for(timeout=60_000)
    assert page.locator("h3", has_text=name).count() == 1
    page.wait_for_function("window.location.search.includes('locataire=')", timeout=10_000)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "proprietaire_fiche.png"), full_page=True)
    assert problems == []


def test_a_shared_url_restores_the_view(served, browser):
    page, problems = open_app(browser, f"{served}/proprietaire?date={SMALL_UNTIL.isoformat()}&periode=year"
                                       "&proprietaire=OWN-0001")
    page.wait_for_selector(".akig-kpi-value", timeout=30_000)
    # Locators see inside Panel's shadow roots (inner_text("body") would not).
    assert page.get_by_text(f"du 01/01/{SMALL_UNTIL.year} au {SMALL_UNTIL:%d/%m/%Y}").count() >= 1
    owner = page.locator("select").first.input_value()
    page.close()
    assert owner.endswith("(OWN-0001)")
    assert problems == []
