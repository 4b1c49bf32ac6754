"""`strongroom user ...`: accounts of the web service: add, list, role, disable, enable, password, tokens."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from strongroom.accounts import service
from strongroom.accounts.model import UserRole
from strongroom.archive import current_operator
from strongroom.cli_common import HomeOption, JsonFlag, open_archive
from strongroom.cli_output import Command, Group, console, errors, fail, print_json

_ROLES = ", ".join(r.value for r in UserRole if r.assignable)

user_app = typer.Typer(
    help="Accounts of the web service (strongroom serve): people, their roles, passwords and API tokens.",
    no_args_is_help=True,
    cls=Group,
)

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input.")
]
Generate = Annotated[bool, typer.Option("--generate", help="Make a strong random password and print it once.")]


def _is_terminal() -> bool:
    return sys.stdin.isatty()


def _password(password_stdin: bool, generate: bool, as_json: bool = False) -> tuple[str, bool]:
    """The password to set, and whether it was generated (then it is printed once)."""
    if password_stdin and generate:
        fail("Give --password-stdin or --generate, not both.", as_json=as_json)
    if generate:
        return service.generate_password(), True
    if password_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line, False
    if not _is_terminal():
        hint = "Pipe it in with --password-stdin, or use --generate; on a terminal you are asked for it."
        fail("No password given.", as_json=as_json, hints=[hint])
    entered: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return entered, False


def _print_generated(password: str, as_json: bool) -> None:
    if not as_json:
        console().print(f"Password (shown once): [bold]{escape(password)}[/]", highlight=False)


@user_app.command(name="add", cls=Command)
def user_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The name the person signs in with (1-64 characters).")],
    role: Annotated[str, typer.Option("--role", help=f"One of: {_ROLES}.", show_default=False)] = "",
    full_name: Annotated[str, typer.Option("--full-name", help="The person's full name (shown in lists).")] = "",
    password_stdin: PasswordStdin = False,
    generate: Generate = False,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Add an account. The password comes from --password-stdin, --generate, or (on a terminal) a hidden prompt
    asked twice; it must be at least 12 characters and not the name."""
    if not role:
        fail(f"Give the account's role with --role: {_ROLES}.", as_json=as_json)
    password, generated = _password(password_stdin, generate, as_json)
    with errors(as_json), open_archive(ctx, home) as archive:
        user = service.add_user(archive, name, role, password, current_operator(), full_name)
    if as_json:
        print_json(service.user_json(user) | ({"password": password} if generated else {}))
        return
    console().print(f"Added account [bold]{escape(user.name)}[/] ({user.role.value}).", highlight=False)
    if generated:
        _print_generated(password, as_json)


@user_app.command(name="list", cls=Command)
def user_list(ctx: typer.Context, home: HomeOption = None, as_json: JsonFlag = False) -> None:
    """List the accounts: name, full name, role, enabled or disabled."""
    with errors(as_json), open_archive(ctx, home) as archive:
        users = service.list_users(archive)
    if as_json:
        print_json([service.user_json(u) for u in users])
        return
    if not users:
        console().print("No accounts yet. Add the first admin with: strongroom user add NAME --role admin")
        return
    table = Table("Name", "Full name", "Role", "State", "Created")
    for u in users:
        table.add_row(escape(u.name), escape(u.full_name), u.role.value, "disabled" if u.disabled else "enabled",
                      f"{u.created:%Y-%m-%d %H:%M}")  # fmt: skip
    console().print(table)


