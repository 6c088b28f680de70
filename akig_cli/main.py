"""The `akig` command: database, import, demo data, queries and the server.

    akig db init                      create or upgrade the schema
    akig import PATH                  load a folder of CSV files or an .xlsx workbook (all or nothing)
    akig demo seed --scale demo       load the synthetic data set
    akig demo up                      db init + seed when empty + serve (what `make demo` runs)
    akig query NAME key=value ...     run any registered read (`akig query --list`)
    akig serve --port 5006            the one Panel server with every app and the HTTP endpoints
"""

from __future__ import annotations

import datetime as dt
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(
    help="AKIG: rent-collection analytics (Conakry). Settings come from AKIG_* environment variables.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Create, upgrade and inspect the database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="The synthetic demo data set.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")


def _fail(message: str, code: int = 1) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _runtime(start_embedded_redis: bool = False):
    from akig_data.errors import DatabaseUnavailable
    from akig_data.runtime import configure

    try:
        return configure(start_embedded_redis=start_embedded_redis)
    except DatabaseUnavailable as exc:
        _fail(str(exc))


def _migrate(runtime) -> list[str]:
    from akig_data import migrations
    from akig_data.db import is_connection_error
    import sqlalchemy as sa

    try:
        return migrations.upgrade(runtime.engine)
    except migrations.MigrationError as exc:
        _fail(f"migration refused: {exc}")
    except sa.exc.DBAPIError as exc:
        if is_connection_error(exc):
            _fail(f"PostgreSQL does not answer at {runtime.engine.url.render_as_string(hide_password=True)}")
        raise
    return []


# -- db -----------------------------------------------------------------------------------------------
@db_app.command("init")
def db_init() -> None:
    """Create or upgrade the schema from the numbered files in sql/ (each applied once, recorded)."""
    runtime = _runtime()
    applied = _migrate(runtime)
    from akig_data import migrations

    if applied:
        for name in applied:
            typer.echo(f"applied {name}")
    typer.echo(f"schema at version {migrations.current_version(runtime.engine):03d}"
               + ("" if applied else " (already up to date)"))


@db_app.command("status")
def db_status() -> None:
    """List the migrations and whether each is applied."""
    from akig_data import migrations

    runtime = _runtime()
    done = migrations.applied(runtime.engine)
    for m in migrations.discover():
        typer.echo(f"{'applied' if m.version in done else 'pending'}  {m.name}")


# -- import -------------------------------------------------------------------------------------------
@app.command("import")
def import_(path: Path = typer.Argument(..., help="A folder of CSV files (owners.csv, sites.csv, ...) or an .xlsx workbook")) -> None:
    """Load a folder of CSV files or one .xlsx workbook: all rows or none; importing twice changes nothing."""
    from tqdm import tqdm

    from akig_data.importer import ImportFailed, import_path

    runtime = _runtime()
    _migrate(runtime)
    try:
        report = import_path(path, progress=lambda **kw: tqdm(file=sys.stderr, **kw))
    except ImportFailed as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        _fail(f"{len(exc.problems)} problem(s); nothing was imported.")
        return
    for r in report.results:
        typer.echo(f"{r.table:<10} {r.rows:>9} rows: {r.inserted} new, {r.updated} updated, {r.unchanged} unchanged")


# -- demo ---------------------------------------------------------------------------------------------
class ScaleName(str, Enum):
    small = "small"
    demo = "demo"
    large = "large"


@demo_app.command("seed")
def demo_seed(
    scale: ScaleName = typer.Option(ScaleName.demo, help="small (tests), demo (default) or large (benchmarks)"),
    seed: int = typer.Option(7, help="random seed: the same seed and --until give the same data"),
    until: Optional[str] = typer.Option(None, help="last day of the data (YYYY-MM-DD, default today)"),
    reset: bool = typer.Option(False, help="empty the data tables first (refused otherwise when data exist)"),
) -> None:
    """Load the synthetic data set: Conakry's communes, Guinean names, GNF rents, five payer behaviours."""
    from akig_data.demo.seed import DatabaseNotEmpty
    from akig_data.demo.seed import seed as run_seed

    try:
        until_date = dt.date.fromisoformat(until) if until else None
    except ValueError:
        _fail(f"--until must be a date YYYY-MM-DD (got {until!r})")
        return
    runtime = _runtime()
    _migrate(runtime)
    try:
        run_seed(scale.value, seed=seed, until=until_date, reset=reset, log=typer.echo)
    except DatabaseNotEmpty as exc:
        _fail(str(exc))


@demo_app.command("up")
def demo_up(
    port: int = typer.Option(5006, help="HTTP port"),
    address: str = typer.Option("127.0.0.1", help="address to listen on"),
    scale: ScaleName = typer.Option(ScaleName.demo, help="data set to load when the database is empty"),
) -> None:
    """Start the database (embedded unless AKIG_DATABASE_URL is set), load the demo data when empty, serve."""
    from akig_data.demo.seed import has_data
    from akig_data.demo.seed import seed as run_seed

    runtime = _runtime(start_embedded_redis=True)
    _migrate(runtime)
    with runtime.engine.connect() as conn:
        empty = not has_data(conn)
    if empty:
        typer.echo(f"Loading the {scale.value} data set (first run only)...")
        run_seed(scale.value, log=typer.echo)
    else:
        typer.echo("Reusing the data already in the database.")
    _serve(port=port, address=address, num_procs=1, runtime=runtime)


# -- query --------------------------------------------------------------------------------------------
class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


@app.command("query")
def query(
    name: Optional[str] = typer.Argument(None, help="the read to run (see --list)"),
    params: Optional[List[str]] = typer.Argument(None, help="key=value parameters, e.g. as_of=2026-06-30"),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table, json or csv"),
    list_: bool = typer.Option(False, "--list", help="list the registered reads and their parameters"),
) -> None:
    """Run any registered read of the data layer (the same functions the apps and notebooks call)."""
    from akig_data import export, registry
    from akig_data.errors import AkigError

    if list_ or not name:
        for spec in registry.all_reads():
            args = ", ".join(f"{p.name}: {p.type_name} ({p.describe_default()})" for p in spec.params)
            typer.echo(f"{spec.name}({args})\n    {spec.summary}")
        return
    kwargs: dict[str, str] = {}
    for item in params or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _fail(f"parameters are key=value (got {item!r})", code=2)
        kwargs[{"from": "date_from", "to": "date_to"}.get(key, key)] = value
    _runtime()
    try:
        frame = registry.run(name, **kwargs)
    except AkigError as exc:
        _fail(str(exc), code=2)
        return
    if fmt is Format.json:
        typer.echo(export.to_json(frame))
    elif fmt is Format.csv:
        typer.echo(export.to_csv(frame), nl=False)
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 250):
            typer.echo(frame.to_string(index=False) if len(frame) else "(no rows)")


# -- serve --------------------------------------------------------------------------------------------
def _serve(port: int, address: str, num_procs: int, runtime) -> None:
    from dashboards.server import serve as run_server

    typer.echo(f"AKIG is served at http://{address}:{port}/")
    run_server(port=port, address=address, num_procs=num_procs)


@app.command("serve")
def serve(
    port: int = typer.Option(5006, help="HTTP port"),
    address: str = typer.Option("127.0.0.1", help="address to listen on"),
    num_procs: int = typer.Option(1, help="server processes (Tornado fork; put nginx with sticky sessions in front)"),
) -> None:
    """Serve every app and the HTTP endpoints (/api/health ...) on one Panel server."""
    runtime = _runtime(start_embedded_redis=True)
    _migrate(runtime)
    _serve(port=port, address=address, num_procs=num_procs, runtime=runtime)


if __name__ == "__main__":  # pragma: no cover
    app()
