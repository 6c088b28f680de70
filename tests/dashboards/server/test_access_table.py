"""The access table (docs/reference/access.md), walked cell by cell: each role × each app, read, export and endpoint;
then owner isolation from every side (reads over HTTP cold and warm, pages, exports)."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import panel as pn
import pytest

from akig_data import reads
from akig_data.access import roles, scope
from akig_data.errors import AccessDenied
from akig_data.access.scope import Principal
from dashboards import catalog
from dashboards.parts import downloads as exports
from dashboards.server import app as server
from tests.conftest import SMALL_UNTIL
from tests.serving import TEST_USERS, session_cookie
from tests.dashboards.server.test_security_http import get

ACCESS_PAGE = Path(__file__).resolve().parents[3] / "docs" / "reference" / "access.md"
USER_OF_ROLE = {role: name for name, (role, _) in TEST_USERS.items() if name != "t-owner2"}
PRINCIPALS = {
    "admin": Principal("t-admin", "admin"), "manager": Principal("t-manager", "manager"),
    "owner": Principal("t-owner", "owner", owner_ref="OWN-0001"), "agent": Principal("t-agent", "agent", agent_ref="AGT-001"),
    "analyst": Principal("t-analyst", "analyst"), "ops": Principal("t-ops", "ops"),
}


@pytest.fixture()
def acting():
    """Run in-process code as a given principal (what the server's resolver does for a session)."""
    def act(who):
        scope.set_principal_resolver(lambda: who)
    yield act
    scope.set_principal_resolver(None)


def test_the_access_page_shows_the_access_table_of_the_code():
    assert roles.markdown_table() in ACCESS_PAGE.read_text(encoding="utf-8"), (
        "docs/reference/access.md is stale: run `python docs/generate.py`")


def _refused(page) -> bool:
    """The page's main area (one column) starts with the refusal."""
    first = page.main[0].objects[0] if len(page.main) and len(page.main[0].objects) else None
    return isinstance(first, pn.pane.Alert) and "Accès refusé" in first.object


@pytest.mark.parametrize("role", roles.ROLES)
def test_apps_open_exactly_for_the_roles_of_the_table(small_data, acting, role):
    acting(PRINCIPALS[role])
    for entry in catalog.entries():
        page = server.guarded_factory(entry)()
        assert _refused(page) != roles.can_open(role, entry.path), (role, entry.path)


def test_without_a_principal_no_app_is_served(small_data, acting):
    acting(None)
    assert all(_refused(server.guarded_factory(entry)()) for entry in catalog.entries())


def _read_params(name: str) -> dict:
    """Minimal parameters for each read, with OWN-0001's refs (readable by every role that may read)."""

    sites = reads.sites(owner_ref="OWN-0001")
    leases = reads.arrears_by_lease(as_of=SMALL_UNTIL, owner_ref="OWN-0001")
    params = {}
    for p in reads.get(name).params:
        if p.name in ("as_of", "date_to"):
            params[p.name] = SMALL_UNTIL.isoformat()
        elif p.name == "date_from":
            params[p.name] = SMALL_UNTIL.replace(day=1).isoformat()
        elif p.name == "site_ref" and p.required:
            params[p.name] = sites["site_ref"].iloc[0]
        elif p.name == "tenant_ref":
            params[p.name] = leases.sort_values("arrears")["tenant_ref"].iloc[-1]
        elif p.name == "q":
            params[p.name] = "Diallo"
        elif p.name == "agent_ref" and p.required:
            params[p.name] = "AGT-001"
    return params


@pytest.mark.parametrize("role", roles.ROLES)
def test_reads_over_http_follow_the_table(served, small_data, role):

    cookie = session_cookie(served, USER_OF_ROLE[role])
    for spec in reads.all_reads():
        query = urllib.parse.urlencode(_read_params(spec.name))
        status, _, body = get(f"{served}/api/reads/{spec.name}?{query}", cookie=cookie)
        expected = 200 if roles.can_read(role, spec.name) else 403
        if role == "agent" and spec.name in roles.AGENT_TENANT_READS:
            expected = 400  # allowed only for the tenants of his missions: this one is unknown to him
        assert status == expected, (role, spec.name, body[:200])
        if status == 403:
            assert "Accès refusé" in json.loads(body)["error"]


@pytest.mark.parametrize("role", roles.ROLES)
def test_exports_follow_the_table(small_data, acting, role):
    import pandas as pd

    acting(PRINCIPALS[role])
    buttons = exports.export_buttons(lambda: pd.DataFrame({"a": [1]}), "essai")
    assert (len(buttons) == 2) == roles.can_export(role)
    if roles.can_export(role):
        exports.audited_export("essai", "csv", 1)
    else:
        with pytest.raises(AccessDenied):
            exports.audited_export("essai", "csv", 1)


@pytest.mark.parametrize("role", roles.ROLES)
def test_endpoints_follow_the_table(served, role):
    cookie = session_cookie(served, USER_OF_ROLE[role])
    assert get(served + "/api/health")[0] == 200
    status, _, body = get(served + "/api/me", cookie=cookie)
    assert status == 200 and json.loads(body)["role"] == role
    assert get(served + "/metrics", cookie=cookie)[0] == 401  # a session is not the metrics token


def test_ops_never_sees_tenant_contact_details():
    assert not roles.shows_contact_details("ops")
    assert not roles.readable("ops") & roles.TENANT_READS


# --- owner isolation from every side ------------------------------------------------------------

@pytest.fixture(scope="module")
def refs_of_b(small_db, redis_url):
    """OWN-0002's site, tenant and lease (a tenant with no lease of OWN-0001)."""
    from akig_data import runtime
    from tests.conftest import settings_for

    runtime.configure(settings_for(small_db, redis_url))
    try:
        leases = reads.arrears_by_lease(as_of=SMALL_UNTIL)
        a_tenants = set(leases[leases["owner_ref"] == "OWN-0001"]["tenant_ref"])
        b = leases[(leases["owner_ref"] == "OWN-0002") & ~leases["tenant_ref"].isin(a_tenants)]
        sites = reads.sites(owner_ref="OWN-0002")
        return {"site_ref": sites["site_ref"].iloc[0], "tenant_ref": b.sort_values("arrears")["tenant_ref"].iloc[-1],
                "lease_ref": b["lease_ref"].iloc[0]}
    finally:
        runtime.reset()


def _owners_in(rows: list[dict], site_owner: dict[str, str]) -> set[str]:
    found = {r["owner_ref"] for r in rows if r.get("owner_ref")}
    found |= {site_owner[r["site_ref"]] for r in rows if r.get("site_ref") in site_owner}
    return found


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "filled-by-admin"])
def test_owner_a_over_http_sees_only_a_and_never_b(served, small_data, refs_of_b, warm):

    site_owner = dict(zip(reads.sites()["site_ref"], reads.sites()["owner_ref"]))
    admin, owner = session_cookie(served, "t-admin"), session_cookie(served, "t-owner")
    for spec in reads.all_reads():
        if not roles.can_read("owner", spec.name):
            continue
        params = _read_params(spec.name)
        hostile = [params | {"owner_ref": "OWN-0002"}]
        names = {p.name for p in spec.params}
        for key in ("site_ref", "tenant_ref"):
            if key in names:
                hostile.append(params | {key: refs_of_b[key]})
        if warm:  # an admin fills the cache with exactly these calls first
            for q in [params, *hostile]:
                get(f"{served}/api/reads/{spec.name}?{urllib.parse.urlencode(q)}", cookie=admin)
        status, _, body = get(f"{served}/api/reads/{spec.name}?{urllib.parse.urlencode(params)}", cookie=owner)
        assert status == 200, (spec.name, body[:200])
        assert _owners_in(json.loads(body)["rows"], site_owner) <= {"OWN-0001"}, spec.name
        for q in hostile:
            status, _, body = get(f"{served}/api/reads/{spec.name}?{urllib.parse.urlencode(q)}", cookie=owner)
            assert status == 400 and "inconnu" in json.loads(body)["error"], (spec.name, q, body[:200])
            assert "OWN-0002" not in body.replace("Propriétaire inconnu : OWN-0002", "")


