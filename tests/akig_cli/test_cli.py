"""The `akig` command, run in-process with typer's runner against a real test database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from akig_cli.main import app
from tests.akig_data.writes.test_importer import write_folder
from tests.conftest import SMALL_UNTIL

runner = CliRunner()


@pytest.fixture()
def cli_env(fresh_db, monkeypatch):
    s = fresh_db.settings
    monkeypatch.setenv("AKIG_DATABASE_URL", s.database_url)
    monkeypatch.setenv("AKIG_REDIS_URL", s.redis_url)
    monkeypatch.setenv("AKIG_CACHE_PREFIX", s.cache_prefix)
    return fresh_db


def run(*args: str):
    return runner.invoke(app, list(args))


# Every command, in the order `akig --help` and each group's help list them (one module per group in akig_cli).
COMMANDS = {
    "": ["import", "query", "serve", "db", "demo", "users", "audit", "tenant", "missions", "report", "simulate",
         "positions", "model", "reminders"],
    "db": ["init", "status"], "demo": ["seed", "up"],
    "users": ["add", "passwd", "disable", "enable", "list", "totp", "token", "devices"], "audit": ["verify", "show"],
    "tenant": ["export", "erase"], "missions": ["generate"], "report": ["daily", "folder"], "simulate": ["agents"],
    "positions": ["prune"], "model": ["train", "backtest", "score", "show"],
    "reminders": ["plan", "send", "optout", "enable"],
}


def test_the_command_tree():
    import typer.main

    root = typer.main.get_command(app)
    assert list(root.commands) == COMMANDS[""]
    groups = {name: list(command.commands) for name, command in root.commands.items() if hasattr(command, "commands")}
    assert groups == {name: commands for name, commands in COMMANDS.items() if name}


@pytest.mark.parametrize(
    "args",
    [[]] + [[group] for group in COMMANDS if group] + [[name] for name in COMMANDS[""] if name not in COMMANDS]
    + [[group, name] for group, names in COMMANDS.items() if group for name in names],
)
def test_every_command_has_help(args):
    result = run(*args, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    listed = COMMANDS.get(args[0] if len(args) == 1 else "" if not args else None)
    if listed:   # a group's help lists its commands
        assert all(f" {name} " in result.output for name in listed), result.output


def test_db_init_is_idempotent(cli_env):
    result = run("db", "init")
    assert result.exit_code == 0 and "already up to date" in result.output
    status = run("db", "status")
    assert status.exit_code == 0 and "applied  001_schema.sql" in status.output and "pending" not in status.output


def test_import_reports_counts_then_nothing_new(cli_env, tmp_path):
    folder = write_folder(tmp_path / "data")
    first = run("import", str(folder))
    assert first.exit_code == 0, first.output
    assert "payments           3 rows: 3 new, 0 updated, 0 unchanged" in first.output
    second = run("import", str(folder))
    assert "payments           3 rows: 0 new, 0 updated, 3 unchanged" in second.output


def test_import_failure_lists_problems_and_exits_1(cli_env, tmp_path):
    bad = "payment_ref,lease_ref,paid_at,amount,method\nP1,L1,2026-01-05,-5000,cash\nP2,L1,2026-01-05,x,cash\n"
    result = run("import", str(write_folder(tmp_path / "bad", payments=bad)))
    assert result.exit_code == 1
    assert 'payments.csv line 2: amount must be a positive integer (got "-5000")' in result.output
    assert 'payments.csv line 3: amount must be a positive integer (got "x")' in result.output
    assert "2 problem(s); nothing was imported." in result.output


def test_demo_seed_and_queries(cli_env):
    seeded = run("demo", "seed", "--scale", "small", "--until", SMALL_UNTIL.isoformat())
    assert seeded.exit_code == 0, seeded.output
    assert "payments" in seeded.output
    again = run("demo", "seed", "--scale", "small")
    assert again.exit_code == 1 and "--reset" in again.output

    listing = run("query", "--list")
    assert "site_kpis(date_from: date" in listing.output and "portfolio_summary(as_of: date" in listing.output

    as_json = run("query", "portfolio_summary", f"as_of={SMALL_UNTIL}", "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    row = json.loads(as_json.output)[0]
    assert isinstance(row["arrears"], int) and isinstance(row["collection_rate"], float)
    assert row["month_start"] == "2026-06-01" and row["owner_ref"] is None

    sites = json.loads(run("query", "site_kpis", "from=2026-06-01", "to=2026-06-30", "owner_ref=OWN-0001",
                           "-f", "json").output)
    assert sites and {s["owner_ref"] for s in sites} == {"OWN-0001"}
    assert all(0 <= s["punctuality_rate"] <= 1 for s in sites if s["punctuality_rate"] is not None)

    as_csv = run("query", "arrears_by_lease", f"as_of={SMALL_UNTIL}", "--format", "csv")
    header, first = as_csv.output.splitlines()[:2]
    assert header.startswith("lease_ref,tenant_ref,unit_ref,site_ref,owner_ref,arrears,credit")
    assert first.split(",")[5].isdigit()

    table = run("query", "good_payers", f"as_of={SMALL_UNTIL}")
    assert table.exit_code == 0 and "badge" in table.output

    found = json.loads(run("query", "search_tenants", "q=Dialo", "-f", "json").output)
    assert found and all("diallo" in t["full_name"].lower() or "dialo" in t["full_name"].lower() for t in found)


@pytest.mark.parametrize(
    "args, message",
    [
        (["query", "arrears_by_site", "as_of=2026-13-01"], "as_of must be a date"),
        (["query", "arrears_by_site", "as_of"], "parameters are key=value"),
        (["query", "arrears_by_planet"], "unknown read"),
        (["query", "arrears_by_site", "owner_ref=NOPE"], "Propriétaire inconnu : NOPE"),
    ],
)
def test_query_refusals_exit_2(cli_env, args, message):
    result = run(*args)
    assert result.exit_code == 2 and message in result.output


def test_demo_seed_refuses_a_bad_date(cli_env):
    result = run("demo", "seed", "--until", "hier")
    assert result.exit_code == 1 and "--until must be a date" in result.output


def test_unreachable_database_is_a_clear_message(monkeypatch):
    monkeypatch.setenv("AKIG_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/akig")
    monkeypatch.setenv("AKIG_REDIS_URL", "off")
    result = run("db", "init")
    assert result.exit_code == 1
    assert "PostgreSQL does not answer at postgresql+psycopg://postgres@127.0.0.1:1/akig" in result.output


def test_a_wrong_setting_stops_a_command_with_its_message(monkeypatch):
    """Checked before anything is opened: exit 1 with the French message naming the variable."""
    monkeypatch.setenv("AKIG_CACHE_TTL", "15m")
    monkeypatch.setenv("AKIG_ENV", "prod")
    result = run("db", "status")
    assert result.exit_code == 1
    assert "AKIG_CACHE_TTL attend un nombre entier de secondes d'au moins 1 (reçu '15m')." in result.output
    assert "AKIG_ENV attend development ou production (reçu 'prod')." in result.output


def test_installed_entry_point_runs():
    akig = Path(sys.executable).parent / "akig"
    result = subprocess.run([str(akig), "query", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "key=value" in result.stdout


def test_users_audit_and_tenant_commands(cli_env, tmp_path):
    import pyotp

    from akig_data.writes import users

    assert run("demo", "seed", "--scale", "small", "--until", SMALL_UNTIL.isoformat()).exit_code == 0
    result = runner.invoke(app, ["users", "add", "kadi", "--role", "owner", "--owner", "OWN-0001"],
                           input="Kadi-password-9\nKadi-password-9\n")
    assert result.exit_code == 0 and "created kadi (owner)" in result.output
    assert "Kadi-password-9" not in result.output
    refused = runner.invoke(app, ["users", "add", "kadi2", "--role", "owner", "--password-stdin"],
                            input="Kadi-password-9\n")
    assert refused.exit_code == 2 and "Un compte propriétaire" in refused.output
    listing = run("users", "list")
    assert "kadi" in listing.output and "OWN-0001" in listing.output and "demo-admin" in listing.output
    assert runner.invoke(app, ["users", "passwd", "kadi", "--password-stdin"], input="New-password-77\n").exit_code == 0
    assert users.verify_password("kadi", "New-password-77") is not None
    token = run("users", "token", "kadi").output.strip()
    assert users.user_for_token(token).username == "kadi"
    assert run("users", "token", "kadi", "--revoke").exit_code == 0 and users.user_for_token(token) is None
    enrol = run("users", "totp", "kadi")
    secret = enrol.output.split("secret=")[1].split("&")[0]
    assert run("users", "totp", "kadi", "--confirm", "abc").exit_code == 2
    assert run("users", "totp", "kadi", "--confirm", pyotp.TOTP(secret).now()).exit_code == 0
    assert users.get("kadi").totp_confirmed
    assert run("users", "totp", "kadi", "--remove").exit_code == 0
    assert run("users", "disable", "kadi").exit_code == 0 and not users.get("kadi").active
    assert run("users", "enable", "kadi").exit_code == 0 and users.get("kadi").active
    assert run("users", "disable", "nobody").exit_code == 2
    tenant = json.loads(run("query", "late_tenants", "as_of=" + SMALL_UNTIL.isoformat(), "-f", "json").output)[0]["tenant_ref"]
    out = tmp_path / "t.json"
    assert run("tenant", "export", tenant, "--out", str(out)).exit_code == 0
    assert json.loads(out.read_text())["tenant"]["tenant_ref"] == tenant
    assert run("tenant", "export", "NOPE").exit_code == 2
    erased = run("tenant", "erase", tenant, "--yes")
    assert erased.exit_code == 0 and "tenants 1" in erased.output
    verify = run("audit", "verify")
    assert verify.exit_code == 0 and "intact" in verify.output
    shown = run("audit", "show", "--limit", "5")
    assert "tenant_erase" in shown.output
    with cli_env.engine.begin() as conn:
        import sqlalchemy as sa

        conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        conn.execute(sa.text("DELETE FROM audit_log WHERE action = 'user_passwd'"))
    broken = run("audit", "verify")
    assert broken.exit_code == 1 and "BROKEN" in broken.output


def test_demo_runs_one_server_process_per_two_cores():
    from akig_cli.demo import demo_processes

    assert [demo_processes(cores) for cores in (1, 2, 3, 4, 6, 8, 16)] == [1, 1, 1, 2, 3, 4, 4]


def test_users_devices_lists_and_revokes_a_phone(cli_env):
    from akig_data.writes import audit, users

    assert runner.invoke(app, ["users", "add", "awa", "--role", "analyst", "--password-stdin"],
                         input="Awa-password-9\n").exit_code == 0
    assert run("users", "devices", "awa").output.strip() == "no device for awa"
    lost, lost_id = users.issue_device_token("awa", "Tecno Spark 10", actor="awa")
    kept, kept_id = users.issue_device_token("awa", "<b>Itel</b>\x1b[2J", actor="awa")
    users.user_for_token(kept)
    listing = run("users", "devices", "awa")
    assert listing.exit_code == 0
    lines = listing.output.splitlines()
    assert lines[0].split() == ["ID", "CREATED", "LAST", "USED", "STATE", "LABEL"]
    assert lines[1].split()[0] == str(lost_id) and "never" in lines[1] and lines[1].endswith("Tecno Spark 10")
    assert lines[2].split()[0] == str(kept_id) and "never" not in lines[2] and lines[2].endswith("<b>Itel</b> [2J")
    assert "\x1b" not in listing.output and " active " in lines[1]
    revoked = run("users", "devices", "awa", "--revoke", str(lost_id))
    assert revoked.exit_code == 0 and revoked.output.strip() == f"device {lost_id} (Tecno Spark 10) revoked for awa"
    assert users.user_for_token(lost) is None and users.user_for_token(kept).username == "awa"
    assert audit.entries(action="device_revoke")["actor"][0].startswith("cli")
    assert "revoked" in run("users", "devices", "awa").output.splitlines()[1]
    again = run("users", "devices", "awa", "--revoke", str(lost_id))
    assert again.exit_code == 2 and "déjà révoqué" in again.output
    unknown = run("users", "devices", "awa", "--revoke", "999999")
    assert unknown.exit_code == 2 and "Appareil inconnu : 999999" in unknown.output
    assert run("users", "devices", "awa", "--revoke", "deux").exit_code == 2   # not a number: typer refuses it
    nobody = run("users", "devices", "nobody")
    assert nobody.exit_code == 2 and "Utilisateur inconnu" in nobody.output
