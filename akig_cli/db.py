"""`akig db init|status`: create, upgrade and inspect the database schema."""

from __future__ import annotations

import typer

from akig_cli.common import migrate, open_runtime

app = typer.Typer(help="Create, upgrade and inspect the database schema.", no_args_is_help=True)


@app.command("init")
def db_init() -> None:
    """Create or upgrade the schema from the numbered files in sql/ (each applied once, recorded)."""
    runtime = open_runtime()
    applied = migrate(runtime)
    from akig_data import migrations

    if applied:
        for name in applied:
            typer.echo(f"applied {name}")
    typer.echo(f"schema at version {migrations.current_version(runtime.engine):03d}"
               + ("" if applied else " (already up to date)"))


@app.command("status")
def db_status() -> None:
    """List the migrations and whether each is applied."""
    from akig_data import migrations

    runtime = open_runtime()
    done = migrations.applied(runtime.engine)
    for m in migrations.discover():
        typer.echo(f"{'applied' if m.version in done else 'pending'}  {m.name}")
