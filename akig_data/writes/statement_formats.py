"""Reading the merchant statements that Orange Money and MTN MoMo let an owner export, CSV or Excel, into
one list of transfers received: what reconciliation matches to leases.

The two operators' exports differ in language, column names, date formats and how they say that a
transfer failed or was reversed. Each layout below lists, for every field, the column names it is known
by (compared without case, accents, punctuation or spaces, so "N° Transaction", "n° de transaction" and
"NUMERO TRANSACTION" are one name):

* Orange Money, merchant account ("Historique des transactions", French headers, CSV with `;` or Excel):
  Date (dd/mm/yyyy, or dd/mm/yyyy HH:MM[:SS]), Heure (HH:MM[:SS], when the date has none), N° Transaction,
  Type (optional: "Paiement marchand", "Transfert reçu" … are money received; "Retrait", "Frais",
  "Transfert envoyé" … are not), Numéro expéditeur / Expéditeur, Nom expéditeur (optional),
  Montant (GNF) ("1 500 000", "1500000", "1 500 000,00"), Référence / Motif / Message (optional),
  Statut ("Succès", "Réussi", "Effectué": received; "Annulé", "Remboursé", "Inversé": reversed;
  "Échec", "En attente", "Rejeté": not received).
* MTN MoMo, merchant portal ("Transaction history", English headers, CSV with `,` or Excel):
  Id / Transaction Id / Financial Transaction Id, Date (ISO 8601 "2026-12-05 10:12:30", with or without
  "T", "Z" or an offset; or dd/mm/yyyy HH:MM[:SS]), Status (SUCCESSFUL, FAILED, PENDING, REVERSED),
  Type (optional: PAYMENT, TRANSFER, DEPOSIT, RECEIVE … received; DEBIT, CASH_OUT, WITHDRAWAL, FEE …
  not), From / From Number / Sender, From Name (optional), Amount, Currency (optional, must be GNF),
  Note / Message / Reference (optional).

Times without a zone are Conakry's (UTC+0). A line that is not money received (a withdrawal, a fee, a
failed or pending transfer, a negative amount) is counted as set aside, not refused. A line that cannot be
read (no transaction id, a date or an amount that does not parse, the same transaction twice with
different figures) refuses the whole statement, with its line number, like every import: nothing is
booked from a statement that is partly wrong.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import phonenumbers

from akig_data.clock import TZ
from akig_data.errors import InvalidParameter

# A month of a busy merchant account is well under 1 MB; the desk's upload travels base64 in one websocket
# message, which Bokeh caps at 20 MB.
MAX_BYTES = 10 * 1024 * 1024
MAX_LINES = 50_000
OPERATORS = {"orange_money": "Orange Money", "mtn_momo": "MTN MoMo"}


class StatementRefused(InvalidParameter):
    """The statement cannot be read; `problems` lists each line at fault (French). Nothing was booked."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = problems[:20] + ([f"… et {len(problems) - 20} autre(s) problème(s)"] if len(problems) > 20 else [])
        super().__init__("Relevé refusé, rien n'a été enregistré :\n" + "\n".join(shown))


@dataclass(frozen=True)
class Transfer:
    """One transfer the statement shows as received (or reversed)."""

    line_no: int
    transaction_id: str
    occurred_at: dt.datetime
    amount: int
    sender_shown: str | None = None
    sender_phone: str | None = None     # national number for a Guinean number, else E.164
    sender_name: str | None = None
    reference_text: str | None = None
    reversed: bool = False


@dataclass
class Statement:
    operator: str
    file_name: str
    transfers: list[Transfer] = field(default_factory=list)
    set_aside: int = 0                  # lines that are not money received


# -- names and values --------------------------------------------------------------------------------------
def fold(text: Any) -> str:
    """Lower case, no accents, letters and digits only: how column names and statuses are compared."""
    decomposed = unicodedata.normalize("NFKD", str(text or ""))
    return re.sub(r"[^a-z0-9]", "", "".join(c for c in decomposed if not unicodedata.combining(c)).lower())


def national_phone(text: Any) -> str | None:
    """A phone number as the tenants' records and the statements are compared: the 9-digit national number
    for a Guinean number written any usual way (+224 622 12 34 56, 00224622123456, 224622123456,
    622 12 34 56), the E.164 form for a foreign one, None when it is not a number."""
    raw = str(text or "").strip()
    if not raw:
        return None
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("00"):
        raw = "+" + digits[2:]
    elif digits.startswith("224") and len(digits) == 12:
        raw = "+" + digits
    try:
        number = phonenumbers.parse(raw, "GN")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code == 224:
        national = str(number.national_number)
        return national if len(national) == 9 else None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if \
        phonenumbers.is_possible_number(number) else None


