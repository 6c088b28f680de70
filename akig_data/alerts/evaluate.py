"""Evaluating the business alert rules (akig_data.alerts.rules) and keeping their alerts.

`evaluate(now)` runs every rule for the local day of `now`, in one transaction as akig_write: an object a
rule fires on gets an open alert (opened once, then its last_seen and detail follow), and an open alert
whose rule no longer fires on its object is resolved automatically. Each change is an alert_events row.
`acknowledge` records who acknowledged an alert, when, and his comment (kept in the history; the alert
stays open until its rule stops firing). The server runs `evaluate` every 5 minutes, in one process only
(akig_data.upkeep.claims).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from akig_data.writes import audit
from akig_data.observe import metrics
from akig_data.alerts.rules import RULES, Rule
from akig_data.clock import LOCAL_TZ
from akig_data.engine import translated_errors
from akig_data.errors import AccessDenied, InvalidParameter
from akig_data.upkeep.dues_horizon import ensure_dues_horizon
from akig_data.runtime import get_runtime
from akig_data.access.scope import Principal

ACKNOWLEDGERS = frozenset({"admin", "manager", "ops"})
COLUMNS = ["object_kind", "object_ref", "owner_ref", "detail", "value"]


@dataclass(frozen=True)
class Evaluation:
    opened: int
    kept: int
    resolved: int
    by_rule: dict[str, int]

    def __str__(self) -> str:
        return f"{self.opened} opened, {self.kept} still open, {self.resolved} resolved"


def _write(conn: sa.Connection) -> None:
    if get_runtime().settings.row_security:
        conn.execute(sa.text("SELECT set_config('role', 'akig_write', true)"))


def fired(rule: Rule, now: dt.datetime, conn: sa.Connection) -> pd.DataFrame:
    """The objects `rule` fires on at `now` (its local day is the rule's as_of)."""
    as_of = now.astimezone(dt.timezone.utc).astimezone(_tz()).date()
    if rule.compute is not None:
        return rule.compute(as_of, rule.current_threshold())[COLUMNS]
    rows = conn.execute(sa.text(rule.sql), {"as_of": as_of, "now": now, "threshold": rule.current_threshold()}).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=COLUMNS)


def _tz():
    from zoneinfo import ZoneInfo

    return ZoneInfo(LOCAL_TZ)


def evaluate(now: dt.datetime | None = None) -> Evaluation:
    now = now or dt.datetime.now(_tz())
    if now.tzinfo is None:
        raise InvalidParameter("now : le fuseau horaire est obligatoire.")
    runtime = get_runtime()
    ensure_dues_horizon(runtime, now.astimezone(_tz()).date() + dt.timedelta(days=31))
    opened = kept = resolved = 0
    by_rule: dict[str, int] = {}
    with translated_errors(), runtime.engine.begin() as conn:
        _write(conn)
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(1095520340)"))  # "ALRT": one evaluation at a time
        for rule in RULES:
            frame = fired(rule, now, conn)
            by_rule[rule.code] = len(frame)
            open_rows = {r.object_ref: r.id for r in conn.execute(sa.text(
                "SELECT id, object_ref FROM alerts WHERE rule = :r AND resolved_at IS NULL"), {"r": rule.code})}
            for row in frame.itertuples(index=False):
                value = None if pd.isna(row.value) else float(row.value)
                if row.object_ref in open_rows:
                    conn.execute(sa.text("UPDATE alerts SET last_seen = :now, detail = :d, value = :v WHERE id = :id"),
                                 {"now": now, "d": row.detail, "v": value, "id": open_rows.pop(row.object_ref)})
                    kept += 1
                    continue
                alert_id = conn.execute(sa.text(
                    "INSERT INTO alerts (rule, severity, object_kind, object_ref, owner_ref, title, detail, value,"
                    " first_seen, last_seen) VALUES (:rule, :sev, :kind, :ref, :owner, :title, :d, :v, :now, :now)"
                    " RETURNING id"),
                    {"rule": rule.code, "sev": rule.severity, "kind": row.object_kind, "ref": row.object_ref,
                     "owner": row.owner_ref, "title": rule.title, "d": row.detail, "v": value, "now": now}).scalar_one()
                conn.execute(sa.text("INSERT INTO alert_events (alert_id, at, kind) VALUES (:a, :now, 'opened')"),
                             {"a": alert_id, "now": now})
                opened += 1
            for alert_id in open_rows.values():   # the rule no longer fires on these objects
                conn.execute(sa.text("UPDATE alerts SET resolved_at = :now WHERE id = :id"), {"now": now, "id": alert_id})
                conn.execute(sa.text("INSERT INTO alert_events (alert_id, at, kind, comment) VALUES (:a, :now,"
                                     " 'resolved', 'résolue automatiquement : la règle ne se déclenche plus')"),
                             {"a": alert_id, "now": now})
                resolved += 1
    runtime.memo.bump(["alerts"])
    publish_gauges()
    return Evaluation(opened, kept, resolved, by_rule)


