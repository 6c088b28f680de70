"""`akig positions prune`: agents' GPS positions."""

from __future__ import annotations

from typing import Optional

import typer

from akig_cli.common import open_runtime

app = typer.Typer(help="Agents' GPS positions.", no_args_is_help=True)


@app.command("prune")
def positions_prune(days: Optional[int] = typer.Option(None, min=1, help="keep this many days (default: "
                                                        "AKIG_POSITIONS_RETENTION_DAYS, 90)")) -> None:
    """Delete GPS fixes older than the retention (the server also does it once a day)."""
    from akig_data.writes import positions

    open_runtime()
    typer.echo(f"{positions.prune(days)} fixes older than {days or positions.retention_days()} days deleted")
