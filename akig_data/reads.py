"""The registered reads. Each is one function here and one SQL function in `sql/` (the money rules
are there, in PostgreSQL, so every client sees the same numbers). Adding a read is adding both.

Every read takes `owner_ref` (None = every owner) and every row that belongs to one owner carries it.
Money columns are integer GNF, rates floats in 0..1 (collection may exceed 1), NULL/NaN when undefined.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from akig_data.registry import MONTH_START, TODAY, read, sql_table

# The tables whose writes change the ledger (dues come from leases, payments pay them).
LEDGER_TABLES = ("owners", "sites", "units", "tenants", "leases", "payments")


@read(depends_on=("owners", "sites"))
def owners(owner_ref: str | None = None) -> pa.Table:
    """Owners (all, or the one asked for) with the number of their sites; the apps' owner filter lists them."""
    return sql_table(
        "SELECT o.owner_ref, o.name, o.phone, o.email, count(s.id)::integer AS sites"
        " FROM owners o LEFT JOIN sites s ON s.owner_id = o.id"
        " WHERE CAST(:owner_ref AS text) IS NULL OR o.owner_ref = CAST(:owner_ref AS text)"
        " GROUP BY o.id ORDER BY o.name, o.owner_ref",
        owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES)
def arrears_by_lease(as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """Each lease with arrears or credit at as_of: FIFO aging buckets, oldest unpaid due, days late."""
    return sql_table(
        "SELECT * FROM arrears_by_lease(CAST(:as_of AS date), CAST(:owner_ref AS text))",
        as_of=as_of, owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES)
def arrears_by_site(as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """Every site's arrears at as_of, its late leases and its four aging buckets."""
    return sql_table(
        "SELECT * FROM arrears_by_site(CAST(:as_of AS date), CAST(:owner_ref AS text))",
        as_of=as_of, owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES)
def site_kpis(date_from: dt.date = MONTH_START, date_to: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """Per site over [date_from, date_to]: due, collected, collection and punctuality rates; arrears at date_to."""
    _check_period(date_from, date_to)
    return sql_table(
        "SELECT * FROM site_kpis(CAST(:date_from AS date), CAST(:date_to AS date), CAST(:owner_ref AS text))",
        date_from=date_from, date_to=date_to, owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES)
def good_payers(as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """Tenants with a good-payer badge at as_of (gold, silver, bronze) and their on-time ratio over a year."""
    return sql_table(
        "SELECT * FROM good_payers(CAST(:as_of AS date), CAST(:owner_ref AS text))",
        as_of=as_of, owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES + ("promises", "agents"))
def promises(as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """Promises to pay made by as_of, with what was paid toward each and its status (kept, pending, partial, broken)."""
    return sql_table(
        "SELECT * FROM promises(CAST(:as_of AS date), CAST(:owner_ref AS text))",
        as_of=as_of, owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES)
def portfolio_summary(as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """One row: sites, units, occupancy, tenants, arrears and late leases at as_of; the month to date."""
    return sql_table(
        "SELECT * FROM portfolio_summary(CAST(:as_of AS date), CAST(:owner_ref AS text))",
        as_of=as_of, owner_ref=owner_ref,
    )


def _check_period(date_from: dt.date, date_to: dt.date) -> None:
    from akig_data.errors import InvalidParameter

    if date_from > date_to:
        raise InvalidParameter(f"date_from ({date_from}) is after date_to ({date_to})")
