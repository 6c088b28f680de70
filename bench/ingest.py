"""GPS ingestion throughput of one server process: `POST /api/positions` over loopback.

    AKIG_DATABASE_URL=... AKIG_REDIS_URL=... .venv/bin/python bench/ingest.py [--seconds 20] [--clients 4]

Starts `akig serve` (one process, rate limits lifted), gives each simulated phone an agent's own API
token (accounts sim-<agent>), then for batches of 10 and of 1 fix runs `clients` phones posting as
fast as the server answers for a fixed time, each on its own keep-alive connection, and prints a table:
fixes/s and requests/s sustained, p50/p95 latency, errors. Every fix is a new one (its own timestamp),
so every request really writes to PostgreSQL and Redis.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dashboard import percentile  # noqa: E402


def phone(base: str, agent_ref: str, token: str, batch: int, until: float, out: list, clock: list) -> None:
    from akig_data.demo.simulator import Poster

    poster, lat, lon = Poster(base), 9.55, -13.66
    latencies, errors, fixes = [], 0, 0
    while time.monotonic() < until:
        with clock[1]:
            clock[0] += batch
            start_us = clock[0]
        base_t = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
        body = {"agent_ref": agent_ref, "fixes": [
            {"t": (base_t + dt.timedelta(microseconds=start_us + i)).isoformat(), "lat": lat, "lon": lon,
             "accuracy_m": 8.0, "battery": 80} for i in range(batch)]}
        started = time.perf_counter()
        try:
            status, _ = poster.post("/api/positions", token, body)
        except OSError:
            status = 0
        latencies.append(time.perf_counter() - started)
        if status == 201:
            fixes += batch
        else:
            errors += 1
    out.append((latencies, errors, fixes))


def run(base: str, tokens: list[tuple[str, str]], batch: int, clients: int, seconds: float) -> dict:
    out: list = []
    clock = [0, threading.Lock()]
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=phone, args=(base, *tokens[i % len(tokens)], batch, until, out, clock))
               for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    latencies = [x for lat, _, _ in out for x in lat]
    return {"batch": batch, "clients": clients, "requests": len(latencies),
            "fixes_s": sum(f for _, _, f in out) / elapsed, "requests_s": len(latencies) / elapsed,
            "p50_ms": percentile(latencies, 0.5) * 1000, "p95_ms": percentile(latencies, 0.95) * 1000,
            "errors": sum(e for _, e, _ in out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--url", help="an already running server (default: start one)")
    args = parser.parse_args()
    os.environ.setdefault("AKIG_API_RATE_PER_USER", "1000000")
    os.environ.setdefault("AKIG_API_RATE_PER_ADDRESS", "1000000")
    from akig_data import runtime
    from akig_data.demo import simulator
    from akig_data.runtime import get_runtime
    from bench.dashboard import start_server

    runtime.configure()
    agents = [r[0] for r in get_runtime().engine.connect().exec_driver_sql(
        "SELECT agent_ref FROM agents WHERE active ORDER BY agent_ref LIMIT %s" % max(1, args.clients)).all()]
    tokens = [(a, simulator.agent_token(a)) for a in agents]
    proc, base = (None, args.url) if args.url else start_server("bench-ingest")
    try:
        rows = [run(base, tokens, batch, args.clients, args.seconds) for batch in (10, 1)]
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"\nPOST /api/positions, one server process, {args.clients} phones on keep-alive connections, "
          f"{args.seconds:g} s per row ({os.cpu_count()} cores, clients on the same machine)\n")
    print("| fixes per batch | requests | fixes/s | requests/s | p50 (ms) | p95 (ms) | errors |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['batch']} | {r['requests']} | {r['fixes_s']:,.0f} | {r['requests_s']:,.0f} | "
              f"{r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['errors']} |".replace(",", " "))
    print(json.dumps(rows), file=sys.stderr)


if __name__ == "__main__":
    main()
