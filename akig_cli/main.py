"""The `akig` command: database, import, demo data, queries and the server.

    akig db init                      create or upgrade the schema
    akig import PATH                  load a folder of CSV files or an .xlsx workbook (all or nothing)
    akig demo seed --scale demo       load the synthetic data set
    akig demo up                      db init + seed when empty + serve (what `make demo` runs)
    akig query NAME key=value ...     run any registered read (`akig query --list`)
    akig serve --port 5006            the one Panel server with every app and the HTTP endpoints
    akig users add|passwd|disable|enable|list|totp|token   accounts, second factor, API tokens
    akig audit verify|show            the hash-chained audit trail
    akig tenant export|erase REF      a tenant's personal data (JSON) / pseudonymise it
    akig missions generate --date D   plan day D's calls and visits (OR-Tools routes)
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(
    help="AKIG: rent-collection analytics (Conakry). Settings come from AKIG_* environment variables.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Create, upgrade and inspect the database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="The synthetic demo data set.", no_args_is_help=True)
users_app = typer.Typer(help="Accounts: roles, passwords, TOTP second factor, API tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail (append-only, hash-chained).", no_args_is_help=True)
tenant_app = typer.Typer(help="A tenant's personal data.", no_args_is_help=True)
missions_app = typer.Typer(help="The collection team's daily missions.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(tenant_app, name="tenant")
app.add_typer(missions_app, name="missions")
report_app = typer.Typer(help="The daily report (rapport du jour).", no_args_is_help=True)
app.add_typer(report_app, name="report")
simulate_app = typer.Typer(help="Simulated agents for the demo, tests and benchmarks.", no_args_is_help=True)
positions_app = typer.Typer(help="Agents' GPS positions.", no_args_is_help=True)
app.add_typer(simulate_app, name="simulate")
app.add_typer(positions_app, name="positions")


def _fail(message: str, code: int = 1) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _day(date: str | None) -> dt.date:
    """--date: YYYY-MM-DD, default today in Conakry; anything else exits 2 with the reason."""
    from akig_data.clock import today

    try:
        return dt.date.fromisoformat(date) if date else today()
    except ValueError:
        _fail(f"--date must be a date YYYY-MM-DD (got {date!r})", code=2)
        raise  # pragma: no cover - _fail has raised


def _stop_like_ctrl_c() -> None:
    """SIGTERM (kill, a service manager, `docker stop`) and SIGHUP (the terminal closed) end a long-running
    command the way Ctrl-C does: Python unwinds, `finally` blocks and exit handlers run, and those stop the
    embedded Redis (and PostgreSQL) this process started (akig_data.embedded). Python's default for both
    signals is to die at once without them, and the embedded servers outlived the command.

    Forked server processes (--num-procs) inherit this; their exit handlers leave the embedded servers to
    the process that started them, and they get SIGTERM when that process ends (_end_with_parent), so
    that none keeps serving on its own. A second signal during the clean-up is ignored so that it cannot
    cut the clean-up short (SIGKILL still ends everything)."""
    import signal

    stopping = []

    def stop(signum, _frame) -> None:
        if stopping:
            return
        stopping.append(signum)
        sys.exit(0)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    os.register_at_fork(after_in_child=_end_with_parent)


def _end_with_parent() -> None:
    """In a forked process (Tornado's --num-procs workers): ask Linux for SIGTERM when the parent ends.
    Without it, a parent stopped by SIGTERM left its workers serving, adopted by init. Subprocesses
    (the embedded Redis, the simulator) are not forked this way and are stopped by their owner."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() == 1:   # the parent ended before the request was made
        os.kill(os.getpid(), signal.SIGTERM)


def _runtime(start_embedded_redis: bool = False):
    """The data layer, configured from the environment: every AKIG_* setting is checked here first (a wrong
    value exits 1 with the French message naming it)."""
    from akig_data.config import SettingsError
    from akig_data.errors import DatabaseUnavailable
    from akig_data.runtime import configure

    try:
        return configure(start_embedded_redis=start_embedded_redis)
    except (DatabaseUnavailable, SettingsError) as exc:
        _fail(str(exc))


def _migrate(runtime) -> list[str]:
    from akig_data import migrations
    from akig_data.engine import is_connection_error
    import sqlalchemy as sa

    try:
        return migrations.upgrade(runtime.engine)
    except migrations.MigrationError as exc:
        _fail(f"migration refused: {exc}")
    except sa.exc.DBAPIError as exc:
        if is_connection_error(exc):
            _fail(f"PostgreSQL does not answer at {runtime.engine.url.render_as_string(hide_password=True)}")
        raise
    return []


# -- db -----------------------------------------------------------------------------------------------
@db_app.command("init")
def db_init() -> None:
    """Create or upgrade the schema from the numbered files in sql/ (each applied once, recorded)."""
    runtime = _runtime()
    applied = _migrate(runtime)
    from akig_data import migrations

    if applied:
        for name in applied:
            typer.echo(f"applied {name}")
    typer.echo(f"schema at version {migrations.current_version(runtime.engine):03d}"
               + ("" if applied else " (already up to date)"))


@db_app.command("status")
def db_status() -> None:
    """List the migrations and whether each is applied."""
    from akig_data import migrations

    runtime = _runtime()
    done = migrations.applied(runtime.engine)
    for m in migrations.discover():
        typer.echo(f"{'applied' if m.version in done else 'pending'}  {m.name}")


# -- import -------------------------------------------------------------------------------------------
@app.command("import")
def import_(path: Path = typer.Argument(..., help="A folder of CSV files (owners.csv, sites.csv, ...) or an .xlsx workbook")) -> None:
    """Load a folder of CSV files or one .xlsx workbook: all rows or none; importing twice changes nothing."""
    from tqdm import tqdm

    from akig_data.writes.importer import ImportFailed, import_path

    runtime = _runtime()
    _migrate(runtime)
    try:
        report = import_path(path, progress=lambda **kw: tqdm(file=sys.stderr, **kw))
    except ImportFailed as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        _fail(f"{len(exc.problems)} problem(s); nothing was imported.")
        return
    for r in report.results:
        typer.echo(f"{r.table:<10} {r.rows:>9} rows: {r.inserted} new, {r.updated} updated, {r.unchanged} unchanged")


# -- demo ---------------------------------------------------------------------------------------------
class ScaleName(str, Enum):
    small = "small"
    demo = "demo"
    large = "large"


@demo_app.command("seed")
def demo_seed(
    scale: ScaleName = typer.Option(ScaleName.demo, help="small (tests), demo (default) or large (benchmarks)"),
    seed: int = typer.Option(7, help="random seed: the same seed and --until give the same data"),
    until: Optional[str] = typer.Option(None, help="last day of the data (YYYY-MM-DD, default today)"),
    reset: bool = typer.Option(False, help="empty the data tables first (refused otherwise when data exist)"),
) -> None:
    """Load the synthetic data set: Conakry's communes, Guinean names, GNF rents, five payer behaviours."""
    from akig_data.demo.seed import DatabaseNotEmpty
    from akig_data.demo.seed import seed as run_seed

    try:
        until_date = dt.date.fromisoformat(until) if until else None
    except ValueError:
        _fail(f"--until must be a date YYYY-MM-DD (got {until!r})")
        return
    runtime = _runtime()
    _migrate(runtime)
    try:
        run_seed(scale.value, seed=seed, until=until_date, reset=reset, log=typer.echo)
    except DatabaseNotEmpty as exc:
        _fail(str(exc))
    _print_demo_users()


def _plan_today_if_needed(runtime) -> None:
    """So that the desk and the map have work to show: plan today's missions once (the demo only)."""
    import sqlalchemy as sa

    from akig_data.writes import missions

    day = dt.datetime.now(missions.TZ).date()
    with runtime.engine.connect() as conn:
        planned = conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM missions WHERE day = :d)"), {"d": day}).scalar()
    if not planned:
        report = missions.generate(day)
        typer.echo(f"Today's missions planned: {report.planned_visits} visits, {report.planned_calls} calls "
                   f"({report.solve_seconds} s of routing).")