def _amount(value: Any) -> int | None:
    """Whole GNF from a cell: 1500000, 1500000.0, "1 500 000", "1 500 000,00", "-5 000"; None if not a whole
    amount (GNF has no cents: "1 500,50" is refused rather than rounded)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = re.sub(r"[\s\u00a0\u202f']", "", str(value or ""))
    text = re.sub(r"(GNF|FG)$", "", text, flags=re.IGNORECASE)
    match = re.fullmatch(r"([+-]?)(\d{1,3}(?:[.,]\d{3})+|\d+)(?:[.,](\d{1,2}))?", text)
    if not match or (match.group(3) and int(match.group(3)) != 0):
        return None
    whole = int(re.sub(r"[.,]", "", match.group(2)))
    return -whole if match.group(1) == "-" else whole


_DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d", "%d/%m/%y")
_TIME_FORMATS = ("%H:%M:%S", "%H:%M")


def _moment(date_value: Any, time_value: Any = None) -> dt.datetime | None:
    """A timezone-aware moment from a date cell (text, date or datetime) and an optional time cell; naive
    times are Conakry's."""
    if isinstance(date_value, dt.datetime):
        moment = date_value
    elif isinstance(date_value, dt.date):
        moment = dt.datetime.combine(date_value, dt.time())
    else:
        text = str(date_value or "").strip()
        if not text:
            return None
        moment = None
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            parts = text.split()
            for date_format in _DATE_FORMATS:
                for time_format in (("",) if len(parts) == 1 else _TIME_FORMATS):
                    try:
                        moment = dt.datetime.strptime(text, f"{date_format} {time_format}".strip())
                        break
                    except ValueError:
                        continue
                if moment is not None:
                    break
        if moment is None:
            return None
    if time_value not in (None, "") and moment.time() == dt.time():
        if isinstance(time_value, dt.datetime):
            time_value = time_value.time()
        if isinstance(time_value, dt.time):
            clock = time_value
        else:
            clock = None
            for time_format in _TIME_FORMATS:
                try:
                    clock = dt.datetime.strptime(str(time_value).strip(), time_format).time()
                    break
                except ValueError:
                    continue
            if clock is None:
                return None
        moment = dt.datetime.combine(moment.date(), clock, tzinfo=moment.tzinfo)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=TZ)


# -- the layouts -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    operator: str
    columns: dict[str, tuple[str, ...]]          # field -> the names it is known by (folded)
    required: tuple[str, ...]
    received: Callable[[str], bool]              # folded status -> money received
    reversed: Callable[[str], bool]              # folded status -> the operator cancelled it
    incoming_type: Callable[[str], bool]         # folded type -> a transfer to the merchant


def _names(*names: str) -> tuple[str, ...]:
    return tuple(fold(n) for n in names)


ORANGE_MONEY = Layout(
    operator="orange_money",
    columns={
        "date": _names("Date", "Date opération", "Date de transaction", "Date et heure"),
        "time": _names("Heure", "Heure opération"),
        "transaction_id": _names("N° Transaction", "N° de transaction", "Numéro de transaction", "ID Transaction",
                                 "Référence transaction", "Transaction"),
        "type": _names("Type", "Type d'opération", "Type de transaction"),
        "sender": _names("Numéro expéditeur", "Expéditeur", "N° expéditeur", "Numéro client", "Téléphone"),
        "sender_name": _names("Nom expéditeur", "Nom du client", "Nom"),
        "amount": _names("Montant (GNF)", "Montant", "Montant GNF"),
        "reference": _names("Référence", "Motif", "Message", "Commentaire", "Référence client"),
        "status": _names("Statut", "État", "Etat"),
    },
    required=("date", "transaction_id", "sender", "amount", "status"),
    received=lambda s: s in {"succes", "reussi", "reussie", "effectue", "effectuee", "valide", "validee", "ok"},
    reversed=lambda s: s in {"annule", "annulee", "rembourse", "remboursee", "inverse", "inversee", "extourne"},
    incoming_type=lambda t: not t or any(w in t for w in ("paiement", "recu", "depot", "encaissement")),
)

