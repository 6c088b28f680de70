"""`akig model train|backtest|score|show`: the late-payment models (akig_data/risk).

Training and backtests are CPU work (gradient-boosted trees): --max-iter keeps them short, and scikit-learn's
threads follow OMP_NUM_THREADS.
"""

from __future__ import annotations

from typing import Optional

import typer

from akig_cli.common import fail, open_runtime

app = typer.Typer(help="Late-payment risk models: train, backtest, store the day's scores, show the stored ones.", no_args_is_help=True)


def _as_of(value: Optional[str]):
    """--as-of: YYYY-MM-DD, default today in Conakry (a wrong date exits 2, as --date does elsewhere)."""
    from akig_cli.common import parse_day

    return parse_day(value)


@app.command("train")
def train(
    as_of: Optional[str] = typer.Option(None, "--as-of", help="YYYY-MM-DD: learn from the dues known before this day (default today)"),
    months: int = typer.Option(24, help="months of history to learn from"),
    max_iter: int = typer.Option(200, help="boosting iterations"),
    holdout_days: int = typer.Option(61, help="days of the newest snapshots held out for the stored metrics (0: none)"),
) -> None:
    """Train the 10-day and 30-day late-payment models and the chance to pay after a visit on what is known before --as-of; store them (newest = served)."""
    from akig_data.risk import model, visits

    open_runtime()
    day = _as_of(as_of)
    for horizon in (10, 30):
        try:
            trained = model.train(day, horizon, months=months, max_iter=max_iter, holdout_days=holdout_days)
        except ValueError as exc:
            fail(str(exc), code=2)
        model_id = model.store(trained)
        held = trained.metrics.get("holdout")
        typer.echo(f"model {model_id}: {horizon} days, {trained.metrics['rows']} rows "
                   f"({trained.window[0]} .. {trained.window[1]}), late {trained.metrics['late_share']:.1%}, "
                   f"{trained.metrics['calibration']}"
                   + (f", hold-out AUC {held['auc']:.3f} Brier {held['brier']:.4f}" if held else ""))
    try:
        trained = visits.train(day, months=months, max_iter=max_iter, holdout_days=holdout_days)
    except ValueError as exc:   # no visits yet: the missions keep the rule, which is not an error
        typer.echo(f"chance to pay after a visit: {exc}; the missions keep the rule")
        return
    model_id = model.store(trained)
    held, rule = trained.metrics.get("holdout"), trained.metrics.get("holdout_rule")
    typer.echo(f"model {model_id}: paid within {trained.horizon} days of a visit, {trained.metrics['rows']} visits "
               f"({trained.window[0]} .. {trained.window[1]}), paid {trained.metrics['paid_share']:.1%}, "
               f"{trained.metrics['calibration']}"
               + (f", hold-out AUC {held['auc']:.3f} Brier {held['brier']:.4f} (rule: AUC {rule['auc']:.3f} "
                  f"Brier {rule['brier']:.4f})" if held else ""))


@app.command("backtest")
def backtest(
    as_of: Optional[str] = typer.Option(None, "--as-of", help="YYYY-MM-DD: the day after the data's last day (default today)"),
    origins: int = typer.Option(12, help="monthly origins"),
    months: int = typer.Option(24, help="months of history each origin learns from"),
    max_iter: int = typer.Option(150, help="boosting iterations"),
) -> None:
    """Rolling-origin backtest of the models and the cash forecast against naive baselines; prints Markdown tables."""
    from akig_data.risk import backtest as bt

    open_runtime()
    try:
        result = bt.run(_as_of(as_of), origins=origins, months=months, max_iter=max_iter)
    except ValueError as exc:
        fail(str(exc), code=2)
    typer.echo(bt.render(result))


@app.command("score")
def score(
    as_of: Optional[str] = typer.Option(None, "--as-of", help="YYYY-MM-DD: the day whose scores are stored (default today)"),
) -> None:
    """Store the day's risk scores and cash forecast (what the server's scheduled task does every 10 minutes), so that the reads answer from them."""
    from akig_data.risk import stored_scores

    open_runtime()
    day = _as_of(as_of)
    run = stored_scores.store(day)
    if run is None:
        typer.echo(f"{day}: already stored, or a write changed the figures while they were computed (run it again)")
        return
    typer.echo(f"{day}: {run.leases} leases and {run.forecast_rows} forecast rows stored in {run.seconds} s "
               f"(run {run.run_id}, {run.models})")


@app.command("show")
def show() -> None:
    """The stored models, newest first: id, horizon, version, training window and metrics."""
    from akig_data.risk import model

    open_runtime()
    rows = model.stored()
    for r in rows:
        typer.echo(f"{r.id:>4} {r.target:<16} {r.horizon_days:>3} d  {r.version}  as of {r.trained_as_of}  "
                   f"({r.window_from} .. {r.window_to})  {r.metrics}")
    if not rows:
        typer.echo("no model stored yet: akig model train")
