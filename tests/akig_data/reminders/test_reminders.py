"""SMS reminders against a real HTTP gateway the test starts: what is sent and how, retries on 5xx and not
on 4xx, delivery reports, quiet hours, paid dues cancelled, opt-out for good, the daily cap, held-out
leases, templates checked, and two processes sending the same day's ladder without a duplicate."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from akig_data import reads, runtime
from akig_data.access.scope import Principal, acting_as
from akig_data.clock import TZ
from akig_data.errors import AccessDenied, InvalidParameter
from akig_data.reminders import outbox, policies, templates
from akig_data.writes import audit, collection

MANAGER = Principal("awa", "manager")
TOKEN = "gateway-token-for-tests"
REPO = Path(__file__).resolve().parents[3]


class Gateway:
    """An SMS gateway on a free port: records every request, answers from a script (default 201 + id)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list[int] = []
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with gateway.lock:
                    gateway.requests.append({"body": body, "auth": self.headers.get("Authorization"),
                                             "type": self.headers.get("Content-Type")})
                    status = gateway.script.pop(0) if gateway.script else 201
                    number = len(gateway.requests)
                payload = {"id": f"gw-{number}"} if status < 300 else {"error": "refusé"}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def gateway(seeded):
    gw = Gateway()
    settings = dataclasses.replace(runtime.get_runtime().settings, sms_provider="http", sms_url=gw.url,
                                   sms_token=TOKEN, sms_sender="AKIG")
    runtime.configure(settings)
    yield gw
    gw.close()


@pytest.fixture()
def ladder_day(seeded):
    """An owner with reminders on (no held-out share), a ladder of one step (J+1, the default's text) and a
    day on which it finds 2 to 6 unpaid dues."""
    with seeded.engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT o.owner_ref, d.due_date, count(*) AS n FROM lease_dues d JOIN leases l ON l.id = d.lease_id "
            "JOIN owners o ON o.id = l.owner_id JOIN tenants t ON t.id = l.tenant_id "
            "LEFT JOIN lease_payment_totals pt ON pt.lease_id = l.id "
            "WHERE d.cum_due > coalesce(pt.paid_total, 0) AND t.phone IS NOT NULL AND d.due_date < DATE '2026-06-20' "
            "AND (l.end_date IS NULL OR d.due_date <= l.end_date) "
            "GROUP BY o.owner_ref, d.due_date HAVING count(*) BETWEEN 2 AND 6 ORDER BY d.due_date DESC, o.owner_ref "
            "LIMIT 1")).one()
    policies.set_policy(row.owner_ref, enabled=True, merchant_number="+224 620 00 00 01", who=MANAGER)
    policies.save_ladder(row.owner_ref, [{"code": "late_1", "label": "J+1 rappel", "offset_days": 1,
                                          "template": policies.ladder(None)[1].template}], who=MANAGER)
    return row.owner_ref, row.due_date + dt.timedelta(days=1), row.n


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=TZ)


def messages(rt) -> list:
    with rt.engine.connect() as conn:
        return conn.execute(sa.text("SELECT * FROM reminder_outbox ORDER BY id")).all()


def test_planning_twice_adds_nothing_and_the_text_has_the_tenants_values(seeded, ladder_day):
    owner_ref, day, n = ladder_day
    first = outbox.plan(day, now=at(day, 7))
    assert first.queued == n and first.held_out == 0
    again = outbox.plan(day, now=at(day, 9))
    assert (again.queued, again.already) == (0, n)
    rows = messages(seeded)
    assert len(rows) == n and {r.step_code for r in rows} == {"late_1"}
    assert all(r.next_attempt_at == at(day, 8) for r in rows)     # planned at 07:00, quiet until 08:00
    plan = reads.reminder_plan(day=day, owner_ref=owner_ref)
    first_row = plan.iloc[0]
    sent = next(r for r in rows if r.lease_id == first_row["lease_id"])
    assert first_row["tenant_name"] in sent.body and first_row["lease_ref"] in sent.body
    assert "+224 620 00 00 01" in sent.body and f"{first_row['due_date']:%d/%m/%Y}" in sent.body
    assert templates.gnf(first_row["remaining"]) in sent.body and sent.phone.startswith("+224")


