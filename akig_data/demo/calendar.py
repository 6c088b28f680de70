"""The months that are hard on tenants' budgets in Conakry, for the demo data: the school year's start
(September, October: fees, uniforms, books), Ramadan and the weeks before Tabaski (the sheep).

The Islamic dates are computed, not configured: the lunar year is 354.367 days long, so Ramadan's first
day moves about eleven days earlier each solar year. Counting lunar years from a known first day
(2024-03-11) gives the start to within a day or two for any year, which is all a synthetic data set needs
(the real date depends on the moon's sighting). Deterministic and free of settings on purpose: the same
seed must give the same rows on every machine.
"""

from __future__ import annotations

import numpy as np

LUNAR_YEAR_DAYS = 354.367
RAMADAN_REFERENCE = np.datetime64("2024-03-11", "D")
TABASKI_AFTER_RAMADAN_DAYS = 97      # 1 Ramadan 1445 -> 10 Dhu al-Hijja 1445 (2024-06-16)
SCHOOL_FEE_MONTHS = (9, 10)
EPOCH = np.datetime64("1970-01-01", "D")


def ramadan_starts(first_year: int, last_year: int) -> np.ndarray:
    """Day numbers (since 1970-01-01) of the first day of Ramadan in the Gregorian years given (inclusive)."""
    lo = np.datetime64(f"{first_year - 1}-01-01", "D")
    hi = np.datetime64(f"{last_year + 1}-12-31", "D")
    k_lo = int(np.floor((lo - RAMADAN_REFERENCE).astype(np.int64) / LUNAR_YEAR_DAYS)) - 1
    k_hi = int(np.ceil((hi - RAMADAN_REFERENCE).astype(np.int64) / LUNAR_YEAR_DAYS)) + 1
    ks = np.arange(k_lo, k_hi + 1)
    return (RAMADAN_REFERENCE - EPOCH).astype(np.int64) + np.round(ks * LUNAR_YEAR_DAYS).astype(np.int64)


def hard_days(days: np.ndarray) -> np.ndarray:
    """True for the day numbers that fall in a hard period: September or October, Ramadan (30 days),
    or the three weeks before Tabaski and the week after it."""
    days = np.asarray(days, dtype=np.int64)
    if days.size == 0:
        return np.zeros(0, dtype=bool)
    as_dates = days.astype("datetime64[D]")
    month = as_dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    years = as_dates.astype("datetime64[Y]").astype(np.int64) + 1970
    hard = np.isin(month, SCHOOL_FEE_MONTHS)
    for start in ramadan_starts(int(years.min()), int(years.max())):
        tabaski = start + TABASKI_AFTER_RAMADAN_DAYS
        hard |= (days >= start) & (days < start + 30)
        hard |= (days >= tabaski - 21) & (days <= tabaski + 7)
    return hard
