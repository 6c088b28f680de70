"""The live map (`/carte`): late tenants' sites, agents' live positions and tracks, today's routes, and
the replay of an agent's day.

Live updates come from the process's one poller (dashboards.io.live_feed): this session subscribes when it
is created and unsubscribes when it is destroyed. An update is applied on the session's own document
(add_next_tick_callback): the new positions replace the data of the Bokeh sources that HoloViews drew
the agents, their names and their tracks with (caught by plot hooks). Nothing is re-rendered, so an
update costs a few milliseconds, the user's zoom and pan stay where they are, and nothing accumulates
over hours of updates. The filters' layers are DynamicMaps with cache_size=1 for the same reason.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time

import holoviews as hv
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
        self.who = current()
        self.day = today()
        self._seq = 0
        self._tracks_sent = 0.0
        self._fill_choices()
        self.param.watch(self._tracks_toggled, "show_tracks")
        self.updates = 0
        self.sources: dict[str, object] = {}   # the live layers' Bokeh data sources, caught by plot hooks
        self._initial = Snapshot(0, dt.datetime.now(positions.TZ), _empty_agents())
        self._latest: Snapshot | None = None
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
        browser is gone (a closed page's session lives on until Bokeh cleans it up; updating it then
        would make HoloViews reschedule its refresh forever)."""
        if not session_connected(doc):
            return
        doc.add_next_tick_callback(functools.partial(self._apply_on, doc, snapshot))

    def _apply_on(self, doc, snapshot: Snapshot) -> None:
        if not session_connected(doc):
            return
        with set_curdoc(doc):  # Panel and HoloViews update models directly only for the current document
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
        if "agents" not in self.sources:  # not drawn yet: the plot starts from this snapshot
            self._initial = snapshot
            return
        self.updates += 1
        self._latest = snapshot
        self._fill_sources(snapshot, tracks=time.monotonic() - self._tracks_sent >= TRACKS_EVERY_S)

    def _tracks_toggled(self, _event) -> None:
        if {"agents", "names", "tracks"} <= set(self.sources):
            self._fill_sources(self._latest or self._initial, tracks=True)

    def _fill_sources(self, snapshot: Snapshot, tracks: bool) -> None:
        point_keys, name_keys = tuple(self.sources["agents"].data), tuple(self.sources["names"].data)
        points, names = snapshot.derived(("agents", point_keys, name_keys),
                                         lambda: layers.agents_sources(snapshot.agents, point_keys, name_keys))
        self.sources["agents"].data = dict(points)
        layers.colour_markers(self.glyph, points)
        self.sources["names"].data = dict(names)
        if tracks:
            self._tracks_sent = time.monotonic()
            keys = tuple(self.sources["tracks"].data)
            shown = snapshot.derived(("tracks", keys), lambda: layers.tracks_source(snapshot.tracks, keys))
            self.sources["tracks"].data = dict(shown) if self.show_tracks else layers.tracks_source({}, keys)

    def _table_clicked(self, event) -> None:
        agent = self.table.value.iloc[event.row]["Agent"]
        if agent in self.param.agent_ref.objects:
            self.agent_ref = agent

    # -- layers ----------------------------------------------------------------------------------
    def _sites_layer(self, owner_ref, commune, min_arrears, min_days_late, _available):
        try:
            frame = reads.late_sites(owner_ref=owner_ref or None, commune=commune or None,
                                     min_arrears=int(min_arrears or 0), min_days_late=int(min_days_late or 0))
            self.problem = ""
        except Exception as exc:
            self._report(exc)
            frame = pd.DataFrame(columns=["lon", "lat", "site_ref", "site_name", "commune", "tenants_late", "arrears",
                                          "days_late", "last_contact_at"])
        self.late_count = len(frame)
        return layers.late_sites(frame)

    def _routes_layer(self, agent_ref, show_routes, _version, _available):
        frame = pd.DataFrame(columns=["agent_ref", "kind", "route_order", "lon", "lat", "site_name", "status", "eta"])
        if show_routes:
            try:
                frame = reads.agent_routes(day=self.day)
            except Exception as exc:
                self._report(exc)
        return layers.routes(frame, agent_ref or None)

    def _catch(self, name: str):
        """A plot hook keeping the layer's Bokeh source. HoloViews runs hooks again when it redraws the
        overlay (a filter changed): the newest positions are then put back into the sources."""
        def hook(plot, element):
            if name == "agents":
                self.glyph = plot.handles["glyph"]
                layers.colour_markers(self.glyph, plot.handles["source"].data)
                plot.state.name = "akig-live-map"       # the figure (tests read its ranges)
            plot.handles["source"].name = f"akig-{name}"  # tests find the layers' data by these names
            self.sources[name] = plot.handles["source"]
            if self._latest is not None and {"agents", "names", "tracks"} <= set(self.sources):
                self._fill_sources(self._latest, tracks=True)
        return hook

    def _live_layers(self):
        """Agents, their names and their tracks, drawn once from the latest snapshot; later snapshots
        replace their sources' data (see _apply)."""
        points, names = layers.agents(self._initial.agents)
        trails = layers.tracks(self._initial.tracks if self.show_tracks else {})
        return (trails.opts(hooks=[self._catch("tracks")]) * points.opts(hooks=[self._catch("agents")])
                * names.opts(hooks=[self._catch("names")]))

    def _report(self, exc: Exception) -> None:
        if isinstance(exc, DatabaseUnavailable):
            self.db_watch.report_failure()
        elif not isinstance(exc, AkigError):
            log.exception("map layer failed")
        self.problem = (str(exc) if isinstance(exc, AkigError)
                        else "Erreur inattendue : l'équipe technique a été prévenue.")

    def plot(self):
        watch = self.db_watch
        sites = hv.DynamicMap(pn.bind(self._sites_layer, self.param.owner_ref, self.param.commune,
                                      self.param.min_arrears, self.param.min_days_late, watch.param.available),
                              cache_size=1)
        routes = hv.DynamicMap(pn.bind(self._routes_layer, self.param.agent_ref, self.param.show_routes,
                                       self.param.routes_version, watch.param.available), cache_size=1)
        overlay = layers.commune_outlines(self.sites) * routes * sites * self._live_layers()
        basemap = layers.tiles(get_runtime().settings.tiles_url)
        if basemap is not None:
            overlay = basemap * overlay
        overlay = overlay.opts(
            hv.opts.Overlay(responsive=True, height=MAP_HEIGHT, xaxis=None, yaxis=None, active_tools=["wheel_zoom"],
                            toolbar="above", show_legend=False, title=""))
        return pn.pane.HoloViews(overlay, sizing_mode="stretch_width", height=MAP_HEIGHT, linked_axes=False)

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
    def _problem_banner(self, problem):
        """`problem` is an error's message, which may repeat a value from the URL or the database: text."""
        if not problem:
            return pn.pane.HTML("", height=0, margin=0)
        return pn.pane.Alert(escape_markdown(problem) if "base de données" not in problem else
                             "**La base de données est injoignable.** La carte se mettra à jour dès son retour.",
                             alert_type="danger", sizing_mode="stretch_width")

    def _message(self, message):
        """`message` names agents and repeats refusals from the data layer: shown as text."""
        if not message:
            return pn.pane.HTML("", height=0, margin=0)
        return pn.pane.Alert(escape_markdown(message), alert_type="info", sizing_mode="stretch_width",
                             css_classes=["akig-map-message"])

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
            pn.bind(self._problem_banner, self.param.problem),
            pn.bind(self._message, self.param.message),
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
