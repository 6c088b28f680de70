"""The AKIG page around an app: green header with the app's title, who is logged in and the logout
link, the app's filters in the sidebar. The server (dashboards.server.app) wraps every app in it; an app
itself is a layout (dashboards.view.View), so it also shows in a notebook or inside another page."""

from __future__ import annotations

import html
from typing import Any

import panel as pn

from akig_data.errors import AkigError
from dashboards.escape import escape_markdown

BRAND = "#0b6e4f"
# Panel's widgets take their main colour from this variable when it is set; set on the page, it reaches
# every widget (custom properties are inherited into the widgets' shadow roots).
BRAND_CSS = f":root {{ --design-primary-color: {BRAND}; }}"


class AkigPage(pn.template.VanillaTemplate):
    """Panel's VanillaTemplate (plain HTML and CSS), attached to its document in one go.

    Vanilla rather than Panel's FAST templates: those load the FAST design system's web components
    (0.9 MB of scripts, which compute the accent's palette in the browser) on every first visit, for a
    header, a sidebar and a main area that plain CSS draws as well. The brand colour reaches the widgets
    through BRAND_CSS.

    The template adds its own parts and each of its areas (one column each, see page()) to the document as
    roots, and Bokeh walks every model of the document again after each root is added
    (DocumentModelManager.recompute): a page of some fifteen roots paid that walk fifteen times, about a
    third of the server's time to build the page. Frozen, the document walks its models once, when the
    page is complete.

    Vanilla links a web font from an outside host on every page: a request that a phone on a slow link
    waits for, and that tells that host who opens AKIG. The pages use the browser's sans-serif font."""

    _resources = {"css": {}}

    def _init_doc(self, doc=None, comm=None, title=None, notebook=False, location=True):
        document = doc or pn.state.curdoc
        if document is None:
            return super()._init_doc(doc, comm, title, notebook, location)
        with document.models.freeze():
            return super()._init_doc(document, comm, title, notebook, location)


def page(title: str, main: list[Any], sidebar: list[Any] | None = None) -> AkigPage:
    """The AKIG page: green header with the app's name, an optional sidebar of filters."""
    akig_page = AkigPage(
        title=f"AKIG — {title}",
        header=[user_badge()],
        header_background=BRAND,
        # One root per area, not one per object: the template adds each root to the document on its own,
        # under a copy of Panel's whole configuration (panel.config.set), about a millisecond each.
        sidebar=[pn.Column(*sidebar, sizing_mode="stretch_width")] if sidebar else [],
        main=[pn.Column(*main, sizing_mode="stretch_width")],
    )
    akig_page.config.raw_css = [BRAND_CSS]
    return akig_page


def user_badge() -> pn.pane.HTML:
    """Who is logged in, with the logout link (top right of every page)."""
    from akig_data.access import roles
    from akig_data.access.scope import current

    try:
        who = current()
    except AkigError:
        who = None
    text = (f"{html.escape(who.username)} ({roles.ROLE_LABELS.get(who.role, who.role)}) · "
            if who is not None else "")
    return pn.pane.HTML(f'<div style="color:#fff;white-space:nowrap">{text}<a href="/logout" '
                        f'style="color:#fff">Se déconnecter</a></div>', align="center", margin=(0, 20))


def refusal_page(title: str, message: str) -> AkigPage:
    """What a session sees instead of an app its role may not open (or when its session ended)."""
    return page(title, main=[
        pn.pane.Alert(f"**{escape_markdown(message)}**", alert_type="warning", sizing_mode="stretch_width"),
        pn.pane.HTML('<p><a href="/">Retour à l\'accueil</a> · <a href="/logout">Se déconnecter</a></p>'),
    ])
