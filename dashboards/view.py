"""The base of the AKIG apps: a Panel Viewer whose filters are its parameters and whose panes are
methods that call the data layer with them.

What each app wrote for itself before, given once here:

- `self.bound(self.pane, "as_of", ...)`: a pane drawn by a method and drawn again when one of the named
  parameters changes, or when PostgreSQL answers again after an outage (the session's database watch,
  dashboards.io.database_watch); the loading indicator shows while it runs; a failure is shown as a
  French banner, never a traceback (`guarded`).
- the default date: a `param.CalendarDate` declared with `default=None` starts at today (Conakry,
  akig_data.clock.today()) unless the caller gives one.
- the URL: `url_keys` maps parameters to query-string names; built with `sync_url=True` (as the server
  builds every app) the view keeps them in the URL, and a value the page cannot take is skipped with a
  warning (`url_refused`).
- the page: `title`, `main()` and `sidebar()`. `__panel__` lays them out side by side, so a view shows
  in a notebook or inside another layout; the server puts the same parts in the AKIG template
  (dashboards.template.page).

A widget for a filter is made from its parameter (`pn.widgets.Select.from_param(self.param.x)`), with
the French label declared on the parameter (`label=`).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, ClassVar, NamedTuple

import panel as pn
import param

from akig_data.clock import today
from akig_data.errors import AkigError, DatabaseUnavailable
from dashboards.escape import escape_markdown, notify_warning
from dashboards.io.database_watch import database_watch

log = logging.getLogger("akig.dashboards")

SIDEBAR_WIDTH = 300


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
    A database outage is reported to the session's database watch, which re-renders the page when
    PostgreSQL is back (panes bind to its `available` parameter)."""
    try:
        return render()
    except Exception as exc:  # the banner is the user's view of any failure; the log keeps the detail
        if isinstance(exc, DatabaseUnavailable):
            database_watch().report_failure()
        elif not isinstance(exc, AkigError):
            log.exception("pane failed")
        return error_panel(exc)


class Areas(NamedTuple):
    """What a view shows: its main area and its sidebar (filters), each a list of Panel objects."""

    main: list
    sidebar: list


class View(pn.viewable.Viewer):
    """An AKIG app: parameters (the filters), panes bound to them, a title, a main area and a sidebar."""

    title: ClassVar[str] = ""                 # the page's French title (shown as "AKIG — title")
    url_keys: ClassVar[dict[str, str]] = {}   # parameter -> query-string name, for the URL sync

    def __init__(self, sync_url: bool = False, **params):
        for name, parameter in type(self).param.objects().items():
            if isinstance(parameter, param.CalendarDate) and parameter.default is None:
                params.setdefault(name, today())
        super().__init__(**params)
        self._sync_url = sync_url
        self._areas: Areas | None = None
        self._layout: pn.viewable.Viewable | None = None

    # -- panes -------------------------------------------------------------------------------------
    @property
    def db_watch(self):
        """The database watch of this session (of the process outside a served page)."""
        return database_watch()

    def bound(self, render: Callable[[], Any], *names: str, defer: bool = False) -> pn.viewable.Viewable:
        """A pane showing `render()`, drawn again when one of the parameters `names` changes or when
        PostgreSQL is back after an outage, guarded, with the loading indicator. `defer`: drawn just after
        the page has loaded, so the rest of the page shows first."""
        refs = [self.param[name] for name in names] + [self.db_watch.param.available]
        return pn.panel(pn.bind(lambda *_: guarded(render), *refs), loading_indicator=True, defer_load=defer)

    # -- URL ---------------------------------------------------------------------------------------
    def url_refused(self, values: dict) -> None:
        """Called with the URL's values the parameters refused all together: each is tried on its own,
        and one that is still refused (a mistyped date, an unknown period) is skipped, not fatal. The
        notice repeats the value as text: anyone can write a link, so it may hold HTML meant to run."""
        for name, value in values.items():
            try:
                self.param.update(**{name: value})
            except Exception:
                notify_warning(f"Paramètre d'adresse ignoré : {self.url_keys.get(name, name)}={value}")

    # -- the page ----------------------------------------------------------------------------------
    # Each app defines `main(self) -> list`, the main area's objects, unless it draws itself with its own
    # `__panel__` (a card with one pane); checked when the class is made.

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not callable(getattr(cls, "main", None)) and cls.__panel__ is View.__panel__:
            raise TypeError(f"{cls.__name__} must define main(), the objects of the page's main area")

    def sidebar(self) -> list:
        """The sidebar's objects (the filters); none by default."""
        return []

    def areas(self) -> Areas:
        """The main area and the sidebar, built once (after the URL's values were applied)."""
        if self._areas is None:
            if self._sync_url and self.url_keys and pn.state.location is not None:
                pn.state.location.sync(self, self.url_keys, on_error=self.url_refused)
            main = list(self.main())
            self._areas = Areas(main, list(self.sidebar()))
        return self._areas

    def __panel__(self) -> pn.viewable.Viewable:
        """The view as one layout (sidebar on the left when there is one), never a template: it embeds
        in a notebook or another page. The server's page is dashboards.template.page."""
        if self._layout is None:
            main, sidebar = self.areas()
            content = pn.Column(*main, sizing_mode="stretch_width")
            self._layout = (pn.Row(pn.Column(*sidebar, width=SIDEBAR_WIDTH), content, sizing_mode="stretch_width")
                            if sidebar else content)
        return self._layout
