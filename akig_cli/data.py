"""`akig import PATH` (CSV folder or workbook, all or nothing) and `akig query NAME key=value ...` (any
registered read); main.py adds both as top-level commands."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from akig_cli.common import fail, migrate, open_runtime


def import_(path: Path = typer.Argument(..., help="A folder of CSV files (owners.csv, sites.csv, ...) or an .xlsx "
                                                    "workbook; or `statement` followed by a merchant statement file"),
            statement_file: Optional[Path] = typer.Argument(None, metavar="[FILE]",
                                                            help="with `statement`: the Orange Money or MTN MoMo "
                                                                 "statement (CSV or .xlsx)"),
            owner: Optional[str] = typer.Option(None, "--owner", help="with `statement`: the owner whose merchant "
                                                                      "account the statement is (e.g. OWN-0001)"),
            operator: Optional[str] = typer.Option(None, "--operator", help="with `statement`: orange_money or "
                                                                            "mtn_momo (default: read from the header)"),
            ) -> None:
    """Load a folder of CSV files or one .xlsx workbook: all rows or none; importing twice changes nothing.

    `akig import statement FILE --owner OWN-0001` reconciles a mobile-money merchant statement instead: sure
    matches are booked as payments, the rest wait in the desk's review queue; a transaction already imported
    is not booked again."""
    if str(path) == "statement" and not path.exists():
        _import_statement(statement_file, owner, operator)
        return
    if statement_file is not None or owner is not None or operator is not None:
        fail("FILE, --owner and --operator go with `akig import statement FILE --owner OWN-…`.", code=2)
    from tqdm import tqdm

    from akig_data.writes.importer import ImportFailed, import_path

    runtime = open_runtime()
    migrate(runtime)
    try:
        report = import_path(path, progress=lambda **kw: tqdm(file=sys.stderr, **kw))
    except ImportFailed as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        fail(f"{len(exc.problems)} problem(s); nothing was imported.")
        return
    for r in report.results:
        typer.echo(f"{r.table:<10} {r.rows:>9} rows: {r.inserted} new, {r.updated} updated, {r.unchanged} unchanged")


def _import_statement(file: Optional[Path], owner: Optional[str], operator: Optional[str]) -> None:
    from akig_data.errors import AkigError
    from akig_data.writes.reconciliation import import_statement
    from akig_data.writes.statement_formats import StatementRefused

    if file is None or owner is None:
        fail("usage: akig import statement FILE --owner OWN-0001 [--operator orange_money|mtn_momo]", code=2)
        return
    if not file.is_file():
        fail(f"{file}: no such file", code=2)
        return
    runtime = open_runtime()
    migrate(runtime)
    try:
        summary = import_statement(file, owner_ref=owner, operator=operator)
    except StatementRefused as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        fail(f"{len(exc.problems)} problem(s); nothing was imported.")
        return
    except AkigError as exc:
        fail(str(exc), code=2)
        return
    for line in summary.lines():
        typer.echo(line)


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def query(
    name: Optional[str] = typer.Argument(None, help="the read to run (see --list)"),
    params: Optional[List[str]] = typer.Argument(None, help="key=value parameters, e.g. as_of=2026-06-30"),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table, json or csv"),
    list_: bool = typer.Option(False, "--list", help="list the registered reads and their parameters"),
) -> None:
    """Run any registered read of the data layer (the same functions the apps and notebooks call)."""
    from akig_data import reads
    from akig_data.reports import spreadsheet as export
    from akig_data.errors import AkigError

    if list_ or not name:
        for spec in reads.all_reads():
            args = ", ".join(f"{p.name}: {p.type_name} ({p.describe_default()})" for p in spec.params)
            typer.echo(f"{spec.name}({args})\n    {spec.summary}")
        return
    kwargs: dict[str, str] = {}
    for item in params or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"parameters are key=value (got {item!r})", code=2)
        kwargs[{"from": "date_from", "to": "date_to"}.get(key, key)] = value
    open_runtime()
    try:
        frame = reads.run(name, **kwargs)
    except AkigError as exc:
        fail(str(exc), code=2)
        return
    if fmt is Format.json:
        typer.echo(export.to_json(frame))
    elif fmt is Format.csv:
        typer.echo(export.to_csv(frame), nl=False)
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 250):
            typer.echo(frame.to_string(index=False) if len(frame) else "(no rows)")
