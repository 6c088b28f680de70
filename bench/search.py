"""Benchmark of the tenant search (`search_tenants`): p50/p95 per kind of query, cold (the SQL runs; the
Redis memo is bypassed) and the plan of one query. Run it on the `large` data set:

    AKIG_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/akig_bench .venv/bin/python bench/search.py

Prints a Markdown table; not a test.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from akig_data import reads
from akig_data import runtime  # noqa: E402
from akig_data.reads.registry import table_to_frame  # noqa: E402

QUERIES = [
    ("misspelt name", "Dialo"), ("misspelt name", "Kourumah"), ("accents", "Keïta"), ("accents", "keita"),
    ("full name", "Mamadou Diallo"), ("prefix (typing)", "Sid"), ("prefix (typing)", "Ma"),
    ("phone with +224", "PHONE_INTL"), ("phone digits", "PHONE_DIGITS"), ("site name", "Palmiers"),
    ("unit label", "Villa"), ("hostile", "'; DROP TABLE tenants; --"), ("hostile", "%_\\"),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(runs: int = 20) -> None:
    rt = runtime.configure()
    spec = reads.get("search_tenants")
    with rt.engine.connect() as conn:
        tenants = conn.execute(sa.text("SELECT count(*) FROM tenants")).scalar()
        owner = conn.execute(sa.text("SELECT owner_ref FROM owners ORDER BY owner_ref LIMIT 1")).scalar()
        phone = conn.execute(sa.text("SELECT phone FROM tenants WHERE phone IS NOT NULL ORDER BY id LIMIT 1")).scalar()
    digits = "".join(c for c in phone if c.isdigit())[3:]  # a real number of the data set, without 224
    replace = {"PHONE_INTL": f"+224 {digits[:3]} {digits[3:5]} {digits[5:7]}", "PHONE_DIGITS": digits[2:9]}
    print(f"{tenants:,} tenants; {runs} runs per query; page of 20.\n")
    print("| query | kind | owner | matches | p50 | p95 |")
    print("|---|---|---|---:|---:|---:|")
    for kind, q in QUERIES:
        q = replace.get(q, q)
        for scope in (None, owner):
            args = spec.bind({"q": q, "owner_ref": scope})
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                frame = table_to_frame(spec.func(**args))
                times.append(time.perf_counter() - start)
            total = int(frame["total_matches"].iloc[0]) if len(frame) else 0
            print(f"| `{q}` | {kind} | {scope or 'all'} | {total:,} | {statistics.median(times) * 1000:.1f} ms | "
                  f"{percentile(times, 0.95) * 1000:.1f} ms |")
    with rt.engine.connect() as conn:
        plan = conn.execute(sa.text(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT * FROM search_tenants('Dialo', NULL, 20, 0)")).scalars()
        print("\nPlan of `Dialo` (all owners):\n\n```\n" + "\n".join(plan) + "\n```")


if __name__ == "__main__":
    main()
