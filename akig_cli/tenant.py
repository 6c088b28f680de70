"""`akig tenant export|erase REF`: a tenant's personal data (JSON) / pseudonymise it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from akig_cli.common import user_command

app = typer.Typer(help="A tenant's personal data.", no_args_is_help=True)


@app.command("export")
def tenant_export(tenant_ref: str, out: Optional[Path] = typer.Option(None, help="write to this file instead of stdout")) -> None:
    """Everything held about a tenant, as JSON (identity, leases, payments, promises, calls, visits)."""
    import json

    from akig_data.writes import privacy

    data = user_command(privacy.export_tenant, tenant_ref)
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if out:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"written {out}")
    else:
        typer.echo(text)


@app.command("erase")
def tenant_erase(tenant_ref: str, yes: bool = typer.Option(False, "--yes", help="do not ask for confirmation")) -> None:
    """Pseudonymise a tenant (name, phone, e-mail, notes); the money history is kept."""
    from akig_data.writes import privacy

    if not yes:
        typer.confirm(f"Effacer l'identité et les coordonnées de {tenant_ref} ?", abort=True)
    changed = user_command(privacy.erase_tenant, tenant_ref)
    typer.echo(f"{tenant_ref} erased: " + ", ".join(f"{k} {v}" for k, v in changed.items()))
