"""A tiny migration runner for the numbered SQL files in `sql/`.

The files stay at the top of the repository, in `sql/`, and are installed as the package `akig_data.sql`
(pyproject.toml maps that package to the folder): an editable install reads the repository's files, a
wheel carries its own copy, and both are found here through importlib.resources.

Why not Alembic: our schema is plain SQL (tables, views, plpgsql functions, triggers) written and
reviewed as SQL; Alembic would wrap each file in a Python script and add a second place to look.
This runner does the three things we need: apply each `NNN_name.sql` once, in order, each in its own
transaction; record it (name + checksum) in `schema_migrations`; and refuse to run when an applied
file was edited afterwards (a changed view belongs in a new numbered file). A PostgreSQL advisory
lock keeps two processes (two app hosts starting together) from migrating at once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine


def _installed_sql_dir() -> Path:
    """The folder of the package akig_data.sql: the repository's sql/ in an editable install, the installed
    copy otherwise. Migrations are files on disk (the runner globs and hashes them), not members of a zip."""
    folder = resources.files("akig_data.sql")
    if not isinstance(folder, Path):
        raise RuntimeError(f"akig_data.sql is not a folder on disk ({folder!r}): install AKIG unzipped")
    return folder


SQL_DIR = _installed_sql_dir()
_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_LOCK_ID = 0x414B4947  # "AKIG"


class MigrationError(RuntimeError):
    """The database and the files in sql/ disagree in a way a human must look at."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(sql_dir: Path = SQL_DIR) -> list[Migration]:
    """The migration files, in order; a stray or duplicate-numbered file is an error."""
    found: dict[int, Migration] = {}
    for path in sorted(sql_dir.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNN_lowercase_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path.name}: number {version:03d} is already used by {found[version].name}")
        found[version] = Migration(version, path.name, path)
    return [found[v] for v in sorted(found)]


_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)"""


def applied(engine: Engine) -> dict[int, tuple[str, str]]:
    """version -> (name, checksum) of the migrations recorded in the database."""
    with engine.connect() as conn:
        exists = conn.execute(sa.text("SELECT to_regclass('schema_migrations') IS NOT NULL")).scalar()
        if not exists:
            return {}
        rows = conn.execute(sa.text("SELECT version, name, checksum FROM schema_migrations")).all()
    return {v: (n, c) for v, n, c in rows}


def upgrade(engine: Engine, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply every pending migration; return the names applied (empty when up to date)."""
    migrations = discover(sql_dir)
    done: list[str] = []
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": _LOCK_ID})
        try:
            # Only when missing: the application's login role (akig_app) may not create tables, and runs
            # this at start only to check that the schema is up to date.
            if not conn.execute(sa.text("SELECT to_regclass('schema_migrations') IS NOT NULL")).scalar():
                conn.execute(sa.text(_CREATE_TABLE))
            conn.commit()
            recorded = {
                v: (n, c)
                for v, n, c in conn.execute(sa.text("SELECT version, name, checksum FROM schema_migrations"))
            }
            conn.commit()
            unknown = sorted(set(recorded) - {m.version for m in migrations})
            if unknown:
                raise MigrationError(
                    f"the database has migrations this code does not know: {unknown}; is the code older than the database?"
                )
            for migration in migrations:
                if migration.version in recorded:
                    name, checksum = recorded[migration.version]
                    if checksum != migration.checksum:
                        raise MigrationError(
                            f"{migration.name} was changed after it was applied (as {name}); "
                            "put the change in a new numbered file"
                        )
                    continue
                try:
                    with conn.begin():
                        # The raw psycopg connection runs a whole file (several statements, no parameters).
                        conn.connection.dbapi_connection.execute(migration.sql)
                        conn.execute(
                            sa.text("INSERT INTO schema_migrations (version, name, checksum) VALUES (:v, :n, :c)"),
                            {"v": migration.version, "n": migration.name, "c": migration.checksum},
                        )
                except psycopg.DatabaseError as exc:
                    if isinstance(exc, psycopg.OperationalError):
                        raise
                    raise MigrationError(f"{migration.name} failed and was rolled back: {exc}") from exc
                done.append(migration.name)
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
            conn.commit()
    return done


def current_version(engine: Engine) -> int | None:
    """The highest applied migration number, or None on an empty database."""
    versions = applied(engine)
    return max(versions) if versions else None
