"""The one SQLAlchemy engine (psycopg 3) and the way reads come back: as Arrow tables.

Results are built as Arrow tables typed from PostgreSQL's column types (not guessed from values),
so an empty answer has the same columns and types as a full one, and the bytes cached in Redis and
the frame handed to a caller are the same thing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from typing import Any, Iterable, Iterator, Sequence

import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from akig_data import large_answers
from akig_data.observe import metrics
from akig_data.clock import LOCAL_TZ
from akig_data.errors import DatabaseUnavailable, InvalidParameter


# PostgreSQL type OIDs -> Arrow types. Integers are int64 (money is bigint GNF), rates float64.
_ARROW_BY_OID: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int64(),
    23: pa.int64(),
    700: pa.float64(),
    701: pa.float64(),
    1700: pa.float64(),
    25: pa.string(),
    1043: pa.string(),
    19: pa.string(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz=LOCAL_TZ),
}


def normalise_url(url: str) -> str:
    """Accept postgres:// and postgresql:// URLs and pin the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str, statement_timeout_ms: int = 60_000) -> Engine:
    """The application's engine: JIT off (see FIELD-NOTES: 10x slower plans on our aggregates),
    the session time zone pinned to Africa/Conakry, stale pooled connections replaced after an outage."""
    options = f"-c jit=off -c timezone={LOCAL_TZ} -c statement_timeout={int(statement_timeout_ms)}"
    connect_args = {"options": options, "connect_timeout": 5, "application_name": "akig"}
    engine = sa.create_engine(
        normalise_url(url),
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        pool_recycle=1800,
        # prepare_threshold=None: no server-side prepared statements, so every read is planned with its
        # actual arguments (a generic plan cannot simplify "owner_ref IS NULL OR ...").
        connect_args={**connect_args, "prepare_threshold": None},
    )
    large_answers.register(engine, connect_args)
    return engine


def is_connection_error(exc: BaseException) -> bool:
    """True when PostgreSQL cannot be reached (as opposed to a bad query or bad data)."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)) and not isinstance(
        getattr(exc, "orig", None), _QUERY_ERRORS
    )


try:  # psycopg errors that are the query's fault even though they surface as OperationalError
    import psycopg.errors as _pgerr

    _QUERY_ERRORS: tuple[type, ...] = (_pgerr.QueryCanceled, _pgerr.InsufficientResources)
except ImportError:  # pragma: no cover
    _QUERY_ERRORS = ()


def translate_error(exc: sa.exc.DBAPIError) -> Exception:
    """Turn a driver error into the data layer's own errors where the cause is known."""
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in ("22023", "22007", "22008", "22P02"):
        diag = getattr(orig, "diag", None)
        message = getattr(diag, "message_primary", None) or str(orig)
        return InvalidParameter(message)
    if sqlstate is None and isinstance(exc, sa.exc.DataError) and "NUL (0x00)" in str(orig):
        # psycopg refuses, before sending it, a text holding NUL, which PostgreSQL's text type cannot store:
        # bad input (a 400 over the API), not a server error.
        return InvalidParameter("Texte invalide : le caractère NUL (0x00) n'est pas accepté.")
    if is_connection_error(exc):
        return DatabaseUnavailable(type(orig).__name__ if orig is not None else type(exc).__name__)
    return exc


def arrow_from_result(description: Iterable[Any], rows: Sequence[Sequence[Any]]) -> pa.Table:
    """Build an Arrow table from a DBAPI description and rows, typed by column OID."""
    description = list(description)
    # One transposition in C instead of one Python loop over the rows per column: for the largest reads
    # (60,000 rows of 13 columns) the loops cost more than the driver's own parsing of the rows.
    columns = list(zip(*rows)) if rows else [() for _ in description]
    names: list[str] = []
    arrays: list[pa.Array] = []
    for col, values in zip(description, columns):
        names.append(col.name)
        arrow_type = _ARROW_BY_OID.get(col.type_code)
        if arrow_type is None:
            arrays.append(pa.array(values) if values else pa.array([], type=pa.string()))
            continue
        if pa.types.is_floating(arrow_type) and col.type_code == 1700:  # numeric comes back as Decimal
            values = [None if v is None else float(v) for v in values]
        elif pa.types.is_timestamp(arrow_type) and arrow_type.tz:
            values = [None if v is None else v.astimezone(dt.timezone.utc) for v in values]
        arrays.append(pa.array(values, type=arrow_type))
    return pa.table(arrays, names=names) if names else pa.table({})


