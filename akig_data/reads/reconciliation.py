"""The mobile-money statements' transfers as reconciliation left them: booked, waiting for review,
rejected or reversed (akig_data.writes.reconciliation)."""

from __future__ import annotations

import pyarrow as pa

from akig_data.reads.registry import read, sql_table

STATUSES = ("booked", "review", "rejected", "reversed")


@read(depends_on=("statement_lines", "leases", "tenants"), ttl=300)
def statement_lines(status: str | None = "review", owner_ref: str | None = None) -> pa.Table:
    """Transfers of the imported merchant statements, newest first: those waiting for a manager ("review",
    with the candidate leases and why), or those booked, rejected or reversed (None: all), with the lease
    and tenant they were booked to, the statement file and who decided."""
    from akig_data.errors import InvalidParameter

    if status is not None and status not in STATUSES:
        raise InvalidParameter(f"status : valeur inconnue {status!r} ({', '.join(STATUSES)}).")
    return sql_table("SELECT * FROM statement_lines(CAST(:status AS text), CAST(:owner_ref AS text))",
                     status=status, owner_ref=owner_ref)
