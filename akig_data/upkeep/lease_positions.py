"""Every lease's position of the day (arrears, credit, aging, days late) stored once, so that
`arrears_by_lease` answers from stored rows instead of computing every lease again after each payment
(sql/056).

Why it stays exact: the stored rows are those of one day; the triggers that keep each lease's total paid
recompute, in the writing transaction, the rows of the leases a payment touches, as do the triggers on a
lease's terms and on the tenants', units', sites' and owners' references. A read for the stored day answers
from the rows, a read for any other day computes as before. The day moves at midnight (Conakry time): the
server's scheduled task `lease_positions` stores today's rows at its first tick of the day (1-2 s at `large`
scale, under a lock that holds the writes' refreshes meanwhile) and does nothing while today's are there;
`akig demo up` stores them before it serves."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

import sqlalchemy as sa

from akig_data import clock
from akig_data.runtime import write_transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredDay:
    as_of: dt.date
    leases: int
    seconds: float


def stored_day() -> dt.date | None:
    """The day whose positions are stored, if any."""
    with write_transaction() as conn:
        return conn.execute(sa.text("SELECT as_of FROM lease_positions_day")).scalar()


def store(as_of: dt.date) -> StoredDay:
    """Store every lease's position of as_of in place of the day stored before, in a transaction of its
    own (as akig_write where roles are enforced)."""
    started = time.perf_counter()
    with write_transaction() as conn:
        leases = int(conn.execute(sa.text("SELECT lease_positions_store(CAST(:as_of AS date))"),
                                  {"as_of": as_of}).scalar())
    day = StoredDay(as_of, leases, round(time.perf_counter() - started, 2))
    log.info("lease positions of %s stored: %d leases, %.1f s", as_of, day.leases, day.seconds)
    return day


def store_due() -> StoredDay | None:
    """The scheduled task: store today's positions unless they are stored already."""
    today = clock.today()
    if stored_day() == today:
        return None
    return store(today)
