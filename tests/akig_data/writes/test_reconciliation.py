"""Mobile-money reconciliation on statements built with the awkward cases: typos in references, a tenant
paying from a relative's phone, two tenants sharing a phone, split and combined payments, duplicates
across two statements, reversed transactions, a bad line; the review queue's decisions; the money rules
(the pandas oracle) with the reconciled payments."""

from __future__ import annotations

import datetime as dt
import io
import threading

import pandas as pd
import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from akig_data import reads
from akig_data.access.scope import Principal
from akig_data.errors import AccessDenied, InvalidParameter
from akig_data.testing import oracle
from akig_data.writes import audit, collection, reconciliation
from akig_data.writes.statement_formats import StatementRefused, national_phone, read_statement

MANAGER = Principal("awa", "manager")
DAY = dt.date(2026, 6, 29)
OM_HEADER = "Date;Heure;N° Transaction;Type;Numéro expéditeur;Nom expéditeur;Montant (GNF);Référence;Statut"


def om_csv(*lines: str) -> bytes:
    return ("\n".join([OM_HEADER, *lines]) + "\n").encode("utf-8")


def om_line(tx: str, phone: str, amount: int | str, reference: str = "", status: str = "Succès",
            kind: str = "Paiement marchand", time: str = "10:15:00", day: str = "29/06/2026") -> str:
    return f"{day};{time};{tx};{kind};{phone};Client;{amount};{reference};{status}"


def mtn_xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["Id", "Date", "Status", "Type", "From", "From Name", "Amount", "Currency", "Note"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture()
def owner(seeded):
    """An owner with running leases, and three of them with their tenant's phone and rent."""
    with seeded.engine.connect() as conn:
        owner_ref = conn.execute(sa.text(
            "SELECT o.owner_ref FROM owners o JOIN leases l ON l.owner_id = o.id WHERE l.end_date IS NULL "
            "GROUP BY o.owner_ref ORDER BY count(*) DESC, o.owner_ref LIMIT 1")).scalar()
        leases = conn.execute(sa.text(
            "SELECT l.lease_ref, t.tenant_ref, t.phone, l.monthly_rent FROM leases l JOIN owners o ON o.id = l.owner_id "
            "JOIN tenants t ON t.id = l.tenant_id WHERE o.owner_ref = :o AND l.end_date IS NULL "
            "AND l.start_date < DATE '2026-01-01' ORDER BY l.lease_ref LIMIT 3"), {"o": owner_ref}).all()
    return owner_ref, leases


def payments_of(rt, lease_ref: str) -> pd.DataFrame:
    with rt.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT p.payment_ref, p.amount, p.method, p.paid_at, p.recorded_by FROM payments p "
            "JOIN leases l ON l.id = p.lease_id WHERE l.lease_ref = :r "
            "AND (p.payment_ref LIKE 'ORANGE\\_MONEY-%' OR p.payment_ref LIKE 'MTN\\_MOMO-%') ORDER BY p.paid_at"),
            {"r": lease_ref})
        return pd.DataFrame(rows.fetchall(), columns=list(rows.keys()))


def queue(owner_ref: str) -> pd.DataFrame:
    return reads.statement_lines(status="review", owner_ref=owner_ref)


def count(rt, table: str) -> int:
    with rt.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()


def test_guinean_numbers_in_every_usual_form_are_one_number():
    forms = ["+224 622 12 34 56", "00224622123456", "224622123456", "622 12 34 56", "622-12-34-56", "+224622123456"]
    assert {national_phone(f) for f in forms} == {"622123456"}
    assert national_phone("+33 6 12 34 56 78") == "+33612345678"
    assert national_phone("pas un numéro") is None and national_phone("") is None


