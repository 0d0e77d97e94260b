"""``csmatch report ...``: the quarterly oversight reports as tidy CSV files (7003 VI.B.4, VI.I).

Each command reads (never writes) the database and writes its CSV files into ``--out``; the columns
are documented in ``docs/reports.md``. A period is ``--quarter 2026Q4`` or ``--from``/``--to``
(both days included).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import pandas as pd

from csmatch.calendar import CalendarRangeError
from reports.common import Period
from reports.equity import equity_report
from reports.fourfifths import DEFAULT_ALPHA, DEFAULT_MIN_GROUP_SIZE
from reports.oversight import referral_events, timeliness, utilization

if TYPE_CHECKING:  # csmatch.cli imports this module while registering area commands
    from csmatch.cli import CliContext

__all__ = ["commands", "report", "write_csv"]

# the CliContext is the group's obj (csmatch.cli.pass_context finds the same object)
pass_context = click.pass_obj
DATE = click.DateTime(formats=["%Y-%m-%d"])


def write_csv(frame: pd.DataFrame, out: Path, name: str) -> Path:
    """Write ``frame`` as ``out/name`` (UTF-8, ISO dates, empty cells for missing values)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    frame.to_csv(path, index=False, date_format="%Y-%m-%d", float_format="%.6g")
    return path


def _period(quarter: str | None, start: dt.datetime | None, end: dt.datetime | None) -> Period:
    """The period chosen by ``--quarter`` or by ``--from`` and ``--to``."""
    if quarter is not None:
        if start is not None or end is not None:
            raise click.BadParameter("give --quarter or --from/--to, not both", param_hint=["--quarter"])
        try:
            return Period.quarter(quarter)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint=["--quarter"]) from error
    if start is None or end is None:
        raise click.BadParameter("give --quarter, or both --from and --to", param_hint=["--from", "--to"])
    try:
        return Period(start.date(), end.date())
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=["--from", "--to"]) from error


def _period_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
                           help="Directory to write the CSV files into (created if missing).")(command)
    command = click.option("--to", "end", type=DATE, default=None, help="Last day of the period (YYYY-MM-DD).")(command)
    command = click.option("--from", "start", type=DATE, default=None,
                           help="First day of the period (YYYY-MM-DD).")(command)
    command = click.option("--quarter", default=None, help="A calendar quarter such as 2026Q4.")(command)
    return command


@click.group("report")
def report() -> None:
    """Oversight reports as CSV: equity (7003 VI.B.4), utilization, referrals, timeliness (VI.I.1)."""


@report.command("equity")
@_period_options
@click.option("--min-group-size", default=DEFAULT_MIN_GROUP_SIZE, show_default=True, type=click.IntRange(min=1),
              help="Groups smaller than this are reported but never flagged.")
@click.option("--alpha", default=DEFAULT_ALPHA, show_default=True, type=click.FloatRange(0, 1, min_open=True),
              help="Significance level of the four-fifths test.")
@pass_context
def report_equity(obj: CliContext, quarter: str | None, start: dt.datetime | None, end: dt.datetime | None, out: Path,
                  min_group_size: int, alpha: float) -> None:
    """Equity: outcomes by member group, county, service and provider, with the four-fifths flags."""
    period = _period(quarter, start, end)
    with obj.session() as session:
        try:
            result = equity_report(session, period, min_group_size=min_group_size, alpha=alpha)
        except CalendarRangeError as error:
            raise click.ClickException(str(error)) from error
    measures = write_csv(result.measures, out, "equity_measures.csv")
    flags = write_csv(result.flags_frame(), out, "equity_flags.csv")
    click.echo(f"Equity {period.label}: {len(result.measures)} group rows -> {measures}")
    click.echo(f"Four-fifths: {len(result.flagged)} of {len(result.flags)} comparisons flagged -> {flags}")


@report.command("utilization")
@_period_options
@pass_context
def report_utilization(obj: CliContext, quarter: str | None, start: dt.datetime | None, end: dt.datetime | None,
                       out: Path) -> None:
    """Utilization per month, service and county (and per provider) (7003 VI.I.1.a.1.a)."""
    period = _period(quarter, start, end)
    with obj.session() as session:
        by_county = utilization(session, period, by="county")
        by_provider = utilization(session, period, by="provider")
    for frame, name in ((by_county, "utilization.csv"), (by_provider, "utilization_by_provider.csv")):
        path = write_csv(frame, out, name)
        click.echo(f"Utilization {period.label}: {len(frame)} rows -> {path}")


@report.command("referrals")
@_period_options
@pass_context
def report_referrals(obj: CliContext, quarter: str | None, start: dt.datetime | None, end: dt.datetime | None,
                     out: Path) -> None:
    """Referrals received, sent, accepted, declined and unplaced, with reasons (7003 VI.I.1.a.1.c)."""
    period = _period(quarter, start, end)
    with obj.session() as session:
        events = referral_events(session, period)
    path = write_csv(events, out, "referrals.csv")
    click.echo(f"Referrals {period.label}: {len(events)} rows, {int(events['count'].sum())} events -> {path}")


@report.command("timeliness")
@_period_options
@click.option("--as-of", type=DATE, default=None, help="Day that decides late vs pending clocks (default today).")
@pass_context
def report_timeliness(obj: CliContext, quarter: str | None, start: dt.datetime | None, end: dt.datetime | None,
                      out: Path, as_of: dt.datetime | None) -> None:
    """Timeliness: sent within 10 business days, answered within 2 (7003 VI.C.3)."""
    period = _period(quarter, start, end)
    with obj.session() as session:
        try:
            frame = timeliness(session, period, as_of=as_of.date() if as_of else None)
        except CalendarRangeError as error:
            raise click.ClickException(str(error)) from error
    path = write_csv(frame, out, "timeliness.csv")
    click.echo(f"Timeliness {period.label}: {len(frame)} rows -> {path}")


commands = [report]
