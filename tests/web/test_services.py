"""The web services' SQL agrees with the domain clocks, and the reports count what they say."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from referrals.clocks import clocks_for
from referrals.models import Referral, ReferralStatus
from tests.conftest import WEB_TODAY
from tests.factories import make_member, make_referral
from tests.web.conftest import World
from web.common import PageRequest
from web.queue.services import QueueFilters, list_referrals, overdue_branches, overdue_condition, visible_to_provider
from web.reports.services import aging, gap_matrix, timeliness


def _overdue_ids(session: Session, as_of: dt.date) -> set[str]:
    return set(session.scalars(sa.select(Referral.id).where(overdue_condition(as_of))))


def test_overdue_condition_matches_referral_clocks(db_session: Session, world: World) -> None:
    expected = {c.referral_id for c in clocks_for(db_session, as_of=WEB_TODAY, overdue_only=True)}
    assert expected == {world.sent_a.id, world.ready_old.id}
    assert _overdue_ids(db_session, WEB_TODAY) == expected


def test_overdue_condition_matches_clocks_on_every_day_of_a_month(db_session: Session, world: World) -> None:
    for offset in range(0, 40, 3):
        day = dt.date(2026, 11, 10) + dt.timedelta(days=offset)
        expected = {c.referral_id for c in clocks_for(db_session, as_of=day, overdue_only=True)}
        assert _overdue_ids(db_session, day) == expected, day


def test_one_providers_overdue_list_is_the_plan_wide_rule_on_its_referrals(db_session: Session,
                                                                           world: World) -> None:
    """A provider's list reads its overdue clocks from referrals.clocks; the plan-wide list from SQL:
    the same referrals, in the same order, counted the same, on every day of a month."""
    for offset in range(0, 30, 2):
        day = dt.date(2026, 11, 16) + dt.timedelta(days=offset)
        for provider in (world.provider_a, world.provider_b):
            expected = sorted(
                db_session.execute(sa.select(Referral.received_date, Referral.id)
                                   .where(overdue_condition(day), visible_to_provider(provider.id))).all())
            page = list_referrals(db_session, QueueFilters(overdue=True, provider_id=provider.id),
                                  PageRequest(1, 50), day)
            assert [r.referral_id for r in page.items] == [rid for _, rid in expected], (day, provider.id)
            assert page.total == len(expected)


def test_answer_is_on_time_exactly_on_its_due_date(db_session: Session, world: World) -> None:
    # sent_b was sent on 2026-11-24; Thanksgiving and the day after put its answer due on 2026-11-30.
    assert world.sent_b.id not in _overdue_ids(db_session, dt.date(2026, 11, 30))
    assert world.sent_b.id in _overdue_ids(db_session, dt.date(2026, 12, 1))


def test_list_referrals_paginates_and_counts_in_sql(db_session: Session, world: World) -> None:
    page = list_referrals(db_session, QueueFilters(), PageRequest(page=2, per_page=2), WEB_TODAY)
    assert page.total == 5 and page.pages == 3 and page.has_next and page.has_prev
    assert [r.referral_id for r in page.items] == [world.sent_b.id, world.unplaced.id]  # by receipt date
    overdue = list_referrals(db_session, QueueFilters(overdue=True), PageRequest(1, 50), WEB_TODAY)
    assert {r.referral_id for r in overdue.items} == {world.sent_a.id, world.ready_old.id}
    assert all(r.overdue for r in overdue.items)


def test_list_referrals_row_carries_clock_and_provider(db_session: Session, world: World) -> None:
    page = list_referrals(db_session, QueueFilters(status=ReferralStatus.SENT), PageRequest(1, 50), WEB_TODAY)
    row = next(r for r in page.items if r.referral_id == world.sent_a.id)
    assert row.provider_id == world.provider_a.id and row.assignment_status == "SENT"
    assert row.clocks is not None and row.clocks.answer is not None
    assert (row.next_due, row.days_left) == (dt.date(2026, 11, 24), -1)


def test_provider_sees_only_referrals_sent_to_it(db_session: Session, world: World) -> None:
    ids = set(db_session.scalars(sa.select(Referral.id).where(visible_to_provider(world.provider_a.id))))
    assert ids == {world.sent_a.id}


def test_timeliness_counts_decided_and_pending_clocks(db_session: Session, world: World) -> None:
    rows = timeliness(db_session, "month", dt.date(2026, 11, 1), WEB_TODAY, WEB_TODAY)
    assert len(rows) == 1
    row = rows[0]
    assert row.group == "2026-11"
    # sent_a and sent_b were sent in time; ready_old is past due unsent; two are still running.
    assert (row.sent_on_time, row.sent_decided, row.sent_pending) == (2, 3, 2)
    # A's answer was due 2026-11-24 and never came; B's is still running.
    assert (row.answered_on_time, row.answered_decided, row.answered_pending) == (0, 1, 1)
    assert row.sent_share == 2 / 3 and row.answered_share == 0


def test_timeliness_by_provider_names_the_first_provider_sent_to(db_session: Session, world: World) -> None:
    rows = {r.group: r for r in timeliness(db_session, "provider", dt.date(2026, 11, 1), WEB_TODAY, WEB_TODAY)}
    assert set(rows) == {world.provider_a.id, world.provider_b.id, "(not sent)"}
    assert rows["(not sent)"].sent_decided == 1 and rows["(not sent)"].sent_pending == 2
    assert rows[world.provider_a.id].answered_decided == 1


def test_aging_buckets_by_business_days_since_receipt(db_session: Session, world: World) -> None:
    assert aging(db_session, WEB_TODAY) == [("0–5", 2), ("6–10", 2), ("11–20", 1), ("21–40", 0), ("41+", 0)]


def test_gap_matrix_counts_unplaced_by_county_and_service(db_session: Session, world: World) -> None:
    counties, services, cells = gap_matrix(db_session)
    assert counties == ["Humboldt"] and [k for k, _ in services] == ["HOUSING_NAV"]
    assert cells[("Humboldt", "HOUSING_NAV")].reasons == {"ALL_IN_AREA_FULL": 1}


def test_overdue_condition_matches_clocks_with_acceptances_and_weekly_updates(db_session: Session,
                                                                           world: World) -> None:
    """The update clock restarts at an acceptance or a provider update: two history look-ups in SQL."""
    from referrals.lifecycle import record_provider_update, transition

    for sent_day, accepted_day, updates in [
        (dt.date(2026, 11, 20), dt.date(2026, 11, 23), []),
        (dt.date(2026, 11, 20), dt.date(2026, 11, 20), [dt.date(2026, 11, 30)]),
        (dt.date(2026, 11, 23), dt.date(2026, 11, 24), [dt.date(2026, 12, 2), dt.date(2026, 12, 9)]),
    ]:
        referral = make_referral(db_session, make_member(db_session), received_date=dt.date(2026, 11, 16))
        for status, day in ((ReferralStatus.READY, dt.date(2026, 11, 16)), (ReferralStatus.PROPOSED, sent_day),
                            (ReferralStatus.SENT, sent_day), (ReferralStatus.ACCEPTED, accepted_day)):
            transition(db_session, referral, status, actor="t", on_date=day)
        for day in updates:
            record_provider_update(db_session, referral, actor="provider", on_date=day)
    for offset in range(0, 30, 2):
        day = dt.date(2026, 11, 20) + dt.timedelta(days=offset)
        expected = {c.referral_id for c in clocks_for(db_session, as_of=day, overdue_only=True)}
        assert _overdue_ids(db_session, day) == expected, day
        correlated = overdue_condition(day, correlated=True)  # the form one provider's list uses on PostgreSQL
        assert set(db_session.scalars(sa.select(Referral.id).where(correlated))) == expected, day
        branches = overdue_branches(day)
        assert set(branches) == {"send", "answer", "update"}
        by_branch = set().union(*(
            set(db_session.scalars(sa.select(Referral.id).where(clause))) for clause in branches.values()))
        assert by_branch == expected, day


def test_overdue_by_provider_counts_each_providers_late_answers_and_updates(db_session: Session,
                                                                          world: World) -> None:
    from placement.models import Assignment, AssignmentStatus
    from referrals.lifecycle import transition
    from tests.factories import make_assignment
    from web.capacity.services import overdue_by_provider

    accepted = make_referral(db_session, make_member(db_session), received_date=dt.date(2026, 11, 9))
    for status, on in ((ReferralStatus.READY, dt.date(2026, 11, 9)), (ReferralStatus.PROPOSED, dt.date(2026, 11, 10)),
                       (ReferralStatus.SENT, dt.date(2026, 11, 10)), (ReferralStatus.ACCEPTED, dt.date(2026, 11, 12))):
        transition(db_session, accepted, status, actor="t", on_date=on)
    make_assignment(db_session, accepted, world.contract_b, status=AssignmentStatus.ACCEPTED,
                    sent_on=dt.date(2026, 11, 10), answered_on=dt.date(2026, 11, 12))
    assert overdue_by_provider(db_session, WEB_TODAY)[world.provider_b.id][1] == 1  # no weekly update since the 12th
    for day in (WEB_TODAY, dt.date(2026, 12, 1), dt.date(2026, 12, 10)):
        late = {c.referral_id for c in clocks_for(db_session, as_of=day, overdue_only=True)}
        expected: dict[str, list[int]] = {}
        for a in db_session.scalars(sa.select(Assignment).where(
                Assignment.status.in_([AssignmentStatus.SENT, AssignmentStatus.ACCEPTED]))):
            referral = db_session.get(Referral, a.referral_id)
            assert referral is not None
            if a.referral_id in late and referral.status in (ReferralStatus.SENT, ReferralStatus.ACCEPTED):
                expected.setdefault(a.provider_id, [0, 0])[0 if a.status is AssignmentStatus.SENT else 1] += 1
        assert overdue_by_provider(db_session, day) == {k: tuple(v) for k, v in expected.items()}, day
        only_a = overdue_by_provider(db_session, day, world.provider_a.id)
        assert only_a == {k: tuple(v) for k, v in expected.items() if k == world.provider_a.id}


def test_run_assignments_pages_by_receipt_date(db_session: Session, world: World) -> None:
    from web.runs.services import run_assignments

    whole = run_assignments(db_session, world.run.id, PageRequest(1, 50))
    assert whole.total == 2
    assert [a.id for a in whole.items] == [world.assignment_a.id, world.assignment_b.id]  # received 16 then 17 Nov
    assert whole.items[0].referral.member.last_name == "Ahmed" and whole.items[0].provider.id == world.provider_a.id
    second = run_assignments(db_session, world.run.id, PageRequest(2, 1))
    assert [a.id for a in second.items] == [world.assignment_b.id] and second.total == 2


def test_unplaced_list_is_one_page_with_the_whole_count(db_session: Session, world: World) -> None:
    from web.reports.services import unplaced_list

    page = unplaced_list(db_session, PageRequest(1, 50), WEB_TODAY)
    assert [u.referral_id for u in page.items] == [world.unplaced.id] and page.total == 1
    assert page.items[0].reason == "ALL_IN_AREA_FULL" and page.items[0].detail["nearest"][0]["miles"] == 3.2
    empty = unplaced_list(db_session, PageRequest(2, 50), WEB_TODAY)
    assert empty.items == [] and empty.total == 1
    assert unplaced_list(db_session, PageRequest(1, 50), WEB_TODAY, reason="INELIGIBLE").total == 0


def test_timeliness_by_provider_takes_the_earliest_sending_then_the_lowest_id(db_session: Session,
                                                                              world: World) -> None:
    from placement.models import AssignmentStatus
    from tests.factories import make_assignment

    day = dt.date(2026, 11, 18)
    same_day = make_referral(db_session, make_member(db_session), received_date=day, status=ReferralStatus.SENT)
    make_assignment(db_session, same_day, world.contract_b, status=AssignmentStatus.DECLINED, sent_on=day,
                    answered_on=day)
    make_assignment(db_session, same_day, world.contract_a, status=AssignmentStatus.SENT, sent_on=day)
    earlier = make_referral(db_session, make_member(db_session), received_date=day, status=ReferralStatus.SENT)
    make_assignment(db_session, earlier, world.contract_a, status=AssignmentStatus.DECLINED,
                    sent_on=day + dt.timedelta(days=1), answered_on=day + dt.timedelta(days=1))
    make_assignment(db_session, earlier, world.contract_b, status=AssignmentStatus.SENT, sent_on=day)
    rows = {r.group: r for r in timeliness(db_session, "provider", dt.date(2026, 11, 1), WEB_TODAY, WEB_TODAY)}
    # world: A first sent sent_a, B first sent sent_b; here B first got both (same day lower id; earlier day)
    assert rows[world.provider_b.id].sent_decided == 3 and rows[world.provider_a.id].sent_decided == 1
