"""`akig import`: CSV folders and .xlsx workbooks, every refusal with its message, all or nothing,
and importing twice changes nothing."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from akig_data.writes import importer
from akig_data import reads
from akig_data.writes.importer import ImportFailed, import_path

FILES = {
    "owners": "owner_ref,name,phone,email\nO1,Mamadou Diallo,+224 622 00 00 01,m.diallo@exemple.gn\n",
    "sites": "site_ref,owner_ref,name,commune,quartier,lat,lon\nS1,O1,Résidence Les Palmiers,Kaloum,Boulbinet,9.5155,-13.7125\n",
    "units": "unit_ref,site_ref,label,monthly_rent\nU1,S1,Studio A1,1500000\nU2,S1,Magasin B1,2000000\n",
    "tenants": "tenant_ref,full_name,phone,email\nT1,Aïssatou Bah,+224 664 11 22 33,\nT2,Sékou Keïta,,\n",
    "leases": ("lease_ref,unit_ref,tenant_ref,start_date,end_date,monthly_rent,due_day\n"
               "L1,U1,T1,2026-01-01,,1500000,5\nL2,U2,T2,2025-06-01,2026-05-31,2000000,31\n"),
    "payments": ("payment_ref,lease_ref,paid_at,amount,method\n"
                 "P1,L1,2026-01-05,1500000,orange_money\n"
                 "P2,L1,2026-02-06T10:15:00+00:00,1500000,cash\n"
                 "P3,L2,2026-06-01T23:30-02:00,2000000,bank\n"),
    "agents": "agent_ref,full_name,phone,zone\nA1,Fodé Camara,+224 655 00 00 00,Kaloum\n",
    "promises": ("promise_ref,lease_ref,agent_ref,created_at,due_date,amount\n"
                 "PR1,L1,A1,2026-03-01T10:00:00+00:00,2026-03-10,1500000\n"),
}


def write_folder(folder: Path, files: dict[str, str] | None = None, **changes: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {**(files or FILES), **changes}.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def counts(rt) -> dict[str, int]:
    with rt.engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() for t in FILES}


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ImportFailed) as info:
        import_path(path)
    return info.value.problems


def test_import_loads_every_file_and_the_reads_see_it(fresh_db, tmp_path):
    assert reads.portfolio_summary(as_of="2026-03-10").iloc[0]["sites"] == 0   # cached empty answer
    report = import_path(write_folder(tmp_path / "data"))
    assert {r.table: (r.rows, r.inserted) for r in report.results} == {
        "owners": (1, 1), "agents": (1, 1), "tenants": (2, 2), "sites": (1, 1), "units": (2, 2),
        "leases": (2, 2), "payments": (3, 3), "promises": (1, 1)}
    summary = reads.portfolio_summary(as_of="2026-03-10").iloc[0]           # the import invalidated it
    assert (summary["sites"], summary["units"], summary["tenants"]) == (1, 2, 2)
    lease = reads.arrears_by_lease(as_of="2026-03-10").set_index("lease_ref")
    assert lease.loc["L1", "arrears"] == 1_500_000   # 3 dues, 2 paid
    with fresh_db.engine.connect() as conn:
        paid_on = conn.execute(sa.text("SELECT paid_on FROM payments WHERE payment_ref = 'P3'")).scalar()
    assert str(paid_on) == "2026-06-02"               # 23:30 at UTC-2 is 2 June in Conakry


def test_importing_the_same_files_twice_changes_nothing(fresh_db, tmp_path):
    folder = write_folder(tmp_path / "data")
    import_path(folder)
    with fresh_db.engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT payment_ref, xmin::text FROM payments ORDER BY 1")).all()
    report = import_path(folder)
    assert all(r.inserted == 0 and r.updated == 0 and r.unchanged == r.rows for r in report.results)
    assert report.changed_tables == set()
    with fresh_db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT payment_ref, xmin::text FROM payments ORDER BY 1")).all() == versions


def test_a_changed_row_is_updated_by_its_ref(fresh_db, tmp_path):
    import_path(write_folder(tmp_path / "a"))
    changed = FILES["units"].replace("U2,S1,Magasin B1,2000000", "U2,S1,Magasin B1,2100000")
    report = import_path(write_folder(tmp_path / "b", units=changed))
    units = next(r for r in report.results if r.table == "units")
    assert (units.inserted, units.updated, units.unchanged) == (0, 1, 1)


def test_refs_may_point_to_rows_already_in_the_database(fresh_db, tmp_path):
    base = {k: v for k, v in FILES.items() if k != "payments"}
    import_path(write_folder(tmp_path / "base", files=base))
    report = import_path(write_folder(tmp_path / "pay", files={"payments": FILES["payments"]}))
    assert report.results[0].inserted == 3


@pytest.mark.parametrize(
    "file, text, expected",
    [
        ("payments", "payment_ref,lease_ref,paid_at,amount,method\nP1,L1,2026-01-05,-5000,cash\n",
         'payments.csv line 2: amount must be a positive integer (got "-5000")'),
        ("payments", "payment_ref,lease_ref,paid_at,amount,method\nP1,L1,2026-01-05,0,cash\n",
         'payments.csv line 2: amount must be a positive integer (got "0")'),
        ("payments", "payment_ref,lease_ref,paid_at,amount,method\nP1,L1,2026-01-05,1 500 000 GNF,cash\n",
         'payments.csv line 2: amount must be a positive integer (got "1 500 000 GNF")'),
        ("payments", "payment_ref,lease_ref,paid_at,amount,method\nP1,L1,05/01/2026,1500000,cash\n",
         "payments.csv line 2: paid_at must be a date YYYY-MM-DD or an ISO datetime with its UTC offset"),
        ("payments", "payment_ref,lease_ref,paid_at,amount,method\nP1,L1,2026-01-05T10:00,1500000,cash\n",
         "payments.csv line 2: paid_at must be a date YYYY-MM-DD or an ISO datetime with its UTC offset"),
        ("payments", "payment_ref,lease_ref,paid_at,amount,method\nP1,L9,2026-01-05,1500000,cash\n",
         "payments.csv line 2: lease_ref 'L9' is neither in leases nor in the database"),
        ("payments", "payment_ref,lease_ref,paid_at,amount,method\nP1,L1,2026-01-05,1500000,visa\n",
         'payments.csv line 2: method must be one of cash, orange_money, mtn_momo, bank (got "visa")'),
        ("payments", "payment_ref,lease_ref,paid_at,amount,method\nP1,L1,2026-01-05,1500000,cash\n"
                     "P1,L1,2026-02-05,1500000,cash\n",
         "payments.csv line 3: payment_ref 'P1' duplicates line 2"),
        ("payments", "payment_ref,lease_ref,paid_at,montant,method\n",
         "payments.csv: unknown column 'montant'"),
        ("payments", "payment_ref,lease_ref,paid_at,method\n",
         "payments.csv: missing required column 'amount'"),
        ("payments", "payment_ref,lease_ref,paid_at,amount,method\nP1,L1,2026-01-05,1500000\n",
         "payments.csv line 2: expected 5 fields, found 4"),
        ("payments", "payment_ref,lease_ref,paid_at,amount,method\n,L1,2026-01-05,1500000,cash\n",
         "payments.csv line 2: payment_ref is required"),
        ("leases", "lease_ref,unit_ref,tenant_ref,start_date,end_date,monthly_rent,due_day\nL1,U1,T1,2026-01-01,,1500000,32\n",
         'leases.csv line 2: due_day must be an integer from 1 to 31 (got "32")'),
        ("leases", "lease_ref,unit_ref,tenant_ref,start_date,end_date,monthly_rent,due_day\nL1,U1,T1,2026-02-30,,1500000,5\n",
         'leases.csv line 2: start_date must be a date YYYY-MM-DD (got "2026-02-30")'),
        ("leases", "lease_ref,unit_ref,tenant_ref,start_date,end_date,monthly_rent,due_day\nL1,U1,T1,2026-02-01,2026-01-01,1500000,5\n",
         "leases.csv line 2: end_date (2026-01-01) is before start_date (2026-02-01)"),
        ("sites", "site_ref,owner_ref,name,commune,quartier,lat,lon\nS1,O1,R,Kaloum,Boulbinet,-13.71,9.51\n",
         'sites.csv line 2: lat must be a number from 7.0 to 12.8 in Guinea (got "-13.71")'),
        ("owners", "owner_ref,name,phone,email\nO1,Diallo,+224 622,pas-un-email\n",
         "owners.csv line 2: phone must be a phone number"),
        ("promises", "promise_ref,lease_ref,agent_ref,created_at,due_date,amount\nPR1,L1,,2026-03-10,2026-03-01,100\n",
         "promises.csv line 2: due_date (2026-03-01) is before created_at"),
    ],
)
def test_each_bad_input_is_reported_and_nothing_is_written(fresh_db, tmp_path, file, text, expected):
    folder = write_folder(tmp_path / "bad", **{file: text})
    problems = problems_of(folder)
    assert any(p.startswith(expected) for p in problems), problems
    assert set(counts(fresh_db).values()) == {0}


def test_every_bad_row_is_listed(fresh_db, tmp_path):
    bad = ("payment_ref,lease_ref,paid_at,amount,method\nP1,L1,2026-01-05,-1,cash\n"
           "P2,L1,2026-01-05,1500000,cash\nP3,L1,hier,abc,cheque\n")
    problems = problems_of(write_folder(tmp_path / "bad", payments=bad))
    assert problems == [
        'payments.csv line 2: amount must be a positive integer (got "-1")',
        'payments.csv line 4: paid_at must be a date YYYY-MM-DD or an ISO datetime with its UTC offset, '
        'e.g. 2026-06-01T09:30+00:00 (got "hier")',
        'payments.csv line 4: amount must be a positive integer (got "abc")',
        'payments.csv line 4: method must be one of cash, orange_money, mtn_momo, bank (got "cheque")',
    ]


def test_a_bad_file_keeps_what_was_stored_before(fresh_db, tmp_path):
    import_path(write_folder(tmp_path / "good"))
    before = counts(fresh_db)
    bad_units = FILES["units"] + "U3,S1,Villa,-1\n"
    problems_of(write_folder(tmp_path / "bad", units=bad_units, owners=FILES["owners"].replace("Mamadou", "Moussa")))
    assert counts(fresh_db) == before
    assert reads.owners().iloc[0]["name"] == "Mamadou Diallo"


def test_folder_level_problems(fresh_db, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert problems_of(empty)[0].endswith("no file to import (expected: owners.csv, agents.csv, tenants.csv, "
                                           "sites.csv, units.csv, leases.csv, payments.csv, promises.csv)")
    folder = write_folder(tmp_path / "odd")
    (folder / "paiements.csv").write_text("x\n", encoding="utf-8")
    (folder / "notes.txt").write_text("x\n", encoding="utf-8")
    (folder / "tenants.csv").write_bytes("tenant_ref,full_name\nT1,Ke\xefta\n".encode("latin-1"))
    problems = problems_of(folder)
    assert any(p.startswith("paiements.csv: unknown file") for p in problems)
    assert any(p.startswith("notes.txt: not a CSV file") for p in problems)
    assert any(p.startswith("tenants.csv: not valid UTF-8") for p in problems)
    assert problems_of(tmp_path / "nowhere") == [f"{tmp_path / 'nowhere'}: no such file or folder"]


def write_workbook(path: Path, files: dict[str, str]) -> Path:
    import csv
    import io

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, text in files.items():
        sheet = book.create_sheet(name)
        for row in csv.reader(io.StringIO(text)):
            sheet.append([int(c) if c.isdigit() and len(c) < 12 else c for c in row])
    book.save(path)
    return path


def test_xlsx_workbook_imports_like_the_csv_folder(fresh_db, tmp_path):
    report = import_path(write_workbook(tmp_path / "akig.xlsx", FILES))
    assert {r.table: r.inserted for r in report.results}["payments"] == 3
    again = import_path(tmp_path / "akig.xlsx")
    assert all(r.unchanged == r.rows for r in again.results)


def test_xlsx_errors_name_the_sheet_and_row(fresh_db, tmp_path):
    bad = dict(FILES, payments="payment_ref,lease_ref,paid_at,amount,method\nP1,L1,2026-01-05,-5000,cash\n",
               Feuil1="a,b\n1,2\n")
    problems = problems_of(write_workbook(tmp_path / "bad.xlsx", bad))
    assert 'bad.xlsx, sheet payments line 2: amount must be a positive integer (got "-5000")' in problems
    assert any(p.startswith("bad.xlsx: unknown sheet 'Feuil1'") for p in problems)
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip")
    assert problems_of(tmp_path / "broken.xlsx") == ["broken.xlsx: not a readable .xlsx workbook (save it from Excel or LibreOffice as .xlsx)"]


def test_large_files_report_progress(fresh_db, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "PROGRESS_ROWS", 1)
    updates = []

    class Bar:
        def __init__(self, **kw):
            updates.append(kw["desc"])

        def update(self, n):
            updates.append(n)

        def close(self):
            updates.append("closed")

    import_path(write_folder(tmp_path / "data"), progress=Bar)
    assert "payments.csv" in updates and "closed" in updates and 1 in updates


def test_an_import_is_written_to_the_audit_trail_and_a_refused_one_is_not(fresh_db, tmp_path):
    from akig_data.writes import audit

    import_path(write_folder(tmp_path / "ok"), actor="awa")
    log = audit.entries()
    assert list(log["action"]) == ["import"] and log["actor"][0] == "awa"
    with pytest.raises(ImportFailed):
        import_path(write_folder(tmp_path / "bad", owners=FILES["owners"] + ",Sans référence,,\n"), actor="awa")
    assert len(audit.entries()) == 1