def _print_demo_users() -> None:
    """Create the missing demo accounts and print their passwords (once: they are stored hashed)."""
    from akig_data.writes.audit import cli_actor
    from akig_data.demo.users import create_demo_users

    created = create_demo_users(actor=cli_actor())
    if created:
        typer.echo("Demo accounts (passwords shown once; change them with `akig users passwd`):")
        for username, role, password in created:
            typer.echo(f"  {role:<8} {username:<14} {password}")


@demo_app.command("up")
def demo_up(
    port: int = typer.Option(5006, help="HTTP port"),
    address: str = typer.Option("127.0.0.1", help="address to listen on"),
    scale: ScaleName = typer.Option(ScaleName.demo, help="data set to load when the database is empty"),
    simulate: bool = typer.Option(True, "--simulate/--no-simulate",
                                  help="drive the demo agents along today's routes (watch them on /carte)"),
) -> None:
    """Start the database (embedded unless AKIG_DATABASE_URL is set), load the demo data when empty, serve."""
    from akig_data.demo.seed import has_data
    from akig_data.demo.seed import seed as run_seed

    _stop_like_ctrl_c()   # before anything is started: a stop during the start cleans up too
    runtime = _runtime(start_embedded_redis=True)
    _migrate(runtime)
    with runtime.engine.connect() as conn:
        empty = not has_data(conn)
    if empty:
        typer.echo(f"Loading the {scale.value} data set (first run only)...")
        run_seed(scale.value, log=typer.echo)
    else:
        typer.echo("Reusing the data already in the database.")
    _print_demo_users()
    _plan_today_if_needed(runtime)
    if simulate:
        # The simulated phones all post from this machine: with the default per-address API limit they would
        # use it up within the minute and the demo's own API calls would answer 429.
        os.environ.setdefault("AKIG_API_RATE_PER_ADDRESS", "100000")
    simulator = _start_simulator(address, port, runtime) if simulate else None
    try:   # stopped by Ctrl-C, SIGTERM or SIGHUP (_stop_like_ctrl_c): take the simulator along
        _serve(port=port, address=address, num_procs=1, runtime=runtime)
    finally:
        if simulator is not None:
            simulator.terminate()


