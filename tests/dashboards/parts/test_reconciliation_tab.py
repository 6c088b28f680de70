"""The desk's "Rapprochement" tab without a browser: a manager imports a statement, sees the summary and
the review queue, attributes one transfer to a candidate, rejects another; refusals are French messages
that change nothing; text from the statement is escaped where it is shown."""

from __future__ import annotations

import dataclasses

import panel as pn
import pytest
import sqlalchemy as sa

from akig_data import reads, runtime
from akig_data.access import scope
from akig_data.access.scope import Principal
from dashboards.apps.desk import Desk
from dashboards.parts.reconciliation import Reconciliation
from tests.serving import app_url

MANAGER = Principal("awa", "manager")


@pytest.fixture()
def as_manager(seeded):
    """As the server runs it: logged in as akig_app (no privilege of its own, row-level security on)."""
    engine = seeded.engine
    runtime.configure(dataclasses.replace(seeded.settings, database_url=app_url(seeded.database_url)))
    scope.set_principal_resolver(lambda: MANAGER)
    yield engine
    scope.set_principal_resolver(None)


def owner_and_lease(engine):
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT o.owner_ref, l.lease_ref, l.monthly_rent FROM leases l JOIN owners o ON o.id = l.owner_id "
            "WHERE l.end_date IS NULL AND l.start_date < DATE '2026-01-01' ORDER BY l.id LIMIT 1")).one()


def test_import_then_clear_the_queue(as_manager):
    owner_ref, lease_ref, rent = owner_and_lease(as_manager)
    booked = []
    part = Reconciliation(on_booked=lambda: booked.append(1), owner_ref=owner_ref)
    part.import_file()
    assert "Choisissez d'abord le fichier" in part.notice
    part.file.filename = "om.csv"
    part.file.value = ("Date;Heure;N° Transaction;Numéro expéditeur;Nom expéditeur;Montant;Référence;Statut\n"
                       f"29/06/2026;10:00;OMT1;+224 699 00 00 01;A;{rent};{lease_ref};Succès\n"
                       f"29/06/2026;10:05;OMT2;+224 699 00 00 02;<b>B*</b>;{rent};loyer;Succès\n"
                       f"29/06/2026;10:07;OMT3;+224 699 00 00 03;C;777;rien;Succès\n").encode()
    part.import_file()
    shown = part.notice.replace("\\", "")     # the notice is escaped Markdown
    assert shown.startswith("✅") and "Enregistrés : 1 paiement(s)" in shown
    assert "À vérifier : 2 transfert(s)" in shown and booked == [1] and part.file.value is None
    frame = part.queue_frame()
    assert set(frame["transaction_id"]) == {"OMT2", "OMT3"}
    queue = part.queue_pane()
    assert "2 transfert(s)" in queue[0].object
    row = list(frame["transaction_id"]).index("OMT2")
    part.pick(frame, row)
    assert part.lease_choice.value == frame.iloc[row]["candidate_refs"][0]
    assert "Transfert OMT2" in part.decision_pane(part.picked)[0].object
    part.other_lease.value = "LEASE-NOPE"
    part.confirm()
    assert part.notice.startswith("❌") and "Bail inconnu" in part.notice and part.picked
    part.other_lease.value = ""
    part.lease_choice.value = lease_ref
    part.confirm()
    assert part.notice.replace("\\", "").startswith("✅ Transfert OMT2 attribué") and not part.picked and booked == [1, 1]
    frame = part.queue_frame()
    part.pick(frame, 0)
    part.reject()
    assert "pourquoi" in part.notice
    part.reject_reason.value = "Erreur d'envoi remboursée"
    part.reject()
    assert part.notice.replace("\\", "") == "✅ Transfert OMT3 rejeté."
    assert part.queue_frame().empty and "Aucun transfert à vérifier" in part.queue_pane().object
    booked_pane = part.booked_pane()
    assert len(booked_pane[1].value) == 2
    assert set(reads.statement_lines(status=None, owner_ref=owner_ref)["status"]) == {"booked", "rejected"}
    assert part.__panel__() is not None


def test_a_refused_statement_shows_its_lines_and_escapes_them(as_manager):
    owner_ref, lease_ref, rent = owner_and_lease(as_manager)
    part = Reconciliation(owner_ref=owner_ref)
    part.file.filename = "om.csv"
    part.file.value = ("Date;Heure;N° Transaction;Numéro expéditeur;Montant;Référence;Statut\n"
                       "29/06/2026;10:00;OMX;+224 699 00 00 01;[clic](javascript:alert(1));x;Succès\n").encode()
    part.import_file()
    assert part.notice.startswith("❌") and "Ligne 2" in part.notice
    assert "](javascript" not in part.notice and part.import_button.loading is False
    assert reads.statement_lines(status=None).empty


def test_the_tab_is_for_managers_only(as_manager):
    tabs = Desk().main()[1]
    assert "Rapprochement" in tabs._names
    scope.set_principal_resolver(lambda: Principal("fode", "agent", agent_ref="AGT-001"))
    assert not any(isinstance(part, pn.Tabs) for part in Desk().main())
