"""Benchmark of every registered read (`akig_data.reads.all_reads()`): cold (the read's tables' cache
generation bumped, so the SQL runs) vs warm (a Redis hit), p50/p95, rows/s, for every owner and for one
owner (the one with the most sites), and a naive baseline (raw tables pulled into pandas) for
arrears_by_site.

Arguments come from the data set: as_of is the last payment's date, periods are its month (site_kpis also
over the year to date), the site, tenant and agent are the busiest ones of that owner (the tenant with the
most payments, the agent with the most missions, or promises when there are no missions), the day of the
agents' reads is the last day with missions (the routes': the last day with GPS fixes). A read that cannot run gets a row saying why.

Usage (the database must hold a data set; `--seed large` loads one first if it is empty):

    AKIG_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/akig_bench \
    AKIG_REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/queries.py [--seed large] [--runs 20]

lease_risk and cash_forecast answer from the day's stored run when there is one (sql/047): by default the
run of as_of is stored first (`--risk-scores stored`, its time printed), `--risk-scores computed` drops it so
that they compute as they do before the day's run is stored. Likewise arrears_by_lease answers from the day's
stored lease positions (sql/056, stored first; `--positions computed` forgets them), and last month's
leaderboard and agents' figures from its stored month (sql/057, stored first; `--agent-months computed`).

A statement's first run in a process fetches its rows through the driver and learns its columns; the later
ones come through COPY, or through the ADBC driver when the last answer was large (akig_data/engine.py,
akig_data/large_answers.py), as in a server that has answered the read before. So each read is run cold once
first, shown on its own ("first run"), and the cold p50/p95 are those of the `--runs` cold calls after it.

Prints a Markdown table (docs/performance.md keeps the last one). Not a test: nothing here passes or fails.
AKIG_ROW_SECURITY=off runs the same SQL without switching to the row-level security roles, to measure
what RLS costs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from akig_data import reads
from akig_data import migrations, runtime
from akig_data.testing import oracle as naive
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


def risk_scores(engine, as_of: dt.date, mode: str) -> str:
    """Store the day's risk scores and forecast (what the server does each day), or drop them."""
    from akig_data.risk import stored_scores

    if mode == "computed":
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM risk_score_runs WHERE as_of = :d"), {"d": as_of})
        return f"lease_risk and cash_forecast compute (no stored run of {as_of})."
    started = time.perf_counter()
    run = stored_scores.store(as_of)
    if run is None:
        return f"lease_risk and cash_forecast answer from the stored run of {as_of} (stored before this run)."
    return (f"lease_risk and cash_forecast answer from the stored run of {as_of}: {run.leases:,} leases and "
            f"{run.forecast_rows:,} forecast rows stored in {time.perf_counter() - started:.1f} s first.")


def lease_positions(engine, as_of: dt.date, mode: str) -> str:
    """Store the day's lease positions (what the server does each day), or forget them."""
    from akig_data.upkeep import lease_positions as positions

    if mode == "computed":
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT lease_positions_forget()"))
        return "arrears_by_lease computes (no stored lease positions)."
    day = positions.store(as_of)
    return (f"arrears_by_lease answers from the lease positions of {as_of}: {day.leases:,} leases stored in "
            f"{day.seconds:.1f} s first.")


