"""``csmatch referral ...``: show a referral, move it through its life cycle, list clocks and the unplaced."""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING

import click
from sqlalchemy.orm import Session

from referrals.clocks import Clock, clocks_for, referral_clocks
from referrals.eligibility import check_eligibility
from referrals.lifecycle import (
    IllegalTransition,
    LifecycleError,
    ReasonRequired,
    is_status_change,
    outreach_attempts,
    record_outreach_attempt,
    record_provider_update,
    transition,
)
from referrals.models import Referral, ReferralStatus
from referrals.services import unplaced_referrals

if TYPE_CHECKING:  # csmatch.cli imports this module while registering area commands
    from csmatch.cli import CliContext

# the CliContext is the group's obj (csmatch.cli.pass_context finds the same object)
pass_context = click.pass_obj

DATE = click.DateTime(formats=["%Y-%m-%d"])


def default_actor() -> str:
    return os.environ.get("CSMATCH_ACTOR") or f"cli:{os.environ.get('USER', 'unknown')}"


def _day(value: dt.datetime | None) -> dt.date:
    return value.date() if value else dt.date.today()


def _get(session: Session, referral_id: str) -> Referral:
    referral = session.get(Referral, referral_id)
    if referral is None:
        raise click.BadParameter(f"no referral {referral_id!r}", param_hint=["REFERRAL"])
    return referral


def _clock_text(clock: Clock | None) -> str:
    if clock is None:
        return "-"
    state = f"overdue by {-clock.days_left}" if clock.overdue else f"{clock.days_left} left"
    return f"{clock.name} due {clock.due.isoformat()} ({state}; {clock.policy})"


@click.group("referral")
def referral() -> None:
    """Referrals: their life cycle (7003 VI.C-VI.E), clocks, and the unplaced list (VI.E.5)."""


@referral.command("show")
@click.argument("referral_id", metavar="REFERRAL")
@click.option("--as-of", type=DATE, default=None, help="Date for clocks and gates (default today).")
@pass_context
def referral_show(obj: CliContext, referral_id: str, as_of: dt.datetime | None) -> None:
    """Show a referral: status, history, running clocks and eligibility gates."""
    on = _day(as_of)
    with obj.session() as session:
        r = _get(session, referral_id)
        click.echo(f"Referral {r.id}: {r.service_key} for member {r.member.cin} ({r.member.county}), "
                   f"received {r.received_date.isoformat()}, {r.units_needed} unit(s).")
        click.echo(f"Status: {r.status.value}")
        for change in r.history:
            step = (f"{change.from_status.value if change.from_status else '-'} -> {change.to_status.value}"
                    if is_status_change(change) else f"note {change.reason_code}")
            why = " ".join(x for x in (change.reason_code if is_status_change(change) else None, change.reason) if x)
            click.echo(f"  {change.on_date.isoformat()}  {step}  by {change.actor}" + (f": {why}" if why else ""))
        clocks = referral_clocks(session, r, as_of=on)
        for clock in clocks.running:
            click.echo(f"Clock: {_clock_text(clock)}")
        click.echo(f"Outreach attempts: {outreach_attempts(session, r.id)}")
        if r.status is not ReferralStatus.DISCONTINUED:
            failures = check_eligibility(session, r, on)
            if not failures:
                click.echo("Eligibility: all gates pass.")
            for f in failures:
                click.echo(f"Eligibility: {f.code.value} {f.explanation} ({f.policy})")


@referral.command("transition")
@click.argument("referral_id", metavar="REFERRAL")
@click.argument("status", type=click.Choice([s.value for s in ReferralStatus], case_sensitive=False))
@click.option("--reason", default="", help="Why, in words (required for reason code 99 / OTHER).")
@click.option("--reason-code", default=None,
              help="Discontinuation code 01-08 or 99 (7003 VI.D), or decline reason (AT_CAPACITY, ...).")
