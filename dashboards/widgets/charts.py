"""The dashboards' bar and line charts: plain Bokeh figures whose data sources are filled from the data
layer's frames.

They were HoloViews elements once. For a few bars or a line, HoloViews' plotting machinery (its options
system, its plot classes, the ranges it computes, the models it lays out) cost about 0.35 s of server CPU
per chart and per session, more than everything else on the owner's page together; a Bokeh figure with
one ColumnDataSource holds the same glyphs for a tenth of that. HoloViews and GeoViews stay where they
earn their cost (see docs/explanation/libraries.md).

Amounts are drawn in millions of GNF (the axis label says so) and shown exactly, French style, on hover.
Hover fields are `@{column}` references, which Bokeh shows as text (never as HTML), so a site's name
from the database cannot run in the page. A frame with nothing to draw gives a French message instead of
an empty chart.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import panel as pn
from bokeh.models import (ColumnDataSource, FactorRange, HBar, HoverTool, Legend, LegendItem, Line,
                          CustomJSTickFormatter, Scatter, Segment, VBar)
from bokeh.plotting import figure

from akig_data.reports.gather import BUCKET_COLOURS
from dashboards.format import fmt_gnf, fmt_rate

MONTHS_FR = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."]
BUCKETS = [(column, label, BUCKET_COLOURS[column]) for column, label in (
    ("bucket_0_30", "0–30 j"), ("bucket_31_60", "31–60 j"), ("bucket_61_90", "61–90 j"), ("bucket_90_plus", "+ de 90 j"))]
DUE_COLOR, PAID_COLOR, PUNCTUAL_COLOR, ARREARS_COLOR = "#9fb3c8", "#0b6e4f", "#f2994a", "#d9534f"
HEIGHT = 320
MONEY_AXIS = "millions GNF"
SLANTED = math.pi / 4   # month and day labels, as HoloViews' xrotation=45 drew them


def month_label(day: dt.date) -> str:
    return f"{MONTHS_FR[day.month - 1]} {day.year}"


def empty(message: str) -> pn.pane.Alert:
    return pn.pane.Alert(message, alert_type="light", sizing_mode="stretch_width")


def money_ticks() -> CustomJSTickFormatter:
    """Ticks of an axis in millions of GNF written as the pages write amounts: 140 000, 2,5. Bokeh's default
    switches to 1.400e+5 from 100,000 on, which a portfolio's monthly dues reach, and its numeral formatter
    writes 140,000 whatever language it is given (checked in Chromium): the browser's own French number
    format does it."""
    return CustomJSTickFormatter(code="return tick.toLocaleString('fr-FR', {maximumFractionDigits: 2});")


def chart(title: str, *, height: int = HEIGHT, x_range=None, y_range=None, y_label: str = "", x_label: str = ""):
    """An empty AKIG figure: full width, fixed height, save/reset tools above, no Bokeh logo; an axis in
    millions of GNF gets the French thousands' separator."""
    ranges = {name: value for name, value in (("x_range", x_range), ("y_range", y_range)) if value is not None}
    fig = figure(title=title, height=height, sizing_mode="stretch_width", tools="save,reset",
                 toolbar_location="above", **ranges)
    fig.toolbar.logo = None
    fig.xaxis.axis_label, fig.yaxis.axis_label = x_label, y_label
    if x_label == MONEY_AXIS:
        fig.xaxis.formatter = money_ticks()
    if y_label == MONEY_AXIS:
        fig.yaxis.formatter = money_ticks()
    fig.xgrid.grid_line_color = None
    fig.outline_line_color = None
    return fig


def hover(fig, tooltips: list[tuple[str, str]], renderers=None) -> None:
    """A hover tool showing `tooltips` (text fields only: `@{column}`) for `renderers` (all by default)."""
    fig.add_tools(HoverTool(tooltips=tooltips, renderers=renderers or "auto"))


def draw(fig, source: ColumnDataSource, glyph):
    """Add one glyph drawn from `source`. Unlike figure.vbar() and the like, which make each renderer's
    selected, unselected and muted glyphs up front, this adds just the glyph (nothing here is selectable
    or muted): fewer Bokeh models to build and send with every page."""
    return fig.add_glyph(source, glyph)


def pane(fig) -> pn.pane.Bokeh:
    return pn.pane.Bokeh(fig, sizing_mode="stretch_width")


