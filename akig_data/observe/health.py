"""What /api/health reports: can we reach PostgreSQL and Redis, and how fast. Nothing secret (no URL,
no user, no version of anything but our schema). Each check also sets the akig_database_up and
akig_cache_up gauges (the server runs one every minute in each process)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import sqlalchemy as sa

from akig_data.observe import metrics
from akig_data.runtime import get_runtime


def check() -> dict[str, Any]:
    runtime = get_runtime()
    database: dict[str, Any] = {"ok": False}
    started = time.perf_counter()
    try:
        with runtime.engine.connect() as conn:
            version = conn.execute(sa.text(
                "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN NULL "
                "ELSE (SELECT max(version) FROM schema_migrations) END"
            )).scalar()
        database = {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                    "schema_version": version}
    except sa.exc.SQLAlchemyError as exc:
        database = {"ok": False, "error": type(getattr(exc, "orig", exc) or exc).__name__}
    cache: dict[str, Any]
    if not runtime.memo.enabled:
        cache = {"ok": False, "enabled": False}
    else:
        try:
            cache = {"ok": True, "enabled": True, "latency_ms": round(runtime.memo.ping() * 1000, 2)}
        except Exception as exc:  # any Redis failure is "not ok", never a 500
            cache = {"ok": False, "enabled": True, "error": type(exc).__name__}
    metrics.DATABASE_UP.set(1 if database["ok"] else 0)
    metrics.CACHE_UP.set(1 if cache["ok"] else 0)
    status = "ok" if database["ok"] and cache["ok"] else ("degraded" if database["ok"] else "down")
    return {
        "status": status,
        "database": database,
        "cache": cache,
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
