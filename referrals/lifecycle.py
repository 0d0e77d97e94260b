"""The referral life cycle as an explicit state machine (7003 VI.C-VI.E; 7001 VI.B.5).

::

    RECEIVED ──> INFO_REQUESTED (one attempt, VI.C.6) ──> READY
    RECEIVED ──> READY ──> PROPOSED ──> SENT ──> ACCEPTED ──> ENGAGED ──> TAR_SUBMITTED
                                          └───> DECLINED ──> READY | PROPOSED (re-referred, VI.C.3.c)
    TAR_SUBMITTED ──> AUTHORIZED ──> IN_SERVICE ──> DISCONTINUED
    READY | PROPOSED | SENT | DECLINED <──> UNPLACED (no provider with room: reported, never waitlisted)
    every open state ──> DISCONTINUED, with one of the reasons of VI.D

:data:`TRANSITIONS` is the whole table; :func:`transition` refuses anything else with
:class:`IllegalTransition`, appends a :class:`~referrals.models.ReferralStatusChange` and an audit
event. ``DISCONTINUED`` is final: a member who would not engage is referred again with a *new*
referral once willing (VI.C.5, :func:`referrals.services.refer_again`), so its clocks start afresh.

Outreach attempts (VI.D.1.c) and the provider's weekly updates (VI.E.2) have no table of their own
yet: each is kept as a status-history row that does not change the status (``from_status ==
to_status``) with ``reason_code`` :data:`OUTREACH_ATTEMPT` or :data:`PROVIDER_UPDATE`, plus an
audit event. :func:`is_status_change` tells real changes from these notes.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from csmatch.db import lock_for_update, utcnow
from csmatch.models import record_audit
from referrals.models import Referral, ReferralStatus, ReferralStatusChange

__all__ = [
    "FINAL_STATUSES",
    "MIN_OUTREACH_ATTEMPTS",
    "OPEN_STATUSES",
    "OUTREACH_ATTEMPT",
    "PROVIDER_UPDATE",
    "TRANSITIONS",
    "DeclineReason",
    "DiscontinuationReason",
    "IllegalTransition",
    "LifecycleError",
    "ReasonRequired",
    "allowed_transitions",
    "can_transition",
    "is_status_change",
    "outreach_attempts",
    "record_outreach_attempt",
    "record_provider_update",
    "transition",
]

S = ReferralStatus

# 7003 VI.C.3-6, VI.D, VI.E.2: the only moves a referral may make.
TRANSITIONS: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    S.RECEIVED: frozenset({S.INFO_REQUESTED, S.READY, S.DISCONTINUED}),
    # VI.C.6: one attempt to get missing information; the member must keep in touch or it is cancelled
    S.INFO_REQUESTED: frozenset({S.READY, S.DISCONTINUED}),
    S.READY: frozenset({S.PROPOSED, S.UNPLACED, S.DISCONTINUED}),
    # a proposal may be withdrawn by a re-solve (back to READY) or left unplaced
    S.PROPOSED: frozenset({S.SENT, S.READY, S.UNPLACED, S.DISCONTINUED}),
    # VI.C.3.a-c: the provider accepts or declines; a provider that reports full before answering
    # has its sent referrals re-solved (PROPOSED elsewhere, READY, or UNPLACED)
    S.SENT: frozenset({S.ACCEPTED, S.DECLINED, S.PROPOSED, S.READY, S.UNPLACED, S.DISCONTINUED}),
    # VI.C.3.c: re-referred to another provider
    S.DECLINED: frozenset({S.READY, S.PROPOSED, S.UNPLACED, S.DISCONTINUED}),
    S.UNPLACED: frozenset({S.READY, S.PROPOSED, S.DISCONTINUED}),
    # VI.E.2: weekly updates until engaged, then a TAR
    S.ACCEPTED: frozenset({S.ENGAGED, S.DISCONTINUED}),
    S.ENGAGED: frozenset({S.TAR_SUBMITTED, S.DISCONTINUED}),
    # 7001: a TAR returned for correction goes back to the engaged provider
    S.TAR_SUBMITTED: frozenset({S.AUTHORIZED, S.ENGAGED, S.DISCONTINUED}),
    S.AUTHORIZED: frozenset({S.IN_SERVICE, S.DISCONTINUED}),
    S.IN_SERVICE: frozenset({S.DISCONTINUED}),
    S.DISCONTINUED: frozenset(),
}

FINAL_STATUSES = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
OPEN_STATUSES = frozenset(ReferralStatus) - FINAL_STATUSES

# Status-history notes that are not status changes (see the module docstring).
OUTREACH_ATTEMPT = "OUTREACH_ATTEMPT"
PROVIDER_UPDATE = "PROVIDER_UPDATE"
NOTE_CODES = frozenset({OUTREACH_ATTEMPT, PROVIDER_UPDATE})

# 7003 VI.D.1.c: a minimum of three outreach attempts before "unresponsive".
MIN_OUTREACH_ATTEMPTS = 3


class DiscontinuationReason(StrEnum):
    """Why services end (7003 VI.D); two-digit codes of data-exchange.md §4."""

    GOALS_MET = "01"  # goals met or service limit reached (VI.D.1.a)
    MEMBER_DECLINES = "02"  # VI.D.1.b
    UNRESPONSIVE = "03"  # after at least 3 outreach attempts (VI.D.1.c)
    DECEASED = "04"  # VI.D.1.d
    LOST_ELIGIBILITY = "05"  # VI.D.1.e
    MOVED_OUT_OF_AREA = "06"  # VI.D.1.f
    INCARCERATED = "07"  # more than 30 days (VI.D.1.g)
    PROVIDER_CANNOT_SERVE = "08"  # VI.D.1.h
    OTHER = "99"  # case by case, free text required (VI.D.2)

    @property
    def description(self) -> str:
        return _DISCONTINUATION_TEXT[self]


_DISCONTINUATION_TEXT = {
    DiscontinuationReason.GOALS_MET: "goals met or service limit reached",
    DiscontinuationReason.MEMBER_DECLINES: "member no longer wishes to receive the service",
    DiscontinuationReason.UNRESPONSIVE: "member unresponsive after at least 3 outreach attempts",
    DiscontinuationReason.DECEASED: "member deceased",
    DiscontinuationReason.LOST_ELIGIBILITY: "member lost Medi-Cal eligibility",
    DiscontinuationReason.MOVED_OUT_OF_AREA: "member moved out of the service area",
    DiscontinuationReason.INCARCERATED: "member incarcerated for more than 30 days",
    DiscontinuationReason.PROVIDER_CANNOT_SERVE: "provider can no longer provide services",
    DiscontinuationReason.OTHER: "other reason, reviewed case by case",
}


class DeclineReason(StrEnum):
    """Why a provider declined a referral (7003 VI.C.3.c; CS-RTF ``decline_reason``, data-exchange.md §3)."""

    AT_CAPACITY = "AT_CAPACITY"
    NOT_ELIGIBLE = "NOT_ELIGIBLE"
    OUT_OF_AREA = "OUT_OF_AREA"
    OTHER = "OTHER"  # free text required


class LifecycleError(Exception):
    """A life-cycle step that cannot be taken."""


class IllegalTransition(LifecycleError):
    """The transition table does not allow this move (or a guard refuses it)."""

    def __init__(self, referral_id: str, from_status: ReferralStatus, to_status: ReferralStatus, why: str = "") -> None:
        message = f"referral {referral_id!r} cannot go from {from_status.value} to {to_status.value}"
        if why:
            message += f": {why}"
        else:
            allowed = ", ".join(sorted(s.value for s in TRANSITIONS[from_status])) or "nothing (final)"
            message += f" (allowed: {allowed})"
        super().__init__(message)
        self.referral_id = referral_id
        self.from_status = from_status
        self.to_status = to_status


class ReasonRequired(LifecycleError, ValueError):
    """A transition that needs a reason (code or text) was given none, or an unknown one."""


def allowed_transitions(status: ReferralStatus) -> frozenset[ReferralStatus]:
    """Return the statuses a referral in ``status`` may move to."""
    return TRANSITIONS[status]


def can_transition(from_status: ReferralStatus, to_status: ReferralStatus) -> bool:
    """Return whether the table allows ``from_status`` → ``to_status`` (guards aside)."""
    return to_status in TRANSITIONS[from_status]


def is_status_change(change: ReferralStatusChange) -> bool:
    """Return whether a history row changed the status (False for outreach and update notes)."""
    return not (change.from_status == change.to_status and change.reason_code in NOTE_CODES)


def outreach_attempts(session: Session, referral_id: str) -> int:
    """Return the number of outreach attempts recorded for the referral (7003 VI.D.1.c)."""
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(ReferralStatusChange)
            .where(
                ReferralStatusChange.referral_id == referral_id,
                ReferralStatusChange.reason_code == OUTREACH_ATTEMPT,
            )
        )
        or 0
    )


def _lock_status(session: Session, referral: Referral) -> ReferralStatus:
    """Lock the referral row and return its committed status (a concurrent move is seen, not lost)."""
    stmt = lock_for_update(sa.select(Referral.status).where(Referral.id == referral.id), session)
    status = session.scalar(stmt)
    return ReferralStatus(status) if status is not None else referral.status


def _release_assignment(
    session: Session, referral_id: str, to_status: ReferralStatus, code: str | None, on_date: dt.date
) -> None:
    """A discontinued referral ends its assignment and a declined one closes it, freeing the units.

    Committed units are derived from active assignments, so this is what gives the provider its
    room back, whichever way (CLI, portal, CS-RTF) the referral was closed.
    """
    from placement.models import Assignment, AssignmentStatus

    closing: tuple[AssignmentStatus, ...]
    if to_status is S.DISCONTINUED:
        closing = (AssignmentStatus.PROPOSED, AssignmentStatus.SENT, AssignmentStatus.ACCEPTED)
        new_status = AssignmentStatus.ENDED
    elif to_status is S.DECLINED:
        closing, new_status = (AssignmentStatus.SENT,), AssignmentStatus.DECLINED
    else:
        return
    for assignment in session.scalars(
        sa.select(Assignment).where(Assignment.referral_id == referral_id, Assignment.status.in_(closing))
    ):
        assignment.status = new_status
        assignment.ended_at = utcnow()
        if to_status is S.DECLINED:
            assignment.decline_reason = code
            assignment.answered_on = on_date


_Reason = TypeVar("_Reason", bound=StrEnum)


def _parse_reason(referral: Referral, kind: type[_Reason], raw: str | None, *, what: str, missing: str) -> _Reason:
    """One of the closed reason codes, or :class:`ReasonRequired` saying which are allowed."""
    if raw is None:
        raise ReasonRequired(f"referral {referral.id!r}: {missing}")
    try:
        return kind(raw)
    except ValueError:
        allowed = ", ".join(r.value for r in kind)
        raise ReasonRequired(f"referral {referral.id!r}: {raw!r} is not a {what} ({allowed})") from None


def _check_reason(
    referral: Referral,
    from_status: ReferralStatus,
    to_status: ReferralStatus,
    reason: str,
    reason_code: str | None,
    session: Session,
) -> str | None:
    """Apply the guards that need a reason; return the normalised reason code."""
    if to_status is S.DISCONTINUED:
        codes = ", ".join(f"{r.value} {r.description}" for r in DiscontinuationReason)
        code = _parse_reason(referral, DiscontinuationReason, reason_code, what="discontinuation reason",
                             missing=f"discontinuing needs a reason_code (7003 VI.D): {codes}")
        if code is DiscontinuationReason.OTHER and not reason.strip():
            raise ReasonRequired(f"referral {referral.id!r}: reason 99 (other) needs the reason in words")
        if code is DiscontinuationReason.UNRESPONSIVE:
            attempts = outreach_attempts(session, referral.id)
            if attempts < MIN_OUTREACH_ATTEMPTS:
                raise IllegalTransition(
                    referral.id, from_status, to_status,
                    f"unresponsive needs at least {MIN_OUTREACH_ATTEMPTS} outreach attempts, "
                    f"{attempts} recorded (7003 VI.D.1.c)",
                )
        return code.value
    if to_status is S.DECLINED:
        allowed = ", ".join(r.value for r in DeclineReason)
        decline = _parse_reason(referral, DeclineReason, reason_code, what="decline reason",
                                missing=f"declining needs a reason_code ({allowed})")
        if decline is DeclineReason.OTHER and not reason.strip():
            raise ReasonRequired(f"referral {referral.id!r}: decline reason OTHER needs the reason in words")
        return decline.value
    return reason_code


def transition(
    session: Session,
    referral: Referral,
    to_status: ReferralStatus | str,
    *,
    actor: str,
    on_date: dt.date,
    reason: str = "",
    reason_code: str | None = None,
) -> ReferralStatusChange:
    """Move a referral to ``to_status``, record the step in its history and the audit log.

    Guards beyond the table: information is requested at most once (7003 VI.C.6); discontinuing
    needs a :class:`DiscontinuationReason` code (VI.D), text for ``99``, and for ``03``
    (unresponsive) at least three recorded outreach attempts (VI.D.1.c); declining needs a
    :class:`DeclineReason`; ``on_date`` may not precede the receipt or the previous step.

    The referral row is locked first, so two coordinators moving the same referral run one after the
    other and the second is judged against the first one's result.

    :raise IllegalTransition: e.g. "referral 'R000123' cannot go from SENT to IN_SERVICE".
    :raise ReasonRequired: a missing or unknown reason code, or missing text for "other".
    """
    to_status = ReferralStatus(to_status)
    if not actor.strip():
        raise ValueError("actor: say who made the change")
    from_status = _lock_status(session, referral)
    if referral.status != from_status:
        session.refresh(referral)
    if to_status not in TRANSITIONS[from_status]:
        raise IllegalTransition(referral.id, from_status, to_status)
    if to_status is S.INFO_REQUESTED and any(c.to_status is S.INFO_REQUESTED for c in referral.history):
        raise IllegalTransition(
            referral.id, from_status, to_status, "information was already requested once (7003 VI.C.6)"
        )
    if on_date < referral.received_date:
        raise IllegalTransition(
            referral.id, from_status, to_status,
            f"on_date {on_date.isoformat()} is before receipt on {referral.received_date.isoformat()}",
        )
    last = max((c.on_date for c in referral.history), default=None)
    if last is not None and on_date < last:
        raise IllegalTransition(
            referral.id, from_status, to_status,
            f"on_date {on_date.isoformat()} is before the previous step on {last.isoformat()}",
        )
    code = _check_reason(referral, from_status, to_status, reason, reason_code, session)

    change = ReferralStatusChange(
        from_status=from_status, to_status=to_status, on_date=on_date, actor=actor, reason=reason,
        reason_code=code,
    )
    referral.history.append(change)
    referral.status = to_status
    _release_assignment(session, referral.id, to_status, code, on_date)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="referral.transition",
        entity_type="referral",
        entity_id=referral.id,
        details={
            "from": from_status.value,
            "to": to_status.value,
            "on_date": on_date.isoformat(),
            "reason": reason,
            "reason_code": code,
            "change_id": change.id,
        },
    )
    return change


def _note(
    session: Session, referral: Referral, code: str, *, actor: str, on_date: dt.date, note: str, action: str
) -> ReferralStatusChange:
    if not actor.strip():
        raise ValueError("actor: say who recorded it")
    if referral.status in FINAL_STATUSES:
        raise LifecycleError(f"referral {referral.id!r} is {referral.status.value}: nothing more to record")
    if on_date < referral.received_date:
        raise ValueError(
            f"on_date: {on_date.isoformat()} is before receipt on {referral.received_date.isoformat()}"
        )
    change = ReferralStatusChange(
        from_status=referral.status, to_status=referral.status, on_date=on_date, actor=actor, reason=note,
        reason_code=code,
    )
    referral.history.append(change)
    session.flush()
    record_audit(
        session, actor=actor, action=action, entity_type="referral", entity_id=referral.id,
        details={"on_date": on_date.isoformat(), "status": referral.status.value, "note": note,
                 "change_id": change.id},
    )
    return change


def record_outreach_attempt(
    session: Session, referral: Referral, *, actor: str, on_date: dt.date, note: str = ""
) -> ReferralStatusChange:
    """Record one attempt to reach the member (7003 VI.D.1.c: three before "unresponsive").

    :raise LifecycleError: if the referral is already discontinued.
    """
    return _note(session, referral, OUTREACH_ATTEMPT, actor=actor, on_date=on_date, note=note,
                 action="referral.outreach_attempt")


def record_provider_update(
    session: Session, referral: Referral, *, actor: str, on_date: dt.date, note: str = ""
) -> ReferralStatusChange:
    """Record a provider's weekly update on a member not yet engaged (7003 VI.E.2); resets that clock.

    :raise LifecycleError: if the referral is already discontinued.
    """
    return _note(session, referral, PROVIDER_UPDATE, actor=actor, on_date=on_date, note=note,
                 action="referral.provider_update")
