"""Mobile-money reconciliation: an owner's merchant statement in, payments booked to the right leases out,
and a review queue for the transfers a machine should not decide.

`import_statement` reads the statement (akig_data.writes.statement_formats: refused whole, with line
numbers, when a line cannot be read), matches each transfer among that owner's leases
(akig_data.writes.statement_matching) and, in one transaction as the writing role:

* records every transfer once in `statement_lines` (sql/042), unique per operator and transaction id: a
  transaction already imported, from this statement or an earlier one, books nothing again;
* books the sure matches as payments (method orange_money / mtn_momo, the transaction id as the operator's
  reference, the transfer's time as the payment's, a receipt number and an audit entry, as at the desk):
  the money rules then apply them to the oldest dues first, so one transfer may settle several months;
* links a transaction that was already entered at the desk with its reference, instead of booking it twice;
* takes back the payment of a transfer the operator reversed, when it had been booked;
* queues the rest for review, with candidate leases and the reason.

`confirm_line` (to a candidate or any other lease of the owner: a reassignment) and `reject_line` are the
manager's decisions on the queue, each audited. Only administrators and managers reconcile; a shell
command acts as its user.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from akig_data.access.scope import Principal
from akig_data.errors import AccessDenied, InvalidParameter
from akig_data.runtime import get_runtime, write_transaction
from akig_data.writes import audit
from akig_data.writes.collection import TZ, book_payment, operator_payment_ref
from akig_data.writes.statement_formats import OPERATORS, Statement, Transfer, read_statement
from akig_data.writes.statement_matching import LeaseDirectory, Match, lease_entries, match

RECONCILERS = ("admin", "manager")
TABLES = ("payments", "statement_lines")      # the memoized reads to refresh after a change


def gnf(amount: int) -> str:
    """1250000 -> "1 250 000 GNF" (narrow no-break spaces, as the apps show money)."""
    return f"{amount:,} GNF".replace(",", "\u202f")


@dataclass
class ImportSummary:
    """What an import did, for the desk and the shell (French labels in `lines()`)."""

    operator: str
    owner_ref: str
    file_name: str
    transfers: int = 0
    set_aside: int = 0
    booked: int = 0
    booked_amount: int = 0
    by_reference: int = 0
    by_phone: int = 0
    already_entered: int = 0
    to_review: int = 0
    duplicates: int = 0
    reversed: int = 0
    unbooked: list[str] = field(default_factory=list)   # payments taken back (reversed after booking)

    def lines(self) -> list[str]:
        return [
            f"Relevé {OPERATORS[self.operator]} « {self.file_name} » pour {self.owner_ref} : "
            f"{self.transfers} transfert(s) reçu(s), {self.set_aside} ligne(s) écartée(s) (pas un paiement reçu).",
            f"Enregistrés : {self.booked} paiement(s), {gnf(self.booked_amount)}"
            f" ({self.by_reference} par la référence du bail, {self.by_phone} par le numéro du locataire).",
            f"Déjà saisis au guichet : {self.already_entered} ; déjà importés : {self.duplicates} ; "
            f"annulés par l'opérateur : {self.reversed}"
            + (f" (dont {len(self.unbooked)} paiement(s) retiré(s) : {', '.join(self.unbooked)})" if self.unbooked else "")
            + ".",
            f"À vérifier : {self.to_review} transfert(s) dans la file de rapprochement.",
        ]


def _actor(who: Principal | None) -> tuple[str, str | None]:
    if who is None:
        return audit.cli_actor(), None
    if who.role not in RECONCILERS:
        raise AccessDenied("Accès refusé : seuls les administrateurs et les responsables rapprochent les relevés.")
    return who.username, who.role


def _owner_id(conn: sa.Connection, owner_ref: Any) -> int:
    if not isinstance(owner_ref, str) or not owner_ref.strip():
        raise InvalidParameter("owner_ref : le propriétaire du compte marchand est obligatoire.")
    owner_id = conn.execute(sa.text("SELECT id FROM owners WHERE owner_ref = :r"), {"r": owner_ref.strip()}).scalar()
    if owner_id is None:
        raise InvalidParameter(f"Propriétaire inconnu : {owner_ref!r}.")
    return owner_id


_OWNER_LEASES = sa.text(
    "SELECT l.id AS lease_id, l.lease_ref, t.phone, l.monthly_rent AS rent, l.start_date, l.end_date "
    "FROM leases l JOIN tenants t ON t.id = l.tenant_id WHERE l.owner_id = :owner ORDER BY l.id")
_LEASE = sa.text("SELECT id, lease_ref, start_date FROM leases WHERE id = :id")


def import_statement(source: Path | bytes, *, owner_ref: str, file_name: str | None = None,
                     operator: str | None = None, who: Principal | None = None,
                     address: str | None = None) -> ImportSummary:
    """Import one merchant statement of `owner_ref`'s account (see the module's docstring). Raises
    StatementRefused (nothing written) when a line cannot be read."""
    actor, role = _actor(who)
    statement = read_statement(source, file_name=file_name, operator=operator)
    data = source.read_bytes() if isinstance(source, Path) else source
    runtime = get_runtime()
    with write_transaction() as conn:
        owner_id = _owner_id(conn, owner_ref)
        directory = LeaseDirectory(lease_entries(conn.execute(_OWNER_LEASES, {"owner": owner_id})))
        import_id = conn.execute(sa.text(
            "INSERT INTO statement_imports (operator, owner_id, file_name, file_sha256, lines, imported_by) "
            "VALUES (:op, :owner, :name, :sha, :lines, :by) RETURNING id"),
            {"op": statement.operator, "owner": owner_id, "name": statement.file_name[:200],
             "sha": hashlib.sha256(data).hexdigest(), "lines": len(statement.transfers), "by": actor}).scalar()
        summary = ImportSummary(statement.operator, owner_ref.strip(), statement.file_name,
                                transfers=sum(not t.reversed for t in statement.transfers),
                                set_aside=statement.set_aside)
        for transfer in statement.transfers:
            _one(conn, statement, transfer, import_id, owner_id, directory, summary, actor, role, address)
        audit.record(conn, actor=actor, role=role, address=address, action="statement_import",
                     target=summary.owner_ref, details={
                         "operator": statement.operator, "file": statement.file_name[:200], "import_id": import_id,
                         "transfers": summary.transfers, "booked": summary.booked, "amount": summary.booked_amount,
                         "to_review": summary.to_review, "duplicates": summary.duplicates,
                         "reversed": summary.reversed, "unbooked": summary.unbooked})
    runtime.memo.bump(TABLES)
    return summary


def _one(conn: sa.Connection, statement: Statement, transfer: Transfer, import_id: int, owner_id: int,
         directory: LeaseDirectory, summary: ImportSummary, actor: str, role: str | None, address: str | None) -> None:
    existing = conn.execute(sa.text(
        "SELECT id, status, owner_id FROM statement_lines WHERE operator = :op AND transaction_id = :tx FOR UPDATE"),
        {"op": statement.operator, "tx": transfer.transaction_id}).first()
    if existing is not None:
        if transfer.reversed and existing.status in ("booked", "review"):
            taken_back = conn.execute(sa.text("SELECT unbook_statement_payment(:id)"), {"id": existing.id}).scalar()
            conn.execute(sa.text("UPDATE statement_lines SET status = 'reversed', reason = :why WHERE id = :id"),
                         {"id": existing.id, "why": "Transfert annulé par l'opérateur."})
            summary.reversed += 1
            if taken_back:
                summary.unbooked.append(taken_back)
                audit.record(conn, actor=actor, role=role, address=address, action="payment_reversed",
                             target=taken_back, details={"operator": statement.operator,
                                                         "transaction_id": transfer.transaction_id})
        elif transfer.reversed:
            summary.reversed += 1
        else:
            summary.duplicates += 1
        return
    values = {"import": import_id, "owner": owner_id, "op": statement.operator, "tx": transfer.transaction_id,
              "line": transfer.line_no, "at": transfer.occurred_at, "phone": transfer.sender_phone,
              "shown": transfer.sender_shown, "name": transfer.sender_name, "amount": transfer.amount,
              "ref": transfer.reference_text}
    insert = ("INSERT INTO statement_lines (import_id, owner_id, operator, transaction_id, line_no, occurred_at, "
              "sender_phone, sender_shown, sender_name, amount, reference_text, status, match_rule, lease_id, "
              "payment_ref, candidates, reason) VALUES (:import, :owner, :op, :tx, :line, :at, :phone, :shown, :name, "
              ":amount, :ref, :status, :rule, :lease, :payment, :candidates, :reason) "
              "ON CONFLICT (operator, transaction_id) DO NOTHING RETURNING id")
    if transfer.reversed:       # cancelled before it was ever imported: kept, never booked
        conn.execute(sa.text(insert), {**values, "status": "reversed", "rule": None, "lease": None, "payment": None,
                                       "candidates": [], "reason": "Transfert annulé par l'opérateur."})
        summary.reversed += 1
        return
    payment_ref = operator_payment_ref(statement.operator, transfer.transaction_id)
    entered = conn.execute(sa.text("SELECT lease_id FROM payments WHERE payment_ref = :r"), {"r": payment_ref}).first()
    found = match(transfer, directory)
    if entered is not None:
        outcome = {"status": "booked", "rule": "existing", "lease": entered.lease_id, "payment": payment_ref,
                   "candidates": [], "reason": None}
    elif found.sure and transfer.occurred_at.astimezone(TZ).date() < found.lease.start_date:
        outcome = _review(Match(None, None, (found.lease,), f"Le transfert est antérieur au début du bail "
                                                            f"{found.lease.lease_ref} ({found.lease.start_date:%d/%m/%Y})."))
    elif found.sure:
        outcome = {"status": "booked", "rule": found.rule, "lease": found.lease.lease_id, "payment": payment_ref,
                   "candidates": [], "reason": None}
    else:
        outcome = _review(found)
    line_id = conn.execute(sa.text(insert), {**values, **outcome}).scalar()
    if line_id is None:          # another import took this transaction a moment ago
        summary.duplicates += 1
        return
    if outcome["status"] == "booked" and outcome["rule"] != "existing":
        lease = conn.execute(_LEASE, {"id": outcome["lease"]}).one()
        book_payment(conn, lease, amount=transfer.amount, method=statement.operator,
                     reference=transfer.transaction_id, paid_at=transfer.occurred_at, agent_id=None, actor=actor,
                     role=role, address=address, audit_details={"matched_by": outcome["rule"], "statement_line": line_id})
        summary.booked += 1
        summary.booked_amount += transfer.amount
        summary.by_reference += outcome["rule"] == "reference"
        summary.by_phone += outcome["rule"] == "phone"
    elif outcome["status"] == "booked":
        summary.already_entered += 1
    else:
        summary.to_review += 1


def _review(found: Match) -> dict[str, Any]:
    return {"status": "review", "rule": None, "lease": None, "payment": None,
            "candidates": [lease.lease_id for lease in found.candidates], "reason": found.reason}


# -- the manager's decisions on the review queue -------------------------------------------------------------
def _line_for_decision(conn: sa.Connection, line_id: Any) -> sa.Row:
    if isinstance(line_id, bool) or not isinstance(line_id, int):
        raise InvalidParameter("line_id : un numéro de ligne de relevé est attendu.")
    line = conn.execute(sa.text(
        "SELECT sl.*, o.owner_ref FROM statement_lines sl JOIN owners o ON o.id = sl.owner_id "
        "WHERE sl.id = :id FOR UPDATE OF sl"), {"id": line_id}).first()
    if line is None:
        raise InvalidParameter(f"Ligne de relevé inconnue : {line_id}.")
    if line.status != "review":
        shown = {"booked": "déjà enregistrée", "rejected": "déjà rejetée", "reversed": "annulée par l'opérateur"}
        raise InvalidParameter(f"Cette ligne est {shown.get(line.status, line.status)} : plus rien à décider.")
    return line


def confirm_line(line_id: int, lease_ref: str, *, who: Principal | None = None, address: str | None = None) -> str:
    """Book a queued transfer to `lease_ref` (one of its candidates, or any other lease of the same owner:
    a reassignment); returns the payment's reference. Audited with the candidates it was offered."""
    actor, role = _actor(who)
    if not isinstance(lease_ref, str) or not lease_ref.strip():
        raise InvalidParameter("Choisissez le bail auquel attribuer ce transfert.")
    runtime = get_runtime()
    with write_transaction() as conn:
        line = _line_for_decision(conn, line_id)
        lease = conn.execute(sa.text("SELECT id, lease_ref, start_date, owner_id FROM leases WHERE lease_ref = :r"),
                             {"r": lease_ref.strip()}).first()
        if lease is None or lease.owner_id != line.owner_id:
            raise InvalidParameter(f"Bail inconnu pour le propriétaire {line.owner_ref} : {lease_ref!r}.")
        if line.occurred_at.astimezone(TZ).date() < lease.start_date:
            raise InvalidParameter(f"Le transfert du {line.occurred_at.astimezone(TZ):%d/%m/%Y} est antérieur au début "
                                   f"du bail {lease.lease_ref} ({lease.start_date:%d/%m/%Y}).")
        payment_ref = operator_payment_ref(line.operator, line.transaction_id)
        entered = conn.execute(sa.text("SELECT lease_id FROM payments WHERE payment_ref = :r"), {"r": payment_ref}).first()
        if entered is not None and entered.lease_id != lease.id:
            raise InvalidParameter(f"Ce transfert a déjà été saisi au guichet sur un autre bail ({payment_ref}).")
        if entered is None:
            book_payment(conn, lease, amount=line.amount, method=line.operator, reference=line.transaction_id,
                         paid_at=line.occurred_at, agent_id=None, actor=actor, role=role, address=address,
                         audit_details={"matched_by": "manual", "statement_line": line.id})
        conn.execute(sa.text(
            "UPDATE statement_lines SET status = 'booked', match_rule = 'manual', lease_id = :lease, "
            "payment_ref = :payment, decided_by = :by, decided_at = now() WHERE id = :id"),
            {"lease": lease.id, "payment": payment_ref, "by": actor, "id": line.id})
        candidates = [r.lease_ref for r in conn.execute(sa.text(
            "SELECT lease_ref FROM leases WHERE id = ANY(:ids)"), {"ids": list(line.candidates)})]
        audit.record(conn, actor=actor, role=role, address=address, action="statement_confirm",
                     target=lease.lease_ref, details={
                         "line_id": line.id, "operator": line.operator, "transaction_id": line.transaction_id,
                         "amount": line.amount, "candidates": candidates,
                         "reassigned": lease.lease_ref not in candidates, "payment_ref": payment_ref})
    runtime.memo.bump(TABLES)
    return payment_ref


def reject_line(line_id: int, reason: Any, *, who: Principal | None = None, address: str | None = None) -> None:
    """Set a queued transfer aside for good (not rent: a gift, a wrong transfer refunded by hand …); the
    reason is required and audited."""
    actor, role = _actor(who)
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidParameter("Indiquez pourquoi ce transfert est rejeté.")
    if len(reason) > 500:
        raise InvalidParameter("Motif trop long (500 caractères au plus).")
    runtime = get_runtime()
    with write_transaction() as conn:
        line = _line_for_decision(conn, line_id)
        conn.execute(sa.text("UPDATE statement_lines SET status = 'rejected', reason = :why, decided_by = :by, "
                             "decided_at = now() WHERE id = :id"), {"why": reason.strip(), "by": actor, "id": line.id})
        audit.record(conn, actor=actor, role=role, address=address, action="statement_reject",
                     target=line.owner_ref, details={"line_id": line.id, "operator": line.operator,
                                                     "transaction_id": line.transaction_id, "amount": line.amount,
                                                     "reason": reason.strip()})
    runtime.memo.bump(TABLES)

