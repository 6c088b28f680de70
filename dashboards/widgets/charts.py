"""The owner dashboard's charts (HoloViews on Bokeh, with hover tools), built from data-layer frames.

Amounts are drawn in millions of GNF (axis label says so) and shown exactly, French style, on hover.
A frame with nothing to draw gives a French message instead of an empty chart.
"""

from __future__ import annotations

import datetime as dt

import holoviews as hv
import pandas as pd
import panel as pn

from akig_data.reports.gather import BUCKET_COLOURS
from dashboards.format import fmt_gnf, fmt_rate

if "bokeh" not in hv.Store.renderers:
    hv.extension("bokeh", logo=False)

MONTHS_FR = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."]
BUCKETS = [(column, label, BUCKET_COLOURS[column]) for column, label in (
    ("bucket_0_30", "0–30 j"), ("bucket_31_60", "31–60 j"), ("bucket_61_90", "61–90 j"), ("bucket_90_plus", "+ de 90 j"))]
DUE_COLOR, PAID_COLOR = "#9fb3c8", "#0b6e4f"


def month_label(day: dt.date) -> str:
    return f"{MONTHS_FR[day.month - 1]} {day.year}"


def empty(message: str) -> pn.pane.Alert:
    return pn.pane.Alert(message, alert_type="light", sizing_mode="stretch_width")


def _common(**extra) -> dict:
    return {**dict(responsive=True, height=320, tools=["hover"], toolbar="above", default_tools=["save", "reset"],
                   fontscale=1.0, shared_axes=False), **extra}


def collected_vs_due(trend: pd.DataFrame) -> pn.viewable.Viewable:
    """Per month, what was due (wide light bar) and what was collected (narrow dark bar inside it)."""
    if trend.empty or (trend["due"].fillna(0).sum() == 0 and trend["collected"].fillna(0).sum() == 0):
        return empty("Aucune échéance ni aucun paiement sur ces mois.")
    frame = pd.DataFrame({
        "Mois": month_labels(trend),
        "Dû": trend["due"].astype("int64") / 1e6, "Encaissé": trend["collected"].astype("int64") / 1e6,
        "Dû exact": [fmt_gnf(v) for v in trend["due"]], "Encaissé exact": [fmt_gnf(v) for v in trend["collected"]],
        "Taux": [fmt_rate(v) for v in trend["collection_rate"]],
    })
    tooltips = [("Mois", "@Mois"), ("Dû", "@{Dû exact}"), ("Encaissé", "@{Encaissé exact}"), ("Taux", "@Taux")]
    due = hv.Bars(frame, "Mois", ["Dû", "Dû exact", "Encaissé exact", "Taux"], label="Dû").opts(
        color=DUE_COLOR, bar_width=0.85, hover_tooltips=tooltips)
    paid = hv.Bars(frame, "Mois", ["Encaissé", "Dû exact", "Encaissé exact", "Taux"], label="Encaissé").opts(
        color=PAID_COLOR, bar_width=0.45, hover_tooltips=tooltips)
    return pn.pane.HoloViews((due * paid).opts(
        hv.opts.Bars(**_common(), ylabel="millions GNF", xlabel="", xrotation=45),
        hv.opts.Overlay(title="Encaissé et dû par mois", legend_position="top", responsive=True, height=340),
    ), sizing_mode="stretch_width")


def month_labels(trend: pd.DataFrame) -> list[str]:
    """French month labels; the last month is marked "en cours" when it is not over."""
    labels = [month_label(m) for m in trend["month"]]
    if len(trend) and "as_of" in trend.attrs:
        last = trend["month"].iloc[-1]
        if trend.attrs["as_of"] < (pd.Timestamp(last) + pd.offsets.MonthEnd(0)).date():
            labels[-1] += " (en cours)"
    return labels


