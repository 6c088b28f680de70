"""Replaying one agent's day (the map's "Rejouer une journée" tab, for managers checking visits): a
slider over the day's GPS fixes moves the agent along his track and shows the visits recorded up to
that moment, green with proof of presence (within 200 m of the site), red without.

Drawn like the live map (dashboards.widgets.map_layers): one plain Bokeh figure whose sources get the new
rows when the slider moves, the agent or the day changes; the figure is built once."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import panel as pn
import param

from akig_data.writes import positions
from akig_data.errors import AkigError
from akig_data.planning.solver import haversine_m
from akig_data.runtime import get_runtime
from dashboards.escape import escape_markdown
from dashboards.labels_fr import OUTCOME
from dashboards.io import shared_columns
from dashboards.widgets import map_layers as layers

MAP_HEIGHT = 560


def travelled_m(track: pd.DataFrame) -> float:
    lats, lons = track["lat"].to_numpy(), track["lon"].to_numpy()
    return float(sum(haversine_m(lats[i - 1], lons[i - 1], lats[i], lons[i]) for i in range(1, len(lats))))


class Replay(pn.viewable.Viewer):
    agent_ref = param.Selector(default="", objects=[""], label="Agent", doc="Agent")
    day = param.CalendarDate(default=None, label="Journée", doc="Journée")
    step = param.Integer(default=0, bounds=(0, None), doc="position in the day's fixes")

    def __init__(self, sites: pd.DataFrame, **params):
        params.setdefault("day", dt.datetime.now(positions.TZ).date())
        super().__init__(**params)
        self.sites = sites
        self.track = pd.DataFrame(columns=["t", "lat", "lon", "accuracy_m", "battery"])
        self.visits = pd.DataFrame(columns=["visited_at", "outcome", "lat", "lon", "distance_m", "proof", "site_name"])
        self.problem = ""
        try:
            agents = positions.agents_on_map()
            self.param.agent_ref.objects = {"Choisir un agent": ""} | {
                f"{n} ({r})": r for r, n in zip(agents["agent_ref"], agents["full_name"])}
        except AkigError as exc:
            self.problem = str(exc)
        self.slider = pn.widgets.IntSlider(label="Moment de la journée", start=0, end=1, value=0,
                                           sizing_mode="stretch_width", disabled=True)
        self.slider.link(self, value="step")
        self.summary_pane = pn.pane.Markdown(self.summary_text(0), sizing_mode="stretch_width",
                                             css_classes=["akig-replay-summary"])
        communes = shared_columns.shared("communes", sites[["commune", "lon", "lat"]], layers.commune_columns)
        self.map = layers.ReplayFigure(get_runtime().settings.tiles_url, MAP_HEIGHT, communes)
        layers.fit(self.map.figure, communes["xs"], communes["ys"])
        self.param.watch(self._load, ["agent_ref", "day"])
        self.param.watch(lambda event: self._show_summary(), ["step"])

    def _load(self, *_events) -> None:
        self.problem = ""
        if not self.agent_ref or self.day is None:
            return
        try:
            self.track = positions.track(self.agent_ref, self.day)
            self.visits = positions.day_visits(self.agent_ref, self.day)
        except AkigError as exc:
            self.problem = str(exc)
            self.track = self.track.iloc[0:0]
        last = max(len(self.track) - 1, 1)
        self.slider.param.update(end=last, value=last, disabled=len(self.track) < 2)
        self.step = last if len(self.track) else 0
        self._show_summary()
        if len(self.track):   # frame the agent's day
            x, y = layers.mercator(self.track["lon"], self.track["lat"])
            layers.fit(self.map.figure, [x], [y], at_least_m=3000.0)

    def _show_summary(self) -> None:
        self.summary_pane.object = self.summary_text(self.step)
        for layer, data in self.moment(self.step).items():
            self.map.show(layer, data)

    def moment(self, step: int, *_) -> dict[str, dict]:
        """The map's layers up to the chosen fix: the whole track (faint), the part travelled (solid), the
        agent, and the visits recorded so far."""
        track = self.track
        if track.empty:
            shown = track
            visits = self.visits.iloc[0:0]
        else:
            shown = track.iloc[: min(step, len(track) - 1) + 1]
            visits = self.visits[self.visits["visited_at"] <= shown["t"].iloc[-1]]

        def xy(frame: pd.DataFrame) -> dict:
            x, y = layers.mercator(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float))
            return {"x": x, "y": y}

        whole, done = xy(track), xy(shown)
        proof = ["oui" if p else "non" for p in visits["proof"]]
        return {
            "path": {"xs": [whole["x"], done["x"]], "ys": [whole["y"], done["y"]], "alpha": [0.2, 1.0],
                     "width": [2, 3]},
            "here": xy(shown.tail(1)),
            "visits": xy(visits) | {
                "site_name": [str(n) for n in visits["site_name"]],
                "heure": [pd.Timestamp(t).strftime("%H:%M") for t in visits["visited_at"]],
                "resultat": [str(OUTCOME.get(o, o)) for o in visits["outcome"]],
                "preuve": proof,
                "distance": [("—" if pd.isna(d) else f"{d:.0f} m") for d in visits["distance_m"]],
                "colour": [layers.ACTIVE_COLOUR if p == "oui" else layers.MISSING_COLOUR for p in proof],
            },
        }

    def summary_text(self, step: int) -> str:
        """One line under the slider (Markdown): where the agent is in his day."""
        if self.problem:
            return f"**Requête refusée :** {escape_markdown(self.problem)}"
        if not self.agent_ref:
            return "Choisissez un agent et une journée pour rejouer ses déplacements."
        if self.track.empty:
            return f"Aucune position GPS de cet agent le {self.day:%d/%m/%Y}."
        shown = self.track.iloc[: min(step, len(self.track) - 1) + 1]
        at = shown["t"].iloc[-1]
        visits = self.visits[self.visits["visited_at"] <= at]
        km = f"{travelled_m(shown) / 1000:.1f}".replace(".", ",")
        return (f"**{at:%H:%M}** — {len(visits)} visite(s) dont {int(visits['proof'].sum())} avec preuve de "
                f"présence, {km} km parcourus depuis {self.track['t'].iloc[0]:%H:%M}.")

    def __panel__(self):
        return pn.Column(
            pn.Row(pn.widgets.Select.from_param(self.param.agent_ref),
                   pn.widgets.DatePicker.from_param(self.param.day)),
            self.slider,
            self.summary_pane,
            pn.pane.Bokeh(self.map.figure, sizing_mode="stretch_width", height=MAP_HEIGHT),
            sizing_mode="stretch_width",
        )
