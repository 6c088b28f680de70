"""Reads of the portfolio: owners, sites, arrears, collection KPIs, trends, late tenants and sites.
Each is one SQL function in `sql/`, where the money rules live."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from akig_data.errors import InvalidParameter
from akig_data.reads.registry import MONTH_START, TODAY, read, sql_table
from akig_data.reads.shared import LEDGER_TABLES, CONTACT_TABLES, check_period


@read(depends_on=("owners", "sites", "leases"), version=2)
def owners(owner_ref: str | None = None) -> pa.Table:
    """Owners (all, or the one asked for) with the number of their sites and the start of their first lease
    (none yet: null); the apps' owner filter lists them, the daily report refuses a day before any data."""
    return sql_table(
        "SELECT * FROM owners(CAST(:owner_ref AS text))",
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
    check_period(date_from, date_to)
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
def promises(as_of: dt.date = TODAY, owner_ref: str | None = None, due_from: dt.date | None = None,
             due_to: dt.date | None = None) -> pa.Table:
    """Promises to pay made by as_of (due from due_from to due_to when given), with what was paid toward each and its status (kept, pending, partial, broken)."""
    if due_from is not None and due_to is not None and due_to < due_from:
        raise InvalidParameter("due_to must not be before due_from")
    return sql_table(
        "SELECT * FROM promises(CAST(:as_of AS date), CAST(:owner_ref AS text), CAST(:due_from AS date),"
        " CAST(:due_to AS date))",
        as_of=as_of, owner_ref=owner_ref, due_from=due_from, due_to=due_to,
    )


@read(depends_on=LEDGER_TABLES)
def portfolio_summary(as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """One row: sites, units, occupancy, tenants, arrears and late leases at as_of; the month to date."""
    return sql_table(
        "SELECT * FROM portfolio_summary(CAST(:as_of AS date), CAST(:owner_ref AS text))",
        as_of=as_of, owner_ref=owner_ref,
    )


@read(depends_on=("owners", "sites", "units", "leases"))
def sites(owner_ref: str | None = None) -> pa.Table:
    """Sites (all, or one owner's) with their place and number of units; the apps' site filter lists them."""
    return sql_table(
        "SELECT * FROM sites(CAST(:owner_ref AS text))",
        owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES)
def period_kpis(date_from: dt.date = MONTH_START, date_to: dt.date = TODAY, owner_ref: str | None = None,
                site_ref: str | None = None) -> pa.Table:
    """One row: arrears, late leases and tenants at date_to; due, collected and rates over [date_from, date_to]."""
    check_period(date_from, date_to)
    return sql_table(
        "SELECT * FROM period_kpis(CAST(:date_from AS date), CAST(:date_to AS date), CAST(:owner_ref AS text),"
        " CAST(:site_ref AS text))",
        date_from=date_from, date_to=date_to, owner_ref=owner_ref, site_ref=site_ref,
    )


@read(depends_on=LEDGER_TABLES)
def monthly_trend(as_of: dt.date = TODAY, months: int = 12, owner_ref: str | None = None,
                  site_ref: str | None = None) -> pa.Table:
    """The last `months` months up to as_of (the last one to date): due, collected, collection and punctuality rates."""
    from akig_data.errors import InvalidParameter

    if not 1 <= months <= 120:
        raise InvalidParameter(f"months must be from 1 to 120 (got {months})")
    return sql_table(
        "SELECT * FROM monthly_trend(CAST(:as_of AS date), CAST(:months AS integer), CAST(:owner_ref AS text),"
        " CAST(:site_ref AS text))",
        as_of=as_of, months=months, owner_ref=owner_ref, site_ref=site_ref,
    )


@read(depends_on=LEDGER_TABLES)
def site_units(site_ref: str, as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """A site's units with their tenant at as_of, his arrears and a status (vacant, late, up_to_date)."""
    return sql_table(
        "SELECT * FROM site_units(CAST(:site_ref AS text), CAST(:as_of AS date), CAST(:owner_ref AS text))",
        site_ref=site_ref, as_of=as_of, owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES + CONTACT_TABLES)
def late_tenants(as_of: dt.date = TODAY, owner_ref: str | None = None, site_ref: str | None = None,
                 limit: int | None = None) -> pa.Table:
    """Tenants with arrears at as_of, largest first, with days late and their last call or visit."""
    from akig_data.errors import InvalidParameter

    if limit is not None and not 1 <= limit <= 100_000:
        raise InvalidParameter(f"limit must be from 1 to 100000 (got {limit})")
    return sql_table(
        "SELECT * FROM late_tenants(CAST(:as_of AS date), CAST(:owner_ref AS text), CAST(:site_ref AS text),"
        " CAST(:limit AS integer))",
        as_of=as_of, owner_ref=owner_ref, site_ref=site_ref, limit=limit,
    )


@read(depends_on=LEDGER_TABLES)
def punctuality_by_cohort(date_from: dt.date = MONTH_START, date_to: dt.date = TODAY,
                          owner_ref: str | None = None) -> pa.Table:
    """Leases grouped by the month they started: their dues in [date_from, date_to] and the share paid on time."""
    check_period(date_from, date_to)
    return sql_table(
        "SELECT * FROM punctuality_by_cohort(CAST(:date_from AS date), CAST(:date_to AS date),"
        " CAST(:owner_ref AS text))",
        date_from=date_from, date_to=date_to, owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES + ("calls", "visits"))
def late_sites(as_of: dt.date = TODAY, owner_ref: str | None = None, commune: str | None = None,
               min_arrears: int = 0, min_days_late: int = 0) -> pa.Table:
    """Sites with arrears, for the map: tenants late, arrears, days since the oldest unpaid due, last
    call or visit; filtered by commune, minimum arrears (GNF) and minimum days late."""
    from akig_data.errors import InvalidParameter

    if min_arrears < 0 or min_days_late < 0:
        raise InvalidParameter("min_arrears and min_days_late must not be negative")
    return sql_table(
        "SELECT * FROM late_sites(CAST(:as_of AS date), CAST(:owner_ref AS text), CAST(:commune AS text),"
        " CAST(:min_arrears AS numeric), CAST(:min_days_late AS numeric))",
        as_of=as_of, owner_ref=owner_ref, commune=commune, min_arrears=min_arrears, min_days_late=min_days_late,
    )


@read(depends_on=LEDGER_TABLES)
def collections_by_site(day: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """Money collected on one day by site and payment method (the daily report)."""
    return sql_table(
        "SELECT * FROM collections_by_site(CAST(:day AS date), CAST(:owner_ref AS text))",
        day=day, owner_ref=owner_ref,
    )
