"""The import format: which files (or workbook sheets) exist, their columns, and how each value is read.

Every parser takes the raw cell (a string from a CSV, or a number/date/string from Excel) and returns
the typed value or raises ValueError with the message shown to the user, e.g.
    amount must be a positive integer (got "-5000")
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Callable
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Africa/Conakry")
MAX_MONEY = 10**12  # 1 000 milliards GNF: anything above is a typo
# Guinea's bounding box (with a margin): catches swapped lat/lon and coordinates of another country.
GUINEA_LAT = (7.0, 12.8)
GUINEA_LON = (-15.2, -7.5)


def _shown(raw: Any) -> str:
    text = str(raw)
    return '"' + (text if len(text) <= 60 else text[:57] + "...") + '"'


def _text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw).strip()


def parse_text(name: str, max_len: int = 200) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        text = _text(raw)
        if len(text) > max_len:
            raise ValueError(f"{name} is too long ({len(text)} characters, at most {max_len})")
        if any(ord(c) < 32 for c in text):
            raise ValueError(f"{name} contains control characters (got {_shown(raw)})")
        return text

    return parse


_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")


def parse_ref(name: str) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        text = _text(raw)
        if not _REF.match(text):
            raise ValueError(
                f"{name} must be 1-64 letters, digits, '.', '_', '/' or '-' (got {_shown(raw)})"
            )
        return text

    return parse


def parse_positive_int(name: str) -> Callable[[Any], int]:
    def parse(raw: Any) -> int:
        value: int | None = None
        if isinstance(raw, bool):
            value = None
        elif isinstance(raw, int):
            value = raw
        elif isinstance(raw, float) and raw.is_integer():
            value = int(raw)
        elif isinstance(raw, str) and re.fullmatch(r"[+-]?\d+", raw.strip()):
            value = int(raw.strip())
        if value is None or value <= 0 or value > MAX_MONEY:
            raise ValueError(f"{name} must be a positive integer (got {_shown(raw)})")
        return value

    return parse


def parse_day_of_month(name: str) -> Callable[[Any], int]:
    def parse(raw: Any) -> int:
        text = _text(raw)
        if not re.fullmatch(r"\d{1,2}", text) or not 1 <= int(text) <= 31:
            raise ValueError(f"{name} must be an integer from 1 to 31 (got {_shown(raw)})")
        return int(text)

    return parse


def parse_date(name: str) -> Callable[[Any], dt.date]:
    def parse(raw: Any) -> dt.date:
        if isinstance(raw, dt.datetime):
            return raw.date()
        if isinstance(raw, dt.date):
            return raw
        text = _text(raw)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                pass
        raise ValueError(f"{name} must be a date YYYY-MM-DD (got {_shown(raw)})")

    return parse


def parse_timestamp(name: str) -> Callable[[Any], dt.datetime]:
    """A date (midnight in Conakry) or an ISO datetime with its UTC offset.

    A text datetime without an offset is refused: we will not guess the zone of a payment.
    Excel cells carry no zone at all; they are read as Conakry time (UTC+0, no DST)."""

    def parse(raw: Any) -> dt.datetime:
        if isinstance(raw, dt.datetime):
            return raw if raw.tzinfo else raw.replace(tzinfo=TZ)
        if isinstance(raw, dt.date):
            return dt.datetime.combine(raw, dt.time(), TZ)
        text = _text(raw)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            try:
                return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), TZ)
            except ValueError:
                pass
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})", text):
            try:
                return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                pass
        raise ValueError(
            f"{name} must be a date YYYY-MM-DD or an ISO datetime with its UTC offset, "
            f"e.g. 2026-06-01T09:30+00:00 (got {_shown(raw)})"
        )

    return parse


def parse_choice(name: str, options: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        text = _text(raw)
        if text not in options:
            raise ValueError(f"{name} must be one of {', '.join(options)} (got {_shown(raw)})")
        return text

    return parse


def parse_coordinate(name: str, low: float, high: float) -> Callable[[Any], float]:
    def parse(raw: Any) -> float:
        try:
            value = float(_text(raw).replace(",", "."))
        except ValueError:
            value = float("nan")
        if not low <= value <= high:
            raise ValueError(f"{name} must be a number from {low} to {high} in Guinea (got {_shown(raw)})")
        return value

    return parse


_PHONE = re.compile(r"^\+?[0-9 ().-]{6,20}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def parse_phone(name: str) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        text = _text(raw)
        if not _PHONE.match(text) or not 8 <= sum(c.isdigit() for c in text) <= 15:
            raise ValueError(f"{name} must be a phone number such as +224 622 12 34 56 (got {_shown(raw)})")
        return text

    return parse


def parse_email(name: str) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        text = _text(raw)
        if not _EMAIL.match(text) or len(text) > 254:
            raise ValueError(f"{name} must be an e-mail address (got {_shown(raw)})")
        return text

    return parse


@dataclass(frozen=True)
class Column:
    name: str
    parse: Callable[[Any], Any]
    column_required: bool = True   # the header must have it
    value_required: bool = True    # an empty cell is an error
    refers_to: str | None = None   # the file whose key this column names


@dataclass(frozen=True)
class FileFormat:
    name: str          # owners, sites, ... (file owners.csv, or sheet "owners")
    key: str
    columns: tuple[Column, ...]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.column_required]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


def _c(name: str, parse: Callable[[Any], Any], *, optional_column: bool = False, optional_value: bool = False,
       refers_to: str | None = None) -> Column:
    return Column(name, parse, not optional_column, not (optional_value or optional_column), refers_to)


METHODS = ("cash", "orange_money", "mtn_momo", "bank")

FORMATS: dict[str, FileFormat] = {
    f.name: f
    for f in (
        FileFormat("owners", "owner_ref", (
            _c("owner_ref", parse_ref("owner_ref")),
            _c("name", parse_text("name")),
            _c("phone", parse_phone("phone"), optional_column=True),
            _c("email", parse_email("email"), optional_column=True),
        )),
        FileFormat("sites", "site_ref", (
            _c("site_ref", parse_ref("site_ref")),
            _c("owner_ref", parse_ref("owner_ref"), refers_to="owners"),
            _c("name", parse_text("name")),
            _c("commune", parse_text("commune", 80)),
            _c("quartier", parse_text("quartier", 80)),
            _c("lat", parse_coordinate("lat", *GUINEA_LAT)),
            _c("lon", parse_coordinate("lon", *GUINEA_LON)),
        )),
        FileFormat("units", "unit_ref", (
            _c("unit_ref", parse_ref("unit_ref")),
            _c("site_ref", parse_ref("site_ref"), refers_to="sites"),
            _c("label", parse_text("label", 80)),
            _c("monthly_rent", parse_positive_int("monthly_rent")),
        )),
        FileFormat("tenants", "tenant_ref", (
            _c("tenant_ref", parse_ref("tenant_ref")),
            _c("full_name", parse_text("full_name")),
            _c("phone", parse_phone("phone"), optional_column=True),
            _c("email", parse_email("email"), optional_column=True),
        )),
        FileFormat("leases", "lease_ref", (
            _c("lease_ref", parse_ref("lease_ref")),
            _c("unit_ref", parse_ref("unit_ref"), refers_to="units"),
            _c("tenant_ref", parse_ref("tenant_ref"), refers_to="tenants"),
            _c("start_date", parse_date("start_date")),
            _c("end_date", parse_date("end_date"), optional_value=True),
            _c("monthly_rent", parse_positive_int("monthly_rent")),
            _c("due_day", parse_day_of_month("due_day")),
        )),
        FileFormat("payments", "payment_ref", (
            _c("payment_ref", parse_ref("payment_ref")),
            _c("lease_ref", parse_ref("lease_ref"), refers_to="leases"),
            _c("paid_at", parse_timestamp("paid_at")),
            _c("amount", parse_positive_int("amount")),
            _c("method", parse_choice("method", METHODS)),
            _c("agent_ref", parse_ref("agent_ref"), optional_column=True, refers_to="agents"),
        )),
        FileFormat("agents", "agent_ref", (
            _c("agent_ref", parse_ref("agent_ref")),
            _c("full_name", parse_text("full_name")),
            _c("phone", parse_phone("phone"), optional_column=True),
            _c("zone", parse_text("zone", 80), optional_column=True),
        )),
        FileFormat("promises", "promise_ref", (
            _c("promise_ref", parse_ref("promise_ref")),
            _c("lease_ref", parse_ref("lease_ref"), refers_to="leases"),
            _c("agent_ref", parse_ref("agent_ref"), optional_value=True, refers_to="agents"),
            _c("created_at", parse_timestamp("created_at")),
            _c("due_date", parse_date("due_date")),
            _c("amount", parse_positive_int("amount")),
        )),
    )
}

# Files are validated and loaded parents first.
IMPORT_ORDER = ("owners", "agents", "tenants", "sites", "units", "leases", "payments", "promises")
