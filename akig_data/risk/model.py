"""The late-payment models: will a lease's next due be paid in full within 10 days of its date (and within
30)? One scikit-learn HistGradientBoostingClassifier per horizon, calibrated with CalibratedClassifierCV.

* Gradient-boosted trees take the features as they come (counts, shares, money, missing values for a lease
  without history, categories for site, commune and month) and their interactions (arrears matter more
  after a broken promise) without scaling or hand-made crosses.
* Calibrated, because the probabilities are used as probabilities: the cash forecast draws payments from
  them and an owner reads "72 %". Isotonic regression (non-parametric: it corrects any monotone
  distortion, which boosted trees' scores often have) when the training set is large; Platt's sigmoid
  (two parameters, hard to overfit) under ISOTONIC_MIN_ROWS rows, where isotonic steps would follow noise.
  The calibration folds group a lease's rows together (GroupKFold), so a lease never calibrates itself.

`train(as_of)` learns from the dues whose outcome is known on as_of only (due date + horizon before it) and
stores the model in risk_models (joblib bytes, with its version, features, window and metrics); the reads
score with the newest model of each horizon.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from akig_data.risk import features as F

ISOTONIC_MIN_ROWS = 5_000
DEFAULT_MONTHS = 24


@dataclass
class RiskModel:
    horizon: int
    estimator: Any
    encoder: F.Encoder
    version: str = F.FEATURES_VERSION
    trained_as_of: dt.date | None = None
    window: tuple[dt.date, dt.date] | None = None
    metrics: dict = field(default_factory=dict)
    model_id: int | None = None
    typical: dict = field(default_factory=dict)   # the training rows' medians: what the reasons compare with
    target: str = "late"       # or "paid_after_visit" (akig_data/risk/visits.py)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of the target: the next due not paid in full within the horizon ("late"), or a payment
        within the horizon after a visit ("paid_after_visit")."""
        if frame.empty:
            return np.zeros(0)
        return self.estimator.predict_proba(self.encoder.transform(frame))[:, 1]