MTN_MOMO = Layout(
    operator="mtn_momo",
    columns={
        "date": _names("Date", "Transaction Date", "Date Time", "Timestamp"),
        "time": _names("Time"),
        "transaction_id": _names("Id", "Transaction Id", "Financial Transaction Id", "Transaction Reference"),
        "type": _names("Type", "Transaction Type"),
        "sender": _names("From", "From Number", "Sender", "From Msisdn", "Payer"),
        "sender_name": _names("From Name", "Sender Name", "Payer Name"),
        "amount": _names("Amount", "Amount (GNF)"),
        "currency": _names("Currency"),
        "reference": _names("Note", "Message", "Reference", "Payer Message", "Narration"),
        "status": _names("Status", "Transaction Status"),
    },
    required=("date", "transaction_id", "sender", "amount", "status"),
    received=lambda s: s in {"successful", "success", "completed", "succeeded"},
    reversed=lambda s: s in {"reversed", "refunded", "rolledback"},
    incoming_type=lambda t: not t or any(w in t for w in ("payment", "transfer", "deposit", "receive", "credit",
                                                          "merchant")) and not any(
        w in t for w in ("debit", "cashout", "withdraw", "fee", "sent", "disbursement")),
)

LAYOUTS = {layout.operator: layout for layout in (ORANGE_MONEY, MTN_MOMO)}


def _which_column(layout: Layout, header: list[str]) -> dict[str, int]:
    folded = [fold(h) for h in header]
    found: dict[str, int] = {}
    for name, known in layout.columns.items():
        for alias in known:       # the aliases in order: "Montant (GNF)" before a bare "Montant"
            if alias in folded and folded.index(alias) not in found.values():
                found[name] = folded.index(alias)
                break
    return found


def detect(header: list[str]) -> Layout | None:
    """The layout whose required columns the header has (the one with the most columns found if both)."""
    fits = [(len(found), layout) for layout in LAYOUTS.values()
            if all(r in (found := _which_column(layout, header)) for r in layout.required)]
    return max(fits, key=lambda f: f[0])[1] if fits else None


# -- reading the file --------------------------------------------------------------------------------------
def _csv_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")   # Excel's "CSV" on a French Windows
    first = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 0
    for cells in reader:
        start, line = line + 1, reader.line_num
        yield start, cells


def _excel_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        raise StatementRefused(["Le fichier n'est pas un classeur Excel (.xlsx) lisible."]) from None
    try:
        sheet = book.worksheets[0]
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(cells)
    finally:
        book.close()


def _rows(data: bytes, file_name: str) -> Iterator[tuple[int, list[Any]]]:
    if data[:4] == b"PK\x03\x04" or file_name.lower().endswith((".xlsx", ".xlsm")):
        return _excel_rows(data)
    return _csv_rows(data)


