"""The one Panel/Bokeh server: every app on its own path plus the plain HTTP routes.

This module only maps paths to apps, wraps each app in the AKIG page (dashboards.template) and adds the
HTTP routes; apps live in their own modules and get their data from akig_data.
"""

from __future__ import annotations

import gc
import logging

import panel as pn

from akig_data import config
from dashboards import catalog, template
from dashboards.apps import alerts, audit, desk, home, leaderboard, live_map, owner
from dashboards.server import agent_app, auth, api as http_handlers, logs as server_logs, metrics as server_metrics
from dashboards.server import panel_files

log = logging.getLogger("akig.server")

# Bokeh's script bundles that no AKIG page needs, though Bokeh and Panel list them for every page: no chart
# draws with WebGL, and no text is TeX (Panel asks for MathJax as soon as a page shows an HTML pane). They
# are 2 MB of the 6.3 MB of scripts a first visit downloads and compiles (bokeh-mathjax alone 1.8 MB).
UNUSED_BOKEH_BUNDLES = frozenset({"bokeh-gl", "bokeh-mathjax"})

# Python's cyclic garbage collector, tuned for a server that builds pages: (young generation, middle,
# old) thresholds, see tune_garbage_collector().
GC_THRESHOLDS = (10_000, 10, 10)

# Each catalog path and its app (a dashboards.view.View), built once per session.
APPS = {
    "/": home.HomePage,
    "/proprietaire": owner.OwnerDashboard,
    "/recouvrement": desk.Desk,
    "/classement": leaderboard.Leaderboards,
    "/carte": live_map.LiveMap,
    "/alertes": alerts.AlertsPage,
    "/admin/journal": audit.AuditPage,
}


def app_routes() -> dict[str, object]:
    """Path -> factory (a function: Panel calls it once per session, so no state is shared). Each
    factory first checks that the session's role may open that app (akig_data.access.roles), then
    builds the app, its filters kept in the URL, in the AKIG page."""
    return {entry.path: guarded_factory(entry) for entry in catalog.entries()}


def guarded_factory(entry: catalog.AppEntry):
    def create():
        from akig_data.access import roles
        from akig_data.errors import AccessDenied

        from akig_data.access.scope import current

        try:
            who = current()
        except AccessDenied as exc:
            return template.refusal_page(entry.title, str(exc))
        if who is None:  # no resolver installed: never serve an app without knowing who asks
            return template.refusal_page(entry.title, "Accès refusé : aucune session ouverte.")
        if not roles.can_open(who.role, entry.path):
            return template.refusal_page(entry.title, f"Accès refusé : votre rôle ({roles.ROLE_LABELS[who.role]}) "
                                                      "ne permet pas d'ouvrir cette application.")
        view = APPS[entry.path](sync_url=True)
        main, sidebar = view.areas()
        return template.page(view.title, main=main, sidebar=sidebar)
    return create


def allowed_origins(address: str, port: int) -> list[str]:
    return [f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}", *config.load().allowed_origins]


PAGE_TOKEN_COOKIES: list[str] = []
PAGE_TOKEN_HEADERS = ["Host", "User-Agent", "Accept-Language"]


def unused_session_lifetime_s() -> int:
    """How long a session nobody is connected to is kept (AKIG_UNUSED_SESSION_S, default 60 s). A page's
    GET builds its session and its websocket connects to it afterwards: on a busy server or a slow mobile
    link that takes seconds, and a session discarded meanwhile is built a second time, just when the server
    is busiest (docs/operations/scaling.md measured 5 s doubling the work). The cost of longer is the memory of a closed
    page's session (and the live map's subscription) for that long."""
    return config.load().unused_session_s


