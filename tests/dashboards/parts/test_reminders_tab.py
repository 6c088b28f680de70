"""The desk's "Relances SMS" tab without a browser: a manager switches an owner's reminders on, edits the
ladder with a preview on a real tenant, sees tomorrow's plan and today's messages, opts a number out;
refusals are French messages that change nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt

import panel as pn
import pytest

from akig_data import reads, runtime
from akig_data.access import scope
from akig_data.access.scope import Principal
from akig_data.clock import today
from akig_data.reminders import outbox, policies
from dashboards.apps.desk import Desk
from dashboards.parts.reminders import Reminders
from tests.serving import app_url

MANAGER = Principal("awa", "manager")


@pytest.fixture()
def as_manager(seeded):
    """As the server runs it: logged in as akig_app (no privilege of its own, row-level security on)."""
    runtime.configure(dataclasses.replace(seeded.settings, database_url=app_url(seeded.database_url)))
    scope.set_principal_resolver(lambda: MANAGER)
    yield runtime.get_runtime()
    scope.set_principal_resolver(None)


def test_switch_on_edit_the_ladder_and_see_tomorrow(as_manager):
    owner_ref = reads.arrears_by_lease()["owner_ref"].iloc[0]
    part = Reminders(owner_ref=owner_ref)
    assert not part.enabled.value and [e.offset.value for e in part.editors] == [-3, 1, 7, 15]
    part.enabled.value = True
    part.save_policy()
    assert part.notice.startswith("❌") and "numéro marchand" in part.notice
    assert not policies.policy(owner_ref)["enabled"]
    part.merchant.value, part.holdout.value = "+224 620 11 22 33", 10
    part.save_policy()
    assert part.notice.replace("\\", "").startswith("✅ Relances activées") and policies.policy(owner_ref)["enabled"]
    assert policies.policy(owner_ref)["holdout_share"] == pytest.approx(0.1)
    # the ladder: one step removed, one changed to an unknown variable (refused), then a good one
    part.editors[3].remove.value = True
    part.editors[0].template.value = "Bonjour {nom}"
    part.save_ladder()
    assert part.notice.startswith("❌") and "Variable inconnue" in part.notice.replace("\\", "")
    assert [s.offset_days for s in policies.ladder(owner_ref)] == [-3, 1, 7, 15]
    part.editors[0].template.value = "Bonjour {locataire}, {montant} dus le {echeance} : {marchand} ({reference})"
    preview = part.preview_pane()
    assert not isinstance(preview, pn.pane.Alert), preview.object
    messages = list(preview.value["Message"])
    assert len(messages) == 3 and "620 11 22 33" in messages[0] and "{" not in messages[0]
    part.save_ladder()
    assert [s.offset_days for s in policies.ladder(owner_ref)] == [-3, 1, 7]
    part.add_button.clicks += 1
    part.editors[-1].label.value, part.editors[-1].offset.value = "J+20", 20
    part.editors[-1].template.value = "{locataire} : {montant}"
    part.save_ladder()
    assert [s.offset_days for s in policies.ladder(owner_ref)] == [-3, 1, 7, 20]
    part.reset_ladder()
    assert [s.offset_days for s in policies.ladder(owner_ref)] == [-3, 1, 7, 15]
    tomorrow = part.tomorrow_frame()
    expected = reads.reminder_plan(day=today() + dt.timedelta(days=1), owner_ref=owner_ref)
    assert len(tomorrow) == len(expected)
    assert part.tomorrow_pane() is not None and part.today_pane() is not None


def test_todays_messages_and_opt_out(as_manager):
    owner_ref = reads.arrears_by_lease()["owner_ref"].iloc[0]
    policies.set_policy(owner_ref, enabled=True, merchant_number="620", who=MANAGER)
    day = today()
    planned = outbox.plan(day, now=dt.datetime.combine(day, dt.time(9), tzinfo=dt.timezone.utc))
    part = Reminders(owner_ref=owner_ref)
    frame = part.today_frame()
    assert len(frame) == planned.queued + planned.cancelled + planned.held_out
    if len(frame):
        assert set(frame["État"]) <= {"en file", "annulé", "groupe témoin"}
    part.optout_phone.value = "pas un numéro"
    part.opt_out()
    assert part.notice.startswith("❌")
    part.optout_phone.value = "00224 620 99 88 77"
    part.opt_out()
    assert "+224620998877" in part.notice.replace("\\", "") and part.optout_phone.value == ""


def test_the_tab_is_for_managers(as_manager):
    assert Desk().main()[1]._names[-2:] == ["Rapprochement", "Relances SMS"]
