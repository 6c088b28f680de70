"""The audit trail page (`/admin/journal`, admins only): newest entries, filters, chain check."""

from __future__ import annotations

import panel as pn
import param

from akig_data.writes import audit
from dashboards.escape import escape_markdown
from dashboards.view import View, guarded
from dashboards.widgets.tables import table

PAGE_SIZE = 50
COLUMNS = {"id": "N°", "at": "Date", "actor": "Qui", "role": "Rôle", "address": "Adresse", "action": "Action",
           "target": "Objet", "details": "Détails"}


class AuditPage(View):
    title = "Journal d'audit"

    actor = param.String(default="", label="Utilisateur", doc="Utilisateur")
    action = param.String(default="", label="Action (login, export…)", doc="Action")
    checked = param.String(default="", doc="Résultat de la dernière vérification")

    def table(self):
        frame = audit.entries(limit=500, actor=self.actor.strip() or None, action=self.action.strip() or None)
        if frame.empty:
            return pn.pane.Alert("Aucune entrée pour ces filtres.", alert_type="info", sizing_mode="stretch_width")
        frame["at"] = frame["at"].dt.strftime("%d/%m/%Y %H:%M:%S")
        return table(frame.rename(columns=COLUMNS), page_size=PAGE_SIZE)

    def verify(self, _=None) -> None:
        report = guarded(audit.verify)
        if isinstance(report, audit.ChainReport):
            self.checked = (f"✅ Chaîne intacte : {report.rows} entrées vérifiées." if report.ok
                            else f"❌ Chaîne rompue après {report.rows} entrées : {report.reason}")

    def main(self):
        button = pn.widgets.Button(label="Vérifier la chaîne", color="primary")
        button.on_click(self.verify)
        return [
            pn.pane.Markdown("Connexions, déconnexions, exports, modifications des comptes et des données. "
                             "Le journal ne peut qu'être complété ; chaque entrée est chaînée à la précédente "
                             "par une empreinte SHA-256."),
            # the reason a broken chain gives may quote the tampered row: shown as text
            pn.Row(button, pn.pane.Markdown(pn.bind(escape_markdown, self.param.checked))),
            self.bound(self.table, "actor", "action"),
        ]

    def sidebar(self):
        return [pn.widgets.TextInput.from_param(self.param.actor),
                pn.widgets.TextInput.from_param(self.param.action)]