@user_app.command(name="role", cls=Command)
def user_role(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The account.")],
    role: Annotated[str, typer.Argument(help=f"The new role: {_ROLES}.")],
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Change an account's role. Its web sessions end; the last enabled admin cannot be demoted."""
    with errors(as_json), open_archive(ctx, home) as archive:
        user = service.set_role(archive, name, role, current_operator())
    if as_json:
        print_json(service.user_json(user))
    else:
        console().print(f"{escape(user.name)} now has the role {user.role.value}.", highlight=False)


def _access(ctx: typer.Context, name: str, disable: bool, home: Path | None, as_json: bool) -> None:
    with errors(as_json), open_archive(ctx, home) as archive:
        change = service.disable_user if disable else service.enable_user
        user = change(archive, name, current_operator())
    if as_json:
        print_json(service.user_json(user))
    else:
        said = "disabled: its sessions ended and its API tokens stopped working" if disable else "enabled"
        console().print(f"{escape(user.name)} is {said}.", highlight=False)


@user_app.command(name="disable", cls=Command)
def user_disable(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The account.")],
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Disable an account at once: its sessions end and its API tokens stop working (kept, for enabling again)."""
    _access(ctx, name, True, home, as_json)


@user_app.command(name="enable", cls=Command)
def user_enable(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The account.")],
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Enable a disabled account again."""
    _access(ctx, name, False, home, as_json)


@user_app.command(name="password", cls=Command)
def user_password(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The account.")],
    password_stdin: PasswordStdin = False,
    generate: Generate = False,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Set a new password for an account (its web sessions end)."""
    password, generated = _password(password_stdin, generate, as_json)
    with errors(as_json), open_archive(ctx, home) as archive:
        user = service.set_password(archive, name, password, current_operator())
    if as_json:
        print_json(service.user_json(user) | ({"password": password} if generated else {}))
        return
    console().print(f"Password of {escape(user.name)} changed.", highlight=False)
    if generated:
        _print_generated(password, as_json)


@user_app.command(name="token", cls=Command)
def user_token(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The account the token acts as.")],
    label: Annotated[str, typer.Option("--label", help="What the token is for.", show_default=False)] = "",
    expires_days: Annotated[
        int | None, typer.Option("--expires-days", min=1, max=3650, help="Days until it stops working.")
    ] = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Issue an API token for an account. The token is printed once: only its SHA-256 is kept."""
    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    with errors(as_json), open_archive(ctx, home) as archive:
        issued = service.issue_token(archive, name, label, current_operator(), expires)
    if as_json:
        print_json(service.token_json(issued.token, name) | {"secret": issued.secret})
        return
    out = console()
    out.print(f"Token {issued.token.id} for {escape(name)} (shown once; send it as 'Authorization: Bearer TOKEN'):",
              highlight=False)  # fmt: skip
    out.print(issued.secret, highlight=False, markup=False)


@user_app.command(name="tokens", cls=Command)
def user_tokens(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only this account's tokens.", show_default=False)] = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """List API tokens (never their text): id, account, label, state, last used, expiry."""
    with errors(as_json), open_archive(ctx, home) as archive:
        tokens = service.list_tokens(archive, name)
        names = service.holders(archive)
    rows = [service.token_json(t, names.get(t.user_key)) for t in tokens]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console().print("No API tokens.")
        return
    table = Table("Id", "Account", "Label", "State", "Last used", "Expires")
    for r in rows:
        table.add_row(str(r["id"]), escape(str(r["user"])), escape(str(r["label"])), str(r["state"]),
                      str(r["last_used"] or "never")[:16], str(r["expires"] or "never")[:10])  # fmt: skip
    console().print(table)


@user_app.command(name="revoke", cls=Command)
def user_revoke(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(help="The token's id (see: strongroom user tokens).")],
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Revoke an API token: it stops working at once."""
    with errors(as_json), open_archive(ctx, home) as archive:
        token = service.revoke_token(archive, token_id, current_operator())
        names = service.holders(archive)
    if as_json:
        print_json(service.token_json(token, names.get(token.user_key)))
    else:
        console().print(f"Token {token.id} revoked.", highlight=False)


def register_users(app: typer.Typer) -> None:
    """Adds the `user` command group."""
    app.add_typer(user_app, name="user")
