"""Late-payment risk and cash forecast: the features come from SQL (risk_features), the newest stored model of
each horizon (risk_model_latest) scores them here, in Python, since the models are scikit-learn's
(akig_data/risk). Owner-scoped and memoized like every read: the features run under the caller's scope
(row-level security), and a new model (`akig model train`) or any write to the ledger or the collection work
drops the cached answers.

A day's answers are also stored once computed (akig_data/risk/stored_scores.py, sql/047): when the stored run
of the asked date is there, the reads answer from it (the same figures, in milliseconds); otherwise they
compute, as the run itself does, with the functions below.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from akig_data.reads.registry import TODAY, read, sql_table
from akig_data.reads.shared import CONTACT_TABLES, LEDGER_TABLES

RISK_TABLES = LEDGER_TABLES + CONTACT_TABLES + ("risk_models",)


def _model(horizon: int, frame: pd.DataFrame):
    """The newest stored model of the horizon; before any is trained, the transparent rule of
    akig_data.risk.model.RecentLatenessRule (so that a fresh install answers, and says which it used)."""
    from akig_data.risk.model import RecentLatenessRule, from_row

    rows = sql_table("SELECT * FROM risk_model_latest(CAST(:horizon AS integer))", horizon=horizon).to_pylist()
    return from_row(rows[0]) if rows else RecentLatenessRule(horizon, frame)


def _features(as_of: dt.date, owner_ref: str | None) -> pd.DataFrame:
    from akig_data.risk.features import normalise

    table = sql_table("SELECT * FROM risk_features(CAST(:as_of AS date), CAST(:owner_ref AS text))",
                      as_of=as_of, owner_ref=owner_ref)
    return normalise(table.to_pandas())


def scored_leases(as_of: dt.date, owner_ref: str | None):
    """The running leases' features scored by the newest models (the rule before any is trained), and the
    10-day model (its reasons are told with it)."""
    frame = _features(as_of, owner_ref)
    m10 = _model(10, frame)
    return _scored(frame, m10, _model(30, frame)), m10


def stored_run(as_of: dt.date) -> int | None:
    """The stored run of as_of that is ready (sql/047), or None."""
    rows = sql_table("SELECT * FROM risk_score_run(CAST(:as_of AS date))", as_of=as_of).column(0).to_pylist()
    return rows[0] if rows else None


def _scored(frame: pd.DataFrame, m10, m30) -> pd.DataFrame:
    frame["p_late_10"] = m10.predict(frame)
    # The 30-day risk cannot exceed the 10-day one (late at 30 days is late at 10): the two models are fitted
    # apart, so the rare crossing is clipped.
    frame["p_late_30"] = pd.Series(m30.predict(frame), index=frame.index).clip(upper=frame["p_late_10"])
    return frame


LEASE_RISK_SCHEMA = pa.schema([
    ("lease_ref", pa.string()), ("tenant_ref", pa.string()), ("full_name", pa.string()), ("phone", pa.string()),
    ("site_ref", pa.string()), ("owner_ref", pa.string()), ("next_due_date", pa.date32()),
    ("next_due_amount", pa.int64()), ("p_late_10", pa.float64()), ("p_late_30", pa.float64()),
    ("reasons", pa.string()), ("model", pa.string())])
CASH_FORECAST_SCHEMA = pa.schema([
    ("owner_ref", pa.string()), ("site_ref", pa.string()), ("month", pa.date32()), ("period", pa.string()),
    ("dues", pa.int64()), ("expected", pa.int64()), ("low_80", pa.int64()), ("high_80", pa.int64())])


def model_label(m10) -> str:
    return m10.version if m10.model_id is None else f"{m10.model_id}:{m10.version}"


@read(depends_on=RISK_TABLES, ttl=3600, version=2)
def lease_risk(as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """Each running lease (and its tenant)'s risk that its next due is not paid in full within 10 and 30 days, with the main reasons (French)."""
    from akig_data.risk.reasons import explain

    run = stored_run(as_of)
    if run is not None:
        return stored_rows_in_order(sql_table(
            "SELECT * FROM lease_risk_stored_rows(CAST(:run AS bigint), CAST(:owner_ref AS text))",
            run=run, owner_ref=owner_ref)).cast(LEASE_RISK_SCHEMA)
    frame, m10 = scored_leases(as_of, owner_ref)
    frame["reasons"] = explain(m10, frame, frame["p_late_10"].to_numpy())
    tenants = sql_table("SELECT * FROM lease_tenants(CAST(:owner_ref AS text))", owner_ref=owner_ref).to_pandas()
    frame = frame.merge(tenants, on="lease_ref", how="left")
    out = pd.DataFrame({
        "lease_ref": frame["lease_ref"], "tenant_ref": frame["tenant_ref"], "full_name": frame["full_name"],
        "phone": frame["phone"], "site_ref": frame["site_ref"], "owner_ref": frame["owner_ref"],
        "next_due_date": frame["next_due_date"].dt.date, "next_due_amount": frame["next_due_amount"].astype("int64"),
        "p_late_10": frame["p_late_10"].astype(float), "p_late_30": frame["p_late_30"].astype(float),
        "reasons": frame["reasons"], "model": model_label(m10),
    }).sort_values(["p_late_10", "lease_ref"], ascending=[False, True])
    return pa.Table.from_pandas(out, schema=LEASE_RISK_SCHEMA, preserve_index=False)


