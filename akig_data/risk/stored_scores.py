"""The day's late-payment risk and cash forecast, computed once and stored (sql/047), so that lease_risk and
cash_forecast answer in milliseconds instead of seconds.

Why it is exact: their answer for a date D depends only on what is dated before D (the features are taken on
the morning of D), on the stored models and on the dues; a write that could change it (a payment, a call, a
visit or a promise dated before D, a due, a lease, a site, an owner, a new model) drops the stored run in the
same transaction (sql/047's triggers), and the reads then compute again, as before. The server's scheduled
task `risk_scores` runs store_due() every ten minutes: today's run (lease_risk, as the desk, the daily
report and the dashboard's tenants ask it) and the month's 1st's (cash_forecast, as the dashboard and the
forecast alert ask it: a month forecast on its 1st); it does nothing for a day whose run is there, so a day
is computed once, and again only after such a write. `akig model score` stores one day by hand.

What is stored is what the reads compute, through the same functions (akig_data/reads/risk.py): every
lease's scores and reasons (as every owner's reader and as its owner read them: under the plain rule the
reasons compare with the medians of the leases read), the forecast of every owner together and of each owner
alone. Tenants' names and phones are not stored: the read looks them up.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from akig_data.access.scope import ALL, scoped
from akig_data import clock

log = logging.getLogger(__name__)

# Days of runs kept (an analyst's look back at last week's figures answers from them), and always those of
# the current month (its 1st's forecast is the dashboard's).
KEEP_DAYS = 7


@dataclass(frozen=True)
class Run:
    run_id: int
    as_of: dt.date
    leases: int
    forecast_rows: int
    models: str
    seconds: float


class RunDropped(Exception):
    """A write dropped the run while it was computed: its figures may be stale, so they are not kept."""


def store_due() -> list[Run]:
    """The scheduled task: store the runs of today and of the month's 1st that are missing."""
    today = clock.today()
    days = sorted({today.replace(day=1), today})
    return [run for run in (store(day) for day in days) if run is not None]


def store(as_of: dt.date) -> Run | None:
    """Compute and store the run of as_of unless it is there already; returns it, or None when there was
    nothing to do or a write dropped it meanwhile (the next call computes again)."""
    from akig_data.reads import risk

    with scoped(ALL):
        if risk.stored_run(as_of) is not None:
            return None
        started = time.perf_counter()
        run_id = _begin(as_of)
        leases, forecast_rows, models = _compute(as_of)
    try:
        _finish(run_id, leases, forecast_rows, models)
    except RunDropped:
        log.info("risk scores of %s: a write dropped the run while it was computed; the next pass computes again",
                 as_of)
        return None
    run = Run(run_id, as_of, len(leases), len(forecast_rows), models, round(time.perf_counter() - started, 2))
    log.info("risk scores of %s stored: %d leases, %d forecast rows, %s, %.1f s", as_of, run.leases,
             run.forecast_rows, models, run.seconds)
    return run


def _begin(as_of: dt.date) -> int:
    """Clear what no run uses any more (runs dropped, unfinished, or older than KEEP_DAYS and than the current
    month, and their rows), then commit the new run's row: from then on, a write that changes its figures
    deletes it."""
    from akig_data.runtime import write_transaction

    with write_transaction() as conn:
        today = clock.today()
        conn.execute(sa.text("DELETE FROM risk_score_runs WHERE NOT ready OR as_of < :oldest"),
                     {"oldest": min(today - dt.timedelta(days=KEEP_DAYS), today.replace(day=1))})
        for table in ("lease_risk_stored", "cash_forecast_stored"):
            conn.execute(sa.text(f"DELETE FROM {table} s WHERE NOT EXISTS "
                                 "(SELECT 1 FROM risk_score_runs r WHERE r.run_id = s.run_id)"))
        return conn.execute(sa.text("INSERT INTO risk_score_runs (as_of) VALUES (:as_of) RETURNING run_id"),
                            {"as_of": as_of}).scalar_one()


