"""Call sites into the placement services: propose, send, override, accept, decline, re-solve.

Every web action that changes a placement goes through here, so the pages and the API share one
adapter to :mod:`placement.services` (the services write their own domain audit events; the web
adds its own with the requester's address). Each function returns the ``SolverRun`` row of any
run it caused, which is what the pages and the API show.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from placement import services as placement
from placement.models import Assignment, AssignmentStatus, RunTrigger, SolverRun


class ServiceUnavailable(RuntimeError):
    """The domain service this action needs does not exist yet (answered 503)."""


def _run(session: Session, run_id: int | None) -> SolverRun | None:
    return session.get(SolverRun, run_id) if run_id is not None else None


def propose(session: Session, *, actor: str, as_of: dt.date) -> SolverRun:
    """Run the matcher over every open, not-yet-accepted referral; return the stored run."""
    outcome = placement.run_solver(session, on_date=as_of, actor=actor, trigger=RunTrigger.MANUAL)
    run = _run(session, outcome.run_id)
    assert run is not None  # run_solver always writes a run unless dry_run
    return run


def accept_proposal(session: Session, run_id: int, *, actor: str, as_of: dt.date) -> int:
    """Send every still-proposed assignment of the run to its provider; return how many were sent."""
    ids = list(session.scalars(sa.select(Assignment.id).where(
        Assignment.solver_run_id == run_id, Assignment.status == AssignmentStatus.PROPOSED).order_by(Assignment.id)))
    return placement.send_assignments(session, ids, actor=actor, on_date=as_of) if ids else 0


def override(session: Session, assignment_id: int, *, contract_id: str, site_id: str | None, reason: str,
             actor: str, as_of: dt.date) -> Assignment:
    """Replace one proposed assignment with the lead's choice, keeping the written reason."""
    return placement.override_assignment(session, assignment_id, contract_id=contract_id, site_id=site_id,
                                         reason=reason, actor=actor, on_date=as_of)


def provider_accept(session: Session, assignment_id: int, *, actor: str, as_of: dt.date) -> Assignment:
    """The provider accepts a referral sent to it (7003 VI.C.3.a)."""
    return placement.accept_assignment(session, assignment_id, actor=actor, on_date=as_of)


@dataclass(frozen=True)
class Declined:
    """A decline and what it caused: a FULL report when at capacity, and the re-solve run."""

    assignment: Assignment
    full_report_id: int | None
    run: SolverRun | None


def decline(session: Session, assignment_id: int, *, reason: str, note: str, actor: str, as_of: dt.date) -> Declined:
    """The provider declines; at full capacity that is also a FULL report; the member is re-referred."""
    outcome = placement.decline_assignment(session, assignment_id, reason_code=reason, actor=actor, on_date=as_of,
                                           reason=note)
    return Declined(assignment=outcome.assignment,
                    full_report_id=outcome.full_report.id if outcome.full_report is not None else None,
                    run=_run(session, outcome.resolve.run_id))


def resolve_after_capacity_report(session: Session, contract_id: str, report_id: int, *, actor: str,
                                  as_of: dt.date) -> SolverRun | None:
    """Re-solve at once the referrals a FULL or shrinking capacity report displaced."""
    outcome = placement.resolve_after_capacity_change(session, contract_id, on_date=as_of, actor=actor,
                                                      trigger_ref=f"capacity report {report_id}")
    return _run(session, outcome.run_id)


def refusals() -> tuple[type[Exception], ...]:
    """Errors by which a domain service refuses an action (shown to the user, nothing saved)."""
    from capacity.ledger import CapacityExceeded, UnknownContract
    from capacity.services import CapacityReportError
    from referrals.lifecycle import LifecycleError

    return (placement.PlacementError, CapacityExceeded, UnknownContract, CapacityReportError, LifecycleError)
