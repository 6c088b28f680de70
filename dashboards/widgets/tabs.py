"""Tabs whose content is made the first time a tab is opened.

Panel's `dynamic=True` tabs only send the open tab's Bokeh models to the browser, but every tab's Panel
objects (its panes, bound functions, tables' wrappers) are still made for each session, and a Panel
object costs the server a few milliseconds of param bookkeeping whether it is ever shown or not. Most
sessions open one or two tabs of a page: the others should cost nothing. Here each tab starts as an empty
column, and the function that makes its content runs once, when the tab is first opened (or is opened by
code: setting `active` builds the tab it names).
"""

from __future__ import annotations

from typing import Any, Callable

import panel as pn


def lazy_tabs(*tabs: tuple[str, Callable[[], Any]], active: int = 0, **params) -> pn.Tabs:
    """`pn.Tabs` of (title, make) pairs; `make()` returns the tab's content (one object or a list) and
    runs once, when its tab is first shown. The open tab (`active`) is made at once."""
    holders = [pn.Column(sizing_mode="stretch_width", margin=0) for _ in tabs]
    made: set[int] = set()

    def make(index: int) -> None:
        if index in made or not 0 <= index < len(tabs):
            return
        made.add(index)
        content = tabs[index][1]()
        holders[index].objects = list(content) if isinstance(content, (list, tuple)) else [content]

    make(active)
    widget = pn.Tabs(*zip([title for title, _ in tabs], holders), active=active, dynamic=True, **params)
    widget.param.watch(lambda event: make(event.new), "active")
    return widget
