"""The owner dashboard as a Python object: its filters drive the data behind every pane, and its KPI
numbers are the data layer's numbers for the same parameters."""

from __future__ import annotations


import pandas as pd
import panel as pn
import pytest

from akig_data import reads, runtime
from akig_data.periods import current_and_previous
from akig_data.config import Settings
from dashboards import format as fmt
from dashboards.apps.owner import OwnerDashboard, change
from dashboards.parts.tenant_card import TenantDetail
from dashboards.view import guarded
from tests.conftest import SMALL_UNTIL
from tests.dashboards.apps.test_home import texts


@pytest.fixture()
def dash(small_data):
    return OwnerDashboard(as_of=SMALL_UNTIL)


@pytest.mark.parametrize("period", ["month", "quarter", "year"])
def test_kpis_are_the_data_layer_numbers(dash, period):
    dash.period = period
    data = dash.kpis()
    current, previous = current_and_previous(period, SMALL_UNTIL)
    expected = reads.period_kpis(date_from=current.date_from, date_to=current.date_to).iloc[0]
    before = reads.period_kpis(date_from=previous.date_from, date_to=previous.date_to).iloc[0]
    assert data["current"].equals(expected) and data["previous"].equals(before)
    shown = texts(dash.kpi_row())
    assert fmt.fmt_gnf(expected["arrears"]) in shown
    assert fmt.fmt_rate(expected["collection_rate"]) in shown
    assert fmt.fmt_gnf(expected["collected"]) in shown and fmt.fmt_gnf(expected["due"]) in shown
    assert fmt.fmt_int(expected["late_tenants"]) in shown


def test_owner_filter_restricts_every_pane(dash):
    dash.owner_ref = "OWN-0001"
    sites = dash.sites_frame()
    mine = set(reads.sites(owner_ref="OWN-0001")["site_ref"])
    assert set(sites["Réf."]) == mine
    assert set(dash.arrears_frame()["owner_ref"]) == {"OWN-0001"}
    late = reads.late_tenants(as_of=SMALL_UNTIL, owner_ref="OWN-0001", limit=10)
    assert list(dash.late_frame()["Locataire"]) == list(late["tenant_ref"])
    current, _ = dash.periods()
    expected = reads.period_kpis(date_from=current.date_from, date_to=current.date_to, owner_ref="OWN-0001").iloc[0]
    assert dash.kpis()["current"]["arrears"] == expected["arrears"]


def test_site_filter_changes_kpis_trend_and_detail(dash):
    site = dash.sites_frame().iloc[0]["Réf."]
    everything = dash.kpis()["current"]["arrears"]
    dash.open_site(site)
    assert dash.site_ref == site and dash.site.site_ref == site
    assert dash.kpis()["current"]["arrears"] == reads.arrears_by_site(as_of=SMALL_UNTIL).set_index(
        "site_ref").loc[site, "arrears"] < everything
    trend = dash.trend_frame()
    assert (trend["site_ref"] == site).all() and len(trend) == 12
    shown = texts(dash.site.view())
    assert reads.sites().set_index("site_ref").loc[site, "site_name"] in shown


def test_tables_show_the_reads(dash):
    sites = dash.sites_frame()
    kpis = reads.site_kpis(date_from=SMALL_UNTIL.replace(day=1), date_to=SMALL_UNTIL)
    assert sites["Impayés (GNF)"].sum() == kpis["arrears"].sum()
    assert list(sites["Impayés (GNF)"]) == sorted(sites["Impayés (GNF)"], reverse=True)
    payers = dash.good_payers_frame()
    assert set(payers["Badge"]) <= {"🌟 or", "✅ argent", "👍 bronze"}
    assert len(payers) == len(reads.good_payers(as_of=SMALL_UNTIL))
    assert len(dash.late_frame()) == 10


def test_search_finds_a_misspelt_name_and_opens_the_tenant(dash):
    dash.search = "Dialo"
    found = dash.search_frame()
    assert len(found) > 0 and all("Diallo" in n or "Dialo" in n for n in found["Nom"])
    dash.open_tenant(found.iloc[0]["Locataire"])
    assert dash.tenant.tenant_ref == found.iloc[0]["Locataire"]
    assert found.iloc[0]["Nom"] in texts(dash.tenant.view())


