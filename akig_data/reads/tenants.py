"""Reads of one tenant (card, leases, ledger, timeline) and the tenant search."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from akig_data.reads.registry import TODAY, read, sql_table
from akig_data.reads.shared import LEDGER_TABLES, CONTACT_TABLES


@read(depends_on=LEDGER_TABLES)
def tenant_card(tenant_ref: str, as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """One tenant: identity, contact, his arrears and aging over his leases (of the owner, with owner_ref)."""
    return sql_table(
        "SELECT * FROM tenant_card(CAST(:tenant_ref AS text), CAST(:as_of AS date), CAST(:owner_ref AS text))",
        tenant_ref=tenant_ref, as_of=as_of, owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES)
def tenant_leases(tenant_ref: str, as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """A tenant's leases with each one's dues, payments, arrears and credit at as_of."""
    return sql_table(
        "SELECT * FROM tenant_leases(CAST(:tenant_ref AS text), CAST(:as_of AS date), CAST(:owner_ref AS text))",
        tenant_ref=tenant_ref, as_of=as_of, owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES)
def tenant_ledger(tenant_ref: str, as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """Every due and payment of a tenant up to as_of with the running balance and, per due, its unpaid rest (FIFO)."""
    return sql_table(
        "SELECT * FROM tenant_ledger(CAST(:tenant_ref AS text), CAST(:as_of AS date), CAST(:owner_ref AS text))",
        tenant_ref=tenant_ref, as_of=as_of, owner_ref=owner_ref,
    )


@read(depends_on=LEDGER_TABLES + CONTACT_TABLES)
def tenant_timeline(tenant_ref: str, as_of: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """A tenant's calls, visits, promises (with their status) and payments up to as_of, newest first."""
    return sql_table(
        "SELECT * FROM tenant_timeline(CAST(:tenant_ref AS text), CAST(:as_of AS date), CAST(:owner_ref AS text))",
        tenant_ref=tenant_ref, as_of=as_of, owner_ref=owner_ref,
    )


@read(depends_on=("owners", "sites", "units", "tenants", "leases"))
def search_tenants(q: str, owner_ref: str | None = None, limit: int = 20, offset: int = 0) -> pa.Table:
    """Tenants by name, phone, unit label or site name: accent-insensitive, typo-tolerant, ranked, paginated."""
    from akig_data.errors import InvalidParameter

    text = q.strip()
    if not text:
        raise InvalidParameter("q must not be empty")
    if len(text) > 200:
        raise InvalidParameter(f"q is too long ({len(text)} characters, at most 200)")
    if "\x00" in text:
        raise InvalidParameter("q must not contain NUL characters")
    if not 1 <= limit <= 100:
        raise InvalidParameter(f"limit must be from 1 to 100 (got {limit})")
    if not 0 <= offset <= 10_000:
        raise InvalidParameter(f"offset must be from 0 to 10000 (got {offset})")
    return sql_table(
        "SELECT * FROM search_tenants(CAST(:q AS text), CAST(:owner_ref AS text), CAST(:limit AS integer),"
        " CAST(:offset AS integer))",
        q=text, owner_ref=owner_ref, limit=limit, offset=offset,
    )
