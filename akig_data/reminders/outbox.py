"""The reminders' outbox: plan the day's messages once, send each at most once, follow what the gateway
says of them.

* `plan(day)` turns the ladders (sql/043: reminder_candidates) into messages: one per (lease, due, step),
  inserted with ON CONFLICT DO NOTHING, so planning again, or from two processes, adds nothing. A lease in
  its owner's held-out share gets a `held_out` row (never sent, counted for the effect); a tenant without a
  usable phone or who opted out gets a `cancelled` row that says why.
* `send_due(now)` sends what is due, one message at a time: it claims the oldest queued message with
  `FOR UPDATE SKIP LOCKED` (two processes never claim the same one), checks it again (the due paid
  meanwhile: cancelled; the phone opted out: cancelled; the phone's daily cap reached: moved to the next
  morning), marks it `sending` and commits, then calls the gateway. So a message is sent at most once,
  whatever the number of processes; one whose process died in the call stays `sending` and is marked
  failed later rather than sent again. Nothing leaves during the quiet hours.
* Temporary failures (5xx, timeouts) are tried again after 1, 2, 4 … minutes, up to
  AKIG_REMINDER_MAX_ATTEMPTS; permanent ones (4xx) are failed at once. A message still queued 3 days after
  it was planned (the gateway down, the provider off) is dropped rather than sent out of its time.
* `record_delivery` (the gateway's delivery report) and `receive_reply` (a tenant's answer: STOP opts
  out for good) come from the webhooks; `opt_out` is also a manager's action.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from akig_data.access.scope import Principal
from akig_data.clock import TZ
from akig_data.errors import AccessDenied, InvalidParameter
from akig_data.reminders import templates
from akig_data.reminders.providers import Message, PermanentFailure, Provider, TemporaryFailure, provider_for
from akig_data.runtime import get_runtime, write_transaction
from akig_data.upkeep.dues_horizon import ensure_dues_horizon
from akig_data.writes import audit
from akig_data.writes.statement_formats import fold, national_phone

log = logging.getLogger(__name__)
TABLES = ("reminder_outbox",)
STOP_WORDS = {"stop", "arret", "arreter", "stopsms", "desabonner", "desinscrire"}
STALE_SENDING = dt.timedelta(minutes=15)
STALE_AFTER = dt.timedelta(days=3)     # a reminder not sent by then (gateway down, provider off) is dropped
MANAGERS = ("admin", "manager")


def e164(phone: Any) -> str | None:
    """The number as a gateway takes it: +224XXXXXXXXX for a Guinean number, E.164 for a foreign one."""
    national = national_phone(phone)
    if national is None:
        return None
    return national if national.startswith("+") else f"+224{national}"


def in_quiet_hours(moment: dt.datetime) -> bool:
    start, end = get_runtime().settings.reminder_quiet_hours
    clock = moment.astimezone(TZ).time()
    return (start <= clock or clock < end) if start > end else (start <= clock < end)


def quiet_end_after(moment: dt.datetime) -> dt.datetime:
    """The first moment from `moment` on outside the quiet hours."""
    if not in_quiet_hours(moment):
        return moment
    _, end = get_runtime().settings.reminder_quiet_hours
    local = moment.astimezone(TZ)
    candidate = dt.datetime.combine(local.date(), end, tzinfo=TZ)
    return candidate if candidate > local else candidate + dt.timedelta(days=1)


def next_morning(moment: dt.datetime) -> dt.datetime:
    """The end of the quiet hours on the day after `moment` (Conakry): when a capped phone may hear again."""
    _, end = get_runtime().settings.reminder_quiet_hours
    return dt.datetime.combine(moment.astimezone(TZ).date() + dt.timedelta(days=1), end, tzinfo=TZ)


# -- planning ------------------------------------------------------------------------------------------------
@dataclass
class PlanReport:
    day: dt.date
    queued: int = 0
    held_out: int = 0
    cancelled: int = 0
    already: int = 0

    def __str__(self) -> str:
        return (f"{self.day:%d/%m/%Y} : {self.queued} SMS en file, {self.held_out} retenus (groupe témoin), "
                f"{self.cancelled} annulés (sans numéro ou désinscrits), {self.already} déjà planifiés")


_INSERT = sa.text(
    "INSERT INTO reminder_outbox (lease_id, owner_id, due_mi, due_date, step_code, step_label, phone, body, status, "
    "reason, next_attempt_at) VALUES (:lease, :owner, :mi, :due, :code, :label, :phone, :body, :status, :reason, :at) "
    "ON CONFLICT (lease_id, due_mi, step_code) DO NOTHING RETURNING id")


def plan(day: dt.date | None = None, now: dt.datetime | None = None) -> PlanReport:
    """Queue the messages the ladders ask for on `day` (today by default); idempotent."""
    now = now or dt.datetime.now(TZ)
    day = day or now.astimezone(TZ).date()
    runtime = get_runtime()
    report = PlanReport(day)
    with write_transaction() as conn:   # most minutes of most installs: nothing to do
        if conn.execute(sa.text("SELECT 1 FROM reminder_policies WHERE enabled LIMIT 1")).first() is None:
            return report
    ensure_dues_horizon(runtime, day + dt.timedelta(days=31))   # a step may be up to 30 days before its due
    at = quiet_end_after(max(now, dt.datetime.combine(day, dt.time(), tzinfo=TZ)))
    with write_transaction() as conn:
        rows = conn.execute(sa.text("SELECT * FROM reminder_candidates(CAST(:d AS date))"), {"d": day}).all()
        opted_out = {r.phone for r in conn.execute(sa.text("SELECT phone FROM sms_optouts"))}
        for row in rows:
            phone = e164(row.phone)
            body = templates.render(row.template, templates.values(
                tenant_name=row.tenant_name, remaining=row.remaining, due_date=row.due_date,
                merchant_number=row.merchant_number, lease_ref=row.lease_ref, owner_name=row.owner_name))
            status, reason = "queued", None
            if row.held_out:
                status, reason = "held_out", "Bail du groupe témoin : pas de relance."
            elif phone is None:
                status, reason = "cancelled", "Pas de numéro de téléphone utilisable."
            elif phone in opted_out:
                status, reason = "cancelled", "Numéro désinscrit des relances."
            inserted = conn.execute(_INSERT, {
                "lease": row.lease_id, "owner": row.owner_id, "mi": row.due_mi, "due": row.due_date,
                "code": row.step_code, "label": row.step_label, "phone": phone, "body": body, "status": status,
                "reason": reason, "at": at}).scalar()
            if inserted is None:
                report.already += 1
            elif status == "queued":
                report.queued += 1
            elif status == "held_out":
                report.held_out += 1
            else:
                report.cancelled += 1
    if report.queued or report.held_out or report.cancelled:
        runtime.memo.bump(TABLES)
    return report


# -- sending -------------------------------------------------------------------------------------------------
@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    postponed: int = 0
    quiet: bool = False
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        if self.quiet:
            return "heures calmes : aucun envoi"
        return (f"{self.sent} envoyés, {self.retried} à réessayer, {self.failed} en échec, {self.cancelled} annulés "
                f"(payés ou désinscrits), {self.postponed} reportés (plafond du jour)")


def _claim(now: dt.datetime, report: SendReport, provider: Provider) -> sa.Row | None | bool:
    """Claim the next due message (committed as 'sending'); True when one was handled without sending
    (cancelled, postponed), None when nothing is due."""
    settings = get_runtime().settings
    with write_transaction() as conn:
        row = conn.execute(sa.text(
            "SELECT id, lease_id, due_mi, phone, body, attempts, created_at FROM reminder_outbox "
            "WHERE status = 'queued' AND next_attempt_at <= :now ORDER BY next_attempt_at, id "
            "LIMIT 1 FOR UPDATE SKIP LOCKED"), {"now": now}).first()
        if row is None:
            return None

        def cancel(reason: str) -> bool:
            conn.execute(sa.text("UPDATE reminder_outbox SET status = 'cancelled', reason = :r WHERE id = :id"),
                         {"r": reason, "id": row.id})
            report.cancelled += 1
            return True

        if now - row.created_at > STALE_AFTER:   # e.g. a J-3 courtesy that would arrive after the due date
            return cancel("Trop tard : relance non envoyée dans les 3 jours, abandonnée.")
        remaining = conn.execute(sa.text("SELECT reminder_due_remaining(:l, :m)"),
                                 {"l": row.lease_id, "m": row.due_mi}).scalar()
        if not remaining:
            return cancel("Échéance payée entre-temps : relance annulée.")
        # one phone at a time: the cap counts what the other processes are sending too
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('akig-sms:' || :p))"), {"p": row.phone})
        if conn.execute(sa.text("SELECT 1 FROM sms_optouts WHERE phone = :p"), {"p": row.phone}).first():
            return cancel("Numéro désinscrit des relances.")
        day_start = dt.datetime.combine(now.astimezone(TZ).date(), dt.time(), tzinfo=TZ)
        today = conn.execute(sa.text(
            "SELECT count(*) FROM reminder_outbox WHERE phone = :p AND sent_at >= :start "
            "AND status IN ('sending', 'sent', 'delivered')"), {"p": row.phone, "start": day_start}).scalar()
        if today >= settings.reminder_daily_cap:
            conn.execute(sa.text("UPDATE reminder_outbox SET next_attempt_at = :at, reason = :r WHERE id = :id"),
                         {"at": next_morning(now), "id": row.id,
                          "r": f"Plafond de {settings.reminder_daily_cap} SMS par jour atteint : reporté au lendemain."})
            report.postponed += 1
            return True
        conn.execute(sa.text(
            "UPDATE reminder_outbox SET status = 'sending', attempts = attempts + 1, sent_at = :now, provider = :prov "
            "WHERE id = :id"), {"now": now, "prov": provider.name, "id": row.id})
        return row


def send_due(now: dt.datetime | None = None, limit: int = 500, provider: Provider | None = None) -> SendReport:
    """Send the queued messages that are due (at most `limit`); see the module's docstring."""
    runtime = get_runtime()
    settings = runtime.settings
    now = now or dt.datetime.now(TZ)
    report = SendReport()
    with write_transaction() as conn:   # a process that died mid-call: never resent
        conn.execute(sa.text(
            "UPDATE reminder_outbox SET status = 'failed', reason = 'Envoi interrompu (processus arrêté) : non renvoyé "
            "pour ne pas doubler.' WHERE status = 'sending' AND sent_at < :before"), {"before": now - STALE_SENDING})
    if in_quiet_hours(now):
        report.quiet = True
        return report
    provider = provider or provider_for(settings)
    if provider is None:
        return report
    for _ in range(limit):
        claimed = _claim(now, report, provider)
        if claimed is None:
            break
        if claimed is True:
            continue
        row = claimed
        try:
            provider_id = provider.send(Message(row.id, row.phone, row.body))
        except TemporaryFailure as exc:
            attempts = row.attempts + 1
            final = attempts >= settings.reminder_max_attempts
            with write_transaction() as conn:
                conn.execute(sa.text(
                    "UPDATE reminder_outbox SET status = :s, sent_at = NULL, reason = :r, next_attempt_at = :at "
                    "WHERE id = :id AND status = 'sending'"),
                    {"s": "failed" if final else "queued", "r": str(exc)[:300], "id": row.id,
                     "at": now + dt.timedelta(minutes=2 ** (attempts - 1))})
            report.failed += final
            report.retried += not final
            report.errors.append(str(exc))
            continue
        except PermanentFailure as exc:
            with write_transaction() as conn:
                conn.execute(sa.text("UPDATE reminder_outbox SET status = 'failed', sent_at = NULL, reason = :r "
                                     "WHERE id = :id AND status = 'sending'"), {"r": str(exc)[:300], "id": row.id})
            report.failed += 1
            report.errors.append(str(exc))
            continue
        with write_transaction() as conn:
            conn.execute(sa.text("UPDATE reminder_outbox SET status = 'sent', provider_id = :pid, reason = NULL "
                                 "WHERE id = :id AND status = 'sending'"), {"pid": provider_id[:100], "id": row.id})
        report.sent += 1
    if report.sent or report.failed or report.cancelled or report.retried or report.postponed:
        runtime.memo.bump(TABLES)
    return report


