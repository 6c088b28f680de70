"""The KPI cards every page shows its headline numbers in: title, value, a note and, optionally, the
change against the previous period. A row of cards is one HTML pane (`kpi_row`), not a pane per card in a
FlexBox: each pane is a few Bokeh models (the pane, its stylesheets) that the server builds, serialises
and sends for every page, and a row of six cards cost a dozen of them. The stylesheet travels with the
row (Panel puts each pane in its own shadow root), so the cards look the same in the AKIG page, a
notebook or another page; the row wraps on a narrow screen."""

from __future__ import annotations

import html

import panel as pn

from dashboards.template import BRAND

KPI_CSS = f"""
.akig-kpi-row {{ display: flex; flex-wrap: wrap; gap: 10px; }}
.akig-kpi {{ flex: 1 1 220px; max-width: 330px; box-sizing: border-box; background: #fff; border: 1px solid #e3e6e8; border-left: 4px solid {BRAND};
             border-radius: 6px; padding: 10px 14px; font-family: system-ui, sans-serif; }}
.akig-kpi-title {{ color: #5f6b73; font-size: 0.85em; text-transform: uppercase; letter-spacing: .03em; }}
.akig-kpi-value {{ color: #1d2a30; font-size: 1.55em; font-weight: 600; margin-top: 2px; white-space: nowrap; }}
.akig-kpi-note {{ color: #5f6b73; font-size: 0.8em; margin-top: 2px; }}
.akig-kpi-delta {{ font-size: 0.85em; font-weight: 600; margin-top: 4px; }}
.akig-kpi-delta span {{ font-weight: 400; color: #5f6b73; }}
.akig-good {{ color: #0b6e4f; }} .akig-bad {{ color: #b3261e; }} .akig-flat {{ color: #5f6b73; }}
"""


def kpi_card(title: str, value: str, note: str = "", delta: tuple[str, str] | None = None) -> str:
    """A KPI's HTML (its texts escaped): title, value, a note, and optionally its change (text, tone
    good|bad|flat) vs the previous period. Shown with the others of its row by `kpi_row`."""
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
    return body


def kpi_row(cards: list[str]) -> pn.pane.HTML:
    """Cards made by `kpi_card`, side by side, wrapping to the next line when the page is narrow."""
    return pn.pane.HTML(f'<div class="akig-kpi-row">{"".join(cards)}</div>', sizing_mode="stretch_width",
                        margin=(5, 5), stylesheets=[KPI_CSS])
