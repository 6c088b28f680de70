"""The admin's audit page without a browser: the table shows the trail, filters narrow it, the button
verifies the chain and says so in French."""

from __future__ import annotations

import panel as pn
import sqlalchemy as sa

from akig_data.writes import audit
from dashboards.apps.audit import AuditPage


def test_table_filters_and_chain_check(fresh_db):
    for actor, action in (("awa", "login"), ("awa", "export"), ("moussa", "login_failed")):
        audit.record(actor=actor, action=action, address="10.0.0.1")
    page = AuditPage()
    table = page.table()
    assert isinstance(table, pn.widgets.Tabulator) and len(table.value) == 3
    assert list(table.value["Qui"]) == ["moussa", "awa", "awa"]  # newest first
    page.actor = "awa"
    assert len(page.table().value) == 2
    page.action = "export"
    assert len(page.table().value) == 1
    page.actor = "nobody"
    assert isinstance(page.table(), pn.pane.Alert)
    page.verify()
    assert page.checked.startswith("✅ Chaîne intacte : 3 entrées")
    with fresh_db.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        conn.execute(sa.text("UPDATE audit_log SET address = '10.9.9.9' WHERE actor = 'moussa'"))
    page.verify()
    assert page.checked.startswith("❌ Chaîne rompue après 2 entrées")
    assert page.__panel__() is not None
