"""Take the documentation's screenshots of the apps and of the agents' phone app (run it on the `demo` data
set, today's missions planned):

    AKIG_DATABASE_URL=... AKIG_REDIS_URL=... .venv/bin/python docs/take_screenshots.py

It starts `akig serve` on a free port, opens the pages in headless Chromium and writes PNG files to
docs/screenshots/, then the first page of today's PDF daily report (pdftoppm).
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dashboard import ARGS, bench_cookie, start_server  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def main() -> None:
    from playwright.sync_api import sync_playwright

    from akig_data import runtime

    runtime.configure()
    proc, base = start_server("screenshots")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("http://127.0.0.1", "ws://"))
                       else r.abort())
            page.goto(base + "/proprietaire")
            page.wait_for_selector("input[name=username]")
            page.screenshot(path=str(OUT / "connexion.png"))
            page.context.add_cookies([{"name": "user", "value": bench_cookie(base, "admin"), "url": base}])
            page.goto(base + "/admin/journal")
            page.wait_for_selector(".tabulator-row", timeout=60_000)
            time.sleep(1)
            page.screenshot(path=str(OUT / "journal_audit.png"))
            page.context.clear_cookies()
            page.context.add_cookies([{"name": "user", "value": bench_cookie(base, "manager"), "url": base}])
            page.goto(base + "/recouvrement")
            page.get_by_text("Missions (cliquez pour ouvrir la fiche et enregistrer)").wait_for(timeout=60_000)
            time.sleep(2)
            page.screenshot(path=str(OUT / "recouvrement.png"))
            page.locator(".bk-tab", has_text="À risque").click()
            page.get_by_text("À appeler avant l'échéance").wait_for(timeout=60_000)
            page.locator(".tabulator-row").first.wait_for(timeout=60_000)
            time.sleep(2)
            page.screenshot(path=str(OUT / "recouvrement_a_risque.png"))
            page.goto(base + "/classement")
            page.locator(".tabulator-row").first.wait_for(timeout=60_000)
            time.sleep(2)
            page.screenshot(path=str(OUT / "classement.png"))
            page.context.clear_cookies()
            owner = runtime.get_runtime().engine.connect().exec_driver_sql(
                "SELECT owner_ref FROM owners ORDER BY owner_ref LIMIT 1").scalar()
            page.context.add_cookies([{"name": "user", "value": bench_cookie(base, "owner", owner), "url": base}])
            page.goto(base + "/proprietaire")
            page.wait_for_selector("canvas", timeout=60_000)
            page.wait_for_function("!document.querySelector('.pn-loading')", timeout=60_000)
            time.sleep(4)
            page.screenshot(path=str(OUT / "proprietaire_vue_proprietaire.png"))
            page.set_viewport_size({"width": 1400, "height": 1300})
            page.locator(".bk-tab", has_text="Prévisions").click()
            page.get_by_text("Encaissements attendus").wait_for(timeout=60_000)
            page.locator(".tabulator-row").first.wait_for(timeout=60_000)
            time.sleep(3)
            page.screenshot(path=str(OUT / "proprietaire_previsions.png"))
            page.set_viewport_size({"width": 1400, "height": 900})
            page.context.clear_cookies()
            page.context.add_cookies([{"name": "user", "value": bench_cookie(base), "url": base}])
            page.set_viewport_size({"width": 1400, "height": 1500})
            page.goto(base + "/proprietaire")
            page.wait_for_selector("canvas", timeout=60_000)
            time.sleep(2)
            page.screenshot(path=str(OUT / "proprietaire_synthese.png"))
            page.locator(".bk-tab", has_text="Impayés").click()
            page.get_by_text("Impayés par :").wait_for(timeout=60_000)
            time.sleep(3)
            page.screenshot(path=str(OUT / "proprietaire_impayes.png"))
            page.get_by_text("Sites", exact=True).first.click()
            page.locator(".tabulator-row").nth(0).locator(".tabulator-cell[tabulator-field='Site']").click()
            page.get_by_text("Logements", exact=True).wait_for(timeout=30_000)
            time.sleep(2)
            page.screenshot(path=str(OUT / "proprietaire_sites.png"))
            page.get_by_placeholder("ex. Dialo, 622 12 34 56…").fill("Dialo")
            first = page.locator(".akig-search-results .tabulator-row").first
            first.wait_for(timeout=30_000)
            first.locator(".tabulator-cell[tabulator-field='Nom']").click()
            page.get_by_text("Historique du recouvrement").wait_for(timeout=30_000)
            time.sleep(2)
            page.screenshot(path=str(OUT / "proprietaire_fiche_locataire.png"))
            page.goto(base + "/")
            page.wait_for_selector(".akig-kpi-value", timeout=60_000)
            time.sleep(1)
            page.screenshot(path=str(OUT / "accueil.png"))
            # The phone app before the map: the map's simulated agents post from this machine's address and
            # use up its per-address allowance of the API, which the phone app's login then meets.
            shoot_agent_app(browser, base)
            shoot_live_map(page, base)
            browser.close()
        shoot_daily_report()
    finally:
        proc.terminate()
        proc.wait(10)
    print("\n".join(str(p.relative_to(ROOT)) for p in sorted(OUT.glob("*.png"))))


def shoot_agent_app(browser, base: str) -> None:
    """The agents' phone app at 360×640: its login, then the day of the agent with the most visits today
    (an account `bench-agent-phone` for him, created on first use)."""
    import sqlalchemy as sa

    from akig_data.runtime import get_runtime
    from akig_data.writes import users
    from bench.dashboard import BENCH_PASSWORD

    name = "bench-agent-phone"
    if users.get(name) is None:
        with get_runtime().engine.connect() as conn:
            agent_ref = conn.execute(sa.text(
                "SELECT a.agent_ref FROM missions m JOIN agents a ON a.id = m.agent_id WHERE m.day = current_date "
                "AND m.kind = 'visit' GROUP BY a.agent_ref ORDER BY count(*) DESC, a.agent_ref LIMIT 1")).scalar()
        users.add(name, BENCH_PASSWORD, "agent", agent_ref=agent_ref, actor="bench")
    context = browser.new_context(viewport={"width": 360, "height": 640}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="fr-FR", geolocation={"latitude": 9.535, "longitude": -13.68},
                                  permissions=["geolocation"])
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("http://127.0.0.1", "ws://"))
                  else r.abort())
    page = context.new_page()
    page.goto(base + "/agent")
    page.get_by_label("Identifiant").wait_for()
    page.screenshot(path=str(OUT / "agent_connexion.png"))
    page.get_by_label("Identifiant").fill(name)
    page.get_by_label("Mot de passe").fill(BENCH_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.locator("#missions > li").first.wait_for(timeout=30_000)
    time.sleep(1)
    page.screenshot(path=str(OUT / "agent_aujourdhui.png"))
    context.close()


def shoot_live_map(page, base: str) -> None:
    """The live map while simulated agents drive (today's missions must be planned), then the replay."""
    import subprocess

    simulator = subprocess.Popen([sys.executable, "-m", "akig_cli.main", "simulate", "agents", "--url", base,
                                  "--speed", "20", "--interval", "1", "--seconds", "40"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        page.context.clear_cookies()
        page.context.add_cookies([{"name": "user", "value": bench_cookie(base, "manager"), "url": base}])
        page.set_viewport_size({"width": 1400, "height": 1100})
        time.sleep(15)    # the agents are on their way
        page.goto(base + "/carte")
        page.wait_for_function("window.Bokeh && Bokeh.documents.length > 0 && "
                               "Bokeh.documents[0].get_model_by_name('akig-agents') !== null", timeout=60_000)
        time.sleep(8)
        page.screenshot(path=str(OUT / "carte.png"))
        page.get_by_text("Rejouer une journée").click()
        choose = page.locator("select", has=page.locator("option", has_text="Choisir un agent"))
        choose.wait_for(timeout=30_000)
        choose.select_option(index=6)
        page.get_by_text("km parcourus depuis").wait_for(timeout=30_000)
        time.sleep(5)
        page.screenshot(path=str(OUT / "carte_rejouer.png"))
    finally:
        simulator.terminate()


def shoot_daily_report() -> None:
    """The first page of today's PDF report for all owners, as PNG (pdftoppm, from poppler-utils)."""
    import subprocess
    import tempfile

    from akig_data.alerts import evaluate as alerts
    from akig_data.reports import files as report_files
    from akig_data.clock import today

    alerts.evaluate()   # so that the report has the day's new alerts
    with tempfile.TemporaryDirectory() as folder:
        pdf = Path(folder) / "rapport.pdf"
        pdf.write_bytes(report_files.render(today(), None, "pdf"))
        subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                        str(OUT / "rapport_du_jour_page1")], check=True)


if __name__ == "__main__":
    main()
