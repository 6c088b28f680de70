"""The collection desk (`/recouvrement`): the day's missions, the forms to log what happened, the day's
figures; for managers, the mobile-money statements to reconcile.

Managers see every agent's missions with their progress, can plan the day ("Générer les missions"),
the promises due today and those broken yesterday, and the day's figures by agent. Agents see their
own missions in route order (phone, address, arrears) — the data layer restricts them — on a layout
that fits a phone. Picking a mission opens the tenant's card and the forms (call, visit, promise,
payment); a recorded action refreshes the missions, the card and the figures. The "Rapprochement" tab
(dashboards.parts.reconciliation) imports the Orange Money and MTN MoMo statements and clears their review
queue; "Relances SMS" (dashboards.parts.reminders) sets the owners' SMS reminders and shows what leaves
tomorrow and what left today.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import panel as pn
import param

from akig_data.writes import missions
from akig_data.writes.reconciliation import RECONCILERS
from akig_data import reads
from akig_data.errors import AkigError
from akig_data.access.scope import current
from dashboards.escape import escape_html, escape_markdown
from dashboards.format import fmt_gnf, fmt_int
from dashboards.labels_fr import ACTION_KIND, MISSION_REASON, MISSION_STATUS, OUTCOME
from dashboards.parts.forms import ActionForms
from dashboards.parts.reconciliation import Reconciliation
from dashboards.parts.reminders import Reminders
from dashboards.parts.report_download import report_card
from dashboards.view import View, guarded
from dashboards.widgets.cards import kpi_card, kpi_row
from dashboards.widgets.tables import table
from dashboards.widgets.tabs import lazy_tabs
from dashboards.parts.tenant_card import TenantDetail


AT_RISK_DAYS = 7      # dues this close are worth a call now
AT_RISK_P = 0.5       # more likely than not to be paid late (10 days)


class Desk(View):
    day = param.CalendarDate(default=None, label="Journée", doc="Journée")
    agent_ref = param.String(default="", label="Agent", doc="Agent ('' = tous)")
    mission = param.Dict(default={}, doc="La mission choisie (tenant_ref, lease_ref, agent_ref)")
    picked = param.Boolean(default=False, doc="Une mission a été choisie : les formulaires et la fiche sont affichés")
    revision = param.Integer(default=0, doc="Incrémenté à chaque enregistrement : les vues se rafraîchissent")
    notice = param.String(default="")

    def __init__(self, **params):
        super().__init__(**params)
        who = current()
        self.role = who.role if who else "admin"
        self.is_agent = self.role == "agent"
        if self.is_agent:
            self.agent_ref = who.agent_ref or ""
        self.card = TenantDetail(as_of=self.day)
        self.forms = ActionForms(on_saved=self._saved)

    @property
    def title(self) -> str:
        return "Recouvrement" if not self.is_agent else "Mes missions du jour"

    # -- data ------------------------------------------------------------------------------------
    def missions_frame(self) -> pd.DataFrame:
        frame = reads.missions(day=self.day, agent_ref=self.agent_ref or None)
        return frame

    def progress_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return frame
        grouped = frame.groupby(["agent_ref", "agent_name"]).agg(
            planned=("mission_ref", "count"), done=("status", lambda s: int((s == "done").sum())),
            arrears=("arrears", "sum")).reset_index()
        grouped["progress"] = grouped["done"] / grouped["planned"] * 100
        return grouped.rename(columns={"agent_ref": "Agent", "agent_name": "Nom", "planned": "Prévues",
                                       "done": "Faites", "progress": "Avancement (%)", "arrears": "Impayés visés (GNF)"})

    def display_missions(self, frame: pd.DataFrame) -> pd.DataFrame:
        shown = frame.assign(
            kind=frame["kind"].map(ACTION_KIND), reason=frame["reason"].map(MISSION_REASON),
            status=frame["status"].map(MISSION_STATUS), chance=frame["chance"] * 100,
            eta=[t.strftime("%H:%M") if isinstance(t, pd.Timestamp) and not pd.isna(t) else "" for t in frame["eta"]],
            address=frame["site_name"] + " — " + frame["quartier"] + ", " + frame["commune"])
        columns = {"agent_ref": "Agent", "route_order": "Ordre", "kind": "Type", "eta": "Arrivée", "full_name": "Locataire",
                   "phone": "Téléphone", "address": "Adresse", "arrears": "Impayés (GNF)", "chance": "Chance de paiement (%)",
                   "reason": "Motif", "status": "État"}
        if self.is_agent:
            columns.pop("agent_ref")
        return shown[list(columns)].rename(columns=columns)

    # -- actions ---------------------------------------------------------------------------------
    def pick(self, frame: pd.DataFrame, row: int) -> None:
        chosen = frame.iloc[row]
        self.card.param.update(tenant_ref=chosen["tenant_ref"], as_of=self.day)
        self.forms.param.update(lease_ref=chosen["lease_ref"], agent_ref=chosen["agent_ref"], message="")
        if not pd.isna(chosen["lat"]):
            self.forms.visit_lat.value, self.forms.visit_lon.value = float(chosen["lat"]), float(chosen["lon"])
        self.mission = {"tenant_ref": chosen["tenant_ref"], "lease_ref": chosen["lease_ref"],
                        "agent_ref": chosen["agent_ref"], "name": chosen["full_name"]}
        self.picked = True

    def _saved(self) -> None:
        self.revision += 1
        self.card.param.trigger("tenant_ref")

    def generate(self, _=None) -> None:
        try:
            report = missions.generate(self.day, who=current())
        except AkigError as exc:
            self.notice = f"❌ {exc}"
            return
        self.notice = (f"✅ {report.planned_visits} visites et {report.planned_calls} appels planifiés "
                       f"({report.kept_done} déjà faits conservés, {report.unassigned} sans agent disponible, "
                       f"{report.distance_km} km de tournées).")
        self.revision += 1

    # -- panes -----------------------------------------------------------------------------------
    def missions_pane(self):
        frame = self.missions_frame()
        if frame.empty:
            return pn.pane.Alert("Aucune mission pour cette journée" + (
                "." if self.is_agent else " : cliquez sur « Générer les missions »."), alert_type="info",
                sizing_mode="stretch_width")
        parts = []
        widget = table(self.display_missions(frame), money=("Impayés (GNF)",), percent=("Chance de paiement (%)",),
                       page_size=15, selectable=True)
        widget.on_click(lambda e: self.pick(frame, e.row))
        parts += [pn.pane.Markdown("#### Missions (cliquez pour ouvrir la fiche et enregistrer)"), widget]
        return pn.Column(*parts, sizing_mode="stretch_width")

    def promises_pane(self):
        promises = reads.promises(as_of=self.day, due_from=self.day - dt.timedelta(days=1), due_to=self.day)
        due = promises[promises["due_date"] == self.day]
        broken = promises[(promises["due_date"] == self.day - dt.timedelta(days=1)) & (promises["status"] == "broken")]
        shown = pd.concat([due.assign(quand="aujourd'hui"), broken.assign(quand="hier, non tenue")])
        if shown.empty:
            return pn.pane.Alert("Aucune promesse à échéance aujourd'hui ni rompue hier.", alert_type="success",
                                 sizing_mode="stretch_width")
        shown = shown.assign(status=shown["status"].map(lambda s: OUTCOME.get(s, s)))
        return table(shown[["quand", "tenant_ref", "lease_ref", "agent_ref", "amount", "paid", "status"]].rename(columns={
            "quand": "Échéance", "tenant_ref": "Locataire", "lease_ref": "Bail", "agent_ref": "Agent",
            "amount": "Promis (GNF)", "paid": "Payé (GNF)", "status": "État"}), money=("Promis (GNF)", "Payé (GNF)"))

    def at_risk_frame(self) -> pd.DataFrame:
        """Tenants whose next due falls within AT_RISK_DAYS days of the desk's day and who are more likely than
        not to pay it late (lease_risk at 10 days), riskiest first: a call before the due date is cheaper
        than a visit after it."""
        risk = reads.lease_risk(as_of=self.day)
        days = (pd.to_datetime(risk["next_due_date"]) - pd.Timestamp(self.day)).dt.days
        soon = risk[(days <= AT_RISK_DAYS) & (risk["p_late_10"] >= AT_RISK_P)]
        return pd.DataFrame({   # what the caller needs first: whom, which number, when, how much, why
            "Nom": soon["full_name"], "Téléphone": soon["phone"].fillna(""),
            "Échéance": [pd.Timestamp(d).strftime("%d/%m/%Y") for d in soon["next_due_date"]],
            "Montant (GNF)": soon["next_due_amount"], "Retard à 10 j (%)": soon["p_late_10"] * 100,
            "Pourquoi": soon["reasons"], "Site": soon["site_ref"], "Bail": soon["lease_ref"],
            "Locataire": soon["tenant_ref"]}).reset_index(drop=True)

    def at_risk_pane(self):
        frame = self.at_risk_frame()
        if frame.empty:
            return pn.pane.Alert(f"Aucun locataire à risque dont l'échéance tombe dans les {AT_RISK_DAYS} jours.",
                                 alert_type="success", sizing_mode="stretch_width")
        return table(frame, money=("Montant (GNF)",), percent=("Retard à 10 j (%)",), page_size=15)

    def stats_pane(self):
        if self.is_agent:
            return self.own_stats_pane()
        stats = reads.daily_stats(day=self.day)
        total = stats[stats["is_total"]]
        row = total.iloc[0] if len(total) else None
        return kpi_row([
            kpi_card("Appels", fmt_int(row["calls"] if row is not None else 0),
                     f"{fmt_int(row['right_party_contacts'] if row is not None else 0)} contacts utiles"),
            kpi_card("Visites", fmt_int(row["visits"] if row is not None else 0),
                     f"{fmt_int(row['visits_with_proof'] if row is not None else 0)} avec preuve de présence"),
            kpi_card("Promesses", fmt_int(row["promises"] if row is not None else 0),
                     fmt_gnf(row["promised"] if row is not None else 0)),
            kpi_card("Encaissé", fmt_gnf(row["collected"] if row is not None else 0), f"le {self.day:%d/%m/%Y}"),
        ])

    def own_stats_pane(self):
        """An agent's own figures of the day, from his own read (the team's daily_stats is not his to see)."""
        days = reads.agent_daily(agent_ref=self.agent_ref, date_from=self.day, date_to=self.day)
        row = days.iloc[0] if len(days) else None

        def count(column: str) -> int:
            return int(row[column]) if row is not None else 0

        return kpi_row([
            kpi_card("Appels", fmt_int(count("calls")), f"{fmt_int(count('right_party_contacts'))} contacts utiles"),
            kpi_card("Visites", fmt_int(count("visits")), f"le {self.day:%d/%m/%Y}"),
            kpi_card("Promesses", fmt_int(count("promises")), "obtenues ce jour"),
            kpi_card("Encaissé", fmt_gnf(count("collected")), "paiements que vous avez saisis"),
        ])

    def agents_pane(self):
        """The day by agent: what each did (calls, visits, promises, collected) and how far his missions are."""
        stats = reads.daily_stats(day=self.day)
        by_agent = stats[~stats["is_total"]].rename(columns={
            "agent_ref": "Agent", "agent_name": "Nom", "calls": "Appels", "right_party_contacts": "Contacts utiles",
            "visits": "Visites", "visits_with_proof": "Avec preuve", "promises": "Promesses",
            "promised": "Promis (GNF)", "collected": "Encaissé (GNF)"}).drop(columns=["is_total"])
        parts = [pn.pane.Markdown("#### Ce qu'a fait chaque agent")]
        parts.append(table(by_agent, money=("Promis (GNF)", "Encaissé (GNF)")) if len(by_agent) else
                     pn.pane.Alert("Aucune action enregistrée ce jour.", alert_type="light", sizing_mode="stretch_width"))
        frame = self.missions_frame()
        if len(frame) and not self.agent_ref:
            parts += [pn.pane.Markdown("#### Avancement par agent"),
                      table(self.progress_frame(frame), money=("Impayés visés (GNF)",), percent=("Avancement (%)",))]
        return pn.Column(*parts, sizing_mode="stretch_width")

    def selected_pane(self, *_):
        if not self.mission:
            return pn.pane.Alert("Choisissez une mission dans la liste pour ouvrir la fiche du locataire et "
                                 "enregistrer un appel, une visite, une promesse ou un paiement.",
                                 alert_type="info", sizing_mode="stretch_width")
        return pn.pane.HTML(f"<h3>{escape_html(self.mission['name'])} — bail "
                            f"{escape_html(self.mission['lease_ref'])}</h3>")

    def work_pane(self, picked: bool):
        """The forms and the tenant's card, once a mission was picked (then kept: they follow the next)."""
        if not picked:
            return pn.Spacer(height=0)
        return pn.Column(self.forms, self.card, sizing_mode="stretch_width")

    def sidebar(self):
        day = pn.widgets.DatePicker.from_param(self.param.day)
        sidebar: list = [day]
        if not self.is_agent:
            options = {"Tous les agents": ""}
            agents = guarded(lambda: reads.agent_performance(date_from=self.day, date_to=self.day))
            if isinstance(agents, pd.DataFrame):
                options |= {f"{n} ({r})": r for r, n in zip(agents["agent_ref"], agents["agent_name"])}
            sidebar.append(pn.widgets.Select.from_param(self.param.agent_ref, options=options))
            if not isinstance(agents, pd.DataFrame):  # PostgreSQL unreachable: say so, the page still opens
                sidebar.append(agents)
            if self.role in ("admin", "manager"):
                button = pn.widgets.Button(label="Générer les missions", color="primary")
                button.on_click(self.generate)
                sidebar += [button, pn.pane.Markdown(pn.bind(escape_markdown, self.param.notice))]
            self.report = report = report_card(day=self.day)
            if report is not None:   # the report of the desk's day, for all owners
                self.param.watch(lambda e: setattr(report, "day", e.new), "day")
                sidebar.append(report)
        return sidebar

    def main(self):
        def bound(pane):
            return self.bound(pane, "day", "agent_ref", "revision")

        # The forms and the tenant's card are built when a mission is picked: before that they have
        # nothing to show, and their widgets are many Bokeh models for the server to build on every page.
        work = pn.Column(pn.panel(pn.bind(self.selected_pane, self.param.mission)),
                         pn.panel(pn.bind(self.work_pane, self.param.picked)), sizing_mode="stretch_width")
        if self.is_agent:
            return [bound(self.stats_pane), bound(self.missions_pane), work]
        # The day by agent and the promises are tabs, made when first opened (dashboards.widgets.tabs): each
        # table is three Bokeh models per column for the server to build and send, and the missions are what
        # a page is opened for.
        managers = [("Rapprochement", lambda: Reconciliation(on_booked=self._saved)),
                    ("Relances SMS", Reminders)] if self.role in RECONCILERS else []
        tabs = lazy_tabs(("Missions", lambda: [bound(self.missions_pane), work]),
                         ("Par agent", lambda: bound(self.agents_pane)),
                         ("Promesses", lambda: [pn.pane.Markdown("#### Promesses à échéance aujourd'hui et rompues hier"),
                                                bound(self.promises_pane)]),
                         ("À risque", lambda: [pn.pane.Markdown(f"#### À appeler avant l'échéance (dans les {AT_RISK_DAYS} "
                                                                "jours, retard plus probable que non)"),
                                               bound(self.at_risk_pane)]),
                         *managers, sizing_mode="stretch_width")
        return [bound(self.stats_pane), tabs]
