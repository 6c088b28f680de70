"""`akig serve`: the one Panel server with every app and the HTTP endpoints; `run` is shared with
`akig demo up`."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import typer

from akig_cli.common import fail, migrate, open_runtime, stop_like_ctrl_c


def multiprocess_metrics() -> None:
    """With several processes, /metrics must add up every process's values: prometheus_client's
    multiprocess mode, which needs PROMETHEUS_MULTIPROC_DIR set before it is first imported. The folder
    is emptied first (values of a previous run would be counted again)."""
    import tempfile

    if "prometheus_client" in sys.modules:  # pragma: no cover - a programming error, not a user's
        fail("internal error: metrics were created before the multiprocess folder was set")
    folder = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="akig-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def run(port: int, address: str, num_procs: int, runtime) -> None:
    from dashboards.server import logs
    from dashboards.server.auth import AuthSettings
    from dashboards.server.app import serve as run_server

    from akig_data import config
    from akig_data.config import SettingsError

    try:   # before the first warning (the server's own call, in serve(), replaces these handlers)
        logs.configure(config.load())
    except SettingsError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"the access log cannot be written ({exc}); set AKIG_ACCESS_LOG to another file, or - for the console")
    try:   # every setting is checked now (a bad one is said here, not by a crashed process), and the secrets
        auth_settings = AuthSettings.from_env()
    except SettingsError as exc:
        fail(str(exc))
    _serve_as_app_role(runtime, production=auth_settings.production)
    typer.echo(f"AKIG is served at http://{address}:{port}/ (log in at /login)")
    settings = config.load()
    access_log = logs.access_log_path(settings)
    if access_log is not None:
        summary = f" and a summary every {settings.log_summary_s} s" if settings.log_summary_s else ""
        typer.echo(f"Access log: {access_log} (the console shows warnings, errors{summary})")
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
            fail(message)
        typer.secho(f"warning: {message}; serving anyway (development)", fg=typer.colors.YELLOW, err=True)
        return
    finally:
        engine.dispose()
    from akig_data import runtime as runtime_module

    runtime_module.configure(dataclasses.replace(runtime.settings,
                                                 database_url=app_url.render_as_string(hide_password=False)))
    typer.echo(f"Serving as {role} (row-level security enforced; migrations ran as {make_url(runtime.database_url).username})")


def serve(
    port: int = typer.Option(5006, help="HTTP port"),
    address: str = typer.Option("127.0.0.1", help="address to listen on"),
    num_procs: int = typer.Option(1, help="server processes (Tornado fork; put nginx with sticky sessions in front)"),
) -> None:
    """Serve every app and the HTTP endpoints (/api/health ...) on one Panel server."""
    stop_like_ctrl_c()   # before the embedded Redis starts: SIGTERM or SIGHUP then stops it
    if num_procs > 1:
        multiprocess_metrics()
    runtime = open_runtime(start_embedded_redis=True)
    migrate(runtime)
    run(port=port, address=address, num_procs=num_procs, runtime=runtime)
