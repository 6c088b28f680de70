"""`akig missions generate --date D`: plan day D's calls and visits (OR-Tools routes)."""

from __future__ import annotations

from typing import Optional

import typer

from akig_cli.common import fail, open_runtime, parse_day

app = typer.Typer(help="The collection team's daily missions.", no_args_is_help=True)


@app.command("generate")
def missions_generate(date: Optional[str] = typer.Option(None, help="the day to plan (YYYY-MM-DD, default today)")) -> None:
    """Turn the late leases and the promises due into calls and visits, assign them, order the visits."""
    from akig_data.writes import missions
    from akig_data.errors import AkigError

    day = parse_day(date)
    open_runtime()
    try:
        report = missions.generate(day)
    except AkigError as exc:
        fail(str(exc), code=2)
        return
    typer.echo(f"{report.day}: {report.planned_visits} visits and {report.planned_calls} calls planned "
               f"({report.kept_done} already done kept), {report.unassigned} candidates without an agent, "
               f"{report.dropped_visits} visits did not fit the day; {report.distance_km} km of routes, "
               f"solved in {report.solve_seconds} s; chance to pay from the {report.chance_from}")
