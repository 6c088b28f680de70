"""The dashboards' Bokeh charts: what they draw is the data layer's numbers, in millions of GNF for the
bars and exactly (French style) on hover; the page builds only the charts in sight."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import panel as pn
import pytest
from bokeh.document import Document
from bokeh.models import GlyphRenderer, HoverTool
from bokeh.plotting import figure
from panel.io.state import set_curdoc

from dashboards import template
from dashboards.format import fmt_gnf
from dashboards.widgets import charts
from tests.conftest import SMALL_UNTIL


def trend_frame(as_of=dt.date(2026, 3, 15)) -> pd.DataFrame:
    frame = pd.DataFrame({
        "month": [dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)],
        "due": [3_000_000, 3_000_000, 1_500_000], "collected": [2_750_000, 0, 1_500_000],
        "collection_rate": [2_750_000 / 3_000_000, 0.0, 1.0], "punctuality_rate": [0.5, None, 1.0]})
    frame.attrs["as_of"] = as_of
    return frame


def renderers(pane) -> list[GlyphRenderer]:
    return [r for r in pane.object.renderers if isinstance(r, GlyphRenderer)]


def test_collected_vs_due_draws_millions_and_shows_exact_amounts():
    pane = charts.collected_vs_due(trend_frame())
    data = renderers(pane)[0].data_source.data
    assert data["month"] == ["janv. 2026", "févr. 2026", "mars 2026 (en cours)"]
    assert data["due"] == [3.0, 3.0, 1.5] and data["collected"] == [2.75, 0.0, 1.5]
    assert data["collected_text"] == [fmt_gnf(2_750_000), fmt_gnf(0), fmt_gnf(1_500_000)]
    assert [r.glyph.top for r in renderers(pane)] == ["due", "collected"]
    assert list(pane.object.x_range.factors) == data["month"]


def test_rates_are_percent_with_a_gap_for_a_month_without_due():
    pane = charts.rate_trend(trend_frame(as_of=dt.date(2026, 3, 31)))
    data = renderers(pane)[0].data_source.data
    assert data["month"][-1] == "mars 2026"            # the month is over: not "en cours"
    assert data["collection"][0] == pytest.approx(91.6667, abs=1e-3)
    assert pd.isna(data["punctuality"][1]) and data["punctuality"][2] == 100.0
    hover = next(t for t in pane.object.tools if isinstance(t, HoverTool))
    assert set(hover.renderers) == {r for r in renderers(pane) if type(r.glyph).__name__ == "Scatter"}


def test_aging_bars_stack_the_buckets_and_name_twin_sites_apart():
    arrears = pd.DataFrame({
        "site_ref": ["S1", "S2", "S3"], "site_name": ["Kipé", "Kipé", "Nongo"],
        "arrears": [4_000_000, 1_000_000, 0], "bucket_0_30": [1_000_000, 1_000_000, 0],
        "bucket_31_60": [0, 0, 0], "bucket_61_90": [2_000_000, 0, 0], "bucket_90_plus": [1_000_000, 0, 0]})
    pane = charts.aging_by_site(arrears)
    data = renderers(pane)[0].data_source.data
    assert data["site"] == ["Kipé (S2)", "Kipé (S1)"]    # largest last (drawn on top); the site owing 0 left out
    assert data["bucket_90_plus_right"] == [1.0, 4.0]    # the stack ends at the site's total
    assert data["bucket_61_90_left"] == [1.0, 1.0] and data["bucket_61_90_right"] == [1.0, 3.0]
    assert data["total_text"] == [fmt_gnf(1_000_000), fmt_gnf(4_000_000)]
    assert len(renderers(pane)) == 4 and len([t for t in pane.object.tools if isinstance(t, HoverTool)]) == 4


def test_nothing_to_draw_says_so_in_french():
    empty_trend = trend_frame().iloc[0:0]
    assert "Aucune échéance" in charts.collected_vs_due(empty_trend).object
    assert "Aucune échéance" in charts.rate_trend(empty_trend).object
    nothing = pd.DataFrame({"site_ref": ["S1"], "site_name": ["A"], "commune": ["Ratoma"], "arrears": [0],
                            "late_leases": [0], **{c: [0] for c, _, _ in charts.BUCKETS}})
    assert "Aucun impayé" in charts.aging_by_site(nothing).object
    assert "Aucun impayé" in charts.arrears_by_place(nothing, "commune").object


def test_an_agents_days_are_drawn_from_his_daily_frame():
    daily = pd.DataFrame({"day": [dt.date(2026, 3, 1), dt.date(2026, 3, 2)], "collected": [500_000, 0],
                          "right_party_contacts": [3, 0]})
    bars = charts.daily_collected(daily, "Awa : encaissé par jour")
    assert renderers(bars)[0].data_source.data["collected"] == [0.5, 0.0]
    assert renderers(charts.daily_contacts(daily, "Contacts"))[0].data_source.data["contacts"] == [3, 0]


def test_owner_page_builds_the_arrears_charts_only_when_their_tab_is_opened(small_data):
    from dashboards.apps.owner import TABS, OwnerDashboard

    doc = Document()
    with set_curdoc(doc):
        view = OwnerDashboard(as_of=SMALL_UNTIL)
        main, sidebar = view.areas()
        template.page(view.title, main=main, sidebar=sidebar).server_doc(doc)
        pn.state._on_load(doc)                           # what the browser's connection triggers
        titles = lambda: {m.title.text for m in doc.models if isinstance(m, figure)}   # noqa: E731
        assert titles() == {"Encaissé et dû par mois", "Taux de recouvrement et de ponctualité"}
        view._tabs.active = TABS.index("Impayés")        # the tab left behind is unloaded
        assert titles() == {"Ancienneté des impayés", "Impayés par commune"}


def test_axes_in_millions_are_written_the_french_way_by_bokehjs(browser):
    """A portfolio's dues reach 140,000 millions a month: the axis must read "140 000", not Bokeh's
    default "1.400e+5". The tick text is made by BokehJS in the browser, so it is asked there."""
    from bokeh.embed import file_html
    from bokeh.models import CustomJSTickFormatter
    from bokeh.resources import INLINE

    trend = trend_frame()
    trend[["due", "collected"]] = trend[["due", "collected"]] * 50_000      # 150,000 millions GNF a month
    money_axes = [charts.collected_vs_due(trend).object.yaxis[0],
                  charts.daily_collected(pd.DataFrame({"day": [dt.date(2026, 3, 1)], "collected": [2_500_000]}),
                                         "Awa").object.yaxis[0]]
    aging = charts.aging_by_site(pd.DataFrame({
        "site_ref": ["S1"], "site_name": ["Kaloum"], "bucket_0_30": [10**11], "bucket_31_60": [0],
        "bucket_61_90": [0], "bucket_90_plus": [0], "arrears": [10**11]}))
    if hasattr(aging, "object"):
        money_axes.append(aging.object.xaxis[0])
    assert all(isinstance(axis.formatter, CustomJSTickFormatter) for axis in money_axes)
    fig = charts.collected_vs_due(trend).object
    page = browser.new_page()
    try:
        page.set_content(file_html(fig, INLINE, "axe"))
        page.wait_for_function("window.Bokeh && Bokeh.documents.length > 0 && Bokeh.index && Object.keys(Bokeh.index).length > 0")
        labels = page.evaluate(f"""() => {{
            const f = Bokeh.documents[0].get_model_by_id("{fig.yaxis[0].formatter.id}");
            return f.doFormat([0, 2.5, 140000, 1500000], {{loc: 0}});
        }}""")
    finally:
        page.close()
    assert [label.replace("\u202f", " ").replace("\xa0", " ") for label in labels] == ["0", "2,5", "140 000", "1 500 000"]
