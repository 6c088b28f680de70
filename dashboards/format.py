"""Numbers the French way, as every page shows them: integers with narrow no-break spaces, rates in
percent with a decimal comma, amounts in whole Guinean francs. A missing value shows as "—"."""

from __future__ import annotations

from typing import Any

from akig_data.reports.spreadsheet import format_gnf


def fmt_int(value: Any) -> str:
    """12345 -> '12 345' (narrow no-break space); None/NA -> '—'."""
    try:
        return f"{int(value):,}".replace(",", "\u202f")
    except (TypeError, ValueError):
        return "—"


def fmt_rate(value: Any) -> str:
    """0.4213 -> '42,1 %' ; None/NaN -> '—' (a rate whose divisor is 0 is undefined, not 0)."""
    try:
        if value is None or value != value:
            return "—"
        return f"{float(value) * 100:.1f}".replace(".", ",") + "\u00a0%"
    except (TypeError, ValueError):
        return "—"


def fmt_gnf(value: Any) -> str:
    """1250000 -> '1 250 000 GNF' (whole francs); None/NaN -> '—'."""
    try:
        return format_gnf(None if value is None or value != value else int(value))
    except (TypeError, ValueError):
        return "—"
