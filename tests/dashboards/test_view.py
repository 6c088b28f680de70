"""The apps' base view in-process: its guard turns a data-layer error into a French banner, its panes are
drawn again when their parameters change and when the database watch says PostgreSQL is back, a date
parameter starts at today, the URL's values reach the parameters, and a view is a layout that embeds in
another one (the server alone wraps it in the AKIG template)."""

from __future__ import annotations

import datetime as dt

import panel as pn
import param
import pytest
from bokeh.document import Document
from panel.io.state import set_curdoc

from akig_data.clock import today
from akig_data.errors import AccessDenied, DatabaseUnavailable, InvalidParameter
from dashboards.io.database_watch import process_watch
from dashboards.view import View, guarded
from tests.conftest import SMALL_UNTIL
from tests.dashboards.apps.test_home import texts


class Sample(View):
    """A view whose pane counts its drawings and fails on demand."""

    title = "Exemple"
    url_keys = {"as_of": "date", "kind": "genre"}

    as_of = param.CalendarDate(default=None, label="Date de situation")
    kind = param.Selector(default="a", objects={"Genre A": "a", "Genre B": "b"}, label="Genre")
    failure = param.ClassSelector(class_=Exception, default=None)

    def __init__(self, **params):
        super().__init__(**params)
        self.drawn = 0

    def pane(self):
        self.drawn += 1
        if self.failure is not None:
            raise self.failure
        return pn.pane.Markdown(f"{self.kind} au {self.as_of:%d/%m/%Y}")

    def main(self):
        return [self.bound(self.pane, "as_of", "kind")]

    def sidebar(self):
        return [pn.widgets.DatePicker.from_param(self.param.as_of), pn.widgets.Select.from_param(self.param.kind)]


def shown(view: Sample) -> str:
    """The text of the view's pane as it is now (the bound pane draws itself on demand)."""
    pane = view.areas().main[0]
    pane.get_root(Document())
    return texts(pane)


@pytest.fixture()
def watch():
    """The process's database watch (the one a view uses outside a served page), left as found."""
    yield process_watch()
    process_watch().stop()
    pn.state.cache.pop("akig_database_watch", None)


@pytest.mark.parametrize("error, text", [
    (InvalidParameter("Propriétaire inconnu : OWN-9999."), "**Requête refusée :** Propriétaire inconnu \\: OWN\\-9999\\."),
    (AccessDenied("Accès refusé : rôle agent."), "**Requête refusée :** Accès refusé \\: rôle agent\\."),
    (DatabaseUnavailable("connection refused"), "**La base de données est injoignable.**"),
    (RuntimeError("bug"), "**Erreur inattendue.**"),
])
def test_the_guard_shows_a_french_banner_instead_of_a_traceback(watch, error, text):
    def fail():
        raise error

    banner = guarded(fail)
    assert isinstance(banner, pn.pane.Alert) and banner.alert_type == "danger"
    assert text in banner.object and "Traceback" not in banner.object
    view = Sample(as_of=SMALL_UNTIL, failure=error)
    assert text in shown(view)          # a bound pane is guarded too


def test_a_database_outage_is_reported_to_the_watch_and_its_return_redraws_the_panes(watch):
    view = Sample(as_of=SMALL_UNTIL, failure=DatabaseUnavailable("connection refused"))
    assert "injoignable" in shown(view)
    assert watch.available is False      # the guard reported the outage: the watch waits for PostgreSQL
    watch.stop()
    drawn = view.drawn
    view.failure = None
    watch.available = True               # what the watch's thread does when PostgreSQL answers again
    assert view.drawn == drawn + 1
    assert shown(view) == "a au 30/06/2026"


def test_a_pane_is_drawn_again_when_its_parameters_change(watch):
    view = Sample(as_of=SMALL_UNTIL)
    assert shown(view) == "a au 30/06/2026"
    view.kind = "b"
    assert shown(view) == "b au 30/06/2026"
    view.as_of = dt.date(2026, 1, 31)
    assert shown(view) == "b au 31/01/2026"


def test_a_date_parameter_starts_at_today_and_widgets_take_the_parameters_labels():
    view = Sample()
    assert view.as_of == today()
    date, kind = view.areas().sidebar
    assert (date.label, kind.label) == ("Date de situation", "Genre")
    kind.value = "b"                    # widget -> parameter ...
    assert view.kind == "b"
    view.kind = "a"                     # ... and parameter -> widget, without a watcher written by hand
    assert kind.value == "a"


def test_the_urls_values_reach_the_parameters_and_a_bad_one_is_skipped():
    doc = Document()
    with set_curdoc(doc):
        pn.state.location.search = "?date=2026-02-28&genre=zzz"
        view = Sample(sync_url=True)
        view.areas()
        assert view.as_of == dt.date(2026, 2, 28)    # applied
        assert view.kind == "a"                      # not one of the choices: skipped, the page still opens
        view.kind = "b"
        assert "genre=b" in pn.state.location.search  # and kept in the URL
    unsynced = Sample()
    unsynced.areas()
    assert unsynced.as_of == today()


def test_the_view_is_a_layout_not_a_template_and_is_built_once():
    view = Sample(as_of=SMALL_UNTIL)
    layout = view.__panel__()
    assert isinstance(layout, pn.Row) and not isinstance(layout, pn.template.BaseTemplate)
    assert view.__panel__() is layout and view.areas() is view.areas()
    sidebar, main = layout
    assert list(sidebar) == view.areas().sidebar and list(main) == view.areas().main


def test_an_app_embeds_inside_a_column(small_data):
    from dashboards.apps.home import HomePage
    from dashboards.apps.leaderboard import Leaderboards

    home = HomePage(as_of=SMALL_UNTIL)
    page = pn.Column(pn.pane.Markdown("# Ma page"), home, Leaderboards(day=SMALL_UNTIL))
    page.get_root(Document())
    shown = texts(page)
    assert "Ma page" in shown and "Synthèse du portefeuille" in shown and "Podium du jour" in shown
    assert "Impayés" in texts(home.summary())


def test_a_view_without_a_main_area_is_refused_when_its_class_is_made():
    with pytest.raises(TypeError, match="must define main"):
        class NoMain(View):
            title = "Sans contenu"
