"""Tenant search: names, phones, units and sites; accents, typos, prefixes; ranking, pages, scope;
and hostile input that never breaks the query."""

from __future__ import annotations

import pytest

from akig_data import reads
from akig_data.errors import InvalidParameter
from akig_data.testing.ledger import Ledger


@pytest.fixture()
def people(fresh_db):
    book = Ledger(fresh_db)
    book.owner("O1")
    book.site("S1", "O1")
    book.owner("O2")
    book.site("S2", "O2")
    with fresh_db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE sites SET name = 'Résidence Les Palmiers' WHERE site_ref = 'S1'")
        conn.exec_driver_sql("UPDATE sites SET name = 'Immeuble Nimba' WHERE site_ref = 'S2'")
    rows = [("T1", "Mamadou Diallo", "+224 622 12 34 56", "U1", "S1", "Studio A1"),
            ("T2", "Aïssatou Keïta", "664 00 11 22", "U2", "S1", "Magasin B2"),
            ("T3", "Fodé Dialo", "+224655987654", "U3", "S2", "Villa Kakimbo"),
            ("T4", "Ibrahima Barry", None, "U4", "S2", "Appartement Fria")]
    for tenant, name, phone, unit, site, label in rows:
        book.unit(unit, site)
        with fresh_db.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE units SET label = %s WHERE unit_ref = %s", (label, unit))
            conn.exec_driver_sql("INSERT INTO tenants (tenant_ref, full_name, phone) VALUES (%s, %s, %s)",
                                 (tenant, name, phone))
        book.lease(f"L-{tenant}", unit, tenant, "2026-01-01")
    fresh_db.memo.bump(["tenants", "units", "sites"])
    return book


def refs(frame) -> list[str]:
    return list(frame["tenant_ref"])


def test_misspelt_name_finds_the_tenant(people):
    found = reads.search_tenants(q="Dialo")
    assert refs(found)[:2] == ["T3", "T1"]            # the exact spelling ranks first
    assert set(found["matched_on"]) == {"name"}


@pytest.mark.parametrize("q", ["Keita", "keïta", "KEITA", "aissatou"])
def test_accents_and_case_do_not_matter(people, q):
    assert refs(reads.search_tenants(q=q)) == ["T2"]


@pytest.mark.parametrize("q", ["Kei", "Mam", "Ib", "Ba"])
def test_prefix_as_you_type(people, q):
    found = refs(reads.search_tenants(q=q))
    assert found and found[0] in {"Kei": "T2", "Mam": "T1", "Ib": "T4", "Ba": "T4"}[q]


@pytest.mark.parametrize("q", ["+224 622 12 34 56", "622123456", "622 12 34", "224622123456", "12 34 56"])
def test_phone_with_or_without_country_code_and_spaces(people, q):
    found = reads.search_tenants(q=q)
    assert refs(found) == ["T1"] and found.iloc[0]["matched_on"] == "phone"


def test_unit_label_and_site_name(people):
    assert refs(reads.search_tenants(q="Kakimbo")) == ["T3"]
    palmiers = reads.search_tenants(q="palmier")
    assert sorted(refs(palmiers)) == ["T1", "T2"] and set(palmiers["matched_on"]) == {"site"}


def test_pages_and_total(people):
    first = reads.search_tenants(q="Dial", limit=1)
    second = reads.search_tenants(q="Dial", limit=1, offset=1)
    assert len(first) == len(second) == 1
    assert first.iloc[0]["total_matches"] == 2 and refs(first) != refs(second)
    assert reads.search_tenants(q="Dial", offset=5).empty


def test_owner_scope(people):
    assert refs(reads.search_tenants(q="Dialo", owner_ref="O1")) == ["T1"]
    assert reads.search_tenants(q="Nimba", owner_ref="O1").empty        # another owner's site
    assert set(reads.search_tenants(q="Dialo", owner_ref="O2")["owner_ref"]) == {"O2"}


@pytest.mark.parametrize("q", ["'", '"', "%", "_", "\\", "'; DROP TABLE tenants; --", "%%%_\\'",
                               "Robert'); DELETE FROM leases;--", "😀", "😀 Diallo", "a" * 199, "Dia\tllo"])
def test_hostile_input_returns_normally(people, q):
    frame = reads.search_tenants(q=q)
    assert list(frame.columns)[:2] == ["tenant_ref", "full_name"]
    assert len(reads.search_tenants(q="Barry")) == 1                   # nothing was harmed


@pytest.mark.parametrize("q, message", [("", "q must not be empty"), ("   ", "q must not be empty"),
                                        ("x" * 10_000, "too long"), ("ab\x00c", "NUL")])
def test_unusable_input_is_a_clear_error(people, q, message):
    with pytest.raises(InvalidParameter, match=message):
        reads.search_tenants(q=q)


def test_limits_are_checked(people):
    with pytest.raises(InvalidParameter, match="limit must be from 1 to 100"):
        reads.search_tenants(q="Diallo", limit=1000)
    with pytest.raises(InvalidParameter, match="offset must be from 0 to 10000"):
        reads.search_tenants(q="Diallo", offset=-1)
