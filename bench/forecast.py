"""Backtest of the late-payment models and the cash forecast (akig_data/risk/backtest.py): rolling origins
over the last 12 months, each trained only on what was known then, against the naive baselines. Run it on
the `demo` data set (seeded until 2026-06-30):

    AKIG_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/akig_demo OMP_NUM_THREADS=2 \\
        .venv/bin/python bench/forecast.py --as-of 2026-07-01

Prints Markdown tables with the commit measured, the cores and the time taken; not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from akig_data import runtime  # noqa: E402
from akig_data.risk import backtest  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date.today(),
                        help="the day after the data's last day")
    parser.add_argument("--origins", type=int, default=12)
    parser.add_argument("--months", type=int, default=24, help="months of history each origin learns from")
    parser.add_argument("--max-iter", type=int, default=150)
    args = parser.parse_args()
    runtime.configure()
    started = time.perf_counter()
    result = backtest.run(args.as_of, origins=args.origins, months=args.months, max_iter=args.max_iter)
    took = time.perf_counter() - started
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    print(f"Commit {commit}; {os.cpu_count()} cores; {args.max_iter} boosting iterations; "
          f"{args.months} months of history per origin; {took:.0f} s.\n")
    print(backtest.render(result))


if __name__ == "__main__":
    main()
