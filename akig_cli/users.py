"""`akig users add|passwd|disable|enable|list|totp|token|devices`: accounts, second factor, API tokens, and the
agents' phones (device tokens)."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from akig_cli.common import fail, open_runtime, user_command

app = typer.Typer(help="Accounts: roles, passwords, TOTP second factor, API tokens, phones.", no_args_is_help=True)


def _password(password_stdin: bool, confirm: bool = True) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("Mot de passe", hide_input=True, confirmation_prompt=confirm)


@app.command("add")
def users_add(
    username: str = typer.Argument(..., help="login name (a-z, 0-9, . _ -)"),
    role: str = typer.Option(..., help="admin, manager, owner, agent, analyst or ops"),
    owner: Optional[str] = typer.Option(None, help="owner_ref the account stands for (role owner)"),
    agent: Optional[str] = typer.Option(None, help="agent_ref the account stands for (role agent)"),
    password_stdin: bool = typer.Option(False, help="read the password from standard input"),
) -> None:
    """Create an account (the password is asked twice, never echoed, stored as an argon2id hash)."""
    from akig_data.writes import users

    password = _password(password_stdin)
    user = user_command(users.add, username, password, role, owner_ref=owner, agent_ref=agent)
    typer.echo(f"created {user.username} ({user.role})"
               + (" — second factor required: enrolment at first login or `akig users totp`" if user.role in users.TOTP_REQUIRED else ""))


@app.command("passwd")
def users_passwd(username: str, password_stdin: bool = typer.Option(False, help="read the password from standard input")) -> None:
    """Set a new password (the account's open sessions end)."""
    from akig_data.writes import users

    user_command(users.set_password, username, _password(password_stdin))
    typer.echo(f"password changed for {username}")


@app.command("disable")
def users_disable(username: str) -> None:
    """Disable an account: no login, its sessions and API token stop working."""
    from akig_data.writes import users

    user_command(users.set_active, username, False)
    typer.echo(f"{username} disabled")


@app.command("enable")
def users_enable(username: str) -> None:
    """Re-enable a disabled account."""
    from akig_data.writes import users

    user_command(users.set_active, username, True)
    typer.echo(f"{username} enabled")


@app.command("list")
def users_list() -> None:
    """Every account with its role, what it stands for, second factor and token state."""
    from akig_data.writes import users

    open_runtime()
    for u in users.list_users():
        stands = u.owner_ref or u.agent_ref or ""
        typer.echo(f"{u.username:<20} {u.role:<8} {stands:<10} {'active' if u.active else 'DISABLED':<8} "
                   f"totp={'yes' if u.totp_confirmed else 'no':<3} token={'yes' if u.token_created_at else 'no'}")


@app.command("totp")
def users_totp(
    username: str,
    remove: bool = typer.Option(False, "--remove", help="remove the second factor instead"),
    confirm: Optional[str] = typer.Option(None, help="a 6-digit code from the app, to confirm the enrolment"),
) -> None:
    """Enrol a TOTP second factor: prints the otpauth URI and a QR code to scan, then confirm with --confirm."""
    from akig_data.writes import users

    if remove:
        user_command(users.remove_totp, username)
        typer.echo(f"second factor removed for {username}")
        return
    if confirm is not None:
        ok = user_command(users.confirm_totp, username, confirm)
        if not ok:
            fail("code refusé (vérifiez l'heure du téléphone)", code=2)
        typer.echo(f"second factor confirmed for {username}")
        return
    import io

    import qrcode

    secret = user_command(users.begin_totp, username)
    uri = users.totp_uri(users.get(username), secret)
    qr = qrcode.QRCode(border=1)
    qr.add_data(uri)
    buffer = io.StringIO()
    qr.print_ascii(out=buffer, invert=True)
    typer.echo(buffer.getvalue())
    typer.echo(f"{uri}\nThen: akig users totp {username} --confirm CODE")


@app.command("token")
def users_token(username: str, revoke: bool = typer.Option(False, "--revoke", help="remove the token")) -> None:
    """Issue a new API token (the previous one stops working); printed once, stored hashed."""
    from akig_data.writes import users

    if revoke:
        user_command(users.revoke_token, username)
        typer.echo(f"token revoked for {username}")
        return
    typer.echo(user_command(users.rotate_token, username))


@app.command("devices")
def users_devices(
    username: str,
    revoke: Optional[int] = typer.Option(None, "--revoke", metavar="ID", help="revoke this device (a lost phone)"),
) -> None:
    """List the phones logged in to this account (the agents' app's device tokens), or revoke one."""
    from akig_data.clock import TZ
    from akig_data.errors import AkigError
    from akig_data.writes import users

    if revoke is not None:
        device = user_command(users.revoke_device, username, revoke)
        typer.echo(f"device {device.id} ({device.label or 'no label'}) revoked for {username}")
        return
    open_runtime()
    try:
        devices = users.list_devices(username)
    except AkigError as exc:
        fail(str(exc), code=2)
    if not devices:
        typer.echo(f"no device for {username}")
        return

    def moment(value) -> str:
        return f"{value.astimezone(TZ):%Y-%m-%d %H:%M}" if value is not None else "never"

    typer.echo(f"{'ID':>6}  {'CREATED':<16}  {'LAST USED':<16}  {'STATE':<40}  LABEL")
    for d in devices:
        state = "active" if d.active else f"revoked {moment(d.revoked_at)} by {d.revoked_by}"
        typer.echo(f"{d.id:>6}  {moment(d.created_at):<16}  {moment(d.last_used_at):<16}  {state:<40}  "
                   f"{d.label or '-'}")
