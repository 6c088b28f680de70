"""The live map's layers as GeoViews elements, built from plain frames (so they are tested without a
server): late sites, agents, their tracks, their routes with numbered stops, commune outlines, and the
basemap tiles.

Coordinates are longitude/latitude (PlateCarree); GeoViews projects them onto the Web Mercator tiles.
"""

from __future__ import annotations

import cartopy.crs as ccrs
import geoviews as gv
import holoviews as hv
import numpy as np
import pandas as pd

from dashboards.format import fmt_gnf

if "bokeh" not in hv.Store.renderers:   # the layers are drawn by HoloViews' Bokeh backend
    hv.extension("bokeh", logo=False)

PLATE = ccrs.PlateCarree()
# Days late -> colour: 0–30 yellow, 31–60 orange, 61–90 red, 90+ dark red.
BUCKETS = (("0–30 j", 30, "#f2c94c"), ("31–60 j", 60, "#f2994a"), ("61–90 j", 90, "#eb5757"), ("90 j et +", None, "#7b1010"))
ACTIVE_COLOUR, INACTIVE_COLOUR = "#0b6e4f", "#9aa0a6"
ROUTE_COLOUR = "#2f80ed"


def bucket(days_late: int) -> str:
    for label, upper, _ in BUCKETS:
        if upper is None or days_late <= upper:
            return label
    return BUCKETS[-1][0]  # pragma: no cover


COLOURS = {label: colour for label, _, colour in BUCKETS}


def tiles(url: str):
    """The basemap: an XYZ tile URL ({X}, {Y}, {Z}); None when switched off. Unreachable tiles (no
    internet) leave the background blank; every other layer still draws."""
    if not url or url.lower() == "off":
        return None
    return gv.WMTS(url, name="Fond de carte").opts(alpha=0.9)


def late_sites(frame: pd.DataFrame):
    """Markers coloured by days late and sized by arrears, with a French hover."""
    data = frame.assign(
        retard=[bucket(int(d)) for d in frame["days_late"]],
        arrears_txt=[fmt_gnf(v) for v in frame["arrears"]],
        contact_txt=[("—" if pd.isna(t) else pd.Timestamp(t).strftime("%d/%m/%Y %H:%M")) for t in frame["last_contact_at"]],
        size=_sizes(frame["arrears"]),
    )[["lon", "lat", "site_ref", "site_name", "commune", "tenants_late", "arrears_txt", "days_late", "contact_txt",
       "retard", "size"]]
    return gv.Points(data, kdims=["lon", "lat"], vdims=list(data.columns[2:]), crs=PLATE,
                     label="Sites en retard").opts(
        color=hv.dim("retard").categorize(COLOURS, default="#7b1010"), size="size", line_color="#333333",
        line_width=0.6, fill_alpha=0.85, tools=["hover"],
        hover_tooltips=[("Site", "@site_name"), ("Commune", "@commune"), ("Locataires en retard", "@tenants_late"),
                        ("Impayés", "@arrears_txt"), ("Retard", "@days_late jours"), ("Dernier contact", "@contact_txt")])


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
    """The agents layer's columns (one row per agent with a position)."""
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


def colour_markers(glyph, data: dict) -> None:
    """Fill the agents' markers from the `colour` column of their data. (HoloViews turns a colour column
    whose values are all equal into one constant colour, which later updates of the data could not
    change; and an empty column is typed as numbers, which Bokeh refuses as colours: then a constant.)"""
    from bokeh.core.properties import field

    glyph.fill_color = field("colour") if len(data.get("colour", [])) else ACTIVE_COLOUR


def agents(data: pd.DataFrame):
    """Agents with a position: green, grey when the last fix is older than 10 minutes ("inactif"),
    names next to the active ones. Returns (markers, names)."""
    table = agents_data(data)
    points = gv.Points(table, kdims=["lon", "lat"], vdims=list(table.columns[2:]), crs=PLATE, label="Agents").opts(
        color=ACTIVE_COLOUR, marker="triangle", size=16, line_color="white", line_width=1.5, tools=["hover"],
        hover_tooltips=[("Agent", "@full_name (@agent_ref)"), ("Statut", "@statut"), ("Dernière position", "@age_txt"),
                        ("Batterie", "@battery_txt"), ("Missions", "@missions_txt")])
    names = gv.Labels(table[table["statut"] == "actif"], kdims=["lon", "lat"], vdims=["full_name"], crs=PLATE).opts(
        text_font_size="9pt", text_color="#1d2a30", yoffset=60, text_alpha=0.9)
    return points, names


def tracks(by_agent: dict[str, pd.DataFrame]):
    """Today's track of each agent as a thin line."""
    paths = [{"lon": t["lon"].to_numpy(), "lat": t["lat"].to_numpy(), "agent_ref": agent}
             for agent, t in sorted(by_agent.items()) if len(t) > 1]
    return gv.Path(paths, kdims=["lon", "lat"], vdims=["agent_ref"], crs=PLATE, label="Traces du jour").opts(
        color="#5b2c83", line_width=2, alpha=0.55)


# -- live updates: new data for the Bokeh sources HoloViews created (no re-render, ranges untouched) ---

