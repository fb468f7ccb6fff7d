"""``filiation registry user …`` and ``token …``: users, roles and API tokens."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from filiation.cli.common import err, escape, out
from filiation.cli.output import Column
from filiation.cli.registry.base import O, acting_user, formatted, print_table, registry
from filiation.domain import listed
from filiation.service.registry import Role

app = typer.Typer()
user_app = typer.Typer(help="Registry users and their roles.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for scripts.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")


# -- users and tokens -----------------------------------------------------------------------------
def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ @ -).")],
    role: Annotated[str, O("--role", help=f"{listed(Role, ' or ')}.")] = "viewer",
    password_stdin: Annotated[
        bool, O("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
    no_password: Annotated[
        bool, O("--no-password", help="No password: the user acts through the CLI or tokens only.")
    ] = False,
) -> None:
    """Add a user (the first one must be an admin; then only admins add users)."""
    reg = registry()
    actor = None if not reg.users() else acting_user(reg)
    password = None if no_password else _password(password_stdin)
    u = reg.add_user(name, role, password, actor=actor)
    err.print(f"added {escape(u.name)} ({u.role})")


@user_app.command("list")
@formatted
def user_list(fmt: str = "table") -> None:
    """Users and their roles."""
    items = registry().users()
    print_table(
        (Column("name", "id"), Column("role", drop=2), Column("disabled", drop=1)),
        ((u.name, u.role, "disabled" if u.disabled else "") for u in items),
        fmt=fmt,
        data=items,
    )


@user_app.command("role")
def user_role(name: str, role: str) -> None:
    """Change a user's role (admins only)."""
    reg = registry()
    u = reg.set_role(name, role, actor=acting_user(reg))
    err.print(f"{escape(u.name)} is now {u.role}")


@user_app.command("password")
def user_password(
    name: str,
    password_stdin: Annotated[bool, O("--password-stdin")] = False,
) -> None:
    """Set a user's password (your own, or anyone's for an admin)."""
    reg = registry()
    reg.set_password(name, _password(password_stdin), actor=acting_user(reg))
    err.print("password changed")


@user_app.command("disable")
def user_disable(name: str) -> None:
    """Disable a user and revoke their tokens (admins only; never deleted)."""
    reg = registry()
    reg.disable_user(name, actor=acting_user(reg))
    err.print(f"disabled {escape(name)}")


@token_app.command("create")
def token_create(
    for_user: Annotated[
        str | None, O("--for", help="User the token acts as (default: you).")
    ] = None,
    name: Annotated[str | None, O("--name", help="What the token is for.")] = None,
) -> None:
    """Create an API token; it is printed once (only its digest is kept)."""
    reg = registry()
    actor = acting_user(reg)
    token = reg.create_token(for_user or actor.name, name, actor=actor)
    out.print(token, markup=False)
    err.print("keep it now: it cannot be shown again. Send it as 'Authorization: Bearer …'.")


@token_app.command("list")
@formatted
def token_list(fmt: str = "table") -> None:
    """API tokens (never the secrets)."""
    items = registry().tokens()
    print_table(
        (
            Column("id", "number"),
            Column("user", "id", drop=3),
            Column("name", drop=1),
            Column("state", drop=2),
        ),
        ((t.id, t.user, t.name or "", "revoked" if t.revoked_at else "active") for t in items),
        fmt=fmt,
        data=items,
        key="id",
    )


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke an API token."""
    reg = registry()
    reg.revoke_token(token_id, actor=acting_user(reg))
    err.print(f"revoked token {token_id}")
