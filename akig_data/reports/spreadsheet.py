"""Turning a read's DataFrame into JSON-ready records and CSV text (the CLI and the JSON API share it),
and making any table safe to open in a spreadsheet (every CSV and .xlsx writer of the project uses it).

JSON: a list of objects; money as integers, rates as floats, dates and times as ISO 8601 text,
missing values as null.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from typing import Any

import numpy as np
import pandas as pd


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    columns = list(frame.columns)
    return [
        {c: _plain(v) for c, v in zip(columns, row)}
        for row in frame.itertuples(index=False, name=None)
    ]


def to_json(frame: pd.DataFrame, indent: int | None = 2) -> str:
    return json.dumps(records(frame), ensure_ascii=False, indent=indent)


# A spreadsheet (Excel, LibreOffice, Google Sheets) reads a cell starting with one of these as a formula:
# `=HYPERLINK("http://x","clic")` typed as a call's note would be a live link in an owner's export,
# `=cmd|' /C calc'!A0` a DDE command (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: Any) -> Any:
    """A text that a spreadsheet would take for a formula, with a leading apostrophe (OWASP's advice: the
    cell shows the text, nothing is evaluated); anything that is not a string (numbers, negative ones
    included, dates, missing values) is returned as it is, so numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells cannot start a formula (see spreadsheet_text); numeric, date and
    boolean columns are not touched. Every CSV and Excel writer calls this on what it writes: names,
    notes, titles and refs come from users (agents' notes, imported tenant names)."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype):
            out[column] = series.map(spreadsheet_text, na_action="ignore")
    return out


def spreadsheet_csv(frame: pd.DataFrame, **options: Any) -> str:
    """CSV text for a spreadsheet: text cells made safe (spreadsheet_safe), and lines ended by CRLF
    (RFC 4180). With pandas' default "\n", Python's csv module leaves a field holding a lone "\r"
    unquoted, and Excel and LibreOffice end the row there: `ok\r=1+1` would start a new row with a
    formula however its first character was checked. With CRLF, any field holding \r or \n is quoted."""
    buffer = io.StringIO()
    spreadsheet_safe(frame).to_csv(buffer, index=False, lineterminator="\r\n", **options)
    return buffer.getvalue()


def to_csv(frame: pd.DataFrame) -> str:
    """CSV text of a read (`akig query --format csv`), safe to open in a spreadsheet."""
    return spreadsheet_csv(frame, date_format="%Y-%m-%dT%H:%M:%S%z")


def format_gnf(amount: int | float | None) -> str:
    """1250000 -> '1 250 000 GNF' (narrow no-break spaces between thousands, as French typography wants)."""
    if amount is None or (isinstance(amount, float) and math.isnan(amount)) or amount is pd.NA:
        return "—"
    return f"{int(round(amount)):,}".replace(",", "\u202f") + "\u00a0GNF"