def mercator(lon, lat):
    """Longitude/latitude (degrees) to Web Mercator metres, as the tiles and GeoViews' plot use."""
    return hv.util.transform.lon_lat_to_easting_northing(np.asarray(lon, dtype="float64"),
                                                          np.asarray(lat, dtype="float64"))


def points_source(table: pd.DataFrame, keys) -> dict:
    x, y = mercator(table["lon"], table["lat"])
    data = {"lon": x, "lat": y}
    data.update({k: table[k].tolist() for k in keys if k not in ("lon", "lat")})
    return data


def agents_sources(frame: pd.DataFrame, point_keys, label_keys) -> tuple[dict, dict]:
    table = agents_data(frame)
    return points_source(table, point_keys), points_source(table[table["statut"] == "actif"], label_keys)


def tracks_source(by_agent: dict[str, pd.DataFrame], keys) -> dict:
    xs, ys, refs = [], [], []
    for agent, t in sorted(by_agent.items()):
        if len(t) > 1:
            x, y = mercator(t["lon"], t["lat"])
            xs.append(x)
            ys.append(y)
            refs.append(agent)
    data = {"xs": xs, "ys": ys}
    if "agent_ref" in keys:
        data["agent_ref"] = refs
    return data


def routes(missions: pd.DataFrame, numbered_agent: str | None):
    """Each agent's visits of the day in route order as a dashed path with its stops; the stops of
    `numbered_agent` carry their number (all agents' numbers at once would cover the city)."""
    visits = missions[missions["kind"] == "visit"].sort_values(["agent_ref", "route_order"])
    paths = [{"lon": g["lon"].to_numpy(), "lat": g["lat"].to_numpy(), "agent_ref": agent}
             for agent, g in visits.groupby("agent_ref") if len(g) > 1]
    path = gv.Path(paths, kdims=["lon", "lat"], vdims=["agent_ref"], crs=PLATE, label="Tournées").opts(
        color=ROUTE_COLOUR, line_width=1.5, line_dash="dashed", alpha=0.7)
    stops_data = pd.DataFrame({
        "lon": visits["lon"].astype("float64"), "lat": visits["lat"].astype("float64"),
        "agent_ref": visits["agent_ref"], "numero": visits["route_order"].astype("int64").astype(str),
        "site_name": visits["site_name"],
        "statut": ["faite" if s == "done" else "prévue" for s in visits["status"]],
        "eta_txt": [("—" if pd.isna(e) else pd.Timestamp(e).strftime("%H:%M")) for e in visits["eta"]],
    })
    stops = gv.Points(stops_data, kdims=["lon", "lat"], vdims=list(stops_data.columns[2:]), crs=PLATE,
                      label="Arrêts").opts(
        color=hv.dim("statut").categorize({"faite": ACTIVE_COLOUR, "prévue": "white"}), line_color=ROUTE_COLOUR,
        size=9, tools=["hover"],
        hover_tooltips=[("Arrêt", "n° @numero de @agent_ref"), ("Site", "@site_name"), ("Statut", "@statut"),
                        ("Arrivée prévue", "@eta_txt")])
    chosen = stops_data[stops_data["agent_ref"] == numbered_agent] if numbered_agent else stops_data.iloc[0:0]
    numbers = gv.Labels(chosen, kdims=["lon", "lat"], vdims=["numero"], crs=PLATE).opts(
        text_font_size="10pt", text_font_style="bold", text_color="#0d3b66", xoffset=45, yoffset=45)
    return path * stops * numbers


def commune_outlines(sites: pd.DataFrame):
    """Where each commune's sites lie (their convex hull, 150 m wide at least): we ship no official
    boundaries, and this outline needs no internet."""
    from shapely.geometry import MultiPoint

    polygons, labels = [], []
    for commune, group in sites.groupby("commune"):
        hull = MultiPoint(list(zip(group["lon"], group["lat"]))).convex_hull.buffer(0.0015)
        xs, ys = hull.exterior.coords.xy
        polygons.append({"lon": list(xs), "lat": list(ys), "commune": commune})
        labels.append({"lon": hull.centroid.x, "lat": hull.centroid.y, "commune": commune})
    outlines = gv.Polygons(polygons, kdims=["lon", "lat"], vdims=["commune"], crs=PLATE, label="Communes").opts(
        fill_alpha=0.04, fill_color="#0b6e4f", line_color="#0b6e4f", line_dash="dotted", line_width=1.5)
    names = gv.Labels(pd.DataFrame(labels, columns=["lon", "lat", "commune"]), kdims=["lon", "lat"], vdims=["commune"],
                      crs=PLATE).opts(text_color="#0b6e4f", text_font_size="11pt", text_alpha=0.7)
    return outlines * names


def legend_html() -> str:
    items = "".join(f'<span style="display:inline-block;width:12px;height:12px;border-radius:6px;background:{c};'
                    f'margin:0 4px 0 12px;vertical-align:middle"></span>{label}' for label, _, c in BUCKETS)
    return (f'<div style="font-size:0.9em">Retard des sites : {items}'
            f'<span style="color:{ACTIVE_COLOUR};margin-left:16px">▲</span> agent actif '
            f'<span style="color:{INACTIVE_COLOUR};margin-left:8px">▲</span> inactif (plus de 10 min) '
            f'<span style="color:{ROUTE_COLOUR};margin-left:8px">- - -</span> tournée</div>')