def test_a_reference_with_any_case_spacing_or_one_typo_books_the_lease(seeded, owner):
    owner_ref, leases = owner
    (a, _, _, rent_a), (b, _, _, rent_b), (c, _, _, rent_c) = leases
    typo = a.replace("EA", "E", 1)                  # a letter missing: LESE-000123
    swapped = b[:1] + b[2] + b[1] + b[3:]           # two letters swapped: LAESE-...
    statement = om_csv(
        om_line("OM1001", "+224 699 00 00 01", rent_a, f"loyer {typo.lower()}"),
        om_line("OM1002", "+224 699 00 00 02", rent_b, f"{swapped} juin"),
        om_line("OM1003", "+224 699 00 00 03", rent_c, c.replace("-", " ").lower()),
    )
    summary = reconciliation.import_statement(statement, owner_ref=owner_ref, file_name="om-juin.csv", who=MANAGER)
    assert (summary.transfers, summary.booked, summary.by_reference, summary.to_review) == (3, 3, 3, 0)
    assert summary.booked_amount == rent_a + rent_b + rent_c
    for lease, tx, rent in ((a, "OM1001", rent_a), (b, "OM1002", rent_b), (c, "OM1003", rent_c)):
        paid = payments_of(seeded, lease)
        assert list(paid["payment_ref"]) == [f"ORANGE_MONEY-{tx}"] and list(paid["amount"]) == [rent]
        assert list(paid["method"]) == ["orange_money"] and list(paid["recorded_by"]) == ["awa"]
        assert paid["paid_at"].iloc[0] == pd.Timestamp("2026-06-29 10:15:00", tz="UTC")
    actions = list(audit.entries(limit=10)["action"])
    assert actions.count("payment") == 3 and actions[0] == "statement_import"


def test_a_transfer_from_an_unknown_number_with_a_valid_reference_is_matched_by_the_reference(seeded, owner):
    owner_ref, leases = owner
    lease, _, phone, rent = leases[0]
    other_lease, _, other_phone, _ = leases[1]
    # sent from the other tenant's phone, but with the first lease's reference: the reference wins
    summary = reconciliation.import_statement(om_csv(om_line("OM2001", other_phone, rent, lease)), owner_ref=owner_ref,
                                              who=MANAGER)
    assert summary.by_reference == 1
    assert len(payments_of(seeded, lease)) == 1 and payments_of(seeded, other_lease).empty


def test_the_tenants_phone_in_any_format_books_his_lease(seeded, owner):
    owner_ref, leases = owner
    lease, _, phone, rent = leases[0]
    national = national_phone(phone)
    written = [form.format(n=national) for form in ("00224{n}", "224{n}", "{n}", "+224 {n}")]
    statement = mtn_xlsx([[f"MTN-7{i}", dt.datetime(2026, 6, 29, 9, 30 + i), "SUCCESSFUL", "PAYMENT", number, "X",
                           rent, "GNF", "loyer"] for i, number in enumerate(written)])
    summary = reconciliation.import_statement(statement, owner_ref=owner_ref, file_name="momo.xlsx", who=MANAGER)
    assert (summary.operator, summary.by_phone, summary.booked) == ("mtn_momo", 4, 4)
    assert list(payments_of(seeded, lease)["payment_ref"]) == [f"MTN_MOMO-MTN-7{i}" for i in range(4)]


def test_a_relatives_phone_without_reference_goes_to_review_with_the_leases_of_that_rent(seeded, owner):
    owner_ref, leases = owner
    lease, _, _, rent = leases[0]
    summary = reconciliation.import_statement(om_csv(om_line("OM3001", "+224 699 99 99 99", rent, "loyer maman")),
                                              owner_ref=owner_ref, who=MANAGER)
    assert (summary.booked, summary.to_review) == (0, 1)
    line = queue(owner_ref).iloc[0]
    assert line["transaction_id"] == "OM3001" and "loyer correspond" in line["reason"]
    assert lease in list(line["candidate_refs"]) and lease in line["candidates"]
    assert payments_of(seeded, lease).empty


def test_two_tenants_sharing_a_phone_go_to_review_and_a_manager_chooses(seeded, owner):
    owner_ref, leases = owner
    (a, tenant_a, phone_a, rent_a), (b, tenant_b, _, _) = leases[0], leases[1]
    with seeded.engine.begin() as conn:
        conn.execute(sa.text("UPDATE tenants SET phone = :p WHERE tenant_ref = :t"), {"p": phone_a, "t": tenant_b})
    summary = reconciliation.import_statement(om_csv(om_line("OM4001", phone_a, rent_a)), owner_ref=owner_ref,
                                              who=MANAGER)
    assert summary.to_review == 1
    line = queue(owner_ref).iloc[0]
    assert set(line["candidate_refs"]) == {a, b} and "2 baux" in line["reason"]
    payment = reconciliation.confirm_line(int(line["line_id"]), b, who=MANAGER, address="10.0.0.9")
    assert payment == "ORANGE_MONEY-OM4001"
    assert list(payments_of(seeded, b)["amount"]) == [rent_a] and payments_of(seeded, a).empty
    entry = audit.entries(limit=5)
    decision = entry[entry["action"] == "statement_confirm"].iloc[0]
    assert decision["target"] == b and decision["actor"] == "awa" and decision["address"] == "10.0.0.9"
    assert queue(owner_ref).empty
    booked = reads.statement_lines(status="booked", owner_ref=owner_ref)
    assert list(booked["match_rule"]) == ["manual"] and list(booked["decided_by"]) == ["awa"]
    with pytest.raises(InvalidParameter, match="déjà enregistrée"):
        reconciliation.confirm_line(int(line["line_id"]), a, who=MANAGER)


