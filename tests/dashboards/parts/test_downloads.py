"""The apps' CSV and Excel buttons (dashboards/parts/downloads.py) write text that a spreadsheet would run as a
formula (a note, a tenant's name typed as `=HYPERLINK(...)`) as text, and numbers as numbers."""

from __future__ import annotations

import io

import openpyxl

from dashboards.parts.downloads import csv_bytes, excel_bytes
from tests.akig_data.reports.test_spreadsheet_safety import HARMLESS, PAYLOADS, attack_frame, csv_cells


def test_the_csv_button_writes_formulas_as_text():
    rows = csv_cells(csv_bytes(attack_frame()).decode("utf-8-sig"))
    assert [r[0] for r in rows[1:] if r] == ["'" + p for p in PAYLOADS] + HARMLESS
    assert rows[1][1:] == ["-5", "-0.5"]


def test_the_excel_button_writes_formulas_as_text_and_numbers_as_numbers():
    sheet = openpyxl.load_workbook(io.BytesIO(excel_bytes(attack_frame(), "historique", money=("Montant (GNF)",))))
    sheet = sheet["historique"]
    for row, payload in enumerate(PAYLOADS, start=2):
        cell = sheet.cell(row=row, column=1)
        # (XML turns a lone \r into \n: what matters is the apostrophe in front)
        assert cell.data_type == "s" and cell.value == "'" + payload.replace("\r", "\n"), (payload, cell.value)
    amount = sheet.cell(row=2, column=2)
    assert amount.data_type == "n" and amount.value == -5 and "GNF" in amount.number_format
    assert sheet.cell(row=2, column=3).data_type == "n" and sheet.cell(row=2, column=3).value == -0.5
