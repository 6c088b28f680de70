"""The home page (`/`): today's portfolio at a glance and the list of AKIG's apps."""

from __future__ import annotations

import datetime as dt

import panel as pn
import param

from akig_data import reads
from akig_data.access import roles
from akig_data.clock import today
from dashboards import components as ui
from dashboards.io.database_watch import database_watch


class HomePage(pn.viewable.Viewer):
    """Portfolio summary at a date (a parameter, so the page can be tested and embedded without a browser)."""

    as_of = param.CalendarDate(default=None, doc="Date de situation")

    def __init__(self, **params):
        params.setdefault("as_of", today())
        super().__init__(**params)
        self._date = pn.widgets.DatePicker.from_param(self.param.as_of, name="Date de situation")

    def summary(self, *_):
        return ui.guarded(self._summary)

    def _summary(self):
        frame = reads.portfolio_summary(as_of=self.as_of)
        row = frame.iloc[0]
        if row["sites"] == 0:
            return pn.pane.Alert(
                "**Aucune donnée pour l'instant.** Importez vos fichiers avec `akig import DOSSIER` "
                "ou chargez les données de démonstration avec `akig demo seed`.",
                alert_type="info", sizing_mode="stretch_width",
            )
        month = dt.date.fromisoformat(str(row["month_start"]))
        cards = [
            ui.kpi_card("Impayés", ui.fmt_gnf(row["arrears"]), f"{ui.fmt_int(row['late_leases'])} baux en retard"),
            ui.kpi_card("Taux de recouvrement", ui.fmt_rate(row["collection_rate"]),
                        f"du {month:%d/%m} au {self.as_of:%d/%m/%Y}"),
            ui.kpi_card("Encaissé ce mois", ui.fmt_gnf(row["collected"]), f"dû : {ui.fmt_gnf(row['due'])}"),
            ui.kpi_card("Ponctualité", ui.fmt_rate(row["punctuality_rate"]),
                        f"{ui.fmt_int(row['on_time_dues'])} échéances à l'heure sur {ui.fmt_int(row['dues'])}"),
            ui.kpi_card("Logements occupés", f"{ui.fmt_int(row['occupied_units'])} / {ui.fmt_int(row['units'])}",
                        f"{ui.fmt_int(row['sites'])} sites"),
            ui.kpi_card("Locataires", ui.fmt_int(row["tenants"]), "avec un bail en cours"),
        ]
        return pn.FlexBox(*cards, flex_wrap="wrap", sizing_mode="stretch_width")

    def worst_sites(self, *_):
        return ui.guarded(self._worst_sites)

    def _worst_sites(self):
        frame = reads.arrears_by_site(as_of=self.as_of)
        frame = frame[frame["arrears"] > 0].head(10)
        if frame.empty:
            return pn.pane.Alert("Aucun impayé à cette date.", alert_type="success", sizing_mode="stretch_width")
        shown = frame.rename(columns={
            "site_name": "Site", "commune": "Commune", "quartier": "Quartier", "arrears": "Impayés (GNF)",
            "late_leases": "Baux en retard", "bucket_90_plus": "Dont + de 90 jours (GNF)",
        })[["Site", "Commune", "Quartier", "Impayés (GNF)", "Baux en retard", "Dont + de 90 jours (GNF)"]]
        money = {"type": "money", "thousand": "\u202f", "symbol": "", "precision": 0}
        return pn.widgets.Tabulator(
            shown, show_index=False, disabled=True, layout="fit_data_stretch", sizing_mode="stretch_width",
            formatters={"Impayés (GNF)": money, "Dont + de 90 jours (GNF)": money},
            text_align={"Impayés (GNF)": "right", "Dont + de 90 jours (GNF)": "right", "Baux en retard": "right"},
        )

    def apps(self):
        """Links to the other apps of the server (the catalog grows with each app)."""
        from dashboards.catalog import entries

        role = _role()
        links = [e for e in entries() if e.path != "/" and (role is None or roles.can_open(role, e.path))]
        cards = "".join(
            f'<a class="akig-app-card" href=".{e.path}"><b>{e.icon} {e.title}</b><br>{e.description}</a>'
            for e in links
        )
        return [pn.pane.Markdown("## Applications", margin=(0, 10)),
                pn.pane.HTML(f'<div style="display:grid;gap:10px">{cards}</div>', sizing_mode="stretch_width")
                ] if links else []

    def __panel__(self):
        watch = database_watch()  # re-renders the panes when PostgreSQL is back after an outage
        role = _role()
        main = []
        if role is None or roles.can_read(role, "portfolio_summary"):
            main += [pn.pane.Markdown("## Synthèse du portefeuille", margin=(0, 10)),
                     pn.panel(pn.bind(self.summary, self.param.as_of, watch.param.available), loading_indicator=True)]
        if role is None or roles.can_read(role, "arrears_by_site"):
            main += [pn.pane.Markdown("## Sites les plus en retard", margin=(0, 10)),
                     pn.panel(pn.bind(self.worst_sites, self.param.as_of, watch.param.available),
                              loading_indicator=True)]
        apps = self.apps()
        if not main and not apps:
            main.append(pn.pane.Alert("Votre rôle n'ouvre encore aucune application de ce serveur.",
                                      alert_type="info", sizing_mode="stretch_width"))
        return ui.page(
            "Accueil",
            main=main + apps,
            sidebar=[self._date, pn.pane.Markdown("[État du service (JSON)](./api/health)")],
        )


def _role() -> str | None:
    from akig_data.access.scope import current

    who = current()
    return who.role if who is not None else None


def create():
    """One HomePage per browser session (the server calls this for every new session)."""
    return HomePage().__panel__()
