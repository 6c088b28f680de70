"""The project's "today" and time zone. Every date AKIG shows or computes is a Conakry date: rent falls
due on a Conakry calendar day, whatever the server's clock zone. Imports nothing of ours, so any module
may use it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

LOCAL_TZ = "Africa/Conakry"
TZ = ZoneInfo(LOCAL_TZ)


def today() -> dt.date:
    """Today's date in Conakry."""
    return dt.datetime.now(TZ).date()


def now() -> dt.datetime:
    """The current time, aware, in Conakry."""
    return dt.datetime.now(TZ)
