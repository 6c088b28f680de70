"""CSV and Excel downloads of the tables shown in the apps (pn.widgets.FileDownload).

The files hold what the table shows, with French headers: CSV in UTF-8 with a BOM (so that Excel opens
accents correctly), and .xlsx with numbers as numbers, GNF amounts formatted, a frozen header and filters.
Text that a spreadsheet would run as a formula (a note typed as `=HYPERLINK(...)`) is written with a
leading apostrophe (akig_data.reports.spreadsheet.spreadsheet_safe).
"""

from __future__ import annotations

import io
from typing import Callable

import pandas as pd
import panel as pn

from akig_data.reports.spreadsheet import spreadsheet_csv, spreadsheet_safe

GNF_FORMAT = '#,##0" GNF"'
RATE_FORMAT = "0.0%"


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return spreadsheet_csv(frame).encode("utf-8-sig")


def excel_bytes(frame: pd.DataFrame, sheet: str, money: tuple[str, ...] = (), rates: tuple[str, ...] = ()) -> bytes:
    """One sheet: header frozen, auto-filter, GNF and % formats, readable column widths."""
    from openpyxl.utils import get_column_letter

    out = spreadsheet_safe(frame)
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.tz_localize(None)  # Excel has no time zones; Conakry is UTC+0
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        out.to_excel(writer, sheet_name=sheet[:31], index=False)
        ws = writer.sheets[sheet[:31]]
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = ws.dimensions
        for index, column in enumerate(out.columns, start=1):
            letter = get_column_letter(index)
            width = max([len(str(column))] + [len(str(v)) for v in out[column].head(200)]) + 2
            ws.column_dimensions[letter].width = min(max(width, 10), 60)
            number_format = GNF_FORMAT if column in money else RATE_FORMAT if column in rates else None
            if number_format:
                for cell in ws[letter][1:]:
                    cell.number_format = number_format
    return buffer.getvalue()


def audited_export(basename: str, kind: str, rows: int) -> None:
    """Refuse the export when the session's role may not export; else write it to the audit trail."""
    from akig_data.writes import audit
    from akig_data.access import roles
    from akig_data.errors import AccessDenied
    from akig_data.access.scope import current

    who = current()
    if who is not None and not roles.can_export(who.role):
        raise AccessDenied("Accès refusé : votre rôle ne permet pas d'exporter.")
    from dashboards.io.session import session_address

    audit.record(actor=who.username if who else "?", role=who.role if who else None, action="export",
                 target=f"{basename}.{kind}", address=session_address() if who else None,
                 details={"rows": int(rows), "owner_scope": who.owner_scope if who else "*"})


def export_buttons(frame: Callable[[], pd.DataFrame], basename: str, money: tuple[str, ...] = (),
                   rates: tuple[str, ...] = ()) -> pn.Row:
    """Two download buttons (none for a role that may not export); the frame is built when the button
    is clicked (always the current view), and each download is written to the audit trail."""
    from akig_data.access import roles
    from akig_data.access.scope import current

    who = current()
    if who is not None and not roles.can_export(who.role):
        return pn.Row(margin=0)

    def make(kind: str) -> io.BytesIO:
        data = frame()
        audited_export(basename, kind, len(data))
        return io.BytesIO(csv_bytes(data) if kind == "csv" else excel_bytes(data, basename, money, rates))

    csv = pn.widgets.FileDownload(
        callback=lambda: make("csv"), filename=f"{basename}.csv", label="⬇ CSV",
        color="light", embed=False, width=90, margin=(0, 5))
    xlsx = pn.widgets.FileDownload(
        callback=lambda: make("xlsx"), filename=f"{basename}.xlsx",
        label="⬇ Excel", color="light", embed=False, width=90, margin=(0, 5))
    return pn.Row(csv, xlsx, margin=0)
