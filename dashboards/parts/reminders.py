"""The desk's "Relances SMS" tab: a manager switches an owner's reminders on, edits the ladder and its
French templates with a preview on a real tenant, sees what will leave tomorrow and what left today, and
marks a number that must not be written to any more.

Everything is checked and audited by the data layer (akig_data.reminders.policies, .outbox); a refusal
shows its French message and changes nothing. The messages themselves are planned and sent by the server
every minute, not by this page.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import panel as pn
import param

from akig_data import reads
from akig_data.access.scope import current
from akig_data.clock import today
from akig_data.errors import AkigError
from akig_data.reminders import policies, templates
from dashboards.escape import escape_markdown
from dashboards.view import guarded
from dashboards.widgets.tables import french_dates, table

STATUS = {"queued": "en file", "sending": "en cours d'envoi", "sent": "envoyé", "delivered": "reçu",
          "failed": "échec", "cancelled": "annulé", "held_out": "groupe témoin"}
VARIABLES_HELP = "Variables : " + " · ".join(f"`{{{name}}}` {what}" for name, what in templates.VARIABLES.items())


class StepEditor(pn.viewable.Viewer):
    """One step of the ladder as three widgets and a remove box."""

    def __init__(self, step: policies.Step | None = None):
        super().__init__()
        self.code = step.code if step else ""
        self.label = pn.widgets.TextInput(label="Nom", value=step.label if step else "", max_length=60, width=170)
        self.offset = pn.widgets.IntInput(label="Jour (J−/J+)", value=step.offset_days if step else 3,
                                          start=-30, end=90, width=110)
        self.template = pn.widgets.TextAreaInput(label="Message", value=step.template if step else "",
                                                 max_length=templates.MAX_LENGTH, height=80, sizing_mode="stretch_width")
        self.remove = pn.widgets.Checkbox(label="retirer", width=80)

    def value(self) -> dict:
        return {"code": self.code, "label": self.label.value, "offset_days": self.offset.value,
                "template": self.template.value}

    def __panel__(self):
        return pn.Row(self.label, self.offset, self.template, self.remove, sizing_mode="stretch_width")


class Reminders(pn.viewable.Viewer):
    """Reminders settings, ladder, tomorrow's plan and today's messages of one owner."""

    owner_ref = param.String(default="", label="Propriétaire")
    revision = param.Integer(default=0)
    notice = param.String(default="")

    def __init__(self, **params):
        super().__init__(**params)
        owners = reads.owners()
        self.owner_options = {f"{name} ({ref})": ref for ref, name in zip(owners["owner_ref"], owners["name"])}
        if not self.owner_ref and self.owner_options:
            self.owner_ref = next(iter(self.owner_options.values()))
        self.enabled = pn.widgets.Switch(label="Relances actives", value=False)
        self.merchant = pn.widgets.TextInput(label="Numéro marchand mobile money", placeholder="+224 620 00 00 00",
                                             max_length=40)
        self.holdout = pn.widgets.IntSlider(label="Part témoin (baux sans relance, %)", start=0, end=50, step=5, value=0)
        self.save_button = pn.widgets.Button(label="Enregistrer les réglages", color="primary")
        self.save_button.on_click(self.save_policy)
        self.scope = pn.widgets.RadioButtonGroup(label="Échelle", options=["Ce propriétaire", "Par défaut"],
                                                 value="Ce propriétaire", color="light")
        self.steps = pn.Column(sizing_mode="stretch_width")
        self.editors: list[StepEditor] = []
        self.add_button = pn.widgets.Button(label="Ajouter une étape", color="light")
        self.add_button.on_click(lambda _e: self.set_editors([*self.editors, StepEditor()]))
        self.save_ladder_button = pn.widgets.Button(label="Enregistrer l'échelle", color="primary")
        self.save_ladder_button.on_click(self.save_ladder)
        self.reset_button = pn.widgets.Button(label="Revenir à l'échelle par défaut", color="light")
        self.reset_button.on_click(self.reset_ladder)
        self.preview_lease = pn.widgets.Select(label="Aperçu pour le locataire", options={})
        self.preview_button = pn.widgets.Button(label="Aperçu", color="light")
        self.preview_button.on_click(lambda _e: self.param.trigger("revision"))
        self.optout_phone = pn.widgets.TextInput(label="Numéro à ne plus relancer", placeholder="+224 6xx xx xx xx")
        self.optout_button = pn.widgets.Button(label="Désinscrire", color="danger")
        self.optout_button.on_click(self.opt_out)
        self.scope.param.watch(lambda _e: self.load(), "value")
        self.param.watch(lambda _e: self.load(), "owner_ref")
        self.load()

    # -- state -----------------------------------------------------------------------------------------------
    def load(self) -> None:
        """Put the owner's settings, the ladder in scope and his leases (for the preview) in the widgets."""
        if not self.owner_ref:
            return
        state = policies.policy(self.owner_ref)
        self.enabled.value = bool(state["enabled"])
        self.merchant.value = state["merchant_number"] or ""
        self.holdout.value = int(round(state["holdout_share"] * 100))
        steps = policies.ladder(self.owner_ref if self.scope.value == "Ce propriétaire" else None)
        self.set_editors([StepEditor(step) for step in steps])
        leases = reads.arrears_by_lease(owner_ref=self.owner_ref).head(200)
        options = {f"{ref} ({tenant})": ref for ref, tenant in zip(leases["lease_ref"], leases["tenant_ref"])}
        self.preview_lease.options = options
        self.preview_lease.value = next(iter(options.values()), None)

    def set_editors(self, editors: list[StepEditor]) -> None:
        self.editors = editors
        self.steps.objects = list(editors)

    def edited_steps(self) -> list[dict]:
        return [editor.value() for editor in self.editors if not editor.remove.value]

    # -- actions ---------------------------------------------------------------------------------------------
    def _done(self, text: str) -> None:
        self.notice = f"✅ {escape_markdown(text)}"
        self.revision += 1

    def save_policy(self, _=None) -> None:
        try:
            state = policies.set_policy(self.owner_ref, enabled=self.enabled.value, merchant_number=self.merchant.value,
                                        holdout_share=self.holdout.value / 100, who=current())
        except AkigError as exc:
            self.notice = f"❌ {escape_markdown(exc)}"
            return
        self._done(f"Relances {'activées' if state['enabled'] else 'désactivées'} pour {self.owner_ref}, part témoin "
                   f"{int(round(state['holdout_share'] * 100))} %.")

    def save_ladder(self, _=None) -> None:
        target = self.owner_ref if self.scope.value == "Ce propriétaire" else None
        try:
            saved = policies.save_ladder(target, self.edited_steps(), who=current())
        except AkigError as exc:
            self.notice = f"❌ {escape_markdown(exc)}"
            return
        self.set_editors([StepEditor(step) for step in saved])
        self._done(f"Échelle {'de ' + target if target else 'par défaut'} enregistrée : {len(saved)} étape(s).")

    def reset_ladder(self, _=None) -> None:
        try:
            policies.reset_ladder(self.owner_ref, who=current())
        except AkigError as exc:
            self.notice = f"❌ {escape_markdown(exc)}"
            return
        self.load()
        self._done(f"{self.owner_ref} suit de nouveau l'échelle par défaut.")

    def opt_out(self, _=None) -> None:
        from akig_data.reminders import outbox

        try:
            number = outbox.opt_out(self.optout_phone.value, who=current())
        except AkigError as exc:
            self.notice = f"❌ {escape_markdown(exc)}"
            return
        self.optout_phone.value = ""
        self._done(f"{number} ne recevra plus de relance.")

    # -- panes -----------------------------------------------------------------------------------------------
    def preview_pane(self, *_):
        if not self.preview_lease.value:
            return pn.pane.Alert("Aucun bail en retard à prendre pour l'aperçu.", alert_type="light")
        steps = [policies.Step(s["code"] or "x", s["label"] or "?", int(s["offset_days"] or 0), s["template"])
                 for s in self.edited_steps()]
        try:
            frame = policies.preview(self.owner_ref, self.preview_lease.value, steps)
        except AkigError as exc:
            return pn.pane.Alert(f"**Aperçu impossible :** {escape_markdown(exc)}", alert_type="warning")
        return table(frame, page_size=8, widths={"Message": 640})

    def tomorrow_frame(self) -> pd.DataFrame:
        day = today() + dt.timedelta(days=1)
        plan = reads.reminder_plan(day=day, owner_ref=self.owner_ref or None)
        if plan.empty:
            return plan
        texts = [templates.render(row.template, templates.values(
            tenant_name=row.tenant_name, remaining=row.remaining, due_date=row.due_date,
            merchant_number=row.merchant_number, lease_ref=row.lease_ref, owner_name=row.owner_name))
            for row in plan.itertuples()]
        shown = french_dates(plan.assign(text=texts), ("due_date",))
        shown["held_out"] = shown["held_out"].map({True: "groupe témoin : non envoyé", False: "à envoyer"})
        return shown[["tenant_name", "phone", "lease_ref", "due_date", "step_label", "remaining", "held_out",
                      "text"]].rename(columns={
            "tenant_name": "Locataire", "phone": "Téléphone", "lease_ref": "Bail", "due_date": "Échéance",
            "step_label": "Étape", "remaining": "Reste dû (GNF)", "held_out": "Envoi", "text": "Message"})

    def tomorrow_pane(self, *_):
        frame = self.tomorrow_frame()
        if frame.empty:
            state = policies.policy(self.owner_ref) if self.owner_ref else {"enabled": False}
            why = "" if state["enabled"] else " (les relances de ce propriétaire sont désactivées)"
            return pn.pane.Alert(f"Aucune relance prévue demain{why}.", alert_type="light", sizing_mode="stretch_width")
        return pn.Column(pn.pane.Markdown(f"**{len(frame)} relance(s)** demain (hors désinscrits, sans numéro et "
                                          "échéances payées d'ici là)."),
                         table(frame, money=("Reste dû (GNF)",), page_size=10), sizing_mode="stretch_width")

    def today_frame(self) -> pd.DataFrame:
        frame = reads.reminder_messages(day=today(), owner_ref=self.owner_ref or None)
        if frame.empty:
            return frame
        shown = french_dates(frame, ("due_date",))
        shown = french_dates(shown, ("sent_at",), with_time=True)
        shown["status"] = shown["status"].map(lambda s: STATUS.get(s, s))
        return shown[["tenant_name", "phone", "due_date", "step_label", "status", "sent_at", "reason",
                      "body"]].rename(columns={
            "tenant_name": "Locataire", "phone": "Téléphone", "due_date": "Échéance", "step_label": "Étape",
            "status": "État", "sent_at": "Envoyé à", "reason": "Motif", "body": "Message"}).fillna("")

    def today_pane(self, *_):
        frame = self.today_frame()
        if frame.empty:
            return pn.pane.Alert("Aucune relance aujourd'hui pour ce propriétaire.", alert_type="light",
                                 sizing_mode="stretch_width")
        counts = frame["État"].value_counts()
        summary = ", ".join(f"{n} {state}" for state, n in counts.items())
        return pn.Column(pn.pane.Markdown(f"**Aujourd'hui** : {escape_markdown(summary)}."),
                         table(frame, page_size=10), sizing_mode="stretch_width")

    def __panel__(self):
        def bound(pane):
            return pn.panel(pn.bind(lambda *_: guarded(pane), self.param.owner_ref, self.param.revision),
                            loading_indicator=True, sizing_mode="stretch_width")

        owner = pn.widgets.Select.from_param(self.param.owner_ref, options=self.owner_options)
        settings = pn.Card(
            pn.Row(owner, self.merchant), pn.Row(self.enabled, self.holdout), self.save_button,
            title="Réglages", sizing_mode="stretch_width", collapsible=False)
        ladder = pn.Card(
            self.scope, pn.pane.Markdown(VARIABLES_HELP, styles={"font-size": "0.85em", "color": "#5f6b73"}),
            self.steps, pn.Row(self.add_button, self.save_ladder_button, self.reset_button),
            pn.Row(self.preview_lease, self.preview_button), bound(self.preview_pane),
            title="Échelle de relance (jours par rapport à l'échéance)", sizing_mode="stretch_width",
            collapsible=False)
        optout = pn.Card(pn.Row(self.optout_phone, self.optout_button),
                         pn.pane.Markdown("Un locataire qui répond STOP est désinscrit automatiquement, pour de bon."),
                         title="Désinscription", sizing_mode="stretch_width", collapsible=True, collapsed=True)
        return pn.Column(
            settings, pn.pane.Markdown(self.param.notice, sizing_mode="stretch_width"), ladder,
            pn.pane.Markdown("#### Ce qui partira demain"), bound(self.tomorrow_pane),
            pn.pane.Markdown("#### Relances du jour (en file, envoyées, reçues, annulées)"), bound(self.today_pane), optout,
            sizing_mode="stretch_width")