@click.option("--on-date", type=DATE, default=None, help="Date of the step (default today).")
@click.option("--actor", default=default_actor, show_default="$CSMATCH_ACTOR or cli:$USER", help="Who.")
@pass_context
def referral_transition(
    obj: CliContext, referral_id: str, status: str, reason: str, reason_code: str | None,
    on_date: dt.datetime | None, actor: str,
) -> None:
    """Move REFERRAL to STATUS; an illegal move is refused and nothing is written."""
    try:
        with obj.session() as session:
            r = _get(session, referral_id)
            change = transition(session, r, ReferralStatus(status.upper()), actor=actor, on_date=_day(on_date),
                                reason=reason, reason_code=reason_code)
            moved = f"{change.from_status.value if change.from_status else '-'} -> {change.to_status.value}"
    except IllegalTransition as exc:
        raise click.BadParameter(str(exc), param_hint=["STATUS"]) from None
    except ReasonRequired as exc:
        hint = "--reason" if "in words" in str(exc) else "--reason-code"
        raise click.BadParameter(str(exc), param_hint=[hint]) from None
    click.echo(f"Referral {referral_id}: {moved}.")


@referral.command("outreach")
@click.argument("referral_id", metavar="REFERRAL")
@click.option("--on-date", type=DATE, default=None, help="Date of the attempt (default today).")
@click.option("--note", default="", help="How (phone, visit, letter) and what happened.")
@click.option("--actor", default=default_actor, show_default="$CSMATCH_ACTOR or cli:$USER", help="Who.")
@pass_context
def referral_outreach(obj: CliContext, referral_id: str, on_date: dt.datetime | None, note: str, actor: str) -> None:
    """Record an attempt to reach the member (three before "unresponsive", 7003 VI.D.1.c)."""
    try:
        with obj.session() as session:
            r = _get(session, referral_id)
            record_outreach_attempt(session, r, actor=actor, on_date=_day(on_date), note=note)
            attempts = outreach_attempts(session, r.id)
    except (LifecycleError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint=["REFERRAL"]) from None
    click.echo(f"Referral {referral_id}: outreach attempt {attempts} recorded.")


@referral.command("update")
@click.argument("referral_id", metavar="REFERRAL")
@click.option("--on-date", type=DATE, default=None, help="Date of the update (default today).")
@click.option("--note", default="", help="What the provider said.")
@click.option("--actor", default=default_actor, show_default="$CSMATCH_ACTOR or cli:$USER", help="Who.")
@pass_context
def referral_update(obj: CliContext, referral_id: str, on_date: dt.datetime | None, note: str, actor: str) -> None:
    """Record a provider's weekly update on a member not yet engaged (7003 VI.E.2)."""
    try:
        with obj.session() as session:
            record_provider_update(session, _get(session, referral_id), actor=actor, on_date=_day(on_date), note=note)
    except (LifecycleError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint=["REFERRAL"]) from None
    click.echo(f"Referral {referral_id}: provider update recorded.")


@referral.command("clocks")
@click.option("--overdue", is_flag=True, help="Only referrals with an overdue clock.")
@click.option("--as-of", type=DATE, default=None, help="Date to judge by (default today).")
@pass_context
def referral_clocks_command(obj: CliContext, overdue: bool, as_of: dt.datetime | None) -> None:
    """List open referrals' running clocks, soonest due first (business days, state holidays)."""
    with obj.session() as session:
        found = clocks_for(session, as_of=_day(as_of), overdue_only=overdue)
    if not found:
        click.echo("No overdue referrals." if overdue else "No open referrals.")
        return
    for c in found:
        clocks = "; ".join(_clock_text(k) for k in c.running) or "no clock running"
        click.echo(f"{c.referral_id}  {c.status.value:<14} received {c.received_date.isoformat()}  {clocks}")


@referral.command("unplaced")
@click.option("--county", default=None, help="Only members in this county.")
@click.option("--service", "service_key", default=None, help="Only this service key.")
@click.option("--as-of", type=DATE, default=None, help="Date to judge waiting time by (default today).")
@pass_context
def referral_unplaced(obj: CliContext, county: str | None, service_key: str | None, as_of: dt.datetime | None) -> None:
    """List referrals reported unplaced, with the reason: never a waitlist (7003 VI.E.5)."""
    with obj.session() as session:
        entries = unplaced_referrals(session, county=county, service_key=service_key, as_of=_day(as_of))
    if not entries:
        click.echo("No unplaced referrals.")
        return
    for e in entries:
        late = "OVERDUE" if e.overdue else "on time"
        click.echo(f"{e.referral_id}  {e.county}  {e.service_key}  {e.reason}"
                   f"{f' ({e.side})' if e.side else ''}  waiting {e.business_days_waiting} business days, "
                   f"due {e.send_due.isoformat()} {late}")


commands: list[click.Command] = [referral]
