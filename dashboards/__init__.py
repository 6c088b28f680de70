"""AKIG's Panel apps and the one server that serves them.

Panel's CDN root is this server's own path (`dashboards.server.panel_files`): the stylesheets of what a
page builds after its first drawing then come from this server, like everything else. Panel reads it once,
when it is imported, so the default is set here, before any app imports Panel; a deployment may still set
PANEL_CDN_ROOT itself.
"""

import os

os.environ.setdefault("PANEL_CDN_ROOT", "/panel-cdn/")
