"""Every model round-trips on both databases; constraints hold; the audit log is append-only."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from capacity.models import CapacityReport, CapacityReportKind, Contract
from csmatch.models import AuditEvent, record_audit
from placement.models import (
    Assignment,
    AssignmentStatus,
    Notification,
    RunTrigger,
    SolverRun,
    UnplacedReferral,
)
from referrals.models import (
    ExclusionReason,
    Member,
    MemberPriorProvider,
    Referral,
    ReferralExclusion,
    ReferralStatus,
    ReferralStatusChange,
)
from tests.factories import make_contract, make_member, make_provider, make_referral


def _reload(session: Session, model: type, key: object) -> object:
    session.flush()
    session.expunge_all()
    return session.get(model, key)


def test_member_round_trips_with_lists_and_demographics(db_session: Session) -> None:
    member = make_member(
        db_session, county="Mendocino", spoken_languages=["Spanish", "English"], required_language="Spanish",
        cultural_preferences=["Latino"], demographics={"race_ethnicity": "Hispanic", "sex": "F"},
    )
    loaded = _reload(db_session, Member, member.id)
    assert isinstance(loaded, Member)
    assert loaded.zip == "95482" and loaded.county == "Mendocino"
    assert loaded.spoken_languages == ["Spanish", "English"]
    assert loaded.required_language == "Spanish"
    assert loaded.demographics is not None and loaded.demographics.sex == "F"
    assert loaded.is_eligible_on(dt.date(2026, 1, 1))


def test_contract_round_trips_with_counties_sites_and_reports(db_session: Session) -> None:
    provider = make_provider(db_session, county="Shasta")
    contract = make_contract(db_session, provider, service="RECUPERATIVE_CARE", capacity=12,
                             counties=("Shasta", "Tehama"), service_radius_miles=60.0)
    db_session.add(CapacityReport(
        contract_id=contract.id, kind=CapacityReportKind.FULL, change_date=dt.date(2026, 11, 2),
        reported_date=dt.date(2026, 11, 3), reported_by="intake@example.org",
    ))
    loaded = _reload(db_session, Contract, contract.id)
    assert isinstance(loaded, Contract)
    assert loaded.county_names == ["Shasta", "Tehama"]
    assert [s.site_id for s in loaded.sites] == [f"{provider.id}-S1"]
    assert loaded.reports[0].kind is CapacityReportKind.FULL
    assert loaded.is_effective(dt.date(2026, 11, 25))


def test_referral_round_trips_with_history_exclusions_and_assignment(db_session: Session) -> None:
    provider = make_provider(db_session)
    contract = make_contract(db_session, provider)
    member = make_member(db_session)
    db_session.add(MemberPriorProvider(member_id=member.id, provider_id=provider.id, service_key="HOUSING_NAV"))
    referral = make_referral(db_session, member, preferences=(provider.id,), discharge_date=dt.date(2026, 11, 1))
    referral.exclusions.append(ReferralExclusion(provider_id=provider.id, reason=ExclusionReason.MEMBER_REFUSED))
    referral.history.append(ReferralStatusChange(from_status=None, to_status=ReferralStatus.RECEIVED,
                                                 on_date=referral.received_date, actor="import"))
    run = SolverRun(trigger=RunTrigger.MANUAL, actor="lead@plan.org")
    db_session.add(run)
    db_session.flush()
    assignment = Assignment(referral_id=referral.id, provider_id=provider.id, site_id=f"{provider.id}-S1",
                            contract_id=contract.id, units=1, solver_run_id=run.id,
                            cost_terms={"preference": 0}, reasons={"why": "first choice"})
    db_session.add(assignment)
    db_session.add(UnplacedReferral(referral_id=referral.id, solver_run_id=run.id, reason="ALL_IN_AREA_FULL",
                                    detail={"nearest": [provider.id]}))
    db_session.flush()
    db_session.add(Notification(provider_id=provider.id, referral_id=referral.id, assignment_id=assignment.id,
                                kind="NEW_REFERRAL"))
    loaded = _reload(db_session, Referral, referral.id)
    assert isinstance(loaded, Referral)
    assert [p.provider_id for p in loaded.preferences] == [provider.id]
    assert loaded.exclusions[0].reason is ExclusionReason.MEMBER_REFUSED
    assert loaded.history[0].to_status is ReferralStatus.RECEIVED
    stored = db_session.scalars(sa.select(Assignment)).one()
    assert stored.status is AssignmentStatus.PROPOSED and stored.reasons == {"why": "first choice"}


def test_enums_are_stored_by_value(db_session: Session) -> None:
    member = make_member(db_session)
    make_referral(db_session, member, status=ReferralStatus.INFO_REQUESTED)
    raw = db_session.execute(sa.text("SELECT status FROM referrals")).scalar_one()
    assert raw == "INFO_REQUESTED"


def test_contract_capacity_cannot_be_negative(db_session: Session) -> None:
    provider = make_provider(db_session)
    with pytest.raises(IntegrityError, match="capacity_not_negative"), db_session.begin_nested():
        make_contract(db_session, provider, capacity=-1)


def test_one_active_assignment_per_referral(db_session: Session) -> None:
    provider = make_provider(db_session)
    contract = make_contract(db_session, provider)
    referral = make_referral(db_session, make_member(db_session))
    fields = dict(referral_id=referral.id, provider_id=provider.id, site_id=f"{provider.id}-S1",
                  contract_id=contract.id, units=1)
    db_session.add(Assignment(**fields, status=AssignmentStatus.DECLINED))
    db_session.add(Assignment(**fields))
    db_session.flush()
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.add(Assignment(**fields, status=AssignmentStatus.SENT))
        db_session.flush()


@pytest.mark.parametrize("statement", ["UPDATE audit_events SET actor = 'someone else'", "DELETE FROM audit_events"])
def test_audit_log_is_append_only(db_session: Session, statement: str) -> None:
    record_audit(db_session, actor="lead@plan.org", action="referral.view", entity_type="referral", entity_id="R1")
    db_session.flush()
    with pytest.raises(DBAPIError, match="append-only"), db_session.begin_nested():
        db_session.execute(sa.text(statement))
    assert db_session.scalars(sa.select(AuditEvent.actor)).all() == ["lead@plan.org"]