# -- what comes back from the gateway ------------------------------------------------------------------------
DELIVERY_STATES = {"delivered": "delivered", "delivrd": "delivered", "success": "delivered", "failed": "failed",
                   "undelivered": "failed", "undeliv": "failed", "rejected": "failed", "expired": "failed"}


def record_delivery(provider_id: Any, state: Any, error: Any = None) -> bool:
    """A delivery report: the message the gateway calls `provider_id` was delivered (or not). False when no
    sent message has that id (a late or foreign report changes nothing)."""
    if not isinstance(provider_id, str) or not provider_id.strip() or len(provider_id) > 100:
        raise InvalidParameter("id : l'identifiant du message chez la passerelle est obligatoire.")
    status = DELIVERY_STATES.get(fold(state))
    if status is None:
        raise InvalidParameter(f"status : valeur inconnue {str(state)[:40]!r} (delivered, failed …).")
    runtime = get_runtime()
    with write_transaction() as conn:
        done = conn.execute(sa.text(
            "UPDATE reminder_outbox SET status = :s, delivered_at = CASE WHEN :s = 'delivered' THEN now() END, "
            "reason = CASE WHEN :s = 'failed' THEN :err ELSE reason END "
            "WHERE provider_id = :pid AND status IN ('sent', 'sending') RETURNING id"),
            {"s": status, "pid": provider_id.strip(), "err": f"Non distribué : {str(error or state)[:200]}"}).first()
    if done is not None:
        runtime.memo.bump(TABLES)
    return done is not None


