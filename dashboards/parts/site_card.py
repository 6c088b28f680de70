"""One site's detail: its units with their tenants and status, its late tenants, its monthly trend."""

from __future__ import annotations

import html
from typing import Callable

import pandas as pd
import panel as pn
import param

from akig_data import reads
from dashboards.widgets import charts
from dashboards.escape import escape_markdown
from dashboards.labels_fr import ACTION_KIND, OUTCOME, UNIT_STATUS
from dashboards.parts.downloads import export_buttons
from dashboards.view import View
from dashboards.widgets.tables import french_dates, table


class SiteDetail(View):
    site_ref = param.String(default="")
    as_of = param.CalendarDate(default=None)
    owner_ref = param.String(default="")

    def __init__(self, on_tenant: Callable[[str], None] | None = None, **params):
        super().__init__(**params)
        self._on_tenant = on_tenant

    def _args(self) -> dict:
        return {"site_ref": self.site_ref, "as_of": self.as_of, "owner_ref": self.owner_ref or None}

    def units_frame(self) -> pd.DataFrame:
        units = french_dates(reads.site_units(**self._args()), ("start_date", "end_date"))
        units["status"] = units["status"].map(UNIT_STATUS)
        return units[["unit_ref", "label", "monthly_rent", "status", "tenant_ref", "full_name", "phone",
                      "start_date", "arrears", "days_late"]].rename(columns={
            "unit_ref": "Local", "label": "Libellé", "monthly_rent": "Loyer (GNF)", "status": "Statut",
            "tenant_ref": "Locataire", "full_name": "Nom", "phone": "Téléphone", "start_date": "Depuis",
            "arrears": "Impayés (GNF)", "days_late": "Jours de retard"})

    def late_frame(self) -> pd.DataFrame:
        late = reads.late_tenants(as_of=self.as_of, owner_ref=self.owner_ref or None, site_ref=self.site_ref)
        return late_tenants_display(late)

    def view(self):
        if not self.site_ref:
            return pn.pane.Alert("Cliquez sur un site du tableau pour voir ses logements et ses locataires en retard.",
                                 alert_type="info", sizing_mode="stretch_width")
        sites = reads.sites(owner_ref=self.owner_ref or None).set_index("site_ref")
        if self.site_ref not in sites.index:
            # a mistyped or foreign ref (it may come from a shared URL): said, and repeated as text
            return pn.pane.Alert(f"Site inconnu : « {escape_markdown(self.site_ref)} ».", alert_type="warning",
                                 sizing_mode="stretch_width")
        site = sites.loc[self.site_ref]
        units, late = self.units_frame(), self.late_frame()
        units_table = table(units, money=("Loyer (GNF)", "Impayés (GNF)"), page_size=10)
        units_table.style.map(lambda v: {"En retard": "color:#b3261e;font-weight:600", "Vacant": "color:#8a8f94",
                                         "À jour": "color:#0b6e4f"}.get(v, ""), subset=["Statut"])
        late_table = table(late, money=("Impayés (GNF)",), page_size=10)
        if self._on_tenant is not None:
            units_table.on_click(lambda e: self._pick(units, e.row, "Locataire"))
            late_table.on_click(lambda e: self._pick(late, e.row, "Locataire"))
        trend = reads.monthly_trend(as_of=self.as_of, owner_ref=self.owner_ref or None, site_ref=self.site_ref)
        trend.attrs["as_of"] = self.as_of
        return pn.Column(
            pn.pane.HTML(f"<h3>{html.escape(str(site['site_name']))} — {html.escape(str(site['commune']))}, "
                         f"{html.escape(str(site['quartier']))}</h3>"),
            pn.pane.Markdown("#### Logements"),
            units_table,
            export_buttons(self.units_frame, f"logements_{self.site_ref}", money=("Loyer (GNF)", "Impayés (GNF)")),
            pn.pane.Markdown("#### Locataires en retard (cliquez pour ouvrir la fiche)"),
            late_table if len(late) else pn.pane.Alert("Aucun locataire en retard sur ce site.", alert_type="success"),
            export_buttons(self.late_frame, f"retards_{self.site_ref}", money=("Impayés (GNF)",)),
            pn.Row(charts.collected_vs_due(trend), charts.rate_trend(trend), sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

    def _pick(self, frame: pd.DataFrame, row: int, column: str) -> None:
        ref = frame.iloc[row][column]
        if isinstance(ref, str) and ref and self._on_tenant is not None:
            self._on_tenant(ref)

    def __panel__(self):   # one pane: no sidebar
        return self.bound(self.view, "site_ref", "as_of", "owner_ref")


def late_tenants_display(late: pd.DataFrame) -> pd.DataFrame:
    """late_tenants read -> the table users see (French headers, last contact in words)."""
    shown = french_dates(late, ("last_contact_at",), with_time=True)
    shown["contact"] = [
        f"{ACTION_KIND.get(k, '')} ({OUTCOME.get(o, o)})" if isinstance(k, str) else "aucun"
        for k, o in zip(late["last_contact_kind"], late["last_contact_outcome"])
    ]
    return shown[["tenant_ref", "full_name", "phone", "site_name", "arrears", "days_late", "last_contact_at",
                  "contact"]].rename(columns={
        "tenant_ref": "Locataire", "full_name": "Nom", "phone": "Téléphone", "site_name": "Site",
        "arrears": "Impayés (GNF)", "days_late": "Jours de retard", "last_contact_at": "Dernier contact",
        "contact": "Type de contact"})