def _compute(as_of: dt.date) -> tuple[list[tuple], list[tuple], str]:
    """The run's rows: (ord, lease_id, owner_id, tenant_id, lease_ref, site_ref, owner_ref, next_due_date, next_due_amount,
    p_late_10, p_late_30, reasons_all, reasons_owner, model) and (scope_owner_id, ord, owner_ref, site_ref,
    month, period, dues, expected, low_80, high_80)."""
    from akig_data.reads import risk
    from akig_data.reads.registry import sql_table
    from akig_data.risk import forecast
    from akig_data.risk.model import RecentLatenessRule
    from akig_data.risk.reasons import explain

    frame, m10 = risk.scored_leases(as_of, None)
    label = risk.model_label(m10)
    owners = sql_table("SELECT * FROM risk_lease_owners()").to_pandas()
    lease_ids = dict(zip(owners["lease_ref"], owners["lease_id"]))
    owner_ids = dict(zip(owners["owner_ref"], owners["owner_id"]))
    tenant_of = {ref: (None if pd.isna(t) else int(t)) for ref, t in zip(owners["lease_ref"], owners["tenant_id"])}
    reasons_all = pd.Series(explain(m10, frame, frame["p_late_10"].to_numpy()), index=frame.index, dtype=object)
    if m10.model_id is None:
        # The rule tells its reasons against the medians of the leases read: each owner's own, for him.
        typical = RecentLatenessRule.typical_by(frame, "owner_ref")
        reasons_owner = pd.Series(explain(m10, frame, frame["p_late_10"].to_numpy(),
                                          typicals=[typical[o] for o in frame["owner_ref"]]),
                                  index=frame.index, dtype=object)
    else:
        reasons_owner = reasons_all
    # the read's order: riskiest first, then by lease (an owner's rows keep it)
    order = frame.index.get_indexer(frame.sort_values(["p_late_10", "lease_ref"], ascending=[False, True]).index)
    rank = np.empty(len(frame), dtype=int)
    rank[order] = np.arange(len(frame))
    leases = [
        (int(k), int(lease_ids[r.lease_ref]), int(owner_ids[r.owner_ref]), tenant_of.get(r.lease_ref),
         r.lease_ref, r.site_ref, r.owner_ref, r.next_due_date.date(), int(r.next_due_amount), float(r.p_late_10),
         float(r.p_late_30), all_, own_, label)
        for k, r, all_, own_ in zip(rank, frame.itertuples(index=False), reasons_all, reasons_owner)]

    history, months = risk.forecast_history(as_of, None)
    spreads = forecast.owner_spreads(months)
    forecast_rows = _forecast_rows(None, risk.forecast_table(frame, as_of, forecast.late_shares(history, months),
                                                             spreads))
    # Each owner alone: his own late shares (one pass over every owner's history), the same draws.
    owner_of_lease = dict(zip(owners["lease_ref"], owners["owner_ref"]))
    shares = forecast.late_shares_by(history.assign(owner_ref=history["lease_ref"].map(owner_of_lease)), months,
                                     "owner_ref")
    alone = risk.forecast_table(frame, as_of, shares, spreads).to_pandas()
    for owner_ref, own in alone.groupby("owner_ref", sort=True):
        forecast_rows += _forecast_rows(int(owner_ids[owner_ref]), pa.Table.from_pandas(own, preserve_index=False))
    return leases, forecast_rows, label


def _forecast_rows(scope_owner_id: int | None, table) -> list[tuple]:
    return [(scope_owner_id, i, r["owner_ref"], r["site_ref"], r["month"], r["period"], r["dues"], r["expected"],
             r["low_80"], r["high_80"]) for i, r in enumerate(table.to_pylist())]


LEASE_COLUMNS = ("ord, lease_id, owner_id, tenant_id, lease_ref, site_ref, owner_ref, next_due_date, next_due_amount,"
                 " p_late_10, p_late_30, reasons_all, reasons_owner, model")
FORECAST_COLUMNS = "scope_owner_id, ord, owner_ref, site_ref, month, period, dues, expected, low_80, high_80"


def _finish(run_id: int, leases: list[tuple], forecast_rows: list[tuple], models: str) -> None:
    """Write the rows and mark the run ready, in one transaction; RunDropped when its row is gone."""
    from akig_data.runtime import write_transaction

    try:
        with write_transaction() as conn:
            # COPY cannot write into a table under row-level security: through a staging table of the transaction.
            with conn.connection.dbapi_connection.cursor() as cur:
                for table, columns, rows in (("lease_risk_stored", LEASE_COLUMNS, leases),
                                             ("cash_forecast_stored", FORECAST_COLUMNS, forecast_rows)):
                    cur.execute(f"CREATE TEMP TABLE stage_{table} (LIKE {table}) ON COMMIT DROP")
                    with cur.copy(f"COPY stage_{table} (run_id, {columns}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row((run_id, *row))
                    cur.execute(f"INSERT INTO {table} (run_id, {columns}) SELECT run_id, {columns} FROM stage_{table}")
            marked = conn.execute(sa.text(
                "UPDATE risk_score_runs SET ready = true, computed_at = now(), models = :models"
                " WHERE run_id = :run_id AND NOT ready"), {"run_id": run_id, "models": models}).rowcount
            if marked != 1:
                raise RunDropped(run_id)
    except sa.exc.IntegrityError as exc:     # another process stored the same day first
        raise RunDropped(run_id) from exc