def test_messages_are_posted_to_the_gateway_and_delivery_reports_follow(seeded, gateway, ladder_day):
    owner_ref, day, n = ladder_day
    outbox.plan(day, now=at(day, 10))
    report = outbox.send_due(now=at(day, 10, 5))
    assert report.sent == n and len(gateway.requests) == n
    request = gateway.requests[0]
    assert request["auth"] == f"Bearer {TOKEN}" and request["type"].startswith("application/json")
    assert set(request["body"]) == {"from", "to", "text", "reference"} and request["body"]["from"] == "AKIG"
    rows = messages(seeded)
    assert {r.status for r in rows} == {"sent"} and sorted(r.provider_id for r in rows) == sorted(
        f"gw-{i}" for i in range(1, n + 1))
    assert {r.body for r in rows} == {q["body"]["text"] for q in gateway.requests}
    assert outbox.record_delivery("gw-1", "DELIVRD") and outbox.record_delivery("gw-2", "undelivered", "absent")
    assert not outbox.record_delivery("gw-999", "delivered")
    with pytest.raises(InvalidParameter):
        outbox.record_delivery("gw-1", "maybe")
    states = {r.provider_id: r for r in messages(seeded)}
    assert states["gw-1"].status == "delivered" and states["gw-1"].delivered_at is not None
    assert states["gw-2"].status == "failed" and "absent" in states["gw-2"].reason
    today = reads.reminder_messages(day=day, owner_ref=owner_ref)
    assert len(today) == n and set(today["status"]) >= {"delivered", "failed"}
    assert outbox.send_due(now=at(day, 11)).sent == 0 and len(gateway.requests) == n   # nothing twice


def test_a_5xx_is_retried_later_and_a_4xx_is_not(seeded, gateway, ladder_day):
    owner_ref, day, n = ladder_day
    outbox.plan(day, now=at(day, 10))
    gateway.script = [503, 400]
    report = outbox.send_due(now=at(day, 10), limit=2)
    assert (report.retried, report.failed, report.sent) == (1, 1, 0)
    rows = messages(seeded)
    retry = next(r for r in rows if r.status == "queued" and r.attempts == 1)
    failed = next(r for r in rows if r.status == "failed")
    assert retry.next_attempt_at == at(day, 10, 1) and "503" in retry.reason
    assert "400" in failed.reason and failed.attempts == 1
    assert outbox.send_due(now=at(day, 10, 0)).sent == n - 2            # the retry waits its minute
    assert outbox.send_due(now=at(day, 10, 2)).sent == 1
    rows = {r.id: r for r in messages(seeded)}
    assert rows[retry.id].status == "sent" and rows[retry.id].attempts == 2
    assert rows[failed.id].status == "failed" and len(gateway.requests) == n + 1


def test_nothing_leaves_in_the_quiet_hours(seeded, gateway, ladder_day):
    _, day, n = ladder_day
    outbox.plan(day, now=at(day, 22))
    assert all(r.next_attempt_at == at(day + dt.timedelta(days=1), 8) for r in messages(seeded))
    assert outbox.send_due(now=at(day, 23)).quiet and outbox.send_due(now=at(day, 7, 59)).quiet
    assert outbox.send_due(now=at(day + dt.timedelta(days=1), 8)).sent == n and len(gateway.requests) == n


def test_a_due_paid_meanwhile_is_not_reminded(seeded, gateway, ladder_day):
    _, day, n = ladder_day
    outbox.plan(day, now=at(day, 9))
    target = messages(seeded)[0]
    with seeded.engine.connect() as conn:
        lease_ref, owed = conn.execute(sa.text(
            "SELECT l.lease_ref, d.cum_due - coalesce(pt.paid_total, 0) FROM leases l JOIN lease_dues d "
            "ON d.lease_id = l.id AND d.mi = :mi LEFT JOIN lease_payment_totals pt ON pt.lease_id = l.id "
            "WHERE l.id = :l"), {"l": target.lease_id, "mi": target.due_mi}).one()
    collection.record_payment(lease_ref, int(owed), "cash", who=MANAGER)
    report = outbox.send_due(now=at(day, 9, 30))
    assert report.cancelled == 1 and report.sent == n - 1
    row = next(r for r in messages(seeded) if r.id == target.id)
    assert row.status == "cancelled" and "payée" in row.reason
    assert target.phone not in [q["body"]["to"] for q in gateway.requests] or \
        sum(1 for r in messages(seeded) if r.phone == target.phone) > 1


