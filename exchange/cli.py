"""``csmatch load DIR`` and ``csmatch fixtures generate``: roster files in and out."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fixtures.cli import fixtures_group

if TYPE_CHECKING:  # csmatch.cli imports this module while registering area commands
    from csmatch.cli import CliContext


def default_actor() -> str:
    """Who is loading, for the audit log: ``$CSMATCH_ACTOR``, else ``cli:$USER`` (as the other commands)."""
    return os.environ.get("CSMATCH_ACTOR") or f"cli:{os.environ.get('USER', 'unknown')}"


@click.command("load")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Validate the files and report; write nothing.")
@click.option("--actor", default=default_actor, show_default="$CSMATCH_ACTOR or cli:$USER",
              help="Who loads the roster, for the audit log.")
@click.pass_obj
def load_command(obj: CliContext, directory: Path, check: bool, actor: str) -> None:
    """Load the roster CSV files in DIRECTORY (see docs/data-format.md).

    All or nothing: any bad row rejects the whole load, every problem is listed as
    file:line: column: message, and the exit status is 1.
    """
    from exchange.roster import RosterImportError, load_roster, validate_roster  # pandas: only when used

    try:
        with obj.session() as session:
            if check:
                roster = validate_roster(session, directory)
                rows = sum(len(table.rows) for table in roster.tables.values())
                click.echo(f"{directory}: {rows} rows in {len(roster.tables)} files are valid; nothing written.")
                for warning in roster.warnings:
                    click.echo(f"  warning: {warning}")
                return
            summary = load_roster(session, directory, actor=actor)
    except RosterImportError as exc:
        click.echo(f"Roster rejected, nothing was written: {len(exc.errors)} error(s).", err=True)
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None
    click.echo(str(summary))


commands: list[click.Command] = [load_command, fixtures_group]