def publish_gauges() -> None:
    """The number of open alerts by rule and severity, for Prometheus (every rule has a value, 0 included,
    so that an alert rule on the metric sees it go back down)."""
    with translated_errors(), get_runtime().engine.begin() as conn:
        if get_runtime().settings.row_security:
            conn.execute(sa.text("SELECT set_config('role', 'akig_read_all', true)"))
        counts = {(r.rule, r.severity): r.n for r in conn.execute(sa.text(
            "SELECT rule, severity, count(*) AS n FROM alerts WHERE resolved_at IS NULL GROUP BY rule, severity"))}
    for rule in RULES:
        metrics.ALERTS_ACTIVE.labels(rule.code, rule.severity).set(counts.get((rule.code, rule.severity), 0))


def acknowledge(alert_id: int, comment: str, *, who: Principal | None = None, address: str | None = None,
                now: dt.datetime | None = None) -> None:
    if who is not None and who.role not in ACKNOWLEDGERS:
        raise AccessDenied("Accès refusé : seuls les responsables et l'exploitation prennent en compte les alertes.")
    if not isinstance(comment, str) or not comment.strip():
        raise InvalidParameter("comment : un commentaire est obligatoire pour prendre une alerte en compte.")
    if len(comment) > 1000:
        raise InvalidParameter("comment : au plus 1000 caractères.")
    now = now or dt.datetime.now(_tz())
    actor = who.username if who else audit.cli_actor()
    runtime = get_runtime()
    with translated_errors(), runtime.engine.begin() as conn:
        _write(conn)
        row = conn.execute(sa.text("SELECT id, resolved_at FROM alerts WHERE id = :id FOR UPDATE"), {"id": alert_id}).first()
        if row is None:
            raise InvalidParameter(f"Alerte inconnue : {alert_id}.")
        if row.resolved_at is not None:
            raise InvalidParameter("Cette alerte est déjà résolue.")
        conn.execute(sa.text("UPDATE alerts SET ack_by = :by, ack_at = :now, ack_comment = :c WHERE id = :id"),
                     {"by": actor, "now": now, "c": comment.strip(), "id": alert_id})
        conn.execute(sa.text("INSERT INTO alert_events (alert_id, at, kind, actor, comment) VALUES"
                             " (:a, :now, 'acknowledged', :by, :c)"),
                     {"a": alert_id, "now": now, "by": actor, "c": comment.strip()})
        audit.record(conn, actor=actor, role=who.role if who else None, address=address or ("cli" if who is None else None),
                     action="alert_acknowledge", target=str(alert_id), details={"comment": comment.strip()})
    runtime.memo.bump(["alerts"])


def history(alert_id: int) -> pd.DataFrame:
    with translated_errors(), get_runtime().engine.begin() as conn:
        if get_runtime().settings.row_security:
            conn.execute(sa.text("SELECT set_config('role', 'akig_read_all', true)"))
        rows = conn.execute(sa.text("SELECT at, kind, actor, comment FROM alert_events WHERE alert_id = :a ORDER BY at, id"),
                            {"a": alert_id}).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=["at", "kind", "actor", "comment"])
