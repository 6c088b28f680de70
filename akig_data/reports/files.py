"""The daily report as files: one place that knows the formats and file names, used by the command
line (`akig report daily`), the apps' download buttons and the server's 19:00 run.

The 19:00 run (`write_folder`) writes, into `AKIG_REPORTS_DIR/AAAA-MM-JJ/`, the report for all owners and
one per owner (his sites only), each as PDF and Excel. A file is written under a temporary name and then
renamed, so a reader never sees half a report.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from pathlib import Path

from akig_data.reports import gather as daily_report
from akig_data import config, reads
from akig_data.errors import InvalidParameter

log = logging.getLogger(__name__)

# Each format's renderer module, imported when a report is first made: matplotlib and reportlab cost
# about 0.6 s at every server start otherwise, and most server processes never make a PDF.
FORMATS = {"pdf": "akig_data.reports.pdf", "xlsx": "akig_data.reports.xlsx"}
MIME = {"pdf": "application/pdf", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InvalidParameter(f"Format de rapport inconnu « {fmt} » : choisir pdf ou xlsx.")
    return fmt


def filename(day: dt.date, owner_ref: str | None, fmt: str) -> str:
    return f"rapport-{day.isoformat()}{'-' + owner_ref if owner_ref else ''}.{check_format(fmt)}"


def render(day: dt.date, owner_ref: str | None, fmt: str) -> bytes:
    """The report's bytes; a day in the future or before any data raises InvalidParameter (French)."""
    check_format(fmt)
    return renderer(fmt)(daily_report.build(day, owner_ref))


def renderer(fmt: str):
    """The function that turns a gathered report into the bytes of a `fmt` file."""
    return importlib.import_module(FORMATS[check_format(fmt)]).render


def reports_dir() -> Path:
    """AKIG_REPORTS_DIR (default ./reports)."""
    return config.load().reports_dir


def daily_time() -> dt.time:
    """AKIG_DAILY_REPORT_AT, the time of the automatic run (Conakry time, default 19:00)."""
    return config.load().daily_report_at


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)


def write_folder(day: dt.date, folder: Path | None = None) -> str:
    """Write the day's reports (all owners, then each owner) as PDF and Excel; returns a one-line summary.
    An owner whose data start after `day` is skipped; a failure on one owner does not stop the others."""
    target = (folder or reports_dir()) / day.isoformat()
    target.mkdir(parents=True, exist_ok=True)
    written, skipped, failed = 0, 0, []
    for owner_ref in [None, *reads.owners()["owner_ref"]]:
        try:
            report = daily_report.build(day, owner_ref)
        except InvalidParameter:
            skipped += 1
            continue
        try:
            for fmt in FORMATS:
                _write_atomically(target / filename(day, owner_ref, fmt), renderer(fmt)(report))
                written += 1
        except Exception as exc:  # one owner's failure must not cost the others their report
            log.exception("daily report for %s failed", owner_ref or "all owners")
            failed.append(f"{owner_ref or 'tous'}: {exc}")
    summary = f"{written} files in {target}" + (f", {skipped} owners without data" if skipped else "")
    if failed:
        raise RuntimeError(summary + "; failed: " + "; ".join(failed))
    return summary


def scheduled_run() -> str:
    """The server's daily task: the reports of the day whose run time last passed (today after 19:00,
    yesterday's when the server was down at 19:00 and comes back the next morning)."""
    from akig_data.upkeep.claims import latest_slot

    return write_folder(latest_slot(daily_time()).date())
