"""The `akig` command: database, import, demo data, queries and the server.

    akig db init                      create or upgrade the schema
    akig import PATH                  load a folder of CSV files or an .xlsx workbook (all or nothing)
    akig import statement FILE --owner OWN   reconcile an Orange Money / MTN MoMo merchant statement
    akig demo seed --scale demo       load the synthetic data set
    akig demo up                      db init + seed when empty + serve (what `make demo` runs)
    akig query NAME key=value ...     run any registered read (`akig query --list`)
    akig serve --port 5006            the one Panel server with every app and the HTTP endpoints
    akig users add|passwd|disable|enable|list|totp|token   accounts, second factor, API tokens
    akig audit verify|show            the hash-chained audit trail
    akig tenant export|erase REF      a tenant's personal data (JSON) / pseudonymise it
    akig missions generate --date D   plan day D's calls and visits (OR-Tools routes)
    akig model train|backtest|show    late-payment risk models (--as-of D: learn from what was known then)
    akig reminders plan|send|optout|enable   SMS reminders (the server plans and sends them by itself)

This module only puts the command groups together: each lives in its own module (akig_cli/db.py,
demo.py, users.py ...; import and query in data.py, serve in serve.py), with what they share in common.py.
"""

from __future__ import annotations

import typer

from akig_cli import (audit, data, db, demo, missions, model, positions, reminders, report, serve, simulate, tenant,
                      users)

app = typer.Typer(
    help="AKIG: rent-collection analytics (Conakry). Settings come from AKIG_* environment variables.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("import")(data.import_)
app.command("query")(data.query)
app.command("serve")(serve.serve)
app.add_typer(db.app, name="db")
app.add_typer(demo.app, name="demo")
app.add_typer(users.app, name="users")
app.add_typer(audit.app, name="audit")
app.add_typer(tenant.app, name="tenant")
app.add_typer(missions.app, name="missions")
app.add_typer(report.app, name="report")
app.add_typer(simulate.app, name="simulate")
app.add_typer(positions.app, name="positions")
app.add_typer(model.app, name="model")
app.add_typer(reminders.app, name="reminders")


if __name__ == "__main__":  # pragma: no cover
    app()