def month_labels(trend: pd.DataFrame) -> list[str]:
    """French month labels; the last month is marked "en cours" when it is not over."""
    labels = [month_label(m) for m in trend["month"]]
    if len(trend) and "as_of" in trend.attrs:
        last = trend["month"].iloc[-1]
        if trend.attrs["as_of"] < (pd.Timestamp(last) + pd.offsets.MonthEnd(0)).date():
            labels[-1] += " (en cours)"
    return labels


def _millions(values: pd.Series) -> list[float]:
    return [float(v) / 1e6 if pd.notna(v) else float("nan") for v in values]


def _percent(values: pd.Series) -> list[float]:
    return [float(v) * 100 if pd.notna(v) else float("nan") for v in values]


def collected_vs_due_source(trend: pd.DataFrame) -> dict[str, list]:
    """The columns of the collected-vs-due chart: per month, due and collected in millions of GNF (the bars)
    and exactly (the hover)."""
    return {
        "month": month_labels(trend),
        "due": _millions(trend["due"].fillna(0)), "collected": _millions(trend["collected"].fillna(0)),
        "due_text": [fmt_gnf(v) for v in trend["due"]], "collected_text": [fmt_gnf(v) for v in trend["collected"]],
        "rate_text": [fmt_rate(v) for v in trend["collection_rate"]],
    }


def due_and_collected(title: str, data: dict[str, list]):
    """A months chart with what was due (wide light bar) and what was collected (narrow dark bar inside it):
    (figure, source, due renderer, collected renderer), for the charts that add to it."""
    source = ColumnDataSource(data)
    fig = chart(title, height=HEIGHT + 20, x_range=FactorRange(*data["month"]), y_label=MONEY_AXIS)
    due = draw(fig, source, VBar(x="month", top="due", width=0.85, fill_color=DUE_COLOR, line_color=DUE_COLOR))
    paid = draw(fig, source, VBar(x="month", top="collected", width=0.45, fill_color=PAID_COLOR,
                                  line_color=PAID_COLOR))
    return fig, source, due, paid


def collected_vs_due(trend: pd.DataFrame) -> pn.viewable.Viewable:
    """Per month, what was due (wide light bar) and what was collected (narrow dark bar inside it)."""
    if trend.empty or (trend["due"].fillna(0).sum() == 0 and trend["collected"].fillna(0).sum() == 0):
        return empty("Aucune échéance ni aucun paiement sur ces mois.")
    fig, source, due, paid = due_and_collected("Encaissé et dû par mois", collected_vs_due_source(trend))
    fig.y_range.start = 0
    fig.xaxis.major_label_orientation = SLANTED
    fig.add_layout(Legend(items=[LegendItem(label="Dû", renderers=[due]),
                                 LegendItem(label="Encaissé", renderers=[paid])],
                          orientation="horizontal", location="top_left"), "above")
    hover(fig, [("Mois", "@month"), ("Dû", "@due_text"), ("Encaissé", "@collected_text"), ("Taux", "@rate_text")])
    return pane(fig)


def rate_trend_source(trend: pd.DataFrame) -> dict[str, list]:
    """The columns of the rates chart: per month, collection and punctuality rates in % (NaN: no due)."""
    return {
        "month": month_labels(trend),
        "collection": _percent(trend["collection_rate"]), "punctuality": _percent(trend["punctuality_rate"]),
        "collection_text": [fmt_rate(v) for v in trend["collection_rate"]],
        "punctuality_text": [fmt_rate(v) for v in trend["punctuality_rate"]],
    }


def rate_trend(trend: pd.DataFrame) -> pn.viewable.Viewable:
    """Collection and punctuality rates per month, in %."""
    if trend.empty or (trend["collection_rate"].isna().all() and trend["punctuality_rate"].isna().all()):
        return empty("Aucune échéance sur ces mois : pas de taux à calculer.")
    data = rate_trend_source(trend)
    source = ColumnDataSource(data)
    fig = chart("Taux de recouvrement et de ponctualité", x_range=FactorRange(*data["month"]), y_label="%")
    items, points = [], []
    for column, label, colour in (("collection", "Taux de recouvrement", PAID_COLOR),
                                  ("punctuality", "Taux de ponctualité", PUNCTUAL_COLOR)):
        line = draw(fig, source, Line(x="month", y=column, line_color=colour, line_width=3))
        dots = draw(fig, source, Scatter(x="month", y=column, fill_color=colour, line_color=colour, size=7))
        items.append(LegendItem(label=label, renderers=[line, dots]))
        points.append(dots)
    fig.xaxis.major_label_orientation = SLANTED
    fig.add_layout(Legend(items=items, orientation="horizontal", location="top_left"), "above")
    hover(fig, [("Mois", "@month"), ("Recouvrement", "@collection_text"), ("Ponctualité", "@punctuality_text")],
          renderers=points)
    return pane(fig)


