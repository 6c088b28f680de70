"""Large answers (thousands of rows) read straight into Arrow columns by Apache Arrow's ADBC driver for
PostgreSQL, beside the engine's own psycopg connections.

Why: through psycopg, `COPY … TO STDOUT` hands Python one message per row. For the reads that answer tens
of thousands of rows (every owner's leases in arrears, good payers, risk scores; a whole history of
promises) those messages cost more than Arrow's parsing of them: 70,821 rows of `arrears_by_lease` took
about 120 ms to arrive. The ADBC driver runs the same statement as a binary COPY and builds the columns in
C++, with no Python object per row or per message.

Only statements whose last answer, in the same scope (every owner, or one), had `LARGE_ANSWER_ROWS` rows or
more come this way, once the engine has learnt their columns: the answer is cast to exactly those columns,
so a caller cannot tell which way it came. Everything else, and any answer that does not fit, goes through
psycopg as before. The read runs in its own transaction with the same scope, role and sort memory as the
engine's (`engine.scope_settings`), and the parameters are bound the way the engine's COPY binds them:
each value as a quoted literal of its type, written by psycopg.
"""

from __future__ import annotations

import re
import threading
import weakref
from typing import Any, Callable

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from akig_data.errors import InvalidParameter

try:
    import adbc_driver_postgresql.dbapi as _adbc
    from adbc_driver_manager import Error as _AdbcError
except ImportError:  # pragma: no cover - the driver is a dependency; without it every read uses psycopg
    _adbc = None
    _AdbcError = Exception

# From this many rows the driver's per-row cost through psycopg outweighs a second pool of connections.
LARGE_ANSWER_ROWS = 5_000
# Each process holds at most this many such connections at once, beside the engine's own pool.
POOL_SIZE, POOL_OVERFLOW = 2, 6
# When all of them are busy, a read waits this long for one, then goes through psycopg.
POOL_WAIT_S = 1.0
# How PostgreSQL's sessions list (pg_stat_activity) shows these connections, beside the engine's "akig".
APPLICATION_NAME = "akig-large-answers"

_SCOPE_SQL = "SELECT set_config('akig.owner_ref', $1, true), set_config('role', $2, true), set_config('work_mem', $3, true)"
# PostgreSQL writes dates and timestamps beyond Arrow's own as 'infinity': such an answer is read again by
# psycopg, which refuses it as it always did. Days from 1970 within years 1 to 9999:
_DAYS = (-719_162, 2_932_896)
_PRIMARY = re.compile(r"ERROR:\s+(.*?)\s*(?:\n|$)")


class _Pools:
    """One small pool of ADBC connections per engine, closed when the engine is disposed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conninfo: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
        self._pools: weakref.WeakKeyDictionary[Engine, sa.pool.QueuePool] = weakref.WeakKeyDictionary()

    def register(self, engine: Engine, conninfo: str) -> None:
        with self._lock:
            self._conninfo[engine] = conninfo
        sa.event.listen(engine, "engine_disposed", self.close)

    def serves(self, engine: Engine) -> bool:
        return _adbc is not None and engine in self._conninfo

    def get(self, engine: Engine) -> sa.pool.QueuePool | None:
        with self._lock:
            pool = self._pools.get(engine)
            if pool is None and _adbc is not None and engine in self._conninfo:
                # a connection goes back rolled back (its role and scope with it), whatever happened
                pool = self._pools[engine] = sa.pool.QueuePool(
                    _connector(self._conninfo[engine]), pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW,
                    timeout=POOL_WAIT_S, recycle=1800, reset_on_return="rollback")
            return pool

    def close(self, engine: Engine) -> None:
        with self._lock:
            pool = self._pools.pop(engine, None)
        if pool is not None:
            pool.dispose()


def _connector(conninfo: str) -> Callable[[], Any]:
    return lambda: _adbc.connect(conninfo, autocommit=False)


_POOLS = _Pools()


def register(engine: Engine, connect_kwargs: dict[str, Any]) -> None:
    """Let `engine`'s large answers come through ADBC, connecting with the engine's own libpq settings
    (host, database, user, options such as the statement timeout and the time zone)."""
    from psycopg.conninfo import make_conninfo

    _, url_kwargs = engine.dialect.create_connect_args(engine.url)
    settings = {k: v for k, v in {**url_kwargs, **connect_kwargs}.items()
                if k not in ("context", "prepare_threshold") and v is not None}
    settings["application_name"] = APPLICATION_NAME
    _POOLS.register(engine, make_conninfo("", **settings))


def serves(engine: Engine) -> bool:
    """Whether `engine`'s large answers can come this way: the driver is installed and the engine was made
    by `akig_data.engine.create_engine`, which registers it."""
    return _POOLS.serves(engine)


def literal_statement(compiled: Any, params: dict[str, Any]) -> str:
    """The compiled statement with each parameter written as a quoted SQL literal of its type by psycopg
    (strings quoted and escaped, dates as `'…'::date`, None as NULL). The substitution is one pass of
    Python's `%` formatting, which never reads a placeholder inside a value it inserted."""
    from psycopg import sql

    values = compiled.construct_params(params)
    return compiled.string % {name: sql.Literal(value).as_string(None) for name, value in values.items()}