def test_stop_opts_out_for_good(seeded, gateway, ladder_day):
    _, day, n = ladder_day
    outbox.plan(day, now=at(day, 9))
    target = messages(seeded)[0]
    assert not outbox.receive_reply(target.phone, "merci")
    assert outbox.receive_reply(target.phone.replace("+224", "00224"), " Stop ")
    assert outbox.send_due(now=at(day, 10)).sent == n - 1
    assert target.phone not in [q["body"]["to"] for q in gateway.requests]
    assert next(r for r in messages(seeded) if r.id == target.id).status == "cancelled"
    with seeded.engine.begin() as conn:   # the next step of the ladder, a week later: still nothing
        conn.execute(sa.text("DELETE FROM reminder_outbox WHERE id = :id"), {"id": target.id})
    outbox.plan(day, now=at(day, 11))
    again = next(r for r in messages(seeded) if r.lease_id == target.lease_id and r.due_mi == target.due_mi)
    assert again.status == "cancelled" and "désinscrit" in again.reason
    entry = audit.entries(limit=5, action="sms_opt_out").iloc[0]
    assert entry["actor"] == f"sms:{target.phone}" and entry["target"] == target.phone


def test_a_phone_gets_at_most_the_daily_cap(seeded, gateway, ladder_day):
    _, day, n = ladder_day
    outbox.plan(day, now=at(day, 9))
    rows = messages(seeded)
    with seeded.engine.begin() as conn:   # two tenants behind one phone (a family)
        conn.execute(sa.text("UPDATE reminder_outbox SET phone = :p WHERE id = :id"), {"p": rows[0].phone, "id": rows[1].id})
    report = outbox.send_due(now=at(day, 9, 30))
    assert report.postponed == 1 and report.sent == n - 1
    later = next(r for r in messages(seeded) if r.id == rows[1].id)
    assert later.status == "queued" and later.next_attempt_at == at(day + dt.timedelta(days=1), 8)
    assert outbox.send_due(now=at(day + dt.timedelta(days=1), 8, 1)).sent == 1


def test_held_out_leases_are_never_sent_and_the_effect_compares_both_groups(seeded, gateway, ladder_day):
    owner_ref, day, n = ladder_day
    policies.set_policy(owner_ref, enabled=True, merchant_number="620000001", holdout_share=0.5, who=MANAGER)
    with seeded.engine.begin() as conn:   # a salt that splits this day's leases into both groups
        for salt in range(200):
            conn.execute(sa.text("UPDATE reminder_policies SET holdout_salt = :s"), {"s": f"salt-{salt}"})
            held = conn.execute(sa.text("SELECT count(*) FILTER (WHERE held_out) FROM reminder_candidates(:d)"),
                                {"d": day}).scalar()
            if 0 < held < n:
                break
    planned = outbox.plan(day, now=at(day, 9))
    assert planned.held_out == held and planned.queued == n - held
    outbox.send_due(now=at(day, 9, 5))
    assert len(gateway.requests) == n - held
    effect = reads.reminder_effect(date_from=day - dt.timedelta(days=1), date_to=day - dt.timedelta(days=1),
                                   as_of=dt.date(2026, 6, 30), owner_ref=owner_ref).set_index("grp")
    assert int(effect.loc["held_out", "dues"]) == held and int(effect.loc["reminded", "dues"]) == n - held
    assert (effect["collection_rate"].between(0, 1)).all() and (effect["mean_days_late"] >= 0).all()
    with seeded.engine.connect() as conn:
        other = conn.execute(sa.text("SELECT owner_ref FROM owners WHERE owner_ref <> :o LIMIT 1"),
                             {"o": owner_ref}).scalar()
    with acting_as(Principal("b", "owner", owner_ref=other)):     # another owner sees none of it
        assert reads.reminder_effect(date_from=day - dt.timedelta(days=1), date_to=day - dt.timedelta(days=1),
                                     as_of=dt.date(2026, 6, 30)).empty


