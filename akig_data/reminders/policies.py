"""What managers set for the reminders: per owner, whether they are on, the merchant number the messages
give, the share of leases held out to measure their effect; and the ladders (the default one, or an
owner's own). Every change is checked whole (a refusal changes nothing and says why in French) and audited
with what it was before.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from akig_data.access.scope import Principal
from akig_data.errors import AccessDenied, InvalidParameter
from akig_data.reminders import templates
from akig_data.runtime import get_runtime, write_transaction
from akig_data.writes import audit

MANAGERS = ("admin", "manager")
MAX_STEPS = 8
TABLES = ("reminder_policies", "reminder_steps")


@dataclass(frozen=True)
class Step:
    code: str
    label: str
    offset_days: int
    template: str


def _actor(who: Principal | None) -> tuple[str, str | None]:
    if who is None:
        return audit.cli_actor(), None
    if who.role not in MANAGERS:
        raise AccessDenied("Accès refusé : seuls les administrateurs et les responsables règlent les relances.")
    return who.username, who.role


def _owner(conn: sa.Connection, owner_ref: Any) -> int:
    if not isinstance(owner_ref, str) or not owner_ref.strip():
        raise InvalidParameter("owner_ref : le propriétaire est obligatoire.")
    owner_id = conn.execute(sa.text("SELECT id FROM owners WHERE owner_ref = :r"), {"r": owner_ref.strip()}).scalar()
    if owner_id is None:
        raise InvalidParameter(f"Propriétaire inconnu : {owner_ref!r}.")
    return owner_id


def policy(owner_ref: str) -> dict[str, Any]:
    """The owner's settings (defaults when he has none yet)."""
    with write_transaction() as conn:
        owner_id = _owner(conn, owner_ref)
        row = conn.execute(sa.text("SELECT enabled, merchant_number, holdout_share, updated_by, updated_at "
                                   "FROM reminder_policies WHERE owner_id = :o"), {"o": owner_id}).first()
        own_steps = conn.execute(sa.text("SELECT count(*) FROM reminder_steps WHERE owner_id = :o"),
                                 {"o": owner_id}).scalar()
    base = {"enabled": False, "merchant_number": None, "holdout_share": 0.0, "updated_by": None, "updated_at": None}
    if row is not None:
        base = dict(row._mapping) | {"holdout_share": round(float(row.holdout_share), 4)}
    return base | {"own_ladder": bool(own_steps)}


def set_policy(owner_ref: str, *, enabled: Any, merchant_number: Any = None, holdout_share: Any = 0.0,
               who: Principal | None = None, address: str | None = None) -> dict[str, Any]:
    """Switch an owner's reminders on or off, with his merchant number and held-out share."""
    actor, role = _actor(who)
    if not isinstance(enabled, bool):
        raise InvalidParameter("enabled : oui ou non.")
    number = (merchant_number or "").strip() if isinstance(merchant_number, (str, type(None))) else None
    if merchant_number is not None and not isinstance(merchant_number, str):
        raise InvalidParameter("Numéro marchand : texte attendu.")
    if number and not re.fullmatch(r"[0-9 +#*.-]{3,40}", number):
        raise InvalidParameter("Numéro marchand : chiffres, espaces, + # * - uniquement (40 caractères au plus).")
    if enabled and not number:
        raise InvalidParameter("Indiquez le numéro marchand mobile money avant d'activer les relances : les "
                               "messages disent où payer.")
    try:
        share = float(holdout_share)
    except (TypeError, ValueError):
        share = float("nan")
    if not 0.0 <= share <= 0.5:
        raise InvalidParameter("Part témoin : entre 0 et 50 % des baux.")
    runtime = get_runtime()
    with write_transaction() as conn:
        owner_id = _owner(conn, owner_ref)
        before = conn.execute(sa.text("SELECT enabled, merchant_number, holdout_share FROM reminder_policies "
                                      "WHERE owner_id = :o"), {"o": owner_id}).first()
        conn.execute(sa.text(
            "INSERT INTO reminder_policies (owner_id, enabled, merchant_number, holdout_share, updated_by, updated_at) "
            "VALUES (:o, :e, :m, :h, :by, now()) ON CONFLICT (owner_id) DO UPDATE SET enabled = :e, "
            "merchant_number = :m, holdout_share = :h, updated_by = :by, updated_at = now()"),
            {"o": owner_id, "e": enabled, "m": number or None, "h": share, "by": actor})
        audit.record(conn, actor=actor, role=role, address=address, action="reminder_policy", target=owner_ref.strip(),
                     details={"before": dict(before._mapping) if before else None,
                              "after": {"enabled": enabled, "merchant_number": number or None, "holdout_share": share}})
    runtime.memo.bump(TABLES)
    return policy(owner_ref)


