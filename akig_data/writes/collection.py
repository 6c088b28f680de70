"""Recording the collection work: calls, visits, promises, payments.

Each command validates everything before it writes (a refused write changes nothing and says why in
French), runs in one transaction as the writing role (akig_write, sql/010) together with its audit
entry, then invalidates exactly the memoized reads that depend on the table it wrote. A client id
(sent by a phone that may retry) makes a write idempotent: the same id returns the first result.

Who may write: admins, managers and agents. An agent writes in his own name only, and on the leases of
his missions only (today's, tomorrow's and the last AKIG_AGENT_LEASE_DAYS days', the window in which he
may read their tenants' cards): any other lease is answered exactly like a lease that does not exist.
Owners, analysts and ops read.

A client id is looked up for its author only (recorded_by): a phone's retry gets its own first answer
back, and an id reused by someone else never returns another user's write or receipt.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from akig_data.writes import audit, missions
from akig_data.access import roles
from akig_data.clock import LOCAL_TZ
from akig_data.errors import AccessDenied, InvalidParameter
from akig_data.planning.solver import haversine_m
from akig_data.runtime import get_runtime, write_transaction
from akig_data.access.scope import Principal

TZ = ZoneInfo(LOCAL_TZ)
CALL_OUTCOMES = ("no_answer", "wrong_number", "reached", "refused", "promise", "paid")
VISIT_OUTCOMES = ("absent", "reached", "refused", "promise", "paid")
METHODS = ("cash", "orange_money", "mtn_momo", "bank")
PROOF_RADIUS_M = 200.0
MAX_SPEED_KMH = 120.0          # faster than a moto in Conakry traffic: the fix or the visit is wrong
MAX_AMOUNT = 10_000_000_000    # 10 billion GNF: beyond any rent; a typo guard
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")


@dataclass(frozen=True)
class Result:
    """What a write returns (and what the API sends back)."""

    kind: str
    ref: str
    duplicate: bool = False
    details: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "ref": self.ref, "duplicate": self.duplicate, **(self.details or {})}


# --- validation helpers -------------------------------------------------------------------------

def _now() -> dt.datetime:
    return dt.datetime.now(TZ)


def _when(value: Any, field: str) -> dt.datetime:
    """A timezone-aware moment; naive times and dates are refused (whose clock would they be?)."""
    if value is None:
        return _now()
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidParameter(f"{field} : date et heure invalides ({value!r}), format ISO 8601 attendu.") from None
    if not isinstance(value, dt.datetime):
        raise InvalidParameter(f"{field} : date et heure attendues.")
    if value.tzinfo is None:
        raise InvalidParameter(f"{field} : le fuseau horaire est obligatoire (ex. 2026-06-30T10:15:00+00:00).")
    if value > _now() + dt.timedelta(minutes=5):
        raise InvalidParameter(f"{field} : date dans le futur.")
    if value.year < 1990:
        raise InvalidParameter(f"{field} : date trop ancienne.")
    return value


def _date(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise InvalidParameter(f"{field} : une date sans heure est attendue.")
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidParameter(f"{field} : date invalide ({value!r}), format AAAA-MM-JJ attendu.") from None


def _amount(value: Any, field: str = "amount") -> int:
    """A whole number of GNF, above zero (money is integer GNF)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameter(f"{field} : un nombre entier de GNF est attendu (reçu {value!r}).")
    if value <= 0:
        raise InvalidParameter(f"{field} : le montant doit être supérieur à zéro.")
    if value > MAX_AMOUNT:
        raise InvalidParameter(f"{field} : {value} GNF dépasse le maximum accepté ({MAX_AMOUNT}).")
    return value


