"""Lazy tabs: a tab's content is made once, when the tab is first opened (by a click or by code)."""

import panel as pn
from bokeh.document import Document

from dashboards.widgets.tabs import lazy_tabs


def test_only_the_open_tab_is_made_until_another_is_opened():
    made = []

    def maker(name):
        def make():
            made.append(name)
            return [pn.pane.Markdown(f"contenu {name}"), pn.pane.Markdown("suite")]
        return make

    tabs = lazy_tabs(("Un", maker("un")), ("Deux", maker("deux")), ("Trois", maker("trois")), active=1)
    assert made == ["deux"]
    assert [len(holder.objects) for holder in tabs.objects] == [0, 2, 0]

    model = tabs.get_root(Document())
    tabs.active = 2
    tabs.active = 1
    tabs.active = 2                                   # opened again: not made twice
    assert made == ["deux", "trois"]
    assert tabs.objects[2].objects[0].object == "contenu trois"
    assert len(model.tabs) == 3


def test_a_single_object_is_the_tab_content():
    pane = pn.pane.Markdown("seul")
    tabs = lazy_tabs(("Seul", lambda: pane))
    assert tabs.objects[0].objects == [pane]