def ladder(owner_ref: str | None = None) -> list[Step]:
    """The steps that apply to `owner_ref` (his own, else the default ladder); None: the default ladder."""
    with write_transaction() as conn:
        owner_id = _owner(conn, owner_ref) if owner_ref is not None else None
        rows = []
        if owner_id is not None:
            rows = conn.execute(sa.text("SELECT code, label, offset_days, template FROM reminder_steps "
                                        "WHERE owner_id = :o ORDER BY offset_days"), {"o": owner_id}).all()
        if not rows:
            rows = conn.execute(sa.text("SELECT code, label, offset_days, template FROM reminder_steps "
                                        "WHERE owner_id IS NULL ORDER BY offset_days")).all()
    return [Step(r.code, r.label, r.offset_days, r.template) for r in rows]


def _checked_steps(steps: Any) -> list[Step]:
    if not isinstance(steps, (list, tuple)) or not steps:
        raise InvalidParameter("L'échelle de relance doit avoir au moins une étape.")
    if len(steps) > MAX_STEPS:
        raise InvalidParameter(f"Au plus {MAX_STEPS} étapes.")
    checked: list[Step] = []
    for number, step in enumerate(steps, start=1):
        data = step.__dict__ if isinstance(step, Step) else step
        if not isinstance(data, dict):
            raise InvalidParameter(f"Étape {number} : illisible.")
        label = str(data.get("label") or "").strip()
        if not label or len(label) > 60:
            raise InvalidParameter(f"Étape {number} : un nom de 1 à 60 caractères est attendu.")
        offset = data.get("offset_days")
        if isinstance(offset, bool) or not isinstance(offset, int) or not -30 <= offset <= 90:
            raise InvalidParameter(f"Étape {number} : le décalage est un nombre de jours entre -30 et 90.")
        try:
            template = templates.check(data.get("template"))
        except InvalidParameter as exc:
            raise InvalidParameter(f"Étape {number} : {exc}") from None
        code = str(data.get("code") or "").strip() or f"j{'m' if offset < 0 else 'p'}{abs(offset)}"
        if not re.fullmatch(r"[a-z0-9_]{1,32}", code):
            raise InvalidParameter(f"Étape {number} : code invalide {code!r}.")
        checked.append(Step(code, label, offset, template))
    if len({s.offset_days for s in checked}) < len(checked):
        raise InvalidParameter("Deux étapes ont le même décalage : une seule relance par jour et par échéance.")
    if len({s.code for s in checked}) < len(checked):
        raise InvalidParameter("Deux étapes ont le même code.")
    return sorted(checked, key=lambda s: s.offset_days)


