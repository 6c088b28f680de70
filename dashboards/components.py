"""Small building blocks shared by the apps: KPI cards, French messages, the AKIG page template."""

from __future__ import annotations

import html
import logging
import re
from typing import Any, Callable

import panel as pn

from akig_data.errors import AkigError, DatabaseUnavailable
from akig_data.reports.spreadsheet import format_gnf

BRAND = "#0b6e4f"
# Every ASCII punctuation character CommonMark lets a backslash escape, except the five html.escape turns
# into entities (markdown-it decodes those back to the literal characters).
_MARKDOWN_PUNCTUATION = re.compile(r"([!#$%()*+,\-./:;=?@\[\\\]^_`{|}~])")


def escape_html(value: Any) -> str:
    """Text from outside the code (URL, form, database, an exception's message) for an HTML pane or a
    notification: Panel's HTML model and Notyf set it as innerHTML, so `<`, `>`, `&` and quotes must arrive
    as entities, or a link sent to a logged-in user runs script as him."""
    return html.escape(str(value), quote=True)


def escape_markdown(value: Any) -> str:
    """Text from outside the code for a Markdown pane or an Alert (an Alert is Markdown). Panel's Markdown
    passes raw HTML through, so the HTML is escaped; Markdown syntax is escaped too, so a value cannot
    make a link, a heading or a list and shows exactly as typed, on one line."""
    text = re.sub(r"\s*[\r\n]+\s*", " ", str(value))
    return html.escape(_MARKDOWN_PUNCTUATION.sub(r"\\\1", text), quote=True)


def notify_warning(message: str, duration: int = 0) -> None:
    """A warning notification whose whole text is escaped (Notyf renders its message as HTML). By default
    it stays until closed: a shared link that was partly ignored must not go unnoticed."""
    if pn.state.notifications is not None:
        pn.state.notifications.warning(escape_html(message), duration=duration)


def fmt_int(value: Any) -> str:
    """12345 -> '12 345' (narrow no-break space); None/NA -> '—'."""
    try:
        return f"{int(value):,}".replace(",", "\u202f")
    except (TypeError, ValueError):
        return "—"


def fmt_rate(value: Any) -> str:
    """0.4213 -> '42,1 %' ; None/NaN -> '—' (a rate whose divisor is 0 is undefined, not 0)."""
    try:
        if value is None or value != value:
            return "—"
        return f"{float(value) * 100:.1f}".replace(".", ",") + "\u00a0%"
    except (TypeError, ValueError):
        return "—"


def fmt_gnf(value: Any) -> str:
    try:
        return format_gnf(None if value is None or value != value else int(value))
    except (TypeError, ValueError):
        return "—"


def kpi_card(title: str, value: str, note: str = "", delta: tuple[str, str] | None = None) -> pn.pane.HTML:
    """A KPI: title, value, a note, and optionally its change (text, tone good|bad|flat) vs the previous period."""
    change = ""
    if delta and delta[0]:
        change = (f'<div class="akig-kpi-delta akig-{delta[1]}">{html.escape(delta[0])}'
                  f' <span>vs période précédente</span></div>')
    body = (
        f'<div class="akig-kpi"><div class="akig-kpi-title">{html.escape(title)}</div>'
        f'<div class="akig-kpi-value">{html.escape(value)}</div>'
        + (f'<div class="akig-kpi-note">{html.escape(note)}</div>' if note else "")
        + change
        + "</div>"
    )
    return pn.pane.HTML(body, width=275, margin=(5, 5))


def error_panel(exc: Exception) -> pn.pane.Alert:
    """A French banner for an error a user can act on (or wait out); never a traceback."""
    if isinstance(exc, DatabaseUnavailable):
        text = ("**La base de données est injoignable.** Les données s'afficheront dès son retour ; "
                "la page réessaie toute seule.")
    elif isinstance(exc, AkigError):
        text = f"**Requête refusée :** {escape_markdown(exc)}"
    else:
        text = "**Erreur inattendue.** L'équipe technique a été prévenue (voir les journaux du serveur)."
    return pn.pane.Alert(text, alert_type="danger", sizing_mode="stretch_width")


def guarded(render: Callable[[], Any]) -> Any:
    """Run a pane's render function; turn a known failure into a French banner instead of a traceback.
    A database outage is reported to the process's DatabaseWatch, which re-renders the page when
    PostgreSQL is back (panes bind to its `available` parameter)."""
    try:
        return render()
    except Exception as exc:  # the banner is the user's view of any failure; the log keeps the detail
        if isinstance(exc, DatabaseUnavailable):
            from dashboards.io.database_watch import database_watch

            database_watch().report_failure()
        elif not isinstance(exc, AkigError):
            logging.getLogger("akig.dashboards").exception("pane failed")
        return error_panel(exc)


CSS = f"""
.akig-kpi {{ background: #fff; border: 1px solid #e3e6e8; border-left: 4px solid {BRAND};
             border-radius: 6px; padding: 10px 14px; font-family: system-ui, sans-serif; }}
.akig-kpi-title {{ color: #5f6b73; font-size: 0.85em; text-transform: uppercase; letter-spacing: .03em; }}
.akig-kpi-value {{ color: #1d2a30; font-size: 1.55em; font-weight: 600; margin-top: 2px; white-space: nowrap; }}
.akig-kpi-note {{ color: #5f6b73; font-size: 0.8em; margin-top: 2px; }}
.akig-kpi-delta {{ font-size: 0.85em; font-weight: 600; margin-top: 4px; }}
.akig-kpi-delta span {{ font-weight: 400; color: #5f6b73; }}
.akig-good {{ color: #0b6e4f; }} .akig-bad {{ color: #b3261e; }} .akig-flat {{ color: #5f6b73; }}
.akig-app-card {{ display: block; padding: 12px 16px; border: 1px solid #e3e6e8; border-radius: 6px;
                  text-decoration: none; color: #1d2a30; background: #fff; }}
.akig-app-card:hover {{ border-color: {BRAND}; }}
"""


def page(title: str, main: list[Any], sidebar: list[Any] | None = None) -> pn.template.FastListTemplate:
    """The AKIG page: green header with the app's name, an optional sidebar of filters."""
    pn.config.raw_css = list(dict.fromkeys([*pn.config.raw_css, CSS]))
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
