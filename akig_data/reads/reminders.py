"""The SMS reminders as the reminders page and the owner dashboard see them: the day's messages, what the
ladders will send on a day, and reminded against held-out dues (akig_data.reminders)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from akig_data.reads.registry import TODAY, read, sql_table
from akig_data.reads.shared import LEDGER_TABLES, check_period

REMINDER_TABLES = ("reminder_outbox", "reminder_policies", "reminder_steps")


@read(depends_on=("reminder_outbox", "leases", "tenants", "owners"), ttl=60)
def reminder_messages(day: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """The reminders created or sent on `day` (Conakry), newest first: the tenant, the phone, the step,
    the text, where it stands (queued, sent, delivered, failed, cancelled, held out) and why."""
    return sql_table("SELECT * FROM reminder_messages(CAST(:day AS date), CAST(:owner_ref AS text))",
                     day=day, owner_ref=owner_ref)


@read(depends_on=(*REMINDER_TABLES, *LEDGER_TABLES), ttl=300)
def reminder_plan(day: dt.date = TODAY, owner_ref: str | None = None) -> pa.Table:
    """What the ladders ask for on `day`, for the owners with reminders on: each unpaid due whose date plus
    a step's offset is that day, with the tenant, the phone, what is left of the due, the step and its
    template, and whether the lease is held out. "What will be sent tomorrow" before it is planned."""
    return sql_table("SELECT * FROM reminder_candidates(CAST(:day AS date), CAST(:owner_ref AS text))",
                     day=day, owner_ref=owner_ref)


@read(depends_on=(*REMINDER_TABLES, *LEDGER_TABLES), ttl=600)
def reminder_effect(date_from: dt.date, date_to: dt.date, as_of: dt.date = TODAY,
                    owner_ref: str | None = None) -> pa.Table:
    """Dues from `date_from` to `date_to` whose tenants got a reminder ("reminded") against those of the
    leases held out of reminders ("held_out"): number of dues, amount, collected by `as_of`, collection
    rate, share paid by the due date, mean days from the due date to full payment (unpaid: to as_of)."""
    check_period(date_from, date_to)
    return sql_table("SELECT * FROM reminder_effect(CAST(:date_from AS date), CAST(:date_to AS date), "
                     "CAST(:as_of AS date), CAST(:owner_ref AS text))",
                     date_from=date_from, date_to=date_to, as_of=as_of, owner_ref=owner_ref)
