"""The CPU a cold read costs, for reads whose wall time a shared 2-core machine blurs: a cache miss as a caller
meets it (the read's tables' cache generation bumped, then `reads.run`), measured as this process's CPU (the
argument checks, the driver, Arrow, pandas, Redis) plus that of the database backends serving it (from
/proc, so PostgreSQL must run on this machine), p50 and p95 over --runs calls. The same reads and arguments
as bench/queries.py.

Parallel workers' CPU is not counted (they are other processes): for a plan's whole cost, keep the plans
serial while measuring, e.g. `ALTER DATABASE akig_bench SET max_parallel_workers_per_gather = 0` (then
RESET). The monitoring connection needs to read pg_stat_activity (a superuser, as the tests' postgres).

    AKIG_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/akig_bench \
    AKIG_REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/read_cpu.py --reads good_payers,promises

Prints a Markdown table. Not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from akig_data import reads, runtime  # noqa: E402
from akig_data.config import Settings  # noqa: E402
from bench.queries import cases, percentile, pick_refs  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def backends_cpu(monitor, database: str) -> tuple[float, frozenset[int]]:
    """CPU seconds so far of the application's backends on `database`, and their pids."""
    pids = monitor.execute(sa.text(
        "SELECT pid FROM pg_stat_activity WHERE datname = :d AND application_name IN ('akig', 'akig-large-answers') AND pid <> pg_backend_pid()"), {"d": database}).scalars().all()
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK, frozenset(pids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--as-of", default=None, help="date of the reads (default: the last payment's date)")
    parser.add_argument("--reads", default=None, help="only these reads (comma-separated names; default: every one)")
    args = parser.parse_args()

    base = Settings.from_env()
    rt = runtime.configure(Settings(**{**base.__dict__, "cache_prefix": f"bench:{uuid.uuid4().hex[:8]}"}))
    with rt.engine.connect() as conn:
        last = conn.execute(sa.text("SELECT max(paid_on) FROM payments")).scalar()
        top_owner = conn.execute(sa.text(
            "SELECT o.owner_ref FROM owners o JOIN sites s ON s.owner_id = o.id GROUP BY o.owner_ref "
            "ORDER BY count(*) DESC, o.owner_ref LIMIT 1")).scalar()
        database = conn.execute(sa.text("SELECT current_database()")).scalar()
    if last is None:
        sys.exit("the database is empty: load a data set first (`akig demo seed --scale large`)")
    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else last
    refs = pick_refs(rt.engine, top_owner, as_of)
    only = set(args.reads.split(",")) if args.reads else None
    monitor = rt.engine.connect()
    print(f"{os.cpu_count()} cores, load average {' / '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"as of {as_of}; {args.runs} runs each; one owner = {top_owner}.\n")
    print("| read | arguments | client CPU p50 | server CPU p50 | total CPU p50 | total CPU p95 | wall p50 |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, kwargs, why_not in cases(as_of, top_owner, refs):
        if (only is not None and name not in only) or why_not:
            continue
        spec = reads.get(name)
        reads.run(name, **kwargs)  # the pool's connections opened and their catalogs cached
        client, server, total, wall = [], [], [], []
        for _ in range(args.runs):
            rt.memo.bump(spec.depends_on)
            s0, pids0 = backends_cpu(monitor, database)
            c0, w0 = time.process_time(), time.perf_counter()
            reads.run(name, **kwargs)
            w1, c1 = time.perf_counter(), time.process_time()
            s1, pids1 = backends_cpu(monitor, database)
            if pids1 != pids0:  # a connection opened or closed meanwhile: its CPU before the read is unknown
                continue
            client.append(c1 - c0)
            server.append(s1 - s0)
            total.append(c1 - c0 + s1 - s0)
            wall.append(w1 - w0)
        if not total:
            continue
        label = ", ".join(f"{k}={v}" for k, v in kwargs.items() if k != "as_of") or "all owners"
        print(f"| {name} | {label} | {statistics.median(client) * 1000:.0f} ms | {statistics.median(server) * 1000:.0f} ms | "
              f"{statistics.median(total) * 1000:.0f} ms | {percentile(total, 0.95) * 1000:.0f} ms | "
              f"{statistics.median(wall) * 1000:.0f} ms |", flush=True)
    monitor.close()


if __name__ == "__main__":
    main()
