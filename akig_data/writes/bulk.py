"""Set-based loading of many rows at once: COPY into a temporary staging table, then one
INSERT ... SELECT ... ON CONFLICT per table that resolves external refs to ids and inserts, updates
or leaves each row alone. The CSV/Excel import and the demo data generator both load through here.

Rows whose values did not change are not rewritten (`IS DISTINCT FROM` guard), so importing the same
file twice changes nothing, not even a row version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import sqlalchemy as sa


@dataclass(frozen=True)
class Ref:
    """A column that names a row of another table by its external ref."""

    column: str        # column in the input, e.g. "lease_ref"
    table: str         # parent table, e.g. "leases"
    target: str        # foreign-key column written, e.g. "lease_id"
    nullable: bool = False
    # (parent column, column written) pairs copied from the parent row as well: a payment's owner_id, which
    # the foreign key (lease_id, owner_id) checks against its lease (sql/048)
    copies: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Entity:
    """How one table is loaded: its input columns (in order), their SQL types, refs and conflict key."""

    table: str
    columns: tuple[tuple[str, str], ...]  # (input column, SQL type of the staging column)
    key: tuple[str, ...]                  # conflict key, in target columns
    refs: tuple[Ref, ...] = ()
    update: bool = True                   # False: existing rows are left alone (ON CONFLICT DO NOTHING)
    partitioned: bool = False             # key not unique in the table itself (sql/016): update, then insert

    def ref(self, column: str) -> Ref | None:
        return next((r for r in self.refs if r.column == column), None)


def _e(table: str, key: str | tuple[str, ...], cols: str, refs: Sequence[Ref] = (), update: bool = True,
       partitioned: bool = False) -> Entity:
    pairs = tuple(tuple(c.split(":")) for c in cols.split())
    return Entity(table, pairs, (key,) if isinstance(key, str) else key, tuple(refs), update,  # type: ignore[arg-type]
                  partitioned)


ENTITIES: dict[str, Entity] = {
    e.table: e
    for e in (
        _e("owners", "owner_ref", "owner_ref:text name:text phone:text email:text"),
        _e("agents", "agent_ref", "agent_ref:text full_name:text phone:text zone:text active:boolean"),
        _e("tenants", "tenant_ref", "tenant_ref:text full_name:text phone:text email:text"),
        _e("sites", "site_ref",
           "site_ref:text owner_ref:text name:text commune:text quartier:text lat:float8 lon:float8",
           [Ref("owner_ref", "owners", "owner_id")]),
        _e("units", "unit_ref", "unit_ref:text site_ref:text label:text monthly_rent:bigint",
           [Ref("site_ref", "sites", "site_id")]),
        _e("leases", "lease_ref",
           "lease_ref:text unit_ref:text tenant_ref:text start_date:date end_date:date monthly_rent:bigint due_day:smallint",
           [Ref("unit_ref", "units", "unit_id"), Ref("tenant_ref", "tenants", "tenant_id")]),
        _e("payments", "payment_ref",
           "payment_ref:text lease_ref:text paid_at:timestamptz amount:bigint method:text agent_ref:text",
           [Ref("lease_ref", "leases", "lease_id", copies=(("owner_id", "owner_id"),)),
            Ref("agent_ref", "agents", "agent_id", nullable=True)],
           partitioned=True),
        _e("promises", "promise_ref",
           "promise_ref:text lease_ref:text agent_ref:text created_at:timestamptz due_date:date amount:bigint",
           [Ref("lease_ref", "leases", "lease_id"), Ref("agent_ref", "agents", "agent_id", nullable=True)]),
        _e("calls", "call_ref",
           "call_ref:text lease_ref:text agent_ref:text called_at:timestamptz outcome:text",
           [Ref("lease_ref", "leases", "lease_id"), Ref("agent_ref", "agents", "agent_id")]),
        _e("visits", "visit_ref",
           "visit_ref:text lease_ref:text agent_ref:text visited_at:timestamptz outcome:text "
           "lat:float8 lon:float8 accuracy_m:float8 distance_m:float8",
           [Ref("lease_ref", "leases", "lease_id"), Ref("agent_ref", "agents", "agent_id")]),
        _e("agent_positions", ("agent_id", "t"),
           "agent_ref:text t:timestamptz lat:float8 lon:float8 accuracy_m:float8 battery:smallint",
           [Ref("agent_ref", "agents", "agent_id")], update=False),
    )
}

# Load order: parents before children.
LOAD_ORDER = ("owners", "agents", "tenants", "sites", "units", "leases", "payments", "promises",
              "calls", "visits", "agent_positions")


@dataclass
class LoadResult:
    table: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0

    @property
    def unchanged(self) -> int:
        return self.rows - self.inserted - self.updated


def _resolved(entity: Entity, present: Sequence[str], stage: str) -> tuple[list[str], str]:
    """The target columns and a SELECT of the staged rows with their refs resolved to ids (identifiers come
    from ENTITIES, never from input)."""
    targets, selects, joins = [], [], []
    for column in present:
        ref = entity.ref(column)
        if ref is None:
            targets.append(column)
            selects.append(f"s.{column}")
        else:
            alias = f"p_{ref.target}"
            targets.append(ref.target)
            selects.append(f"{alias}.id AS {ref.target}")
            for parent_column, written in ref.copies:
                targets.append(written)
                selects.append(f"{alias}.{parent_column} AS {written}")
            kind = "LEFT JOIN" if ref.nullable else "JOIN"
            joins.append(f"{kind} {ref.table} {alias} ON {alias}.{ref.column} = s.{column}")
    return targets, f"SELECT {', '.join(selects)} FROM {stage} s {' '.join(joins)}"


def _upsert_sql(entity: Entity, present: Sequence[str], stage: str) -> str:
    """One INSERT ... ON CONFLICT that inserts, updates or leaves each row, and counts what it did."""
    targets, select = _resolved(entity, present, stage)
    non_key = [t for t in targets if t not in entity.key]
    if entity.update and non_key:
        sets = ", ".join(f"{t} = EXCLUDED.{t}" for t in non_key)
        old = ", ".join(f"t.{t}" for t in non_key)
        new = ", ".join(f"EXCLUDED.{t}" for t in non_key)
        conflict = f"DO UPDATE SET {sets} WHERE ({old}, NULL) IS DISTINCT FROM ({new}, NULL)"
        inserted = "(xmax = 0)"   # a row DO UPDATE changed has the updating transaction in xmax
    else:
        conflict = "DO NOTHING"
        inserted = "true"         # DO NOTHING returns the inserted rows only (and a partitioned table,
        #                           agent_positions, has no xmax to return)
    return (
        f"WITH up AS (INSERT INTO {entity.table} AS t ({', '.join(targets)}) "
        f"{select} "
        f"ON CONFLICT ({', '.join(entity.key)}) {conflict} RETURNING {inserted} AS inserted) "
        "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up"
    )


def _update_then_insert_sql(entity: Entity, present: Sequence[str], stage: str) -> tuple[str, str]:
    """For a partitioned table, whose key is unique across partitions only through another table (payments:
    payment_keys), there is no ON CONFLICT arbiter: update the rows that exist and differ (a changed month
    moves the row to its partition), then insert the others. Each statement returns its row count."""
    targets, select = _resolved(entity, present, stage)
    non_key = [t for t in targets if t not in entity.key]
    match = " AND ".join(f"t.{k} = x.{k}" for k in entity.key)
    update = (
        f"UPDATE {entity.table} AS t SET {', '.join(f'{c} = x.{c}' for c in non_key)} FROM ({select}) x "
        f"WHERE {match} AND ({', '.join(f't.{c}' for c in non_key)}, NULL) "
        f"IS DISTINCT FROM ({', '.join(f'x.{c}' for c in non_key)}, NULL)"
    ) if entity.update and non_key else "SELECT 1 WHERE false"
    insert = (
        f"INSERT INTO {entity.table} ({', '.join(targets)}) SELECT {', '.join(f'x.{c}' for c in targets)} "
        f"FROM ({select}) x WHERE NOT EXISTS (SELECT 1 FROM {entity.table} t WHERE {match})"
    )
    return update, insert


def load_rows(conn: sa.Connection, table: str, present: Sequence[str], rows: Iterable[Sequence]) -> LoadResult:
    """Load rows (tuples in the order of `present`) into `table` inside the caller's transaction."""
    entity = ENTITIES[table]
    types = dict(entity.columns)
    unknown = [c for c in present if c not in types]
    if unknown:
        raise ValueError(f"{table}: unknown columns {unknown}")
    stage = f"stage_{table}"
    driver = conn.connection.dbapi_connection
    with driver.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {stage}")
        cur.execute(
            f"CREATE TEMP TABLE {stage} ({', '.join(f'{c} {types[c]}' for c in present)}) ON COMMIT DROP"
        )
        count = 0
        with cur.copy(f"COPY {stage} ({', '.join(present)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        cur.execute(f"ANALYZE {stage}")
        if entity.partitioned:
            update, insert = _update_then_insert_sql(entity, present, stage)
            cur.execute(update)
            updated = max(cur.rowcount, 0)
            cur.execute(insert)
            inserted = cur.rowcount
        else:
            cur.execute(_upsert_sql(entity, present, stage))
            inserted, updated = cur.fetchone()
        cur.execute(f"DROP TABLE {stage}")
    return LoadResult(table, count, inserted, updated)
