"""The daily report as an Excel workbook (openpyxl): one sheet per table, numbers stored as numbers
(money with a GNF format, rates with one decimal), bold frozen headers and filters on every sheet. Text
cells that a spreadsheet would run as a formula get a leading apostrophe (export.spreadsheet_safe):
tenants' names and alerts' titles come from users."""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from akig_data.reports.gather import DailyReport
from akig_data.reports.spreadsheet import spreadsheet_safe

GNF_FORMAT = '#,##0 "GNF"'
HEADER_FILL = PatternFill("solid", fgColor="0B6E4F")


def render(report: DailyReport) -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, frame in report.tables.items():
        frame = spreadsheet_safe(frame)
        sheet = workbook.create_sheet(title[:31])
        sheet.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            sheet.append([None if value != value else value for value in row])   # NaN -> empty cell
        for index, column in enumerate(frame.columns, start=1):
            letter = get_column_letter(index)
            header = sheet[f"{letter}1"]
            header.font, header.fill = Font(bold=True, color="FFFFFF"), HEADER_FILL
            width = max([len(str(column))] + [len(str(v)) for v in frame[column].head(200)]) + 2
            sheet.column_dimensions[letter].width = min(width, 60)
            if "GNF" in column:
                for cell in sheet[letter][1:]:
                    cell.number_format = GNF_FORMAT
            elif index > 1 and "Indicateur" in frame.columns:   # the KPI sheet: the format follows the row
                for cell, label in zip(sheet[letter][1:], frame["Indicateur"]):
                    cell.number_format = GNF_FORMAT if "GNF" in label else "0.0" if "%" in label else "#,##0"
        sheet.freeze_panes = "A2"
        sheet.auto_filter.ref = sheet.dimensions
    workbook.properties.title = f"AKIG — rapport du {report.day:%d/%m/%Y} ({report.scope})"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def write(report: DailyReport, path: Path | str) -> Path:
    path = Path(path)
    path.write_bytes(render(report))
    return path