def _start_simulator(address: str, port: int, runtime):
    """`akig simulate agents` in a process of its own (it posts to the server like phones do); its output
    goes to AKIG_HOME/simulator.log."""
    import subprocess
    import sys
    from pathlib import Path

    home = Path(runtime.settings.home)
    home.mkdir(parents=True, exist_ok=True)
    log = (home / "simulator.log").open("ab")
    command = [str(Path(sys.executable).parent / "akig"), "simulate", "agents", "--url", f"http://{address}:{port}",
               "--speed", "5", "--interval", "3"]
    typer.echo(f"Simulated agents are driving their routes (live map: /carte; log: {home / 'simulator.log'}; "
               "--no-simulate to stop that)")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, AKIG_DATABASE_URL=
                            runtime.database_url))


# -- query --------------------------------------------------------------------------------------------
class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


@app.command("query")
def query(
    name: Optional[str] = typer.Argument(None, help="the read to run (see --list)"),
    params: Optional[List[str]] = typer.Argument(None, help="key=value parameters, e.g. as_of=2026-06-30"),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table, json or csv"),
    list_: bool = typer.Option(False, "--list", help="list the registered reads and their parameters"),
) -> None:
    """Run any registered read of the data layer (the same functions the apps and notebooks call)."""
    from akig_data import reads
    from akig_data.reports import spreadsheet as export
    from akig_data.errors import AkigError

    if list_ or not name:
        for spec in reads.all_reads():
            args = ", ".join(f"{p.name}: {p.type_name} ({p.describe_default()})" for p in spec.params)
            typer.echo(f"{spec.name}({args})\n    {spec.summary}")
        return
    kwargs: dict[str, str] = {}
    for item in params or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _fail(f"parameters are key=value (got {item!r})", code=2)
        kwargs[{"from": "date_from", "to": "date_to"}.get(key, key)] = value
    _runtime()
    try:
        frame = reads.run(name, **kwargs)
    except AkigError as exc:
        _fail(str(exc), code=2)
        return
    if fmt is Format.json:
        typer.echo(export.to_json(frame))
    elif fmt is Format.csv:
        typer.echo(export.to_csv(frame), nl=False)
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 250):
            typer.echo(frame.to_string(index=False) if len(frame) else "(no rows)")


