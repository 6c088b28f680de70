"""The chance that a lease pays when an agent visits it: what the day's missions multiply the arrears by to
rank them by expected recovery (akig_data/writes/missions.py).

Two ways to estimate it, the better one used when it exists:

* **The model** (`akig model train` stores it beside the late-payment models, target `paid_after_visit`):
  the probability that the lease receives a payment on the visit's day or in the VISIT_DAYS after it,
  learnt from every past visit (sql/ visit_outcomes) with the lease's risk features at the snapshot on or
  before the visit's day, so that nothing it learns from happened after the visit. Same estimator and
  calibration as the risk scores (akig_data/risk/model.py): the missions use it as a probability.
* **The rule** (before any model is trained, or for a lease the features do not cover, e.g. a lease ended
  with arrears left): a transparent product of the lateness, the promise-kept rate and the last contact's
  outcome (`rule_chance`, documented in docs/explanation/collection.md).

The model's stored metrics compare it with the rule on the newest visits held out, so `akig model show`
says whether it earns its place.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from akig_data.risk import features as F
from akig_data.risk import model as M

TARGET = "paid_after_visit"
VISIT_DAYS = 14

_LATENESS = ((30, 0.9), (60, 0.7), (90, 0.5))
_CONTACT = {"reached": 1.1, "promise": 1.1, "paid": 1.1, "no_answer": 0.9, "absent": 0.9, "refused": 0.6,
            "wrong_number": 0.5}



def rule_chance(days_late: int, came_due: int | None, kept: int | None, last_outcome: str | None) -> float:
    """lateness × (0.5 + 0.5 × promise-kept rate) × last-contact factor, clamped to 5–95 %: lateness 0.9 up
    to 30 days late, 0.7 to 60, 0.5 to 90, 0.3 beyond; kept rate 0.5 without history."""
    lateness = next((f for limit, f in _LATENESS if days_late <= limit), 0.3)
    kept_rate = (kept or 0) / came_due if came_due else 0.5
    chance = lateness * (0.5 + 0.5 * kept_rate) * _CONTACT.get(last_outcome or "", 1.0)
    return min(0.95, max(0.05, chance))


def rule_from_features(frame: pd.DataFrame) -> np.ndarray:
    """The rule as far as the features show it (the hold-out's baseline): the arrears' age for the lateness,
    the last 12 months' promises for the kept rate, no last-contact factor."""
    age = frame["arrears_age_days"].fillna(0).to_numpy(dtype=float)
    kept = frame["promises_kept_12m"].fillna(0).to_numpy(dtype=float)
    came = kept + frame["promises_broken_12m"].fillna(0).to_numpy(dtype=float) \
        + frame["promises_partial_12m"].fillna(0).to_numpy(dtype=float)
    return np.array([rule_chance(int(a), int(c), int(k), None) for a, c, k in zip(age, came, kept)])


def training_rows(as_of: dt.date, months: int = M.DEFAULT_MONTHS, days: int = VISIT_DAYS) -> pd.DataFrame:
    """Every visit of the `months` before as_of whose window is over by the day before as_of, with the
    lease's features at its snapshot and `target` = 1 when a payment followed."""
    known_by = as_of - dt.timedelta(days=1)
    first = F.month_start(F.month_idx(as_of) - months)
    visits = F.visit_outcomes(first, known_by, days, known_by)
    if visits.empty:
        return visits.assign(target=pd.Series(dtype=float))
    snaps = sorted({d.date() for d in visits["snapshot"]})
    frame = F.features_at(snaps)
    rows = visits.merge(frame, left_on=["snapshot", "lease_ref"], right_on=["as_of", "lease_ref"], how="inner")
    return rows.assign(target=rows["paid"].astype(int)).reset_index(drop=True)


def train(as_of: dt.date, months: int = M.DEFAULT_MONTHS, max_iter: int = 200, holdout_days: int = 61,
          days: int = VISIT_DAYS) -> M.RiskModel:
    """Fit the visit model on the visits known on as_of; the metrics compare it with the rule on the newest
    `holdout_days` of visits (scored by a model fitted on the earlier ones), then it is refitted on all."""
    rows = training_rows(as_of, months, days)
    if rows.empty or rows["target"].nunique() < 2:
        raise ValueError(f"not enough visits with a known outcome before {as_of} to learn the chance to pay")
    metrics: dict[str, Any] = {}
    cut = rows["visit_day"].max() - pd.Timedelta(days=holdout_days)
    early, late = rows[rows["visit_day"] <= cut], rows[rows["visit_day"] > cut]
    if holdout_days and len(early) > 200 and late["target"].nunique() == 2 and early["target"].nunique() == 2:
        probe = M.fit(early, days, max_iter=max_iter)
        y = late["target"].to_numpy()
        metrics["holdout"] = M.scores(y, probe.predict(late))
        metrics["holdout_rule"] = M.scores(y, rule_from_features(late))
    model = M.fit(rows, days, max_iter=max_iter)
    model.metrics.update(metrics)
    model.metrics["paid_share"] = model.metrics.pop("late_share")
    model.target = TARGET
    model.trained_as_of = as_of
    model.window = (rows["visit_day"].min().date(), rows["visit_day"].max().date())
    return model


def chances(day: dt.date) -> tuple[dict[str, float], M.RiskModel | None]:
    """Each running lease's probability of paying if visited on `day`, by the newest visit model; ({}, None)
    when none is stored (the missions then use the rule)."""
    model = M.latest_visit_model()
    if model is None:
        return {}, None
    frame = F.features_at([day])
    if frame.empty:
        return {}, model
    return dict(zip(frame["lease_ref"], model.predict(frame).astype(float))), model
