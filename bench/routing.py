"""Benchmark of the day's routes: OR-Tools vs nearest neighbour vs a random order, on the demo data.

    AKIG_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/akig_demo AKIG_REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/routing.py [--date 2026-11-26] [--time-limit 0.2]

Plans the day (`missions.generate`, which routes every agent's visits with OR-Tools and times it), then
re-orders each agent's visits with the two baselines from the same start, and prints the total distance
of each (road estimate: great circle × 1.3) and the solve times. Not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from akig_data.writes import missions
from akig_data.planning import solver as routing
from akig_data import runtime  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--date", default=None)
    parser.add_argument("--time-limit", type=float, default=0.2, help="OR-Tools time limit per agent (s)")
    args = parser.parse_args()
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
    totals = {"OR-Tools": 0.0, "nearest neighbour": 0.0, "random order": 0.0}
    times = []
    for agent, visits in by_agent.items():
        start = (visits[0].start_lat, visits[0].start_lon) if visits[0].start_lat is not None else (visits[0].lat, visits[0].lon)
        stops = [routing.Stop(i, v.lat, v.lon, v.priority) for i, v in enumerate(visits)]
        t0 = time.perf_counter()
        best = routing.solve(start, stops, time_limit_s=args.time_limit)
        times.append(time.perf_counter() - t0)
        totals["OR-Tools"] += best.distance_m
        totals["nearest neighbour"] += routing.nearest_neighbour(start, stops).distance_m
        totals["random order"] += routing.random_order(start, stops).distance_m
    print(f"{day}: {len(by_agent)} agents, {len(rows)} visits ({report.planned_calls} calls), "
          f"OR-Tools time limit {args.time_limit} s per agent.\n")
    print("| order | total distance | vs OR-Tools |")
    print("|---|---:|---:|")
    for name, metres in totals.items():
        print(f"| {name} | {metres / 1000:.1f} km | {metres / totals['OR-Tools'] * 100 - 100:+.0f} % |")
    print("\n| step | time |")
    print("|---|---:|")
    print(f"| whole day's plan (`missions.generate`: candidates, assignment, {len(by_agent)} routes, insert) | {whole:.2f} s |")
    print(f"| routes only, inside the plan | {report.solve_seconds:.2f} s |")
    print(f"| one agent's route, p50 / max | {statistics.median(times):.2f} s / {max(times):.2f} s |")


if __name__ == "__main__":
    main()
