"""What the application's database roles may NOT do (sql/017_security_hardening.sql), each tried as the
role itself: the server logs in as akig_app and becomes akig_read_owner, akig_read_all or akig_write for a
transaction, exactly as these tests do.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

READ_ROLES = ("akig_read_owner", "akig_read_all")


def _as_app(database_url: str):
    return sa.create_engine(make_url(database_url).set(username="akig_app", password=None), poolclass=sa.pool.NullPool)


@pytest.fixture()
def app_engine(small_db):
    """The shared small data set, connected as akig_app (the login role of the server): for the refusals,
    which change nothing (a database of each test's own cost a second of copying, some 40 times)."""
    engine = _as_app(small_db)
    yield engine
    engine.dispose()


@pytest.fixture()
def own_app_engine(seeded):
    """The test's own database, connected as akig_app: for the tests that write or change the schema."""
    engine = _as_app(seeded.database_url)
    yield engine
    engine.dispose()


def _become(conn, role: str, owner_ref: str | None = None) -> None:
    conn.execute(sa.text("SELECT set_config('role', :r, true)"), {"r": role})
    if owner_ref is not None:
        conn.execute(sa.text("SELECT set_config('akig.owner_ref', :o, true)"), {"o": owner_ref})


def _refused(engine, role: str, statement: str) -> str:
    """Run `statement` as `role`; return PostgreSQL's refusal (the test fails if it is obeyed)."""
    with engine.connect() as conn:
        try:
            with conn.begin():
                _become(conn, role, "OWN-0001")
                conn.execute(sa.text(statement))
        except sa.exc.DBAPIError as exc:
            return str(exc.orig)
    pytest.fail(f"{role} was allowed: {statement}")


# --- SECURITY DEFINER functions --------------------------------------------------------------------

def test_every_security_definer_function_ends_its_search_path_with_pg_temp(seeded):
    with seeded.engine.connect() as conn:
        functions = conn.execute(sa.text(
            "SELECT p.oid::regprocedure::text AS name,"
            "       (SELECT c FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%') AS path"
            "  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'public' AND p.prosecdef")).all()
    assert len(functions) >= 20          # the catalog query finds them (008, 009, 015, 016)
    wrong = [(f.name, f.path) for f in functions
             if f.path is None or [s.strip() for s in f.path.split("=", 1)[1].split(",")][-1] != "pg_temp"]
    assert wrong == []


def test_a_callers_temporary_table_never_runs_with_the_owners_rights(own_app_engine):
    """The attack pg_temp-last prevents: akig_write may run prune_positions (the daily pruning); it
    creates a temporary table named agent_positions with a trigger of its own. Without pg_temp last,
    the function's DELETE went to that table and fired the trigger as the tables' owner."""
    with own_app_engine.connect() as conn, conn.begin():
        _become(conn, "akig_write")
        conn.execute(sa.text("CREATE TEMP TABLE agent_positions (t timestamptz)"))
        conn.execute(sa.text(
            "CREATE FUNCTION pg_temp.snoop() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM set_config('akig.ran_as', current_user, true); RETURN NULL; END $$"))
        conn.execute(sa.text("CREATE TRIGGER snoop BEFORE DELETE ON pg_temp.agent_positions "
                             "FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.snoop()"))
        conn.execute(sa.text("SELECT prune_positions('1990-01-01')"))
        assert conn.execute(sa.text("SELECT coalesce(current_setting('akig.ran_as', true), '')")).scalar() == ""


def test_no_security_definer_function_is_executable_by_everyone(seeded):
    with seeded.engine.connect() as conn:
        open_to_all = conn.execute(sa.text(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'public' AND p.prosecdef"
            "   AND (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a"
            "                                    WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))")).scalars().all()
    assert open_to_all == []


MAINTENANCE = [
    "SELECT extend_dues_horizon(current_date + 4000)",
    "SELECT lease_dues_rebuild(ARRAY(SELECT id FROM leases))",
    "SELECT lease_dues_refresh(ARRAY[1::bigint], NULL)",
    "SELECT ensure_payment_partitions(current_date + 400)",
    "SELECT ensure_position_partitions(current_date + 400)",
    "SELECT ensure_month_partitions('payments', 'paid_at', current_date + 400)",
    "SELECT prune_positions(now())",
    "SELECT lease_punctuality_refresh(ARRAY[1::bigint])",
    "SELECT promise_payments_refresh(ARRAY[1::bigint])",
    "SELECT lease_last_contact_refresh(ARRAY[1::bigint])",
    "SELECT due_paid_days_refresh(ARRAY[1::bigint])",
    "SELECT * FROM due_paid_days_expected(ARRAY[1::bigint])",
    "SELECT lease_paid_history_refresh(ARRAY[1::bigint])",
    "SELECT * FROM lease_paid_history_expected(ARRAY[1::bigint])",
]


@pytest.mark.parametrize("role", READ_ROLES)
@pytest.mark.parametrize("statement", MAINTENANCE)
def test_the_read_roles_cannot_run_maintenance_functions(app_engine, role, statement):
    assert "permission denied for function" in _refused(app_engine, role, statement)


@pytest.mark.parametrize("statement", [MAINTENANCE[0], MAINTENANCE[1], MAINTENANCE[5]])
def test_the_writing_role_runs_only_its_own_maintenance(app_engine, statement):
    assert "permission denied for function" in _refused(app_engine, "akig_write", statement)


def test_the_writes_still_keep_the_derived_tables_exact(seeded):
    """lease_dues_refresh lost its grant to PUBLIC: the payments' triggers, run as akig_write, still call it."""
    from akig_data.writes import collection
    from akig_data import reads
    from akig_data.access.scope import Principal

    lease = reads.arrears_by_lease(as_of="2026-06-30").sort_values("arrears").iloc[-1]["lease_ref"]
    collection.record_payment(lease, 50_000, "cash", agent_ref="AGT-001", who=Principal("awa", "manager"))
    with seeded.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM lease_dues_drift")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM lease_payment_totals_drift")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM site_month_totals_drift")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM lease_punctuality_drift")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM promise_payments_drift")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM lease_last_contact_drift")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM due_paid_days_drift")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM lease_paid_history_drift")).scalar() == 0


