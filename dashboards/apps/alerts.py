"""The alerts panel (`/alertes`): open business alerts by severity with filters, a link to the object
(site or tenant in the owner dashboard, agent on the live map), acknowledgement with a comment, and each
alert's history. Every figure comes from the `alerts` read and akig_data.alerts.evaluate."""

from __future__ import annotations

from urllib.parse import quote

import pandas as pd
import panel as pn
import param

from akig_data.alerts import evaluate as alerts
from akig_data import reads
from akig_data.alerts.rules import RULES
from akig_data.errors import AkigError
from akig_data.access.scope import current
from dashboards.escape import escape_html, escape_markdown
from dashboards.format import fmt_int
from dashboards.labels_fr import ALERT_EVENT, ALERT_OBJECT, ALERT_SEVERITY
from dashboards.view import View
from dashboards.widgets.cards import kpi_card, kpi_row
from dashboards.widgets.tables import table

LINKS = {"site": "/proprietaire?site={}", "tenant": "/proprietaire?locataire={}", "lease": "/proprietaire?locataire={}",
         "agent": "/carte?agent={}", "visit": "/carte?agent={}", "owner": "/proprietaire?proprietaire={}"}


def link(kind: str, ref) -> str:
    """The link to the alert's object (the table shows this column as HTML). The ref comes from the
    database: URL-encoded, so it stays one parameter, then escaped for the attribute."""
    if ref is None or pd.isna(ref):
        return ""
    url = LINKS[kind].format(quote(str(ref), safe=""))
    return f'<a href="{escape_html(url)}" target="_blank">ouvrir</a>'


def display(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "N°": frame["id"],
        "Sévérité": [ALERT_SEVERITY.get(s, s) for s in frame["severity"]],
        "Alerte": frame["title"],
        "Objet": [f"{ALERT_OBJECT.get(k, k)} {r}" for k, r in zip(frame["object_kind"], frame["object_ref"])],
        "Détail": frame["detail"],
        "Depuis": [pd.Timestamp(t).strftime("%d/%m %H:%M") for t in frame["first_seen"]],
        "Prise en compte": [("" if pd.isna(b) else f"{b} : {c}") for b, c in zip(frame["ack_by"], frame["ack_comment"])],
        "Lien": [link(k, r) for k, r in zip(frame["object_kind"], frame["link_ref"])],
    })


class AlertsPage(View):
    title = "Alertes"

    status = param.Selector(default="active", objects={"Actives": "active", "Résolues": "resolved"}, label="Alertes",
                            doc="Alertes")
    severity = param.Selector(default="", objects={"Toutes": "", **{v: k for k, v in ALERT_SEVERITY.items()}},
                              label="Sévérité")
    rule = param.Selector(default="", objects={"Toutes les règles": "", **{r.title: r.code for r in RULES}},
                          label="Règle")
    selected = param.Integer(default=0, doc="the alert chosen in the table")
    version = param.Integer(default=0, doc="moves after an acknowledgement or an evaluation")
    message = param.String(default="")

    def __init__(self, **params):
        super().__init__(**params)
        self.who = current()
        self.comment = pn.widgets.TextAreaInput(label="Commentaire", placeholder="Ce qui est fait, par qui, quand…",
                                                height=90, sizing_mode="stretch_width")
        self.acknowledge_button = pn.widgets.Button(label="Prendre en compte", color="primary")
        self.acknowledge_button.on_click(self.acknowledge)
        self.evaluate_button = pn.widgets.Button(label="Évaluer maintenant", color="default")
        self.evaluate_button.on_click(self.evaluate_now)
        self.frame = pd.DataFrame()

    def _load(self) -> pd.DataFrame:
        frame = reads.alerts(status=self.status)
        if self.severity:
            frame = frame[frame["severity"] == self.severity]
        if self.rule:
            frame = frame[frame["rule"] == self.rule]
        self.frame = frame.reset_index(drop=True)
        return self.frame

    def summary(self):
        frame = reads.alerts(status="active")
        counts = frame["severity"].value_counts()
        titles = {"critical": "Alertes critiques", "warning": "À surveiller", "info": "Pour information"}
        return kpi_row([kpi_card(title, fmt_int(int(counts.get(key, 0))), "ouvertes") for key, title in titles.items()])

    def listing(self):
        frame = self._load()
        if frame.empty:
            return pn.pane.Alert("Aucune alerte pour ces filtres.", alert_type="success", sizing_mode="stretch_width")
        # (N°, the alert's number, is shown as plain digits by table(), like every "N°" column.)
        widget = table(display(frame), page_size=15, selectable=True, css_classes=["akig-alerts-table"],
                       formatters={"Lien": {"type": "html"}})
        widget.on_click(lambda e: setattr(self, "selected", int(self.frame.iloc[e.row]["id"])))
        return widget

    def detail(self):
        if not self.selected:
            return pn.pane.Alert("Cliquez sur une alerte pour la prendre en compte et voir son historique.",
                                 alert_type="info", sizing_mode="stretch_width")
        history = alerts.history(self.selected)
        shown = pd.DataFrame({
            "Quand": [pd.Timestamp(t).strftime("%d/%m/%Y %H:%M") for t in history["at"]],
            "Quoi": [ALERT_EVENT.get(k, k) for k in history["kind"]],
            "Qui": history["actor"].fillna(""), "Commentaire": history["comment"].fillna("")})
        return pn.Column(pn.pane.Markdown(f"### Alerte n° {self.selected}"), table(shown, page_size=10),
                         self.comment, self.acknowledge_button, sizing_mode="stretch_width")

    def acknowledge(self, _event=None) -> None:
        try:
            alerts.acknowledge(self.selected, self.comment.value, who=self.who)
        except AkigError as exc:
            self.message = f"Refusé : {exc}"
            return
        self.message = f"Alerte n° {self.selected} prise en compte."
        self.comment.value = ""
        self.version += 1

    def evaluate_now(self, _event=None) -> None:
        try:
            result = alerts.evaluate()
        except AkigError as exc:
            self.message = f"Refusé : {exc}"
            return
        self.message = (f"Règles évaluées : {result.opened} nouvelle(s) alerte(s), {result.kept} toujours active(s), "
                        f"{result.resolved} résolue(s).")
        self.version += 1

    def _message(self, message):
        if not message:
            return pn.pane.HTML("", height=0, margin=0)
        return pn.pane.Alert(escape_markdown(message), alert_type="info", sizing_mode="stretch_width")

    def main(self):
        return [
            pn.bind(self._message, self.param.message),
            self.bound(self.summary, "version"),
            pn.pane.Markdown("## Alertes"),
            self.bound(self.listing, "status", "severity", "rule", "version"),
            self.bound(self.detail, "selected", "version"),
            pn.pane.Markdown("Les règles sont évaluées toutes les 5 minutes ; une alerte dont la règle ne se déclenche "
                             "plus est résolue automatiquement. Seuils : variables AKIG_ALERT_*."),
        ]

    def sidebar(self):
        sidebar = [pn.widgets.RadioButtonGroup.from_param(self.param.status),
                   pn.widgets.Select.from_param(self.param.severity),
                   pn.widgets.Select.from_param(self.param.rule)]
        if self.who is None or self.who.role in ("admin", "manager"):
            sidebar.append(self.evaluate_button)
        return sidebar