def agent_months(engine, as_of: dt.date, mode: str) -> str:
    """Store last month's figures per agent (what the server does once a month is over), or drop them."""
    from akig_data.upkeep import agent_months as months

    last_month = (as_of.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    if mode == "computed":
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM agent_months"))
        return "leaderboard_month and agent_performance of a whole month compute (no stored month)."
    stored = months.store(last_month)
    return (f"leaderboard_month and agent_performance of {last_month:%Y-%m} answer from its stored figures: "
            f"{stored.agents} agents stored in {stored.seconds:.1f} s first.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--naive-runs", type=int, default=3)
    parser.add_argument("--seed", choices=["small", "demo", "large"], help="load this data set first if the database is empty")
    parser.add_argument("--as-of", default=None, help="date of the reads (default: the last payment's date)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of each read")
    parser.add_argument("--reads", default=None, help="only these reads (comma-separated names; default: every one)")
    parser.add_argument("--risk-scores", choices=["stored", "computed"], default="stored",
                        help="the risk reads answer from the day's stored run (stored first) or compute (run dropped)")
    parser.add_argument("--agent-months", choices=["stored", "computed"], default="stored",
                        help="a whole finished month's agent figures come from the stored month (stored first) or "
                             "are computed (stored months dropped)")
    parser.add_argument("--positions", choices=["stored", "computed"], default="stored",
                        help="arrears_by_lease answers from the day's stored lease positions (stored first) or "
                             "computes (positions forgotten)")
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
    refs = pick_refs(rt.engine, top_owner, as_of)
    commit = measured_commit()
    print(f"Data: {counts['owners']:,} owners, {counts['sites']:,} sites, {counts['tenants']:,} tenants, "
          f"{counts['leases']:,} leases, {dues:,} dues, {counts['payments']:,} payments; as of {as_of}; "
          f"{args.runs} runs each; row-level security {'on' if rt.settings.row_security else 'off'}.")
    print(f"Commit {commit}; {os.cpu_count()} cores, load average before the runs "
          f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())}; one owner = {top_owner}, site {refs['site_ref']}, "
          f"tenant {refs['tenant_ref']}, agent {refs['agent_ref']}, agents' day {refs['day']} (routes: {refs['routes_day']}).\n")

    print(risk_scores(rt.engine, as_of, args.risk_scores))
    print(lease_positions(rt.engine, as_of, args.positions))
    print(agent_months(rt.engine, as_of, args.agent_months) + "\n")
    print("| read | arguments | rows | first run | cold p50 | cold p95 | warm p50 | warm p95 | rows/s cold |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    only = set(args.reads.split(",")) if args.reads else None
    for name, kwargs, why_not in cases(as_of, top_owner, refs):
        if only is not None and name not in only:
            continue
        label = ", ".join(f"{k}={v}" for k, v in kwargs.items() if k != "as_of") or "all owners"
        if why_not:
            print(f"| {name} | {label} | – | – | – | – | – | – | {why_not} |")
            continue
        spec = reads.get(name)

        def cold_read():
            # a cache miss as a caller meets it: the read's tables' generation is bumped, the SQL runs
            # (under the owner's row-level security scope, or every owner's) and its answer is cached
            rt.memo.bump(spec.depends_on)
            return reads.run(name, **kwargs)

        try:
            first, _ = timed(cold_read, 1)
            cold, rows = timed(cold_read, args.runs)
            warm, _ = timed(lambda: reads.run(name, **kwargs), args.runs)
        except Exception as exc:  # noqa: BLE001 - a benchmark reports a failing read and goes on
            print(f"| {name} | {label} | – | – | – | – | – | – | failed: {type(exc).__name__}: {failure(exc)} |")
            continue
        p50 = statistics.median(cold)
        print(f"| {name} | {label} | {rows:,} | {first[0] * 1000:.0f} ms | {p50 * 1000:.0f} ms | "
              f"{percentile(cold, 0.95) * 1000:.0f} ms | "
              f"{statistics.median(warm) * 1000:.1f} ms | {percentile(warm, 0.95) * 1000:.1f} ms | "
              f"{rows / p50:,.0f} |", flush=True)
        if args.explain:
            explain(rt.engine, name, spec.bind(kwargs))

    if (only is not None and "arrears_by_site" not in only) or args.naive_runs < 1:
        return
    naive_times = []
    for _ in range(args.naive_runs):
        start = time.perf_counter()
        raw = naive.load_raw(rt.engine)
        naive.arrears_by_site(raw, as_of)
        naive_times.append(time.perf_counter() - start)
    print(f"| arrears_by_site, naive pandas baseline | all owners | {counts['sites']:,} | – | "
          f"{statistics.median(naive_times) * 1000:.0f} ms | {max(naive_times) * 1000:.0f} ms | – | – | – |")


def failure(exc: Exception) -> str:
    """The first line of an error, short enough for a table cell."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return (text[0] if text else "")[:100].replace("|", "/")


def measured_commit() -> str:
    """The commit being measured (with `+changes` when the work tree differs from it)."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=10", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (" +changes" if dirty else "")


def pick_refs(engine, owner_ref: str, as_of: dt.date) -> dict:
    """A site, a tenant, an agent and a day of the data set for the reads that need one."""
    with engine.connect() as conn:
        one = lambda sql, **kw: conn.execute(sa.text(sql), kw).scalar()  # noqa: E731
        site_ref = one(
            "SELECT s.site_ref FROM leases l JOIN sites s ON s.id = l.site_id JOIN owners o ON o.id = s.owner_id "
            "WHERE o.owner_ref = :o GROUP BY s.site_ref ORDER BY count(*) DESC, s.site_ref LIMIT 1", o=owner_ref)
        tenant_ref = one(
            "SELECT t.tenant_ref FROM payments p JOIN leases l ON l.id = p.lease_id JOIN tenants t ON t.id = l.tenant_id "
            "JOIN sites s ON s.id = l.site_id JOIN owners o ON o.id = s.owner_id "
            "WHERE o.owner_ref = :o AND p.paid_on <= :d GROUP BY t.tenant_ref ORDER BY count(*) DESC, t.tenant_ref "
            "LIMIT 1", o=owner_ref, d=as_of)
        day = one("SELECT max(day) FROM missions WHERE day <= :d", d=as_of)
        agent_ref = one(
            "SELECT a.agent_ref FROM missions m JOIN agents a ON a.id = m.agent_id WHERE m.day = :d "
            "GROUP BY a.agent_ref ORDER BY count(*) DESC, a.agent_ref LIMIT 1", d=day) if day else None
        if agent_ref is None:
            agent_ref = one("SELECT a.agent_ref FROM promises p JOIN agents a ON a.id = p.agent_id "
                            "GROUP BY a.agent_ref ORDER BY count(*) DESC, a.agent_ref LIMIT 1")
        routes_day = one("SELECT max((t AT TIME ZONE 'Africa/Conakry')::date) FROM agent_positions "
                         "WHERE (t AT TIME ZONE 'Africa/Conakry')::date <= :d", d=as_of)
        full_name = one("SELECT full_name FROM tenants WHERE tenant_ref = :t", t=tenant_ref) or ""
    words = [w for w in full_name.split() if len(w) >= 3]
    return {"site_ref": site_ref, "tenant_ref": tenant_ref, "agent_ref": agent_ref, "day": day or as_of,
            "routes_day": routes_day or day or as_of,
            "q": words[-1] if words else full_name}


def cases(as_of: dt.date, owner_ref: str, refs: dict) -> list[tuple[str, dict, str | None]]:
    """(read, arguments, why it cannot run or None) for every registered read: for every owner, then for
    one owner when the read takes owner_ref."""
    month_start = as_of.replace(day=1)
    values = {
        "as_of": as_of, "date_from": month_start, "date_to": as_of, "day": refs["day"], "month": month_start,
        "site_ref": refs["site_ref"], "tenant_ref": refs["tenant_ref"], "agent_ref": refs["agent_ref"],
        "q": refs["q"],
    }
    out: list[tuple[str, dict, str | None]] = []
    for spec in reads.all_reads():
        names = [p.name for p in spec.params]
        kwargs = {}
        missing = []
        for p in spec.params:
            if p.name == "owner_ref":
                continue
            if p.name in values and (p.required or p.name not in ("agent_ref",) or spec.name == "agent_daily"):
                kwargs[p.name] = values[p.name]
            elif p.required:
                missing.append(p.name)
        why_not = f"no value for {', '.join(missing)} in the data set" if missing else None
        if any(kwargs.get(k) is None for k in ("site_ref", "tenant_ref", "agent_ref") if k in kwargs):
            why_not = "the data set has no " + ", ".join(k for k in ("site_ref", "tenant_ref", "agent_ref")
                                                         if k in kwargs and kwargs[k] is None)
        if spec.name == "agent_routes":  # the last day with GPS fixes
            kwargs["day"] = refs["routes_day"]
        out.append((spec.name, kwargs, why_not))
        if spec.name == "site_kpis":  # over the year to date as well: the widest window the apps ask for
            out.append((spec.name, {**kwargs, "date_from": as_of.replace(month=1, day=1)}, why_not))
        if spec.name == "promises":   # as the desk and the gauges ask: due yesterday or today
            window = {"due_from": as_of - dt.timedelta(days=1), "due_to": as_of}
            out.append((spec.name, {**kwargs, **window}, why_not))
            out.append((spec.name, {**kwargs, **window, "owner_ref": owner_ref}, why_not))
        if "agent_ref" in names and spec.name not in ("agent_daily", "agent_day"):  # one agent's view as well
            out.append((spec.name, {**kwargs, "agent_ref": refs["agent_ref"]}, why_not))
        # the previous month whole, as the leaderboard shows it on its last day: a month to date can be a week
        last_month_end = month_start - dt.timedelta(days=1)
        if spec.name == "leaderboard_month":
            out.append((spec.name, {**kwargs, "month": last_month_end.replace(day=1)}, why_not))
        if spec.name == "agent_performance":
            whole = {"date_from": last_month_end.replace(day=1), "date_to": last_month_end}
            out.append((spec.name, {**kwargs, **whole}, why_not))
            out.append((spec.name, {**kwargs, **whole, "agent_ref": refs["agent_ref"]}, why_not))
        if "owner_ref" in names:
            out.append((spec.name, {**kwargs, "owner_ref": owner_ref}, why_not))
    return out


def main_after_seed(args) -> None:
    sys.argv = [sys.argv[0], "--runs", str(args.runs), "--naive-runs", str(args.naive_runs)] + (
        ["--as-of", args.as_of] if args.as_of else []) + (["--explain"] if args.explain else []) + (
        ["--reads", args.reads] if args.reads else [])
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
