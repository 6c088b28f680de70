"""Text from outside the code (a URL, a form, the database, an exception's message) on its way to the
browser: as HTML, as Markdown, or in a notification. Every pane that repeats such text goes through
here (tests/dashboards/parts/test_message_escaping.py and tests/browser check each one)."""

from __future__ import annotations

import html
import re
from typing import Any

import panel as pn

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
