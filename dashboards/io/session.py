"""What a page's code may know of the browser session it serves, read server-side from the request
that opened it (the apps never see cookies or headers the page could leak)."""

from __future__ import annotations

import panel as pn


def session_address() -> str:
    """The address of the browser that opened this page, for the audit trail ("?" outside a page)."""
    doc = pn.state.curdoc
    request = getattr(getattr(doc, "session_context", None), "request", None)
    return getattr(request, "remote_ip", None) or "?"
