"""A small hand-built plan for the report tests, every figure of which is worked out in the tests.

Fourth quarter 2026 (no state holiday in October; Veterans Day 11-11 and Thanksgiving 11-26/27 are
not crossed by any clock here). Providers P1 (Humboldt: housing navigation C1, and recuperative
care C2 for Humboldt and Shasta, its site in Eureka) and P2 (Shasta: housing navigation C3).

====  ======  ================  ========================================================================
id    member  service           what happened
====  ======  ================  ========================================================================
R0    M1      HOUSING_NAV       received 09-30 (before the quarter), unplaced 09-30
R1    M1      HOUSING_NAV       received Thu 10-01, prefers P1; proposed 10-05, sent 10-06, accepted 10-07
R2    M2      HOUSING_NAV       received Mon 10-05, prefers P2 then P1; proposed to P1 10-19, sent 10-20,
                                declined AT_CAPACITY 10-23, then unplaced ALL_IN_AREA_FULL 10-23
R3    M3      RECUPERATIVE_CARE received Mon 11-02; assignment created 11-03 (no status history), sent
                                11-03, accepted 11-05; member in Shasta, site in Eureka
R4    M4      HOUSING_NAV       received Mon 10-19 (the day before M4's 26th birthday); unplaced 10-20
R5    M4      RECUPERATIVE_CARE received Mon 12-28: nothing yet
====  ======  ================  ========================================================================

Members: M1 Asian F born 1990-06-01, English; M2 White M born 2010-01-01, requires Spanish;
M3 in Shasta, no demographics row, born 1950-12-01, speaks Hmong; M4 in Shasta, White, sex U,
born 2000-10-20, no language recorded. C1 reports NEW_CAPACITY 8 (from 5) on 11-15.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from capacity.models import CapacityReportKind
from placement.models import Assignment, AssignmentStatus, RunTrigger, SolverRun, UnplacedReferral
from referrals.models import Member, Referral, ReferralSource, ReferralStatus, ReferralStatusChange
from reports.common import Period
from tests.factories import (
    make_assignment,
    make_capacity_report,
    make_contract,
    make_member,
    make_provider,
    make_referral,
)

Q4 = Period.quarter("2026Q4")
S = ReferralStatus


def at(day: str, hour: int = 17) -> dt.datetime:
    """A UTC timestamp on ``day`` (ISO date)."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=dt.UTC)


def history(session: Session, referral: Referral, *steps: tuple[ReferralStatus | None, ReferralStatus, str]) -> None:
    """Status-history rows ``(from, to, ISO day)``."""
    for from_status, to_status, day in steps:
        session.add(ReferralStatusChange(referral_id=referral.id, from_status=from_status, to_status=to_status,
                                         on_date=dt.date.fromisoformat(day), actor="test"))
    session.flush()


def unplaced(session: Session, referral: Referral, run: SolverRun, reason: str, when: dt.datetime) -> UnplacedReferral:
    row = UnplacedReferral(referral_id=referral.id, solver_run_id=run.id, reason=reason, created_at=when)
    session.add(row)
    session.flush()
    return row


@dataclass
class SmallPlan:
    referrals: dict[str, Referral]
    assignments: dict[str, Assignment]


@pytest.fixture
def small_plan(db_session: Session) -> SmallPlan:
    return build_small_plan(db_session)