def read_statement(source: Path | bytes, file_name: str | None = None, operator: str | None = None) -> Statement:
    """The statement's transfers received, in file order. `operator` forces a layout (orange_money,
    mtn_momo); by default the header says which. Raises StatementRefused naming every line at fault."""
    if isinstance(source, Path):
        file_name = file_name or source.name
        try:
            if source.stat().st_size > MAX_BYTES:
                raise StatementRefused([f"Fichier trop gros (plus de {MAX_BYTES // 1024 // 1024} Mo)."])
            data = source.read_bytes()
        except OSError as exc:
            raise StatementRefused([f"Fichier illisible : {exc.strerror or exc}."]) from None
    else:
        data = source
    file_name = file_name or "relevé"
    if len(data) > MAX_BYTES:
        raise StatementRefused([f"Fichier trop gros (plus de {MAX_BYTES // 1024 // 1024} Mo)."])
    if operator is not None and operator not in LAYOUTS:
        raise InvalidParameter(f"Opérateur inconnu : {operator!r} (orange_money ou mtn_momo).")
    rows = _rows(data, file_name)
    header: list[str] | None = None
    header_line = 0
    for header_line, cells in rows:   # the first non-empty row is the header (exports may start blank)
        if any(str(c or "").strip() for c in cells):
            header = [str(c or "").strip() for c in cells]
            break
    if header is None:
        raise StatementRefused(["Le relevé est vide."])
    layout = LAYOUTS[operator] if operator else detect(header)
    if layout is None:
        raise StatementRefused([
            f"Ligne {header_line} : en-tête non reconnu ({', '.join(h for h in header if h)[:200]}). Colonnes attendues "
            "pour Orange Money : Date, Heure, N° Transaction, Numéro expéditeur, Montant, Référence, Statut ; "
            "pour MTN MoMo : Id, Date, Status, From, Amount, Note."])
    columns = _which_column(layout, header)
    missing = [name for name in layout.required if name not in columns]
    if missing:
        raise StatementRefused([f"Ligne {header_line} : colonne(s) manquante(s) pour {OPERATORS[layout.operator]} : "
                                f"{', '.join(missing)}."])
    statement = Statement(layout.operator, file_name)
    problems: list[str] = []
    seen: dict[str, tuple[int, Transfer]] = {}
    count = 0
    for line_no, cells in rows:
        if not any(str(c if c is not None else "").strip() for c in cells):
            continue
        count += 1
        if count > MAX_LINES:
            raise StatementRefused([f"Plus de {MAX_LINES} lignes : découpez le relevé."])

        def cell(name: str) -> Any:
            index = columns.get(name)
            value = cells[index] if index is not None and index < len(cells) else None
            return value.strip() if isinstance(value, str) else value

        transfer, problem, aside = _transfer(layout, line_no, cell)
        if problem:
            problems.append(f"Ligne {line_no} : {problem}")
            continue
        if aside:
            statement.set_aside += 1
            continue
        earlier = seen.get(transfer.transaction_id)
        if earlier is not None:
            first_line, first = earlier
            if transfer.reversed and not first.reversed and transfer.amount == first.amount:
                statement.transfers.append(transfer)    # the export lists the transfer, then its reversal
            elif (first.amount, first.occurred_at, first.sender_phone, first.reversed) != \
                    (transfer.amount, transfer.occurred_at, transfer.sender_phone, transfer.reversed):
                problems.append(f"Ligne {line_no} : la transaction {transfer.transaction_id} figure déjà ligne "
                                f"{first_line} avec d'autres montant, date ou expéditeur.")
            continue
        seen[transfer.transaction_id] = (line_no, transfer)
        statement.transfers.append(transfer)
    if problems:
        raise StatementRefused(problems)
    return statement


def _transfer(layout: Layout, line_no: int, cell: Callable[[str], Any]) -> tuple[Transfer | None, str | None, bool]:
    """(transfer, problem, set aside) for one row."""
    transaction_id = str(cell("transaction_id") or "").strip()
    if isinstance(cell("transaction_id"), float) and cell("transaction_id").is_integer():
        transaction_id = str(int(cell("transaction_id")))   # Excel turns long numeric ids into numbers
    if not transaction_id:
        return None, "identifiant de transaction manquant.", False
    if len(transaction_id) > 64 or not re.fullmatch(r"[A-Za-z0-9._/-]+", transaction_id):
        return None, f"identifiant de transaction invalide ({transaction_id[:70]!r}).", False
    status = fold(cell("status"))
    kind = fold(cell("type"))
    amount = _amount(cell("amount"))
    if amount is None:
        return None, f"montant illisible ({str(cell('amount'))[:40]!r}) : un nombre entier de GNF est attendu.", False
    occurred_at = _moment(cell("date"), cell("time"))
    if occurred_at is None:
        return None, f"date illisible ({str(cell('date'))[:40]!r}).", False
    currency = fold(cell("currency"))
    if currency and currency not in ("gnf", "fg"):
        return None, f"devise {str(cell('currency'))[:10]!r} : seuls les relevés en GNF sont acceptés.", False
    is_reversed = layout.reversed(status)
    if not is_reversed and (not layout.received(status) or not layout.incoming_type(kind) or amount <= 0):
        return None, None, True     # a withdrawal, a fee, a failed or pending transfer: not money received
    if amount == 0:
        return None, "montant nul.", False
    amount = abs(amount)            # a reversal line may show the amount taken back as negative
    shown = str(cell("sender") or "").strip()
    if isinstance(cell("sender"), float) and cell("sender").is_integer():
        shown = str(int(cell("sender")))
    name = str(cell("sender_name") or "").strip() or None
    reference = str(cell("reference") or "").strip() or None
    return Transfer(line_no=line_no, transaction_id=transaction_id, occurred_at=occurred_at, amount=amount,
                    sender_shown=shown[:40] or None, sender_phone=national_phone(shown),
                    sender_name=name[:120] if name else None,
                    reference_text=reference[:200] if reference else None, reversed=is_reversed), None, False
