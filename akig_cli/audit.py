"""`akig audit verify|show`: the hash-chained audit trail."""

from __future__ import annotations

import typer

from akig_cli.common import fail, open_runtime

app = typer.Typer(help="The audit trail (append-only, hash-chained).", no_args_is_help=True)


@app.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain; exit 1 at the first edited or deleted row."""
    from akig_data.writes import audit

    open_runtime()
    report = audit.verify()
    if not report.ok:
        fail(f"audit chain BROKEN after {report.rows} good rows: {report.reason}")
    typer.echo(f"audit chain intact: {report.rows} rows")


@app.command("show")
def audit_show(limit: int = typer.Option(50, help="newest entries to show")) -> None:
    """The newest entries."""
    from akig_data.writes import audit

    open_runtime()
    frame = audit.entries(limit=limit)
    typer.echo(frame.to_string(index=False) if len(frame) else "(empty)")