# -- users --------------------------------------------------------------------------------------------
def _password(password_stdin: bool, confirm: bool = True) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("Mot de passe", hide_input=True, confirmation_prompt=confirm)


def _user_command(fn, *args, **kwargs):
    from akig_data.writes.audit import cli_actor
    from akig_data.errors import AkigError

    _runtime()
    try:
        return fn(*args, actor=cli_actor(), **kwargs)
    except AkigError as exc:
        _fail(str(exc), code=2)


@users_app.command("add")
def users_add(
    username: str = typer.Argument(..., help="login name (a-z, 0-9, . _ -)"),
    role: str = typer.Option(..., help="admin, manager, owner, agent, analyst or ops"),
    owner: Optional[str] = typer.Option(None, help="owner_ref the account stands for (role owner)"),
    agent: Optional[str] = typer.Option(None, help="agent_ref the account stands for (role agent)"),
    password_stdin: bool = typer.Option(False, help="read the password from standard input"),
) -> None:
    """Create an account (the password is asked twice, never echoed, stored as an argon2id hash)."""
    from akig_data.writes import users

    password = _password(password_stdin)
    user = _user_command(users.add, username, password, role, owner_ref=owner, agent_ref=agent)
    typer.echo(f"created {user.username} ({user.role})"
               + (" — second factor required: enrolment at first login or `akig users totp`" if user.role in users.TOTP_REQUIRED else ""))


@users_app.command("passwd")
def users_passwd(username: str, password_stdin: bool = typer.Option(False, help="read the password from standard input")) -> None:
    """Set a new password (the account's open sessions end)."""
    from akig_data.writes import users

    _user_command(users.set_password, username, _password(password_stdin))
    typer.echo(f"password changed for {username}")


@users_app.command("disable")
def users_disable(username: str) -> None:
    """Disable an account: no login, its sessions and API token stop working."""
    from akig_data.writes import users

    _user_command(users.set_active, username, False)
    typer.echo(f"{username} disabled")


@users_app.command("enable")
def users_enable(username: str) -> None:
    """Re-enable a disabled account."""
    from akig_data.writes import users

    _user_command(users.set_active, username, True)
    typer.echo(f"{username} enabled")


@users_app.command("list")
def users_list() -> None:
    """Every account with its role, what it stands for, second factor and token state."""
    from akig_data.writes import users

    _runtime()
    for u in users.list_users():
        stands = u.owner_ref or u.agent_ref or ""
        typer.echo(f"{u.username:<20} {u.role:<8} {stands:<10} {'active' if u.active else 'DISABLED':<8} "
                   f"totp={'yes' if u.totp_confirmed else 'no':<3} token={'yes' if u.token_created_at else 'no'}")


