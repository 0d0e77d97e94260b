"""What the matcher decided and what became of it: solver runs, assignments, unplaced referrals,
and the outbox of notifications to providers."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from capacity.models import Contract
from csmatch.db import Base, utcnow
from providers.models import Provider, ProviderSite
from referrals.models import Referral


class RunTrigger(enum.StrEnum):
    MANUAL = "MANUAL"
    CAPACITY_REPORT = "CAPACITY_REPORT"
    DECLINE = "DECLINE"
    NIGHTLY = "NIGHTLY"
    DEMO = "DEMO"


class SolverRun(Base):
    """One run of the matcher: what triggered it, its figures, and what changed."""

    __tablename__ = "solver_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    trigger: Mapped[RunTrigger]
    trigger_ref: Mapped[str | None] = mapped_column(sa.String(60))
    actor: Mapped[str] = mapped_column(sa.String(120))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(sa.String(20), default="RUNNING")
    method: Mapped[str] = mapped_column(sa.String(40), default="")
    referrals_considered: Mapped[int] = mapped_column(default=0)
    placed: Mapped[int] = mapped_column(default=0)
    unplaced: Mapped[int] = mapped_column(default=0)
    moved: Mapped[int] = mapped_column(default=0)
    newly_placed: Mapped[int] = mapped_column(default=0)
    objective: Mapped[float | None]
    bound: Mapped[float | None]
    gap: Mapped[float | None]
    runtime_seconds: Mapped[float | None]
    figures: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AssignmentStatus(enum.StrEnum):
    PROPOSED = "PROPOSED"
    SENT = "SENT"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    SUPERSEDED = "SUPERSEDED"
    WITHDRAWN = "WITHDRAWN"
    ENDED = "ENDED"


# An assignment in one of these states holds units of its contract's capacity.
ACTIVE_ASSIGNMENT_STATUSES = (AssignmentStatus.PROPOSED, AssignmentStatus.SENT, AssignmentStatus.ACCEPTED)
_ACTIVE_SQL = "status IN ('PROPOSED', 'SENT', 'ACCEPTED')"


class Assignment(Base):
    """A referral placed with a provider site under a contract, with the reasons that decided it."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[str] = mapped_column(sa.ForeignKey("referrals.id"), index=True)
    provider_id: Mapped[str] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    site_id: Mapped[str] = mapped_column(sa.ForeignKey("provider_sites.id"))
    contract_id: Mapped[str] = mapped_column(sa.ForeignKey("contracts.id"), index=True)
    units: Mapped[int]
    solver_run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("solver_runs.id"), index=True)
    status: Mapped[AssignmentStatus] = mapped_column(default=AssignmentStatus.PROPOSED, index=True)
    cost_terms: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reasons: Mapped[dict[str, Any]] = mapped_column(default=dict)
    override_reason: Mapped[str | None] = mapped_column(sa.Text)
    decline_reason: Mapped[str | None] = mapped_column(sa.String(30))
    created_by: Mapped[str] = mapped_column(sa.String(120), default="solver")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_on: Mapped[dt.date | None]
    answered_on: Mapped[dt.date | None]
    ended_at: Mapped[dt.datetime | None]

    referral: Mapped[Referral] = relationship()
    provider: Mapped[Provider] = relationship()
    site: Mapped[ProviderSite] = relationship()
    contract: Mapped[Contract] = relationship()
    solver_run: Mapped[SolverRun | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint("units >= 1", name="units_positive"),
        # A referral holds at most one active assignment at a time.
        sa.Index(
            "uq_assignments_one_active_per_referral",
            "referral_id",
            unique=True,
            sqlite_where=sa.text(_ACTIVE_SQL),
            postgresql_where=sa.text(_ACTIVE_SQL),
        ),
        sa.Index("ix_assignments_contract_status", "contract_id", "status"),
        # committed units per contract (the capacity board) read from the index alone
        sa.Index("ix_assignments_status_contract_units", "status", "contract_id", "units"),
        # the first day each referral was sent (timeliness), read from the index alone
        sa.Index("ix_assignments_referral_id_sent_on", "referral_id", "sent_on"),
        # a run's assignments counted by status (the run and proposal pages) from the index alone
        sa.Index("ix_assignments_solver_run_id_status", "solver_run_id", "status"),
    )


class UnplacedReferral(Base):
    """A referral the matcher could not place, with its reason: a network gap, never a waitlist."""

    __tablename__ = "unplaced_referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[str] = mapped_column(sa.ForeignKey("referrals.id"), index=True)
    solver_run_id: Mapped[int] = mapped_column(sa.ForeignKey("solver_runs.id"), index=True)
    reason: Mapped[str] = mapped_column(sa.String(40), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None]

    referral: Mapped[Referral] = relationship()


class Notification(Base):
    """Outbox: a message owed to a provider (a new referral, a withdrawal); sent by another process."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[str] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    referral_id: Mapped[str] = mapped_column(sa.ForeignKey("referrals.id"))
    assignment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("assignments.id"))
    kind: Mapped[str] = mapped_column(sa.String(30))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
