"""`akig reminders plan|send|optout|enable|show`: the SMS reminders from the shell (the server plans and
sends them by itself every minute; these are for a first run, a cron job or a check)."""

from __future__ import annotations

from typing import Optional

import typer

from akig_cli.common import fail, open_runtime, parse_day

app = typer.Typer(help="SMS reminders: plan the day's ladder, send what is due, opt-outs.", no_args_is_help=True)


@app.command("plan")
def reminders_plan(date: Optional[str] = typer.Option(None, help="the day (YYYY-MM-DD, default today)")) -> None:
    """Queue the messages the ladders ask for on that day (planning twice adds nothing)."""
    from akig_data.errors import AkigError
    from akig_data.reminders import outbox

    day = parse_day(date)
    open_runtime()
    try:
        typer.echo(str(outbox.plan(day)))
    except AkigError as exc:
        fail(str(exc), code=2)


@app.command("send")
def reminders_send(limit: int = typer.Option(500, min=1, help="at most this many messages")) -> None:
    """Send the queued messages that are due now (not in the quiet hours), each at most once, by
    AKIG_SMS_PROVIDER."""
    from akig_data.errors import AkigError
    from akig_data.reminders import outbox
    from akig_data.reminders.providers import PermanentFailure

    open_runtime()
    try:
        typer.echo(str(outbox.send_due(limit=limit)))
    except (AkigError, PermanentFailure) as exc:
        fail(str(exc), code=2)


@app.command("optout")
def reminders_optout(phone: str = typer.Argument(..., help="the tenant's number (+224 …, 00224 …, 6…)"),
                     note: Optional[str] = typer.Option(None, help="why (kept with the opt-out)")) -> None:
    """No reminder to this number any more, for good (its queued messages are cancelled)."""
    from akig_data.errors import AkigError
    from akig_data.reminders import outbox

    open_runtime()
    try:
        typer.echo(f"{outbox.opt_out(phone, note=note)} : désinscrit des relances.")
    except AkigError as exc:
        fail(str(exc), code=2)


@app.command("enable")
def reminders_enable(owner: str = typer.Argument(..., help="the owner (e.g. OWN-0001)"),
                     merchant: str = typer.Option(..., help="his mobile-money merchant number, said in the messages"),
                     holdout: float = typer.Option(0.0, help="share of his leases held out to measure the effect (0 to 0.5)"),
                     off: bool = typer.Option(False, "--off", help="switch his reminders off instead")) -> None:
    """Switch an owner's reminders on (or off) with the default ladder or his own."""
    from akig_data.errors import AkigError
    from akig_data.reminders import policies

    open_runtime()
    try:
        state = policies.set_policy(owner, enabled=not off, merchant_number=merchant, holdout_share=holdout)
    except AkigError as exc:
        fail(str(exc), code=2)
        return
    typer.echo(f"{owner} : relances {'activées' if state['enabled'] else 'désactivées'}, numéro marchand "
               f"{state['merchant_number']}, part témoin {state['holdout_share']:.0%}.")
