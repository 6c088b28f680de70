"""Rolling-origin backtest of the risk models and of the cash forecast (`akig model backtest`,
bench/forecast.py).

Origins: the first day of each of the last `origins` months whose dues' 30-day outcomes are all known at the
data's end. At each origin D, as if it were the morning of D:
* a model per horizon is trained on the snapshots of the 24 months before D whose outcome was known before D
  (due date + horizon < D), exactly as `akig model train --as-of D` would, and scores the leases running at D;
* two baselines are fitted on the same rows: the last closed due's outcome, and the share of the last six
  dues paid late (each turned into a probability by the late rate its value had in the training rows, so
  that their Brier scores are fair to them);
* the cash forecast of D's month and the three next is drawn from the 30-day model, against two naive
  forecasts: last month's collection rate, and the same month a year earlier's rate, times the month's dues.
Features are computed once for every snapshot (they never depend on the origin: nothing after a snapshot
enters its features), outcomes once at the data's end and cut at each origin.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from akig_data.risk import features as F
from akig_data.risk import forecast
from akig_data.risk import model as M


@dataclass
class BacktestResult:
    end: dt.date
    origins: list[dt.date]
    predictions: pd.DataFrame          # origin, lease_ref, horizon, target, model, last_due, share_6, clean
    cash: pd.DataFrame                 # origin, owner_ref, month, k, actual, model, low, high, naive_last, naive_year
    notes: dict = field(default_factory=dict)


def _rate_baseline(train: pd.DataFrame, test: pd.DataFrame, column: str) -> np.ndarray:
    """The training rows' late rate for each value of `column` (missing: its own value), applied to test."""
    key_train = train[column].fillna(-1)
    rates = train.groupby(key_train)["target"].mean()
    return test[column].fillna(-1).map(rates).fillna(train["target"].mean()).to_numpy()


def run(end: dt.date, origins: int = 12, months: int = 24, max_iter: int = 150) -> BacktestResult:
    """Backtest over the `origins` months before `end` (the data's last day + 1: nothing dated end or later is
    known)."""
    end_mi = F.month_idx(end)
    origin_dates = [F.month_start(end_mi - 2 - k) for k in range(origins)][::-1]
    first = F.month_start(F.month_idx(origin_dates[0]) - months)
    snaps = F.snapshot_dates(first, origin_dates[-1])
    frame = F.features_at(snaps)
    known_by = end - dt.timedelta(days=1)
    result = F.outcomes(frame["next_due_date"].min().date(), frame["next_due_date"].max().date(), known_by)
    frame = frame.merge(result.rename(columns={"due_date": "next_due_date"}), on=["lease_ref", "next_due_date"],
                        how="left")
    preds, cash_rows = [], []
    site_months = F.site_months(F.month_idx(first) - 13, end_mi)
    for origin in origin_dates:
        cut = pd.Timestamp(origin)
        test = frame[frame["as_of"] == cut]
        models = {}
        for h in F.HORIZONS:
            train = frame[(frame["as_of"] < cut) & (frame["as_of"] >= cut - pd.DateOffset(months=months))
                          & (frame["next_due_date"] + pd.Timedelta(days=h) < cut)]
            train = train.assign(target=train[f"late_{h}"]).dropna(subset=["target"])
            models[h] = M.fit(train, h, max_iter=max_iter)
            known = test.dropna(subset=[f"late_{h}"])
            preds.append(pd.DataFrame({
                "origin": origin, "lease_ref": known["lease_ref"].to_numpy(), "horizon": h,
                "target": known[f"late_{h}"].to_numpy(dtype=int), "model": models[h].predict(known),
                "last_due": _rate_baseline(train, known, "last_due_late"),
                "share_6": _rate_baseline(train, known, "late_last_6" if h == 10 else "late30_last_6"),
                "clean": (known["arrears"].fillna(0) == 0).to_numpy(),
            }))
        cash_rows.append(_cash(origin, test, models, frame, site_months))
    cash = pd.concat(cash_rows, ignore_index=True)
    cash = cash[pd.to_datetime(cash["month"]) < pd.Timestamp(F.month_start(end_mi))]   # whole months only
    return BacktestResult(end=end, origins=origin_dates, predictions=pd.concat(preds, ignore_index=True),
                          cash=cash.reset_index(drop=True))