def build_small_plan(s: Session) -> SmallPlan:
    """Add the plan of the module docstring to the session (flushed, not committed)."""
    p1 = make_provider(s, id="P1", county="Humboldt")
    p2 = make_provider(s, id="P2", county="Shasta")
    c1 = make_contract(s, p1, id="C1", service="HOUSING_NAV", capacity=5, counties=("Humboldt",))
    c2 = make_contract(s, p1, id="C2", service="RECUPERATIVE_CARE", capacity=4, counties=("Humboldt", "Shasta"))
    make_contract(s, p2, id="C3", service="HOUSING_NAV", capacity=3, counties=("Shasta",))
    make_capacity_report(s, c1, CapacityReportKind.NEW_CAPACITY, dt.date(2026, 11, 15), new_capacity=8)
    run = SolverRun(trigger=RunTrigger.MANUAL, actor="test")
    s.add(run)
    s.flush()

    m1 = make_member(s, county="Humboldt", dob=dt.date(1990, 6, 1), spoken_languages=["English"],
                     demographics={"race_ethnicity": "Asian", "sex": "F"})
    m2 = make_member(s, county="Humboldt", dob=dt.date(2010, 1, 1), spoken_languages=["English", "Spanish"],
                     required_language="Spanish", demographics={"race_ethnicity": "White", "sex": "M"})
    m3 = make_member(s, county="Shasta", dob=dt.date(1950, 12, 1), spoken_languages=["Hmong"])
    s.delete(m3.demographics)  # a member with no demographics row at all
    m4 = make_member(s, county="Shasta", dob=dt.date(2000, 10, 20), spoken_languages=[],
                     demographics={"race_ethnicity": "White", "sex": "U"})
    s.flush()

    def day(text: str) -> dt.date:
        return dt.date.fromisoformat(text)

    r0 = make_referral(s, m1, id="R0", received_date=day("2026-09-30"), status=S.UNPLACED)
    unplaced(s, r0, run, "ALL_IN_AREA_FULL", at("2026-09-30"))

    r1 = make_referral(s, m1, id="R1", received_date=day("2026-10-01"), preferences=("P1",), status=S.ACCEPTED)
    history(s, r1, (None, S.RECEIVED, "2026-10-01"), (S.RECEIVED, S.READY, "2026-10-01"),
            (S.READY, S.PROPOSED, "2026-10-05"), (S.PROPOSED, S.SENT, "2026-10-06"),
            (S.SENT, S.ACCEPTED, "2026-10-07"))
    a1 = make_assignment(s, r1, c1, status=AssignmentStatus.ACCEPTED, created_at=at("2026-10-05"),
                         sent_on=day("2026-10-06"), answered_on=day("2026-10-07"))

    r2 = make_referral(s, m2, id="R2", received_date=day("2026-10-05"), preferences=("P2", "P1"), status=S.UNPLACED)
    history(s, r2, (None, S.RECEIVED, "2026-10-05"), (S.RECEIVED, S.READY, "2026-10-05"),
            (S.READY, S.PROPOSED, "2026-10-19"), (S.PROPOSED, S.SENT, "2026-10-20"),
            (S.SENT, S.DECLINED, "2026-10-23"), (S.DECLINED, S.UNPLACED, "2026-10-23"))
    a2 = make_assignment(s, r2, c1, status=AssignmentStatus.DECLINED, created_at=at("2026-10-19"),
                         sent_on=day("2026-10-20"), answered_on=day("2026-10-23"), decline_reason="AT_CAPACITY",
                         ended_at=at("2026-10-23"))
    unplaced(s, r2, run, "ALL_IN_AREA_FULL", at("2026-10-23", 18))

    r3 = make_referral(s, m3, id="R3", service="RECUPERATIVE_CARE", received_date=day("2026-11-02"),
                       status=S.ACCEPTED)
    a3 = make_assignment(s, r3, c2, status=AssignmentStatus.ACCEPTED, created_at=at("2026-11-03"),
                         sent_on=day("2026-11-03"), answered_on=day("2026-11-05"))

    r4 = make_referral(s, m4, id="R4", received_date=day("2026-10-19"), status=S.UNPLACED)
    history(s, r4, (None, S.RECEIVED, "2026-10-19"), (S.RECEIVED, S.READY, "2026-10-19"),
            (S.READY, S.UNPLACED, "2026-10-20"))
    unplaced(s, r4, run, "ALL_IN_AREA_FULL", at("2026-10-20"))

    r5 = make_referral(s, m4, id="R5", service="RECUPERATIVE_CARE", received_date=day("2026-12-28"))
    return SmallPlan(referrals={r.id: r for r in (r0, r1, r2, r3, r4, r5)},
                     assignments={"A1": a1, "A2": a2, "A3": a3})


def add_sent_referral(engine: Engine, day: dt.date) -> None:
    """Commit a new referral R-NEW of the first member, received on ``day`` and sent to P1 (C1) at once."""
    with Session(engine) as s:
        member = s.scalars(sa.select(Member).order_by(Member.id)).first()
        assert member is not None
        s.add(Referral(id="R-NEW", member_id=member.id, service_key="HOUSING_NAV", source=ReferralSource.PCP,
                       received_date=day))
        s.flush()
        s.add(Assignment(referral_id="R-NEW", provider_id="P1", site_id="P1-S1", contract_id="C1", units=1,
                         status=AssignmentStatus.SENT, sent_on=day,
                         created_at=dt.datetime.combine(day, dt.time(17), tzinfo=dt.UTC)))
        s.commit()


@pytest.fixture
def re_referred(db_session: Session) -> Referral:
    """RR: received 10-01 in Humboldt, prefers P2; sent to P1 10-02, declined 10-05; proposed to P2 10-06."""
    s = db_session
    p1 = make_provider(s, id="P1", county="Humboldt")
    p2 = make_provider(s, id="P2", county="Humboldt")
    c1, c2 = make_contract(s, p1, id="C1"), make_contract(s, p2, id="C2")
    referral = make_referral(s, make_member(s), id="RR", received_date=dt.date(2026, 10, 1), preferences=("P2",),
                             status=S.PROPOSED)
    make_assignment(s, referral, c1, status=AssignmentStatus.DECLINED, created_at=at("2026-10-02"),
                    sent_on=dt.date(2026, 10, 2), answered_on=dt.date(2026, 10, 5), decline_reason="OTHER",
                    ended_at=at("2026-10-05"))
    make_assignment(s, referral, c2, created_at=at("2026-10-06"))
    return referral
