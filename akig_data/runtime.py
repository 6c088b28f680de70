"""The process-wide connections of the data layer: one engine, one memo, built once from settings.

`get_runtime()` builds them on first use from the environment; tests and tools call `configure()`
to point the data layer elsewhere (a test database, another Redis prefix).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from akig_data import embedded
from akig_data.observe import metrics
from akig_data.engine import create_engine
from akig_data.memo import Memo
from akig_data.config import Settings

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    database_url: str
    redis_url: str | None
    engine: Engine
    memo: Memo
    read_engine: Engine | None = None   # AKIG_DATABASE_READ_URL: a read replica

    def engine_for_reads(self) -> Engine:
        """The replica for a read, unless a write was announced within AKIG_READ_AFTER_WRITE_S (or Redis
        cannot tell): then the primary, so that a user sees what he just recorded and no answer read on
        a lagging replica is cached under the new generation."""
        if self.read_engine is None:
            return self.engine
        last_write = self.memo.last_write()
        if last_write is None or time.time() - last_write < self.settings.read_after_write_s:
            metrics.READ_ROUTING.labels("primary").inc()
            return self.engine
        metrics.READ_ROUTING.labels("replica").inc()
        return self.read_engine

    @property
    def embedded_database(self) -> bool:
        return self.settings.database_url is None

    def close(self) -> None:
        self.engine.dispose()
        if self.read_engine is not None:
            self.read_engine.dispose()
        if self.memo.client is not None:
            self.memo.client.close()


_runtime: Runtime | None = None
_kept_settings: Settings | None = None   # what `reset(keep_settings=True)` leaves for the next use
_lock = threading.Lock()


def redis_client(url: str, settings: Settings) -> redis.Redis:
    """A client that fails fast: short timeouts and one immediate retry on a broken connection only
    (redis-py's default retries ten times with backoff, which would turn "Redis is down" into
    seconds of waiting on every read instead of a quick fall-back to PostgreSQL)."""
    return redis.Redis.from_url(
        url,
        socket_timeout=settings.redis_socket_timeout,
        socket_connect_timeout=settings.redis_socket_timeout,
        health_check_interval=30,
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
    )


def _resolve_redis_url(settings: Settings, start_embedded_redis: bool) -> str | None:
    if settings.cache_disabled:
        return None
    if settings.redis_url:
        return settings.redis_url
    if start_embedded_redis:
        return embedded.start_redis(settings.home)
    return embedded.running_redis_url(settings.home)


def configure(
    settings: Settings | None = None,
    *,
    start_embedded_redis: bool = False,
) -> Runtime:
    """(Re)build the process's engine and memo. Starts the embedded PostgreSQL when no URL is set."""
    global _runtime
    settings = settings or Settings.from_env()
    with _lock:
        if _runtime is not None:
            _runtime.close()
        database_url = settings.database_url or embedded.start_postgres(settings.home)
        redis_url = _resolve_redis_url(settings, start_embedded_redis)
        client = redis_client(redis_url, settings) if redis_url else None
        memo = Memo(client, prefix=settings.cache_prefix, retry_after=settings.redis_retry_after)
        _runtime = Runtime(
            settings=settings,
            database_url=database_url,
            redis_url=redis_url,
            engine=create_engine(database_url, settings.statement_timeout_ms),
            memo=memo,
            read_engine=(create_engine(settings.database_read_url, settings.statement_timeout_ms)
                         if settings.database_read_url else None),
        )
        return _runtime


def get_runtime() -> Runtime:
    """The configured runtime, configured on first use: with the settings a `reset(keep_settings=True)`
    kept, else from the environment."""
    if _runtime is None:
        return configure(_kept_settings)
    return _runtime


def reset(keep_settings: bool = False) -> None:
    """Close and forget the runtime. `keep_settings`: its connections go (none may cross a fork) but
    its settings stay for the next use, e.g. the server's application-role URL chosen at start."""
    global _runtime, _kept_settings
    with _lock:
        kept = _runtime.settings if keep_settings and _runtime is not None else None
        if _runtime is not None:
            _runtime.close()
        _runtime = None
        _kept_settings = kept


@contextlib.contextmanager
def write_transaction() -> Iterator[Connection]:
    """One transaction on the primary as the writing role (akig_write) when row-level security is on,
    database errors translated: what every write (and the settings that only the writing role may read,
    such as the reminders' and the statements') runs in. The server logs in as akig_app, which can read
    and write no table by itself."""
    from akig_data.engine import translated_errors

    with translated_errors(), get_runtime().engine.begin() as conn:
        if get_runtime().settings.row_security:
            conn.execute(text("SELECT set_config('role', 'akig_write', true)"))
        yield conn
