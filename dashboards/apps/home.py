"""The home page (`/`): today's portfolio at a glance and the list of AKIG's apps."""

from __future__ import annotations

import datetime as dt

import panel as pn
import param

from akig_data import reads
from akig_data.access import roles
from dashboards.format import fmt_gnf, fmt_int, fmt_rate
from dashboards.template import BRAND
from dashboards.view import View
from dashboards.widgets.cards import kpi_card, kpi_row

APP_CARD_CSS = f"""
.akig-app-card {{ display: block; padding: 12px 16px; border: 1px solid #e3e6e8; border-radius: 6px;
                  text-decoration: none; color: #1d2a30; background: #fff; }}
.akig-app-card:hover {{ border-color: {BRAND}; }}
"""


class HomePage(View):
    """Portfolio summary at a date (a parameter, so the page can be tested and embedded without a browser)."""

    title = "Accueil"
    as_of = param.CalendarDate(default=None, label="Date de situation", doc="Date de situation")

    def summary(self):
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
            kpi_card("Impayés", fmt_gnf(row["arrears"]), f"{fmt_int(row['late_leases'])} baux en retard"),
            kpi_card("Taux de recouvrement", fmt_rate(row["collection_rate"]),
                     f"du {month:%d/%m} au {self.as_of:%d/%m/%Y}"),
            kpi_card("Encaissé ce mois", fmt_gnf(row["collected"]), f"dû : {fmt_gnf(row['due'])}"),
            kpi_card("Ponctualité", fmt_rate(row["punctuality_rate"]),
                     f"{fmt_int(row['on_time_dues'])} échéances à l'heure sur {fmt_int(row['dues'])}"),
            kpi_card("Logements occupés", f"{fmt_int(row['occupied_units'])} / {fmt_int(row['units'])}",
                     f"{fmt_int(row['sites'])} sites"),
            kpi_card("Locataires", fmt_int(row["tenants"]), "avec un bail en cours"),
        ]
        return kpi_row(cards)

    def worst_sites(self):
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
                pn.pane.HTML(f'<div style="display:grid;gap:10px">{cards}</div>', sizing_mode="stretch_width",
                             stylesheets=[APP_CARD_CSS])
                ] if links else []

    def main(self):
        role = _role()
        main = []
        if role is None or roles.can_read(role, "portfolio_summary"):
            main += [pn.pane.Markdown("## Synthèse du portefeuille", margin=(0, 10)), self.bound(self.summary, "as_of")]
        if role is None or roles.can_read(role, "arrears_by_site"):
            main += [pn.pane.Markdown("## Sites les plus en retard", margin=(0, 10)),
                     self.bound(self.worst_sites, "as_of")]
        apps = self.apps()
        if not main and not apps:
            main.append(pn.pane.Alert("Votre rôle n'ouvre encore aucune application de ce serveur.",
                                      alert_type="info", sizing_mode="stretch_width"))
        return main + apps

    def sidebar(self):
        return [pn.widgets.DatePicker.from_param(self.param.as_of),
                pn.pane.Markdown("[État du service (JSON)](./api/health)")]


def _role() -> str | None:
    from akig_data.access.scope import current

    who = current()
    return who.role if who is not None else None
