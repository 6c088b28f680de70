"""The money rules again, computed the naive way: pull the raw tables into pandas and compute.

Never used by the apps. It exists for two reasons: it is the benchmark's baseline for
`arrears_by_site` (bench/queries.py), and the tests' independent oracle: written from the rules'
text, with none of the SQL's shortcuts (no closed-form due counts, no stored totals), so the SQL
reads and this module agreeing on the demo data is strong evidence that both follow the rules.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine


@dataclass
class RawTables:
    leases: pd.DataFrame     # lease_id, lease_ref, site_id, site_ref, owner_ref, start_date, end_date, due_day, rent
    payments: pd.DataFrame   # lease_id, paid_on, amount
    sites: pd.DataFrame      # site_id, site_ref, owner_ref


def load_raw(engine: Engine) -> RawTables:
    """Every lease, site and payment, as they are stored."""
    with engine.connect() as conn:
        leases = pd.read_sql(sa.text(
            "SELECT l.id AS lease_id, l.lease_ref, u.site_id, s.site_ref, o.owner_ref, l.start_date, l.end_date,"
            " l.due_day, l.monthly_rent AS rent FROM leases l JOIN units u ON u.id = l.unit_id"
            " JOIN sites s ON s.id = u.site_id JOIN owners o ON o.id = s.owner_id"), conn)
        payments = pd.read_sql(sa.text("SELECT lease_id, paid_on, amount FROM payments"), conn)
        sites = pd.read_sql(sa.text(
            "SELECT s.id AS site_id, s.site_ref, o.owner_ref FROM sites s JOIN owners o ON o.id = s.owner_id"), conn)
    for frame, cols in ((leases, ("start_date", "end_date")), (payments, ("paid_on",))):
        for col in cols:
            frame[col] = pd.to_datetime(frame[col])
    return RawTables(leases, payments, sites)


def dues(leases: pd.DataFrame, until: dt.date, since: dt.date | None = None) -> pd.DataFrame:
    """One row per due (lease_id, due_date, amount, seq) with since <= due_date <= until, from each
    lease's start: a due on the due day of every month, clamped to the month's last day."""
    until_ts = pd.Timestamp(until)
    start = leases["start_date"]
    end = leases["end_date"].fillna(until_ts).clip(upper=until_ts)
    first = start.dt.year * 12 + start.dt.month - 1
    last = end.dt.year * 12 + end.dt.month - 1
    n = (last - first + 1).clip(lower=0).to_numpy()
    idx = np.repeat(np.arange(len(leases)), n)
    offset = np.arange(idx.size) - np.repeat(np.cumsum(n) - n, n)
    month = first.to_numpy()[idx] + offset
    year, mon = month // 12, month % 12 + 1
    month_start = pd.to_datetime(pd.DataFrame({"year": year, "month": mon, "day": 1}))
    day = np.minimum(leases["due_day"].to_numpy()[idx], month_start.dt.days_in_month.to_numpy())
    due_date = month_start + pd.to_timedelta(day - 1, unit="D")
    out = pd.DataFrame({
        "lease_id": leases["lease_id"].to_numpy()[idx],
        "due_date": due_date.to_numpy(),
        "amount": leases["rent"].to_numpy()[idx],
    })
    out = out[(out["due_date"] >= start.to_numpy()[idx]) & (out["due_date"] <= end.to_numpy()[idx])]
    out = out.sort_values(["lease_id", "due_date"], kind="stable")
    out["seq"] = out.groupby("lease_id").cumcount() + 1
    out["cum_due"] = out.groupby("lease_id")["amount"].cumsum()
    if since is not None:
        out = out[out["due_date"] >= pd.Timestamp(since)]
    return out.reset_index(drop=True)


def arrears_by_lease(raw: RawTables, as_of: dt.date) -> pd.DataFrame:
    """Per lease: dues, paid, arrears, credit and FIFO aging at as_of."""
    d = dues(raw.leases, as_of)
    paid = raw.payments[raw.payments["paid_on"] <= pd.Timestamp(as_of)].groupby("lease_id")["amount"].sum()
    d["paid"] = d["lease_id"].map(paid).fillna(0)
    # FIFO: payments cover the oldest dues first; the unpaid rest of each due:
    d["unpaid"] = (d["cum_due"] - d["paid"]).clip(lower=0).clip(upper=d["amount"])
    d["age"] = (pd.Timestamp(as_of) - d["due_date"]).dt.days
    buckets = {
        "bucket_0_30": d["age"] <= 30,
        "bucket_31_60": (d["age"] >= 31) & (d["age"] <= 60),
        "bucket_61_90": (d["age"] >= 61) & (d["age"] <= 90),
        "bucket_90_plus": d["age"] > 90,
    }
    for name, mask in buckets.items():
        d[name] = d["unpaid"].where(mask, 0)
    d["unpaid_date"] = d["due_date"].where(d["unpaid"] > 0)
    per = d.groupby("lease_id").agg(
        due_total=("amount", "sum"), oldest=("unpaid_date", "min"),
        **{name: (name, "sum") for name in buckets},
    )
    out = raw.leases[["lease_id", "lease_ref", "site_id", "site_ref", "owner_ref"]].set_index("lease_id").join(per)
    out["due_total"] = out["due_total"].fillna(0)
    out["paid"] = out.index.map(paid).fillna(0)
    out["arrears"] = (out["due_total"] - out["paid"]).clip(lower=0)
    out["credit"] = (out["paid"] - out["due_total"]).clip(lower=0)
    for name in buckets:
        out[name] = out[name].fillna(0)
    out["days_late"] = np.where(out["arrears"] > 0, (pd.Timestamp(as_of) - out["oldest"]).dt.days, 0)
    return out.reset_index()


def arrears_by_site(raw: RawTables, as_of: dt.date) -> pd.DataFrame:
    """Per site (every site): arrears, late leases and the four buckets."""
    lease = arrears_by_lease(raw, as_of)
    lease["late"] = lease["arrears"] > 0
    per = lease.groupby("site_id").agg(
        arrears=("arrears", "sum"), late_leases=("late", "sum"),
        bucket_0_30=("bucket_0_30", "sum"), bucket_31_60=("bucket_31_60", "sum"),
        bucket_61_90=("bucket_61_90", "sum"), bucket_90_plus=("bucket_90_plus", "sum"),
    )
    out = raw.sites.set_index("site_id").join(per).fillna(0).reset_index()
    return out.sort_values(["arrears", "site_ref"], ascending=[False, True]).reset_index(drop=True)


def dues_status(raw: RawTables, date_from: dt.date, date_to: dt.date) -> pd.DataFrame:
    """Each due in [date_from, date_to] with on_time = paid(its due date) >= cumulative dues up to it."""
    d = dues(raw.leases, date_to, since=date_from).sort_values("due_date")
    d["due_date"] = d["due_date"].astype("datetime64[ns]")
    pay = raw.payments.sort_values(["lease_id", "paid_on"]).copy()
    pay["paid_on"] = pay["paid_on"].astype("datetime64[ns]")
    pay["cum_paid"] = pay.groupby("lease_id")["amount"].cumsum()
    pay = pay.groupby(["lease_id", "paid_on"], as_index=False)["cum_paid"].max().sort_values("paid_on")
    merged = pd.merge_asof(d, pay, left_on="due_date", right_on="paid_on", by="lease_id")
    merged["cum_paid"] = merged["cum_paid"].fillna(0)
    merged["on_time"] = merged["cum_paid"] >= merged["cum_due"]
    return merged[["lease_id", "due_date", "amount", "on_time"]]
