"""The reminders' French templates: which variables they may use, checked when a manager saves one, and
the message a tenant gets.

A template is text with `{variable}` fields (Python's format syntax, the fields only: no attribute, index,
conversion or format spec, so a template cannot reach anything but the values below). Unknown fields,
unbalanced braces and messages longer than three SMS are refused with a French message.
"""

from __future__ import annotations

import datetime as dt
import string
from typing import Any, Mapping

from akig_data.errors import InvalidParameter

VARIABLES = {
    "locataire": "le nom du locataire",
    "montant": "le montant restant dû de l'échéance (ex. 1 250 000 GNF)",
    "echeance": "la date de l'échéance (jj/mm/aaaa)",
    "marchand": "le numéro marchand mobile money du propriétaire",
    "reference": "la référence de paiement du bail (à saisir dans le transfert)",
    "proprietaire": "le nom du propriétaire",
}
MAX_LENGTH = 480          # three SMS of 160 characters
_FORMATTER = string.Formatter()


def check(template: Any) -> str:
    """The template, stripped, if it can be rendered; InvalidParameter (French) says what is wrong."""
    if not isinstance(template, str) or not template.strip():
        raise InvalidParameter("Le modèle de message est vide.")
    template = template.strip()
    if len(template) > MAX_LENGTH:
        raise InvalidParameter(f"Modèle trop long ({len(template)} caractères, au plus {MAX_LENGTH}).")
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in _FORMATTER.parse(template)
                  if name is not None]
    except ValueError:
        raise InvalidParameter("Accolades mal fermées dans le modèle : écrivez {locataire}, {montant} …") from None
    for name, spec, conversion in fields:
        if name not in VARIABLES or spec or conversion:
            raise InvalidParameter(f"Variable inconnue dans le modèle : {{{name}}}. Variables possibles : "
                                   + ", ".join(f"{{{v}}}" for v in VARIABLES) + ".")
    return template


def gnf(amount: int) -> str:
    """1250000 -> "1 250 000 GNF" with plain spaces: an SMS in the GSM alphabet has none of the narrow
    no-break spaces the apps use (one would turn the whole message into UCS-2, 70 characters a part)."""
    return f"{int(amount):,} GNF".replace(",", " ")


def values(*, tenant_name: str, remaining: int, due_date: dt.date, merchant_number: str | None, lease_ref: str,
           owner_name: str) -> dict[str, str]:
    return {"locataire": tenant_name, "montant": gnf(remaining), "echeance": f"{due_date:%d/%m/%Y}",
            "marchand": merchant_number or "votre propriétaire", "reference": lease_ref, "proprietaire": owner_name}


def render(template: str, fields: Mapping[str, str]) -> str:
    """The message: the checked template with the values put in, on one line."""
    text = check(template).format_map({name: str(fields.get(name, "")) for name in VARIABLES})
    return " ".join(text.split())
