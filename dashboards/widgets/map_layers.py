"""The maps' layers (the live map's and the replay's) drawn with plain Bokeh: the columns of each layer are
built from plain frames (so they are tested without a server), and one figure per session holds one
ColumnDataSource per layer: late sites, agents and their names, their tracks, their routes with numbered
stops, the communes' outlines, over the basemap tiles.

Why plain Bokeh and not GeoViews: through GeoViews/HoloViews every page opened projected each layer
again, split the tracks and routes into one dataset per agent and computed ranges path by path; the map
cost a page about 1.4 s of server CPU (docs/performance.md). Here longitude/latitude are projected to
Web Mercator once with numpy (`mercator`), all agents' lines are one MultiLine source, and what does not
depend on the session (the communes' outlines, a filter's late sites) is computed once per process
(`shared`). The pages update a layer by replacing its source's `.data`: no figure is rebuilt, the user's
zoom and pan stay where they are.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import panel as pn
from bokeh.models import (BoxZoomTool, ColumnDataSource, HoverTool, LabelSet, MultiLine, PanTool, Patches, Plot,
                          Range1d, ResetTool, SaveTool, Scatter, Toolbar, WheelZoomTool, WMTSTileSource)
from panel.io.state import set_curdoc

from dashboards.format import fmt_gnf

# Days late -> colour: 0–30 yellow, 31–60 orange, 61–90 red, 90+ dark red.
BUCKETS = (("0–30 j", 30, "#f2c94c"), ("31–60 j", 60, "#f2994a"), ("61–90 j", 90, "#eb5757"), ("90 j et +", None, "#7b1010"))
ACTIVE_COLOUR, INACTIVE_COLOUR = "#0b6e4f", "#9aa0a6"
ROUTE_COLOUR = "#2f80ed"
TRACK_COLOUR = "#5b2c83"
MISSING_COLOUR = "#b3261e"
EARTH_RADIUS_M = 6378137.0
CONAKRY = (-13.68, 9.58)   # where an empty map looks (lon, lat)
# OpenStreetMap's tiles may be used with this credit on the map (our text, not data: Bokeh shows it as HTML)
OSM_CREDIT = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'


def bucket(days_late: int) -> str:
    for label, upper, _ in BUCKETS:
        if upper is None or days_late <= upper:
            return label
    return BUCKETS[-1][0]  # pragma: no cover


COLOURS = {label: colour for label, _, colour in BUCKETS}


def mercator(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Longitude/latitude (degrees) to Web Mercator metres (EPSG:3857), the tiles' projection."""
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    return np.radians(lon) * EARTH_RADIUS_M, np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * EARTH_RADIUS_M


# -- the layers' columns (plain dicts for ColumnDataSource.data) ------------------------------------

SITE_KEYS = ("x", "y", "site_ref", "site_name", "commune", "tenants_late", "arrears_txt", "days_late", "contact_txt",
             "retard", "colour", "size")


def late_sites_columns(frame: pd.DataFrame) -> dict:
    """Markers coloured by days late and sized by arrears, with the hover's texts."""
    x, y = mercator(frame["lon"], frame["lat"])
    retard = [bucket(int(d)) for d in frame["days_late"]]
    return {
        "x": x, "y": y,
        "site_ref": [str(v) for v in frame["site_ref"]],
        "site_name": [str(v) for v in frame["site_name"]],
        "commune": [str(v) for v in frame["commune"]],
        "tenants_late": [int(v) for v in frame["tenants_late"]],
        "arrears_txt": [fmt_gnf(v) for v in frame["arrears"]],
        "days_late": [int(v) for v in frame["days_late"]],
        "contact_txt": [("—" if pd.isna(t) else pd.Timestamp(t).strftime("%d/%m/%Y %H:%M"))
                        for t in frame["last_contact_at"]],
        "retard": retard,
        "colour": [COLOURS[r] for r in retard],
        "size": np.asarray(_sizes(frame["arrears"]), dtype="float64"),
    }


def _sizes(arrears: pd.Series) -> list[float]:
    values = arrears.astype("float64")
    top = float(values.max()) if len(values) else 0.0
    return [8 + 22 * (v / top) ** 0.5 if top > 0 else 8 for v in values]


