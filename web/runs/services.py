"""Solver runs and what each decided, for the runs pages, the proposal page and the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from placement.models import Assignment, AssignmentStatus, SolverRun, UnplacedReferral
from referrals.models import Referral
from web.common import Page, PageRequest

__all__ = ["RunSummary", "list_runs", "run_assignments", "run_summary", "run_unplaced"]


@dataclass(frozen=True)
class RunSummary:
    """A run with its assignments counted by status now (a proposal's are PROPOSED until sent)."""

    run: SolverRun
    assignments_by_status: dict[str, int]
    unplaced_by_reason: dict[str, int]

    @property
    def still_proposed(self) -> int:
        return self.assignments_by_status.get(AssignmentStatus.PROPOSED.value, 0)


def list_runs(session: Session, page: PageRequest, trigger: str | None = None) -> Page[SolverRun]:
    """Runs, newest first."""
    stmt = sa.select(SolverRun)
    if trigger:
        stmt = stmt.where(SolverRun.trigger == trigger)
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    items = list(session.scalars(stmt.order_by(SolverRun.id.desc()).limit(page.per_page).offset(page.offset)))
    return Page(items=items, page=page.page, per_page=page.per_page, total=total)


def run_summary(session: Session, run_id: int) -> RunSummary | None:
    """Return the run and its counts, or None if there is no run with that id."""
    run = session.get(SolverRun, run_id)
    if run is None:
        return None
    by_status = {
        str(status): n for status, n in session.execute(
            sa.select(Assignment.status, sa.func.count()).where(Assignment.solver_run_id == run_id)
            .group_by(Assignment.status)
        )
    }
    by_reason = {
        reason: n for reason, n in session.execute(
            sa.select(UnplacedReferral.reason, sa.func.count()).where(UnplacedReferral.solver_run_id == run_id)
            .group_by(UnplacedReferral.reason)
        )
    }
    return RunSummary(run=run, assignments_by_status=by_status, unplaced_by_reason=by_reason)


def run_assignments(
    session: Session, run_id: int, page: PageRequest, status: AssignmentStatus | None = None
) -> Page[Assignment]:
    """The run's assignments (with referral, member, provider loaded), by referral receipt.

    The page's ids are chosen first (a narrow query the database can answer from indexes), then
    only those 50 assignments are loaded with their referral, member and provider: sorting a run of
    80,000 whole joined rows to keep 50 took most of the page's time.
    """
    stmt: sa.Select[Any] = sa.select(Assignment.id).where(Assignment.solver_run_id == run_id)
    if status is not None:
        stmt = stmt.where(Assignment.status == status)
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    ids = list(session.scalars(
        stmt.join(Referral, Referral.id == Assignment.referral_id)
        .order_by(Referral.received_date, Assignment.id).limit(page.per_page).offset(page.offset)
    ))
    loaded = {a.id: a for a in session.scalars(
        sa.select(Assignment).where(Assignment.id.in_(ids))
        .options(joinedload(Assignment.referral).joinedload(Referral.member), joinedload(Assignment.provider))
    )}
    return Page(items=[loaded[i] for i in ids], page=page.page, per_page=page.per_page, total=total)


def run_unplaced(session: Session, run_id: int, page: PageRequest) -> Page[UnplacedReferral]:
    stmt = sa.select(UnplacedReferral).where(UnplacedReferral.solver_run_id == run_id)
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    items = list(session.scalars(
        stmt.options(joinedload(UnplacedReferral.referral).joinedload(Referral.member))
        .order_by(UnplacedReferral.id).limit(page.per_page).offset(page.offset)
    ))
    return Page(items=items, page=page.page, per_page=page.per_page, total=total)
