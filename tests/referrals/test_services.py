"""No waitlist (7003 VI.E.5): the unplaced list and network gaps; a waitlist only with recorded consent;
referring a member again (VI.C.5)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from capacity.ledger import UnknownContract
from placement.models import RunTrigger, SolverRun, UnplacedReferral
from referrals.lifecycle import LifecycleError, record_outreach_attempt, transition
from referrals.models import ExclusionReason, Referral, ReferralExclusion, ReferralStatus
from referrals.services import (
    WaitlistNotAllowed,
    count_unplaced,
    ensure_may_queue,
    may_queue,
    network_gaps,
    refer_again,
    unplaced_referrals,
)
from tests.factories import make_contract, make_member, make_provider, make_referral

S = ReferralStatus
AS_OF = dt.date(2026, 11, 25)


def _unplaced(session: Session, run: SolverRun, received: dt.date, reason: str, *, county: str = "Humboldt",
              service: str = "HOUSING_NAV") -> Referral:
    referral = make_referral(session, make_member(session, county=county), service=service, received_date=received)
    transition(session, referral, S.READY, actor="c", on_date=received)
    transition(session, referral, S.UNPLACED, actor="solver", on_date=received, reason_code=reason)
    session.add(UnplacedReferral(referral_id=referral.id, solver_run_id=run.id, reason=reason,
                                 detail={"providers_in_area": 0}))
    session.flush()
    return referral


@pytest.fixture
def run(db_session: Session) -> SolverRun:
    solver_run = SolverRun(trigger=RunTrigger.MANUAL, actor="test")
    db_session.add(solver_run)
    db_session.flush()
    return solver_run


def test_unplaced_referrals_are_listed_with_reason_and_waiting_time(db_session: Session, run: SolverRun) -> None:
    old = _unplaced(db_session, run, dt.date(2026, 11, 2), "NO_PROVIDER_IN_AREA", county="Mendocino")
    new = _unplaced(db_session, run, dt.date(2026, 11, 20), "ALL_IN_AREA_FULL")
    placed = make_referral(db_session, make_member(db_session))  # not unplaced: not listed
    entries = unplaced_referrals(db_session, as_of=AS_OF)
    assert [e.referral_id for e in entries] == [old.id, new.id]
    assert placed.id not in {e.referral_id for e in entries}
    first, second = entries
    assert (first.reason, first.side, first.county) == ("NO_PROVIDER_IN_AREA", "network gap", "Mendocino")
    assert first.detail == {"providers_in_area": 0}
    # received Mon 2 Nov: due Tue 17 Nov (Veterans Day skipped), 16 business days waited by 25 Nov
    assert (first.send_due, first.overdue, first.business_days_waiting) == (dt.date(2026, 11, 17), True, 16)
    assert (second.send_due, second.overdue) == (dt.date(2026, 12, 8), False)  # Thanksgiving skipped
    assert [e.referral_id for e in unplaced_referrals(db_session, county="Mendocino", as_of=AS_OF)] == [old.id]
    assert [e.referral_id for e in unplaced_referrals(db_session, reason="ALL_IN_AREA_FULL", as_of=AS_OF)] == [
        new.id]


def test_latest_open_unplaced_row_gives_the_reason(db_session: Session, run: SolverRun) -> None:
    referral = _unplaced(db_session, run, dt.date(2026, 11, 2), "NO_PROVIDER_IN_AREA")
    db_session.add(UnplacedReferral(referral_id=referral.id, solver_run_id=run.id, reason="ALL_IN_AREA_FULL",
                                    created_at=dt.datetime(2099, 1, 1, tzinfo=dt.UTC),
                                    resolved_at=dt.datetime(2099, 1, 2, tzinfo=dt.UTC)))
    db_session.flush()
    assert [e.reason for e in unplaced_referrals(db_session, as_of=AS_OF)] == ["NO_PROVIDER_IN_AREA"]


def test_unplaced_without_a_solver_row_uses_the_transition_reason(db_session: Session) -> None:
    referral = make_referral(db_session, make_member(db_session), received_date=dt.date(2026, 11, 2))
    transition(db_session, referral, S.READY, actor="c", on_date=dt.date(2026, 11, 2))
    transition(db_session, referral, S.UNPLACED, actor="c", on_date=dt.date(2026, 11, 3),
               reason_code="REQUIRED_LANGUAGE_UNAVAILABLE")
    [entry] = unplaced_referrals(db_session, as_of=AS_OF)
    assert (entry.reason, entry.side, entry.unplaced_since) == ("REQUIRED_LANGUAGE_UNAVAILABLE", "network gap", None)


def test_network_gaps_count_unplaced_by_county_service_and_reason(db_session: Session, run: SolverRun) -> None:
    for received in (dt.date(2026, 11, 2), dt.date(2026, 11, 9)):
        _unplaced(db_session, run, received, "NO_PROVIDER_IN_AREA", county="Mendocino")
    _unplaced(db_session, run, dt.date(2026, 11, 4), "ALL_IN_AREA_FULL", county="Shasta", service="MEALS")
    gaps = network_gaps(db_session)
    assert [(g.county, g.service_key, g.reason, g.referrals, g.oldest_received) for g in gaps] == [
        ("Mendocino", "HOUSING_NAV", "NO_PROVIDER_IN_AREA", 2, dt.date(2026, 11, 2)),
        ("Shasta", "MEALS", "ALL_IN_AREA_FULL", 1, dt.date(2026, 11, 4)),
    ]
    assert [g.county for g in network_gaps(db_session, county="Shasta")] == ["Shasta"]


def test_unplaced_list_pages_and_counts_in_sql(db_session: Session, run: SolverRun) -> None:
    made = [
        _unplaced(db_session, run, dt.date(2026, 11, 2) + dt.timedelta(days=i % 5),
                  "ALL_IN_AREA_FULL" if i % 3 else "NO_PROVIDER_IN_AREA", county="Shasta" if i % 2 else "Mendocino")
        for i in range(12)
    ]
    whole = unplaced_referrals(db_session, as_of=AS_OF)
    assert [e.referral_id for e in whole] == [r.id for r in sorted(made, key=lambda r: (r.received_date, r.id))]
    pages = [unplaced_referrals(db_session, as_of=AS_OF, limit=5, offset=o) for o in (0, 5, 10)]
    assert [len(p) for p in pages] == [5, 5, 2]
    assert [e for p in pages for e in p] == whole  # the same entries, in the same order
    assert count_unplaced(db_session) == 12
    full = [e.referral_id for e in whole if e.reason == "ALL_IN_AREA_FULL"]
    assert count_unplaced(db_session, reason="ALL_IN_AREA_FULL") == len(full) == 8
    assert [e.referral_id for e in unplaced_referrals(db_session, reason="ALL_IN_AREA_FULL", as_of=AS_OF,
                                                      limit=3, offset=3)] == full[3:6]
    shasta = [e.referral_id for e in whole if e.county == "Shasta"]
    assert count_unplaced(db_session, county="Shasta") == len(shasta) == 6
    assert [e.referral_id for e in unplaced_referrals(db_session, county="Shasta", as_of=AS_OF, limit=4,
                                                      offset=4)] == shasta[4:]
    assert count_unplaced(db_session, county="Shasta", service_key="MEALS") == 0
    assert unplaced_referrals(db_session, as_of=AS_OF, limit=5, offset=50) == []


def test_latest_unplaced_row_is_the_newest_then_the_highest_id(db_session: Session, run: SolverRun) -> None:
    referral = _unplaced(db_session, run, dt.date(2026, 11, 2), "NO_PROVIDER_IN_AREA")
    at = dt.datetime(2098, 11, 20, 9, tzinfo=dt.UTC)  # after the first row (made now)
    for reason in ("ALL_IN_AREA_FULL", "BEYOND_TRAVEL_STANDARD"):  # same time: the later row wins
        db_session.add(UnplacedReferral(referral_id=referral.id, solver_run_id=run.id, reason=reason, created_at=at,
                                        detail={"reason": reason}))
        db_session.flush()
    db_session.add(UnplacedReferral(referral_id=referral.id, solver_run_id=run.id, reason="INELIGIBLE",
                                    created_at=at - dt.timedelta(days=1)))  # a later id, but older
    db_session.flush()
    [entry] = unplaced_referrals(db_session, as_of=AS_OF)
    assert (entry.reason, entry.detail) == ("BEYOND_TRAVEL_STANDARD", {"reason": "BEYOND_TRAVEL_STANDARD"})
    assert [(g.reason, g.referrals) for g in network_gaps(db_session)] == [("BEYOND_TRAVEL_STANDARD", 1)]
    assert count_unplaced(db_session, reason="BEYOND_TRAVEL_STANDARD") == 1
    assert count_unplaced(db_session, reason="ALL_IN_AREA_FULL") == 0


def test_unplaced_reason_falls_back_to_the_latest_transition_then_unknown(db_session: Session) -> None:
    coded = make_referral(db_session, make_member(db_session), received_date=dt.date(2026, 11, 2))
    transition(db_session, coded, S.READY, actor="c", on_date=dt.date(2026, 11, 2))
    transition(db_session, coded, S.UNPLACED, actor="c", on_date=dt.date(2026, 11, 3), reason_code="INELIGIBLE")
    transition(db_session, coded, S.READY, actor="c", on_date=dt.date(2026, 11, 4))
    transition(db_session, coded, S.UNPLACED, actor="c", on_date=dt.date(2026, 11, 5),
               reason_code="ALL_IN_AREA_EXCLUDED")
    bare = make_referral(db_session, make_member(db_session), received_date=dt.date(2026, 11, 3),
                         status=S.UNPLACED)
    assert [(e.referral_id, e.reason) for e in unplaced_referrals(db_session, as_of=AS_OF)] == [
        (coded.id, "ALL_IN_AREA_EXCLUDED"), (bare.id, "UNKNOWN")]


@pytest.mark.parametrize(
    ("consent", "consent_date", "allowed"),
    [(False, None, False), (True, None, True), (True, AS_OF, True), (True, AS_OF + dt.timedelta(days=1), False)],
)
def test_a_referral_waits_at_a_provider_only_with_recorded_consent(
    db_session: Session, consent: bool, consent_date: dt.date | None, allowed: bool
) -> None:
    contract = make_contract(db_session, make_provider(db_session), waitlist_consent=consent,
                             waitlist_consent_date=consent_date)
    assert may_queue(contract, AS_OF) is allowed
    if allowed:
        assert ensure_may_queue(db_session, contract.id, AS_OF) is contract
    else:
        why = "consent only from 2026-11-26" if consent else "no recorded plan consent"
        with pytest.raises(WaitlistNotAllowed, match=rf"contract '{contract.id}' has {why} .*"
                                                     r"referral 'R9' must go to a provider with open units"):
            ensure_may_queue(db_session, contract.id, AS_OF, referral_id="R9")


def test_queueing_at_an_unknown_contract_is_refused(db_session: Session) -> None:
    with pytest.raises(UnknownContract):
        ensure_may_queue(db_session, "C-NOPE", AS_OF)


def _discontinued(session: Session, code: str) -> Referral:
    referral = make_referral(session, make_member(session), received_date=dt.date(2026, 10, 1), units_needed=2)
    provider = make_provider(session)
    referral.exclusions.append(ReferralExclusion(provider_id=provider.id, reason=ExclusionReason.MEMBER_REFUSED))
    transition(session, referral, S.READY, actor="c", on_date=dt.date(2026, 10, 1))
    if code == "03":
        for day in (2, 5, 8):
            record_outreach_attempt(session, referral, actor="provider", on_date=dt.date(2026, 10, day))
    transition(session, referral, S.DISCONTINUED, actor="c", on_date=dt.date(2026, 10, 9), reason_code=code)
    return referral


@pytest.mark.parametrize("code", ["02", "03"])
def test_member_who_would_not_engage_is_referred_again_once_willing(db_session: Session, code: str) -> None:
    previous = _discontinued(db_session, code)
    with pytest.raises(LifecycleError, match=r"confirm the member is willing to engage .*7003 VI.C.5.a"):
        refer_again(db_session, previous, received_date=AS_OF, actor="c")
    again = refer_again(db_session, previous, received_date=AS_OF, actor="c", willing_to_engage=True)
    assert again.id == f"{previous.id}-1" and again.status is S.RECEIVED and again.received_date == AS_OF
    assert (again.member_id, again.service_key, again.units_needed) == (
        previous.member_id, previous.service_key, previous.units_needed)
    assert [e.provider_id for e in again.exclusions] == [e.provider_id for e in previous.exclusions]
    assert [(c.from_status, c.to_status) for c in again.history] == [(None, S.RECEIVED)]


def test_referral_after_another_reason_needs_no_confirmation(db_session: Session) -> None:
    previous = _discontinued(db_session, "06")
    assert refer_again(db_session, previous, received_date=AS_OF, actor="c").status is S.RECEIVED
    assert refer_again(db_session, previous, received_date=AS_OF, actor="c").id == f"{previous.id}-2"


def test_an_open_referral_is_not_referred_again(db_session: Session) -> None:
    referral = make_referral(db_session, make_member(db_session))
    with pytest.raises(LifecycleError, match="is RECEIVED: only a discontinued referral"):
        refer_again(db_session, referral, received_date=AS_OF, actor="c")