def aging_source(arrears: pd.DataFrame, top: int = 15) -> dict[str, list]:
    """The columns of the aging chart: the `top` sites that owe most (largest last, drawn on top), each
    age bucket in millions of GNF and exactly."""
    arrears = arrears[arrears["arrears"] > 0].nlargest(top, "arrears").iloc[::-1]
    names = [str(name) for name in arrears["site_name"]]
    if len(set(names)) < len(names) and "site_ref" in arrears:   # each bar needs a label of its own
        twice = {name for name in names if names.count(name) > 1}
        names = [f"{name} ({ref})" if name in twice else name for name, ref in zip(names, arrears["site_ref"])]
    data: dict[str, list] = {"site": names,
                             "total_text": [fmt_gnf(v) for v in arrears["arrears"]]}
    left = [0.0] * len(names)
    for column, _, _ in BUCKETS:   # each bucket's bar starts where the previous one ends
        right = [start + value for start, value in zip(left, _millions(arrears[column]))]
        data[f"{column}_left"], data[f"{column}_right"] = left, right
        data[f"{column}_text"] = [fmt_gnf(v) for v in arrears[column]]
        left = right
    return data


def aging_by_site(arrears: pd.DataFrame, top: int = 15) -> pn.viewable.Viewable:
    """Stacked horizontal bars: each site's arrears split by age, the `top` largest sites (largest on top)."""
    data = aging_source(arrears, top)
    if not data["site"]:
        return empty("Aucun impayé à cette date.")
    source = ColumnDataSource(data)
    factors = list(dict.fromkeys(data["site"]))   # a range's factors must be unique
    fig = chart("Ancienneté des impayés", height=max(HEIGHT, 26 * len(factors) + 110), y_range=FactorRange(*factors),
                x_label=MONEY_AXIS)
    stack = [draw(fig, source, HBar(y="site", left=f"{column}_left", right=f"{column}_right", height=0.8,
                                    fill_color=colour, line_color=colour)) for column, _, colour in BUCKETS]
    fig.x_range.start = 0
    fig.add_layout(Legend(items=[LegendItem(label=label, renderers=[bar]) for bar, (_, label, _) in zip(stack, BUCKETS)],
                          orientation="horizontal", location="center"), "below")
    for bar, (column, label, _) in zip(stack, BUCKETS):
        hover(fig, [("Site", "@site"), ("Ancienneté", label), ("Montant", f"@{column}_text"),
                    ("Total du site", "@total_text")], renderers=[bar])
    return pane(fig)


def place_source(arrears: pd.DataFrame, level: str) -> dict[str, list]:
    """The columns of the arrears-by-place chart: each commune (or quartier) that owes, smallest first."""
    by_place = (arrears.groupby(level, as_index=False)[["arrears", "late_leases"]].sum()
                .query("arrears > 0").sort_values("arrears"))
    return {"place": [str(p) for p in by_place[level]], "arrears": _millions(by_place["arrears"]),
            "arrears_text": [fmt_gnf(v) for v in by_place["arrears"]],
            "leases": [int(v) for v in by_place["late_leases"]]}


def arrears_by_place(arrears: pd.DataFrame, level: str) -> pn.viewable.Viewable:
    """Horizontal bars: arrears per commune or quartier."""
    data = place_source(arrears, level)
    if not data["place"]:
        return empty("Aucun impayé à cette date.")
    title = "Impayés par commune" if level == "commune" else "Impayés par quartier"
    fig = chart(title, height=max(HEIGHT, 24 * len(data["place"]) + 80), y_range=FactorRange(*data["place"]),
                x_label=MONEY_AXIS)
    draw(fig, ColumnDataSource(data), HBar(y="place", right="arrears", height=0.8, fill_color=ARREARS_COLOR,
                                           line_color=ARREARS_COLOR))
    fig.x_range.start = 0
    hover(fig, [("", "@place"), ("Impayés", "@arrears_text"), ("Baux en retard", "@leases")])
    return pane(fig)