def _cash(origin: dt.date, test: pd.DataFrame, models: dict, frame: pd.DataFrame, site_months: pd.DataFrame
          ) -> pd.DataFrame:
    mi = F.month_idx(origin)
    leases = test.assign(p_late_30=np.minimum(models[30].predict(test), models[10].predict(test)))
    # g from the months -7..-2 before the origin, with the outcomes known before it.
    history = frame[(frame["next_due_date"] >= pd.Timestamp(F.month_start(mi - 7)))
                    & (frame["next_due_date"] < pd.Timestamp(F.month_start(mi - 1)))]
    history = history.drop_duplicates(["lease_ref", "next_due_date"])
    history = history.assign(due_date=history["next_due_date"], amount=history["next_due_amount"],
                             late_30=history["late_30"].where(history["next_due_date"] + pd.Timedelta(days=30)
                                                              < pd.Timestamp(origin)))
    g = forecast.late_shares(history[["lease_ref", "due_date", "amount", "late_30"]],
                            site_months[site_months["mi"].between(mi - 7, mi - 2)])
    spreads = forecast.owner_spreads(site_months[site_months["mi"].between(mi - 7, mi - 2)])
    sim = forecast.simulate(leases.assign(rent=leases["next_due_amount"]), origin, g, spreads=spreads)
    sim = sim[sim["site_ref"].isna()]
    by_owner = site_months.groupby(["owner_ref", "mi"])[["due", "collected"]].sum()
    rows = []
    for r in sim.itertuples():
        m = F.month_idx(r.month)
        k = m - mi

        def at(month: int, column: str) -> float:
            return float(by_owner[column].get((r.owner_ref, month), np.nan))

        actual, due = at(m, "collected"), at(m, "due")
        rate_last = at(mi - 1, "collected") / at(mi - 1, "due") if at(mi - 1, "due") else np.nan
        rate_year = at(m - 12, "collected") / at(m - 12, "due") if at(m - 12, "due") else np.nan
        rows.append((origin, r.owner_ref, r.month, k, actual, r.expected, r.low_80, r.high_80,
                     rate_last * due, rate_year * due, float(np.mean(g))))
    return pd.DataFrame(rows, columns=["origin", "owner_ref", "month", "k", "actual", "model", "low", "high",
                                       "naive_last", "naive_year", "g"])


def calibration(pred: pd.DataFrame) -> pd.DataFrame:
    """Deciles of the predicted probability: mean predicted vs observed late share."""
    bins = pd.qcut(pred["model"].rank(method="first"), 10, labels=False)
    return pred.groupby(bins).agg(rows=("target", "size"), predicted=("model", "mean"), observed=("target", "mean"))


def _mape(actual: pd.Series, forecast_: pd.Series) -> float:
    ok = (actual > 0) & forecast_.notna()
    return float((abs(forecast_[ok] - actual[ok]) / actual[ok]).mean() * 100)


def render(result: BacktestResult) -> str:
    """The Markdown tables: discrimination and Brier against the baselines (all leases, and leases without
    arrears at the origin), the calibration deciles, and the cash forecast's MAPE per owner-month."""
    out = [f"Rolling origins: {len(result.origins)} (first day of {result.origins[0]:%Y-%m} .. "
           f"{result.origins[-1]:%Y-%m}), data until {result.end - dt.timedelta(days=1)}.", ""]
    out += ["| Horizon | Leases | Rows | Late share | AUC model | AUC last due | AUC share of 6 | Brier model | "
            "Brier last due | Brier share of 6 | Brier gain vs better baseline |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for h in F.HORIZONS:
        for label, subset in (("all", None), ("without arrears", True)):
            p = result.predictions[result.predictions["horizon"] == h]
            if subset:
                p = p[p["clean"]]
            s = {c: M.scores(p["target"], p[c]) for c in ("model", "last_due", "share_6")}
            best = min(s["last_due"]["brier"], s["share_6"]["brier"])
            gain = (1 - s["model"]["brier"] / best) * 100 if best else float("nan")
            out.append(f"| {h} days | {label} | {len(p)} | {p['target'].mean():.1%} | {s['model']['auc']:.3f} | "
                       f"{s['last_due']['auc']:.3f} | {s['share_6']['auc']:.3f} | {s['model']['brier']:.4f} | "
                       f"{s['last_due']['brier']:.4f} | {s['share_6']['brier']:.4f} | {gain:+.1f} % |")
    for h in F.HORIZONS:
        cal = calibration(result.predictions[result.predictions["horizon"] == h])
        out += ["", f"Calibration, {h} days (deciles of the predicted probability):", "",
                "| Decile | Rows | Predicted | Observed |", "|---:|---:|---:|---:|"]
        out += [f"| {i + 1} | {r.rows} | {r.predicted:.1%} | {r.observed:.1%} |" for i, r in enumerate(cal.itertuples())]
    cash = result.cash
    out += ["", "Cash forecast, MAPE per owner-month (month 0 = the origin's month):", "",
            "| Month | Owner-months | MAPE model | MAPE last month's rate | MAPE same month last year | "
            "Gain vs better naive | 80 % interval holds the actual |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for k in sorted(cash["k"].unique()):
        c = cash[(cash["k"] == k) & (cash["actual"] > 0)]
        m, a, b = _mape(c["actual"], c["model"]), _mape(c["actual"], c["naive_last"]), _mape(c["actual"], c["naive_year"])
        best = np.nanmin([a, b])
        cover = ((c["actual"] >= c["low"]) & (c["actual"] <= c["high"])).mean()
        out.append(f"| {k} | {len(c)} | {m:.1f} % | {a:.1f} % | {b:.1f} % | {(1 - m / best) * 100:+.1f} % | {cover:.0%} |")
    return "\n".join(out)