@users_app.command("totp")
def users_totp(
    username: str,
    remove: bool = typer.Option(False, "--remove", help="remove the second factor instead"),
    confirm: Optional[str] = typer.Option(None, help="a 6-digit code from the app, to confirm the enrolment"),
) -> None:
    """Enrol a TOTP second factor: prints the otpauth URI and a QR code to scan, then confirm with --confirm."""
    from akig_data.writes import users

    if remove:
        _user_command(users.remove_totp, username)
        typer.echo(f"second factor removed for {username}")
        return
    if confirm is not None:
        ok = _user_command(users.confirm_totp, username, confirm)
        if not ok:
            _fail("code refusé (vérifiez l'heure du téléphone)", code=2)
        typer.echo(f"second factor confirmed for {username}")
        return
    import io

    import qrcode

    secret = _user_command(users.begin_totp, username)
    uri = users.totp_uri(users.get(username), secret)
    qr = qrcode.QRCode(border=1)
    qr.add_data(uri)
    buffer = io.StringIO()
    qr.print_ascii(out=buffer, invert=True)
    typer.echo(buffer.getvalue())
    typer.echo(f"{uri}\nThen: akig users totp {username} --confirm CODE")


@users_app.command("token")
def users_token(username: str, revoke: bool = typer.Option(False, "--revoke", help="remove the token")) -> None:
    """Issue a new API token (the previous one stops working); printed once, stored hashed."""
    from akig_data.writes import users

    if revoke:
        _user_command(users.revoke_token, username)
        typer.echo(f"token revoked for {username}")
        return
    typer.echo(_user_command(users.rotate_token, username))


# -- audit --------------------------------------------------------------------------------------------
@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain; exit 1 at the first edited or deleted row."""
    from akig_data.writes import audit

    _runtime()
    report = audit.verify()
    if not report.ok:
        _fail(f"audit chain BROKEN after {report.rows} good rows: {report.reason}")
    typer.echo(f"audit chain intact: {report.rows} rows")


@audit_app.command("show")
def audit_show(limit: int = typer.Option(50, help="newest entries to show")) -> None:
    """The newest entries."""
    from akig_data.writes import audit

    _runtime()
    frame = audit.entries(limit=limit)
    typer.echo(frame.to_string(index=False) if len(frame) else "(empty)")


# -- tenant -------------------------------------------------------------------------------------------
@tenant_app.command("export")
def tenant_export(tenant_ref: str, out: Optional[Path] = typer.Option(None, help="write to this file instead of stdout")) -> None:
    """Everything held about a tenant, as JSON (identity, leases, payments, promises, calls, visits)."""
    import json

    from akig_data.writes import privacy

    data = _user_command(privacy.export_tenant, tenant_ref)
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if out:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"written {out}")
    else:
        typer.echo(text)


@tenant_app.command("erase")
def tenant_erase(tenant_ref: str, yes: bool = typer.Option(False, "--yes", help="do not ask for confirmation")) -> None:
    """Pseudonymise a tenant (name, phone, e-mail, notes); the money history is kept."""
    from akig_data.writes import privacy

    if not yes:
        typer.confirm(f"Effacer l'identité et les coordonnées de {tenant_ref} ?", abort=True)
    changed = _user_command(privacy.erase_tenant, tenant_ref)
    typer.echo(f"{tenant_ref} erased: " + ", ".join(f"{k} {v}" for k, v in changed.items()))


# -- missions -----------------------------------------------------------------------------------------
@missions_app.command("generate")
def missions_generate(date: Optional[str] = typer.Option(None, help="the day to plan (YYYY-MM-DD, default today)")) -> None:
    """Turn the late leases and the promises due into calls and visits, assign them, order the visits."""
    from akig_data.writes import missions
    from akig_data.errors import AkigError

    day = _day(date)
    _runtime()
    try:
        report = missions.generate(day)
    except AkigError as exc:
        _fail(str(exc), code=2)
        return
    typer.echo(f"{report.day}: {report.planned_visits} visits and {report.planned_calls} calls planned "
               f"({report.kept_done} already done kept), {report.unassigned} candidates without an agent, "
               f"{report.dropped_visits} visits did not fit the day; {report.distance_km} km of routes, "
               f"solved in {report.solve_seconds} s")


@report_app.command("daily")
def report_daily(
    date: Optional[str] = typer.Option(None, help="the day (YYYY-MM-DD, default today)"),
    owner: Optional[str] = typer.Option(None, help="one owner's report (his sites only)"),
    fmt: str = typer.Option("pdf", "--format", help="pdf (A4, to read or print) or xlsx (one sheet per table)"),
    out: Optional[str] = typer.Option(None, help="the file to write (default rapport-AAAA-MM-JJ[-OWNER].FORMAT)"),
) -> None:
    """Write the day's report: KPIs against yesterday and last month, collected by site and method, arrears
    by age, agents' day and podium, promises kept and broken, new alerts, the ten largest arrears."""
    from akig_data.reports import files as report_files
    from akig_data.errors import AkigError

    if fmt not in report_files.FORMATS:
        _fail(f"--format must be pdf or xlsx (got {fmt!r})", code=2)
    day = _day(date)
    _runtime()
    try:
        data = report_files.render(day, owner, fmt)
    except AkigError as exc:
        _fail(str(exc), code=2)
        return
    path = Path(out or report_files.filename(day, owner, fmt))
    path.write_bytes(data)
    typer.echo(f"{path}: {fmt}, {len(data):,} bytes ({'owner ' + owner if owner else 'all owners'})")


