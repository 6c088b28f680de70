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


STOP_GRACE_S = 30.0


def stop_like_ctrl_c(grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM (kill, a service manager, `docker stop`) and SIGHUP (the terminal closed) end a long-running
    command the way Ctrl-C does: Python unwinds, `finally` blocks and exit handlers run, and those stop the
    embedded Redis (and PostgreSQL) this process started (akig_data.embedded). Python's default for both
    signals is to die at once without them, and the embedded servers outlived the command.

    Forked server processes (--num-procs) inherit this; their exit handlers leave the embedded servers to
    the process that started them, and they get SIGTERM when that process ends (end_with_parent), so
    that none keeps serving on its own. A second signal during the clean-up is ignored so that it cannot
    cut the clean-up short (SIGKILL still ends everything); the stop is bounded instead (end_after)."""
    import signal

    stopping = []

    def stop(signum, _frame) -> None:
        if stopping:
            return
        stopping.append(signum)
        end_after(grace_s)
        sys.exit(0)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    os.register_at_fork(after_in_child=end_with_parent)


def end_after(grace_s: float) -> None:
    """A stop that has not ended after `grace_s` seconds is finished by force. Python's unwinding waits for
    every worker thread to end (a thread-pool task that never returns holds the process forever) and the
    exit handlers may wait on PostgreSQL; a service manager would then SIGKILL the command and leave the
    embedded servers running. So a watchdog thread prints where every thread is (to find the cause), stops
    the embedded servers itself, ends the child processes (the simulated agents) and exits with code 1."""
    import faulthandler
    import threading
    import time

    def force() -> None:
        time.sleep(grace_s)
        sys.stderr.write(f"akig: the stop has taken more than {grace_s:g} s; where each thread is, then a forced "
                         "stop:\n")
        sys.stderr.flush()
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        embedded = sys.modules.get("akig_data.embedded")   # no import now: Python is shutting down
        if embedded is not None:
            # In a thread of its own: what holds the stop may hold this too; the children are killed anyway.
            stopper = threading.Thread(target=embedded.stop_all, name="akig-stop-embedded", daemon=True)
            stopper.start()
            stopper.join(15)
        _kill_children()
        os._exit(1)

    threading.Thread(target=force, name="akig-stop-deadline", daemon=True).start()


def _kill_children() -> None:
    """SIGKILL every live child process of this one (found in /proc: no dependency for a last resort)."""
    import contextlib
    import signal
    from pathlib import Path

    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()   # state ppid ...
            if fields[1] == me and fields[0] != "Z":
                os.kill(int(stat.parent.name), signal.SIGKILL)


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
