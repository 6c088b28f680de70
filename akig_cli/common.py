"""What the command groups share: exiting with a message, --date, the data layer configured from
the environment, the migrations, a user command's refusals, and the process-lifetime helpers of the
long-running commands (`serve`, `demo up`). Heavy modules are imported inside the functions, so that
`akig --help` stays quick.
"""

from __future__ import annotations

import datetime as dt
import os
import sys

import typer


def fail(message: str, code: int = 1) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def parse_day(date: str | None) -> dt.date:
    """--date: YYYY-MM-DD, default today in Conakry; anything else exits 2 with the reason."""
    from akig_data.clock import today

    try:
        return dt.date.fromisoformat(date) if date else today()
    except ValueError:
        fail(f"--date must be a date YYYY-MM-DD (got {date!r})", code=2)
        raise  # pragma: no cover - fail has raised


def stop_like_ctrl_c() -> None:
    """SIGTERM (kill, a service manager, `docker stop`) and SIGHUP (the terminal closed) end a long-running
    command the way Ctrl-C does: Python unwinds, `finally` blocks and exit handlers run, and those stop the
    embedded Redis (and PostgreSQL) this process started (akig_data.embedded). Python's default for both
    signals is to die at once without them, and the embedded servers outlived the command.

    Forked server processes (--num-procs) inherit this; their exit handlers leave the embedded servers to
    the process that started them, and they get SIGTERM when that process ends (end_with_parent), so
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
    os.register_at_fork(after_in_child=end_with_parent)


def end_with_parent() -> None:
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


def open_runtime(start_embedded_redis: bool = False):
    """The data layer, configured from the environment: every AKIG_* setting is checked here first (a wrong
    value exits 1 with the French message naming it)."""
    from akig_data.config import SettingsError
    from akig_data.errors import DatabaseUnavailable
    from akig_data.runtime import configure

    try:
        return configure(start_embedded_redis=start_embedded_redis)
    except (DatabaseUnavailable, SettingsError) as exc:
        fail(str(exc))


def migrate(runtime) -> list[str]:
    """Apply the pending migrations; a refused migration or an unreachable PostgreSQL exits 1."""
    from akig_data import migrations
    from akig_data.engine import is_connection_error
    import sqlalchemy as sa

    try:
        return migrations.upgrade(runtime.engine)
    except migrations.MigrationError as exc:
        fail(f"migration refused: {exc}")
    except sa.exc.DBAPIError as exc:
        if is_connection_error(exc):
            fail(f"PostgreSQL does not answer at {runtime.engine.url.render_as_string(hide_password=True)}")
        raise
    return []


def user_command(fn, *args, **kwargs):
    """Run a data-layer call as the command line's actor (users, tenant); a refusal exits 2 with its message."""
    from akig_data.writes.audit import cli_actor
    from akig_data.errors import AkigError

    open_runtime()
    try:
        return fn(*args, actor=cli_actor(), **kwargs)
    except AkigError as exc:
        fail(str(exc), code=2)