@contextlib.contextmanager
def translated_errors() -> Iterator[None]:
    """Raise the data layer's own errors (DatabaseUnavailable, InvalidParameter) for driver errors."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        raise translate_error(exc) from exc


_SCOPE_SQL = sa.text("SELECT set_config('akig.owner_ref', :scope, true), set_config('role', :role, true),"
                     " set_config('work_mem', :work_mem, true)")
# Memory for each sort or hash of a read, for its transaction only. With PostgreSQL's default (4 MB) the
# largest reads at `large` scale sorted on disk: arrears_by_lease's 70,821 rows (8.5 MB), late_sites' 68,892
# late leases by site (4.4 MB); in memory, 355 -> 261-272 ms and 203-231 -> 182-198 ms under EXPLAIN ANALYZE.
READ_WORK_MEM = "16MB"
ROLE_ALL, ROLE_OWNER = "akig_read_all", "akig_read_owner"


def scope_settings(scope: str) -> tuple[str, str, str]:
    """What a read's transaction sets first: its owner scope ('*' for every owner), the reading role of
    that scope, and its memory for sorts."""
    return scope, ROLE_ALL if scope == "*" else ROLE_OWNER, READ_WORK_MEM


def fetch_arrow(engine: Engine, sql: str, params: dict[str, Any], scope: str = "*",
                row_security: bool = True) -> pa.Table:
    """Run one parameterised SELECT and return its rows as an Arrow table. The transaction first becomes
    the reading role of its scope (every owner: akig_read_all; one owner: akig_read_owner, which
    PostgreSQL's row-level security restricts to that owner) in the same round trip.

    The first time a statement runs in the process its rows come through the driver, and its columns'
    names and types are kept; from then on it runs as `COPY (…) TO STDOUT` and Arrow's CSV reader builds
    the columns (see `copied_table`); when its last answer in the same scope was large, through the ADBC
    driver instead (see `akig_data.large_answers`)."""
    key = (engine.url, sql)
    settings = scope_settings(scope) if row_security else None
    size_key = (engine.url, sql, scope == "*")
    kept = _COLUMNS.get(key)
    if (kept is not None and _LAST_ROWS.get(size_key, 0) >= large_answers.LARGE_ANSWER_ROWS
            and large_answers.serves(engine)):
        table = large_answers.fetch(engine, settings, params, *kept)
        if table is not None:
            remember_rows(size_key, table.num_rows)
            metrics.READ_TRANSFERS.labels("adbc").inc()
            return table
        metrics.READ_TRANSFERS.labels("adbc_fallback").inc()
    with translated_errors(), engine.begin() as conn:
        if settings is not None:
            conn.execute(_SCOPE_SQL, dict(zip(("scope", "role", "work_mem"), settings)))
        kept = _COLUMNS.get(key)
        if kept is not None:
            table = copied_table(conn, params, *kept)
            if table is not None:
                remember_rows(size_key, table.num_rows)
                metrics.READ_TRANSFERS.labels("copy").inc()
                return table
            _COLUMNS.pop(key, None)   # the kept columns no longer fit: learn them again below
        result = conn.execute(sa.text(sql), params)
        # The driver's own tuples: SQLAlchemy's Row objects, built for each row and then turned back into
        # tuples, cost more than the driver's parsing of them for the largest reads.
        description = result.cursor.description
        with collector_paused():
            rows = result.cursor.fetchall()
        result.close()
    metrics.READ_TRANSFERS.labels("driver").inc()
    with collector_paused():
        table = arrow_from_result(description, rows)
    remember_rows(size_key, table.num_rows)
    if key not in _COLUMNS and len(_COLUMNS) < _COLUMNS_KEPT:
        columns = copyable_columns(description, table)
        # with the statement in the driver's placeholder style, compiled once
        _COLUMNS[key] = None if columns is None else (sa.text(sql).compile(dialect=engine.dialect), columns)
    return table


# (database URL, statement) -> the statement compiled for psycopg and its columns as Arrow fields, or None
# when a column's type has no CSV form that Arrow reads back exactly. The statements are the reads' constant
# texts: a few hundred at most.
_COLUMNS: dict[tuple[Any, str], tuple[Any, list[pa.Field]] | None] = {}
_COLUMNS_KEPT = 2048
# (database URL, statement, every owner or one) -> the rows of its last answer: from LARGE_ANSWER_ROWS on,
# the next answer comes through large_answers.
_LAST_ROWS: dict[tuple[Any, str, bool], int] = {}


def remember_rows(size_key: tuple[Any, str, bool], rows: int) -> None:
    """Keep the size of a statement's last answer in its scope (at most two scopes per kept statement)."""
    if size_key in _LAST_ROWS or len(_LAST_ROWS) < _COLUMNS_KEPT * 2:
        _LAST_ROWS[size_key] = rows


_COPY_OPTIONS = dict(
    # PostgreSQL's CSV: NULL is an empty unquoted field, an empty text is "" (quoted); booleans are t/f;
    # a text may hold line breaks inside its quotes; a row of one NULL column is an empty line, which Arrow
    # would otherwise skip.
    parse=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
    convert_kwargs=dict(strings_can_be_null=True, quoted_strings_can_be_null=False, null_values=[""],
                        true_values=["t"], false_values=["f"]),
)


def copyable_columns(description: Iterable[Any], table: pa.Table) -> list[pa.Field] | None:
    """The statement's columns when every one comes back exactly through CSV: a type of _ARROW_BY_OID,
    and names that are all different (the CSV header names them)."""
    oids = [col.type_code for col in description]
    if any(oid not in _ARROW_BY_OID for oid in oids) or len(set(table.column_names)) != table.num_columns:
        return None
    return list(table.schema)


def copied_table(conn: sa.Connection, params: dict[str, Any], compiled: Any, columns: list[pa.Field]) -> pa.Table | None:
    """The statement's rows through `COPY (…) TO STDOUT (FORMAT csv)`, parsed by Arrow into the columns
    the statement gave the first time; None when the answer does not fit them (a renamed column, a date
    PostgreSQL writes as 'infinity'), and the caller then reads it through the driver.

    Why: for the largest reads (70,000 rows at `large` scale) a Python object for every value, then columns
    built from them, were a quarter of the read's time (`lease_risk` for every owner 458 -> 350 ms through
    COPY); Arrow parses the text in C++.
    The parameters are bound by psycopg on the client (COPY takes no bound parameters): each value is
    sent as a quoted literal of its type, as psycopg's client-side binding does for any statement."""
    import psycopg

    statement = "COPY (" + compiled.string + "\n) TO STDOUT (FORMAT csv, HEADER true)"
    cursor = conn.connection.driver_connection.cursor()
    try:
        with cursor.copy(statement, compiled.construct_params(params)) as copy:
            data = b"".join(copy)
    except psycopg.Error as exc:
        raise sa.exc.DBAPIError.instance(statement, params, exc, psycopg.Error) from exc
    finally:
        cursor.close()
    names = [field.name for field in columns]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            parse_options=_COPY_OPTIONS["parse"],
            convert_options=pacsv.ConvertOptions(column_types={f.name: f.type for f in columns},
                                                 **_COPY_OPTIONS["convert_kwargs"]),
        )
    except pa.ArrowInvalid:
        return None
    if table.column_names != names or table.schema != pa.schema(columns):
        return None
    return table


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a read's rows are made and turned into columns.

    Those are hundreds of thousands of tuples, strings and numbers (70,821 rows of 13 columns for
    arrears_by_lease at `large` scale): every 700 of them the collector ran, and every few runs it scanned
    everything the process holds, for nothing, since rows hold no cycles. Paused, the fetch and the
    conversion of that read took 39 + 45 ms instead of 44-82 + 47-94 ms. The collector is switched back on
    by whoever paused it first (another thread's read may pause and resume within that time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
