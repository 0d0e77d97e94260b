"""``csmatch propose``, ``csmatch export-problem``: the matcher run against the database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from csmatch.cli import CliContext, pass_context


@click.command("propose")
@click.option("--service", default=None, help="Only this service key (e.g. HOUSING_NAV).")
@click.option("--county", "counties", multiple=True, help="Only members in this county (repeatable).")
@click.option("--on", "on_date", type=click.DateTime(["%Y-%m-%d"]), default=None, help="As of (default today).")
@click.option("--actor", default="cli", show_default=True)
@click.option("--dry-run", is_flag=True, help="Print what would change; write nothing.")
@pass_context
def propose_command(obj: CliContext, service: str | None, counties: tuple[str, ...], on_date: dt.datetime | None,
                    actor: str, dry_run: bool) -> None:
    """Solve the open referrals and record the proposal (one transaction)."""
    from placement.models import RunTrigger
    from placement.services import run_solver
    from placement.snapshot import Scope

    scope = Scope(service=service, counties=frozenset(counties) if counties else None)
    day = on_date.date() if on_date else dt.date.today()
    with obj.session() as session:
        outcome = run_solver(session, on_date=day, actor=actor, trigger=RunTrigger.MANUAL, scope=scope,
                             dry_run=dry_run)
    s = outcome.solution
    click.echo(f"{'Dry run' if dry_run else f'Run {outcome.run_id}'}: {len(outcome.snapshot.data.referrals)} "
               f"referrals, {s.placed} placed, {len(s.unplaced)} unplaced; changes {outcome.summary}")


@click.command("export-problem")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--service", default=None)
@click.option("--on", "on_date", type=click.DateTime(["%Y-%m-%d"]), default=None)
@pass_context
def export_problem_command(obj: CliContext, output: Path, service: str | None, on_date: dt.datetime | None) -> None:
    """Write the database's open referrals as a problem file (``csmatch solve`` reads it)."""
    from matcher.build import build_problem
    from matcher.io import write_problem
    from placement.snapshot import Scope, load_snapshot
    from placement.services import _default_eligibility

    day = on_date.date() if on_date else dt.date.today()
    with obj.session() as session:
        snapshot = load_snapshot(session, day, scope=Scope(service=service), eligibility=_default_eligibility())
    problem = build_problem(snapshot.data)
    write_problem(problem, output)
    click.echo(f"Wrote {problem.n_referrals} referrals, {problem.n_sites} sites, {problem.n_arcs} arcs to {output}")


commands = [propose_command, export_problem_command]