def opt_out(phone: Any, *, source: str = "manager", note: Any = None, who: Principal | None = None,
            address: str | None = None) -> str:
    """Stop every reminder to `phone`, for good: the number is kept in sms_optouts and its queued messages
    are cancelled. A manager's action (or the gateway's STOP); audited. Returns the number as stored."""
    if who is not None and who.role not in MANAGERS:
        raise AccessDenied("Accès refusé : seuls les administrateurs et les responsables gèrent les désinscriptions.")
    number = e164(phone)
    if number is None:
        raise InvalidParameter(f"Numéro de téléphone invalide : {str(phone)[:40]!r}.")
    actor = who.username if who is not None else (f"sms:{number}" if source == "stop" else audit.cli_actor())
    runtime = get_runtime()
    with write_transaction() as conn:
        conn.execute(sa.text("INSERT INTO sms_optouts (phone, source, note, created_by) VALUES (:p, :s, :n, :by) "
                             "ON CONFLICT (phone) DO NOTHING"),
                     {"p": number, "s": source, "n": str(note)[:200] if note else None, "by": actor})
        cancelled = conn.execute(sa.text(
            "UPDATE reminder_outbox SET status = 'cancelled', reason = 'Numéro désinscrit des relances.' "
            "WHERE phone = :p AND status = 'queued'"), {"p": number}).rowcount
        audit.record(conn, actor=actor, role=who.role if who else None, address=address, action="sms_opt_out",
                     target=number, details={"source": source, "cancelled": cancelled})
    runtime.memo.bump(TABLES)
    return number


def receive_reply(phone: Any, text: Any) -> bool:
    """A tenant's SMS answer: STOP (ARRÊT, STOP SMS …) opts the number out; True when it did."""
    if fold(text) not in STOP_WORDS:
        return False
    opt_out(phone, source="stop", note=str(text)[:50])
    return True