def serve(port: int = 5006, address: str = "127.0.0.1", num_procs: int = 1, show: bool = False) -> None:
    """Start the server and block. With num_procs > 1 Tornado forks after binding the port; the data
    layer's connections are opened lazily in each process (none is inherited across the fork)."""
    from akig_data import runtime
    from akig_data.access import scope

    server_logs.configure(config.load())   # the console: warnings, errors, a summary; access lines: a file
    auth_settings = auth.AuthSettings.from_env()  # refuses production without a cookie secret
    auth.configure(auth_settings)
    scope.set_principal_resolver(auth.session_principal)  # every read of a session is restricted to its user
    runtime.reset(keep_settings=True)  # no pooled connection may cross a fork; the settings (app role) stay
    if not panel_files.serves_panels_cdn():
        log.warning("Panel was imported before dashboards: the stylesheets of what pages build after their "
                    "first drawing point at Panel's CDN (set PANEL_CDN_ROOT=%s)", panel_files.CDN_ROOT)
    pn.extension("tabulator", notifications=True)
    pn.config.loading_indicator = True
    # No app reads the browser's details (time zone, window size, WebGL, dark mode): without Panel's
    # BrowserInfo, a page has one root fewer and its browser sends a dozen fewer updates as it opens.
    pn.config.browser_info = False
    skip_development_checks()
    cache_bokeh_default_overrides()
    # Deferred panes (charts, tables) render in a thread pool: the event loop stays free to answer the
    # browser, so the KPI row shows while the charts are being drawn.
    pn.config.nthreads = config.load().server_threads
    server = pn.serve(
        app_routes(),
        port=port,
        address=address,
        num_procs=num_procs,
        show=show,
        title={entry.path: f"AKIG — {entry.title}" for entry in catalog.entries()},
        websocket_origin=allowed_origins(address, port),
        # /agent: the phone app, token-based; /panel-cdn/: Panel's stylesheets
        extra_patterns=http_handlers.routes() + agent_app.routes() + panel_files.routes(),
        auth_provider=auth.AkigAuthProvider(),
        cookie_secret=auth_settings.secret,
        # Signed page sessions: Bokeh makes the session ids and signs them and their tokens, and refuses an
        # id or a token a client made up (otherwise whoever knows or chooses a page's session id, e.g. by
        # sending a link with ?bokeh-session-id=, can attach to that page over the websocket and act as
        # its user).
        sign_sessions=True,
        secret_key=auth_settings.page_session_secret.encode("utf-8"),
        generate_session_ids=True,
        # The session token is embedded in every page, where any script can read it: no cookie goes into
        # it (the login cookie is HttpOnly and must stay so) and only these harmless headers do. The apps
        # learn their user from the request that opened the session, server-side (auth.session_principal).
        include_cookies=PAGE_TOKEN_COOKIES,
        include_headers=PAGE_TOKEN_HEADERS,
        verbose=False,
        start=False,
        # A session nobody connects to is freed after unused_session_lifetime_s(), checked every 5 s (more
        # often for a lifetime under 25 s, so that a short lifetime is kept to within a fifth).
        check_unused_sessions_milliseconds=min(5000, unused_session_lifetime_s() * 200),
        unused_session_lifetime_milliseconds=unused_session_lifetime_s() * 1000,
        log_function=server_metrics.log_request,   # Tornado setting: every request's latency, by route
        # Behind nginx, the client's address is in X-Real-IP / X-Forwarded-For; trusted only when said so
        # (otherwise anybody could choose his address and dodge the per-address limits).
        http_server_kwargs={"xheaders": config.load().trust_proxy_headers},
    )
    # Here each forked process runs on its own: start its background work, then serve.
    from dashboards.server import tasks as scheduled_tasks

    scheduled_tasks.start_for_this_process()
    server_metrics.install(server)
    without_unused_bundles(server)
    tune_garbage_collector()
    server.start()
    server.io_loop.start()


def without_unused_bundles(server) -> None:
    """Serve the pages without UNUSED_BOKEH_BUNDLES. Panel asks the server's Tornado application for the
    page's script bundles (`resources()`) on every GET; this one returns the same, minus those bundles.
    If a later Bokeh no longer has that application where Panel finds it, the pages keep every bundle
    (and a test that reads a page's scripts fails)."""
    tornado_app = getattr(server, "_tornado", None)
    if tornado_app is None or not callable(getattr(tornado_app, "resources", None)):
        log.warning("Bokeh's server has no resources() here: pages keep every script bundle")
        return
    every_bundle = tornado_app.resources

    def resources(absolute_url=None):
        full = every_bundle(absolute_url)
        return full.clone(components=[c for c in full.components if c not in UNUSED_BOKEH_BUNDLES])

    tornado_app.resources = resources


