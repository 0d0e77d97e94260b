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
    from placement.services import _default_eligibility
    from placement.snapshot import Scope, load_snapshot

    day = on_date.date() if on_date else dt.date.today()
    with obj.session() as session:
        snapshot = load_snapshot(session, day, scope=Scope(service=service), eligibility=_default_eligibility())
    problem = build_problem(snapshot.data)
    write_problem(problem, output)
    click.echo(f"Wrote {problem.n_referrals} referrals, {problem.n_sites} sites, {problem.n_arcs} arcs to {output}")


commands = [propose_command, export_problem_command]


@click.command("rebalance")
@click.option("--dry-run", is_flag=True, help="Print the diff (moved, newly placed, newly unplaced); write nothing.")
@click.option("--on", "on_date", type=click.DateTime(["%Y-%m-%d"]), default=None, help="As of (default today).")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("instance/reports"),
              show_default=True, help="Where the run report (CSV and HTML) goes.")
@click.option("--actor", default="nightly", show_default=True)
@pass_context
def rebalance_command(obj: CliContext, dry_run: bool, on_date: dt.datetime | None, report_dir: Path,
                      actor: str) -> None:
    """Re-solve every open, not-yet-accepted referral in one transaction (safe to schedule with cron)."""
    import sys
    import time

    from placement.rebalance import RebalanceRunning, rebalance, release_big_blocks_when_freed, write_run_report

    release_big_blocks_when_freed()  # a statewide run's solver temporaries: see its docstring
    day = on_date.date() if on_date else dt.date.today()
    started = time.perf_counter()
    stages = ["locked", "solving", "written" if not dry_run else "diff ready"]
    if sys.stderr.isatty():
        bar = click.progressbar(length=len(stages), label="rebalance", file=sys.stderr)

        def progress(stage: str) -> None:
            bar.update(1)
    else:
        def progress(stage: str) -> None:
            click.echo(f"rebalance: {stage} ({time.perf_counter() - started:.1f} s)", err=True)
    try:
        with obj.session() as session:
            progress("locked")
            outcome = rebalance(session, on_date=day, actor=actor, dry_run=dry_run, progress=progress)
            if dry_run:
                session.rollback()
    except RebalanceRunning as exc:
        raise click.ClickException(str(exc)) from exc
    csv_path, html_path = write_run_report(outcome, report_dir, dry_run=dry_run)
    summary = outcome.summary
    click.echo(f"{'Dry run, nothing written' if dry_run else f'Run {outcome.run_id} committed'}: "
               f"{len(outcome.snapshot.data.referrals)} open referrals; "
               + ", ".join(f"{k.lower().replace('_', ' ')} {v}" for k, v in summary.items()))
    if dry_run:
        for c in outcome.changes:
            if c.kind in ("MOVED", "NEWLY_PLACED", "NEWLY_UNPLACED"):
                click.echo(f"  {c.kind:15s} {c.referral_id}: {c.from_provider or '-'} -> {c.to_provider or '-'}"
                           f" ({c.reason})")
    click.echo(f"Report: {csv_path} and {html_path} ({time.perf_counter() - started:.1f} s)")


commands.append(rebalance_command)