def age_text(seconds: float | None) -> str:
    if seconds is None or pd.isna(seconds):
        return "aucune position"
    seconds = int(seconds)
    if seconds < 60:
        return f"il y a {seconds} s"
    if seconds < 3600:
        return f"il y a {seconds // 60} min"
    if seconds < 12 * 3600:
        return f"il y a {seconds // 3600} h {seconds % 3600 // 60:02d}"
    return f"il y a {seconds // 86400} j {seconds % 86400 // 3600} h" if seconds >= 86400 else f"il y a {seconds // 3600} h"


def agents_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The agents' side table (French headings)."""
    return pd.DataFrame({
        "Agent": frame["agent_ref"],
        "Nom": frame["full_name"],
        "Statut": ["actif" if a else "inactif" for a in frame["active"]],
        "Dernière position": [age_text(s) for s in frame.get("age_s", pd.Series([None] * len(frame)))],
        "Batterie": [("—" if pd.isna(b) else f"{int(b)} %") for b in frame.get("battery", pd.Series([None] * len(frame)))],
        "Missions": [f"{d}/{p}" for d, p in zip(frame["missions_done"], frame["missions_planned"])],
    })


def agents_data(frame: pd.DataFrame) -> pd.DataFrame:
    """The agents layer's rows (one per agent with a position), longitude/latitude still in degrees."""
    placed = frame.dropna(subset=["lat", "lon"])
    return pd.DataFrame({
        "lon": placed["lon"].astype("float64"), "lat": placed["lat"].astype("float64"),
        "agent_ref": placed["agent_ref"], "full_name": placed["full_name"],
        "statut": ["actif" if a else "inactif" for a in placed["active"]],
        "age_txt": [age_text(s) for s in placed["age_s"]],
        "battery_txt": [("—" if pd.isna(b) else f"{int(b)} %") for b in placed["battery"]],
        "missions_txt": [f"{d} faites / {p} prévues" for d, p in zip(placed["missions_done"], placed["missions_planned"])],
        "colour": [ACTIVE_COLOUR if a else INACTIVE_COLOUR for a in placed["active"]],
    })


def _projected(table: pd.DataFrame) -> dict:
    x, y = mercator(table["lon"], table["lat"])
    data = {"x": x, "y": y}
    data.update({k: [str(v) for v in table[k]] for k in table.columns if k not in ("lon", "lat")})
    return data


def agents_columns(frame: pd.DataFrame) -> dict:
    """Every agent with a position, green or grey ("inactif": no fix for 10 minutes); `name` is the text
    drawn next to the marker, empty for inactive agents."""
    table = agents_data(frame)
    data = _projected(table)
    data["name"] = [n if s == "actif" else "" for n, s in zip(data["full_name"], data["statut"])]
    return data


def tracks_columns(by_agent: dict[str, pd.DataFrame]) -> dict:
    """Today's track of each agent (two fixes at least): one line per agent in ONE MultiLine source."""
    xs, ys, refs = [], [], []
    for agent, t in sorted(by_agent.items()):
        if len(t) > 1:
            x, y = mercator(t["lon"], t["lat"])
            xs.append(x)
            ys.append(y)
            refs.append(agent)
    return {"xs": xs, "ys": ys, "agent_ref": refs}


def routes_columns(missions: pd.DataFrame) -> tuple[dict, dict]:
    """(lines, stops): each agent's visits of the day in route order, one dashed line per agent (two
    visits at least) and every stop, white when planned and green when done."""
    visits = missions[missions["kind"] == "visit"].sort_values(["agent_ref", "route_order"])
    x, y = mercator(visits["lon"], visits["lat"])
    refs = [str(a) for a in visits["agent_ref"]]
    xs, ys, line_refs = [], [], []
    if len(visits):
        starts = [0] + [i for i in range(1, len(refs)) if refs[i] != refs[i - 1]] + [len(refs)]
        for a, b in zip(starts, starts[1:]):
            if b - a > 1:
                xs.append(x[a:b])
                ys.append(y[a:b])
                line_refs.append(refs[a])
    statut = ["faite" if s == "done" else "prévue" for s in visits["status"]]
    stops = {
        "x": x, "y": y, "agent_ref": refs,
        "numero": [str(int(n)) for n in visits["route_order"]],
        "site_name": [str(n) for n in visits["site_name"]],
        "statut": statut,
        "eta_txt": [("—" if pd.isna(e) else pd.Timestamp(e).strftime("%H:%M")) for e in visits["eta"]],
        "colour": [ACTIVE_COLOUR if s == "faite" else "white" for s in statut],
    }
    return {"xs": xs, "ys": ys, "agent_ref": line_refs}, stops


