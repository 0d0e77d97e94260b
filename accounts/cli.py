"""``csmatch user ...``: create users and API tokens."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import click

from accounts.models import Role
from accounts.services import AccountError, create_user, get_user_by_email, issue_token

if TYPE_CHECKING:  # csmatch.cli imports this module while registering area commands
    from csmatch.cli import CliContext

pass_context = click.pass_obj


@click.group("user")
def user() -> None:
    """Users who sign in to the dashboard, and API tokens for scripts."""


@user.command("add")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]), help="What the user does.")
@click.option("--provider", "provider_id", default=None, help="Provider id (required for --role provider).")
@click.option("--password", default=None,
              help="At least 12 characters; default: a random one, printed once.")
@pass_context
def user_add(obj: CliContext, email: str, role: str, provider_id: str | None, password: str | None) -> None:
    """Create a user who signs in with EMAIL."""
    generated = password is None
    password = password or secrets.token_urlsafe(12)
    try:
        with obj.session() as session:
            created = create_user(session, email, role, password=password, provider_id=provider_id)
            email = created.email
    except AccountError as exc:
        hint = ["--provider"] if "provider" in str(exc) else (["--password"] if "password" in str(exc) else None)
        raise click.BadParameter(str(exc), param_hint=hint) from None
    click.echo(f"Created {role} {email}" + (f" for provider {provider_id}" if provider_id else "") + ".")
    if generated:
        click.echo(f"Password (shown once): {password}")


@user.command("token")
@click.argument("email")
@click.option("--name", default="", help="What the token is for, e.g. 'nightly export'.")
@pass_context
def user_token(obj: CliContext, email: str, name: str) -> None:
    """Create an API token for EMAIL and print it (it is shown only once)."""
    with obj.session() as session:
        found = get_user_by_email(session, email)
        if found is None:
            raise click.BadParameter(f"no user with e-mail {email!r}", param_hint=["EMAIL"])
        if not found.active:
            raise click.BadParameter(f"user {email!r} is inactive", param_hint=["EMAIL"])
        _, plain = issue_token(session, found, name)
    click.echo(plain)


commands: list[click.Command] = [user]
