"""The desk's "Rapprochement" tab: import the morning's mobile-money statements and clear the review queue.

A manager picks the owner whose merchant account the statement is, drops the Orange Money or MTN MoMo
export (CSV or Excel) and imports it: the sure transfers are booked at once
(akig_data.writes.reconciliation), the summary says how many and how much. The transfers left for review
are listed with the reason and the candidate leases; picking one offers its candidates (or any other
lease of the owner, typed) to book it to, or a reason to reject it. Every decision is audited by the data
layer; a refusal shows its French message and changes nothing.
"""

from __future__ import annotations

from typing import Callable

import pandas as pd
import panel as pn
import param

from akig_data import reads
from akig_data.access.scope import current
from akig_data.errors import AkigError
from akig_data.writes import reconciliation
from akig_data.writes.statement_formats import OPERATORS, StatementRefused
from dashboards.escape import escape_html, escape_markdown
from dashboards.view import guarded
from dashboards.widgets.tables import french_dates, table

RULES = {"reference": "référence du bail", "phone": "numéro du locataire", "manual": "décision manuelle",
         "existing": "déjà saisi au guichet"}


class Reconciliation(pn.viewable.Viewer):
    """Statement import and review queue, for administrators and managers."""

    owner_ref = param.String(default="", label="Propriétaire (compte marchand)")
    revision = param.Integer(default=0, doc="Incrémenté après chaque import ou décision : les listes se rafraîchissent")
    picked = param.Dict(default={}, doc="La ligne de la file choisie")
    notice = param.String(default="")

    def __init__(self, on_booked: Callable[[], None] | None = None, **params):
        super().__init__(**params)
        self._on_booked = on_booked
        owners = reads.owners()
        self.owner_options = {f"{name} ({ref})": ref for ref, name in zip(owners["owner_ref"], owners["name"])}
        if not self.owner_ref and self.owner_options:
            self.owner_ref = next(iter(self.owner_options.values()))
        self.file = pn.widgets.FileInput(accept=".csv,.xlsx", multiple=False)   # size checked on import
        self.operator = pn.widgets.Select(label="Opérateur", options={"Reconnu à l'en-tête": "",
                                                                      **{v: k for k, v in OPERATORS.items()}})
        self.import_button = pn.widgets.Button(label="Importer le relevé", color="primary")
        self.import_button.on_click(self.import_file)
        self.lease_choice = pn.widgets.Select(label="Attribuer au bail", options=[])
        self.other_lease = pn.widgets.TextInput(label="… ou un autre bail de ce propriétaire", placeholder="LEASE-000123")
        self.confirm_button = pn.widgets.Button(label="Attribuer et enregistrer le paiement", color="success")
        self.confirm_button.on_click(self.confirm)
        self.reject_reason = pn.widgets.TextInput(label="Motif du rejet", placeholder="ex. frais, erreur d'envoi remboursée")
        self.reject_button = pn.widgets.Button(label="Rejeter le transfert", color="danger")
        self.reject_button.on_click(self.reject)

    # -- actions ---------------------------------------------------------------------------------------------
    def import_file(self, _=None) -> None:
        if not self.file.value:
            self.notice = "⚠️ Choisissez d'abord le fichier du relevé (CSV ou Excel)."
            return
        self.import_button.loading = True
        try:
            summary = reconciliation.import_statement(
                self.file.value, owner_ref=self.owner_ref, file_name=self.file.filename or "relevé",
                operator=self.operator.value or None, who=current())
        except StatementRefused as exc:
            self.notice = "❌ " + "  \n".join(escape_markdown(p) for p in [str(exc).split("\n")[0], *exc.problems[:20]])
            return
        except AkigError as exc:
            self.notice = f"❌ {escape_markdown(exc)}"
            return
        finally:
            self.import_button.loading = False
        self.notice = "✅ " + "  \n".join(escape_markdown(line) for line in summary.lines())
        self.file.value = None
        self._changed(booked=summary.booked > 0 or bool(summary.unbooked))

    def pick(self, frame: pd.DataFrame, row: int) -> None:
        line = frame.iloc[row]
        refs = list(line["candidate_refs"])
        labels = (line["candidates"] or "").split("; ") if isinstance(line["candidates"], str) else []
        self.picked = {"line_id": int(line["line_id"]), "transaction_id": line["transaction_id"],
                       "amount": int(line["amount"]), "candidates": refs, "reason": line["reason"] or ""}
        # "LEASE-000123 — Awa Camara (500000 GNF/mois)": the label says whose lease it is
        self.lease_choice.options = {label if len(labels) == len(refs) else ref: ref for ref, label in zip(refs, labels or refs)}
        self.lease_choice.value = line["candidate_refs"][0] if len(line["candidate_refs"]) else None
        self.other_lease.value = ""
        self.reject_reason.value = ""

    def confirm(self, _=None) -> None:
        if not self.picked:
            self.notice = "⚠️ Choisissez un transfert dans la file."
            return
        lease_ref = (self.other_lease.value or "").strip() or self.lease_choice.value
        try:
            payment = reconciliation.confirm_line(self.picked["line_id"], lease_ref or "", who=current())
        except AkigError as exc:
            self.notice = f"❌ {escape_markdown(exc)}"
            return
        self.notice = f"✅ Transfert {escape_markdown(self.picked['transaction_id'])} attribué au bail " \
                      f"{escape_markdown(lease_ref)} : paiement {escape_markdown(payment)} enregistré."
        self.picked = {}
        self._changed(booked=True)

    def reject(self, _=None) -> None:
        if not self.picked:
            self.notice = "⚠️ Choisissez un transfert dans la file."
            return
        try:
            reconciliation.reject_line(self.picked["line_id"], self.reject_reason.value, who=current())
        except AkigError as exc:
            self.notice = f"❌ {escape_markdown(exc)}"
            return
        self.notice = f"✅ Transfert {escape_markdown(self.picked['transaction_id'])} rejeté."
        self.picked = {}
        self._changed(booked=False)

    def _changed(self, booked: bool) -> None:
        self.revision += 1
        if booked and self._on_booked is not None:
            self._on_booked()

    # -- panes -----------------------------------------------------------------------------------------------
    def queue_frame(self) -> pd.DataFrame:
        return reads.statement_lines(status="review", owner_ref=self.owner_ref or None)

    def queue_pane(self, *_):
        frame = self.queue_frame()
        if frame.empty:
            return pn.pane.Alert("Aucun transfert à vérifier pour ce propriétaire.", alert_type="success",
                                 sizing_mode="stretch_width")
        shown = french_dates(frame, ("occurred_at",), with_time=True).assign(
            operator=frame["operator"].map(OPERATORS))
        shown = shown[["occurred_at", "operator", "transaction_id", "sender_shown", "sender_name", "amount",
                       "reference_text", "reason", "candidates"]].rename(columns={
            "occurred_at": "Date", "operator": "Opérateur", "transaction_id": "Transaction",
            "sender_shown": "Expéditeur", "sender_name": "Nom", "amount": "Montant (GNF)",
            "reference_text": "Texte saisi", "reason": "Pourquoi", "candidates": "Baux possibles"})
        widget = table(shown, money=("Montant (GNF)",), page_size=10, selectable=True)
        widget.on_click(lambda e: self.pick(frame, e.row))
        return pn.Column(pn.pane.Markdown(f"#### À vérifier : {len(frame)} transfert(s) (cliquez pour décider)"),
                         widget, sizing_mode="stretch_width")

    def booked_pane(self, *_):
        frame = reads.statement_lines(status="booked", owner_ref=self.owner_ref or None).head(200)
        if frame.empty:
            return pn.pane.Alert("Aucun transfert enregistré depuis un relevé pour ce propriétaire.",
                                 alert_type="light", sizing_mode="stretch_width")
        shown = french_dates(frame, ("occurred_at",), with_time=True).assign(
            operator=frame["operator"].map(OPERATORS), match_rule=frame["match_rule"].map(RULES))
        shown = shown[["occurred_at", "operator", "transaction_id", "amount", "lease_ref", "tenant_name",
                       "match_rule", "payment_ref", "decided_by"]].rename(columns={
            "occurred_at": "Date", "operator": "Opérateur", "transaction_id": "Transaction", "amount": "Montant (GNF)",
            "lease_ref": "Bail", "tenant_name": "Locataire", "match_rule": "Rapproché par", "payment_ref": "Paiement",
            "decided_by": "Décidé par"})
        return pn.Column(pn.pane.Markdown("#### Derniers transferts enregistrés"),
                         table(shown, money=("Montant (GNF)",), page_size=10), sizing_mode="stretch_width")

    def decision_pane(self, picked: dict):
        if not picked:
            return pn.Spacer(height=0)
        amount = f"{picked['amount']:,}".replace(",", "\u202f")
        header = pn.pane.HTML(f"<b>Transfert {escape_html(picked['transaction_id'])}</b> — {amount} GNF<br>"
                              f"<i>{escape_html(picked.get('reason', ''))}</i>")
        return pn.Card(header, pn.Row(self.lease_choice, self.other_lease), self.confirm_button,
                       pn.Row(self.reject_reason, self.reject_button), title="Décision",
                       sizing_mode="stretch_width", collapsible=False)

    def __panel__(self):
        def bound(pane):
            return pn.panel(pn.bind(lambda *_: guarded(pane), self.param.owner_ref, self.param.revision),
                            loading_indicator=True, sizing_mode="stretch_width")

        owner = pn.widgets.Select.from_param(self.param.owner_ref, options=self.owner_options)
        importer = pn.Card(
            pn.pane.Markdown("Relevé marchand **Orange Money** ou **MTN MoMo**, exporté en CSV ou Excel. Les "
                             "transferts sûrs (référence du bail, numéro du locataire) sont enregistrés ; les "
                             "autres attendent votre décision ci-dessous. Importer deux fois le même relevé "
                             "n'enregistre rien deux fois."),
            pn.Row(owner, self.operator), self.file, self.import_button,
            pn.pane.Markdown(self.param.notice, sizing_mode="stretch_width"),
            title="Importer un relevé", sizing_mode="stretch_width", collapsible=False)
        return pn.Column(importer, bound(self.queue_pane), pn.panel(pn.bind(self.decision_pane, self.param.picked)),
                         bound(self.booked_pane), sizing_mode="stretch_width")
