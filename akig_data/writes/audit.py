"""The audit trail: who did what, when, from where; append-only and hash-chained.

PostgreSQL computes each row's hash (sql/009_users_audit.sql: SHA-256 over the previous row's hash and
this row's fields) and refuses UPDATE, DELETE and TRUNCATE. `verify()` recomputes the chain here, in
Python, from the stored fields: a row edited or deleted behind the triggers' back (by a superuser, or
with the triggers disabled) breaks the chain at that row, and `akig audit verify` says where.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from akig_data.engine import translated_errors
from akig_data.runtime import get_runtime

GENESIS = "0" * 64
_SEP = "\x1f"
_INSERT = sa.text(
    "INSERT INTO audit_log (actor, role, address, action, target, details, prev_hash, hash) "
    "VALUES (:actor, :role, :address, :action, :target, CAST(:details AS jsonb), '', '')"
)


def cli_actor() -> str:
    """The actor name of a command run from the shell."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # pragma: no cover - no login name in some containers
        return "cli"


def record(conn: sa.Connection | None = None, *, actor: str, action: str, target: str | None = None,
           role: str | None = None, address: str | None = None, details: dict[str, Any] | None = None) -> None:
    """Append one entry; inside the caller's transaction when one is given (so the entry and the change
    it describes commit or roll back together)."""
    params = {"actor": actor, "role": role, "address": address, "action": action, "target": target,
              "details": json.dumps(details or {}, ensure_ascii=False, sort_keys=True, default=str)}
    if conn is not None:
        conn.execute(_INSERT, params)
        return
    with translated_errors(), get_runtime().engine.begin() as own:
        own.execute(_INSERT, params)


def entries(limit: int = 200, offset: int = 0, actor: str | None = None, action: str | None = None) -> pd.DataFrame:
    """The newest entries first, for the admin page."""
    sql = ("SELECT id, at, actor, role, address, action, target, details::text AS details FROM audit_log "
           "WHERE (CAST(:actor AS text) IS NULL OR actor = :actor) AND (CAST(:action AS text) IS NULL OR action = :action) "
           "ORDER BY id DESC LIMIT :limit OFFSET :offset")
    with translated_errors(), get_runtime().engine.connect() as conn:
        rows = conn.execute(sa.text(sql), {"actor": actor, "action": action, "limit": limit, "offset": offset})
        return pd.DataFrame(rows.fetchall(), columns=list(rows.keys()))


def _payload(prev: str, row) -> str:
    at_utc = row.at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    fields = [prev, str(row.id), at_utc, row.actor, row.role or "", row.address or "", row.action,
              row.target or "", row.details]
    return _SEP.join(fields)


@dataclass(frozen=True)
class ChainReport:
    rows: int
    ok: bool
    first_bad_id: int | None = None
    reason: str = ""


def verify(engine: sa.Engine | None = None) -> ChainReport:
    """Walk the chain from the first row; stop at the first row whose link or hash does not match."""
    engine = engine or get_runtime().engine
    prev, count = GENESIS, 0
    with translated_errors(), engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=5000).execute(sa.text(
            "SELECT id, at, actor, role, address, action, target, details::text AS details, prev_hash, hash "
            "FROM audit_log ORDER BY id"))
        for row in result:
            if row.prev_hash != prev:
                return ChainReport(count, False, row.id,
                                   f"row {row.id} does not follow the previous row (a row before it was deleted or edited)")
            expected = hashlib.sha256(_payload(prev, row).encode("utf-8")).hexdigest()
            if row.hash != expected:
                return ChainReport(count, False, row.id, f"row {row.id} was edited after it was written")
            prev, count = row.hash, count + 1
    return ChainReport(count, True)