def fetch(engine: Engine, scope_settings: tuple[str, str, str] | None, params: dict[str, Any], compiled: Any,
          columns: list[pa.Field]) -> pa.Table | None:
    """The statement's answer cast to `columns`, or None when this way cannot give it exactly (no driver, a
    connection lost, an answer that does not fit the columns): the caller then reads it through psycopg.
    A parameter PostgreSQL refuses raises InvalidParameter with PostgreSQL's message, as through psycopg."""
    pool = _POOLS.get(engine)
    if pool is None:
        return None
    statement = literal_statement(compiled, params)
    try:
        proxy = pool.connect()
    except (_AdbcError, sa.exc.TimeoutError):   # PostgreSQL unreachable, or every connection busy
        return None
    dropped = False
    try:
        cursor = proxy.driver_connection.cursor()
        try:
            if scope_settings is not None:
                cursor.execute(_SCOPE_SQL, parameters=scope_settings)
                cursor.fetchall()
            cursor.execute(statement)
            table = cursor.fetch_arrow_table()
        finally:
            cursor.close()
    except _AdbcError as exc:
        sqlstate = str(getattr(exc, "sqlstate", "") or "")
        if sqlstate.startswith("22"):
            message = _PRIMARY.search(str(exc))
            raise InvalidParameter(message.group(1) if message else str(exc)) from exc
        # A lost connection, a cancelled statement or any other failure: this connection is dropped and
        # psycopg runs the read, raising its usual error if the failure was the statement's own.
        proxy.invalidate()
        dropped = True
        return None
    finally:
        if not dropped:
            proxy.close()       # back to the pool, rolled back
    return fitted(table, columns)


def fitted(table: pa.Table, columns: list[pa.Field]) -> pa.Table | None:
    """The driver's columns (int4 as int32, numeric as text, timestamptz in UTC) cast to the engine's,
    or None when the names differ or a value does not fit (a date PostgreSQL writes as 'infinity')."""
    if table.column_names != [field.name for field in columns]:
        return None
    arrays = []
    for column, field in zip(table.columns, columns):
        if isinstance(column.type, pa.BaseExtensionType):        # numeric: an opaque type stored as text
            column = pa.chunked_array([chunk.storage for chunk in column.chunks], type=column.type.storage_type)
        if pa.types.is_date32(column.type) and column.null_count < len(column):
            days = column.cast(pa.int32())
            if pc.min(days).as_py() < _DAYS[0] or pc.max(days).as_py() > _DAYS[1]:
                return None
        if pa.types.is_timestamp(column.type) and column.null_count < len(column):
            micros = column.cast(pa.int64())
            if pc.min(micros).as_py() < _DAYS[0] * 86_400_000_000 or pc.max(micros).as_py() > _DAYS[1] * 86_400_000_000:
                return None
        if pa.types.is_float32(column.type) and pa.types.is_float64(field.type):
            # real: psycopg reads PostgreSQL's shortest text of the value (0.9), not the binary float's
            # widening (0.8999999761581421); Arrow writes the same shortest text
            column = column.cast(pa.string())
        try:
            arrays.append(column if column.type == field.type else column.cast(field.type))
        except pa.ArrowException:    # a value or a type the kept column cannot hold: psycopg reads it
            return None
    return pa.table(arrays, schema=pa.schema(columns))
