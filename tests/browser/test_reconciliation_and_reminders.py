"""In Chromium, as a manager, on the shared served data set: upload a merchant statement in the desk's
"Rapprochement" tab (the file travels through the page's websocket), see the summary and the review queue,
reject the transfer; open "Relances SMS" and see the ladder and its preview. The statement books nothing
(its transfer matches no lease for sure) and the rejection writes no payment, so the ledger the other tests
read stays as it was; the sender's name is a piece of HTML that must show as text."""

from __future__ import annotations

import re

from tests.dashboards.server.test_server import open_app

NAME = "<img src=x onerror=window.__pwned=1>"


def test_upload_a_statement_clear_the_queue_and_open_the_reminders(served, browser, tmp_path):
    statement = tmp_path / "releve-om.csv"
    statement.write_text("Date;Heure;N° Transaction;Numéro expéditeur;Nom expéditeur;Montant (GNF);Référence;Statut\n"
                         f"29/06/2026;10:00;OMBROWSER1;+224 699 00 00 77;{NAME};7;cadeau;Succès\n", encoding="utf-8")
    page, problems = open_app(browser, f"{served}/recouvrement", user="t-manager")
    page.locator(".bk-tab", has_text="Rapprochement").click()
    page.get_by_text("Importer un relevé").wait_for(timeout=30_000)
    page.locator("input[type=file]").set_input_files(str(statement))
    page.wait_for_timeout(1000)    # the file's bytes reach the server before the click does
    page.get_by_role("button", name="Importer le relevé").click()
    try:
        page.get_by_text(re.compile("À vérifier : 1 transfert")).first.wait_for(timeout=30_000)
    except Exception:
        page.screenshot(path="/tmp/akig-reconciliation-failure.png", full_page=True)
        raise
    row = page.locator(".tabulator-row", has_text="OMBROWSER1").first
    row.wait_for(timeout=30_000)
    assert NAME in row.inner_text()                  # shown as typed, not run
    row.click()
    page.get_by_text("Décision", exact=True).wait_for(timeout=20_000)   # the card's title, not the import's summary
    page.get_by_label("Motif du rejet").fill("Cadeau, pas un loyer")
    page.get_by_label("Motif du rejet").press("Tab")
    page.wait_for_timeout(300)
    page.get_by_role("button", name="Rejeter le transfert").click()
    page.get_by_text(re.compile("Transfert OMBROWSER1 rejeté")).wait_for(timeout=30_000)
    page.get_by_text("Aucun transfert à vérifier").first.wait_for(timeout=30_000)
    page.locator(".bk-tab", has_text="Relances SMS").click()
    page.get_by_text("Échelle de relance").wait_for(timeout=30_000)
    page.locator(".tabulator-cell", has_text=re.compile("^J-3$")).first.wait_for(timeout=30_000)
    assert page.evaluate("window.__pwned === undefined")
    assert page.get_by_text("Traceback").count() == 0
    assert not problems, problems
    page.close()
