"""Database -> matcher -> database: one transaction, stable re-solves, nobody waitlisted."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from placement.models import Assignment, AssignmentStatus, Notification, RunTrigger, SolverRun, UnplacedReferral
from placement.services import (
    accept_assignment,
    active_assignment,
    decline_assignment,
    run_solver,
    send_assignments,
)
from referrals.models import MemberDemographics, Referral, ReferralStatus
from tests.factories import make_contract, make_member, make_provider, make_referral

TODAY = dt.date(2026, 11, 25)


def _plan(session: Session, *, capacities: tuple[int, ...] = (1, 1), referrals: int = 3) -> list[Referral]:
    for capacity in capacities:
        make_contract(session, make_provider(session), capacity=capacity)
    return [
        make_referral(session, make_member(session), status=ReferralStatus.READY,
                      received_date=dt.date(2026, 11, 2) + dt.timedelta(days=i))
        for i in range(referrals)
    ]


def _active(session: Session) -> dict[str, str]:
    rows = session.execute(sa.select(Assignment.referral_id, Assignment.provider_id).where(
        Assignment.status.in_((AssignmentStatus.PROPOSED, AssignmentStatus.SENT, AssignmentStatus.ACCEPTED))))
    return dict(rows.all())


def test_solve_places_up_to_capacity_and_reports_the_rest_unplaced(db_session: Session) -> None:
    referrals = _plan(db_session)
    outcome = run_solver(db_session, on_date=TODAY, actor="lead@plan.org", trigger=RunTrigger.MANUAL)
    assert outcome.summary["NEWLY_PLACED"] == 2 and outcome.summary["NEWLY_UNPLACED"] == 1
    placed = _active(db_session)
    assert len(placed) == 2 and len(set(placed.values())) == 2  # one each: capacity 1 and 1
    unplaced = db_session.scalars(sa.select(UnplacedReferral)).one()
    assert unplaced.reason == "ALL_IN_AREA_FULL"
    statuses = {r.id: db_session.get(Referral, r.id).status for r in referrals}  # type: ignore[union-attr]
    assert sorted(statuses.values()) == [ReferralStatus.PROPOSED, ReferralStatus.PROPOSED, ReferralStatus.UNPLACED]
    run = db_session.scalars(sa.select(SolverRun)).one()
    assert (run.placed, run.unplaced, run.referrals_considered) == (2, 1, 3)
    # The most urgent (longest waiting) referrals are placed first.
    assert unplaced.referral_id == referrals[-1].id


def test_rerunning_changes_nothing(db_session: Session) -> None:
    _plan(db_session)
    run_solver(db_session, on_date=TODAY, actor="lead@plan.org", trigger=RunTrigger.MANUAL)
    before = _active(db_session)
    again = run_solver(db_session, on_date=TODAY, actor="lead@plan.org", trigger=RunTrigger.MANUAL)
    assert again.summary["MOVED"] == 0 and again.summary["NEWLY_PLACED"] == 0
    assert _active(db_session) == before


def test_dry_run_writes_nothing(db_session: Session) -> None:
    _plan(db_session)
    outcome = run_solver(db_session, on_date=TODAY, actor="lead@plan.org", trigger=RunTrigger.NIGHTLY,
                         dry_run=True)
    assert outcome.summary["NEWLY_PLACED"] == 2
    assert _active(db_session) == {}
    assert db_session.scalar(sa.select(sa.func.count()).select_from(SolverRun)) == 0


def test_decline_at_full_capacity_re_solves_and_never_moves_an_accepted_referral(db_session: Session) -> None:
    _plan(db_session, capacities=(2, 2), referrals=3)
    run_solver(db_session, on_date=TODAY, actor="lead@plan.org", trigger=RunTrigger.MANUAL)
    proposals = db_session.scalars(sa.select(Assignment)).all()
    send_assignments(db_session, [a.id for a in proposals], actor="lead@plan.org", on_date=TODAY)
    by_provider: dict[str, list[Assignment]] = {}
    for a in proposals:
        by_provider.setdefault(a.provider_id, []).append(a)
    # The provider with two referrals accepts one and declines the other as full.
    crowded = next(p for p, items in by_provider.items() if len(items) == 2)
    first, second = by_provider[crowded]
    accept_assignment(db_session, first.id, actor="intake@provider.org", on_date=TODAY)
    result = decline_assignment(db_session, second.id, reason_code="AT_CAPACITY", actor="intake@provider.org",
                                on_date=TODAY)
    assert result.full_report is not None
    db_session.refresh(first)
    assert first.status is AssignmentStatus.ACCEPTED  # never moved
    new = active_assignment(db_session, second.referral_id)
    assert new is not None and new.provider_id != crowded  # re-referred elsewhere, and sent at once
    assert new.status is AssignmentStatus.SENT and new.sent_on == TODAY
    notice = db_session.scalars(sa.select(Notification).where(Notification.kind == "RE_REFERRAL")).one()
    assert (notice.provider_id, notice.referral_id, notice.assignment_id) == (new.provider_id, new.referral_id, new.id)
    steps = [c.to_status for c in db_session.get(Referral, second.referral_id).history]  # type: ignore[union-attr]
    assert steps[-3:] == [ReferralStatus.DECLINED, ReferralStatus.PROPOSED, ReferralStatus.SENT]


def test_demographics_do_not_change_the_answer(db_session: Session) -> None:
    _plan(db_session, capacities=(1,), referrals=2)
    first = run_solver(db_session, on_date=TODAY, actor="t", trigger=RunTrigger.MANUAL, dry_run=True)
    for d in db_session.scalars(sa.select(MemberDemographics)):
        d.race_ethnicity, d.sex = "Asian", "M"
    db_session.flush()
    second = run_solver(db_session, on_date=TODAY, actor="t", trigger=RunTrigger.MANUAL, dry_run=True)
    assert [(c.referral_id, c.to_provider) for c in first.changes] == [
        (c.referral_id, c.to_provider) for c in second.changes
    ]


def test_a_full_report_re_solves_only_that_providers_referrals(db_session: Session) -> None:
    from capacity.models import CapacityReportKind
    from placement.services import report_capacity

    _plan(db_session, capacities=(2, 2, 2), referrals=5)
    run_solver(db_session, on_date=TODAY, actor="lead@plan.org", trigger=RunTrigger.MANUAL)
    before = _active(db_session)
    counts: dict[str, int] = {}
    for provider in before.values():
        counts[provider] = counts.get(provider, 0) + 1
    full = max(counts, key=lambda p: (counts[p], p))
    contract_id = db_session.scalar(sa.select(Assignment.contract_id).where(Assignment.provider_id == full).limit(1))
    assert contract_id is not None
    outcome = report_capacity(db_session, contract_id, CapacityReportKind.FULL, TODAY, TODAY, "intake@provider.org")
    assert outcome.resolve is not None
    after = _active(db_session)
    # Nobody is left at the full provider, and nobody elsewhere moved.
    assert full not in after.values()
    assert {r: p for r, p in after.items() if before.get(r) != full} == {
        r: p for r, p in before.items() if p != full
    }
    considered = {d.referral_id for d in outcome.resolve.snapshot.data.referrals}
    assert considered >= {r for r, p in before.items() if p == full}
    assert not considered & {r for r, p in before.items() if p != full}


def test_each_assignment_explains_itself_in_words(db_session: Session) -> None:
    provider = make_provider(db_session, staff_languages=["English", "Spanish"])
    make_contract(db_session, provider, capacity=1)
    member = make_member(db_session, spoken_languages=["Spanish"], required_language="Spanish")
    make_referral(db_session, member, status=ReferralStatus.READY, preferences=(provider.id,))
    run_solver(db_session, on_date=TODAY, actor="lead@plan.org", trigger=RunTrigger.MANUAL)
    assignment = db_session.scalars(sa.select(Assignment)).one()
    assert assignment.reasons["explanation"] == [
        "staff speak Spanish, which the member requires",
        "the member's first choice",
        "staff share the member's language",
    ]


def test_an_override_needs_a_reason_and_still_obeys_the_rules(db_session: Session) -> None:
    from placement.services import PlacementError, override_assignment

    _plan(db_session, capacities=(1, 1), referrals=1)
    far = make_contract(db_session, make_provider(db_session, county="Sonoma"), capacity=3, counties=("Sonoma",))
    run_solver(db_session, on_date=TODAY, actor="lead@plan.org", trigger=RunTrigger.MANUAL)
    proposal = db_session.scalars(sa.select(Assignment)).one()
    other = proposal.contract_id
    with pytest.raises(PlacementError, match="written reason"):
        override_assignment(db_session, proposal.id, contract_id=other, site_id=None, reason=" ",
                            actor="lead@plan.org", on_date=TODAY)
    with pytest.raises(PlacementError, match="service area"):
        override_assignment(db_session, proposal.id, contract_id=far.id, site_id=None, reason="member asked",
                            actor="lead@plan.org", on_date=TODAY)
    from capacity.models import Contract

    humboldt = db_session.scalars(sa.select(Contract.id).where(
        Contract.id.not_in([proposal.contract_id, far.id]))).all()
    new = override_assignment(db_session, proposal.id, contract_id=humboldt[0], site_id=None,
                              reason="member's sister works there", actor="lead@plan.org", on_date=TODAY)
    assert new.status is AssignmentStatus.PROPOSED and new.override_reason == "member's sister works there"
    db_session.refresh(proposal)
    assert proposal.status is AssignmentStatus.SUPERSEDED


def test_nobody_waits_at_a_full_provider_without_the_plans_consent(db_session: Session) -> None:
    """7003 VI.E.5: unplaced, escalated; a waitlist only where the plan recorded consent."""
    from capacity.models import Contract

    _plan(db_session, capacities=(1,), referrals=3)
    run_solver(db_session, on_date=TODAY, actor="lead@plan.org", trigger=RunTrigger.MANUAL)
    details = [u.detail for u in db_session.scalars(sa.select(UnplacedReferral))]
    assert len(details) == 2 and all("waitlist_at" not in d for d in details)
    contract = db_session.scalars(sa.select(Contract)).one()
    contract.waitlist_consent, contract.waitlist_consent_date = True, dt.date(2026, 11, 1)
    db_session.flush()
    run_solver(db_session, on_date=TODAY, actor="lead@plan.org", trigger=RunTrigger.MANUAL)
    open_rows = db_session.scalars(sa.select(UnplacedReferral).where(UnplacedReferral.resolved_at.is_(None))).all()
    assert len(open_rows) == 2
    assert all(u.detail["waitlist_at"]["contract_id"] == contract.id for u in open_rows)
    assert all(u.reason == "ALL_IN_AREA_FULL" for u in open_rows)


def test_a_run_writes_rows_the_models_read_back_whole(db_session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's rows go to the driver directly (``_DriverRows``): on SQLite in multi-row statements,
    two rows each here, so full and partial statements both run; on PostgreSQL by COPY. Every column
    reads back as the solver decided it."""
    from placement import services

    monkeypatch.setattr(services._DriverRows, "PARAMETERS", 2 * len(services.ASSIGNMENT_COLUMNS))
    _plan(db_session, capacities=(2, 1), referrals=5)
    outcome = run_solver(db_session, on_date=TODAY, actor="lead@plan.org", trigger=RunTrigger.MANUAL)
    run = db_session.get(SolverRun, outcome.run_id)
    assert run is not None
    written = {a.referral_id: a for a in db_session.scalars(sa.select(Assignment))}
    assert set(written) == {p.referral_id for p in outcome.solution.assignments} and len(written) == 3
    for placement in outcome.solution.assignments:
        row = written[placement.referral_id]
        assert (row.provider_id, row.units, row.solver_run_id) == (placement.provider_id, placement.units, run.id)
        assert row.site_id and placement.site_id.endswith(f"@{row.site_id}")
        assert row.status is AssignmentStatus.PROPOSED and row.sent_on is None
        assert row.cost_terms == {"preference": placement.terms.preference, "continuity": placement.terms.continuity,
                                  "fit": placement.terms.fit, "travel": placement.terms.travel,
                                  "stability": placement.terms.stability}
        assert row.reasons["cost"] == placement.cost and row.reasons["why"] == "placed"
        assert row.created_by == "lead@plan.org" and row.created_at == run.started_at
    unplaced = db_session.scalars(sa.select(UnplacedReferral)).all()
    assert sorted(u.referral_id for u in unplaced) == sorted(u.referral_id for u in outcome.solution.unplaced)
    assert all(u.reason == "ALL_IN_AREA_FULL" and u.detail["reason"] == "ALL_IN_AREA_FULL"
               and u.created_at == run.started_at and u.resolved_at is None for u in unplaced)


def test_a_nightly_rerun_on_an_unchanged_plan_changes_nothing(db_session: Session) -> None:
    """The demo plan, solved, then re-solved twice on a later day: the second run keeps everyone.

    Two equally urgent members, one holding the other's first choice, used to swap on every run (the
    objective tied): leaving a proposal for unplaced now costs its stability term, as a move does."""
    from csmatch.seed import sync_services
    from exchange.roster import load_roster
    from fixtures import DEMO_DIR

    sync_services(db_session)
    load_roster(db_session, DEMO_DIR, today=TODAY)
    run_solver(db_session, on_date=TODAY, actor="lead@plan.org", trigger=RunTrigger.MANUAL)
    later = TODAY + dt.timedelta(days=2)
    run_solver(db_session, on_date=later, actor="nightly", trigger=RunTrigger.NIGHTLY)
    again = run_solver(db_session, on_date=later, actor="nightly", trigger=RunTrigger.NIGHTLY)
    assert again.summary["KEPT"] > 1000
    assert {k: again.summary[k] for k in ("NEWLY_PLACED", "MOVED", "NEWLY_UNPLACED")} == {
        "NEWLY_PLACED": 0, "MOVED": 0, "NEWLY_UNPLACED": 0}