def _choice(value: Any, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise InvalidParameter(f"{field} : valeur inconnue {value!r} (valeurs : {', '.join(allowed)}).")
    return value


def _text(value: Any, field: str, limit: int = 2000) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise InvalidParameter(f"{field} : texte attendu.")
    if len(value) > limit:
        raise InvalidParameter(f"{field} : trop long ({len(value)} caractères, au plus {limit}).")
    return value.strip()


def _client_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _REF.match(value):
        raise InvalidParameter("client_id : 1 à 64 caractères (lettres, chiffres, . _ / -).")
    return value


def _writer(who: Principal | None, agent_ref: str | None) -> tuple[str, str | None]:
    """(actor name, the agent the action is credited to). An agent writes in his own name only."""
    if agent_ref is not None and not isinstance(agent_ref, str):
        raise InvalidParameter("agent_ref : texte attendu.")
    if who is None:
        return audit.cli_actor(), agent_ref
    if not roles.can_write_collection(who.role):
        raise AccessDenied(f"Accès refusé : le rôle {roles.ROLE_LABELS.get(who.role, who.role)} ne peut pas "
                           "enregistrer d'action de recouvrement.")
    if who.role == "agent":
        if agent_ref not in (None, who.agent_ref):
            raise AccessDenied("Accès refusé : un agent enregistre ses propres actions uniquement.")
        return who.username, who.agent_ref
    return who.username, agent_ref


class _Write:
    """One write transaction as akig_write, with the lookups every command needs."""

    def __init__(self, conn: sa.Connection, who: Principal | None, actor: str):
        self.conn = conn
        self.actor = actor
        # An agent's leases are those of his missions; admins, managers and the CLI write on any lease.
        self.agent_scope = who is not None and who.role == "agent"
        self.agent_ref = who.agent_ref if who is not None else None

    def lease(self, lease_ref: Any) -> sa.Row:
        """The lease, if this writer may write on it. One query and one message for a lease that does not
        exist and for one outside an agent's missions: the answer does not tell that it exists."""
        if not isinstance(lease_ref, str) or not lease_ref.strip():
            raise InvalidParameter("lease_ref : obligatoire.")
        row = self.conn.execute(sa.text(
            "SELECT l.id, l.lease_ref, l.tenant_id, l.start_date, l.end_date, s.lat, s.lon, s.site_ref "
            "FROM leases l JOIN sites s ON s.id = l.site_id WHERE l.lease_ref = :r "
            "AND (NOT CAST(:agent_scope AS boolean) OR l.id IN (SELECT lease_id FROM agent_mission_leases("
            "CAST(:agent AS text), CAST(:today AS date), CAST(:days AS integer))))"),
            {"r": lease_ref, "agent_scope": self.agent_scope, "agent": self.agent_ref, "today": _now().date(),
             "days": get_runtime().settings.agent_lease_days}).first()
        if row is None:
            raise InvalidParameter(f"Bail inconnu : {lease_ref!r}.")
        return row

    def agent_id(self, agent_ref: str | None) -> int | None:
        if agent_ref is None:
            return None
        row = self.conn.execute(sa.text("SELECT id, active FROM agents WHERE agent_ref = :r"), {"r": agent_ref}).first()
        if row is None:
            raise InvalidParameter(f"Agent inconnu : {agent_ref!r}.")
        if not row.active:
            raise InvalidParameter(f"L'agent {agent_ref} n'est plus actif.")
        return row.id

    def existing(self, table: str, ref_column: str, client_id: str | None) -> str | None:
        """The ref of this author's earlier write with this client id (never another author's)."""
        if client_id is None:
            return None
        return self.conn.execute(sa.text(f"SELECT {ref_column} FROM {table} WHERE client_id = :c "
                                         "AND recorded_by = :by"), {"c": client_id, "by": self.actor}).scalar()


def _transaction(action, tables: tuple[str, ...], who: Principal | None, actor: str):
    """Run `action(_Write)` in one transaction as akig_write; bump the memo of `tables` after commit."""
    runtime = get_runtime()
    with write_transaction() as conn:
        result = action(_Write(conn, who, actor))
    if not result.duplicate:
        runtime.memo.bump(tables)
    return result


def _new_ref(prefix: str) -> str:
    return f"{prefix}-{_now():%Y%m%d}-{uuid.uuid4().hex[:8].upper()}"


# --- the commands -------------------------------------------------------------------------------

def record_call(lease_ref: str, outcome: str, *, called_at: Any = None, note: Any = None, agent_ref: str | None = None,
                client_id: Any = None, who: Principal | None = None, address: str | None = None) -> Result:
    outcome = _choice(outcome, CALL_OUTCOMES, "outcome")
    when, note, client_id = _when(called_at, "called_at"), _text(note, "note"), _client_id(client_id)
    actor, agent_ref = _writer(who, agent_ref)
    if agent_ref is None:
        raise InvalidParameter("agent_ref : l'agent qui a appelé est obligatoire.")

    def write(w: _Write) -> Result:
        if (ref := w.existing("calls", "call_ref", client_id)) is not None:
            return Result("call", ref, duplicate=True)
        lease, agent_id = w.lease(lease_ref), w.agent_id(agent_ref)
        ref = _new_ref("APL")
        w.conn.execute(sa.text(
            "INSERT INTO calls (call_ref, lease_id, agent_id, called_at, outcome, note, client_id, recorded_by) "
            "VALUES (:ref, :lease, :agent, :at, :outcome, :note, :cid, :by)"),
            {"ref": ref, "lease": lease.id, "agent": agent_id, "at": when, "outcome": outcome, "note": note,
             "cid": client_id, "by": actor})
        missions.complete(w.conn, lease.id, agent_id, "call", when, outcome)
        audit.record(w.conn, actor=actor, role=who.role if who else None, address=address, action="call",
                     target=lease.lease_ref, details={"call_ref": ref, "outcome": outcome})
        return Result("call", ref)

    return _transaction(write, ("calls", "missions"), who, actor)


def record_visit(lease_ref: str, outcome: str, *, lat: Any, lon: Any, accuracy_m: Any = None, visited_at: Any = None,
                 note: Any = None, agent_ref: str | None = None, client_id: Any = None, who: Principal | None = None,
                 address: str | None = None) -> Result:
    """A visit is stored even far from the site, but flagged: no proof of presence beyond 200 m, and an
    impossible speed since the agent's previous fix or visit."""
    outcome = _choice(outcome, VISIT_OUTCOMES, "outcome")
    lat, lon = _coordinate(lat, "lat", 90), _coordinate(lon, "lon", 180)
    accuracy = None if accuracy_m is None else _coordinate(accuracy_m, "accuracy_m", 1e6)
    if accuracy is not None and accuracy < 0:
        raise InvalidParameter("accuracy_m : ne peut pas être négative.")
    when, note, client_id = _when(visited_at, "visited_at"), _text(note, "note"), _client_id(client_id)
    actor, agent_ref = _writer(who, agent_ref)
    if agent_ref is None:
        raise InvalidParameter("agent_ref : l'agent qui a visité est obligatoire.")

    def write(w: _Write) -> Result:
        if (ref := w.existing("visits", "visit_ref", client_id)) is not None:
            return Result("visit", ref, duplicate=True)
        lease, agent_id = w.lease(lease_ref), w.agent_id(agent_ref)
        flags: list[str] = []
        distance = haversine_m(lat, lon, lease.lat, lease.lon) if lease.lat is not None else None
        proof = distance is not None and distance <= PROOF_RADIUS_M
        if not proof:
            flags.append("far_from_site")
        previous = w.conn.execute(sa.text(
            "SELECT fix_at, lat, lon FROM ("
            "  SELECT t AS fix_at, lat, lon FROM agent_positions WHERE agent_id = :a AND t < :at"
            "  UNION ALL SELECT visited_at, lat, lon FROM visits WHERE agent_id = :a AND visited_at < :at AND lat IS NOT NULL"
            ") p ORDER BY fix_at DESC LIMIT 1"), {"a": agent_id, "at": when}).first()
        if previous is not None:
            hours = max((when - previous.fix_at).total_seconds(), 1) / 3600
            if haversine_m(lat, lon, previous.lat, previous.lon) / 1000 / hours > MAX_SPEED_KMH:
                flags.append("impossible_speed")
                proof = False
        ref = _new_ref("VIS")
        w.conn.execute(sa.text(
            "INSERT INTO visits (visit_ref, lease_id, agent_id, visited_at, outcome, lat, lon, accuracy_m, distance_m, "
            "note, client_id, proof, flags, recorded_by) VALUES (:ref, :lease, :agent, :at, :outcome, :lat, :lon, "
            ":acc, :dist, :note, :cid, :proof, :flags, :by)"),
            {"ref": ref, "lease": lease.id, "agent": agent_id, "at": when, "outcome": outcome, "lat": lat, "lon": lon,
             "acc": accuracy, "dist": distance, "note": note, "cid": client_id, "proof": proof, "flags": flags,
             "by": actor})
        missions.complete(w.conn, lease.id, agent_id, "visit", when, outcome)
        details = {"visit_ref": ref, "proof": proof, "flags": flags,
                   "distance_m": None if distance is None else round(distance)}
        audit.record(w.conn, actor=actor, role=who.role if who else None, address=address, action="visit",
                     target=lease.lease_ref, details={**details, "outcome": outcome})
        return Result("visit", ref, details=details)

    return _transaction(write, ("visits", "missions"), who, actor)


def _coordinate(value: Any, field: str, bound: float) -> float:
    if isinstance(value, bool):
        raise InvalidParameter(f"{field} : nombre attendu.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidParameter(f"{field} : nombre attendu (reçu {value!r}).") from None
    if not math.isfinite(number) or abs(number) > bound:
        raise InvalidParameter(f"{field} : hors limites (±{bound:g}).")
    return number


def record_promise(lease_ref: str, amount: Any, due_date: Any, *, agent_ref: str | None = None, client_id: Any = None,
                   who: Principal | None = None, address: str | None = None) -> Result:
    amount, due, client_id = _amount(amount), _date(due_date, "due_date"), _client_id(client_id)
    today = _now().date()
    if due < today:
        raise InvalidParameter(f"due_date : la date promise ({due:%d/%m/%Y}) est déjà passée.")
    if due > today + dt.timedelta(days=366):
        raise InvalidParameter("due_date : plus d'un an à l'avance, ce n'est pas une promesse de paiement.")
    actor, agent_ref = _writer(who, agent_ref)

    def write(w: _Write) -> Result:
        if (ref := w.existing("promises", "promise_ref", client_id)) is not None:
            return Result("promise", ref, duplicate=True)
        lease, agent_id = w.lease(lease_ref), w.agent_id(agent_ref)
        ref = _new_ref("PRO")
        w.conn.execute(sa.text(
            "INSERT INTO promises (promise_ref, lease_id, agent_id, created_at, due_date, amount, client_id, recorded_by) "
            "VALUES (:ref, :lease, :agent, now(), :due, :amount, :cid, :by)"),
            {"ref": ref, "lease": lease.id, "agent": agent_id, "due": due, "amount": amount, "cid": client_id,
             "by": actor})
        audit.record(w.conn, actor=actor, role=who.role if who else None, address=address, action="promise",
                     target=lease.lease_ref, details={"promise_ref": ref, "amount": amount, "due_date": due.isoformat()})
        return Result("promise", ref, details={"amount": amount, "due_date": due.isoformat()})

    return _transaction(write, ("promises",), who, actor)


def operator_payment_ref(method: str, reference: str) -> str:
    """The payment's reference for an operator's transaction: the same transaction booked twice (at the desk
    and from the merchant statement, or twice at the desk) meets the same reference."""
    return f"{method.upper()}-{reference}"


def book_payment(conn: sa.Connection, lease: sa.Row, *, amount: int, method: str, reference: str | None,
                 paid_at: dt.datetime, agent_id: int | None, actor: str, role: str | None, address: str | None,
                 client_id: str | None = None, audit_details: dict[str, Any] | None = None) -> tuple[str, str]:
    """Insert one checked payment with its receipt number and audit entry, inside the caller's transaction
    (as akig_write); returns (payment_ref, receipt_no). The desk's payments and the reconciled mobile-money
    transfers both go through here, so they get the same references, receipts and audit."""
    payment_ref = operator_payment_ref(method, reference) if reference else _new_ref("ESP")
    if conn.execute(sa.text("SELECT 1 FROM payments WHERE payment_ref = :r"), {"r": payment_ref}).first():
        raise InvalidParameter(f"Paiement déjà enregistré : la référence {reference!r} existe déjà.")
    number = conn.execute(sa.text("SELECT nextval('receipt_seq')")).scalar()
    receipt = f"REC-{paid_at.astimezone(TZ):%Y%m%d}-{number:06d}"
    conn.execute(sa.text(
        # owner_id: the lease's, which owners' row-level security on payments reads (sql/048)
        "INSERT INTO payments (payment_ref, lease_id, owner_id, paid_at, amount, method, agent_id, receipt_no,"
        " recorded_by, client_id) VALUES (:ref, :lease, (SELECT l.owner_id FROM leases l WHERE l.id = :lease), :at,"
        " :amount, :method, :agent, :receipt, :by, :cid)"),
        {"ref": payment_ref, "lease": lease.id, "at": paid_at, "amount": amount, "method": method, "agent": agent_id,
         "receipt": receipt, "by": actor, "cid": client_id})
    audit.record(conn, actor=actor, role=role, address=address, action="payment", target=lease.lease_ref,
                 details={"payment_ref": payment_ref, "amount": amount, "method": method, "receipt_no": receipt,
                          **(audit_details or {})})
    return payment_ref, receipt


def record_payment(lease_ref: str, amount: Any, method: Any, *, reference: Any = None, paid_at: Any = None,
                   agent_ref: str | None = None, client_id: Any = None, who: Principal | None = None,
                   address: str | None = None) -> Result:
    """A payment gets a receipt number. `reference` is the operator's transaction id (Orange Money,
    MTN MoMo, bank): the same reference twice is refused as a duplicate payment."""
    amount, method = _amount(amount), _choice(method, METHODS, "method")
    when, client_id = _when(paid_at, "paid_at"), _client_id(client_id)
    reference = _text(reference, "reference", 64)
    if method != "cash" and reference is None:
        raise InvalidParameter("reference : la référence de la transaction est obligatoire pour ce moyen de paiement.")
    actor, agent_ref = _writer(who, agent_ref)

    def write(w: _Write) -> Result:
        if client_id is not None:
            row = w.conn.execute(sa.text("SELECT payment_ref, receipt_no FROM payments "
                                         "WHERE client_id = :c AND recorded_by = :by"),
                                 {"c": client_id, "by": actor}).first()
            if row is not None:
                return Result("payment", row.payment_ref, duplicate=True, details={"receipt_no": row.receipt_no})
        lease, agent_id = w.lease(lease_ref), w.agent_id(agent_ref)
        if when.astimezone(TZ).date() < lease.start_date:
            raise InvalidParameter(f"paid_at : avant le début du bail ({lease.start_date:%d/%m/%Y}).")
        payment_ref, receipt = book_payment(w.conn, lease, amount=amount, method=method, reference=reference,
                                            paid_at=when, agent_id=agent_id, actor=actor,
                                            role=who.role if who else None, address=address, client_id=client_id)
        return Result("payment", payment_ref, details={"receipt_no": receipt, "amount": amount})

    return _transaction(write, ("payments",), who, actor)
