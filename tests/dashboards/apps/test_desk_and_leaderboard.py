"""The collection desk and the leaderboards without a browser (forms, refusals, numbers equal the reads),
and in Chromium: a manager logs a call with a promise and sees it in the tenant's history and the day's
figures."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import panel as pn
import pytest

from akig_data.writes import missions
from akig_data import reads
from akig_data.access import scope
from akig_data.access.scope import Principal
from dashboards.parts.forms import ActionForms
from dashboards.apps.desk import Desk
from dashboards.format import fmt_int
from dashboards.apps.leaderboard import Leaderboards, ranking_display

TODAY = dt.datetime.now(missions.TZ).date()
TODAY_FOLLOWS_THE_CLOCK = True   # tests/conftest.py sets TODAY again before each test
MANAGER = Principal("awa", "manager")


@pytest.fixture()
def planned(seeded):
    missions.generate(TODAY)
    scope.set_principal_resolver(lambda: MANAGER)
    yield seeded
    scope.set_principal_resolver(None)


def test_forms_record_and_refuse_in_french(planned):
    lease = reads.missions(day=TODAY)["lease_ref"].iloc[0]
    saved = []
    forms = ActionForms(on_saved=lambda: saved.append(1))
    assert not forms.save("call") and "Choisissez d'abord" in forms.message
    forms.param.update(lease_ref=lease, agent_ref="AGT-001")
    forms.call_outcome.value = "promise"
    assert forms.save("call") and forms.message.startswith("✅ Appel enregistré")
    forms.promise_amount.value = 0
    assert not forms.save("promise") and "supérieur à zéro" in forms.message
    forms.promise_amount.value = 250_000
    forms.promise_date.value = TODAY + dt.timedelta(days=2)
    assert forms.save("promise") and "250\u202f000 GNF" in forms.message
    forms.payment_amount.value, forms.payment_method.value = 100_000, "orange_money"
    assert not forms.save("payment") and "référence" in forms.message
    forms.payment_reference.value = "OM-1"
    assert forms.save("payment") and "reçu REC-" in forms.message
    forms.visit_lat.value, forms.visit_lon.value = None, None
    assert not forms.save("visit") and "lat" in forms.message
    assert saved == [1, 1, 1]
    assert forms.__panel__() is not None


def test_desk_panes_and_picking_a_mission(planned):
    desk = Desk(day=TODAY)
    frame = desk.missions_frame()
    assert not frame.empty
    progress = desk.progress_frame(frame)
    assert progress["Prévues"].sum() == len(frame)
    desk.pick(frame, 0)
    assert desk.forms.lease_ref == frame["lease_ref"].iloc[0] and desk.card.tenant_ref == frame["tenant_ref"].iloc[0]
    for pane in (desk.missions_pane(), desk.promises_pane(), desk.stats_pane(), desk.agents_pane(), desk.selected_pane()):
        assert not isinstance(pane, pn.pane.Alert) or pane.alert_type != "danger"
    progress_table = desk.agents_pane().objects[-1]   # the "Par agent" tab ends with each agent's progress
    assert isinstance(progress_table, pn.widgets.Tabulator) and progress_table.value["Prévues"].sum() == len(frame)
    desk.generate()
    assert desk.notice.startswith("✅") and desk.revision == 1
    assert desk.__panel__() is not None


def test_an_agent_desk_shows_his_own_missions(planned):
    scope.set_principal_resolver(lambda: Principal("fode", "agent", agent_ref="AGT-001"))
    desk = Desk(day=TODAY)
    assert desk.is_agent and set(desk.missions_frame()["agent_ref"]) <= {"AGT-001"}
    assert "Agent" not in desk.display_missions(desk.missions_frame()).columns
    # his own figures of the day, from his own read: the team's daily_stats is refused to his role
    own = reads.agent_daily(agent_ref="AGT-001", date_from=TODAY, date_to=TODAY)
    shown = desk.stats_pane().object   # would raise AccessDenied with the team's read
    assert f'<div class="akig-kpi-value">{fmt_int(int(own["calls"].sum()))}</div>' in shown
    desk.generate()
    assert desk.notice.startswith("❌ Accès refusé")


def test_the_desk_opens_with_a_french_banner_when_postgresql_is_unreachable(planned, monkeypatch):
    """The agents' list of the sidebar is read when the page opens: an outage there is said in French
    and the page still opens (with every agent), instead of a traceback."""
    from akig_data.errors import DatabaseUnavailable
    from dashboards.apps import desk as desk_module

    def unreachable(**_):
        raise DatabaseUnavailable("PostgreSQL est injoignable")

    monkeypatch.setattr(desk_module.reads, "agent_performance", unreachable)
    sidebar = Desk(day=TODAY).sidebar()
    select = next(w for w in sidebar if isinstance(w, pn.widgets.Select))
    assert select.options == {"Tous les agents": ""}
    banners = [w for w in sidebar if isinstance(w, pn.pane.Alert)]
    assert banners and banners[0].alert_type == "danger" and "injoignable" in banners[0].object


def test_leaderboards_show_the_reads(planned):
    lease = reads.missions(day=TODAY, agent_ref="AGT-001")["lease_ref"].iloc[0]
    from akig_data.writes import collection

    collection.record_payment(lease, 500_000, "cash", agent_ref="AGT-001", who=MANAGER)
    page = Leaderboards(day=TODAY)
    board = reads.leaderboard(day=TODAY)
    shown = ranking_display(board)
    assert list(shown["Agent"]) == list(board["agent_ref"]) and shown["Rang"].iloc[0].startswith("🥇")
    podium = page.podium()
    assert isinstance(podium, pn.Column)
    page.agent_ref = "AGT-001"
    detail = page.detail()
    assert isinstance(detail, pn.Column)
    figure = detail[1][0].object          # the chart of what he recorded himself says so in its title
    assert figure.title.text.endswith(": saisi par lui, par jour")
    daily = reads.agent_daily(agent_ref="AGT-001", date_from=TODAY.replace(day=1), date_to=TODAY)
    assert daily["collected"].iloc[-1] == 500_000
    assert isinstance(page.month(), pn.widgets.Tabulator)
    assert page.__panel__() is not None


def test_a_manager_logs_a_call_with_a_promise_in_the_browser(served, browser, small_db, redis_url):
    """On the shared served data set: plan today, open the desk, pick a mission, log the call and the
    promise, see both in the tenant's history and the day's figures."""
    from akig_data import runtime
    from tests.conftest import settings_for
    from tests.dashboards.server.test_server import open_app

    import json
    import urllib.request

    from akig_data.writes import users

    runtime.configure(settings_for(small_db, redis_url))
    try:
        token = users.rotate_token("t-manager", actor="test")
        before = reads.daily_stats(day=TODAY)
    finally:
        runtime.reset()
    calls_before = int(before[before["is_total"]]["calls"].sum()) if len(before) else 0
    # plan the day through the server, so that its own cache learns of the new missions
    request = urllib.request.Request(f"{served}/api/missions/generate", data=json.dumps({"date": TODAY.isoformat()}).encode(),
                                     method="POST", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=120) as response:
        assert json.loads(response.read())["planned_visits"] > 0
    page, problems = open_app(browser, f"{served}/recouvrement", user="t-manager")
    page.locator(".tabulator-row").first.wait_for(timeout=30_000)
    page.get_by_text("Missions (cliquez pour ouvrir la fiche et enregistrer)").wait_for()
    missions_table = page.locator(".tabulator", has=page.locator(".tabulator-col[tabulator-field='Ordre']"))
    row = missions_table.locator(".tabulator-row").first
    tenant = row.locator(".tabulator-cell[tabulator-field='Locataire']").inner_text()
    row.locator(".tabulator-cell[tabulator-field='Locataire']").click()
    page.locator("h3", has_text=tenant).first.wait_for(timeout=20_000)
    page.wait_for_timeout(1000)
    page.get_by_role("combobox").filter(has_text="Pas de réponse").select_option(label="Promesse")
    page.get_by_role("button", name="Enregistrer l'appel").click()
    message = page.get_by_text(re.compile("^(✅|❌)"))   # the form's answer, success or refusal
    try:
        message.first.wait_for(timeout=30_000)
    except Exception:
        page.screenshot(path="/tmp/akig-desk-failure.png", full_page=True)
        raise
    assert "Appel enregistré" in message.first.inner_text(), message.first.inner_text()
    page.get_by_text("Promesse", exact=True).first.click()
    amount = page.get_by_label("Montant promis (GNF)")
    amount.fill("150000")
    # A number input tells the server its value when it loses the focus. Playwright's click presses and
    # releases the button within a millisecond, so the click's event could reach the server before the
    # value's (a person's click takes a tenth of a second): leave the field first, as a person does.
    amount.press("Tab")
    page.wait_for_timeout(300)
    page.get_by_role("button", name="Enregistrer la promesse").click()
    page.get_by_text("Promesse enregistrée").wait_for(timeout=30_000)
    page.get_by_text("Historique du recouvrement").wait_for(timeout=20_000)
    # the history is redrawn after each write: under a loaded CI box that takes more than a moment
    page.locator(".tabulator-cell", has_text="Appel").first.wait_for(timeout=30_000)
    page.locator(".tabulator-cell", has_text="150\u202f000").first.wait_for(timeout=30_000)
    # the figures' row is redrawn too (empty while it is): read it once it shows a number again
    card = page.locator(".akig-kpi", has_text="Appels").locator(".akig-kpi-value", has_text=re.compile(r"\d"))
    card.wait_for(timeout=30_000)
    calls_card = card.inner_text()
    assert int(calls_card.replace("\u202f", "")) == calls_before + 1
    assert page.get_by_text("Traceback").count() == 0
    page.close()


def test_the_at_risk_tab_lists_the_dues_of_the_week_more_likely_late_than_not(planned):
    from dashboards.apps.desk import AT_RISK_DAYS, AT_RISK_P
    from tests.conftest import SMALL_UNTIL

    desk = Desk(day=SMALL_UNTIL)
    frame = desk.at_risk_frame()
    risk = reads.lease_risk(as_of=SMALL_UNTIL)
    soon = pd.Series([(d - SMALL_UNTIL).days <= AT_RISK_DAYS for d in risk["next_due_date"]], index=risk.index)
    expected = risk[(risk["p_late_10"] >= AT_RISK_P) & soon]
    assert len(frame) > 0 and frame["Bail"].tolist() == expected["lease_ref"].tolist()
    assert (frame["Retard à 10 j (%)"] >= 50).all() and frame["Téléphone"].str.len().gt(0).all()
    assert frame["Retard à 10 j (%)"].is_monotonic_decreasing
    pane = desk.at_risk_pane()
    assert isinstance(pane, pn.widgets.Tabulator) and pane.value["Bail"].tolist() == frame["Bail"].tolist()
    tabs = desk.main()[1]
    tabs.active = tabs._names.index("À risque")          # made when opened
    assert tabs[tabs.active].select(pn.widgets.Tabulator)[0].value["Bail"].tolist() == frame["Bail"].tolist()
