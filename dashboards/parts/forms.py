"""The forms that record a call, a visit, a promise and a payment for one lease (used by the desk).

Each form calls the akig_data command as the session's user; a refusal shows its French message and
keeps what was typed; a success says what was recorded (receipt number for a payment), clears the
form and tells the page to refresh (`on_saved`).
"""

from __future__ import annotations

import datetime as dt
from typing import Callable

import panel as pn
import param

from akig_data.writes import collection
from akig_data.errors import AkigError
from akig_data.access.scope import current
from dashboards.escape import escape_markdown
from dashboards.labels_fr import OUTCOME

METHOD_LABELS = {"Espèces": "cash", "Orange Money": "orange_money", "MTN MoMo": "mtn_momo", "Banque": "bank"}


def _options(values) -> dict[str, str]:
    return {OUTCOME.get(v, v).capitalize(): v for v in values}


class ActionForms(pn.viewable.Viewer):
    """Four tabs of forms for `lease_ref`, credited to `agent_ref` (a manager picks the agent; an agent's
    own is forced by the data layer)."""

    lease_ref = param.String(default="")
    agent_ref = param.String(default="")
    message = param.String(default="")

    def __init__(self, on_saved: Callable[[], None] | None = None, **params):
        super().__init__(**params)
        self._on_saved = on_saved
        self.call_outcome = pn.widgets.Select(label="Résultat de l'appel", options=_options(collection.CALL_OUTCOMES))
        self.call_note = pn.widgets.TextAreaInput(label="Note", max_length=2000, height=70)
        self.visit_outcome = pn.widgets.Select(label="Résultat de la visite", options=_options(collection.VISIT_OUTCOMES))
        self.visit_lat = pn.widgets.FloatInput(label="Latitude", value=None)
        self.visit_lon = pn.widgets.FloatInput(label="Longitude", value=None)
        self.visit_accuracy = pn.widgets.FloatInput(label="Précision (m)", value=None, start=0)
        self.visit_note = pn.widgets.TextAreaInput(label="Note", max_length=2000, height=70)
        self.promise_amount = pn.widgets.IntInput(label="Montant promis (GNF)", value=None, start=0, step=5000)
        self.promise_date = pn.widgets.DatePicker(label="Date promise", value=dt.date.today() + dt.timedelta(days=3))
        self.payment_amount = pn.widgets.IntInput(label="Montant payé (GNF)", value=None, start=0, step=5000)
        self.payment_method = pn.widgets.Select(label="Moyen", options=METHOD_LABELS)
        self.payment_reference = pn.widgets.TextInput(label="Référence de la transaction", placeholder="obligatoire sauf espèces")
        self.buttons = {kind: pn.widgets.Button(label=label, color="primary")
                        for kind, label in (("call", "Enregistrer l'appel"), ("visit", "Enregistrer la visite"),
                                            ("promise", "Enregistrer la promesse"), ("payment", "Enregistrer le paiement"))}
        for kind, button in self.buttons.items():
            button.on_click(lambda _e, k=kind: self.save(k))

    def _common(self) -> dict:
        who = current()
        return {"who": who, "agent_ref": self.agent_ref or None, "address": None}

    def save(self, kind: str) -> bool:
        """Record one action; True when it was stored."""
        if not self.lease_ref:
            self.message = "⚠️ Choisissez d'abord une mission ou un bail."
            return False
        try:
            if kind == "call":
                result = collection.record_call(self.lease_ref, self.call_outcome.value, note=self.call_note.value,
                                                **self._common())
                self.call_note.value = ""
                text = f"Appel enregistré ({result.ref})."
            elif kind == "visit":
                result = collection.record_visit(
                    self.lease_ref, self.visit_outcome.value, lat=self.visit_lat.value, lon=self.visit_lon.value,
                    accuracy_m=self.visit_accuracy.value, note=self.visit_note.value, **self._common())
                proof = "preuve de présence" if result.details["proof"] else "SANS preuve de présence (" + \
                    ", ".join(result.details["flags"]) + ")"
                text = f"Visite enregistrée ({result.ref}), {proof}."
            elif kind == "promise":
                result = collection.record_promise(self.lease_ref, self.promise_amount.value, self.promise_date.value,
                                                   **self._common())
                text = f"Promesse enregistrée ({result.ref}) : {result.details['amount']:,} GNF le {self.promise_date.value:%d/%m/%Y}.".replace(",", "\u202f")
            else:
                result = collection.record_payment(self.lease_ref, self.payment_amount.value, self.payment_method.value,
                                                   reference=self.payment_reference.value, **self._common())
                self.payment_reference.value = ""
                text = f"Paiement enregistré : reçu {result.details['receipt_no']}."
        except AkigError as exc:
            self.message = f"❌ {exc}"
            return False
        self.message = f"✅ {text}"
        if self._on_saved is not None:
            self._on_saved()
        return True

    def __panel__(self):
        def card(*widgets):
            return pn.Column(*widgets, sizing_mode="stretch_width")

        tabs = pn.Tabs(
            ("Appel", card(self.call_outcome, self.call_note, self.buttons["call"])),
            ("Visite", card(self.visit_outcome, pn.Row(self.visit_lat, self.visit_lon), self.visit_accuracy,
                            self.visit_note, self.buttons["visit"])),
            ("Promesse", card(self.promise_amount, self.promise_date, self.buttons["promise"])),
            ("Paiement", card(self.payment_amount, self.payment_method, self.payment_reference, self.buttons["payment"])),
            # not dynamic: a form built when its tab opens could be replaced while the user types in it
            sizing_mode="stretch_width",
        )
        # the message repeats refusals that quote what was typed (a transaction reference...): text
        return pn.Column(tabs, pn.pane.Markdown(pn.bind(escape_markdown, self.param.message),
                                                css_classes=["akig-form-message"]),
                         sizing_mode="stretch_width")
