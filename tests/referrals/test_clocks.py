"""Timeliness clocks in business days across weekends and state holidays (7003 VI.C.3, VI.E.2, VI.E.6).

Counting follows csmatch.calendar: the start day never counts; the due date itself is on time.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from referrals.clocks import capacity_report_due, clocks_for, referral_clocks
from referrals.lifecycle import record_provider_update, transition
from referrals.models import Referral, ReferralStatus
from tests.capacity.querycount import count_statements
from tests.factories import make_member, make_referral

S = ReferralStatus
THANKSGIVING_EVE = dt.date(2026, 11, 25)  # Wednesday; Thu 26 and Fri 27 are state holidays


def _referral(session: Session, received: dt.date, *path: tuple[S, dt.date]) -> Referral:
    referral = make_referral(session, make_member(session), received_date=received)
    for status, on in path:
        code = "AT_CAPACITY" if status is S.DECLINED else None
        transition(session, referral, status, actor="c", on_date=on, reason_code=code)
    return referral


@pytest.mark.parametrize(
    ("as_of", "days_left", "overdue"),
    [
        (THANKSGIVING_EVE, 10, False),
        (dt.date(2026, 11, 27), 10, False),  # the day after Thanksgiving does not count
        (dt.date(2026, 12, 10), 1, False),
        (dt.date(2026, 12, 11), 0, False),  # due today: still on time
        (dt.date(2026, 12, 12), 0, True),  # Saturday after the due Friday: overdue, no business day lost yet
        (dt.date(2026, 12, 14), -1, True),
    ],
)
def test_send_clock_received_the_day_before_thanksgiving(
    db_session: Session, as_of: dt.date, days_left: int, overdue: bool
) -> None:
    referral = _referral(db_session, THANKSGIVING_EVE)
    clocks = referral_clocks(db_session, referral, as_of=as_of)
    assert clocks.send is not None
    # Mon 30 Nov is day 1 ... Fri 11 Dec is day 10 (day 9, Thu 10 Dec, if the receipt day counted)
    assert clocks.send.due == dt.date(2026, 12, 11)
    assert (clocks.send.days_left, clocks.send.overdue, clocks.overdue) == (days_left, overdue, overdue)
    assert clocks.answer is None and clocks.update is None


def test_send_clock_across_christmas_and_new_year(db_session: Session) -> None:
    # Fri 18 Dec: Mon 21-Thu 24 (4), Fri 25 closed, Mon 28-Thu 31 (8), Fri 1 Jan closed, Mon 4, Tue 5 (10)
    clocks = referral_clocks(db_session, _referral(db_session, dt.date(2026, 12, 18)), as_of=dt.date(2026, 12, 18))
    assert clocks.send is not None and clocks.send.due == dt.date(2027, 1, 5)


def test_send_clock_keeps_running_after_a_decline(db_session: Session) -> None:
    received = dt.date(2026, 11, 2)
    referral = _referral(db_session, received, (S.READY, received), (S.PROPOSED, received),
                         (S.SENT, dt.date(2026, 11, 5)), (S.DECLINED, dt.date(2026, 11, 6)))
    clocks = referral_clocks(db_session, referral, as_of=dt.date(2026, 11, 18))
    # Veterans Day (Wed 11 Nov) is skipped: due Tue 17 Nov
    assert clocks.send is not None and clocks.send.due == dt.date(2026, 11, 17)
    assert clocks.overdue and clocks.sent_on == dt.date(2026, 11, 5)


@pytest.mark.parametrize(
    ("sent", "due"),
    [
        (dt.date(2026, 11, 20), dt.date(2026, 11, 24)),  # Friday: Mon, Tue
        (THANKSGIVING_EVE, dt.date(2026, 12, 1)),  # Mon 30, Tue 1
        (dt.date(2026, 12, 24), dt.date(2026, 12, 29)),  # Christmas Eve: Mon 28, Tue 29
    ],
)
def test_answer_clock_two_business_days_after_sending(db_session: Session, sent: dt.date, due: dt.date) -> None:
    referral = _referral(db_session, sent, (S.READY, sent), (S.PROPOSED, sent), (S.SENT, sent))
    clocks = referral_clocks(db_session, referral, as_of=sent)
    assert clocks.send is None and clocks.answer is not None
    assert (clocks.answer.started, clocks.answer.due, clocks.answer.days_left) == (sent, due, 2)
    assert not referral_clocks(db_session, referral, as_of=due).overdue
    assert referral_clocks(db_session, referral, as_of=due + dt.timedelta(days=1)).overdue


def test_update_clock_restarts_at_each_weekly_update_until_engaged(db_session: Session) -> None:
    accepted = dt.date(2026, 11, 23)  # Monday of Thanksgiving week
    referral = _referral(db_session, dt.date(2026, 11, 16), (S.READY, accepted), (S.PROPOSED, accepted),
                         (S.SENT, accepted), (S.ACCEPTED, accepted))
    clocks = referral_clocks(db_session, referral, as_of=accepted)
    assert clocks.update is not None and clocks.update.due == dt.date(2026, 12, 2)  # Tue 24, Wed 25, Mon-Wed
    record_provider_update(db_session, referral, actor="provider", on_date=dt.date(2026, 12, 1))
    clocks = referral_clocks(db_session, referral, as_of=dt.date(2026, 12, 4))
    assert clocks.update is not None and clocks.update.due == dt.date(2026, 12, 8)
    assert clocks.update.days_left == 2
    transition(db_session, referral, S.ENGAGED, actor="provider", on_date=dt.date(2026, 12, 4))
    assert referral_clocks(db_session, referral, as_of=dt.date(2026, 12, 30)).running == []


def test_no_clock_runs_once_discontinued(db_session: Session) -> None:
    referral = _referral(db_session, THANKSGIVING_EVE)
    transition(db_session, referral, S.DISCONTINUED, actor="c", on_date=THANKSGIVING_EVE, reason_code="04")
    clocks = referral_clocks(db_session, referral, as_of=dt.date(2027, 1, 29))
    assert clocks.running == [] and not clocks.overdue and clocks.next_due is None and clocks.days_left is None


def test_clocks_for_many_referrals_take_one_query_and_sort_by_due_date(db_session: Session) -> None:
    late = _referral(db_session, dt.date(2026, 11, 2))
    fresh = _referral(db_session, dt.date(2026, 11, 24))
    sent = _referral(db_session, dt.date(2026, 11, 20), (S.READY, dt.date(2026, 11, 20)),
                     (S.PROPOSED, dt.date(2026, 11, 20)), (S.SENT, dt.date(2026, 11, 23)))
    ids = [late.id, fresh.id, sent.id]
    as_of = dt.date(2026, 11, 25)
    db_session.flush()
    with count_statements(db_session) as statements:
        found = clocks_for(db_session, as_of=as_of, referral_ids=ids)
    assert len(statements) == 1
    assert [c.referral_id for c in found] == [late.id, sent.id, fresh.id]
    assert [c.referral_id for c in clocks_for(db_session, as_of=as_of, referral_ids=ids, overdue_only=True)] == [
        late.id]
    # the sent one: Mon 23 + 2 business days = Wed 25, due today
    assert found[1].answer is not None and found[1].answer.due == as_of and not found[1].overdue


def test_capacity_report_due_five_business_days_after_the_change() -> None:
    assert capacity_report_due(dt.date(2026, 11, 20)) == dt.date(2026, 12, 1)
    assert capacity_report_due(dt.date(2026, 12, 22)) == dt.date(2026, 12, 30)


def test_clocks_for_some_referrals_read_only_their_history(db_session: Session) -> None:
    """With ``referral_ids`` the history aggregate is restricted to them (a page must not aggregate the
    history of every referral), and each referral's clocks are the same as in the full list."""
    day = dt.date(2026, 11, 16)
    path = ((S.READY, day), (S.PROPOSED, day), (S.SENT, dt.date(2026, 11, 17)))
    sent = _referral(db_session, day, *path)
    accepted = _referral(db_session, day, *path, (S.ACCEPTED, dt.date(2026, 11, 18)))
    record_provider_update(db_session, accepted, actor="provider", on_date=dt.date(2026, 11, 23))
    others = [_referral(db_session, day, *path) for _ in range(3)]
    as_of = dt.date(2026, 11, 30)
    everyone = {c.referral_id: c for c in clocks_for(db_session, as_of=as_of)}
    with count_statements(db_session) as statements:
        some = clocks_for(db_session, as_of=as_of, referral_ids=[sent.id, accepted.id])
    assert {c.referral_id: c for c in some} == {k: everyone[k] for k in (sent.id, accepted.id)}
    assert len(statements) == 1
    history_part = statements[0].split("GROUP BY")[0]
    assert "referral_status_changes.referral_id IN" in history_part
    assert accepted.id in everyone and all(o.id in everyone for o in others)
    assert some[1].update is not None and some[1].update.started == dt.date(2026, 11, 23)