def test_a_manager_reassigns_or_rejects_and_cannot_book_to_another_owners_lease(seeded, owner):
    owner_ref, leases = owner
    lease, _, _, rent = leases[2]
    reconciliation.import_statement(om_csv(om_line("OM5001", "+224 699 12 12 12", rent + 1),
                                           om_line("OM5002", "+224 699 12 12 13", 1000)),
                                    owner_ref=owner_ref, who=MANAGER)
    lines = queue(owner_ref).set_index("transaction_id")
    with seeded.engine.connect() as conn:
        foreign = conn.execute(sa.text("SELECT l.lease_ref FROM leases l JOIN owners o ON o.id = l.owner_id "
                                       "WHERE o.owner_ref <> :o LIMIT 1"), {"o": owner_ref}).scalar()
    before = count(seeded, "payments")
    with pytest.raises(InvalidParameter, match="Bail inconnu pour le propriétaire"):
        reconciliation.confirm_line(int(lines.loc["OM5001", "line_id"]), foreign, who=MANAGER)
    with pytest.raises(AccessDenied):
        reconciliation.confirm_line(int(lines.loc["OM5001", "line_id"]), lease, who=Principal("fode", "agent",
                                                                                               agent_ref="AGT-001"))
    with pytest.raises(InvalidParameter, match="pourquoi"):
        reconciliation.reject_line(int(lines.loc["OM5002", "line_id"]), "  ", who=MANAGER)
    assert count(seeded, "payments") == before
    reconciliation.confirm_line(int(lines.loc["OM5001", "line_id"]), lease, who=MANAGER)   # not a candidate
    reconciliation.reject_line(int(lines.loc["OM5002", "line_id"]), "Frais de dossier, pas un loyer", who=MANAGER)
    assert count(seeded, "payments") == before + 1
    rejected = reads.statement_lines(status="rejected", owner_ref=owner_ref)
    assert list(rejected["reason"]) == ["Frais de dossier, pas un loyer"]
    confirm = audit.entries(limit=5, action="statement_confirm").iloc[0]
    assert '"reassigned": true' in confirm["details"]
    assert audit.entries(limit=5, action="statement_reject").iloc[0]["target"] == owner_ref


def test_split_and_combined_payments_follow_the_money_rules(seeded, owner):
    owner_ref, leases = owner
    (a, _, _, rent_a), (b, _, _, rent_b) = leases[0], leases[1]
    half = rent_a // 2
    statement = om_csv(om_line("OM6001", "+224 699 00 00 05", half, a, time="08:00:00"),
                       om_line("OM6002", "+224 699 00 00 05", rent_a - half, a, time="18:00:00"),
                       om_line("OM6003", "+224 699 00 00 06", 3 * rent_b, f"3 mois {b}"))
    before = reads.arrears_by_lease(as_of=DAY, owner_ref=owner_ref).set_index("lease_ref")
    summary = reconciliation.import_statement(statement, owner_ref=owner_ref, who=MANAGER)
    assert summary.booked == 3
    after = reads.arrears_by_lease(as_of=DAY, owner_ref=owner_ref).set_index("lease_ref")

    def owed(frame, lease):   # arrears minus credit: what the lease owes at DAY
        return int(frame.loc[lease, "arrears"] - frame.loc[lease, "credit"]) if lease in frame.index else 0

    assert owed(before, a) - owed(after, a) == rent_a
    assert owed(before, b) - owed(after, b) == 3 * rent_b
    expected = oracle.arrears_by_lease(oracle.load_raw(seeded.engine), DAY)
    expected = expected[(expected["arrears"] > 0) | (expected["credit"] > 0)].set_index("lease_ref")
    got = reads.arrears_by_lease(as_of=DAY).set_index("lease_ref")
    assert sorted(got.index) == sorted(expected.index)
    for column in ("arrears", "credit", "bucket_0_30", "bucket_31_60", "bucket_61_90", "bucket_90_plus"):
        assert (got[column].astype("int64") == expected.loc[got.index, column].astype("int64")).all(), column