def stop_numbers(stops: dict, agent_ref: str | None) -> list[str]:
    """The stops' labels: the followed agent's stops show their number, the others none (all agents'
    numbers at once would cover the city)."""
    return [n if agent_ref and a == agent_ref else "" for n, a in zip(stops["numero"], stops["agent_ref"])]


def commune_columns(sites: pd.DataFrame) -> dict:
    """Where each commune's sites lie (their convex hull, 150 m wide at least; `x`, `y`: where its name
    goes): we ship no official boundaries, and this outline needs no internet."""
    from shapely.geometry import MultiPoint

    xs, ys, communes, label_x, label_y = [], [], [], [], []
    for commune, group in sites.dropna(subset=["lon", "lat"]).groupby("commune"):
        hull = MultiPoint(list(zip(group["lon"].astype(float), group["lat"].astype(float)))).convex_hull.buffer(0.0015)
        lon, lat = hull.exterior.coords.xy
        x, y = mercator(lon, lat)
        xs.append(x)
        ys.append(y)
        communes.append(str(commune))
        cx, cy = mercator([hull.centroid.x], [hull.centroid.y])
        label_x.append(float(cx[0]))
        label_y.append(float(cy[0]))
    return {"xs": xs, "ys": ys, "commune": communes, "x": np.asarray(label_x, dtype="float64"),
            "y": np.asarray(label_y, dtype="float64")}


def empty(keys) -> dict:
    """A layer with no rows (a filter matched nothing, a layer switched off)."""
    return {k: [] for k in keys}


# -- the figure ------------------------------------------------------------------------------------

SITE_TOOLTIPS = [("Site", "@site_name"), ("Commune", "@commune"), ("Locataires en retard", "@tenants_late"),
                 ("Impayés", "@arrears_txt"), ("Retard", "@days_late jours"), ("Dernier contact", "@contact_txt")]
AGENT_TOOLTIPS = [("Agent", "@full_name (@agent_ref)"), ("Statut", "@statut"), ("Dernière position", "@age_txt"),
                  ("Batterie", "@battery_txt"), ("Missions", "@missions_txt")]
STOP_TOOLTIPS = [("Arrêt", "n° @numero de @agent_ref"), ("Site", "@site_name"), ("Statut", "@statut"),
                 ("Arrivée prévue", "@eta_txt")]
VISIT_TOOLTIPS = [("Site", "@site_name"), ("Heure", "@heure"), ("Résultat", "@resultat"),
                  ("Preuve de présence", "@preuve"), ("Distance au site", "@distance")]


def base_figure(tiles_url: str, height: int, name: str) -> Plot:
    """A Web Mercator map without axes, grid or title, over the basemap tiles (an XYZ URL with {X}, {Y},
    {Z}; none when the setting is off). Unreachable tiles (no internet) leave the background blank; every
    layer still draws. A bare `Plot` rather than `figure`: `figure` adds axes, grids, a title and
    selection variants of each glyph, models of their own that each page would build and walk for nothing."""
    wheel = WheelZoomTool()
    plot = Plot(height=height, sizing_mode="stretch_width", x_range=Range1d(), y_range=Range1d(), min_border=5,
                name=name, title=None, background_fill_color="#f4f1ea", toolbar_location="above",
                toolbar=Toolbar(tools=[PanTool(), wheel, BoxZoomTool(), ResetTool(), SaveTool()], active_scroll=wheel,
                                logo=None))
    if tiles_url and tiles_url.lower() != "off":
        plot.add_tile(WMTSTileSource(url=tiles_url, attribution=OSM_CREDIT if "openstreetmap.org" in tiles_url else ""),
                      alpha=0.9)
    return plot


def source(name: str, data: dict) -> ColumnDataSource:
    """A layer's one source, named so that the browser tests find it (`akig-<layer>`)."""
    return ColumnDataSource(data=dict(data), name=f"akig-{name}")


