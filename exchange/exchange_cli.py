"""``csmatch exchange asf|asf-all|rtf|hsds``: the monthly files with providers (7003 VI.H.4) and the
HSDS directory export.

Each command is one transaction: an RTF import is applied whole or not at all (the exit status is 1
and every problem is listed as ``file:line: column: message``), and exports record their
disclosure in the audit log.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from exchange.asf import AsfExportError, export_asf, export_asf_all, parse_period
from exchange.hsds import export_hsds
from exchange.rtf import RtfImportError, RtfSummary, import_rtf, validate_rtf

if TYPE_CHECKING:  # csmatch.cli imports this module while registering area commands
    from csmatch.cli import CliContext

DATE = click.DateTime(formats=["%Y-%m-%d"])

_OPTION_FOR_FIELD = {"provider": "--provider", "period": "--period", "plan_id": "--plan-id",
                     "plan_name": "--plan-name"}


def _default_actor() -> str:
    return os.environ.get("CSMATCH_ACTOR") or f"cli:{os.environ.get('USER', 'unknown')}"


def _period(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        return parse_period(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _day(value: dt.datetime | None) -> dt.date:
    return value.date() if value is not None else dt.date.today()


plan_id_option = click.option(
    "--plan-id", default=lambda: os.environ.get("CSMATCH_PLAN_ID", "PHC"), show_default="$CSMATCH_PLAN_ID or PHC",
    help="The plan's id (mcp_id), also in the file name.")
plan_name_option = click.option(
    "--plan-name", default=lambda: os.environ.get("CSMATCH_PLAN_NAME", "Partnership HealthPlan of California"),
    show_default="$CSMATCH_PLAN_NAME or Partnership HealthPlan of California", help="The plan's name (mcp_name).")
actor_option = click.option("--actor", default=_default_actor, show_default="$CSMATCH_ACTOR or cli:$USER",
                            help="Who runs it, for the audit log.")
period_option = click.option("--period", required=True, callback=_period, help="Reporting period, YYYYMM.")
out_option = click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
                          help="Directory to write into (created if missing).")


@click.group("exchange")
def exchange() -> None:
    """Files exchanged with providers (CS-ASF out, CS-RTF in; 7003 VI.H.4) and the HSDS directory."""


@exchange.command("asf")
@click.option("--provider", "provider_id", required=True, help="Provider id.")
@period_option
@out_option
@plan_id_option
@plan_name_option
@click.option("--file-date", type=DATE, default=None, help="Date written in the file (default today).")
@actor_option
@click.pass_obj
def asf_command(
    obj: CliContext, provider_id: str, period: str, out_dir: Path, plan_id: str, plan_name: str,
    file_date: dt.datetime | None, actor: str,
) -> None:
    """Write one provider's CS Authorization Status File for a month."""
    try:
        with obj.session() as session:
            path = export_asf(session, provider_id, period, out_dir, plan_id=plan_id, plan_name=plan_name,
                              file_date=_day(file_date), actor=actor)
    except AsfExportError as exc:
        raise click.BadParameter(str(exc), param_hint=[_OPTION_FOR_FIELD.get(exc.field, exc.field)]) from None
    with open(path, newline="", encoding="utf-8") as handle:
        rows = sum(1 for _ in csv.DictReader(handle))
    click.echo(f"Wrote {path} ({rows} members).")


@exchange.command("asf-all")
@period_option
@out_option
@plan_id_option
@plan_name_option
@click.option("--file-date", type=DATE, default=None, help="Date written in the files (default today).")
@click.option("--include-empty", is_flag=True, help="Also write header-only files for providers with nobody.")
@actor_option
@click.pass_obj
def asf_all_command(
    obj: CliContext, period: str, out_dir: Path, plan_id: str, plan_name: str, file_date: dt.datetime | None,
    include_empty: bool, actor: str,
) -> None:
    """Write the CS-ASF of every provider with members to list for a month."""
    try:
        with obj.session() as session:
            paths = export_asf_all(session, period, out_dir, plan_id=plan_id, plan_name=plan_name,
                                   file_date=_day(file_date), actor=actor, include_empty=include_empty)
    except AsfExportError as exc:
        raise click.BadParameter(str(exc), param_hint=[_OPTION_FOR_FIELD.get(exc.field, exc.field)]) from None
    for path in paths:
        click.echo(str(path))
    click.echo(f"Wrote {len(paths)} CS-ASF files into {out_dir}.")


def _echo_summary(summary: RtfSummary) -> None:
    click.echo(
        f"{summary.file}: {summary.rows} rows applied: {len(summary.accepted)} accepted, "
        f"{len(summary.declined)} declined, {len(summary.closed)} closed, {summary.pending} pending, "
        f"{summary.unchanged} already applied; {summary.outreach_attempts} outreach attempts recorded; "
        f"{len(summary.capacity_reports)} capacity reports."
    )
    if not summary.changed:
        click.echo("Nothing changed (the file was already applied).")
    for contract_id in summary.re_solved:
        click.echo(f"Re-solved at once: contract {contract_id}'s capacity changed.")
    for note in summary.reported_changes:
        click.echo(f"  reported, not applied (members come from the roster): {note}")
    for warning in summary.warnings:
        click.echo(f"  warning: {warning}")


@exchange.command("rtf")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Validate the file and report; apply nothing.")
@click.option("--plan-id", default=None, help="If given, every row's mcp_id must be this plan.")
@actor_option
@click.pass_obj
def rtf_command(obj: CliContext, file: Path, check: bool, plan_id: str | None, actor: str) -> None:
    """Import a provider's CS Return Transmission File.

    All or nothing: any bad row rejects the whole file, every problem is listed as
    file:line: column: message, and the exit status is 1.
    """
    try:
        with obj.session() as session:
            if check:
                plan = validate_rtf(session, file, plan_id=plan_id)
                click.echo(f"{file.name}: {plan.rows} rows are valid; nothing applied.")
                for warning in plan.warnings:
                    click.echo(f"  warning: {warning}")
                return
            summary = import_rtf(session, file, actor=actor, plan_id=plan_id)
    except RtfImportError as exc:
        click.echo(f"CS-RTF rejected, nothing was applied: {len(exc.errors)} error(s).", err=True)
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None
    _echo_summary(summary)


@exchange.command("hsds")
@out_option
@click.option("--as-of", type=DATE, default=None, help="Contracts in effect on this date (default today).")
@plan_name_option
@click.pass_obj
def hsds_command(obj: CliContext, out_dir: Path, as_of: dt.datetime | None, plan_name: str) -> None:
    """Write the provider directory as Open Referral HSDS 3.0 CSV files."""
    with obj.session() as session:
        paths = export_hsds(session, out_dir, as_of=_day(as_of), plan_name=plan_name)
    click.echo(f"Wrote {len(paths)} HSDS files into {out_dir}.")


commands: list[click.Command] = [exchange]