def skip_development_checks() -> None:
    """Turn off two of Bokeh's checks meant for writing an app, which every session paid for.

    * Document validation (Bokeh's `validate_doc` setting): after each session's document was built, Bokeh
      walked every model to look for layout mistakes, which it only logs (validation_level "none").
    * Error diagnostics (`perform_error_diagnostics`): every on_change callback's signature was checked with
      `inspect.signature`, about 120 per page opened (Panel registers them on each widget's model), and a
      mistyped attribute got close-match suggestions.

    Both are Bokeh's documented settings, changed here only where nobody chose a value: one given in the
    environment (BOKEH_VALIDATE_DOC=true, BOKEH_PERFORM_ERROR_DIAGNOSTICS=true, for an app being written) or
    in Bokeh's configuration is left as it is. The tests that build the apps in-process (not through
    serve()) keep both on."""
    from bokeh.settings import SettingProvenance, settings

    defaults = (SettingProvenance.GLOBAL_DEFAULT, SettingProvenance.DEFAULT)
    for setting in (settings.perform_document_validation, settings.perform_error_diagnostics):
        if setting.get_value_with_provenance()[1] in defaults:
            setting.set_value(False)


def cache_bokeh_default_overrides() -> bool:
    """Compute each Bokeh model class's overridden defaults once, not at every property read.

    Reading a property that was never set gives its default, and Bokeh 3.9 finds it by merging the
    `__overridden_defaults__` of every class in the model's MRO, anew at each read
    (HasProps._overridden_defaults): some 4,500 merges per /proprietaire page, about 14 of its 165 ms of
    CPU measured in-process. Those dictionaries are made once, when a class is created (Bokeh's metaclass),
    and never changed, so the merge is kept per class. Bokeh keeps them per class itself from the change
    bokeh/bokeh#15322 on, in releases that Panel 1.9 does not accept yet. With a Bokeh whose method is not
    the one patched here, nothing is changed: a warning is logged, False is returned and the test of this
    function fails, so that an upgrade does not go unnoticed."""
    from bokeh.core.has_props import HasProps

    original = getattr(HasProps.__dict__.get("_overridden_defaults"), "__func__", None)
    if original is not None and original.__qualname__ == "HasProps._overridden_defaults.cached":
        return True   # already done in this process
    if original is None or original.__qualname__ != "HasProps._overridden_defaults":
        log.warning("Bokeh's HasProps._overridden_defaults has changed: its defaults are not cached")
        return False
    cache: dict[type, dict] = {}

    def overridden_defaults(cls) -> dict:
        try:
            return cache[cls]
        except KeyError:
            cache[cls] = merged = original(cls)
            return merged

    overridden_defaults.__qualname__ = "HasProps._overridden_defaults.cached"
    HasProps._overridden_defaults = classmethod(overridden_defaults)
    return True


def tune_garbage_collector() -> None:
    """Keep Python's cyclic collector off the server's long-lived objects, and run it less often.

    A page's session makes tens of thousands of Python objects (Panel's, param's and Bokeh's), so with
    Python's default thresholds (700, 10, 10) the collector ran some twenty times per page opened, several
    of them over every object of the process (pandas, Bokeh, Panel, the apps' modules: about half a million
    once the server is up): 24 ms of a 208 ms /proprietaire build, measured in-process. Started (in each
    process, after Tornado forked them), the server moves what it holds into a generation the collector never
    scans (gc.freeze) and collects the young generation every 10,000 allocations instead of 700: 2 ms.
    Sessions' cycles are still collected: a closed page's objects are freed by the older generations'
    collections."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
