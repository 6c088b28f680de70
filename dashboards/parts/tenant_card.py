"""One tenant's card: identity and contact, leases, ledger (FIFO), aging, and his history of calls,
visits, promises and payments in one timeline."""

from __future__ import annotations

import html

import pandas as pd
import panel as pn
import param

from akig_data import reads
from dashboards.format import fmt_gnf, fmt_int
from dashboards.labels_fr import ACTION_KIND, OUTCOME
from dashboards.parts.downloads import export_buttons
from dashboards.view import View
from dashboards.widgets.cards import kpi_card, kpi_row
from dashboards.widgets.tables import french_dates, table


class TenantDetail(View):
    tenant_ref = param.String(default="", doc="Locataire affiché")
    as_of = param.CalendarDate(default=None)
    owner_ref = param.String(default="", doc="Restreint aux baux de ce propriétaire")

    def _args(self) -> dict:
        return {"tenant_ref": self.tenant_ref, "as_of": self.as_of, "owner_ref": self.owner_ref or None}

    def ledger_frame(self) -> pd.DataFrame:
        ledger = reads.tenant_ledger(**self._args())
        shown = french_dates(ledger, ("entry_date",))
        shown["kind"] = shown["kind"].map(ACTION_KIND)
        shown["method"] = shown["method"].map(lambda m: OUTCOME.get(m, "") if isinstance(m, str) else "")
        return shown.rename(columns={
            "lease_ref": "Bail", "entry_date": "Date", "kind": "Opération", "reference": "Référence",
            "method": "Moyen", "due": "Dû (GNF)", "paid": "Payé (GNF)", "balance": "Solde (GNF)",
            "unpaid_at_as_of": "Reste impayé (GNF)", "age_days": "Âge (jours)"})

    def timeline_frame(self) -> pd.DataFrame:
        timeline = reads.tenant_timeline(**self._args())
        shown = french_dates(timeline, ("at",), with_time=True)
        shown["kind"] = shown["kind"].map(ACTION_KIND)
        shown["outcome"] = shown["outcome"].map(lambda o: OUTCOME.get(o, o) if isinstance(o, str) else "")
        return shown.rename(columns={
            "at": "Date", "kind": "Action", "lease_ref": "Bail", "agent_ref": "Agent", "agent_name": "Nom de l'agent",
            "outcome": "Résultat", "amount": "Montant (GNF)", "detail": "Détail"})

    def leases_frame(self) -> pd.DataFrame:
        leases = french_dates(reads.tenant_leases(**self._args()), ("start_date", "end_date"))
        return leases.rename(columns={
            "lease_ref": "Bail", "unit_ref": "Local", "unit_label": "Libellé", "site_ref": "Site",
            "site_name": "Nom du site", "owner_ref": "Propriétaire", "start_date": "Début", "end_date": "Fin",
            "monthly_rent": "Loyer (GNF)", "due_day": "Jour d'échéance", "dues": "Échéances",
            "due_total": "Total dû (GNF)", "paid": "Payé (GNF)", "arrears": "Impayés (GNF)",
            "credit": "Avance (GNF)", "days_late": "Jours de retard"})

    def card(self):
        row = reads.tenant_card(**self._args()).iloc[0]
        contact = " · ".join(html.escape(str(v)) for v in (row["phone"], row["email"]) if isinstance(v, str) and v)
        late = (f"en retard de {fmt_int(row['days_late'])} jours (depuis l'échéance du "
                f"{row['oldest_unpaid_due_date']:%d/%m/%Y})" if row["arrears"] > 0 else "à jour")
        header = pn.pane.HTML(
            f"<h3 style='margin:0'>{html.escape(row['full_name'])} <small>({html.escape(row['tenant_ref'])})</small></h3>"
            f"<div>{contact or 'aucun contact enregistré'}</div>"
            f"<div>{fmt_int(row['active_leases'])} bail(aux) en cours sur {fmt_int(row['leases'])} — {late}</div>",
            sizing_mode="stretch_width")
        cards = kpi_row([
            kpi_card("Impayés", fmt_gnf(row["arrears"])),
            kpi_card("0–30 jours", fmt_gnf(row["bucket_0_30"])),
            kpi_card("31–60 jours", fmt_gnf(row["bucket_31_60"])),
            kpi_card("61–90 jours", fmt_gnf(row["bucket_61_90"])),
            kpi_card("Plus de 90 jours", fmt_gnf(row["bucket_90_plus"])),
            kpi_card("Avance", fmt_gnf(row["credit"])),
        ])
        return pn.Column(header, cards, sizing_mode="stretch_width")

    def view(self):
        if not self.tenant_ref:
            return pn.pane.Alert("Choisissez un locataire : par la recherche, dans le tableau des retards ou "
                                 "dans le détail d'un site.", alert_type="info", sizing_mode="stretch_width")
        name = self.tenant_ref
        ledger, timeline, leases = self.ledger_frame(), self.timeline_frame(), self.leases_frame()
        return pn.Column(
            self.card(),
            pn.pane.Markdown("#### Baux"),
            table(leases, money=("Loyer (GNF)", "Total dû (GNF)", "Payé (GNF)", "Impayés (GNF)", "Avance (GNF)")),
            export_buttons(self.leases_frame, f"baux_{name}", money=("Loyer (GNF)", "Total dû (GNF)", "Payé (GNF)",
                                                                     "Impayés (GNF)", "Avance (GNF)")),
            pn.pane.Markdown("#### Relevé (échéances et paiements, solde courant, reste impayé au premier entré premier sorti)"),
            table(ledger, money=("Dû (GNF)", "Payé (GNF)", "Solde (GNF)", "Reste impayé (GNF)"), page_size=12,
                  page=max(1, -(-len(ledger) // 12))),
            export_buttons(self.ledger_frame, f"releve_{name}",
                           money=("Dû (GNF)", "Payé (GNF)", "Solde (GNF)", "Reste impayé (GNF)")),
            pn.pane.Markdown("#### Historique du recouvrement"),
            table(timeline, money=("Montant (GNF)",)) if len(timeline) else
            pn.pane.Alert("Aucun appel, aucune visite, aucune promesse ni aucun paiement.", alert_type="light"),
            export_buttons(self.timeline_frame, f"historique_{name}", money=("Montant (GNF)",)),
            sizing_mode="stretch_width",
        )

    def __panel__(self):   # one pane: no sidebar
        return self.bound(self.view, "tenant_ref", "as_of", "owner_ref")
