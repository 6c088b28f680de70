"""The French words the pages show for the data layer's codes (kinds, outcomes, statuses, severities).
One place, so that the desk, the tenant's card, the site's card and the replay say the same thing."""

from __future__ import annotations

# What happened on a lease: the tenant's timeline and ledger, the missions (calls and visits).
ACTION_KIND = {"call": "Appel", "visit": "Visite", "promise": "Promesse", "payment": "Paiement", "due": "Échéance"}
# Outcomes of calls and visits, states of promises, payment methods.
OUTCOME = {
    "no_answer": "pas de réponse", "wrong_number": "mauvais numéro", "reached": "joint", "refused": "refus",
    "promise": "promesse", "paid": "payé", "absent": "absent", "kept": "tenue", "pending": "en cours",
    "partial": "partielle", "broken": "non tenue", "cash": "espèces", "orange_money": "Orange Money",
    "mtn_momo": "MTN MoMo", "bank": "banque",
}
UNIT_STATUS = {"vacant": "Vacant", "late": "En retard", "up_to_date": "À jour"}
MISSION_REASON = {"arrears": "impayés", "promise_due": "promesse à échéance", "broken_promise": "promesse non tenue"}
MISSION_STATUS = {"planned": "à faire", "done": "fait"}
PAYER_BADGE = {"gold": "🌟 or", "silver": "✅ argent", "bronze": "👍 bronze"}
ALERT_SEVERITY = {"critical": "critique", "warning": "attention", "info": "information"}
ALERT_OBJECT = {"site": "site", "agent": "agent", "tenant": "locataire", "lease": "bail", "owner": "propriétaire",
                "visit": "visite"}
ALERT_EVENT = {"opened": "ouverte", "acknowledged": "prise en compte", "resolved": "résolue"}