def rate_trend(trend: pd.DataFrame) -> pn.viewable.Viewable:
    """Collection and punctuality rates per month, in %."""
    frame = trend.assign(
        Mois=month_labels(trend),
        recouvrement=trend["collection_rate"].astype("float64") * 100,
        ponctualite=trend["punctuality_rate"].astype("float64") * 100,
    )
    if frame[["recouvrement", "ponctualite"]].isna().all().all():
        return empty("Aucune échéance sur ces mois : pas de taux à calculer.")
    frame["Recouvrement"] = [fmt_rate(v) for v in trend["collection_rate"]]
    frame["Ponctualité"] = [fmt_rate(v) for v in trend["punctuality_rate"]]
    collect = hv.Curve(frame, "Mois", ["recouvrement", "Recouvrement"], label="Taux de recouvrement")
    punctual = hv.Curve(frame, "Mois", ["ponctualite", "Ponctualité"], label="Taux de ponctualité")
    points = (hv.Scatter(frame, "Mois", ["recouvrement", "Recouvrement"]).opts(color=PAID_COLOR, size=7)
              * hv.Scatter(frame, "Mois", ["ponctualite", "Ponctualité"]).opts(color="#f2994a", size=7))
    overlay = (collect.opts(color=PAID_COLOR, line_width=3) * punctual.opts(color="#f2994a", line_width=3) * points)
    return pn.pane.HoloViews(overlay.opts(
        hv.opts.Curve(**_common(), ylabel="%", xlabel="", xrotation=45),
        hv.opts.Scatter(tools=["hover"]),
        hv.opts.Overlay(title="Taux de recouvrement et de ponctualité", legend_position="bottom_left",
                        responsive=True, height=320),
    ), sizing_mode="stretch_width")


def aging_by_site(arrears: pd.DataFrame, top: int = 15) -> pn.viewable.Viewable:
    """Stacked horizontal bars: each site's arrears split by age, the `top` largest sites (largest on top)."""
    arrears = arrears[arrears["arrears"] > 0].nlargest(top, "arrears").iloc[::-1]
    if arrears.empty:
        return empty("Aucun impayé à cette date.")
    rows = []
    for _, r in arrears.iterrows():
        for column, label, _ in BUCKETS:
            rows.append((r["site_name"], label, int(r[column]) / 1e6, fmt_gnf(r[column]), fmt_gnf(r["arrears"])))
    frame = pd.DataFrame(rows, columns=["Site", "Ancienneté", "Impayés", "Exact", "Total"])
    colors = {label: color for _, label, color in BUCKETS}
    bars = hv.Bars(frame, kdims=["Site", "Ancienneté"], vdims=["Impayés", "Exact", "Total"])
    return pn.pane.HoloViews(bars.opts(
        **_common(hover_tooltips=[("Site", "@Site"), ("Ancienneté", "@Ancienneté"), ("Montant", "@Exact"),
                                  ("Total du site", "@Total")], height=max(320, 26 * len(arrears) + 110)),
        stacked=True, invert_axes=True, cmap=list(colors.values()),
        ylabel="millions GNF", xlabel="", title="Ancienneté des impayés",
        legend_position="bottom", show_legend=True,
    ), sizing_mode="stretch_width")


def arrears_by_place(arrears: pd.DataFrame, level: str) -> pn.viewable.Viewable:
    """Horizontal bars: arrears per commune or quartier."""
    by_place = (arrears.groupby(level, as_index=False)[["arrears", "late_leases"]].sum()
                .query("arrears > 0").sort_values("arrears"))
    if by_place.empty:
        return empty("Aucun impayé à cette date.")
    frame = pd.DataFrame({
        "Lieu": by_place[level], "Impayés du lieu": by_place["arrears"] / 1e6,
        "Exact": [fmt_gnf(v) for v in by_place["arrears"]], "Baux": by_place["late_leases"].astype(int),
    })
    title = "Impayés par commune" if level == "commune" else "Impayés par quartier"
    bars = hv.Bars(frame, kdims=["Lieu"], vdims=["Impayés du lieu", "Exact", "Baux"])
    return pn.pane.HoloViews(bars.opts(
        **_common(hover_tooltips=[("", "@Lieu"), ("Impayés", "@Exact"), ("Baux en retard", "@Baux")],
                  height=max(320, 24 * len(frame) + 80)),
        invert_axes=True, color="#d9534f", xlabel="", ylabel="millions GNF", title=title,
    ), sizing_mode="stretch_width")
