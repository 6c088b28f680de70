"""`akig import PATH`: load a folder of CSV files or one .xlsx workbook, all or nothing.

1. Read every file/sheet, check its columns, parse and check every row; collect every problem.
2. Check refs across files and against the database; catch duplicate refs inside a file.
3. Only when there is no problem at all: load everything in one transaction (akig_data.writes.bulk), then
   invalidate the cached reads that depend on the tables that changed.
Importing the same files twice changes nothing: rows are matched on their *_ref.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import sqlalchemy as sa

from akig_data.writes.bulk import LoadResult, load_rows
from akig_data.errors import AkigError
from akig_data.writes.import_formats import FORMATS, IMPORT_ORDER, FileFormat
from akig_data.writes import audit
from akig_data.upkeep import partitions
from akig_data.runtime import get_runtime

PROGRESS_ROWS = 20_000  # files at least this long show a progress bar


class ImportFailed(AkigError):
    """The import found problems; nothing was written. `problems` lists every one."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) found; nothing was imported")


@dataclass
class Sheet:
    """One CSV file or one workbook sheet: where it came from, its header and its rows."""

    fmt: FileFormat
    label: str                          # "payments.csv" or "book.xlsx, sheet payments"
    header: list[str]
    rows: Iterator[tuple[int, list[Any]]]  # (line number, cells)
    size_hint: int = 0


@dataclass
class ParsedFile:
    fmt: FileFormat
    label: str
    columns: list[str]                 # the columns present, in format order
    rows: list[tuple] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    rejected_keys: set = field(default_factory=set)  # keys of rows already reported as bad


@dataclass
class ImportReport:
    results: list[LoadResult]

    @property
    def changed_tables(self) -> set[str]:
        return {r.table for r in self.results if r.inserted or r.updated}


