"""`akig demo seed|up`: the synthetic demo data set, and the demo served with simulated agents."""

from __future__ import annotations

import datetime as dt
import os
from enum import Enum
from typing import Optional

import typer

from akig_cli import serve as serving
from akig_cli.common import fail, migrate, open_runtime, stop_like_ctrl_c

app = typer.Typer(help="The synthetic demo data set.", no_args_is_help=True)


class ScaleName(str, Enum):
    small = "small"
    demo = "demo"
    large = "large"


@app.command("seed")
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
        fail(f"--until must be a date YYYY-MM-DD (got {until!r})")
        return
    runtime = open_runtime()
    migrate(runtime)
    try:
        run_seed(scale.value, seed=seed, until=until_date, reset=reset, log=typer.echo)
    except DatabaseNotEmpty as exc:
        fail(str(exc))
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


def _train_models_if_needed() -> None:
    """So that the risk column, the forecast and the missions' chance to pay come from trained models, not
    from the plain rules of a fresh install: train them once, on a short budget (12 months, 60 boosting
    iterations, no hold-out: about 30 s on the demo data; `akig model train` for the full one)."""
    import time

    from akig_data import clock
    from akig_data.risk import model, visits

    if model.stored():
        return
    typer.echo("Training the risk models on the demo data (first run only)...")
    started = time.perf_counter()
    today = clock.today()
    try:
        for horizon in (10, 30):
            model.store(model.train(today, horizon, months=12, max_iter=60, holdout_days=0))
        model.store(visits.train(today, months=12, max_iter=60, holdout_days=0))
    except ValueError as exc:    # too little history: the apps keep the plain rules
        typer.echo(f"No model trained ({exc}); the apps use the plain rules until `akig model train`.")
        return
    typer.echo(f"Risk models trained in {time.perf_counter() - started:.0f} s.")


def _store_risk_scores() -> None:
    """Today's and the month's 1st's risk and forecast stored before the first page asks for them (the
    server's scheduled task would store them at its first tick, a minute later)."""
    import time

    from akig_data.risk import stored_scores

    started = time.perf_counter()
    runs = stored_scores.store_due()
    if runs:
        typer.echo(f"Risk scores and cash forecast of {', '.join(str(r.as_of) for r in runs)} stored in "
                   f"{time.perf_counter() - started:.0f} s.")


def _store_lease_positions() -> None:
    """Today's lease positions stored before the first page asks for them (the server's scheduled task
    would store them at its first tick)."""
    from akig_data.upkeep import lease_positions

    day = lease_positions.store_due()
    if day is not None:
        typer.echo(f"Lease positions of {day.as_of} stored ({day.leases} leases, {day.seconds:.1f} s).")


def _store_agent_months() -> None:
    """Last month's figures per agent stored before the leaderboard asks for them (the server's scheduled
    task would store them at its first tick)."""
    from akig_data.upkeep import agent_months

    stored = agent_months.store_due()
    if stored is not None:
        typer.echo(f"Agents' figures of {stored.month:%Y-%m} stored ({stored.agents} agents, {stored.seconds:.1f} s).")


def _reminders_if_needed() -> None:
    """Switch the SMS reminders on for the demo's first owner (default ladder, a 10 % held-out share), once:
    the desk's "Relances SMS" tab then has messages to show. With the default AKIG_SMS_PROVIDER=file they are
    written to AKIG_SMS_DIR (.akig/sms), never sent to a phone."""
    import sqlalchemy as sa

    from akig_data.reminders import policies
    from akig_data.runtime import get_runtime

    with get_runtime().engine.connect() as conn:
        if conn.execute(sa.text("SELECT 1 FROM reminder_policies LIMIT 1")).first():
            return
        owner_ref = conn.execute(sa.text("SELECT owner_ref FROM owners ORDER BY owner_ref LIMIT 1")).scalar()
    if owner_ref is None:
        return
    policies.set_policy(owner_ref, enabled=True, merchant_number="+224 620 00 00 00", holdout_share=0.1)
    typer.echo(f"SMS reminders on for {owner_ref} (messages written to {get_runtime().settings.sms_dir}/).")


def _print_demo_users() -> None:
    """Create the missing demo accounts and print their passwords (once: they are stored hashed)."""
    from akig_data.writes.audit import cli_actor
    from akig_data.demo.users import create_demo_users

    created = create_demo_users(actor=cli_actor())
    if created:
        typer.echo("Demo accounts (passwords shown once; change them with `akig users passwd`):")
        for username, role, password in created:
            typer.echo(f"  {role:<8} {username:<14} {password}")


@app.command("up")
def demo_up(
    port: int = typer.Option(5006, help="HTTP port"),
    address: str = typer.Option("127.0.0.1", help="address to listen on"),
    scale: ScaleName = typer.Option(ScaleName.demo, help="data set to load when the database is empty"),
    simulate: bool = typer.Option(True, "--simulate/--no-simulate",
                                  help="drive the demo agents along today's routes (watch them on /carte)"),
    num_procs: int = typer.Option(0, min=0, help="server processes; 0: one per two cores, at most 4 (1 on a "
                                                 "2-core machine)"),
) -> None:
    """Start the database (embedded unless AKIG_DATABASE_URL is set), load the demo data when empty, serve."""
    from akig_data.demo.seed import has_data
    from akig_data.demo.seed import seed as run_seed

    stop_like_ctrl_c()   # before anything is started: a stop during the start cleans up too
    num_procs = num_procs or demo_processes(os.cpu_count() or 1)
    if num_procs > 1:
        serving.multiprocess_metrics()
    runtime = open_runtime(start_embedded_redis=True)
    migrate(runtime)
    with runtime.engine.connect() as conn:
        empty = not has_data(conn)
    if empty:
        typer.echo(f"Loading the {scale.value} data set (first run only)...")
        run_seed(scale.value, log=typer.echo)
    else:
        typer.echo("Reusing the data already in the database.")
    _print_demo_users()
    _train_models_if_needed()
    _reminders_if_needed()
    _plan_today_if_needed(runtime)
    _store_risk_scores()
    _store_lease_positions()
    _store_agent_months()
    if simulate:
        # The simulated phones all post from this machine: with the default per-address API limit they would
        # use it up within the minute and the demo's own API calls would answer 429.
        os.environ.setdefault("AKIG_API_RATE_PER_ADDRESS", "100000")
    simulator = _start_simulator(address, port, runtime) if simulate else None
    try:   # stopped by Ctrl-C, SIGTERM or SIGHUP (stop_like_ctrl_c): take the simulator along
        serving.run(port=port, address=address, num_procs=num_procs, runtime=runtime)
    finally:
        if simulator is not None:
            simulator.terminate()


def demo_processes(cores: int) -> int:
    """How many server processes the demo runs: one per two cores, at most 4. A process uses about one
    core (it builds a page's session under the GIL); the others are for PostgreSQL, Redis, the simulated
    agents and the browsers, often on the same machine. On 2 cores a second process bought little
    (`bench/pages.py --procs 2`, 8 browsers at once: first chart p95 13.7 s against 15.6 s, within the
    machine's noise) for twice the memory, and Tornado's forked processes share one port, so a page's
    websocket that reaches the other process builds its session a second time (docs/operations/scaling.md)."""
    return max(1, min(4, cores // 2))


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