def test_clicking_rows_opens_the_site_and_the_tenant(dash):
    from panel.models.tabulator import CellClickEvent

    sites_table = dash.sites_table()[0]
    sites_table._process_event(CellClickEvent(model=None, column="Site", row=2))
    assert dash.site_ref == sites_table.value.iloc[2]["Réf."]
    late_table = dash.late_table()[0]
    late_table._process_event(CellClickEvent(model=None, column="Nom", row=0))
    assert dash.tenant_ref == late_table.value.iloc[0]["Locataire"]


def test_panes_render_without_errors(dash):
    page = dash.__panel__()
    assert isinstance(page, pn.layout.ListPanel) and not isinstance(page, pn.template.BaseTemplate)
    for pane in (dash.trend_charts(), dash.arrears_charts(), dash.sites_table(), dash.late_table(),
                 dash.good_payers_table(), dash.search_results()):
        assert "Erreur" not in texts(pane)
    dash.place_level = "quartier"
    assert isinstance(dash.arrears_charts(), pn.Row)


def test_exports_are_csv_and_excel_of_the_tables(dash, tmp_path):
    import io

    import openpyxl

    from dashboards.parts.downloads import csv_bytes, excel_bytes

    frame = dash.sites_frame()
    csv = pd.read_csv(io.BytesIO(csv_bytes(frame)), encoding="utf-8-sig")
    assert list(csv.columns) == list(frame.columns) and len(csv) == len(frame)
    book = openpyxl.load_workbook(io.BytesIO(excel_bytes(frame, "sites", money=("Impayés (GNF)",))))
    sheet = book["sites"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    arrears_col = list(frame.columns).index("Impayés (GNF)") + 1
    cell = sheet.cell(row=2, column=arrears_col)
    assert cell.value == frame.iloc[0]["Impayés (GNF)"] and "GNF" in cell.number_format
    timeline = TenantDetail(tenant_ref=dash.late_frame().iloc[0]["Locataire"], as_of=SMALL_UNTIL).timeline_frame()
    assert openpyxl.load_workbook(io.BytesIO(excel_bytes(timeline, "historique"))).active.max_row == len(timeline) + 1


def test_empty_database_shows_french_messages(fresh_db):
    dash = OwnerDashboard()
    assert "Aucun site" in texts(dash.sites_table())
    assert "Aucune échéance" in texts(dash.trend_charts())
    assert "Aucun impayé" in texts(dash.arrears_charts())
    assert "Aucun locataire en retard" in texts(dash.late_table())
    assert "Aucun bon payeur" in texts(dash.good_payers_table())
    dash.search = "Diallo"
    assert "Aucun locataire ne correspond" in texts(dash.search_results())
    assert "Choisissez un locataire" in texts(dash.tenant.view())
    assert "Cliquez sur un site" in texts(dash.site.view())


def test_database_down_shows_a_banner_in_every_pane(small_data):
    dash = OwnerDashboard(as_of=SMALL_UNTIL)
    runtime.configure(Settings(database_url="postgresql://postgres@127.0.0.1:1/akig", redis_url="off"))
    try:
        assert "La base de données est injoignable" in texts(dash.areas().sidebar[0])
        assert "La base de données est injoignable" in texts(guarded(dash.kpi_row))
    finally:
        from dashboards.io.database_watch import database_watch

        database_watch().stop()
        pn.state.cache.pop("akig_database_watch", None)


@pytest.mark.parametrize(
    "now, before, kwargs, expected",
    [
        (110, 100, {}, ("▲ 10,0\u00a0%", "good")),
        (90, 100, {}, ("▼ 10,0\u00a0%", "bad")),
        (110, 100, {"good_when_up": False}, ("▲ 10,0\u00a0%", "bad")),
        (0.5, 0.45, {"rate": True}, ("▲ 5,0 pt", "good")),
        (100, 100, {}, ("= stable", "flat")),
        (5, 0, {}, ("▲ nouveau", "good")),
        (None, 1, {}, ("", "flat")),
        (float("nan"), 1, {"rate": True}, ("", "flat")),
        (3, 1, {"good_when_up": None}, ("▲ 200,0\u00a0%", "flat")),
    ],
)
def test_change_against_the_previous_period(now, before, kwargs, expected):
    assert change(now, before, **kwargs) == expected


def test_the_forecast_tab_shows_the_months_behind_and_the_forecast_ahead(small_data):
    """For one owner: six months as they were, this month and the next three as forecast on the 1st of this
    month (this month with what came in so far, never above its figures), every figure the data layer's."""
    owner = reads.owners()["owner_ref"].iloc[0]
    dash = OwnerDashboard(as_of=SMALL_UNTIL, owner_ref=owner)
    frame = dash.forecast_frame()
    assert frame["state"].tolist() == ["passé"] * 6 + ["en cours"] + ["prévu"] * 3
    forecast = reads.cash_forecast(as_of=SMALL_UNTIL.replace(day=1), owner_ref=owner)
    totals = forecast[forecast["site_ref"].isna()].reset_index(drop=True)
    trend = reads.monthly_trend(as_of=SMALL_UNTIL, months=12, owner_ref=owner).tail(7).reset_index(drop=True)
    assert frame["collected"].iloc[:7].astype("int64").tolist() == trend["collected"].astype("int64").tolist()
    now = frame.iloc[6]
    assert now["due"] == totals["dues"].iloc[0]
    assert now["expected"] == max(totals["expected"].iloc[0], now["collected"])
    assert now["low_80"] == max(totals["low_80"].iloc[0], now["collected"]) <= now["expected"] <= now["high_80"]
    assert frame["expected"].iloc[7:].astype("int64").tolist() == totals["expected"].iloc[1:].astype("int64").tolist()
    view = dash.forecast_view()
    figure = view.select(pn.pane.Bokeh)[0].object
    source = figure.renderers[0].data_source.data
    assert source["expected_text"][-1] == fmt.fmt_gnf(frame["expected"].iloc[-1])
    assert source["month"][6].endswith("(en cours)") and source["month"][-1].endswith("(prévu)")
    assert source["rest_top"][0] == source["rest_bottom"][0]            # a month behind has no expected bar
    assert view.select(pn.widgets.Tabulator)[0].value["Attendu (GNF)"].iloc[-1] == frame["expected"].iloc[-1]

    site = reads.sites(owner_ref=owner)["site_ref"].iloc[0]
    dash.site_ref = site
    by_site = dash.forecast_frame()
    site_rows = forecast[forecast["site_ref"] == site]
    assert by_site["expected"].iloc[7:].astype("int64").tolist() == site_rows["expected"].iloc[1:].astype("int64").tolist()


def test_all_owners_get_each_owners_forecast_and_an_explanation(dash):
    view = dash.forecast_view()
    shown = texts(view)
    assert "Choisissez un propriétaire" in shown
    frame = dash.forecast_by_owner()
    assert len(frame) == 4 * len(reads.owners())
    assert frame["Mois"].iloc[0] == "juin 2026" and frame["Attendu (GNF)"].gt(0).all()


def test_the_tenants_at_risk_are_the_riskiest_with_their_names_and_reasons(dash):
    frame = dash.risk_frame()
    risk = reads.lease_risk(as_of=SMALL_UNTIL)
    assert frame["Bail"].tolist() == risk["lease_ref"].head(10).tolist()
    assert frame["Nom"].notna().all() and (frame["Pourquoi"].str.len() > 0).all()
    assert frame["Retard à 10 j (%)"].is_monotonic_decreasing
    card = reads.tenant_card(tenant_ref=frame["Locataire"].iloc[0], as_of=SMALL_UNTIL)
    assert card["full_name"].iloc[0] == frame["Nom"].iloc[0]
    shown = dash.risk_table().select(pn.widgets.Tabulator)[0].value
    assert shown["Bail"].tolist() == frame["Bail"].tolist()


def test_an_owner_sees_only_his_own_tenants_at_risk(small_data):
    owner = reads.owners()["owner_ref"].iloc[1]
    frame = OwnerDashboard(as_of=SMALL_UNTIL, owner_ref=owner).risk_frame()
    own_sites = set(reads.sites(owner_ref=owner)["site_ref"])
    assert len(frame) and set(frame["Site"]) <= own_sites