def fit(frame: pd.DataFrame, horizon: int, max_iter: int = 200, random_state: int = 0) -> RiskModel:
    """Fit and calibrate a model on training rows (features + target)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import GroupKFold

    encoder = F.Encoder.fit(frame)
    X = encoder.transform(frame)
    y = frame["target"].to_numpy(dtype=int)
    if len(np.unique(y)) < 2:
        raise ValueError("the training rows hold a single outcome: not enough history to learn from")
    booster = HistGradientBoostingClassifier(
        max_iter=max_iter, learning_rate=0.06, max_leaf_nodes=31, min_samples_leaf=40, l2_regularization=1.0,
        categorical_features=encoder.categorical_mask(), early_stopping=False, random_state=random_state,
    )
    method = "isotonic" if len(frame) >= ISOTONIC_MIN_ROWS else "sigmoid"
    folds = list(GroupKFold(n_splits=3).split(X, y, groups=frame["lease_ref"].to_numpy()))
    estimator = CalibratedClassifierCV(booster, method=method, cv=folds)
    estimator.fit(X, y)
    typical = {c: float(frame[c].median()) for c in F.NUMERIC if frame[c].notna().any()}
    return RiskModel(horizon=horizon, estimator=estimator, encoder=encoder, typical=typical,
                     metrics={"rows": int(len(frame)), "late_share": float(y.mean()), "calibration": method})


def scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    y = np.asarray(y, dtype=int)
    auc = float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")
    return {"auc": auc, "brier": float(brier_score_loss(y, p)), "rows": int(len(y))}


def train(as_of: dt.date, horizon: int = 10, months: int = DEFAULT_MONTHS, max_iter: int = 200,
          holdout_days: int = 61) -> RiskModel:
    """Train on the dues known on as_of; metrics from a time hold-out (the last `holdout_days` of snapshots,
    scored by a model fitted on the earlier ones), then the stored model is refitted on everything."""
    rows = F.training_rows(as_of, horizon, months)
    if rows.empty:
        raise ValueError(f"no due with a known outcome before {as_of}: nothing to learn from")
    metrics: dict[str, Any] = {}
    cut = rows["as_of"].max() - pd.Timedelta(days=holdout_days)
    early, late = rows[rows["as_of"] <= cut], rows[rows["as_of"] > cut]
    if holdout_days and len(early) > 200 and late["target"].nunique() == 2 and early["target"].nunique() == 2:
        probe = fit(early, horizon, max_iter=max_iter)
        metrics["holdout"] = scores(late["target"].to_numpy(), probe.predict(late))
    model = fit(rows, horizon, max_iter=max_iter)
    model.metrics.update(metrics)
    model.trained_as_of = as_of
    model.window = (rows["as_of"].min().date(), rows["as_of"].max().date())
    return model


# -- storage ------------------------------------------------------------------------------------------------

_INSERT = ("INSERT INTO risk_models (target, horizon_days, version, trained_as_of, window_from, window_to,"
           " features, metrics, model) VALUES (:target, :horizon, :version, :as_of, :wfrom, :wto,"
           " CAST(:features AS jsonb), CAST(:metrics AS jsonb), :model) RETURNING id")


def to_bytes(model: RiskModel) -> bytes:
    import joblib

    buffer = io.BytesIO()
    joblib.dump({"estimator": model.estimator, "categories": model.encoder.categories, "typical": model.typical},
                buffer, compress=3)
    return buffer.getvalue()


def store(model: RiskModel) -> int:
    """Save a trained model (the tables' owner's connection: the CLI's); reads depending on risk_models
    miss their cache from now on, so the server scores with it at once."""
    import sklearn
    import sqlalchemy as sa

    from akig_data.runtime import get_runtime

    runtime = get_runtime()
    metrics = {**model.metrics, "sklearn": sklearn.__version__}
    with runtime.engine.begin() as conn:
        model_id = conn.execute(sa.text(_INSERT), {
            "target": model.target, "horizon": model.horizon, "version": f"{model.version}/sklearn-{sklearn.__version__}",
            "as_of": model.trained_as_of, "wfrom": model.window[0], "wto": model.window[1],
            "features": json.dumps({"numeric": list(F.NUMERIC), "categorical": list(F.CATEGORICAL)}),
            "metrics": json.dumps(metrics, default=float), "model": to_bytes(model),
        }).scalar_one()
    runtime.memo.bump(["risk_models"])
    model.model_id = model_id
    return model_id


_STORED = ("SELECT id, target, horizon_days, version, trained_as_of, window_from, window_to, metrics::text AS metrics,"
           " created_at FROM risk_models ORDER BY created_at DESC, id DESC")


def stored() -> list:
    """The stored models, newest first (without their bytes): `akig model show`."""
    import sqlalchemy as sa

    from akig_data.runtime import get_runtime

    with get_runtime().engine.connect() as conn:
        return conn.execute(sa.text(_STORED)).all()


_VISIT_LATEST = "SELECT * FROM risk_model_newest('paid_after_visit')"


def latest_visit_model() -> RiskModel | None:
    """The newest stored model of the chance to pay after a visit (None before one is trained). Read through
    the read role, as the reads load theirs: the server's own role does not read risk_models."""
    from akig_data.access.scope import ALL
    from akig_data.engine import fetch_arrow
    from akig_data.runtime import get_runtime

    runtime = get_runtime()
    rows = fetch_arrow(runtime.engine_for_reads(), _VISIT_LATEST, {}, scope=ALL,
                       row_security=runtime.settings.row_security).to_pylist()
    if not rows:
        return None
    model = from_row(rows[0])
    model.target = "paid_after_visit"
    return model


_LOADED: dict[int, RiskModel] = {}
_LOCK = threading.Lock()


def from_row(row: dict) -> RiskModel:
    """The model of a risk_model_latest row, unpickled once per process (kept by id). The bytes come from
    our own database, written by `akig model train` as the tables' owner: trusted like the code."""
    import joblib

    model_id = int(row["model_id"])
    with _LOCK:
        if model_id not in _LOADED:
            payload = joblib.load(io.BytesIO(row["model"]))
            _LOADED[model_id] = RiskModel(
                horizon=int(row["horizon_days"]), estimator=payload["estimator"],
                encoder=F.Encoder(payload["categories"]), version=row["version"],
                trained_as_of=row["trained_as_of"], window=(row["window_from"], row["window_to"]),
                metrics=json.loads(row["metrics"]), model_id=model_id, typical=payload["typical"])
        return _LOADED[model_id]


class RecentLatenessRule:
    """What the reads score with before any model is trained (a fresh install, a new database): the share of
    the lease's last six dues not paid in full within the horizon, with one late and one paid due imagined
    (Laplace's rule: a lease without history gets 50 %, not 0 or 1). Transparent, never calibrated on
    anything; `akig model train` replaces it. The reasons compare with the scored leases' own medians."""

    model_id = None
    version = "rule:recent-lateness"

    def __init__(self, horizon: int, frame: pd.DataFrame):
        self.horizon = horizon
        self.typical = {c: float(frame[c].median()) for c in F.NUMERIC if c in frame and frame[c].notna().any()}

    @staticmethod
    def typical_by(frame: pd.DataFrame, key: str) -> dict[object, dict[str, float]]:
        """The typical figures the rule would have for each value of `key` (each owner's leases), in one
        grouped pass: the same medians as one rule per value (pandas' grouped median and Series.median take
        the middle value, or the mean of the two middle ones, alike), without a frame per owner."""
        columns = [c for c in F.NUMERIC if c in frame]
        grouped = frame.groupby(key)[columns]
        medians, counts = grouped.median(), grouped.count()
        return {value: {c: float(medians.at[value, c]) for c in columns if counts.at[value, c] > 0}
                for value in medians.index}

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        late = frame["late_last_6" if self.horizon <= 10 else "late30_last_6"].fillna(0).to_numpy(dtype=float)
        seen = np.minimum(frame["tenure_months"].fillna(0).to_numpy(dtype=float), 6)
        return (late + 1) / (seen + 2)
