"""User text is shown as text: a tenant and a site named `<img src=x onerror=alert(1)>`, and the same
typed as a username at the login, must appear literally in every table, card, search result and the
audit page, and never run."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from akig_data import reads, runtime
from tests.conftest import SMALL_UNTIL, settings_for
from tests.serving import start_server, stop_server
from tests.dashboards.server.test_server import open_app

PAYLOAD = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def hostile_server(databases, seeded_template, redis_url, tmp_path_factory):
    name = databases.create("xss", template=seeded_template)
    url = databases.url(name)
    runtime.configure(settings_for(url, redis_url))
    late = reads.late_tenants(as_of=SMALL_UNTIL, limit=1)
    tenant, site = late["tenant_ref"][0], late["site_ref"][0]
    with runtime.get_runtime().engine.begin() as conn:
        conn.execute(sa.text("UPDATE tenants SET full_name = :p WHERE tenant_ref = :t"), {"p": PAYLOAD, "t": tenant})
        conn.execute(sa.text("UPDATE sites SET name = :p WHERE site_ref = :s"), {"p": PAYLOAD, "s": site})
    runtime.reset()
    proc, base = start_server(url, redis_url, tmp_path_factory.mktemp("xss"))
    yield base, tenant, site, url
    stop_server(proc)
    databases.drop(name)


def _no_script_ran(page, dialogs):
    assert dialogs == []
    assert page.locator("img[src='x']").count() == 0


def _watch(page):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return dialogs


def test_the_login_page_echoes_a_hostile_username_as_text(hostile_server):
    from akig_data.testing.login_client import LoginFailed, login_cookie

    base, _, _, _ = hostile_server
    with pytest.raises(LoginFailed):
        login_cookie(base, PAYLOAD, "wrong-password-1")

    from akig_data.testing.login_client import _opener, _post

    opener, _ = _opener()
    with opener.open(base + "/login") as response:
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', response.read().decode()).group(1)
    status, page = _post(opener, base + "/login", {"_xsrf": xsrf, "step": "password", "username": PAYLOAD,
                                                   "password": "wrong-password-1"})
    assert status == 401 and "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_tables_cards_and_search_show_the_name_as_text(hostile_server, browser):
    base, tenant, _, _ = hostile_server
    page, problems = open_app(browser, f"{base}/proprietaire?date={SMALL_UNTIL.isoformat()}&locataire={tenant}",
                              user="t-analyst")
    dialogs = _watch(page)
    page.wait_for_selector(".akig-kpi-value", timeout=30_000)
    page.get_by_text("Historique du recouvrement").wait_for(timeout=30_000)   # the tenant card
    assert page.get_by_text(PAYLOAD).count() >= 1
    page.get_by_text("Locataires", exact=True).first.click()                  # top 10 late tenants
    page.locator(".tabulator-cell", has_text=PAYLOAD).first.wait_for(timeout=30_000)
    page.get_by_text("Sites", exact=True).first.click()                       # the sites table
    page.locator(".tabulator-cell[tabulator-field='Site']", has_text=PAYLOAD).first.wait_for(timeout=30_000)
    page.get_by_placeholder("ex. Dialo, 622 12 34 56…").fill("img src")       # the search results
    page.locator(".akig-search-results .tabulator-cell", has_text=PAYLOAD).first.wait_for(timeout=30_000)
    _no_script_ran(page, dialogs)
    page.close()


def test_the_site_detail_shows_the_site_name_as_text(hostile_server, redis_url):
    """The site detail's title is an HTML pane: the name must arrive escaped. (Checked on the pane, not
    in Chromium: opening the detail through the tab was too slow to be reliable on a loaded CI box; the
    browser tests above cover how escaped text is shown.)"""
    from dashboards.parts.site_card import SiteDetail

    _, _, site, url = hostile_server
    runtime.configure(settings_for(url, redis_url))
    try:
        view = SiteDetail(site_ref=site, as_of=SMALL_UNTIL, owner_ref="").view()
    finally:
        runtime.reset()
    title = view.objects[0].object
    assert "<img src=x" not in title and "&lt;img src=x onerror=alert(1)&gt;" in title


def test_chart_tooltips_show_fields_as_text():
    """Bokeh renders @field tooltips as text; only a `{safe}` format or an HTML template would not."""
    import pandas as pd

    from dashboards.widgets import charts

    arrears = pd.DataFrame({"site_name": [PAYLOAD], "arrears": [100], "bucket_0_30": [100], "bucket_31_60": [0],
                            "bucket_61_90": [0], "bucket_90_plus": [0]})
    for pane in (charts.aging_by_site(arrears), charts.arrears_by_place(arrears.assign(commune=PAYLOAD, late_leases=1),
                                                                        "commune")):
        model = pane.object
        assert PAYLOAD in model.renderers[0].data_source.data["site" if "site" in model.renderers[0].data_source.data
                                                              else "place"]
        hovers = [t for t in model.tools if type(t).__name__ == "HoverTool"]
        assert hovers
        for hover in hovers:
            assert isinstance(hover.tooltips, list)
            assert not any("{safe}" in field for _, field in hover.tooltips)


def test_home_and_audit_pages_show_the_text(hostile_server, browser):
    base, _, _, _ = hostile_server
    page, problems = open_app(browser, f"{base}/?date={SMALL_UNTIL.isoformat()}", user="t-admin")
    dialogs = _watch(page)
    page.wait_for_selector(".akig-kpi-value", timeout=30_000)
    page.wait_for_timeout(1500)
    _no_script_ran(page, dialogs)
    page.close()
    page, problems = open_app(browser, f"{base}/admin/journal", user="t-admin")
    dialogs = _watch(page)
    page.locator(".tabulator-row").first.wait_for(timeout=30_000)
    assert page.get_by_text(PAYLOAD).count() >= 1          # the failed login typed as a username
    _no_script_ran(page, dialogs)
    page.close()
