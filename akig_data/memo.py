"""Redis memo of data-layer reads: Arrow IPC values, generation-counted invalidation, one computation
per key at a time, and a straight path to PostgreSQL when Redis fails.

Key layout (prefix defaults to "akig"):
    {prefix}:gen:{table}                             one integer per table, INCR on every write
    {prefix}:memo:{read}:v{version}:{scope}:{args}:{gens}   an Arrow IPC stream, with the read's TTL
    ... same ...:lock                                held by the one caller computing that key

A write bumps the generation of the tables it touched; every key built from the old generations is
never looked up again and expires with its TTL: invalidation is O(tables), never a KEYS/SCAN. The scope
(the owner a read is restricted to, or "*") is part of every key, so one owner's answer is never
served to another.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import pyarrow as pa
import pyarrow.ipc
import redis

from akig_data.observe import metrics

log = logging.getLogger(__name__)

_RELEASE_LOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""


def table_to_ipc(table: pa.Table) -> bytes:
    """Serialise an Arrow table as an IPC stream (no pickle: a shared cache must not run code on load)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def ipc_to_table(blob: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(blob)).read_all()


@dataclass(frozen=True)
class MemoKey:
    value: str

    @property
    def lock(self) -> str:
        return self.value + ":lock"


class Memo:
    """The cache in front of every read. With `client=None` it is disabled and every read runs its SQL."""

    def __init__(
        self,
        client: redis.Redis | None,
        prefix: str = "akig",
        retry_after: float = 2.0,
        lock_timeout: float = 120.0,
    ):
        self.client = client
        self.prefix = prefix
        self.retry_after = retry_after
        self.lock_timeout = lock_timeout
        self._down_until = 0.0
        self._pending_bumps: set[str] = set()
        self._guard = threading.Lock()

    # -- state -------------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self.client is not None

    def available(self) -> bool:
        """False while Redis is known to be failing (we retry after `retry_after` seconds)."""
        return self.client is not None and time.monotonic() >= self._down_until

    def _mark_down(self, operation: str, exc: Exception) -> None:
        metrics.CACHE_ERRORS.labels(operation).inc()
        if time.monotonic() >= self._down_until:
            log.warning("Redis unavailable during %s (%s): reads go straight to PostgreSQL", operation, exc)
        self._down_until = time.monotonic() + self.retry_after

    def ping(self) -> float:
        """Round-trip time in seconds; raises redis.RedisError when Redis does not answer."""
        if self.client is None:
            raise redis.ConnectionError("cache disabled")
        start = time.perf_counter()
        self.client.ping()
        return time.perf_counter() - start

    # -- keys ----------------------------------------------------------------------------------
    def _gen_key(self, table: str) -> str:
        return f"{self.prefix}:gen:{table}"

    def generations(self, tables: Sequence[str]) -> list[int]:
        assert self.client is not None
        values = self.client.mget([self._gen_key(t) for t in tables]) if tables else []
        return [int(v) if v is not None else 0 for v in values]

    def key_for(self, read: str, version: int, scope: str, args: dict, gens: Iterable[int]) -> MemoKey:
        canonical = json.dumps(args, sort_keys=True, default=str, separators=(",", ":"))
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:24]
        gen_part = ".".join(str(g) for g in gens) or "0"
        return MemoKey(f"{self.prefix}:memo:{read}:v{version}:{scope}:{digest}:g{gen_part}")

    # -- invalidation --------------------------------------------------------------------------
    def bump(self, tables: Iterable[str]) -> None:
        """Invalidate every memoized read that depends on one of `tables`.

        If Redis is down the bump is remembered and replayed before this process's next cache
        lookup, so a write during an outage cannot leave a stale answer behind once Redis is back."""
        if self.client is None:
            return
        with self._guard:
            todo = set(tables) | self._pending_bumps
            self._pending_bumps = set()
        if not todo:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for table in sorted(todo):
                pipe.incr(self._gen_key(table))
            pipe.set(self._last_write_key, repr(time.time()))   # the read replica's after-write window
            pipe.execute()
        except redis.RedisError as exc:
            with self._guard:
                self._pending_bumps |= todo
            self._mark_down("bump", exc)

    @property
    def _last_write_key(self) -> str:
        return f"{self.prefix}:last_write"

    def last_write(self) -> float | None:
        """Unix time of the last write any process announced (0.0: none known), None when Redis cannot
        say (disabled or down): the caller must then assume a write just happened."""
        if not self.available():
            return None
        try:
            value = self.client.get(self._last_write_key)
        except redis.RedisError as exc:
            self._mark_down("last_write", exc)
            return None
        return float(value) if value is not None else 0.0

    # -- the memo itself -----------------------------------------------------------------------
    def get_or_compute(
        self,
        read: str,
        version: int,
        scope: str,
        args: dict,
        depends_on: Sequence[str],
        ttl: int,
        compute: Callable[[], pa.Table],
    ) -> tuple[pa.Table, str]:
        """Return (table, outcome) where outcome is hit, miss, wait, fallback or disabled."""
        if self.client is None:
            return compute(), "disabled"
        if not self.available():
            return compute(), "fallback"
        try:
            if self._pending_bumps:
                self.bump(())
                if self._pending_bumps:
                    raise redis.ConnectionError("pending invalidations could not be written")
            key = self.key_for(read, version, scope, args, self.generations(list(depends_on)))
            blob = self.client.get(key.value)
        except redis.RedisError as exc:
            self._mark_down("get", exc)
            return compute(), "fallback"
        if blob is not None:
            return ipc_to_table(blob), "hit"
        return self._compute_once(key, ttl, compute)

    def _compute_once(self, key: MemoKey, ttl: int, compute: Callable[[], pa.Table]) -> tuple[pa.Table, str]:
        """Stampede protection: of N callers missing the same key, one computes, the others wait."""
        assert self.client is not None
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.005
        while True:
            try:
                got_lock = self.client.set(key.lock, token, nx=True, px=int(self.lock_timeout * 1000))
            except redis.RedisError as exc:
                self._mark_down("lock", exc)
                return compute(), "fallback"
            if got_lock:
                try:
                    # Double-check: the previous holder may have stored the answer between our miss
                    # and our lock.
                    try:
                        blob = self.client.get(key.value)
                    except redis.RedisError as exc:
                        self._mark_down("get", exc)
                        blob = None
                    if blob is not None:
                        return ipc_to_table(blob), "wait"
                    table = compute()
                    try:
                        self.client.set(key.value, table_to_ipc(table), ex=max(1, int(ttl)))
                    except redis.RedisError as exc:
                        self._mark_down("set", exc)
                    return table, "miss"
                finally:
                    try:
                        self.client.eval(_RELEASE_LOCK, 1, key.lock, token)
                    except redis.RedisError as exc:
                        self._mark_down("unlock", exc)
            # Another caller is computing this key: wait for its answer, or for its lock to go.
            while time.monotonic() < deadline:
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
                try:
                    pipe = self.client.pipeline(transaction=False)
                    pipe.get(key.value)
                    pipe.exists(key.lock)
                    blob, locked = pipe.execute()
                except redis.RedisError as exc:
                    self._mark_down("wait", exc)
                    return compute(), "fallback"
                if blob is not None:
                    return ipc_to_table(blob), "wait"
                if not locked:
                    break  # the other caller failed: try to take the lock ourselves
            else:
                return compute(), "fallback"
