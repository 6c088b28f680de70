"""The tables each family of reads depends on (a write to one of them drops those reads' cached
answers), and the checks several reads share."""

from __future__ import annotations

import datetime as dt

from akig_data.errors import InvalidParameter

# The tables whose writes change the ledger (dues come from leases, payments pay them).
LEDGER_TABLES = ("owners", "sites", "units", "tenants", "leases", "payments")


def check_period(date_from: dt.date, date_to: dt.date) -> None:
    if date_from > date_to:
        raise InvalidParameter(f"date_from ({date_from}) is after date_to ({date_to})")


CONTACT_TABLES = ("calls", "visits", "promises", "agents")
PERFORMANCE_TABLES = ("agents", "missions", "calls", "visits", "promises", "payments", "leases")