@report_app.command("folder")
def report_folder(
    date: Optional[str] = typer.Option(None, help="the day (YYYY-MM-DD, default today)"),
    folder: Optional[str] = typer.Option(None, help="where (default AKIG_REPORTS_DIR, else ./reports)"),
) -> None:
    """What the server does at 19:00: the day's reports for all owners and for each owner, PDF and Excel,
    into FOLDER/AAAA-MM-JJ/."""
    from akig_data.reports import files as report_files

    day = _day(date)
    _runtime()
    try:
        typer.echo(report_files.write_folder(day, Path(folder) if folder else None))
    except Exception as exc:
        _fail(str(exc))


@simulate_app.command("agents")
def simulate_agents(
    agents: int = typer.Option(40, min=1, help="how many agents (those with visits planned today, in order)"),
    speed: float = typer.Option(10.0, min=0.1, max=1000, help="time-lapse factor: 10 = ten simulated seconds a second"),
    mode: str = typer.Option("moto", help="walk (5 km/h) or moto (25 km/h)"),
    interval: float = typer.Option(2.0, min=0.1, help="real seconds between two fixes of an agent"),
    url: str = typer.Option("http://127.0.0.1:5006", help="the running AKIG server"),
    seconds: Optional[float] = typer.Option(None, help="stop after this many real seconds (default: when routes end)"),
    noise: float = typer.Option(8.0, min=0, help="GPS noise, metres (standard deviation)"),
) -> None:
    """Drive the demo agents along today's routes through the real POST /api/positions (each with his
    own token, account sim-<agent>): watch them move on /carte."""
    from akig_data.demo import simulator

    if mode not in simulator.SPEEDS_MPS:
        _fail(f"--mode must be walk or moto (got {mode!r})", code=2)
        return
    _runtime()
    if not simulator.wait_for_server(url, timeout_s=180):
        _fail(f"no AKIG server answers at {url}", code=1)
        return
    fleet = simulator.prepare(agents)
    if not fleet:
        _fail("no agent has visits planned today: run `akig missions generate` first", code=2)
        return
    typer.echo(f"{len(fleet)} agents driving ({mode}, x{speed:g}) to {url}; Ctrl-C to stop")
    try:
        totals = simulator.run(url, fleet, speed=speed, mode=mode, interval_s=interval, duration_s=seconds,
                               noise_m=noise, echo=typer.echo)
    except KeyboardInterrupt:
        typer.echo("stopped")
        return
    typer.echo(f"fixes posted: {totals.posted}, stored: {totals.stored}, refused: {totals.refused}, "
               f"batches to retry: {totals.retried}")