def draw(fig, data: ColumnDataSource, glyph):
    """One glyph of a layer, without selection and muted variants as models of their own (the maps select
    nothing, and every model of a page is walked again each time the page adds a root to its document)."""
    return fig.add_glyph(data, glyph)


def label(fig, data: ColumnDataSource, text: str, level: str = "annotation", **style) -> None:
    """Texts at the layer's points (names, numbers): one annotation reading the layer's own source. An
    empty text draws nothing."""
    fig.add_layout(LabelSet(x="x", y="y", text=text, source=data, level=level, **style))


def hover(renderer, tooltips) -> HoverTool:
    """A hover whose fields Bokeh shows as text: never `{safe}` (names come from the database)."""
    return HoverTool(renderers=[renderer], tooltips=list(tooltips))


def add_communes(fig, communes: dict, name: str = "communes") -> ColumnDataSource:
    """The communes' outlines, with their names at their centres, from one source."""
    data = source(name, communes)
    draw(fig, data, Patches(xs="xs", ys="ys", fill_alpha=0.04, fill_color="#0b6e4f", line_color="#0b6e4f",
                            line_dash="dotted", line_width=1.5))
    label(fig, data, "commune", level="underlay", text_color="#0b6e4f", text_font_size="11pt", text_alpha=0.7,
          text_align="center", text_baseline="middle")
    return data


def on_document(model, change: Callable[[], None]) -> None:
    """Apply `change` (to Bokeh models) now when this thread may change the model's document (no document
    yet, outside a server, or the server's event loop holding the session's lock), otherwise on that
    document's next tick. A page's widget callbacks may run on Panel's worker threads
    (`AKIG_SERVER_THREADS`), and Bokeh refuses a change made there without the document's lock; Panel's own
    panes go through the same check (pn.state.execute)."""
    doc = model.document
    if doc is None or doc.session_context is None:
        change()
        return
    with set_curdoc(doc):
        pn.state.execute(change)


def fit(fig, xs: list[np.ndarray], ys: list[np.ndarray], margin: float = 0.05, at_least_m: float = 2000.0) -> None:
    """Frame the figure on these coordinates (Web Mercator metres); Conakry when there are none. Ranges
    are explicit (Range1d): the browser never re-fits them when a source's data changes."""
    xs = [np.asarray(x, dtype="float64") for x in xs if len(x)]
    ys = [np.asarray(y, dtype="float64") for y in ys if len(y)]
    if xs and ys:
        x, y = np.concatenate(xs), np.concatenate(ys)
        x0, x1, y0, y1 = float(np.nanmin(x)), float(np.nanmax(x)), float(np.nanmin(y)), float(np.nanmax(y))
    else:
        cx, cy = mercator([CONAKRY[0]], [CONAKRY[1]])
        x0 = x1 = float(cx[0])
        y0 = y1 = float(cy[0])
    half_w = max((x1 - x0) * (1 + 2 * margin), at_least_m) / 2
    half_h = max((y1 - y0) * (1 + 2 * margin), at_least_m) / 2
    mid_x, mid_y = (x0 + x1) / 2, (y0 + y1) / 2

    def frame() -> None:
        fig.x_range.update(start=mid_x - half_w, end=mid_x + half_w)
        fig.y_range.update(start=mid_y - half_h, end=mid_y + half_h)

    on_document(fig, frame)


AGENT_KEYS = ("x", "y", "agent_ref", "full_name", "statut", "age_txt", "battery_txt", "missions_txt", "colour", "name")
STOP_KEYS = ("x", "y", "agent_ref", "numero", "site_name", "statut", "eta_txt", "colour", "label")
LINE_KEYS = ("xs", "ys", "agent_ref")


