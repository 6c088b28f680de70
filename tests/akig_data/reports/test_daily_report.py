"""The daily report's numbers against the reads, its workbook read back with openpyxl, an owner's report
with his sites only, and the refusals (a future day, a day before any data)."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest
from typer.testing import CliRunner

from akig_cli.main import app
from akig_data.reports import gather as daily_report, xlsx as report_xlsx
from akig_data import reads
from akig_data.errors import InvalidParameter
from tests.conftest import SMALL_UNTIL

DAY = SMALL_UNTIL - dt.timedelta(days=2)


def test_the_reports_numbers_are_the_reads(small_data):
    report = daily_report.build(DAY)
    assert list(report.tables) == ["Indicateurs", "Encaissé par site", "Encaissé par moyen", "Impayés par ancienneté",
                                   "Journée des agents", "Podium", "Promesses du jour", "Nouvelles alertes",
                                   "Dix plus gros impayés", "Locataires à risque"]
    kpis = report.tables["Indicateurs"].set_index("Indicateur")
    day = reads.period_kpis(date_from=DAY, date_to=DAY).iloc[0]
    month = reads.period_kpis(date_from=DAY.replace(day=1), date_to=DAY).iloc[0]
    assert kpis.loc["Encaissé (GNF)", "Jour"] == day["collected"] and kpis.loc["Encaissé (GNF)", "Mois"] == month["collected"]
    assert kpis.loc["Impayés en fin de période (GNF)", "Jour"] == day["arrears"]
    yesterday = reads.period_kpis(date_from=DAY - dt.timedelta(days=1), date_to=DAY - dt.timedelta(days=1)).iloc[0]
    assert kpis.loc["Encaissé (GNF)", "Écart jour"] == day["collected"] - yesterday["collected"]
    stats = reads.daily_stats(day=DAY)
    total = int(stats[stats["is_total"]]["collected"].iloc[0])
    assert report.tables["Encaissé par moyen"]["Encaissé (GNF)"].sum() == total
    assert report.tables["Encaissé par site"]["Encaissé (GNF)"].sum() == total
    sites = reads.arrears_by_site(as_of=DAY)
    assert report.tables["Impayés par ancienneté"]["Impayés (GNF)"].sum() == sites["arrears"].sum()
    top = reads.late_tenants(as_of=DAY, limit=10)
    assert list(report.tables["Dix plus gros impayés"]["Impayés (GNF)"]) == list(top["arrears"])
    assert len(report.tables["Podium"]) <= 3
    risk = reads.lease_risk(as_of=DAY).head(10)
    at_risk = report.tables["Locataires à risque"]
    assert list(at_risk["Locataire"]) == list(risk["full_name"]) and len(at_risk) == 10
    assert list(at_risk["Risque à 10 jours (%)"]) == [round(p * 100) for p in risk["p_late_10"]]
    assert at_risk["Raisons"].str.len().gt(0).all()


def test_the_workbook_keeps_numbers_as_numbers(small_data, tmp_path):
    report = daily_report.build(DAY)
    path = report_xlsx.write(report, tmp_path / "rapport.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == list(report.tables)
    sheet = book["Dix plus gros impayés"]
    assert [c.value for c in sheet[1]] == list(report.tables["Dix plus gros impayés"].columns)
    assert sheet["C2"].value == report.tables["Dix plus gros impayés"]["Impayés (GNF)"].iloc[0]
    assert isinstance(sheet["C2"].value, int) and sheet["C2"].number_format == report_xlsx.GNF_FORMAT
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == sheet.dimensions
    kpis = book["Indicateurs"]
    rate_row = [r for r in kpis.iter_rows(min_row=2) if "%" in r[0].value][0]
    assert rate_row[4].number_format == "0.0" and isinstance(rate_row[4].value, float)


def test_an_owners_report_has_only_his_sites(small_data):
    report = daily_report.build(DAY, "OWN-0001")
    assert "Journée des agents" not in report.tables and "Podium" not in report.tables
    mine = set(reads.sites(owner_ref="OWN-0001")["site_name"])
    assert set(report.tables["Encaissé par site"]["Site"]) <= mine
    assert set(report.tables["Dix plus gros impayés"]["Site"]) <= mine
    own = reads.arrears_by_site(as_of=DAY, owner_ref="OWN-0001")["arrears"].sum()
    assert report.tables["Impayés par ancienneté"]["Impayés (GNF)"].sum() == own


def test_a_future_day_or_a_day_before_any_data_is_refused(small_data):
    with pytest.raises(InvalidParameter, match="futur"):
        daily_report.build(dt.date.today() + dt.timedelta(days=3))
    with pytest.raises(InvalidParameter, match="Aucune donnée"):
        daily_report.build(dt.date(2000, 1, 1))
    with pytest.raises(InvalidParameter):
        daily_report.build(DAY, "OWN-NOBODY")


def test_the_command(small_data, tmp_path, monkeypatch):
    monkeypatch.setenv("AKIG_DATABASE_URL", small_data.database_url)
    monkeypatch.setenv("AKIG_REDIS_URL", "off")
    runner = CliRunner()
    out = tmp_path / "r.xlsx"
    done = runner.invoke(app, ["report", "daily", "--date", DAY.isoformat(), "--format", "xlsx", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert openpyxl.load_workbook(out).sheetnames == list(daily_report.build(DAY).tables)


def test_the_first_day_with_data_comes_from_the_cached_owners_read(small_data):
    """The day before any lease is refused, for every owner and for one; the date comes from the owners read."""
    check_day = daily_report.check_day
    owners = reads.owners()
    first_all = min(owners["first_lease_start"].dropna())
    check_day(first_all, None)
    with pytest.raises(InvalidParameter, match="les données commencent le"):
        check_day(first_all - dt.timedelta(days=1), None)
    one = owners.dropna(subset=["first_lease_start"]).iloc[0]
    with pytest.raises(InvalidParameter, match=f"{one['first_lease_start']:%d/%m/%Y}"):
        check_day(one["first_lease_start"] - dt.timedelta(days=1), one["owner_ref"])
