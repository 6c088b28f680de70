"""`akig simulate agents`: simulated agents posting GPS fixes, for the demo, tests and benchmarks."""

from __future__ import annotations

from typing import Optional

import typer

from akig_cli.common import fail, open_runtime

app = typer.Typer(help="Simulated agents for the demo, tests and benchmarks.", no_args_is_help=True)


@app.command("agents")
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
        fail(f"--mode must be walk or moto (got {mode!r})", code=2)
        return
    open_runtime()
    if not simulator.wait_for_server(url, timeout_s=180):
        fail(f"no AKIG server answers at {url}", code=1)
        return
    fleet = simulator.prepare(agents)
    if not fleet:
        fail("no agent has visits planned today: run `akig missions generate` first", code=2)
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
