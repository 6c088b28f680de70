"""Messages built from text the code did not write (a URL, a form, the database, an error's message that
repeats a value) reach the browser as text, in every pane that shows one: checked on the HTML each pane
sends to the browser, which sets it as innerHTML. The same payload through URLs in Chromium:
test_url_escaping.py; through tables and cards from the database: test_escaping.py."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import pandas as pd
import panel as pn
import pytest

from akig_data.errors import InvalidParameter
from akig_data.access.scope import Principal, acting_as
from dashboards.escape import escape_html, escape_markdown
from dashboards.template import refusal_page
from dashboards.view import error_panel, guarded
from tests.conftest import SMALL_UNTIL

PAYLOAD = '<img src=x onerror="window.__xss=1">'
# Markdown that would make a link, emphasis, a heading or a list if it were not escaped.
MARKDOWN = "[ouvrir](https://exemple.invalid/?a=1&b=2) **gras** _x_ `code` \\*\n# titre\n1. liste"
MANAGER = Principal("m", "manager", None, None)


class _Reader(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text += data


def shown(pane) -> tuple[list[str], str]:
    """The elements and the text the browser makes of a pane (Panel escapes the pane's HTML once for the
    trip, the browser unescapes it and sets it as innerHTML)."""
    markup = html.unescape(pane.get_root().text)
    reader = _Reader()
    reader.feed(markup)
    return reader.tags, reader.text


def assert_literal(pane, text: str = PAYLOAD) -> None:
    tags, read = shown(pane)
    assert "img" not in tags and "a" not in tags, tags
    assert text in read, read


@pytest.mark.parametrize("value", [PAYLOAD, MARKDOWN, "C:\\dossier\\<b>&amp; 50 % _a_b_"])
@pytest.mark.parametrize("kind", [pn.pane.Markdown, pn.pane.Alert])
def test_escape_markdown_shows_any_value_exactly_as_typed(kind, value):
    tags, read = shown(kind(escape_markdown(value)))
    assert tags == ["p"]                                    # one paragraph: no link, image, heading, list
    assert read.strip() == " ".join(value.split("\n"))      # on one line, every character as typed


def test_escape_html_shows_the_value_as_text():
    tags, read = shown(pn.pane.HTML(f"<b>Nom :</b> {escape_html(PAYLOAD)}"))
    assert tags == ["b"] and read == f"Nom : {PAYLOAD}"


def test_error_banner_and_refusal_page_show_the_message_as_text():
    assert_literal(error_panel(InvalidParameter(f"Propriétaire inconnu : {PAYLOAD}.")))
    refusal = refusal_page("Accueil", f"Refusé : {PAYLOAD}")
    assert_literal(refusal.main[0].objects[0])   # the main area is one column


def test_the_action_forms_message_is_text():
    from dashboards.parts.forms import ActionForms

    forms = ActionForms()
    message = forms.__panel__()[1]
    forms.message = f"❌ Paiement déjà enregistré : la référence {PAYLOAD!r} existe déjà."
    assert_literal(message)


def test_the_alerts_page_message_and_links_are_text():
    from dashboards.apps import alerts as alerts_page

    with acting_as(MANAGER):
        page = alerts_page.AlertsPage()
    assert_literal(page._message(f"Refusé : {PAYLOAD}"))
    tags, _ = shown(pn.pane.HTML(alerts_page.link("agent", PAYLOAD)))
    assert tags == ["a"]
    assert alerts_page.link("agent", "A&B C") == '<a href="/carte?agent=A%26B%20C" target="_blank">ouvrir</a>'


def test_the_audit_chain_result_is_text():
    from dashboards.apps.audit import AuditPage

    audit = AuditPage()
    row = audit.areas().main[1]
    audit.checked = f"❌ Chaîne rompue après 2 entrées : {PAYLOAD}"
    assert_literal(row[1])


def test_the_live_map_banners_and_the_replay_summary_are_text(small_data):
    from dashboards.apps.live_map import LiveMap
    from dashboards.parts.replay import Replay

    with acting_as(MANAGER):
        view = LiveMap()
        replay = Replay(sites=view.sites)
    view.problem = f"Requête refusée : {PAYLOAD}"
    view.message = f"Impossible de réoptimiser : {PAYLOAD}"
    assert view.problem_banner.visible and view.message_banner.visible
    assert_literal(view.problem_banner)
    assert_literal(view.message_banner)
    view.message = ""
    assert not view.message_banner.visible
    replay.problem = f"Agent inconnu : {PAYLOAD}"
    assert_literal(pn.pane.Markdown(replay.summary_text(0)))


def test_unknown_refs_and_searches_are_named_as_text(small_data):
    from dashboards.apps.owner import OwnerDashboard
    from dashboards.parts.report_download import ReportDownload
    from dashboards.parts.site_card import SiteDetail
    from dashboards.parts.tenant_card import TenantDetail

    site = SiteDetail(site_ref=PAYLOAD, as_of=SMALL_UNTIL).view()
    assert_literal(site, f"Site inconnu : « {PAYLOAD} »")
    assert_literal(guarded(TenantDetail(tenant_ref=PAYLOAD, as_of=SMALL_UNTIL).view))   # the data layer's refusal
    card = ReportDownload(day=SMALL_UNTIL, owner_ref=PAYLOAD)
    assert card.message.visible
    assert_literal(card.message, f"Propriétaire inconnu : {PAYLOAD}")
    search = OwnerDashboard(as_of=SMALL_UNTIL, search=PAYLOAD).search_results()
    assert_literal(search, f"Aucun locataire ne correspond à « {PAYLOAD} »")


def test_desk_notice_is_text(small_data):
    from dashboards.apps.desk import Desk

    with acting_as(MANAGER):
        desk = Desk(day=SMALL_UNTIL)
        sidebar = desk.areas().sidebar
    notice = next(p for p in sidebar if isinstance(p, pn.pane.Markdown))
    desk.notice = f"❌ {PAYLOAD}"
    assert_literal(notice)


def test_hover_tooltips_never_render_a_field_as_html():
    """Bokeh escapes an @field in a tooltip unless it is formatted `{safe}`, and draws the maps' labels on
    the canvas: the maps' hovers must keep plain (label, field) pairs, and names from the database reach
    the sources unchanged (escaping twice would show `&lt;`)."""
    from bokeh.models import HoverTool

    from dashboards.widgets import map_layers

    sites = pd.DataFrame({"lon": [-13.6], "lat": [9.5], "site_ref": [PAYLOAD], "site_name": [PAYLOAD],
                          "commune": [PAYLOAD], "tenants_late": [1], "arrears": [1000], "days_late": [40],
                          "last_contact_at": [pd.NaT]})
    agents = pd.DataFrame({"agent_ref": [PAYLOAD], "full_name": [PAYLOAD], "zone": ["z"], "missions_done": [0],
                           "missions_planned": [1], "t": [pd.Timestamp.now(tz="UTC")], "lat": [9.5], "lon": [-13.6],
                           "accuracy_m": [5.0], "battery": [50.0], "age_s": [10.0], "active": [True]})
    routes = pd.DataFrame({"agent_ref": [PAYLOAD] * 2, "kind": ["visit"] * 2, "route_order": [1, 2],
                           "lon": [-13.6, -13.61], "lat": [9.5, 9.51], "site_name": [PAYLOAD] * 2,
                           "status": ["planned", "done"], "eta": [pd.NaT, pd.NaT]})
    communes = map_layers.commune_columns(sites)
    live = map_layers.LiveMapFigure("off", 400, communes)
    live.show("sites", map_layers.late_sites_columns(sites))
    live.show("agents", map_layers.agents_columns(agents))
    _lines, stops = map_layers.routes_columns(routes)
    live.show("stops", stops | {"label": map_layers.stop_numbers(stops, PAYLOAD)})
    replay = map_layers.ReplayFigure("off", 400, communes)
    assert live.sources["sites"].data["site_name"] == [PAYLOAD]
    assert live.sources["agents"].data["name"] == [PAYLOAD] and live.sources["stops"].data["site_name"] == [PAYLOAD] * 2
    assert live.sources["communes"].data["commune"] == [PAYLOAD]
    hovers = [t for fig in (live.figure, replay.figure) for t in fig.tools if isinstance(t, HoverTool)]
    assert len(hovers) == 4
    for hover in hovers:
        assert isinstance(hover.tooltips, list)
        assert not any("{safe}" in field for _, field in hover.tooltips)
