"""The ``csmatch`` command: one click group, one verb per command, each area adding its own.

Each command opens one session and commits once (or not at all), so an import, a solve or a
rebalance is one transaction.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import click
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from csmatch import migrate
from csmatch.db import database_url, make_engine, make_session_factory, session_scope

# Modules exposing ``commands: list[click.Command]`` to add to the top-level group.
AREA_CLI_MODULES = [
    "matcher.cli",
    "exchange.cli",
    "exchange.exchange_cli",
    "accounts.cli",
    "placement.cli",
    "csmatch.demo",
    "capacity.cli",
    "referrals.cli",
    "reports.cli",
]


@dataclass
class CliContext:
    """What every command shares: the database URL, and an engine made on first use."""

    url: str
    _engine: Engine | None = field(default=None, repr=False)
    _factory: sessionmaker[Session] | None = field(default=None, repr=False)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    def close(self) -> None:
        """Release the pooled connections when the command ends."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._factory = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back on any error."""
        if self._factory is None:
            self._factory = make_session_factory(self.engine)
        with session_scope(self._factory) as session:
            yield session


pass_context = click.make_pass_decorator(CliContext)


@click.group()
@click.option("--database-url", "url", envvar="DATABASE_URL", default=None,
              help="SQLAlchemy URL; default: the embedded SQLite file instance/csmatch.sqlite.")
@click.pass_context
def main(ctx: click.Context, url: str | None) -> None:
    """csmatch: place Community Supports referrals with contracted providers that have room."""
    ctx.obj = CliContext(url=database_url(url))
    ctx.call_on_close(ctx.obj.close)


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_context
def db_upgrade(obj: CliContext, revision: str) -> None:
    """Create or upgrade the schema, then make sure the service catalogue is loaded."""
    migrate.upgrade(engine=obj.engine, revision=revision)
    from csmatch.seed import sync_services

    with obj.session() as session:
        changed = sync_services(session)
    click.echo(f"Database at {revision} ({obj.engine.url.render_as_string(hide_password=True)}); "
               f"service catalogue: {changed} rows added or updated.")


@db.command("check")
@pass_context
def db_check(obj: CliContext) -> None:
    """Fail if the models and the migrations disagree."""
    migrate.check(obj.url)
    click.echo("Models and migrations agree.")


@db.command("prune-changes")
@pass_context
def db_prune_changes(obj: CliContext) -> None:
    """Cut the referral change log (csmatch.changes); the nightly rebalance does it on each run.

    For a database that runs no nightly rebalance, schedule this instead: the log grows with every
    write. Report pages read their periods afresh once after it.
    """
    from csmatch.changes import prune_changes

    with obj.session() as session:
        removed = prune_changes(session.connection())
    click.echo(f"Referral change log cut: removed {removed:,} of its rows.")


def _register_area_commands() -> None:
    for name in AREA_CLI_MODULES:
        module = importlib.import_module(name)
        for command in module.commands:
            main.add_command(command)


_register_area_commands()
