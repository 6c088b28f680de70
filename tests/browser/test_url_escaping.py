"""A link is text, never markup: every parameter an app keeps in its URL (`pn.state.location.sync` in
dashboards/), set to an HTML payload and opened in Chromium by a logged-in user, must create no element
and run no script, and the French message that refuses or names the value must show it literally.

A notification (Notyf sets its message as innerHTML), an alert and a Markdown pane (Panel's Markdown
passes raw HTML through) would all run such a payload: a link sent to a logged-in user would act as him.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import SMALL_UNTIL
from tests.dashboards.server.test_server import open_app

PAYLOAD = '<img src=x onerror="window.__xss=1">'
PAGE_MS = 60_000

# path, URL parameter, user, tab to open first, the start of the French message that must show the payload.
# The other parameters of the page keep values that work (the small data set's last day).
CASES = [
    ("/proprietaire", "date", "t-analyst", None, "Paramètre d'adresse ignoré : date="),
    ("/proprietaire", "periode", "t-analyst", None, "Paramètre d'adresse ignoré : periode="),
    ("/proprietaire", "proprietaire", "t-analyst", None, "Propriétaire inconnu :"),
    ("/proprietaire", "site", "t-analyst", "Sites", "Site inconnu :"),
    ("/proprietaire", "locataire", "t-analyst", None, "Requête refusée :"),   # the tenant card's banner
    ("/carte", "agent", "t-ops", None, "Agent inconnu ou sans position :"),
]


def test_every_url_synced_parameter_is_tested_here():
    """A new URL parameter (or a new way to read the URL) in an app must be added to CASES. Only the base
    view reads the URL, for the parameters each app names in its `url_keys`."""
    from dashboards import view
    from dashboards.server.app import APPS

    package = Path(view.__file__).parent
    readers = {str(path.relative_to(package)) for path in package.rglob("*.py")
               if re.search(r"pn\.state\.location|query_params|session_args", path.read_text())}
    assert readers == {"view.py"}
    assert {(path, name) for path, name, *_ in CASES} == {
        (path, name) for path, app in APPS.items() for name in app.url_keys.values()}


@pytest.mark.parametrize("path, name, user, tab, message", CASES, ids=[f"{c[0]}?{c[1]}" for c in CASES])
def test_an_html_payload_in_the_url_is_shown_as_text(served, browser, path, name, user, tab, message):
    from urllib.parse import urlencode

    query = {"date": SMALL_UNTIL.isoformat()} if path == "/proprietaire" else {}
    query[name] = PAYLOAD
    page, problems = open_app(browser, f"{served}{path}?{urlencode(query)}", user=user)
    try:
        if tab is not None:
            page.get_by_text(tab, exact=True).first.click()
        # the whole message: a notification, or the paragraph of an alert (its start may be in bold)
        notice = page.locator("div.notyf__message, p", has_text=message).first
        notice.wait_for(timeout=PAGE_MS)
        shown = notice.inner_text()
        assert page.locator("img[src='x']").count() == 0
        assert page.evaluate("window.__xss") is None
        assert PAYLOAD in shown, shown
        assert page.get_by_text("Erreur inattendue").count() == 0
    finally:
        page.close()
    assert problems == []
