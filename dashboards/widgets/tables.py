"""Tabulator tables the French way: amounts with thin-space thousands, rates in %, dates dd/mm/yyyy."""

from __future__ import annotations

import pandas as pd
import panel as pn

# Tabulator's money formatter, French style ("1 250 000", "42,5"); a missing value (None) stays blank.
MONEY = {"type": "money", "thousand": "\u202f", "decimal": ",", "symbol": "", "precision": 0}
PERCENT = {"type": "money", "thousand": "\u202f", "decimal": ",", "symbol": "", "precision": 1}
# Counts (integer columns that are neither money nor a rate): the same thin-space thousands, so that 1286 late
# leases read "1 286", not Tabulator's English "1,286". A column named "N°..." is an identifier: plain digits.
COUNT = MONEY
IDENTIFIER = {"type": "plaintext"}
PAGINATION_FR = {
    "locale": "fr",
    "langs": {"fr": {"pagination": {
        "first": "«", "first_title": "Première page", "last": "»", "last_title": "Dernière page",
        "prev": "‹", "prev_title": "Page précédente", "next": "›", "next_title": "Page suivante",
        "page_size": "Lignes par page", "counter": {"showing": "", "of": "sur", "rows": "lignes", "pages": "pages"},
    }}},
}


def as_percent(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Rates 0..1 -> numbers 0..100 for display (sortable, unlike text)."""
    out = frame.copy()
    for column in columns:
        out[column] = out[column].astype("float64") * 100
    return out


def french_dates(frame: pd.DataFrame, columns: tuple[str, ...], with_time: bool = False) -> pd.DataFrame:
    out = frame.copy()
    fmt = "%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y"
    for column in columns:
        out[column] = [v.strftime(fmt) if v is not None and not pd.isna(v) else "" for v in out[column]]
    return out


def table(frame: pd.DataFrame, money: tuple[str, ...] = (), percent: tuple[str, ...] = (), page_size: int = 10,
          remote: bool = False, selectable: bool = False, **kwargs) -> pn.widgets.Tabulator:
    integers = [c for c in frame.columns
                if pd.api.types.is_integer_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    formatters = ({c: IDENTIFIER if str(c).startswith("N°") else COUNT for c in integers}
                  | {c: MONEY for c in money} | {c: PERCENT for c in percent} | kwargs.pop("formatters", {}))
    frame = frame.copy()
    for column in (*money, *percent):
        if frame[column].isna().any():  # NaN would print "NaN": send None, which prints blank
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    align = {c: "right" for c in (*money, *percent, *(c for c in integers if formatters[c] is COUNT))}
    kwargs.setdefault("layout", "fit_data_stretch")
    return pn.widgets.Tabulator(
        frame, show_index=False, disabled=True, sizing_mode="stretch_width", configuration=PAGINATION_FR,
        formatters=formatters, text_align=align, pagination="remote" if remote else "local",
        page_size=page_size, selectable=1 if selectable else False, **kwargs,
    )