def test_duplicates_across_statements_and_a_second_import_book_nothing_twice(seeded, owner):
    owner_ref, leases = owner
    (a, _, _, rent_a), (b, _, _, rent_b) = leases[0], leases[1]
    first = om_csv(om_line("OM7001", "+224 699 00 00 07", rent_a, a))
    second = om_csv(om_line("OM7001", "+224 699 00 00 07", rent_a, a), om_line("OM7002", "+224 699 00 00 08", rent_b, b))
    reconciliation.import_statement(first, owner_ref=owner_ref, who=MANAGER)
    summary = reconciliation.import_statement(second, owner_ref=owner_ref, who=MANAGER)
    assert (summary.booked, summary.duplicates) == (1, 1)
    again = reconciliation.import_statement(second, owner_ref=owner_ref, who=MANAGER)
    assert (again.booked, again.duplicates, again.to_review) == (0, 2, 0)
    assert len(payments_of(seeded, a)) == 1 and len(payments_of(seeded, b)) == 1


def test_a_transfer_already_entered_at_the_desk_is_linked_not_booked_again(seeded, owner):
    owner_ref, leases = owner
    lease, _, _, rent = leases[0]
    collection.record_payment(lease, rent, "orange_money", reference="OM8001",
                              paid_at=dt.datetime(2026, 6, 29, 11, 0, tzinfo=dt.timezone.utc), who=MANAGER)
    summary = reconciliation.import_statement(om_csv(om_line("OM8001", "+224 699 00 00 09", rent, lease)),
                                              owner_ref=owner_ref, who=MANAGER)
    assert (summary.booked, summary.already_entered) == (0, 1)
    assert len(payments_of(seeded, lease)) == 1
    assert list(reads.statement_lines(status="booked", owner_ref=owner_ref)["match_rule"]) == ["existing"]


def test_a_reversed_transfer_is_never_booked_or_is_taken_back(seeded, owner):
    owner_ref, leases = owner
    (a, _, _, rent_a), (b, _, _, rent_b) = leases[0], leases[1]
    reconciliation.import_statement(om_csv(om_line("OM9001", "+224 699 00 00 10", rent_a, a)), owner_ref=owner_ref,
                                    who=MANAGER)
    assert len(payments_of(seeded, a)) == 1
    later = om_csv(om_line("OM9001", "+224 699 00 00 10", rent_a, a, status="Annulé"),
                   om_line("OM9002", "+224 699 00 00 11", rent_b, b, status="Annulé"))
    summary = reconciliation.import_statement(later, owner_ref=owner_ref, who=MANAGER)
    assert summary.reversed == 2 and summary.unbooked == ["ORANGE_MONEY-OM9001"] and summary.booked == 0
    assert payments_of(seeded, a).empty and payments_of(seeded, b).empty
    reversed_lines = reads.statement_lines(status="reversed", owner_ref=owner_ref)
    assert set(reversed_lines["transaction_id"]) == {"OM9001", "OM9002"}
    assert audit.entries(limit=5, action="payment_reversed").iloc[0]["target"] == "ORANGE_MONEY-OM9001"


def test_the_write_role_deletes_no_payment_but_a_reversed_one(seeded, owner):
    """unbook_statement_payment is the only DELETE the writing role has on payments."""
    with seeded.engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL ROLE akig_write"))
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            conn.execute(sa.text("DELETE FROM payments WHERE id = (SELECT min(id) FROM payments)"))


def test_a_statement_with_a_bad_line_is_refused_whole_with_the_line_number(seeded, owner):
    owner_ref, leases = owner
    lease, _, _, rent = leases[0]
    statement = om_csv(om_line("OM1101", "+224 699 00 00 12", rent, lease),
                       om_line("OM1102", "+224 699 00 00 13", "12 500,50", lease),
                       om_line("OM1103", "+224 699 00 00 14", rent, lease, day="31/02/2026"),
                       om_line("", "+224 699 00 00 15", rent, lease))
    before = (count(seeded, "payments"), count(seeded, "statement_lines"), count(seeded, "statement_imports"))
    with pytest.raises(StatementRefused) as refused:
        reconciliation.import_statement(statement, owner_ref=owner_ref, who=MANAGER)
    assert [p.split(" :")[0] for p in refused.value.problems] == ["Ligne 3", "Ligne 4", "Ligne 5"]
    assert "montant illisible" in refused.value.problems[0] and "date illisible" in refused.value.problems[1]
    assert (count(seeded, "payments"), count(seeded, "statement_lines"), count(seeded, "statement_imports")) == before


