"""Recording providers' capacity and staffing reports (7003 VI.E.6).

A provider must tell the plan of a change to its capacity or staffing within five business days of
the change. Every report is kept as an event (never edited); a report more than five business days
after its change is recorded and flagged late. A ``FULL`` report, or a new number below the one in
force, means some not-yet-accepted referrals may no longer fit: the result says so, and the caller
(the re-solve) acts on it in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from capacity.ledger import CapacityPosition, lock_contract, position
from capacity.models import CapacityReport, CapacityReportKind
from csmatch.calendar import HolidayCalendar, default_calendar
from csmatch.models import record_audit

__all__ = [
    "CAPACITY_REPORT_CLOCK",
    "CapacityReportError",
    "RecordedReport",
    "record_capacity_report",
]

# 7003 VI.E.6: capacity and staffing changes reported within five business days.
CAPACITY_REPORT_CLOCK = 5
STAFFING_CHANGE_MAX_LENGTH = 200


class CapacityReportError(ValueError):
    """A capacity report that cannot be recorded; ``field`` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class RecordedReport:
    """A recorded report, whether it was late, and whether the contract's referrals need a re-solve.

    ``resolve_needed`` is True for ``FULL`` and for a ``NEW_CAPACITY`` below the capacity in force
    before it (``resolve_reason`` says which); ``before`` and ``after`` are the contract's position
    around the report. ``business_days_to_report`` is negative for a change announced in advance.
    """

    report: CapacityReport
    late: bool
    due_date: dt.date
    business_days_to_report: int
    resolve_needed: bool
    resolve_reason: str | None
    before: CapacityPosition
    after: CapacityPosition


def _validate(
    kind: CapacityReportKind,
    new_capacity: int | None,
    staffing_change: str | None,
) -> None:
    if kind is CapacityReportKind.NEW_CAPACITY:
        if new_capacity is None:
            raise CapacityReportError("new_capacity", "required for a NEW_CAPACITY report")
        if new_capacity < 0:
            raise CapacityReportError("new_capacity", f"must be 0 or more, got {new_capacity}")
    elif new_capacity is not None:
        raise CapacityReportError("new_capacity", f"only given with NEW_CAPACITY, not {kind.value}")
    if kind is CapacityReportKind.STAFFING_CHANGE and not (staffing_change or "").strip():
        raise CapacityReportError("staffing_change", "required for a STAFFING_CHANGE report: say what changed")
    if staffing_change is not None and len(staffing_change) > STAFFING_CHANGE_MAX_LENGTH:
        raise CapacityReportError(
            "staffing_change", f"at most {STAFFING_CHANGE_MAX_LENGTH} characters, got {len(staffing_change)}"
        )


def record_capacity_report(
    session: Session,
    contract_id: str,
    kind: CapacityReportKind | str,
    change_date: dt.date,
    reported_date: dt.date,
    actor: str,
    new_capacity: int | None = None,
    staffing_change: str | None = None,
    note: str = "",
    *,
    calendar: HolidayCalendar | None = None,
) -> RecordedReport:
    """Record a provider's capacity or staffing report on a contract, with an audit event (7003 VI.E.6).

    The contract row is locked first (:func:`capacity.ledger.lock_contract`), so a report and a
    placement into the same contract never interleave. A staffing change may come with any kind.

    :raise CapacityReportError: naming the field: an unknown ``kind``, ``new_capacity`` missing,
        negative or given with another kind, ``staffing_change`` missing for ``STAFFING_CHANGE``,
        ``actor`` empty, or ``change_date`` outside the contract's dates.
    :raise capacity.ledger.UnknownContract: if no contract has that id.
    """
    calendar = calendar or default_calendar()
    try:
        kind = CapacityReportKind(kind)
    except ValueError:
        allowed = ", ".join(k.value for k in CapacityReportKind)
        raise CapacityReportError("kind", f"{kind!r} is not one of {allowed}") from None
    if not actor.strip():
        raise CapacityReportError("actor", "say who reported the change")
    _validate(kind, new_capacity, staffing_change)

    contract = lock_contract(session, contract_id)
    if change_date < contract.effective_start or (
        contract.effective_end is not None and change_date > contract.effective_end
    ):
        ends = contract.effective_end.isoformat() if contract.effective_end else "open-ended"
        raise CapacityReportError(
            "change_date",
            f"{change_date.isoformat()} is outside contract {contract.id!r} "
            f"({contract.effective_start.isoformat()} to {ends})",
        )
    as_of = max(change_date, reported_date)
    before = position(session, contract_id, as_of=as_of, calendar=calendar)

    report = CapacityReport(
        contract_id=contract.id,
        kind=kind,
        new_capacity=new_capacity,
        staffing_change=(staffing_change or "").strip() or None,
        change_date=change_date,
        reported_date=reported_date,
        reported_by=actor,
        note=note,
    )
    session.add(report)
    session.flush()

    due = calendar.due_date(change_date, CAPACITY_REPORT_CLOCK)
    # count forwards only: a change announced in advance is negative
    if reported_date >= change_date:
        taken = calendar.business_days_between(change_date, reported_date)
    else:
        taken = -calendar.business_days_between(reported_date, change_date)
    late = taken > CAPACITY_REPORT_CLOCK
    after = position(session, contract_id, as_of=as_of, calendar=calendar)

    resolve_reason = None
    if kind is CapacityReportKind.FULL:
        resolve_reason = "PROVIDER_REPORTED_FULL"
    elif kind is CapacityReportKind.NEW_CAPACITY and after.capacity < before.capacity:
        resolve_reason = "CAPACITY_SHRANK"

    record_audit(
        session,
        actor=actor,
        action="capacity.report",
        entity_type="contract",
        entity_id=contract.id,
        details={
            "report_id": report.id,
            "kind": kind.value,
            "change_date": change_date.isoformat(),
            "reported_date": reported_date.isoformat(),
            "new_capacity": new_capacity,
            "staffing_change": report.staffing_change,
            "late": late,
            "business_days_to_report": taken,
            "capacity_before": before.capacity,
            "capacity_after": after.capacity,
            "resolve_reason": resolve_reason,
        },
    )
    return RecordedReport(
        report=report,
        late=late,
        due_date=due,
        business_days_to_report=taken,
        resolve_needed=resolve_reason is not None,
        resolve_reason=resolve_reason,
        before=before,
        after=after,
    )
