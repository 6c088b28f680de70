"""Benchmark of the data layer's reads: cold (the SQL runs) vs warm (a Redis hit), p50/p95, rows/s,
and a naive baseline (raw tables pulled into pandas) for arrears_by_site.

Usage (the database must hold a data set; `--seed large` loads one first if it is empty):

    AKIG_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/akig_bench \
    AKIG_REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/queries.py [--seed large] [--runs 20]

Prints a Markdown table (docs/performance.md keeps the last one). Not a test: nothing here passes or fails.
AKIG_ROW_SECURITY=off runs the same SQL without switching to the row-level security roles, to measure
what RLS costs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from akig_data import reads
from akig_data import migrations, runtime
from akig_data.testing import oracle as naive
from akig_data.access import scope  # noqa: E402
from akig_data.reads.registry import table_to_frame  # noqa: E402
from akig_data.config import Settings  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def timed(fn, runs: int) -> tuple[list[float], int]:
    times, rows = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        frame = fn()
        times.append(time.perf_counter() - start)
        rows = len(frame)
    return times, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--naive-runs", type=int, default=3)
    parser.add_argument("--seed", choices=["small", "demo", "large"], help="load this data set first if the database is empty")
    parser.add_argument("--as-of", default=None, help="date of the reads (default: the last payment's date)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of each read")
    args = parser.parse_args()

    base = Settings.from_env()
    rt = runtime.configure(Settings(**{**base.__dict__, "cache_prefix": f"bench:{uuid.uuid4().hex[:8]}"}))
    migrations.upgrade(rt.engine)
    with rt.engine.connect() as conn:
        counts = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
                  for t in ("owners", "sites", "tenants", "leases", "payments")}
        if counts["owners"] == 0 and args.seed:
            conn.rollback()
            from akig_data.demo.seed import seed

            seed(args.seed, log=print)
            return main_after_seed(args)
        last = conn.execute(sa.text("SELECT max(paid_on) FROM payments")).scalar()
        top_owner = conn.execute(sa.text(
            "SELECT o.owner_ref FROM owners o JOIN sites s ON s.owner_id = o.id GROUP BY o.owner_ref "
            "ORDER BY count(*) DESC, o.owner_ref LIMIT 1")).scalar()
        dues = conn.execute(sa.text(
            "SELECT sum(dues_count(start_date, end_date, due_day, NULL, :d)) FROM leases"), {"d": last}).scalar()
    if counts["owners"] == 0:
        sys.exit("the database is empty: run with --seed large (or `akig demo seed --scale large`)")
    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else last
    month_start = as_of.replace(day=1)
    print(f"Data: {counts['owners']:,} owners, {counts['sites']:,} sites, {counts['tenants']:,} tenants, "
          f"{counts['leases']:,} leases, {dues:,} dues, {counts['payments']:,} payments; as of {as_of}; "
          f"{args.runs} runs each; row-level security {'on' if rt.settings.row_security else 'off'}.\n")

    cases = [
        ("arrears_by_site", {"as_of": as_of}),
        ("arrears_by_site", {"as_of": as_of, "owner_ref": top_owner}),
        ("site_kpis", {"date_from": month_start, "date_to": as_of}),
        ("site_kpis", {"date_from": month_start, "date_to": as_of, "owner_ref": top_owner}),
        ("site_kpis", {"date_from": as_of.replace(month=1, day=1), "date_to": as_of}),
        ("portfolio_summary", {"as_of": as_of}),
        ("portfolio_summary", {"as_of": as_of, "owner_ref": top_owner}),
        ("arrears_by_lease", {"as_of": as_of}),
        ("arrears_by_lease", {"as_of": as_of, "owner_ref": top_owner}),
        ("promises", {"as_of": as_of}),
        ("good_payers", {"as_of": as_of}),
        ("good_payers", {"as_of": as_of, "owner_ref": top_owner}),
    ]
    print("| read | arguments | rows | cold p50 | cold p95 | warm p50 | warm p95 | rows/s cold |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, kwargs in cases:
        spec = reads.get(name)
        bound = spec.bind(kwargs)
        def cold_read():
            # the SQL as the server runs it: under the owner's row-level security scope (or every owner's)
            with scope.scoped(bound.get("owner_ref") or scope.ALL):
                return table_to_frame(spec.func(**bound))

        cold, rows = timed(cold_read, args.runs)
        reads.run(name, **kwargs)  # fill the cache
        warm, _ = timed(lambda: reads.run(name, **kwargs), args.runs)
        label = ", ".join(f"{k}={v}" for k, v in kwargs.items() if k != "as_of") or "all owners"
        p50 = statistics.median(cold)
        print(f"| {name} | {label} | {rows:,} | {p50 * 1000:.0f} ms | {percentile(cold, 0.95) * 1000:.0f} ms | "
              f"{statistics.median(warm) * 1000:.1f} ms | {percentile(warm, 0.95) * 1000:.1f} ms | "
              f"{rows / p50:,.0f} |")
        if args.explain:
            explain(rt.engine, name, bound)

    naive_times = []
    for _ in range(args.naive_runs):
        start = time.perf_counter()
        raw = naive.load_raw(rt.engine)
        naive.arrears_by_site(raw, as_of)
        naive_times.append(time.perf_counter() - start)
    print(f"| arrears_by_site, naive pandas baseline | all owners | {counts['sites']:,} | "
          f"{statistics.median(naive_times) * 1000:.0f} ms | {max(naive_times) * 1000:.0f} ms | – | – | – |")


def main_after_seed(args) -> None:
    sys.argv = [sys.argv[0], "--runs", str(args.runs), "--naive-runs", str(args.naive_runs)] + (
        ["--as-of", args.as_of] if args.as_of else []) + (["--explain"] if args.explain else [])
    main()


def explain(engine, name: str, bound: dict) -> None:
    spec = reads.get(name)
    placeholders = ", ".join(f"CAST(:{p.name} AS {'date' if p.type is dt.date else 'text'})" for p in spec.params)
    with engine.connect() as conn:
        plan = conn.execute(sa.text(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM {name}({placeholders})"),
                            bound).scalars().all()
    print("\n```\n" + "\n".join(plan) + "\n```\n")


if __name__ == "__main__":
    main()
