"""Recording capacity reports: validation, lateness across holidays, audit, and the re-solve signal."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from capacity.ledger import UnknownContract
from capacity.models import CapacityReport, Contract
from capacity.models import CapacityReportKind as K
from capacity.services import CapacityReportError, record_capacity_report
from csmatch.models import AuditEvent
from placement.models import AssignmentStatus
from tests.factories import make_assignment, make_contract, make_member, make_provider, make_referral

FRIDAY = dt.date(2026, 11, 20)  # the Friday before Thanksgiving week


@pytest.fixture
def contract(db_session: Session) -> Contract:
    return make_contract(db_session, make_provider(db_session), capacity=5)


def test_full_report_is_recorded_audited_and_asks_for_a_resolve(db_session: Session, contract: Contract) -> None:
    recorded = record_capacity_report(db_session, contract.id, K.FULL, FRIDAY, FRIDAY, "intake@provider.org",
                                      note="no beds")
    assert recorded.report.id is not None and recorded.report.kind is K.FULL
    assert recorded.resolve_needed and recorded.resolve_reason == "PROVIDER_REPORTED_FULL"
    assert not recorded.before.reported_full and recorded.after.reported_full and recorded.after.open == 0
    event = db_session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "capacity.report", AuditEvent.entity_id == contract.id)
    ).one()
    assert event.actor == "intake@provider.org"
    assert event.details["kind"] == "FULL" and event.details["late"] is False


@pytest.mark.parametrize(("new_capacity", "resolve"), [(3, True), (5, False), (8, False)])
def test_new_capacity_asks_for_a_resolve_only_when_it_shrinks(
    db_session: Session, contract: Contract, new_capacity: int, resolve: bool
) -> None:
    recorded = record_capacity_report(db_session, contract.id, "NEW_CAPACITY", FRIDAY, FRIDAY, "pr",
                                      new_capacity=new_capacity)
    assert recorded.after.capacity == new_capacity
    assert recorded.resolve_needed is resolve
    assert recorded.resolve_reason == ("CAPACITY_SHRANK" if resolve else None)


def test_shrink_reports_the_units_now_over_committed(db_session: Session, contract: Contract) -> None:
    make_assignment(db_session, make_referral(db_session, make_member(db_session), units_needed=4), contract,
                    status=AssignmentStatus.ACCEPTED)
    recorded = record_capacity_report(db_session, contract.id, K.NEW_CAPACITY, FRIDAY, FRIDAY, "pr", new_capacity=2)
    assert recorded.after.over_committed == 2


@pytest.mark.parametrize("kind", [K.REOPENED, K.STAFFING_CHANGE])
def test_reopened_and_staffing_reports_need_no_resolve(db_session: Session, contract: Contract, kind: K) -> None:
    staffing = "two aides hired" if kind is K.STAFFING_CHANGE else None
    recorded = record_capacity_report(db_session, contract.id, kind, FRIDAY, FRIDAY, "pr", staffing_change=staffing)
    assert not recorded.resolve_needed


@pytest.mark.parametrize(
    ("reported", "late", "taken"),
    [
        # Mon 23, Tue 24, Wed 25, (Thu 26, Fri 27 holidays), Mon 30, Tue Dec 1: the 5th business day
        (dt.date(2026, 12, 1), False, 5),
        (dt.date(2026, 12, 2), True, 6),
        (dt.date(2026, 11, 27), False, 3),  # the day after Thanksgiving is no business day
        (dt.date(2026, 11, 18), False, -2),  # announced in advance
    ],
)
def test_report_is_late_after_five_business_days_across_thanksgiving(
    db_session: Session, contract: Contract, reported: dt.date, late: bool, taken: int
) -> None:
    recorded = record_capacity_report(db_session, contract.id, K.FULL, FRIDAY, reported, "pr")
    assert recorded.due_date == dt.date(2026, 12, 1)
    assert (recorded.late, recorded.business_days_to_report) == (late, taken)


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"kind": "EMPTY"}, "kind", "'EMPTY' is not one of FULL, REOPENED, NEW_CAPACITY, STAFFING_CHANGE"),
        ({"kind": K.NEW_CAPACITY}, "new_capacity", "required for a NEW_CAPACITY report"),
        ({"kind": K.NEW_CAPACITY, "new_capacity": -1}, "new_capacity", "must be 0 or more, got -1"),
        ({"kind": K.FULL, "new_capacity": 3}, "new_capacity", "only given with NEW_CAPACITY, not FULL"),
        ({"kind": K.STAFFING_CHANGE}, "staffing_change", "required for a STAFFING_CHANGE report"),
        ({"kind": K.STAFFING_CHANGE, "staffing_change": "  "}, "staffing_change", "say what changed"),
        ({"kind": K.STAFFING_CHANGE, "staffing_change": "x" * 201}, "staffing_change", "at most 200"),
        ({"actor": " "}, "actor", "say who reported"),
        ({"change_date": dt.date(2023, 12, 31)}, "change_date", "2023-12-31 is outside contract"),
    ],
)
def test_invalid_report_names_the_field(
    db_session: Session, contract: Contract, kwargs: dict[str, Any], field: str, message: str
) -> None:
    args: dict[str, Any] = {"kind": K.FULL, "change_date": FRIDAY, "reported_date": FRIDAY, "actor": "pr"}
    args.update(kwargs)
    with pytest.raises(CapacityReportError, match=f"^{field}: .*{message}") as info:
        record_capacity_report(db_session, contract.id, **args)
    assert info.value.field == field
    assert db_session.scalar(sa.select(sa.func.count()).select_from(CapacityReport)) == 0


def test_report_on_unknown_contract_is_refused(db_session: Session) -> None:
    with pytest.raises(UnknownContract, match="'C-NOPE'"):
        record_capacity_report(db_session, "C-NOPE", K.FULL, FRIDAY, FRIDAY, "pr")