def save_ladder(owner_ref: str | None, steps: Any, *, who: Principal | None = None,
                address: str | None = None) -> list[Step]:
    """Replace the ladder of `owner_ref` (None: the default ladder) by `steps` (dicts or Steps: label,
    offset_days, template, optional code). Messages already planned keep their text."""
    actor, role = _actor(who)
    checked = _checked_steps(steps)
    runtime = get_runtime()
    with write_transaction() as conn:
        owner_id = _owner(conn, owner_ref) if owner_ref is not None else None
        before = [dict(r._mapping) for r in conn.execute(sa.text(
            "SELECT code, label, offset_days, template FROM reminder_steps WHERE owner_id IS NOT DISTINCT FROM :o "
            "ORDER BY offset_days"), {"o": owner_id})]
        conn.execute(sa.text("DELETE FROM reminder_steps WHERE owner_id IS NOT DISTINCT FROM :o"), {"o": owner_id})
        for step in checked:
            conn.execute(sa.text("INSERT INTO reminder_steps (owner_id, code, label, offset_days, template) "
                                 "VALUES (:o, :c, :l, :d, :t)"),
                         {"o": owner_id, "c": step.code, "l": step.label, "d": step.offset_days, "t": step.template})
        audit.record(conn, actor=actor, role=role, address=address, action="reminder_ladder",
                     target=owner_ref or "défaut", details={"before": before, "after": [s.__dict__ for s in checked]})
    runtime.memo.bump(TABLES)
    return checked


def reset_ladder(owner_ref: str, *, who: Principal | None = None, address: str | None = None) -> None:
    """The owner goes back to the default ladder (his own steps are removed); audited."""
    actor, role = _actor(who)
    runtime = get_runtime()
    with write_transaction() as conn:
        owner_id = _owner(conn, owner_ref)
        removed = conn.execute(sa.text("DELETE FROM reminder_steps WHERE owner_id = :o RETURNING code"),
                               {"o": owner_id}).scalars().all()
        audit.record(conn, actor=actor, role=role, address=address, action="reminder_ladder", target=owner_ref,
                     details={"reset_to_default": True, "removed": removed})
    runtime.memo.bump(TABLES)


def preview(owner_ref: str, lease_ref: str, steps: list[Step] | None = None, as_of: dt.date | None = None) -> pd.DataFrame:
    """Each step's message as the lease's tenant would read it, with his real name, his next (or oldest
    unpaid) due and the owner's merchant number: what a manager checks before saving a ladder."""
    from akig_data.clock import today

    as_of = as_of or today()
    steps = steps if steps is not None else ladder(owner_ref)
    with write_transaction() as conn:
        owner_id = _owner(conn, owner_ref)
        row = conn.execute(sa.text(
            "SELECT l.id, l.lease_ref, t.full_name, o.name AS owner_name, p.merchant_number, "
            "(SELECT d.due_date FROM lease_dues d LEFT JOIN lease_payment_totals pt ON pt.lease_id = d.lease_id "
            "  WHERE d.lease_id = l.id AND (d.cum_due > coalesce(pt.paid_total, 0) OR d.due_date >= :as_of) "
            "  ORDER BY d.mi LIMIT 1) AS due_date, "
            "(SELECT greatest(0, least(d.amount, d.cum_due - coalesce(pt.paid_total, 0))) FROM lease_dues d "
            "  LEFT JOIN lease_payment_totals pt ON pt.lease_id = d.lease_id WHERE d.lease_id = l.id "
            "  AND (d.cum_due > coalesce(pt.paid_total, 0) OR d.due_date >= :as_of) ORDER BY d.mi LIMIT 1) AS remaining, "
            "l.monthly_rent "
            "FROM leases l JOIN tenants t ON t.id = l.tenant_id JOIN owners o ON o.id = l.owner_id "
            "LEFT JOIN reminder_policies p ON p.owner_id = o.id WHERE l.lease_ref = :r AND l.owner_id = :o"),
            {"r": lease_ref, "o": owner_id, "as_of": as_of}).first()
    if row is None:
        raise InvalidParameter(f"Bail inconnu pour ce propriétaire : {lease_ref!r}.")
    fields = templates.values(tenant_name=row.full_name, remaining=int(row.remaining or row.monthly_rent),
                              due_date=row.due_date or as_of, merchant_number=row.merchant_number,
                              lease_ref=row.lease_ref, owner_name=row.owner_name)
    return pd.DataFrame([{"Étape": s.label, "Jour": f"J{s.offset_days:+d}" if s.offset_days else "J",
                          "Message": templates.render(s.template, fields),
                          "Caractères": len(templates.render(s.template, fields))} for s in steps])