class LiveMapFigure:
    """The live map of one session: its figure and one source per layer, bottom to top: `communes`
    (outlines and names), `routes`, `stops` (with the followed agent's numbers), late `sites`, `tracks`,
    `agents` (with their names). Its owner replaces a source's `.data` when a filter or the live feed
    changes it; nothing here is ever rebuilt."""

    def __init__(self, tiles_url: str, height: int, communes: dict):
        fig = self.figure = base_figure(tiles_url, height, "akig-live-map")
        s = self.sources = {"communes": add_communes(fig, communes)}
        s["routes"] = source("routes", empty(LINE_KEYS))
        draw(fig, s["routes"], MultiLine(xs="xs", ys="ys", line_color=ROUTE_COLOUR, line_width=1.5, line_dash="dashed",
                                         line_alpha=0.7))
        s["stops"] = source("stops", empty(STOP_KEYS))
        stops = draw(fig, s["stops"], Scatter(x="x", y="y", size=9, fill_color="colour", line_color=ROUTE_COLOUR))
        label(fig, s["stops"], "label", x_offset=7, y_offset=7, text_font_size="10pt", text_font_style="bold",
              text_color="#0d3b66")
        s["sites"] = source("sites", empty(SITE_KEYS))
        sites = draw(fig, s["sites"], Scatter(x="x", y="y", size="size", fill_color="colour", line_color="#333333",
                                              line_width=0.6, fill_alpha=0.85))
        s["tracks"] = source("tracks", empty(LINE_KEYS))
        draw(fig, s["tracks"], MultiLine(xs="xs", ys="ys", line_color=TRACK_COLOUR, line_width=2, line_alpha=0.55))
        s["agents"] = source("agents", empty(AGENT_KEYS))
        agents = draw(fig, s["agents"], Scatter(x="x", y="y", marker="triangle", size=16, fill_color="colour",
                                                line_color="white", line_width=1.5))
        label(fig, s["agents"], "name", y_offset=12, text_font_size="9pt", text_color="#1d2a30", text_alpha=0.9,
              text_align="center", text_baseline="bottom")
        fig.add_tools(hover(sites, SITE_TOOLTIPS), hover(agents, AGENT_TOOLTIPS), hover(stops, STOP_TOOLTIPS))

    def show(self, layer: str, data: dict) -> None:
        """New rows for one layer (a copy of the dict: shared columns stay shared, the dict is the source's)."""
        target, rows = self.sources[layer], dict(data)
        on_document(self.figure, lambda: setattr(target, "data", rows))

    def show_column(self, layer: str, column: str, values: list) -> None:
        """New values of one column of a layer (only that column is sent to the browser)."""
        target = self.sources[layer]
        on_document(self.figure, lambda: target.data.__setitem__(column, values))


class ReplayFigure:
    """The replay's map: the communes; the agent's `path`: his whole day faint and the part travelled
    solid (two lines of one source); the `visits` recorded so far (green with proof of presence, red
    without) and the agent (`here`) where he was."""

    def __init__(self, tiles_url: str, height: int, communes: dict):
        fig = self.figure = base_figure(tiles_url, height, "akig-replay-map")
        s = self.sources = {"communes": add_communes(fig, communes, "replay-communes")}
        s["path"] = source("replay-path", empty(("xs", "ys", "alpha", "width")))
        draw(fig, s["path"], MultiLine(xs="xs", ys="ys", line_color=TRACK_COLOUR, line_alpha="alpha",
                                       line_width="width"))
        s["visits"] = source("replay-visits", empty(("x", "y", "site_name", "heure", "resultat", "preuve", "distance",
                                                     "colour")))
        visits = draw(fig, s["visits"], Scatter(x="x", y="y", marker="square", size=12, fill_color="colour",
                                                line_color="white"))
        s["here"] = source("replay-here", empty(("x", "y")))
        draw(fig, s["here"], Scatter(x="x", y="y", marker="triangle", size=18, fill_color=ACTIVE_COLOUR,
                                     line_color="white"))
        fig.add_tools(hover(visits, VISIT_TOOLTIPS))

    def show(self, layer: str, data: dict) -> None:
        target, rows = self.sources[layer], dict(data)
        on_document(self.figure, lambda: setattr(target, "data", rows))


def legend_html() -> str:
    items = "".join(f'<span style="display:inline-block;width:12px;height:12px;border-radius:6px;background:{c};'
                    f'margin:0 4px 0 12px;vertical-align:middle"></span>{label}' for label, _, c in BUCKETS)
    return (f'<div style="font-size:0.9em">Retard des sites : {items}'
            f'<span style="color:{ACTIVE_COLOUR};margin-left:16px">▲</span> agent actif '
            f'<span style="color:{INACTIVE_COLOUR};margin-left:8px">▲</span> inactif (plus de 10 min) '
            f'<span style="color:{ROUTE_COLOUR};margin-left:8px">- - -</span> tournée</div>')
