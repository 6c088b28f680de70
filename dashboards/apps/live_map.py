"""The live map (`/carte`): late tenants' sites, agents' live positions and tracks, today's routes, and
the replay of an agent's day.

The map is one plain Bokeh figure per session with one data source per layer
(dashboards.widgets.map_layers.LiveMapFigure). Filters replace the data of the layer they change (late
sites, routes); the figure is never rebuilt, so a filter costs a read and a few milliseconds, and the
user's zoom and pan stay where they are.

Live updates come from the process's one poller (dashboards.io.live_feed): this session subscribes when it
is created and unsubscribes when it is destroyed. An update is applied on the session's own document
(add_next_tick_callback): the new positions replace the data of the agents' (with their names) and the
tracks' sources.
Nothing is re-rendered, so an update costs a few milliseconds and nothing accumulates over hours of
updates.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time

import pandas as pd
import panel as pn
import param
from panel.io.state import set_curdoc

from akig_data.writes import positions
from akig_data import reads
from akig_data.access import roles
from akig_data.planning import replan as route_planning
from akig_data.errors import AkigError, DatabaseUnavailable
from akig_data.clock import today
from akig_data.runtime import get_runtime
from akig_data.access.scope import current
from dashboards.escape import escape_markdown, notify_warning
from dashboards.view import View
from dashboards.io import shared_columns
from dashboards.widgets import map_layers as layers
from dashboards.io.database_watch import session_connected
from dashboards.io.live_feed import Snapshot, live_feed

log = logging.getLogger(__name__)
DAYS_LATE = {"Tous les retards": 0, "Plus de 30 jours": 31, "Plus de 60 jours": 61, "Plus de 90 jours": 91}
URL_KEYS = {"agent_ref": "agent"}   # /carte?agent=AGT-001 follows that agent (links from the alerts)
TRACKS_EVERY_S = 3.0   # tracks can hold thousands of points: sent to the browser at most this often
MAP_HEIGHT = 640


def _empty_agents() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in (
        ("agent_ref", "object"), ("full_name", "object"), ("zone", "object"), ("missions_done", "int64"),
        ("missions_planned", "int64"), ("t", "datetime64[ns, UTC]"), ("lat", "float64"), ("lon", "float64"),
        ("accuracy_m", "float64"), ("battery", "float64"), ("age_s", "float64"), ("active", "bool"))})


class LiveMap(View):
    title = "Carte des agents et des impayés"
    url_keys = URL_KEYS

    owner_ref = param.Selector(default="", objects=[""], label="Propriétaire", doc="Propriétaire")
    commune = param.Selector(default="", objects=[""], label="Commune", doc="Commune")
    min_arrears = param.Integer(default=0, bounds=(0, None), label="Impayés minimum (GNF)",
                                doc="Impayés minimum (GNF)")
    min_days_late = param.Selector(default=0, objects=DAYS_LATE, label="Retard", doc="Retard")
    agent_ref = param.Selector(default="", objects=[""], label="Agent suivi", doc="Agent suivi")
    show_tracks = param.Boolean(default=True, label="Traces du jour", doc="Traces du jour")
    show_routes = param.Boolean(default=True, label="Tournées du jour", doc="Tournées du jour")
    routes_version = param.Integer(default=0, doc="moves when a route was re-planned")
    message = param.String(default="", doc="result of the last action")
    problem = param.String(default="", doc="why a layer could not be drawn")

    def __init__(self, **params):
        super().__init__(**params)
        self._banners()
        self.who = current()
        self.day = today()
        self._seq = 0
        self._tracks_sent = 0.0
        self._fill_choices()
        self.updates = 0
        self.late_count = 0
        communes = shared_columns.shared("communes", self.sites[["commune", "lon", "lat"]], layers.commune_columns)
        self.map = layers.LiveMapFigure(get_runtime().settings.tiles_url, MAP_HEIGHT, communes)
        self.sources = self.map.sources   # the layers' Bokeh data sources, by layer
        self._latest = Snapshot(0, dt.datetime.now(positions.TZ), _empty_agents())
        self.table = pn.widgets.Tabulator(layers.agents_table(_empty_agents()), disabled=True, show_index=False,
                                          height=300, sizing_mode="stretch_width", layout="fit_data_stretch",
                                          selectable=1, css_classes=["akig-agents-table"])
        self.table.on_click(self._table_clicked)
        self._feed = live_feed()
        if self._feed.snapshot is not None:
            self._apply(self._feed.snapshot)
        else:  # the first map of this process: show the agents now, the poller takes over from there
            try:
                self._apply(Snapshot(0, dt.datetime.now(positions.TZ), positions.agents_on_map()), force=True)
            except AkigError as exc:
                self._report(exc)
        self.draw_sites()
        self.draw_routes()
        agents = self.sources["agents"].data
        layers.fit(self.map.figure, [*communes["xs"], agents["x"]], [*communes["ys"], agents["y"]])
        self.param.watch(self._tracks_toggled, "show_tracks")
        self.param.watch(lambda _e: self.draw_sites(), ["owner_ref", "commune", "min_arrears", "min_days_late"])
        self.param.watch(lambda _e: self.draw_routes(), ["show_routes", "routes_version"])
        self.param.watch(lambda _e: self._number_stops(), ["agent_ref"])
        self.db_watch.param.watch(self._database_back, "available")
        doc = pn.state.curdoc
        if doc is not None:
            callback = functools.partial(self._schedule, doc)
            self._token = self._feed.subscribe(callback)
            pn.state.on_session_destroyed(lambda _ctx: self._feed.unsubscribe(self._token))

    # -- choices ---------------------------------------------------------------------------------
    def _fill_choices(self) -> None:
        try:
            sites = reads.sites()
        except AkigError as exc:
            self.problem = str(exc)
            sites = pd.DataFrame(columns=["owner_ref", "commune", "lon", "lat"])
        self.sites = sites
        owners = {"Tous les propriétaires": ""} | {o: o for o in sorted(sites["owner_ref"].unique())}
        communes = {"Toutes les communes": ""} | {c: c for c in sorted(sites["commune"].unique())}
        self.param.owner_ref.objects = owners
        self.param.commune.objects = communes

    def _set_agent_choices(self, agents: pd.DataFrame) -> None:
        choices = {"Aucun": ""} | {f"{n} ({r})": r for r, n in zip(agents["agent_ref"], agents["full_name"])}
        if list(choices.values()) != list(self.param.agent_ref.objects):
            self.param.agent_ref.objects = choices

    # -- live updates ----------------------------------------------------------------------------
    def _schedule(self, doc, snapshot: Snapshot) -> None:
        """Called from the poller's thread: hand the update to this session's document, unless its
        browser is gone (a closed page's session lives on until Bokeh cleans it up)."""
        if not self._wanted(doc):
            return
        doc.add_next_tick_callback(functools.partial(self._apply_on, doc, snapshot))

    def _wanted(self, doc) -> bool:
        """Whether this session takes updates: while its browser is connected, and once before (a page
        still loading takes the poller's first snapshot, which holds today's tracks when the page was
        built from a stand-in without them; the browser gets the data with the page)."""
        return session_connected(doc) or not self._seq

    def _apply_on(self, doc, snapshot: Snapshot) -> None:
        if not self._wanted(doc):
            return
        with set_curdoc(doc):  # Panel updates the table's model directly only for the current document
            try:
                self._apply(snapshot)
            except Exception:
                log.exception("live map update failed")

    def _apply(self, snapshot: Snapshot, force: bool = False) -> None:
        if snapshot.seq <= self._seq and not force:  # an older update queued behind a newer one
            return
        self._seq = snapshot.seq
        self._set_agent_choices(snapshot.agents)
        self.table.value = snapshot.derived("table", lambda: layers.agents_table(snapshot.agents))
        if snapshot.seq:
            self.updates += 1
        self._latest = snapshot
        self._fill_sources(snapshot, tracks=time.monotonic() - self._tracks_sent >= TRACKS_EVERY_S)

    def _tracks_toggled(self, _event) -> None:
        self._fill_sources(self._latest, tracks=True)

    def _fill_sources(self, snapshot: Snapshot, tracks: bool) -> None:
        """The snapshot's agents (with their names) and, at most every TRACKS_EVERY_S, tracks into their
        sources; the columns are built by the first map that needs them and shared by every other open map."""
        self.map.show("agents", snapshot.derived("agents", lambda: layers.agents_columns(snapshot.agents)))
        if tracks:
            if snapshot.seq:   # the first map's stand-in snapshot has no tracks: the poller's first one is sent
                self._tracks_sent = time.monotonic()
            shown = (snapshot.derived("tracks", lambda: layers.tracks_columns(snapshot.tracks)) if self.show_tracks
                     else layers.empty(layers.LINE_KEYS))
            self.map.show("tracks", shown)

    def _table_clicked(self, event) -> None:
        agent = self.table.value.iloc[event.row]["Agent"]
        if agent in self.param.agent_ref.objects:
            self.agent_ref = agent

    # -- layers ----------------------------------------------------------------------------------
    def draw_sites(self) -> None:
        """The late sites of the filters (owner, commune, minimum arrears, days late) into their source."""
        try:
            frame = reads.late_sites(owner_ref=self.owner_ref or None, commune=self.commune or None,
                                     min_arrears=int(self.min_arrears or 0),
                                     min_days_late=int(self.min_days_late or 0))
            self.problem = ""
        except Exception as exc:
            self._report(exc)
            frame = pd.DataFrame(columns=["lon", "lat", "site_ref", "site_name", "commune", "tenants_late", "arrears",
                                          "days_late", "last_contact_at"])
        self.late_count = len(frame)
        self.map.show("sites", shared_columns.shared("late_sites", frame, layers.late_sites_columns))

    def draw_routes(self) -> None:
        """Today's routes (when shown) into their sources; the followed agent's stops carry their numbers."""
        frame = pd.DataFrame(columns=["agent_ref", "kind", "route_order", "lon", "lat", "site_name", "status", "eta"])
        if self.show_routes:
            try:
                frame = reads.agent_routes(day=self.day)
            except Exception as exc:
                self._report(exc)
        lines, self._stops = shared_columns.shared("routes", frame, layers.routes_columns)
        self.map.show("routes", lines)
        self.map.show("stops", self._stops | {"label": layers.stop_numbers(self._stops, self.agent_ref or None)})

    def _number_stops(self) -> None:
        """The followed agent changed: only the stops' labels change (one column sent to the browser)."""
        self.map.show_column("stops", "label", layers.stop_numbers(self._stops, self.agent_ref or None))

    def _database_back(self, event) -> None:
        if event.new:
            self.draw_sites()
            self.draw_routes()

    def _report(self, exc: Exception) -> None:
        if isinstance(exc, DatabaseUnavailable):
            self.db_watch.report_failure()
        elif not isinstance(exc, AkigError):
            log.exception("map layer failed")
        self.problem = (str(exc) if isinstance(exc, AkigError)
                        else "Erreur inattendue : l'équipe technique a été prévenue.")

    def plot(self):
        return pn.pane.Bokeh(self.map.figure, sizing_mode="stretch_width", height=MAP_HEIGHT)

    # -- re-planning -----------------------------------------------------------------------------
    def reoptimize(self, _event=None) -> None:
        if not self.agent_ref:
            self.message = "Choisissez d'abord un agent (liste « Agent suivi » ou tableau des agents)."
            return
        try:
            result = route_planning.reoptimize(self.agent_ref, self.day, who=self.who)
        except AkigError as exc:
            self.message = f"Impossible de réoptimiser : {exc}"
            return
        km = lambda m: f"{m / 1000:.1f} km".replace(".", ",")  # noqa: E731
        self.message = (f"Tournée de {self.agent_ref} réoptimisée depuis sa position : {result['stops']} arrêts, "
                        f"{km(result['after_m'])} au lieu de {km(result['before_m'])} "
                        f"({km(result['saved_m'])} économisés).")
        self.routes_version += 1

    # -- page --------------------------------------------------------------------------------------
    def _banners(self) -> None:
        """The problem and message banners: two panes made once, whose text and visibility follow
        `problem` and `message` (no pane is made again when they change)."""
        self.problem_banner = pn.pane.Alert("", alert_type="danger", sizing_mode="stretch_width", visible=False)
        self.message_banner = pn.pane.Alert("", alert_type="info", sizing_mode="stretch_width", visible=False,
                                            css_classes=["akig-map-message"])
        self.param.watch(lambda _e: self._show_banners(), ["problem", "message"])
        self._show_banners()

    def _show_banners(self) -> None:
        """`problem` is an error's message, which may repeat a value from the URL or the database; `message`
        names agents and repeats refusals from the data layer: both shown as text."""
        problem = self.problem
        self.problem_banner.param.update(
            object=(escape_markdown(problem) if "base de données" not in problem else
                    "**La base de données est injoignable.** La carte se mettra à jour dès son retour."),
            visible=bool(problem))
        self.message_banner.param.update(object=escape_markdown(self.message), visible=bool(self.message))

    def url_refused(self, values: dict) -> None:
        """?agent=X from an alert's link: an agent without a position today is simply not followed. The
        notice repeats X as text (anyone can write a link)."""
        notify_warning(f"Agent inconnu ou sans position : {values.get('agent_ref')}")

    def sidebar(self):
        planner = self.who is None or self.who.role in roles.ROUTE_PLANNERS
        button = pn.widgets.Button(label="Réoptimiser depuis sa position", color="primary",
                                   disabled=not planner, sizing_mode="stretch_width")
        button.on_click(self.reoptimize)
        return [
            pn.widgets.Select.from_param(self.param.owner_ref),
            pn.widgets.Select.from_param(self.param.commune),
            pn.widgets.IntInput.from_param(self.param.min_arrears, step=500_000),
            pn.widgets.Select.from_param(self.param.min_days_late),
            pn.widgets.Checkbox.from_param(self.param.show_tracks),
            pn.widgets.Checkbox.from_param(self.param.show_routes),
            pn.layout.Divider(),
            pn.widgets.Select.from_param(self.param.agent_ref),
            button,
        ]

    def main(self):
        live = pn.Column(
            self.problem_banner,
            self.message_banner,
            pn.pane.HTML(layers.legend_html(), sizing_mode="stretch_width"),
            self.plot(),
            pn.pane.Markdown("### Agents"),
            self.table,
            sizing_mode="stretch_width",
        )
        tabs = [("Carte en direct", live)]
        if self.who is None or self.who.role in roles.ROUTE_PLANNERS:
            from dashboards.parts.replay import Replay

            tabs.append(("Rejouer une journée", Replay(sites=self.sites)))
        return [pn.Tabs(*tabs, sizing_mode="stretch_width")]
