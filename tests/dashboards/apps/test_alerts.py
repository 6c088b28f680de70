"""The alerts panel in-process (filters, acknowledgement, evaluation, refusals) and in Chromium (the page
lists the alerts with their links and an acknowledgement shows in the history)."""

from __future__ import annotations

import datetime as dt

import panel as pn
import pytest

from akig_data.alerts import evaluate as alerts
from akig_data import reads
from akig_data.access.scope import Principal, acting_as
from dashboards.apps import alerts as alerts_page
from tests.conftest import SMALL_UNTIL

pn.extension("tabulator")


@pytest.fixture()
def evaluated(seeded):
    alerts.evaluate(dt.datetime.combine(SMALL_UNTIL, dt.time(15, 30), alerts._tz()))
    return seeded


def test_the_panel_filters_acknowledges_and_evaluates(evaluated):
    with acting_as(Principal("m", "manager", None, None)):
        page = alerts_page.AlertsPage()
        page.__panel__()
        every = page._load()
        assert not every.empty
        page.severity = "critical"
        assert set(page._load()["severity"]) == {"critical"}
        page.severity, page.rule = "", "tenant_late_no_contact"
        assert set(page._load()["rule"]) == {"tenant_late_no_contact"}
        assert isinstance(page.listing(), pn.widgets.Tabulator)
        assert page.listing().formatters["N°"] == {"type": "plaintext"}   # an alert's number: "1286", not "1 286"
        shown = alerts_page.display(page.frame)
        assert shown["Lien"].iloc[0].startswith('<a href="/proprietaire?locataire=TEN-')
        assert "Cliquez sur une alerte" in page.detail().object
        page.selected = int(page.frame.iloc[0]["id"])
        page.comment.value = ""
        page.acknowledge()
        assert page.message.startswith("Refusé")
        page.comment.value = "Visite prévue lundi"
        page.acknowledge()
        assert "prise en compte" in page.message and page.version == 1
        acked = reads.alerts().set_index("id").loc[page.selected]
        assert acked["ack_comment"] == "Visite prévue lundi"
        assert len(page.detail()[1].value) == 2          # opened, acknowledged
        page.evaluate_now()
        assert page.message.startswith("Règles évaluées")
        assert "Alertes critiques" in str(page.summary()[0].object)
    with acting_as(Principal("o", "ops", None, None)):
        ops = alerts_page.AlertsPage()
        ops.selected = page.selected
        ops.comment.value = "vu"
        ops.acknowledge()
        assert "prise en compte" in ops.message           # ops may acknowledge
    assert alerts_page.link("site", "SITE-0001") == '<a href="/proprietaire?site=SITE-0001" target="_blank">ouvrir</a>'
    assert alerts_page.link("agent", None) == ""


def test_the_alerts_page_in_chromium(served, browser):
    from tests.dashboards.server.test_server import open_app

    page, problems = open_app(browser, served + "/alertes", user="t-ops")
    try:
        page.get_by_text("Alertes critiques").wait_for(timeout=60_000)
        assert page.get_by_text("Évaluer maintenant").count() == 0   # ops acknowledge, they do not evaluate
    finally:
        page.close()
    assert problems == []
