"""`akig report daily|folder`: the daily report as a file, or the day's folder the server writes at 19:00."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from akig_cli.common import fail, open_runtime, parse_day

app = typer.Typer(help="The daily report (rapport du jour).", no_args_is_help=True)


@app.command("daily")
def report_daily(
    date: Optional[str] = typer.Option(None, help="the day (YYYY-MM-DD, default today)"),
    owner: Optional[str] = typer.Option(None, help="one owner's report (his sites only)"),
    fmt: str = typer.Option("pdf", "--format", help="pdf (A4, to read or print) or xlsx (one sheet per table)"),
    out: Optional[str] = typer.Option(None, help="the file to write (default rapport-AAAA-MM-JJ[-OWNER].FORMAT)"),
) -> None:
    """Write the day's report: KPIs against yesterday and last month, collected by site and method, arrears
    by age, agents' day and podium, promises kept and broken, new alerts, the ten largest arrears, the
    tenants at risk."""
    from akig_data.reports import files as report_files
    from akig_data.errors import AkigError

    if fmt not in report_files.FORMATS:
        fail(f"--format must be pdf or xlsx (got {fmt!r})", code=2)
    day = parse_day(date)
    open_runtime()
    try:
        data = report_files.render(day, owner, fmt)
    except AkigError as exc:
        fail(str(exc), code=2)
        return
    path = Path(out or report_files.filename(day, owner, fmt))
    path.write_bytes(data)
    typer.echo(f"{path}: {fmt}, {len(data):,} bytes ({'owner ' + owner if owner else 'all owners'})")


@app.command("folder")
def report_folder(
    date: Optional[str] = typer.Option(None, help="the day (YYYY-MM-DD, default today)"),
    folder: Optional[str] = typer.Option(None, help="where (default AKIG_REPORTS_DIR, else ./reports)"),
) -> None:
    """What the server does at 19:00: the day's reports for all owners and for each owner, PDF and Excel,
    into FOLDER/AAAA-MM-JJ/."""
    from akig_data.reports import files as report_files

    day = parse_day(date)
    open_runtime()
    try:
        typer.echo(report_files.write_folder(day, Path(folder) if folder else None))
    except Exception as exc:
        fail(str(exc))