def stored_rows_in_order(table: pa.Table) -> pa.Table:
    """A stored run's rows in the run's order (its `ord` column, then dropped).

    Ordered here rather than by PostgreSQL: every owner's rows (about 70,000 with their French reasons at
    `large` scale) outgrew the reads' sort memory and were sorted on disk, a third of the SQL's time;
    Arrow orders them in memory in a few milliseconds (sql/053)."""
    return table.take(pc.sort_indices(table["ord"])).drop_columns(["ord"])


@read(depends_on=RISK_TABLES, ttl=3600, version=2)
def cash_forecast(as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """Expected collections (GNF) for the rest of the month and the next 3 months, per site and per owner (site_ref empty), with an 80 % interval."""
    run = stored_run(as_of)
    if run is not None:
        return sql_table("SELECT * FROM cash_forecast_stored(CAST(:run AS bigint), CAST(:owner_ref AS text))",
                         run=run, owner_ref=owner_ref).cast(CASH_FORECAST_SCHEMA)
    from akig_data.risk import forecast

    frame, _ = scored_leases(as_of, owner_ref)
    history, months = forecast_history(as_of, owner_ref)
    return forecast_table(frame, as_of, forecast.late_shares(history, months), forecast.owner_spreads(months))


def forecast_history(as_of: dt.date, owner_ref: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the forecast learns its late dues' catch-up share and its owners' swing from: the dues of the
    months -7 .. -2 with their outcome known by the day before as_of, and the sites' months -7 .. -2."""
    from akig_data.risk.features import month_idx, month_start

    mi = month_idx(as_of)
    history = sql_table("SELECT * FROM risk_due_outcomes(CAST(:date_from AS date), CAST(:date_to AS date),"
                        " CAST(:known_by AS date), CAST(:owner_ref AS text))",
                        date_from=month_start(mi - 7), date_to=month_start(mi - 1) - dt.timedelta(days=1),
                        known_by=as_of - dt.timedelta(days=1), owner_ref=owner_ref).to_pandas()
    history["due_date"] = pd.to_datetime(history["due_date"])
    history["late_30"] = history["late_30"].astype(float)
    months = sql_table("SELECT * FROM risk_site_months(CAST(:from_mi AS integer), CAST(:to_mi AS integer),"
                       " CAST(:owner_ref AS text))", from_mi=mi - 7, to_mi=mi - 2, owner_ref=owner_ref).to_pandas()
    return history, months


def forecast_table(frame: pd.DataFrame, as_of: dt.date, g, spreads: dict[str, float]) -> pa.Table:
    """cash_forecast's answer for the scored leases: g, the late dues' catch-up shares of the scope (or of
    each owner, a dict), spreads, each owner's month swing (akig_data/risk/forecast.py)."""
    from akig_data.risk import forecast

    out = forecast.simulate(frame.assign(rent=frame["next_due_amount"]), as_of, g, spreads=spreads)
    return pa.Table.from_pandas(out, schema=CASH_FORECAST_SCHEMA, preserve_index=False)
