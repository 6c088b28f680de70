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


def page(title: str, main: list[Any], sidebar: list[Any] | None = None) -> pn.template.FastListTemplate:
    """The AKIG page: green header with the app's name, an optional sidebar of filters."""
    return pn.template.FastListTemplate(
        title=f"AKIG — {title}",
        header=[user_badge()],
        header_background=BRAND,
        accent_base_color=BRAND,
        sidebar=sidebar or [],
        main=main,
        main_layout=None,
        theme_toggle=False,
    )


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


def refusal_page(title: str, message: str) -> pn.template.FastListTemplate:
    """What a session sees instead of an app its role may not open (or when its session ended)."""
    return page(title, main=[
        pn.pane.Alert(f"**{escape_markdown(message)}**", alert_type="warning", sizing_mode="stretch_width"),
        pn.pane.HTML('<p><a href="/">Retour à l\'accueil</a> · <a href="/logout">Se déconnecter</a></p>'),
    ])
