"""Benchmark of the day's routes: the solver vs nearest neighbour vs a random order, on the demo data.

    AKIG_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/akig_demo AKIG_REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/routing.py [--date 2026-11-26] [--time-limit 0.2]
    .venv/bin/python bench/routing.py --by-size [--repeat 20] [--time-limit 0.5]

Plans the day (`missions.generate`, which routes every agent's visits with the solver and times it), then
re-orders each agent's visits with the two baselines from the same start, and prints the total distance
of each (road estimate: great circle × 1.3) and the solve times. Not a test.

`--by-size` needs no database: random stops around Conakry, 5 to 80 of them, solved as
`POST /api/routes/optimize` does (`solver.solve`, 0.5 s limit, no day cut) and, as before small problems
had a path of their own, by OR-Tools' search alone (`solver.solve_search`); p50/p95 times and the cost.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from akig_data.writes import missions
from akig_data.planning import solver as routing
from akig_data import runtime  # noqa: E402


SIZES = (5, 8, 12, 30, 80)
NO_DROP_MINUTES = 7 * 24 * 60   # as the API and re-planning: the day does not cut the route


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def by_size(repeat: int, time_limit: float) -> None:
    print(f"Random stops around Conakry, {repeat} instances per size, time limit {time_limit} s, "
          "no day cut.\n")
    print("| stops | path now | before: search p50 / p95 | now: p50 / p95 | distance now vs before |")
    print("|---:|---|---:|---:|---:|")
    for n in SIZES:
        before_t, after_t, before_m, after_m = [], [], 0.0, 0.0
        for seed in range(repeat):
            rng = random.Random(1000 * n + seed)
            start = (9.55 + rng.uniform(-0.05, 0.05), -13.65 + rng.uniform(-0.05, 0.05))
            stops = [routing.Stop(i, 9.55 + rng.uniform(-0.05, 0.05), -13.65 + rng.uniform(-0.05, 0.05))
                     for i in range(n)]
            t0 = time.perf_counter()
            before = routing.solve_search(start, stops, time_limit, NO_DROP_MINUTES)
            t1 = time.perf_counter()
            after = routing.solve(start, stops, time_limit, NO_DROP_MINUTES)
            t2 = time.perf_counter()
            before_t.append((t1 - t0) * 1000)
            after_t.append((t2 - t1) * 1000)
            before_m += before.distance_m
            after_m += after.distance_m
        path = "exact (Held–Karp)" if n <= routing.EXACT_MAX_STOPS else "OR-Tools search"
        print(f"| {n} | {path} | {_p(before_t, .5):.0f} / {_p(before_t, .95):.0f} ms | "
              f"{_p(after_t, .5):.1f} / {_p(after_t, .95):.1f} ms | {after_m / before_m * 100 - 100:+.2f} % |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--date", default=None)
    parser.add_argument("--time-limit", type=float, default=None,
                        help="OR-Tools time limit per agent (s; 0.2, or 0.5 with --by-size)")
    parser.add_argument("--by-size", action="store_true", help="solve times by number of stops (no database)")
    parser.add_argument("--repeat", type=int, default=20, help="instances per size with --by-size")
    args = parser.parse_args()
    if args.by_size:
        by_size(args.repeat, 0.5 if args.time_limit is None else args.time_limit)
        return
    args.time_limit = 0.2 if args.time_limit is None else args.time_limit
    day = dt.date.fromisoformat(args.date) if args.date else dt.datetime.now(missions.TZ).date()
    rt = runtime.configure()
    started = time.perf_counter()
    report = missions.generate(day, time_limit_s=args.time_limit)
    whole = time.perf_counter() - started
    with rt.engine.connect() as conn:
        rows = conn.execute(sa.text("""
            SELECT a.agent_ref, m.route_order, s.lat, s.lon, m.priority, p.lat AS start_lat, p.lon AS start_lon
              FROM missions m JOIN agents a ON a.id = m.agent_id JOIN leases l ON l.id = m.lease_id
              JOIN sites s ON s.id = l.site_id
              LEFT JOIN LATERAL (SELECT lat, lon FROM agent_positions ap WHERE ap.agent_id = a.id
                                  ORDER BY t DESC LIMIT 1) p ON true
             WHERE m.day = :d AND m.kind = 'visit' ORDER BY a.agent_ref, m.route_order"""), {"d": day}).all()
    by_agent: dict[str, list] = {}
    for r in rows:
        by_agent.setdefault(r.agent_ref, []).append(r)
    totals = {"solver": 0.0, "nearest neighbour": 0.0, "random order": 0.0}
    times = []
    for agent, visits in by_agent.items():
        start = (visits[0].start_lat, visits[0].start_lon) if visits[0].start_lat is not None else (visits[0].lat, visits[0].lon)
        stops = [routing.Stop(i, v.lat, v.lon, v.priority) for i, v in enumerate(visits)]
        t0 = time.perf_counter()
        best = routing.solve(start, stops, time_limit_s=args.time_limit)
        times.append(time.perf_counter() - t0)
        totals["solver"] += best.distance_m
        totals["nearest neighbour"] += routing.nearest_neighbour(start, stops).distance_m
        totals["random order"] += routing.random_order(start, stops).distance_m
    print(f"{day}: {len(by_agent)} agents, {len(rows)} visits ({report.planned_calls} calls), "
          f"OR-Tools time limit {args.time_limit} s per agent above {routing.EXACT_MAX_STOPS} stops.\n")
    print("| order | total distance | vs the solver |")
    print("|---|---:|---:|")
    for name, metres in totals.items():
        print(f"| {name} | {metres / 1000:.1f} km | {metres / totals['solver'] * 100 - 100:+.0f} % |")
    print("\n| step | time |")
    print("|---|---:|")
    print(f"| whole day's plan (`missions.generate`: candidates, assignment, {len(by_agent)} routes, insert) | {whole:.2f} s |")
    print(f"| routes only, inside the plan | {report.solve_seconds:.2f} s |")
    print(f"| one agent's route, p50 / max | {statistics.median(times):.2f} s / {max(times):.2f} s |")


if __name__ == "__main__":
    main()
