"""Turning a read's DataFrame into JSON-ready records and CSV text (the CLI and the JSON API share it).

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


def to_csv(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, date_format="%Y-%m-%dT%H:%M:%S%z")
    return buffer.getvalue()


def format_gnf(amount: int | float | None) -> str:
    """1250000 -> '1 250 000 GNF' (narrow no-break spaces between thousands, as French typography wants)."""
    if amount is None or (isinstance(amount, float) and math.isnan(amount)) or amount is pd.NA:
        return "—"
    return f"{int(round(amount)):,}".replace(",", "\u202f") + "\u00a0GNF"
