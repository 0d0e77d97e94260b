"""A small world for the web tests: two providers, referrals in each state of interest, a run.

"Today" is 2026-11-25 (``WEB_TODAY``): a Wednesday, the day before Thanksgiving.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from capacity.models import CapacityReportKind, Contract
from placement.models import Assignment, AssignmentStatus, RunTrigger, SolverRun, UnplacedReferral
from providers.models import Provider
from referrals.models import Referral, ReferralStatus, ReferralStatusChange
from tests.factories import (
    make_assignment,
    make_capacity_report,
    make_contract,
    make_member,
    make_provider,
    make_referral,
)


@dataclass
class World:
    provider_a: Provider
    provider_b: Provider
    contract_a: Contract
    contract_b: Contract
    sent_a: Referral  # sent to A on 2026-11-20: A's answer is overdue
    sent_b: Referral  # sent to B on 2026-11-24: B's answer is due 2026-11-30 (after Thanksgiving)
    ready_old: Referral  # received 2026-11-02, never sent: overdue
    received_new: Referral  # received 2026-11-24: 10 business days left... almost
    unplaced: Referral
    assignment_a: Assignment
    assignment_b: Assignment
    run: SolverRun


def _history(session: Session, referral: Referral, *steps: tuple[ReferralStatus, dt.date]) -> None:
    previous = None
    for status, on_date in steps:
        session.add(ReferralStatusChange(referral_id=referral.id, from_status=previous, to_status=status,
                                         on_date=on_date, actor="test"))
        previous = status
    session.flush()


@pytest.fixture
def world(db_session: Session) -> World:
    provider_a = make_provider(db_session, name="Alder Housing Services")
    provider_b = make_provider(db_session, name="Birch Community Care")
    contract_a = make_contract(db_session, provider_a, capacity=5)
    contract_b = make_contract(db_session, provider_b, capacity=5)
    make_capacity_report(db_session, contract_b, CapacityReportKind.STAFFING_CHANGE, dt.date(2026, 11, 10),
                         staffing_change="one case manager left")

    def referral(status: ReferralStatus, received: dt.date, **kw: object) -> Referral:
        return make_referral(db_session, make_member(db_session, last_name=kw.pop("last_name", "Rivera")),
                             status=status, received_date=received, **kw)

    sent_a = referral(ReferralStatus.SENT, dt.date(2026, 11, 16), last_name="Ahmed")
    sent_b = referral(ReferralStatus.SENT, dt.date(2026, 11, 17), last_name="Baker")
    ready_old = referral(ReferralStatus.READY, dt.date(2026, 11, 2), last_name="Chen")
    received_new = referral(ReferralStatus.RECEIVED, dt.date(2026, 11, 24), last_name="Diaz")
    unplaced = referral(ReferralStatus.UNPLACED, dt.date(2026, 11, 18), last_name="Evans")
    _history(db_session, sent_a, (ReferralStatus.RECEIVED, dt.date(2026, 11, 16)),
             (ReferralStatus.READY, dt.date(2026, 11, 17)), (ReferralStatus.PROPOSED, dt.date(2026, 11, 19)),
             (ReferralStatus.SENT, dt.date(2026, 11, 20)))
    _history(db_session, sent_b, (ReferralStatus.RECEIVED, dt.date(2026, 11, 17)),
             (ReferralStatus.PROPOSED, dt.date(2026, 11, 23)), (ReferralStatus.SENT, dt.date(2026, 11, 24)))

    run = SolverRun(trigger=RunTrigger.MANUAL, actor="lead@example.org", status="OPTIMAL", method="test",
                    referrals_considered=3, placed=2, unplaced=1, newly_placed=2)
    db_session.add(run)
    db_session.flush()
    assignment_a = make_assignment(db_session, sent_a, contract_a, status=AssignmentStatus.SENT,
                                   sent_on=dt.date(2026, 11, 20), solver_run_id=run.id,
                                   reasons={"why": "placed", "cost": 10})
    assignment_b = make_assignment(db_session, sent_b, contract_b, status=AssignmentStatus.SENT,
                                   sent_on=dt.date(2026, 11, 24), solver_run_id=run.id)
    db_session.add(UnplacedReferral(referral_id=unplaced.id, solver_run_id=run.id, reason="ALL_IN_AREA_FULL",
                                    detail={"reason": "ALL_IN_AREA_FULL", "nearest": [
                                        {"provider_id": provider_b.id, "site": f"{provider_b.id}-S1", "miles": 3.2}]}))
    db_session.flush()
    return World(provider_a, provider_b, contract_a, contract_b, sent_a, sent_b, ready_old, received_new, unplaced,
                 assignment_a, assignment_b, run)


def small_plan_app(engine: Engine) -> tuple[Any, Any]:
    """The report tests' small plan (tests.reports.conftest), committed, and an app reading it on
    2026-12-01 (in Q4) with a compliance user signed in: the app and its client."""
    from tests.conftest import AuthActions, make_user
    from tests.reports.conftest import build_small_plan
    from web import create_app

    with Session(engine) as s:
        build_small_plan(s)
        user_id = make_user(s, "compliance").id
        s.commit()
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "TODAY": dt.date(2026, 12, 1),
                      "SESSION_FACTORY": lambda: Session(engine, expire_on_commit=False)})
    client = app.test_client()
    AuthActions(client, Session(engine)).as_user(type("U", (), {"id": user_id})())
    return app, client