# -- reading -----------------------------------------------------------------------------------------
def _csv_rows(path: Path, problems: list[str]) -> Iterator[tuple[int, list[Any]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            line = reader.line_num
            for cells in reader:
                start, line = line + 1, reader.line_num
                if not any(c.strip() for c in cells):
                    continue
                yield start, cells
    except UnicodeDecodeError as exc:
        problems.append(f"{path.name}: not valid UTF-8 text (byte {exc.start}); save the file as UTF-8 CSV")
    except csv.Error as exc:
        problems.append(f"{path.name}: unreadable CSV ({exc})")


def _csv_sheet(path: Path, fmt: FileFormat, problems: list[str]) -> Sheet | None:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError:
        problems.append(f"{path.name}: not valid UTF-8 text; save the file as UTF-8 CSV")
        return None
    if not header:
        problems.append(f"{path.name}: the file is empty (a header row is required)")
        return None
    size = path.stat().st_size
    return Sheet(fmt, path.name, header, _csv_rows(path, problems), size_hint=size // 40)


def _xlsx_sheets(path: Path, problems: list[str]) -> list[Sheet]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds (zip, XML, format) for a file that is not a workbook
        problems.append(f"{path.name}: not a readable .xlsx workbook (save it from Excel or LibreOffice as .xlsx)")
        return []
    sheets = []
    for ws in book.worksheets:
        name = ws.title.strip().lower().removesuffix(".csv")
        fmt = FORMATS.get(name)
        if fmt is None:
            problems.append(f"{path.name}: unknown sheet {ws.title!r} (expected: {', '.join(IMPORT_ORDER)})")
            continue
        rows = ws.iter_rows(values_only=True)
        header_row = next(rows, None)
        if not header_row or not any(h is not None for h in header_row):
            problems.append(f"{path.name}, sheet {ws.title}: the sheet is empty (a header row is required)")
            continue
        header = [("" if h is None else str(h)).strip() for h in header_row]
        while header and header[-1] == "":
            header.pop()  # Excel's used range often runs past the last titled column
        width = len(header)

        def numbered(rows=rows, width=width) -> Iterator[tuple[int, list[Any]]]:
            for line, cells in enumerate(rows, start=2):
                values = ["" if c is None else c for c in cells]
                if len(values) > width and not any(str(v).strip() for v in values[width:]):
                    values = values[:width]
                if any(str(v).strip() for v in values):
                    yield line, values

        sheets.append(Sheet(fmt, f"{path.name}, sheet {ws.title}", header, numbered(), ws.max_row or 0))
    return sheets


def open_sheets(path: Path, problems: list[str]) -> list[Sheet]:
    """Every file or sheet to import from PATH (a folder of CSV files or one .xlsx workbook)."""
    if not path.exists():
        problems.append(f"{path}: no such file or folder")
        return []
    if path.is_file():
        if path.suffix.lower() == ".xlsx":
            return _xlsx_sheets(path, problems)
        if path.suffix.lower() == ".csv" and path.stem.lower() in FORMATS:
            sheet = _csv_sheet(path, FORMATS[path.stem.lower()], problems)
            return [sheet] if sheet else []
        problems.append(f"{path.name}: give a folder of CSV files, one of its CSV files, or an .xlsx workbook")
        return []
    sheets = []
    for file in sorted(path.iterdir()):
        if file.name.startswith(".") or file.is_dir():
            continue
        if file.suffix.lower() != ".csv":
            problems.append(f"{file.name}: not a CSV file (expected: {', '.join(n + '.csv' for n in IMPORT_ORDER)})")
            continue
        fmt = FORMATS.get(file.stem.lower())
        if fmt is None:
            problems.append(f"{file.name}: unknown file (expected: {', '.join(n + '.csv' for n in IMPORT_ORDER)})")
            continue
        sheet = _csv_sheet(file, fmt, problems)
        if sheet:
            sheets.append(sheet)
    if not sheets and not problems:
        problems.append(f"{path}: no file to import (expected: {', '.join(n + '.csv' for n in IMPORT_ORDER)})")
    return sheets


# -- checking ----------------------------------------------------------------------------------------
def _check_header(sheet: Sheet, problems: list[str]) -> list[str] | None:
    header = [h.strip() for h in sheet.header]
    fmt = sheet.fmt
    ok = True
    seen: set[str] = set()
    for name in header:
        if name in seen:
            problems.append(f"{sheet.label}: column {name!r} appears twice")
            ok = False
        seen.add(name)
        if fmt.column(name) is None:
            problems.append(
                f"{sheet.label}: unknown column {name!r} (expected: {', '.join(c.name for c in fmt.columns)})"
            )
            ok = False
    for name in fmt.required_columns:
        if name not in seen:
            problems.append(f"{sheet.label}: missing required column {name!r}")
            ok = False
    return header if ok else None


def parse_sheet(sheet: Sheet, problems: list[str], progress: Callable[..., Any] | None = None) -> ParsedFile | None:
    """Parse and check every row of one file; None when its header is wrong."""
    header = _check_header(sheet, problems)
    if header is None:
        return None
    fmt = sheet.fmt
    present = [c for c in fmt.columns if c.name in header]
    positions = [header.index(c.name) for c in present]
    parsed = ParsedFile(fmt, sheet.label, [c.name for c in present])
    key_index = parsed.columns.index(fmt.key)
    first_line: dict[str, int] = {}
    bar = progress(total=sheet.size_hint, desc=sheet.label, unit=" lignes") if progress and sheet.size_hint >= PROGRESS_ROWS else None
    for line, cells in sheet.rows:
        if bar is not None:
            bar.update(1)
        if len(cells) != len(header):
            problems.append(f"{sheet.label} line {line}: expected {len(header)} fields, found {len(cells)}")
            continue
        values: list[Any] = []
        row_ok = True
        for column, pos in zip(present, positions):
            raw = cells[pos]
            if raw is None or (isinstance(raw, str) and raw.strip() == ""):
                if column.value_required:
                    problems.append(f"{sheet.label} line {line}: {column.name} is required")
                    row_ok = False
                values.append(None)
                continue
            try:
                values.append(column.parse(raw))
            except ValueError as exc:
                problems.append(f"{sheet.label} line {line}: {exc}")
                row_ok = False
                values.append(None)
        key = values[key_index]
        if not row_ok:
            if key is not None:
                parsed.rejected_keys.add(key)
            continue
        if key in first_line:
            problems.append(f"{sheet.label} line {line}: {fmt.key} {key!r} duplicates line {first_line[key]}")
            continue
        first_line[key] = line
        if not _row_rules(fmt.name, dict(zip(parsed.columns, values)), sheet.label, line, problems):
            parsed.rejected_keys.add(key)
            continue
        parsed.rows.append(tuple(values))
        parsed.lines.append(line)
    if bar is not None:
        bar.close()
    return parsed


def _row_rules(name: str, row: dict[str, Any], label: str, line: int, problems: list[str]) -> bool:
    """Rules that involve two columns of the same row."""
    if name == "leases" and row.get("end_date") and row["end_date"] < row["start_date"]:
        problems.append(f"{label} line {line}: end_date ({row['end_date']}) is before start_date ({row['start_date']})")
        return False
    if name == "promises" and row["due_date"] < row["created_at"].astimezone(dt.timezone.utc).date():
        problems.append(f"{label} line {line}: due_date ({row['due_date']}) is before created_at")
        return False
    return True


def _check_references(files: dict[str, ParsedFile], conn: sa.Connection, problems: list[str]) -> None:
    """Every *_ref naming another row must name one in the files or in the database. A ref to a row
    already reported as bad is not reported again (one mistake, one message)."""
    keys_in_files = {
        name: {row[f.columns.index(f.fmt.key)] for row in f.rows} | f.rejected_keys for name, f in files.items()
    }
    for name in IMPORT_ORDER:
        parsed = files.get(name)
        if parsed is None:
            continue
        for column in parsed.fmt.columns:
            if column.refers_to is None or column.name not in parsed.columns:
                continue
            index = parsed.columns.index(column.name)
            wanted = {row[index] for row in parsed.rows if row[index] is not None}
            missing = wanted - keys_in_files.get(column.refers_to, set())
            if missing:
                parent = FORMATS[column.refers_to]
                found = conn.execute(
                    sa.text(f"SELECT {parent.key} FROM {parent.name} WHERE {parent.key} = ANY(:refs)"),
                    {"refs": sorted(missing)},
                ).scalars()
                missing -= set(found)
            if not missing:
                continue
            for row, line in zip(parsed.rows, parsed.lines):
                if row[index] in missing:
                    problems.append(
                        f"{parsed.label} line {line}: {column.name} {row[index]!r} is neither in "
                        f"{column.refers_to} nor in the database"
                    )


# -- the import --------------------------------------------------------------------------------------
def import_path(path: Path | str, progress: Callable[..., Any] | None = None, actor: str | None = None) -> ImportReport:
    """Validate everything under PATH, then load it all in one transaction; raise ImportFailed otherwise.
    The import is written to the audit trail in the same transaction (who, which file, rows changed)."""
    path = Path(path)
    problems: list[str] = []
    sheets = open_sheets(path, problems)
    files: dict[str, ParsedFile] = {}
    seen_labels: dict[str, str] = {}
    for sheet in sheets:
        if sheet.fmt.name in seen_labels:
            problems.append(f"{sheet.label}: {sheet.fmt.name} is given twice (also in {seen_labels[sheet.fmt.name]})")
            continue
        seen_labels[sheet.fmt.name] = sheet.label
        parsed = parse_sheet(sheet, problems, progress)
        if parsed is not None:
            files[sheet.fmt.name] = parsed
    runtime = get_runtime()
    with runtime.engine.connect() as conn:
        if files:
            _check_references(files, conn, problems)
        conn.rollback()  # end the read-only transaction of the checks
        if problems:
            raise ImportFailed(problems)
        results = []
        with conn.begin():
            conn.execute(sa.text("SET LOCAL statement_timeout = 0"))  # a large import is not a read
            for name in IMPORT_ORDER:
                parsed = files.get(name)
                if parsed is not None:
                    results.append(load_rows(conn, name, parsed.columns, parsed.rows))
            partitions.ensure_on(conn)   # old payments or fixes the file held move into their months
            audit.record(conn, actor=actor or audit.cli_actor(), action="import", target=path.name, address="cli",
                         details={r.table: {"inserted": r.inserted, "updated": r.updated} for r in results})
    report = ImportReport(results)
    runtime.memo.bump(report.changed_tables)
    return report
