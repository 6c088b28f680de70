"""Reporting periods: the month, quarter or year to date of a day, and the same stretch one period
earlier (the KPI row compares the two). Shared by the dashboard, reports and notebooks."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

PERIODS = {"month": "Mois", "quarter": "Trimestre", "year": "Année"}


@dataclass(frozen=True)
class Period:
    kind: str
    date_from: dt.date
    date_to: dt.date

    @property
    def label(self) -> str:
        return f"du {self.date_from:%d/%m/%Y} au {self.date_to:%d/%m/%Y}"


def _shift_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` months earlier/later, clamped to the month's length (31 March - 1 -> 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def period_start(kind: str, day: dt.date) -> dt.date:
    if kind == "month":
        return day.replace(day=1)
    if kind == "quarter":
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if kind == "year":
        return dt.date(day.year, 1, 1)
    raise ValueError(f"period must be one of {', '.join(PERIODS)} (got {kind!r})")


def current_and_previous(kind: str, as_of: dt.date) -> tuple[Period, Period]:
    """[start of the period, as_of] and the same number of days into the previous period."""
    start = period_start(kind, as_of)
    months = {"month": 1, "quarter": 3, "year": 12}[kind]
    previous_start = _shift_months(start, -months)
    previous_end = _shift_months(as_of, -months)
    return Period(kind, start, as_of), Period(kind, previous_start, previous_end)
