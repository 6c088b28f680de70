"""Load the synthetic data set into the database (`akig demo seed`)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Callable

import sqlalchemy as sa

from akig_data.writes.bulk import LOAD_ORDER, LoadResult, load_rows
from akig_data.demo.generate import DemoGenerator
from akig_data.errors import AkigError
from akig_data.writes import audit
from akig_data.upkeep import partitions
from akig_data.runtime import get_runtime

DATA_TABLES = LOAD_ORDER  # every table the demo fills (and --reset empties)


class DatabaseNotEmpty(AkigError):
    """Seeding would mix demo rows with the data already there."""


def has_data(conn: sa.Connection) -> bool:
    return bool(conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM owners)")).scalar())


def seed(
    scale: str = "demo",
    seed: int = 7,
    until: dt.date | None = None,
    reset: bool = False,
    log: Callable[[str], None] = lambda message: None,
) -> list[LoadResult]:
    """Generate and load one data set in a single transaction; refuse a non-empty database unless reset."""
    runtime = get_runtime()
    generator = DemoGenerator(scale, seed=seed, until=until)
    results: list[LoadResult] = []
    started = time.perf_counter()
    with runtime.engine.connect() as conn:
        if has_data(conn) and not reset:
            raise DatabaseNotEmpty(
                "the database already holds data; use --reset to replace it with the demo data set"
            )
        conn.rollback()  # end the read-only transaction opened by the check
        tables = {t.name: t for t in generator.tables()}
        log(f"generated {scale} data set (seed {seed}, until {generator.until}) in {time.perf_counter() - started:.1f} s")
        with conn.begin():
            conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
            conn.execute(sa.text("SET LOCAL statement_timeout = 0"))  # a bulk load is not a read
            if reset:
                conn.execute(sa.text(f"TRUNCATE {', '.join(reversed(DATA_TABLES))} RESTART IDENTITY CASCADE"))
            partitions.ensure_on(conn, since=generator.start)   # rows go straight into their months
            for name in LOAD_ORDER:
                table = tables[name]
                t0 = time.perf_counter()
                results.append(load_rows(conn, name, table.columns, table.rows))
                log(f"  {name:<16} {results[-1].rows:>10,} rows  {time.perf_counter() - t0:6.1f} s")
            partitions.ensure_on(conn)   # and the few older ones (leases begun before the period) move there
            audit.record(conn, actor=audit.cli_actor(), action="demo_seed", target=scale, address="cli",
                         details={"seed": seed, "until": str(generator.until), "reset": reset})
    # VACUUM (outside any transaction) sets the visibility map: index-only scans stay index-only.
    with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    runtime.memo.bump(DATA_TABLES)
    log(f"loaded in {time.perf_counter() - started:.1f} s")
    return results
