import datetime as dt

import pytest

from akig_data.periods import current_and_previous


@pytest.mark.parametrize(
    "kind, as_of, current, previous",
    [
        ("month", "2026-11-26", ("2026-11-01", "2026-11-26"), ("2026-10-01", "2026-10-26")),
        ("month", "2026-03-31", ("2026-03-01", "2026-03-31"), ("2026-02-01", "2026-02-28")),
        ("month", "2026-01-15", ("2026-01-01", "2026-01-15"), ("2025-12-01", "2025-12-15")),
        ("quarter", "2026-11-26", ("2026-10-01", "2026-11-26"), ("2026-07-01", "2026-08-26")),
        ("quarter", "2026-02-10", ("2026-01-01", "2026-02-10"), ("2025-10-01", "2025-11-10")),
        ("year", "2024-02-29", ("2024-01-01", "2024-02-29"), ("2023-01-01", "2023-02-28")),
    ],
)
def test_current_and_previous_periods(kind, as_of, current, previous):
    cur, prev = current_and_previous(kind, dt.date.fromisoformat(as_of))
    assert (cur.date_from.isoformat(), cur.date_to.isoformat()) == current
    assert (prev.date_from.isoformat(), prev.date_to.isoformat()) == previous


def test_unknown_period_is_refused():
    with pytest.raises(ValueError, match="period must be one of"):
        current_and_previous("week", dt.date(2026, 1, 1))
