"""The risk models' inputs: the features of each lease's next due at an as-of date and the dues' outcomes,
both computed in PostgreSQL (sql/ risk_features_at, risk_due_outcomes), turned here into the matrix the
models take. The SQL of this package is here and only here (parameterised calls of those functions).

No personal attribute (name, phone, e-mail, gender) is a feature, or even fetched: the SQL functions do not
read them. Site and commune are categories; so is the due's month (seasons: school fees, Ramadan, Tabaski).
"""

from __future__ import annotations

import datetime as dt
from typing import Sequence

import numpy as np
import pandas as pd

from akig_data.access.scope import ALL
from akig_data.engine import fetch_arrow
from akig_data.runtime import get_runtime

FEATURES_VERSION = "risk-features-1"
HORIZONS = (10, 30)

# In the model's column order. docs/explanation/risk-and-forecast.md describes each one.
NUMERIC = (
    "days_to_due", "rent", "tenure_months",
    "late_last_3", "late_last_6", "late30_last_6", "last_due_late", "late_share_all", "on_time_share_all",
    "arrears_months", "credit_months", "arrears_age_days",
    "payments_6m", "partial_payments_6m", "days_since_payment",
    "promises_kept_12m", "promises_broken_12m", "promises_partial_12m", "promises_pending",
    "calls_90d", "calls_unreached_90d", "calls_refused_90d", "visits_90d", "visits_absent_90d",
    "contacts_promise_90d",
)
CATEGORICAL = ("site_ref", "commune", "due_month")
FEATURES = NUMERIC + CATEGORICAL
# HistGradientBoosting takes at most 255 categories: the most frequent sites keep their own, others are
# "missing" (the commune still tells where they are).
MAX_CATEGORIES = 250

_FEATURES_AT = ("SELECT * FROM risk_features_at(CAST(:as_of AS date[]), CAST(:owner_ref AS text))")
_OUTCOMES = ("SELECT * FROM risk_due_outcomes(CAST(:date_from AS date), CAST(:date_to AS date),"
             " CAST(:known_by AS date), CAST(:owner_ref AS text))")
_VISIT_OUTCOMES = ("SELECT * FROM visit_outcomes(CAST(:date_from AS date), CAST(:date_to AS date),"
                   " CAST(:days AS integer), CAST(:known_by AS date), CAST(:owner_ref AS text))")
_SITE_MONTHS = ("SELECT * FROM risk_site_months(CAST(:from_mi AS integer), CAST(:to_mi AS integer),"
                " CAST(:owner_ref AS text))")


def _frame(sql: str, **params) -> pd.DataFrame:
    """Run one of this module's calls with every owner in scope (training and backtests are portfolio-wide;
    the owner-scoped reads go through akig_data.reads)."""
    runtime = get_runtime()
    table = fetch_arrow(runtime.engine_for_reads(), sql, params, scope=ALL,
                        row_security=runtime.settings.row_security)
    return table.to_pandas()


