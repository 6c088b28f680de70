"""The daily report as files: the PDF's text read back (pypdf) against the reads, the day's new alerts
and their owner scope, the command's formats and refusals, the reports folder and the server's daily
run at a time of day (once across processes)."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import openpyxl
import pypdf
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from akig_cli.main import app
from akig_data.alerts import evaluate as alerts
from akig_data.reports import gather as daily_report, files as report_files, pdf as report_pdf
from akig_data import reads
from akig_data.upkeep import claims as schedule
from akig_data.errors import InvalidParameter
from tests.conftest import SMALL_UNTIL

TZ = ZoneInfo("Africa/Conakry")
DAY = SMALL_UNTIL - dt.timedelta(days=2)
EVALUATED = dt.datetime.combine(DAY, dt.time(15, 30), TZ)


def gnf(value) -> str:
    """French grouping with narrow no-break spaces, written here independently of the report's code."""
    return f"{int(value):,}".replace(",", "\u202f")


def pdf_lines(data: bytes) -> tuple[list[str], list[str]]:
    """Every text line of the PDF (a table cell is a line) and each page's text."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    pages = [page.extract_text() for page in reader.pages]
    return [line.strip() for text in pages for line in text.splitlines()], pages


def after(lines: list[str], label: str, count: int) -> list[str]:
    index = lines.index(label)
    return lines[index + 1:index + 1 + count]


@pytest.fixture()
def with_alerts(seeded):
    alerts.evaluate(EVALUATED)
    return seeded


def test_the_pdf_says_the_reads_numbers(with_alerts):
    report = daily_report.build(DAY)
    data = report_pdf.render(report, generated_at=EVALUATED)
    assert data.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(data))
    width, height = (float(v) for v in reader.pages[0].mediabox[2:])
    assert (round(width), round(height)) == (595, 842)                     # A4 in points
    lines, pages = pdf_lines(data)
    for number, text in enumerate(pages, start=1):
        assert "AKIG" in text and f"Page {number} sur {len(pages)}" in text
    assert f"Rapport du jour — {DAY:%d/%m/%Y}" in lines
    day = reads.period_kpis(date_from=DAY, date_to=DAY).iloc[0]
    yesterday = reads.period_kpis(date_from=DAY - dt.timedelta(days=1), date_to=DAY - dt.timedelta(days=1)).iloc[0]
    month = reads.period_kpis(date_from=DAY.replace(day=1), date_to=DAY).iloc[0]
    collected = after(lines, "Encaissé (GNF)", 6)
    assert collected[:2] == [gnf(day["collected"]), gnf(yesterday["collected"])]
    change = int(day["collected"] - yesterday["collected"])
    assert collected[2] == ("+" if change > 0 else "") + gnf(change)
    assert collected[3] == gnf(month["collected"])
    assert after(lines, "Baux en retard", 1) == [gnf(day["late_leases"])]
    rate = after(lines, "Taux de recouvrement (%)", 4)[3]
    assert rate == f"{100 * month['collection_rate']:.1f} %".replace(".", ",")
    # collected by method, with its total; arrears by age; the ten largest arrears in order
    by_site = reads.collections_by_site(day=DAY)
    for method, label in daily_report.METHODS.items():
        rows = by_site[by_site["method"] == method]
        if len(rows):
            assert after(lines, label, 2) == [gnf(rows["payments"].sum()), gnf(rows["collected"].sum())]
    totals = [i for i, line in enumerate(lines) if line == "Total"]
    assert lines[totals[0] + 1:totals[0] + 3] == [gnf(by_site["payments"].sum()), gnf(by_site["collected"].sum())]
    sites = reads.arrears_by_site(as_of=DAY)
    for column, label in daily_report.BUCKETS.items():
        assert after(lines, label, 1) == [gnf(sites[column].sum())]
    top = reads.late_tenants(as_of=DAY, limit=10)
    start = lines.index("Les dix plus gros impayés")
    tail = lines[start:]
    for name, site, arrears in zip(top["full_name"], top["site_name"], top["arrears"]):
        at = tail.index(name)
        assert tail[at + 1:at + 3] == [site, gnf(arrears)]
    # promises due that day, and the new alerts
    due = reads.promises(as_of=DAY)
    due = due[due["due_date"] == DAY]
    assert f"{len(due)} promesse(s) arrivée(s) à échéance" in " ".join(lines)
    opened = reads.alerts_opened(day=DAY)
    assert len(opened) > 0 and f"{len(opened)} nouvelle(s) alerte(s)" in " ".join(lines)
    assert report.tables["Nouvelles alertes"]["Alerte"].tolist() == opened["title"].tolist()


def test_the_new_alerts_are_the_days_and_an_owners_are_his(with_alerts):
    everyone = reads.alerts_opened(day=DAY)
    assert set(everyone["first_seen"].dt.tz_convert(TZ).dt.date) == {DAY}
    assert reads.alerts_opened(day=DAY - dt.timedelta(days=1)).empty
    owned = everyone.dropna(subset=["owner_ref"])
    owner = owned["owner_ref"].value_counts().index[0]
    mine = reads.alerts_opened(day=DAY, owner_ref=owner)
    assert len(mine) == (owned["owner_ref"] == owner).sum() and set(mine["owner_ref"]) == {owner}
    report = daily_report.build(DAY, owner)
    assert set(report.tables["Nouvelles alertes"]["Objet"]) == set(mine["object_ref"])
    lines, _ = pdf_lines(report_pdf.render(report))
    assert f"propriétaire {owner}" in " ".join(lines)
    others = set(reads.sites()["site_name"]) - set(reads.sites(owner_ref=owner)["site_name"])
    assert not others & set(lines)                                       # no other owner's site in it
    from akig_data.access.scope import Principal, acting_as

    with acting_as(Principal("proprio", "owner", owner)):                # an owner asking for all gets his own
        assert set(reads.alerts_opened(day=DAY)["owner_ref"]) == {owner}


def test_long_tables_are_cut_in_the_pdf_and_whole_in_the_workbook(with_alerts, monkeypatch):
    monkeypatch.setattr(report_pdf, "ROW_LIMIT", 3)
    report = daily_report.build(DAY)
    lines, _ = pdf_lines(report_pdf.render(report))
    left = len(report.tables["Encaissé par site"]) - 3
    assert f"… et {left} autres lignes (toutes dans le fichier Excel)." in lines
    book = openpyxl.load_workbook(io.BytesIO(report_files.render(DAY, None, "xlsx")))
    assert book["Encaissé par site"].max_row == len(report.tables["Encaissé par site"]) + 1
    assert book["Nouvelles alertes"].max_row == len(report.tables["Nouvelles alertes"]) + 1


def test_the_command_writes_pdf_and_excel_and_refuses_clearly(seeded, tmp_path, monkeypatch):
    monkeypatch.setenv("AKIG_DATABASE_URL", seeded.database_url)
    monkeypatch.setenv("AKIG_REDIS_URL", "off")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    done = runner.invoke(app, ["report", "daily", "--date", DAY.isoformat()])
    assert done.exit_code == 0, done.output
    assert (tmp_path / f"rapport-{DAY}.pdf").read_bytes().startswith(b"%PDF")
    done = runner.invoke(app, ["report", "daily", "--date", DAY.isoformat(), "--owner", "OWN-0001", "--format", "xlsx"])
    assert done.exit_code == 0, done.output
    assert "Nouvelles alertes" in openpyxl.load_workbook(tmp_path / f"rapport-{DAY}-OWN-0001.xlsx").sheetnames
    for args, message in [(["--date", "2999-01-01"], "futur"), (["--date", "2001-01-01"], "Aucune donnée"),
                          (["--owner", "OWN-NOBODY", "--date", DAY.isoformat()], "Propriétaire inconnu"),
                          (["--format", "docx"], "pdf or xlsx"), (["--date", "demain"], "YYYY-MM-DD")]:
        refused = runner.invoke(app, ["report", "daily", *args])
        assert refused.exit_code == 2 and message in refused.output, (args, refused.output)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"rapport-{DAY}-OWN-0001.xlsx", f"rapport-{DAY}.pdf"]
    folder = runner.invoke(app, ["report", "folder", "--date", DAY.isoformat(), "--folder", str(tmp_path / "out")])
    assert folder.exit_code == 0, folder.output
    assert (tmp_path / "out" / DAY.isoformat() / f"rapport-{DAY}.xlsx").exists()


def test_the_reports_folder_has_everyones_and_each_owners(seeded, tmp_path):
    summary = report_files.write_folder(DAY, tmp_path)
    owners = list(reads.owners()["owner_ref"])
    names = sorted(p.name for p in (tmp_path / DAY.isoformat()).iterdir())
    expected = sorted(report_files.filename(DAY, o, fmt) for o in [None, *owners] for fmt in ("pdf", "xlsx"))
    assert names == expected and f"{len(expected)} files" in summary       # nothing half-written left behind
    with pytest.raises(InvalidParameter):
        report_files.filename(DAY, None, "odt")


def test_a_daily_task_runs_once_a_day_from_its_time(seeded, monkeypatch):
    now = dt.datetime(2026, 11, 26, 18, 59, tzinfo=TZ)
    assert schedule.latest_slot(dt.time(19), now) == dt.datetime(2026, 11, 25, 19, tzinfo=TZ)
    assert schedule.latest_slot(dt.time(19), now + dt.timedelta(minutes=1)) == dt.datetime(2026, 11, 26, 19, tzinfo=TZ)
    ran = []
    at = dt.time(0, 0)
    assert schedule.run_if_due("daily_test", at, lambda: ran.append(1))
    assert not schedule.run_if_due("daily_test", at, lambda: ran.append(2))   # the same day, another process
    with seeded.engine.begin() as conn:                                       # as if it last ran yesterday
        conn.execute(sa.text("UPDATE scheduled_runs SET last_run = now() - interval '1 day' WHERE task = 'daily_test'"))
    assert schedule.run_if_due("daily_test", at, lambda: ran.append(3))
    assert ran == [1, 3]
    monkeypatch.setenv("AKIG_DAILY_REPORT_AT", "7h")
    with pytest.raises(InvalidParameter, match="HH:MM"):
        report_files.daily_time()
