"""The web services' SQL agrees with the domain clocks, and the reports count what they say."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from referrals.clocks import clocks_for
from referrals.models import Referral, ReferralStatus
from tests.conftest import WEB_TODAY
from tests.web.conftest import World
from web.common import PageRequest
from web.queue.services import QueueFilters, list_referrals, overdue_condition, visible_to_provider
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