def features_at(dates: Sequence[dt.date], owner_ref: str | None = None) -> pd.DataFrame:
    """Features of every running lease's next due at each date (one row per date and lease)."""
    if not dates:
        return pd.DataFrame(columns=("as_of", "lease_ref", "next_due_date") + FEATURES)
    frame = _frame(_FEATURES_AT, as_of=sorted(set(dates)), owner_ref=owner_ref)
    return normalise(frame)


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as datetime64, numbers as float (NULL -> NaN: "no history yet" is information, kept missing)."""
    frame = frame.copy()
    for column in ("as_of", "next_due_date"):
        frame[column] = pd.to_datetime(frame[column])
    for column in NUMERIC:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def outcomes(date_from: dt.date, date_to: dt.date, known_by: dt.date, owner_ref: str | None = None) -> pd.DataFrame:
    """Each due dated date_from..date_to: late_10 / late_30 (NaN while unknown on known_by)."""
    frame = _frame(_OUTCOMES, date_from=date_from, date_to=date_to, known_by=known_by, owner_ref=owner_ref)
    frame["due_date"] = pd.to_datetime(frame["due_date"])
    for h in HORIZONS:
        frame[f"late_{h}"] = frame[f"late_{h}"].astype("float")
    return frame


def visit_outcomes(date_from: dt.date, date_to: dt.date, days: int, known_by: dt.date) -> pd.DataFrame:
    """Each visit from date_from to date_to whose `days` are over on known_by: its snapshot and whether a
    payment followed (akig_data/risk/visits.py learns from them)."""
    frame = _frame(_VISIT_OUTCOMES, date_from=date_from, date_to=date_to, days=days, known_by=known_by,
                   owner_ref=None)
    for column in ("visit_day", "snapshot"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def site_months(from_mi: int, to_mi: int, owner_ref: str | None = None) -> pd.DataFrame:
    """Each site's dues and collections per month (month_idx = year * 12 + month - 1)."""
    return _frame(_SITE_MONTHS, from_mi=from_mi, to_mi=to_mi, owner_ref=owner_ref)


def month_idx(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def month_start(mi: int) -> dt.date:
    return dt.date(mi // 12, mi % 12 + 1, 1)


def snapshot_dates(first: dt.date, last: dt.date) -> list[dt.date]:
    """The 1st and the 16th of every month from first to last: as-of dates spread over the month, so that
    the training rows see every distance to the next due."""
    dates = []
    mi = month_idx(first)
    while True:
        for day in (1, 16):
            d = month_start(mi).replace(day=day)
            if first <= d <= last:
                dates.append(d)
        if month_start(mi) > last:
            return dates
        mi += 1


def training_rows(as_of: dt.date, horizon: int, months: int = 24) -> pd.DataFrame:
    """Features and outcome of the next due at every snapshot of the `months` before as_of whose outcome is
    known on as_of (due date + horizon <= as_of - 1: paid in full within the horizon or not, by what the
    payments dated before as_of show)."""
    last_known = as_of - dt.timedelta(days=1)
    first = month_start(month_idx(as_of) - months)
    dates = snapshot_dates(first, last_known - dt.timedelta(days=horizon))
    frame = features_at(dates)
    if frame.empty:
        return frame.assign(target=pd.Series(dtype=float))
    return attach_outcomes(frame, horizon, last_known)


def attach_outcomes(frame: pd.DataFrame, horizon: int, known_by: dt.date) -> pd.DataFrame:
    """frame + `target` (the next due's outcome at `horizon`), keeping the rows whose outcome is known."""
    result = outcomes(frame["next_due_date"].min().date(), frame["next_due_date"].max().date(), known_by)
    merged = frame.merge(result[["lease_ref", "due_date", f"late_{horizon}"]],
                         left_on=["lease_ref", "next_due_date"], right_on=["lease_ref", "due_date"], how="left")
    merged = merged.rename(columns={f"late_{horizon}": "target"}).drop(columns=["due_date"])
    return merged[merged["target"].notna()].reset_index(drop=True)


class Encoder:
    """Turns feature frames into the model's float matrix: numbers as they are, categories as codes fixed
    at training time (an unseen site or commune is "missing")."""

    def __init__(self, categories: dict[str, list] | None = None):
        self.categories = categories or {}

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> "Encoder":
        categories = {}
        for column in CATEGORICAL:
            counts = frame[column].astype(str).value_counts()
            categories[column] = sorted(counts.index[:MAX_CATEGORIES].tolist())
        return cls(categories)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        parts = [frame[list(NUMERIC)].to_numpy(dtype=float)]
        for column in CATEGORICAL:
            index = {v: i for i, v in enumerate(self.categories[column])}
            codes = frame[column].astype(str).map(index).astype(float)
            parts.append(codes.to_numpy()[:, None])
        return np.hstack(parts)

    @staticmethod
    def categorical_mask() -> list[bool]:
        return [False] * len(NUMERIC) + [True] * len(CATEGORICAL)