def daily_collected(daily: pd.DataFrame, title: str) -> pn.viewable.Viewable:
    """An agent's collections per day of the month, in millions of GNF (exact on hover)."""
    data = {"day": [d.strftime("%d/%m") for d in daily["day"]], "collected": _millions(daily["collected"]),
            "collected_text": [fmt_gnf(v) for v in daily["collected"]]}
    fig = chart(title, height=260, x_range=FactorRange(*data["day"]), y_label=MONEY_AXIS)
    draw(fig, ColumnDataSource(data), VBar(x="day", top="collected", width=0.8, fill_color=PAID_COLOR,
                                           line_color=PAID_COLOR))
    fig.y_range.start = 0
    fig.xaxis.major_label_orientation = SLANTED
    hover(fig, [("Jour", "@day"), ("Encaissé", "@collected_text")])
    return pane(fig)


def daily_contacts(daily: pd.DataFrame, title: str) -> pn.viewable.Viewable:
    """An agent's useful contacts (the right person reached) per day of the month."""
    data = {"day": [d.strftime("%d/%m") for d in daily["day"]],
            "contacts": [int(v) for v in daily["right_party_contacts"]]}
    source = ColumnDataSource(data)
    fig = chart(title, height=260, x_range=FactorRange(*data["day"]))
    draw(fig, source, Line(x="day", y="contacts", line_color=PUNCTUAL_COLOR, line_width=3))
    dots = draw(fig, source, Scatter(x="day", y="contacts", fill_color=PUNCTUAL_COLOR, line_color=PUNCTUAL_COLOR, size=6))
    fig.y_range.start = 0
    fig.xaxis.major_label_orientation = SLANTED
    hover(fig, [("Jour", "@day"), ("Contacts utiles", "@contacts")], renderers=[dots])
    return pane(fig)


FORECAST_COLOR = "#7fc8a9"


def forecast_source(frame: pd.DataFrame) -> dict[str, list]:
    """The columns of the forecast chart (frame: month, state, due, collected, expected, low_80, high_80):
    per month, what was due, what came in, and the expected amount beyond it with its 80 % interval, in
    millions of GNF (bars) and exactly (hover). The current month's expected bar starts where its
    collections so far end."""
    collected = frame["collected"].fillna(0)
    expected = frame["expected"]
    labels = [month_label(m) + {"en cours": " (en cours)", "prévu": " (prévu)"}.get(s, "")
              for m, s in zip(frame["month"], frame["state"])]
    return {
        "month": labels,
        "due": _millions(frame["due"].fillna(0)), "collected": _millions(collected),
        "rest_bottom": _millions(collected),                                  # nothing expected: no height
        "rest_top": _millions(expected.where(expected.notna(), collected)),
        "low": _millions(frame["low_80"]), "high": _millions(frame["high_80"]),
        "due_text": [fmt_gnf(v) for v in frame["due"]],
        "collected_text": [fmt_gnf(v) if s != "prévu" else "–" for v, s in zip(frame["collected"], frame["state"])],
        "expected_text": [fmt_gnf(v) if pd.notna(v) else "–" for v in expected],
        "range_text": [f"{fmt_gnf(lo)} – {fmt_gnf(hi)}" if pd.notna(lo) else "–"
                       for lo, hi in zip(frame["low_80"], frame["high_80"])],
    }


def collections_forecast(frame: pd.DataFrame) -> pn.viewable.Viewable:
    """The months behind (due, collected) and ahead (expected, with the 80 % interval as a vertical line)."""
    if frame.empty:
        return empty("Aucune échéance ni aucune prévision pour ce choix.")
    fig, source, due, paid = due_and_collected("Encaissements : réalisés et attendus", forecast_source(frame))
    rest = draw(fig, source, VBar(x="month", bottom="rest_bottom", top="rest_top", width=0.45,
                                  fill_color=FORECAST_COLOR, line_color=PAID_COLOR, line_dash="dashed"))
    band = draw(fig, source, Segment(x0="month", y0="low", x1="month", y1="high", line_color="#1f2d3d", line_width=2))
    fig.y_range.start = 0
    fig.xaxis.major_label_orientation = SLANTED
    fig.add_layout(Legend(items=[LegendItem(label="Dû", renderers=[due]), LegendItem(label="Encaissé", renderers=[paid]),
                                 LegendItem(label="Attendu", renderers=[rest]),
                                 LegendItem(label="Fourchette à 80 %", renderers=[band])],
                          orientation="horizontal", location="top_left"), "above")
    hover(fig, [("Mois", "@month"), ("Dû", "@due_text"), ("Encaissé", "@collected_text"),
                ("Attendu (total du mois)", "@expected_text"), ("Fourchette à 80 %", "@range_text")],
          renderers=[due])
    return pane(fig)
