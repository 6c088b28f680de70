"""Panel's own stylesheets served by this server under the path Panel believes is its CDN.

Panel points each component's stylesheets (a table's Tabulator theme, buttons, alerts, the loading spinner)
at its CDN, and rewrites them to this server's copy when it draws a page. What it builds outside that
drawing keeps the CDN's addresses: a model made with no document, and, with two server processes or more,
what an AKIG page builds later (a tab's content on first view, search results, a tenant's card). With no
route to the CDN (a proxy, an office without internet, this project's test machines) those tables came out
as unstyled text. Panel reads its CDN root from PANEL_CDN_ROOT when it is imported (`dashboards/__init__.py`
sets this default before any app imports Panel), so those addresses are this server's
`CDN_ROOT/<version>/dist/…`, served here from the installed Panel's own files.
"""

from __future__ import annotations

import tornado.web

# Where Panel's "CDN" lives: a path of this server (the default of PANEL_CDN_ROOT, see dashboards/__init__.py).
CDN_ROOT = "/panel-cdn/"


def routes() -> list[tuple]:
    """`/panel-cdn/<version>/dist/<file>` from the installed Panel's dist folder (Tornado's static files:
    nothing outside that folder is served, and files get ETags and caching)."""
    from panel.io.resources import DIST_DIR

    return [(rf"{CDN_ROOT}[^/]+/dist/(.*)", tornado.web.StaticFileHandler, {"path": str(DIST_DIR)})]


def serves_panels_cdn() -> bool:
    """Whether the Panel this process imported takes its CDN root from here (Panel imported after
    dashboards, as every AKIG entry point does)."""
    from panel.io.resources import CDN_DIST

    return CDN_DIST.startswith(CDN_ROOT)
