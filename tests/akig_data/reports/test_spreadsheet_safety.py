"""Formula injection ("CSV injection"): text typed by a user (a call's note, a tenant's name) must reach a
CSV or .xlsx file as text, never as a formula a spreadsheet would run. Each test writes the attacker's
text through a writer of the project and reads the file back the way a spreadsheet would see it.

The Panel apps' CSV/Excel buttons (dashboards/parts/downloads.py) are tested in tests/dashboards/parts/test_downloads.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pandas as pd
import sqlalchemy as sa

from akig_data.writes import collection
from akig_data.reports import gather as daily_report, spreadsheet as export, xlsx as report_xlsx
from akig_data import reads
from akig_data.access.scope import Principal
from tests.conftest import SMALL_UNTIL

# What an agent or an import could type, and what each must become in a file.
PAYLOADS = ['=HYPERLINK("http://x","clic")', "+1", "-cmd", "@SUM(A1)", "\t=1", "\r=1"]
HARMLESS = ["Bonjour", "a-b", "rappeler à 10h"]


def attack_frame() -> pd.DataFrame:
    texts = PAYLOADS + HARMLESS
    return pd.DataFrame({
        "Note": texts,
        "Montant (GNF)": pd.array([-5] + [1_000 * i for i in range(1, len(texts))], dtype="Int64"),
        "Taux": [-0.5] + [0.1] * (len(texts) - 1),
    })


def csv_cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_neutralising_touches_text_only():
    assert [export.spreadsheet_text(p) for p in PAYLOADS] == ["'" + p for p in PAYLOADS]
    assert [export.spreadsheet_text(h) for h in HARMLESS] == HARMLESS
    assert export.spreadsheet_text(-5) == -5 and export.spreadsheet_text(-0.5) == -0.5
    assert export.spreadsheet_text(None) is None


def test_akig_query_csv_writes_formulas_as_text_and_numbers_as_numbers():
    """`akig query NAME --format csv` (export.to_csv)."""
    rows = csv_cells(export.to_csv(attack_frame()))
    assert rows[0] == ["Note", "Montant (GNF)", "Taux"]
    assert [r[0] for r in rows[1:] if r] == ["'" + p for p in PAYLOADS] + HARMLESS
    assert rows[1][1] == "-5" and rows[1][2] == "-0.5"          # a negative number stays a number


def test_the_daily_report_workbook_writes_formulas_as_text(small_data):
    """report_xlsx.render with a table holding the payloads next to a numeric column."""
    report = daily_report.DailyReport(dt.date(2026, 6, 28), None, {"Notes": attack_frame()})
    sheet = openpyxl.load_workbook(io.BytesIO(report_xlsx.render(report)))["Notes"]
    for row, payload in enumerate(PAYLOADS, start=2):
        cell = sheet.cell(row=row, column=1)
        # (XML turns a lone \r into \n: what matters is the apostrophe in front)
        assert cell.data_type == "s" and cell.value == "'" + payload.replace("\r", "\n"), (payload, cell.value)
    assert sheet.cell(row=2 + len(PAYLOADS), column=1).value == HARMLESS[0]
    amount = sheet.cell(row=2, column=2)
    assert amount.data_type == "n" and amount.value == -5
    assert sheet.cell(row=2, column=3).value == -0.5


def test_a_note_typed_by_an_agent_reaches_the_csv_as_text(seeded):
    """End to end: the note is stored by record_call, read back by tenant_timeline, written as CSV."""
    lease = reads.arrears_by_lease(as_of=SMALL_UNTIL).sort_values("arrears").iloc[-1]
    collection.record_call(lease["lease_ref"], "reached", note=PAYLOADS[0], agent_ref="AGT-001",
                           who=Principal("awa", "manager"))
    timeline = reads.tenant_timeline(tenant_ref=lease["tenant_ref"], as_of=dt.date.today())
    rows = csv_cells(export.to_csv(timeline))
    detail = rows[0].index("detail")
    assert "'" + PAYLOADS[0] in [r[detail] for r in rows[1:]]
    assert PAYLOADS[0] not in [r[detail] for r in rows[1:]]


def test_a_tenant_named_like_a_formula_is_text_in_the_daily_report(seeded):
    """End to end: a tenant's name (imported, or typed by a manager) in the report's "ten largest arrears"."""
    day = SMALL_UNTIL - dt.timedelta(days=2)
    top = reads.late_tenants(as_of=day, limit=1).iloc[0]
    with seeded.engine.begin() as conn:
        conn.execute(sa.text("UPDATE tenants SET full_name = :n WHERE tenant_ref = :t"),
                     {"n": PAYLOADS[0], "t": top["tenant_ref"]})
    seeded.memo.bump(("tenants",))
    report = daily_report.build(day)
    assert report.tables["Dix plus gros impayés"]["Locataire"].iloc[0] == PAYLOADS[0]   # the report holds the name
    sheet = openpyxl.load_workbook(io.BytesIO(report_xlsx.render(report)))["Dix plus gros impayés"]
    assert sheet["A2"].data_type == "s" and sheet["A2"].value == "'" + PAYLOADS[0]
    assert sheet["C2"].data_type == "n" and isinstance(sheet["C2"].value, int)


def test_a_carriage_return_inside_a_text_cannot_start_a_row():
    """A lone CR ends a row in Excel and LibreOffice: a field holding one must be quoted, or the text after
    it would begin a row of its own (a formula), whatever its first character."""
    text = export.to_csv(pd.DataFrame({"Note": ["ok\r=1+1", "x"], "n": [1, 2]}))
    assert '"ok\r=1+1"' in text
    assert csv_cells(text)[1] == ["ok\r=1+1", "1"]
