"""The "Rapport du jour" card: who gets it, what its buttons give, how it refuses a day it cannot make a
report for, and the download in Chromium from the owner dashboard (the PDF read back) and the desk."""

from __future__ import annotations

import datetime as dt
import io
import re

import openpyxl
import pypdf
import pytest
import sqlalchemy as sa

from akig_data import reads
from akig_data.clock import today
from akig_data.access.scope import Principal, acting_as, set_principal_resolver
from dashboards.parts.report_download import ReportDownload, report_card
from tests.conftest import SMALL_UNTIL, settings_for
from tests.dashboards.server.test_server import open_app

DAY = SMALL_UNTIL - dt.timedelta(days=2)


@pytest.fixture()
def as_role():
    def act(role: str, owner_ref: str | None = None) -> None:
        set_principal_resolver(lambda: Principal(f"t-{role}", role, owner_ref))
    yield act
    set_principal_resolver(None)


def test_only_roles_that_may_export_get_the_card(small_data, as_role):
    for role, expected in (("admin", True), ("manager", True), ("owner", True), ("analyst", True),
                           ("ops", False), ("agent", False)):
        as_role(role, "OWN-0001" if role == "owner" else None)
        assert (report_card(day=DAY) is not None) is expected, role


def test_the_buttons_give_the_days_report_and_write_the_audit_trail(small_data, as_role):
    as_role("manager")
    card = ReportDownload(day=DAY, owner_ref="OWN-0002")
    assert card.buttons["pdf"].filename == f"rapport-{DAY}-OWN-0002.pdf" and not card.buttons["pdf"].disabled
    text = "".join(page.extract_text() for page in pypdf.PdfReader(card._file("pdf")).pages)
    assert f"Rapport du jour — {DAY:%d/%m/%Y}" in text and "propriétaire OWN-0002" in text
    book = openpyxl.load_workbook(card._file("xlsx"))
    assert "Podium" not in book.sheetnames and "Dix plus gros impayés" in book.sheetnames
    with small_data.engine.connect() as conn:
        targets = conn.execute(sa.text("SELECT target FROM audit_log WHERE action = 'export' AND actor = 't-manager'"
                                       " ORDER BY id DESC LIMIT 2")).scalars().all()
    assert targets == [f"rapport-{DAY}-OWN-0002.xlsx", f"rapport-{DAY}-OWN-0002.pdf"]


def test_a_day_it_cannot_report_disables_the_buttons_and_says_why(small_data, as_role):
    as_role("admin")
    card = ReportDownload(day=DAY)
    card.picker.value = dt.date(2001, 1, 1)               # the picker drives the card
    assert card.day == dt.date(2001, 1, 1)
    assert all(b.disabled for b in card.buttons.values())
    assert card.message.visible and "Aucune donnée" in card.message.object
    card.day = DAY                                        # the page's date moves the picker back
    assert card.picker.value == DAY and not card.message.visible
    assert not any(b.disabled for b in card.buttons.values())
    assert card.picker.end == today()                     # no future day to pick


def test_the_owner_dashboard_and_desk_cards_follow_the_page(small_data, as_role):
    from dashboards.apps.desk import Desk
    from dashboards.apps.owner import OwnerDashboard

    as_role("admin")
    dashboard = OwnerDashboard(as_of=DAY)
    dashboard.__panel__()
    card = dashboard.report
    dashboard.param.update(owner_ref="OWN-0003", as_of=DAY - dt.timedelta(days=1))
    assert (card.owner_ref, card.day) == ("OWN-0003", DAY - dt.timedelta(days=1))
    as_role("owner", "OWN-0001")
    mine = OwnerDashboard(as_of=DAY)
    mine.__panel__()
    assert mine.report.owner_ref == "OWN-0001"
    as_role("manager")
    desk = Desk(day=DAY)
    desk.__panel__()
    card = desk.report
    desk.day = DAY - dt.timedelta(days=3)
    assert card.day == DAY - dt.timedelta(days=3) and card.owner_ref == ""


@pytest.fixture()
def owner_numbers(small_db, redis_url):
    from akig_data import runtime

    runtime.configure(settings_for(small_db, redis_url))
    with acting_as(None):
        yield reads.period_kpis(date_from=SMALL_UNTIL, date_to=SMALL_UNTIL, owner_ref="OWN-0001").iloc[0]
    runtime.reset()


def test_an_owner_downloads_his_pdf_in_the_browser(served, browser, owner_numbers):
    page, problems = open_app(browser, f"{served}/proprietaire?date={SMALL_UNTIL.isoformat()}", user="t-owner")
    button = page.locator(".akig-report-pdf button")
    button.wait_for(timeout=60_000)
    with page.expect_download(timeout=60_000) as download:
        button.click()
    assert download.value.suggested_filename == f"rapport-{SMALL_UNTIL}-OWN-0001.pdf"
    reader = pypdf.PdfReader(io.BytesIO(open(download.value.path(), "rb").read()))
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "propriétaire OWN-0001" in text and f"Page 1 sur {len(reader.pages)}" in text
    lines = text.splitlines()
    collected = lines[lines.index("Encaissé (GNF)") + 1]
    assert re.sub(r"\s", "", collected) == str(int(owner_numbers["collected"]))
    assert problems == []
    page.close()


def test_a_manager_downloads_the_workbook_from_the_desk(served, browser):
    page, problems = open_app(browser, f"{served}/recouvrement", user="t-manager")
    page.locator(".akig-report-xlsx button").wait_for(timeout=60_000)
    with page.expect_download(timeout=60_000) as download:
        page.locator(".akig-report-xlsx button").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    book = openpyxl.load_workbook(io.BytesIO(open(download.value.path(), "rb").read()))
    assert "Journée des agents" in book.sheetnames and "Nouvelles alertes" in book.sheetnames
    assert problems == []
    page.close()
