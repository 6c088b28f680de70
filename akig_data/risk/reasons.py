"""Why a lease is at risk, in a few French words: "2 promesses non tenues ; 3 retards sur 6 échéances".

Honest and simple: for each family of features (lateness, arrears, promises, partial payments, silence,
unanswered contacts, a new lease) the lease's values are replaced by the portfolio's typical values (the
training rows' medians, stored with the model) and the lease scored again. The families whose typical
values lower the probability most are the ones pushing it up; the two or three strongest are told with
the lease's own figures, and only when the figure really is worse than typical. Names, phones and
anything personal are never features, so they can never be reasons.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

MIN_PUSH = 0.01          # a family lowering the probability by less than a point is no reason
MAX_REASONS = 3
NO_SIGNAL = "aucun signal de retard marqué"
SATURATED = 0.5          # from here a risk with no single reason is told by its figures worse than typical


def _n(value: float) -> int:
    return int(round(value)) if value == value else 0


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count <= 1 else many}"


def _lateness(row, typical) -> str | None:
    late = _n(row["late_last_6"])
    if late > typical.get("late_last_6", 0) and late > 0:
        return _plural(late, "retard", "retards") + " sur les 6 dernières échéances"
    return None


def _arrears(row, typical) -> str | None:
    months = row["arrears_months"]
    if not (months == months and months > max(typical.get("arrears_months", 0), 0.05)):
        return None
    text = f"arriérés de {months:.1f} mois de loyer".replace(".", ",")
    age = _n(row["arrears_age_days"])
    return text + (f" (depuis {age} jours)" if age > 0 else "")


def _promises(row, typical) -> str | None:
    missed = _n(row["promises_broken_12m"]) + _n(row["promises_partial_12m"])
    if missed > 0:
        return _plural(missed, "promesse non tenue", "promesses non tenues") + " sur 12 mois"
    return None


def _partial(row, typical) -> str | None:
    count = _n(row["partial_payments_6m"])
    if count > typical.get("partial_payments_6m", 0) and count > 0:
        return _plural(count, "paiement partiel", "paiements partiels") + " en 6 mois"
    return None


def _silence(row, typical) -> str | None:
    days = row["days_since_payment"]
    if days != days:
        return "aucun paiement enregistré"
    if days > max(typical.get("days_since_payment", 0), 35):
        return f"aucun paiement depuis {int(days)} jours"
    return None


def _contacts(row, typical) -> str | None:
    unreached = _n(row["calls_unreached_90d"]) + _n(row["visits_absent_90d"])
    refused = _n(row["calls_refused_90d"])
    parts = []
    if unreached > 0:
        parts.append(_plural(unreached, "appel ou visite", "appels ou visites") + " sans contact en 90 jours")
    if refused > 0:
        parts.append(_plural(refused, "refus", "refus") + " au téléphone")
    return ", ".join(parts) or None


def _tenure(row, typical) -> str | None:
    months = _n(row["tenure_months"])
    if months < 4:
        return f"bail récent ({months} mois d'historique)"
    return None


FAMILIES = (
    (("late_last_3", "late_last_6", "late30_last_6", "last_due_late", "late_share_all", "on_time_share_all"), _lateness),
    (("arrears_months", "arrears_age_days", "credit_months"), _arrears),
    (("promises_broken_12m", "promises_partial_12m", "promises_kept_12m"), _promises),
    (("partial_payments_6m",), _partial),
    (("days_since_payment", "payments_6m"), _silence),
    (("calls_unreached_90d", "visits_absent_90d", "calls_refused_90d", "calls_90d", "visits_90d"), _contacts),
    (("tenure_months",), _tenure),
)


# The columns the texts above read from a lease's row.
TOLD_COLUMNS = ("late_last_6", "arrears_months", "arrears_age_days", "promises_broken_12m", "promises_partial_12m",
                "partial_payments_6m", "days_since_payment", "calls_unreached_90d", "visits_absent_90d",
                "calls_refused_90d", "tenure_months")


def _told(row, typical, families) -> list[str]:
    """The texts of `families` (in that order) whose figure is worse than typical, at most MAX_REASONS."""
    texts = [text for text in (FAMILIES[f][1](row, typical) for f in families) if text]
    return texts[:MAX_REASONS]


def explain(model, frame: pd.DataFrame, probabilities: np.ndarray,
            typicals: Sequence[dict] | None = None) -> list[str]:
    """One short French text per row of `frame` (features of the leases scored with `model`).

    typicals: each row's typical figures, when they are not the model's own (the plain rule tells each
    owner's leases against his own leases' medians: the day's stored run does every owner's at once)."""
    if frame.empty:
        return []
    row_typicals = typicals if typicals is not None else [model.typical] * len(frame)
    pushes = []
    for columns, _ in FAMILIES:
        neutral = frame.copy()
        for column in columns:
            if typicals is None:
                neutral[column] = model.typical.get(column, math.nan)
            else:
                neutral[column] = np.array([t.get(column, math.nan) for t in typicals], dtype=float)
        pushes.append(probabilities - model.predict(neutral))
    pushes = np.vstack(pushes).T            # rows x families
    # Plain dicts of the columns the texts read: a pandas row per lease (iterrows) cost seconds for the
    # 68,797 running leases of every owner at `large` scale.
    told_columns = [c for c in TOLD_COLUMNS if c in frame.columns]
    texts = []
    for i, row in enumerate(frame[told_columns].to_dict("records")):
        order = np.argsort(-pushes[i])
        typical = row_typicals[i]
        reasons = _told(row, typical, [f for f in order if pushes[i, f] >= MIN_PUSH])
        if not reasons and probabilities[i] >= SATURATED:
            # Several signals each enough alone (six late dues out of six, and months of arrears, and broken
            # promises): putting back one family's typical values leaves the others to keep the probability
            # where it is, so no push passes MIN_PUSH. Then the figures worse than typical are the reasons,
            # strongest push first.
            reasons = _told(row, typical, order)
        texts.append(" ; ".join(reasons) if reasons else NO_SIGNAL)
    return texts