def test_templates_and_ladders_are_checked_and_audited(seeded, ladder_day):
    owner_ref, day, _ = ladder_day
    for bad, message in (("{nom}", "Variable inconnue"), ("{locataire.__class__}", "Variable inconnue"),
                         ("Bonjour {locataire", "Accolades"), ("x" * 481, "trop long"), ("  ", "vide"),
                         ("{montant!r}", "Variable inconnue")):
        with pytest.raises(InvalidParameter, match=message):
            templates.check(bad)
    steps = [{"label": "J-2 courtoisie", "offset_days": -2, "template": "Bonjour {locataire}, {montant} le {echeance}."},
             {"label": "J+3", "offset_days": 3, "template": "{locataire} : payez {montant} au {marchand} ({reference})."}]
    with pytest.raises(InvalidParameter, match="même décalage"):
        policies.save_ladder(owner_ref, [steps[0], steps[0] | {"code": "x"}], who=MANAGER)
    with pytest.raises(InvalidParameter, match="Étape 2"):
        policies.save_ladder(owner_ref, [steps[0], steps[1] | {"template": "{inconnu}"}], who=MANAGER)
    with pytest.raises(AccessDenied):
        policies.save_ladder(owner_ref, steps, who=Principal("o", "owner", owner_ref=owner_ref))
    saved = policies.save_ladder(owner_ref, steps, who=MANAGER)
    assert [s.offset_days for s in saved] == [-2, 3] and [s.offset_days for s in policies.ladder(owner_ref)] == [-2, 3]
    assert [s.offset_days for s in policies.ladder(None)] == [-3, 1, 7, 15]      # the default is untouched
    lease_ref = reads.reminder_plan(day=day, owner_ref=owner_ref)
    preview = policies.preview(owner_ref, reads.arrears_by_lease(owner_ref=owner_ref)["lease_ref"].iloc[0])
    assert list(preview["Jour"]) == ["J-2", "J+3"] and "620 00 00 01" in preview["Message"].iloc[1]
    assert lease_ref.empty                                                       # no J+1 step any more
    entry = audit.entries(limit=3, action="reminder_ladder").iloc[0]
    assert entry["target"] == owner_ref and '"offset_days": 1' in entry["details"]   # what it was before
    policies.reset_ladder(owner_ref, who=MANAGER)
    assert [s.offset_days for s in policies.ladder(owner_ref)] == [-3, 1, 7, 15]
    with pytest.raises(InvalidParameter, match="numéro marchand"):
        policies.set_policy(owner_ref, enabled=True, merchant_number="", who=MANAGER)
    with pytest.raises(InvalidParameter, match="Part témoin"):
        policies.set_policy(owner_ref, enabled=True, merchant_number="620", holdout_share=0.9, who=MANAGER)


def test_two_processes_send_the_same_days_ladder_without_a_duplicate(seeded, gateway, ladder_day):
    _, day, n = ladder_day
    now = dt.datetime.now(TZ)
    start, end = (now + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0), \
        (now + dt.timedelta(hours=3)).time().replace(second=0, microsecond=0)
    quiet = f"{start:%H:%M}-{end:%H:%M}"      # whatever the hour the suite runs at, now is not quiet
    runtime.configure(dataclasses.replace(runtime.get_runtime().settings, reminder_quiet_hours=(start, end)))
    outbox.plan(day, now=now - dt.timedelta(minutes=1))
    env = {**os.environ, "AKIG_DATABASE_URL": seeded.database_url, "AKIG_REDIS_URL": "off",
           "AKIG_SMS_PROVIDER": "http", "AKIG_SMS_URL": gateway.url, "AKIG_SMS_TOKEN": TOKEN,
           "AKIG_REMINDER_QUIET_HOURS": quiet, "AKIG_REMINDER_DAILY_CAP": "5"}
    command = [sys.executable, "-m", "akig_cli.main", "reminders", "send"]
    procs = [subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    ids = [q["body"]["reference"] for q in gateway.requests]
    assert len(ids) == n and len(set(ids)) == n
    assert {r.status for r in messages(seeded)} == {"sent"}


def test_a_reminder_not_sent_within_three_days_is_dropped(seeded, gateway, ladder_day):
    _, day, n = ladder_day
    outbox.plan(day, now=at(day, 9))
    later = at(dt.datetime.now(TZ).date() + dt.timedelta(days=4), 12)    # the gateway was off meanwhile
    report = outbox.send_due(now=later)
    assert (report.cancelled, report.sent) == (n, 0) and not gateway.requests
    assert all(r.status == "cancelled" and "Trop tard" in r.reason for r in messages(seeded))