# --- tables the read roles may not read --------------------------------------------------------------

NOT_READS = {
    "login_sessions": READ_ROLES, "login_locks": READ_ROLES, "device_tokens": READ_ROLES,
    "lease_dues_drift": READ_ROLES, "lease_payment_totals_drift": READ_ROLES, "site_month_totals_drift": READ_ROLES,
    "lease_punctuality_drift": READ_ROLES, "lease_punctuality_expected": READ_ROLES,
    "promise_payments_drift": READ_ROLES, "promise_payments_expected": READ_ROLES,
    "lease_last_contact_drift": READ_ROLES, "lease_last_contact_expected": READ_ROLES,
    "due_paid_days_drift": READ_ROLES, "lease_paid_history_drift": READ_ROLES,
    "schema_migrations": READ_ROLES, "scheduled_runs": READ_ROLES, "dues_horizon": READ_ROLES,
    "agent_positions": ("akig_read_owner",), "alert_events": ("akig_read_owner",),
}


@pytest.mark.parametrize("table, role", [(t, r) for t, roles in NOT_READS.items() for r in roles])
def test_the_read_roles_cannot_read_what_is_not_a_read(app_engine, table, role):
    assert "permission denied" in _refused(app_engine, role, f"SELECT * FROM {table} LIMIT 1")


def test_no_partition_is_readable_directly(seeded, own_app_engine):
    with seeded.engine.connect() as conn:
        partitions = conn.execute(sa.text(
            "SELECT inhrelid::regclass::text FROM pg_inherits"
            " WHERE inhparent IN ('agent_positions'::regclass, 'payments'::regclass)")).scalars().all()
    assert any(p.startswith("agent_positions_") for p in partitions)
    for partition in partitions:
        for role in READ_ROLES + ("akig_write",):
            assert "permission denied" in _refused(own_app_engine, role, f"SELECT * FROM {partition} LIMIT 1")


def test_a_table_created_later_is_not_readable_until_granted(seeded, own_app_engine):
    """No default SELECT for the read roles: a future table without row security is not a leak."""
    with seeded.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE later_notes (owner_id bigint, note text)"))
    for role in READ_ROLES:
        assert "permission denied" in _refused(own_app_engine, role, "SELECT * FROM later_notes")


def test_an_owner_reads_his_alerts_only_even_without_a_filter(seeded, own_app_engine):
    with seeded.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO alerts (rule, severity, object_kind, object_ref, owner_ref, title, detail, first_seen,"
            " last_seen) VALUES ('r', 'info', 'site', 'S-A', 'OWN-0001', 't', 'd', now(), now()),"
            " ('r', 'info', 'site', 'S-B', 'OWN-0002', 't', 'd', now(), now()),"
            " ('r', 'info', 'agent', 'AGT-001', NULL, 't', 'd', now(), now())"))
    with own_app_engine.connect() as conn:
        with conn.begin():
            _become(conn, "akig_read_owner", "OWN-0001")
            assert conn.execute(sa.text("SELECT array_agg(object_ref) FROM alerts")).scalar() == ["S-A"]
        with conn.begin():
            _become(conn, "akig_read_owner")
            assert conn.execute(sa.text("SELECT count(*) FROM alerts")).scalar() == 0
        with conn.begin():
            _become(conn, "akig_read_all", "*")
            assert conn.execute(sa.text("SELECT count(*) FROM alerts")).scalar() == 3


def test_a_database_that_applied_018_before_017_keeps_its_login_tables_private(databases, tmp_path):
    """A database that ran the login tables' migration (018) before the hardening (017) landed got 008's
    default SELECT for the read roles on them; the later migrations take it back."""
    from akig_data import migrations

    early = tmp_path / "sql"
    early.mkdir()
    for migration in migrations.discover():
        if migration.version <= 16 or migration.version == 18:
            (early / migration.name).write_bytes(migration.path.read_bytes())
    name = databases.create("order")
    engine = sa.create_engine(databases.url(name), poolclass=sa.pool.NullPool)
    try:
        migrations.upgrade(engine, sql_dir=early)
        readable = "SELECT has_table_privilege(:r, 'login_sessions', 'SELECT')"
        with engine.connect() as conn:
            assert conn.execute(sa.text(readable), {"r": "akig_read_owner"}).scalar()   # what 018 left
        assert "017_security_hardening.sql" in migrations.upgrade(engine)
        with engine.connect() as conn:
            for role in READ_ROLES:
                for table in ("login_sessions", "login_locks"):
                    assert not conn.execute(sa.text(readable.replace("login_sessions", table)), {"r": role}).scalar()
    finally:
        engine.dispose()
        databases.drop(name)
