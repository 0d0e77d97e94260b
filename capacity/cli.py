"""``csmatch capacity ...``: record a provider's capacity report, show contracted/committed/open units."""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING

import click

from capacity.ledger import UnknownContract, capacity_positions
from capacity.models import CapacityReportKind
from capacity.services import CapacityReportError

if TYPE_CHECKING:  # csmatch.cli imports this module while registering area commands
    from csmatch.cli import CliContext

# the CliContext is the group's obj (csmatch.cli.pass_context finds the same object)
pass_context = click.pass_obj

DATE = click.DateTime(formats=["%Y-%m-%d"])

# CapacityReportError.field -> the option that carries it
_OPTION_FOR_FIELD = {
    "kind": "--kind",
    "new_capacity": "--new-capacity",
    "staffing_change": "--staffing",
    "change_date": "--change-date",
    "actor": "--actor",
}


def default_actor() -> str:
    return os.environ.get("CSMATCH_ACTOR") or f"cli:{os.environ.get('USER', 'unknown')}"


@click.group("capacity")
def capacity() -> None:
    """Contracted capacity and providers' capacity and staffing reports (7003 VI.E.6)."""


@capacity.command("report")
@click.option("--contract", "contract_id", required=True, help="Contract id.")
@click.option("--kind", required=True, type=click.Choice([k.value for k in CapacityReportKind], case_sensitive=False),
              help="What changed.")
@click.option("--change-date", required=True, type=DATE, help="When the change happened (YYYY-MM-DD).")
@click.option("--reported-date", type=DATE, default=None, help="When the plan heard of it; default today.")
@click.option("--new-capacity", type=int, default=None, help="The new number (NEW_CAPACITY only).")
@click.option("--staffing", default=None, help="What changed in staffing (required for STAFFING_CHANGE).")
@click.option("--note", default="", help="Free text kept with the report.")
@click.option("--actor", default=default_actor, show_default="$CSMATCH_ACTOR or cli:$USER",
              help="Who reported it.")
@pass_context
def capacity_report(
    obj: CliContext, contract_id: str, kind: str, change_date: dt.datetime, reported_date: dt.datetime | None,
    new_capacity: int | None, staffing: str | None, note: str, actor: str,
) -> None:
    """Record a FULL, REOPENED, NEW_CAPACITY or STAFFING_CHANGE report on a contract."""
    reported = reported_date.date() if reported_date else dt.date.today()
    try:
        with obj.session() as session:
            # Recorded and, when it changes what is open, re-solved at once: one transaction.
            from placement.services import report_capacity

            outcome = report_capacity(
                session, contract_id, kind.upper(), change_date.date(), reported, actor,
                new_capacity=new_capacity, staffing_change=staffing, note=note,
            )
            recorded = outcome.recorded
    except CapacityReportError as exc:
        raise click.BadParameter(str(exc), param_hint=[_OPTION_FOR_FIELD.get(exc.field, exc.field)]) from None
    except UnknownContract as exc:
        raise click.BadParameter(str(exc), param_hint=["--contract"]) from None
    r, after = recorded.report, recorded.after
    timing = (
        f"late: {recorded.business_days_to_report} business days, due {recorded.due_date.isoformat()}"
        if recorded.late else "on time"
    )
    click.echo(
        f"Recorded {r.kind.value} for contract {r.contract_id} (changed {r.change_date.isoformat()}, "
        f"reported {r.reported_date.isoformat()}: {timing})."
    )
    click.echo(
        f"Capacity {recorded.before.capacity} -> {after.capacity}, committed {after.committed}, open {after.open}"
        + (", reported full" if after.reported_full else "") + "."
    )
    if outcome.resolve is not None:
        summary = outcome.resolve.summary
        click.echo(
            f"Re-solved at once (run {outcome.resolve.run_id}): moved {summary['MOVED']}, "
            f"newly placed {summary['NEWLY_PLACED']}, newly unplaced {summary['NEWLY_UNPLACED']}, "
            f"kept {summary['KEPT']}."
        )


@capacity.command("show")
@click.option("--provider", "provider_id", default=None, help="Only this provider's contracts.")
@click.option("--county", default=None, help="Only contracts serving this county.")
@click.option("--service", "service_key", default=None, help="Only this service key.")
@click.option("--as-of", type=DATE, default=None, help="Date to show (default today).")
@pass_context
def capacity_show(
    obj: CliContext, provider_id: str | None, county: str | None, service_key: str | None, as_of: dt.datetime | None
) -> None:
    """Show contracted, committed and open units per contract, and the last report."""
    with obj.session() as session:
        positions = capacity_positions(
            session, provider_id=provider_id, county=county, service_key=service_key,
            as_of=as_of.date() if as_of else None,
        )
    if not positions:
        click.echo("No contracts match.")
        return
    header = ("contract", "provider", "service", "contracted", "capacity", "committed", "open", "full",
              "last report", "age (bd)", "staffing")
    rows = [
        (p.contract_id, p.provider_id, p.service_key, str(p.contracted), str(p.capacity), str(p.committed),
         str(p.open), f"since {p.full_since.isoformat()}" if p.full_since else ("yes" if p.reported_full else "no"),
         p.last_report_date.isoformat() if p.last_report_date else "-",
         "-" if p.report_age_business_days is None else str(p.report_age_business_days),
         str(p.staffing_changes))
        for p in positions
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    for row in (header, *rows):
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


commands: list[click.Command] = [capacity]