@positions_app.command("prune")
def positions_prune(days: Optional[int] = typer.Option(None, min=1, help="keep this many days (default: "
                                                        "AKIG_POSITIONS_RETENTION_DAYS, 90)")) -> None:
    """Delete GPS fixes older than the retention (the server also does it once a day)."""
    from akig_data.writes import positions

    _runtime()
    typer.echo(f"{positions.prune(days)} fixes older than {days or positions.retention_days()} days deleted")


# -- serve --------------------------------------------------------------------------------------------
def _multiprocess_metrics() -> None:
    """With several processes, /metrics must add up every process's values: prometheus_client's
    multiprocess mode, which needs PROMETHEUS_MULTIPROC_DIR set before it is first imported. The folder
    is emptied first (values of a previous run would be counted again)."""
    import tempfile

    if "prometheus_client" in sys.modules:  # pragma: no cover - a programming error, not a user's
        _fail("internal error: metrics were created before the multiprocess folder was set")
    folder = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="akig-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def _serve(port: int, address: str, num_procs: int, runtime) -> None:
    from dashboards.server.auth import AuthSettings
    from dashboards.server.app import serve as run_server

    from akig_data.config import SettingsError

    try:   # every setting is checked now (a bad one is said here, not by a crashed process), and the secrets
        auth_settings = AuthSettings.from_env()
    except SettingsError as exc:
        _fail(str(exc))
    _serve_as_app_role(runtime, production=auth_settings.production)
    typer.echo(f"AKIG is served at http://{address}:{port}/ (log in at /login)")
    run_server(port=port, address=address, num_procs=num_procs)


def _serve_as_app_role(runtime, production: bool) -> None:
    """The server must not connect as a role that can bypass row-level security (a superuser, or the
    tables' owner, which ran the migrations). When it would, connect the server as AKIG_APP_ROLE
    (akig_app) on the same database instead, with AKIG_APP_PASSWORD if the server asks for one; in
    production, refuse to serve if that is not possible."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from akig_data import config
    from akig_data.engine import create_engine

    with runtime.engine.connect() as conn:
        bypasses = conn.execute(sa.text(
            "SELECT r.rolsuper OR r.rolbypassrls OR EXISTS (SELECT 1 FROM pg_tables t WHERE t.tablename = 'leases' "
            "AND t.tableowner = current_user) FROM pg_roles r WHERE r.rolname = current_user")).scalar()
    if not bypasses:
        return
    settings = config.load()
    role = settings.app_role
    app_url = make_url(runtime.database_url).set(username=role, password=settings.app_password)
    engine = create_engine(app_url.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as exc:
        message = (f"the server would connect as a role that bypasses row-level security, and connecting as {role} "
                   f"failed ({str(exc.orig).strip().splitlines()[0] if exc.orig else exc}); set AKIG_DATABASE_URL to "
                   f"{role}'s URL (or AKIG_APP_PASSWORD)")
        if production:
            _fail(message)
        typer.secho(f"warning: {message}; serving anyway (development)", fg=typer.colors.YELLOW, err=True)
        return
    finally:
        engine.dispose()
    os.environ["AKIG_DATABASE_URL"] = app_url.render_as_string(hide_password=False)
    typer.echo(f"Serving as {role} (row-level security enforced; migrations ran as {make_url(runtime.database_url).username})")


@app.command("serve")
def serve(
    port: int = typer.Option(5006, help="HTTP port"),
    address: str = typer.Option("127.0.0.1", help="address to listen on"),
    num_procs: int = typer.Option(1, help="server processes (Tornado fork; put nginx with sticky sessions in front)"),
) -> None:
    """Serve every app and the HTTP endpoints (/api/health ...) on one Panel server."""
    _stop_like_ctrl_c()   # before the embedded Redis starts: SIGTERM or SIGHUP then stops it
    if num_procs > 1:
        _multiprocess_metrics()
    runtime = _runtime(start_embedded_redis=True)
    _migrate(runtime)
    _serve(port=port, address=address, num_procs=num_procs, runtime=runtime)


if __name__ == "__main__":  # pragma: no cover
    app()