def test_refusals_change_nothing(seeded, owner):
    owner_ref, leases = owner
    good = om_csv(om_line("OM1201", "+224 699 00 00 16", leases[0][3], leases[0][0]))
    with pytest.raises(InvalidParameter, match="Propriétaire inconnu"):
        reconciliation.import_statement(good, owner_ref="OWN-NOPE", who=MANAGER)
    with pytest.raises(AccessDenied):
        reconciliation.import_statement(good, owner_ref=owner_ref, who=Principal("o", "owner", owner_ref=owner_ref))
    with pytest.raises(StatementRefused, match="en-tête non reconnu"):
        reconciliation.import_statement(b"a;b;c\n1;2;3\n", owner_ref=owner_ref, who=MANAGER)
    with pytest.raises(StatementRefused, match="pas un classeur"):
        reconciliation.import_statement(b"PK\x03\x04garbage", owner_ref=owner_ref, file_name="x.xlsx", who=MANAGER)
    with pytest.raises(StatementRefused, match="vide"):
        reconciliation.import_statement(b"", owner_ref=owner_ref, who=MANAGER)
    assert count(seeded, "statement_lines") == 0


def test_lines_that_are_not_money_received_are_set_aside():
    statement = read_statement(mtn_xlsx([
        ["T1", "2026-06-29 10:00:00", "SUCCESSFUL", "PAYMENT", "224622123456", "A", 500000, "GNF", "LEASE-000001"],
        ["T2", "2026-06-29T11:00:00Z", "FAILED", "PAYMENT", "224622123456", "A", 500000, "GNF", ""],
        ["T3", "29/06/2026 12:00", "SUCCESSFUL", "CASH_OUT", "224622123456", "A", -200000, "GNF", ""],
        ["T4", "2026-06-29 13:00:00", "PENDING", "PAYMENT", "224622123456", "A", 100000, "GNF", ""],
        ["T5", "2026-06-29 14:00:00", "REVERSED", "PAYMENT", "224622123456", "A", -100000, "GNF", ""],
    ]), file_name="momo.xlsx")
    assert statement.operator == "mtn_momo" and statement.set_aside == 3
    assert [(t.transaction_id, t.amount, t.reversed) for t in statement.transfers] == [("T1", 500000, False),
                                                                                       ("T5", 100000, True)]
    assert statement.transfers[0].occurred_at == dt.datetime(2026, 6, 29, 10, tzinfo=dt.timezone.utc)
    assert statement.transfers[0].sender_phone == "622123456"
    with pytest.raises(StatementRefused, match="GNF"):
        read_statement(mtn_xlsx([["T1", "2026-06-29 10:00", "SUCCESSFUL", "PAYMENT", "1", "A", 5, "USD", ""]]))


def test_text_from_the_statement_is_kept_as_text(seeded, owner):
    """A sender's name or reference is data: stored as typed (the pages escape it), never run."""
    owner_ref, leases = owner
    evil = "<img src=x onerror=alert(1)>"
    statement = ("Date;Heure;N° Transaction;Numéro expéditeur;Nom expéditeur;Montant;Référence;Statut\n"
                 f"29/06/2026;10:00;OM1301;+224 699 00 00 17;{evil};{leases[0][3] + 7};=cmd|'/c calc'!A1;Succès\n")
    reconciliation.import_statement(statement.encode("cp1252", errors="replace"), owner_ref=owner_ref, who=MANAGER)
    line = queue(owner_ref).iloc[0]
    assert line["sender_name"] == evil and line["reference_text"] == "=cmd|'/c calc'!A1"


def test_two_imports_of_one_statement_at_once_book_each_transfer_once(seeded, owner):
    owner_ref, leases = owner
    statement = om_csv(*(om_line(f"OM14{i:02d}", "+224 699 00 00 18", rent, lease)
                         for i, (lease, _, _, rent) in enumerate(leases)))
    results, errors = [], []

    def run():
        try:
            results.append(reconciliation.import_statement(statement, owner_ref=owner_ref, who=MANAGER))
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(r.booked for r in results) == [0, 3] and sorted(r.duplicates for r in results) == [0, 3]
    assert all(len(payments_of(seeded, lease)) == 1 for lease, *_ in leases)