def test_the_owner_dashboard_is_pinned_to_its_owner(small_data, acting):
    from dashboards.apps.owner import OwnerDashboard

    acting(PRINCIPALS["owner"])
    board = OwnerDashboard(owner_ref="OWN-0002", as_of=SMALL_UNTIL)  # as a shared URL would ask
    assert board.owner_ref == "OWN-0001"
    board.owner_ref = "OWN-0002"
    assert board.owner_ref == "OWN-0001"
    mine = set(reads.sites(owner_ref="OWN-0001")["site_name"])
    for frame in (board.sites_frame(), board.late_frame()):
        names = set(frame["Site"]) if "Site" in frame else set()
        assert names <= mine
    filters = board._filters()
    assert filters[0].disabled and list(filters[0].options.values()) == ["OWN-0001"]


def test_an_owner_page_never_shows_another_owners_tenant(served, browser, small_data, refs_of_b):
    from tests.dashboards.server.test_server import open_app

    b_name = reads.tenant_card(tenant_ref=refs_of_b["tenant_ref"], as_of=SMALL_UNTIL)["full_name"][0]
    page, problems = open_app(browser, f"{served}/proprietaire?date={SMALL_UNTIL.isoformat()}"
                                       f"&proprietaire=OWN-0002&locataire={refs_of_b['tenant_ref']}", user="t-owner")
    page.wait_for_selector(".akig-kpi-value", timeout=30_000)
    page.get_by_text("Fiche locataire", exact=True).first.click()
    page.wait_for_timeout(2500)
    assert page.get_by_text(b_name).count() == 0
    assert page.get_by_text("OWN-0002").count() == 0
    page.close()
