"""Timeliness (7003 VI.C.3) and network gaps (7003 VI.E.5).

Business-day clocks cannot be computed by the database. Timeliness reads one narrow row per
referral received (its first sending) and per assignment sent in the window, through a
:data:`reports.kept.RowSource` (the dashboard keeps them and reads again only the referrals a write
touched); a small table per calendar day of the window (the send and answer due dates of a clock
started that day, and its month) is built in Python, and numpy counts. Network gaps and the aging
chart are aggregated in SQL.

On time means done on or before the due date (:mod:`referrals.clocks`). A clock counts once it is
*decided*: done, or past due and not done; clocks still running are reported as pending.
Referrals discontinued before being sent, and assignments withdrawn before an answer, have no
decided clock and are left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from csmatch.calendar import CalendarRangeError, HolidayCalendar, default_calendar
from csmatch.models import Service
from placement.models import Assignment, AssignmentStatus
from providers.models import Provider
from referrals.clocks import ANSWER_CLOCK, SEND_CLOCK
from referrals.models import Member, Referral, ReferralStatus
from referrals.services import UnplacedEntry, count_unplaced, network_gaps, unplaced_referrals
from reports.common import EPOCH, NO_DAY, day_number, day_numbers
from reports.kept import Among, RowSource, fetch_query, fresh_rows
from web.common import Page, PageRequest
from web.queue.services import NOT_YET_SENT

__all__ = [
    "AGE_BUCKETS",
    "DIMENSIONS",
    "GapCell",
    "TimelinessRow",
    "aging",
    "gap_matrix",
    "timeliness",
    "unplaced_list",
]

DIMENSIONS = ("month", "county", "service", "provider")
# Business days since receipt: (label, lowest age in the bucket)
AGE_BUCKETS = (("0–5", 0), ("6–10", 6), ("11–20", 11), ("21–40", 21), ("41+", 41))
# Waiting for a provider: not yet sent, or sent and not yet answered.
WAITING = (*NOT_YET_SENT, ReferralStatus.SENT)


@dataclass(frozen=True)
class TimelinessRow:
    """One group's clocks: sent within 10 business days of receipt, answered within 2 of sending."""

    group: str
    sent_on_time: int
    sent_decided: int
    sent_pending: int
    answered_on_time: int
    answered_decided: int
    answered_pending: int

    @property
    def sent_share(self) -> float | None:
        return self.sent_on_time / self.sent_decided if self.sent_decided else None

    @property
    def answered_share(self) -> float | None:
        return self.answered_on_time / self.answered_decided if self.answered_decided else None


def _send_query(start: dt.date, end: dt.date, dialect: str, among: Among | None = None) -> sa.Select[Any]:
    """Per referral received in ``[start, end]``: its receipt day, county, service, whether it was
    discontinued, and the day and provider of its first sending (NULL: never sent)."""
    first = _first_sent()
    stmt = (
        sa.select(Referral.id, day_number(Referral.received_date, dialect), Member.county, Referral.service_key,
                  sa.case((Referral.status == ReferralStatus.DISCONTINUED, 1), else_=0),
                  day_number(first.c.sent_on, dialect), first.c.provider_id)
        .join(Member, Member.id == Referral.member_id)
        .outerjoin(first, first.c.referral_id == Referral.id)
        .where(Referral.received_date.between(start, end))
    )
    return stmt if among is None else stmt.where(among(Referral.id))


def _answer_query(start: dt.date, end: dt.date, dialect: str, among: Among | None = None) -> sa.Select[Any]:
    """Per assignment sent in ``[start, end]``: its referral, the day sent and answered, whether it
    still waits for an answer, and the referral's county and service and the provider asked."""
    a = Assignment
    stmt = (
        sa.select(a.referral_id, day_number(a.sent_on, dialect), day_number(a.answered_on, dialect),
                  sa.case((sa.and_(a.answered_on.is_(None), a.status == AssignmentStatus.SENT), 1), else_=0),
                  Member.county, Referral.service_key, a.provider_id)
        .join(Referral, Referral.id == a.referral_id)
        .join(Member, Member.id == Referral.member_id)
        .where(a.sent_on.between(start, end))
    )
    return stmt if among is None else stmt.where(among(a.referral_id))


@dataclass(frozen=True)
class _Days:
    """Per calendar day of the window: the due day of a send and of an answer clock started that day
    (day numbers; -1 where the calendar has no data for the year: those clocks are not judged), and its month."""

    first: int
    send_due: npt.NDArray[np.int64]
    answer_due: npt.NDArray[np.int64]
    months: list[str]

    @classmethod
    def of(cls, start: dt.date, end: dt.date, calendar: HolidayCalendar) -> _Days:
        send, answer, months = [], [], []
        day = start
        while day <= end:
            try:
                send.append((calendar.due_date(day, SEND_CLOCK) - EPOCH).days)
                answer.append((calendar.due_date(day, ANSWER_CLOCK) - EPOCH).days)
            except CalendarRangeError:
                send.append(-1)
                answer.append(-1)
            months.append(day.strftime("%Y-%m"))
            day += dt.timedelta(days=1)
        return cls((start - EPOCH).days, np.array(send, dtype=np.int64), np.array(answer, dtype=np.int64), months)


def _counts(keys: npt.NDArray[np.object_], *flags: npt.NDArray[np.bool_]) -> dict[str, list[int]]:
    """Per distinct key (as text): how many rows have each flag."""
    code, uniques = pd.factorize(keys)
    found = [np.bincount(code, weights=f.astype(np.float64), minlength=len(uniques)).round().astype(np.int64)
             for f in flags]
    return {str(u): [int(column[i]) for column in found] for i, u in enumerate(uniques)}


def timeliness(session: Session, by: str, start: dt.date, end: dt.date, as_of: dt.date,
               calendar: HolidayCalendar | None = None, *, rows: RowSource = fresh_rows) -> list[TimelinessRow]:
    """Send and answer timeliness by ``by`` (month, county, service or provider).

    Send clocks are grouped by the referral's receipt (its month, the member's county, the
    service, the first provider it was sent to); answer clocks by the sending (its month, county,
    service and the provider asked). Only clocks started in ``[start, end]`` count, on days the
    holiday calendar covers. The clocks are read one row each through ``rows`` (the dashboard
    keeps them, :mod:`reports.kept`) and counted with numpy.

    :raise ValueError: for an unknown ``by``.
    """
    if by not in DIMENSIONS:
        raise ValueError(f"by must be one of {', '.join(DIMENSIONS)}, not {by!r}")
    calendar = calendar or default_calendar()
    end = min(end, as_of)
    dialect = session.get_bind().dialect.name
    days = _Days.of(start, end, calendar)
    today = (as_of - EPOCH).days

    Days = npt.NDArray[np.int64]

    def clocks(name: str, query: Callable[[Among | None], sa.Select[Any]],
               due: Days) -> tuple[npt.NDArray[np.object_], Days, Days]:
        """The rows of clocks started on a day the calendar covers (their day is column 1), the
        day's index in the window and the clock's due day."""
        found = rows(session, (name, start, end), fetch_query(query))
        table = np.array(found, dtype=object) if found else np.empty((0, 7), dtype=object)
        started = day_numbers(table[:, 1]) - days.first
        judged = due[started] >= 0
        return table[judged], started[judged], due[started][judged]

    sends, received, send_due = clocks("timeliness.send", lambda among: _send_query(start, end, dialect, among),
                                       days.send_due)
    sent_on = day_numbers(sends[:, 5])
    sent, waiting = sent_on != NO_DAY, (sent_on == NO_DAY) & (sends[:, 4] == 0)
    send_keys = {"month": np.array(days.months, dtype=object)[received], "county": sends[:, 2],
                 "service": sends[:, 3], "provider": np.where(sent, sends[:, 6], "(not sent)")}[by]
    send = _counts(send_keys, sent & (sent_on <= send_due), sent, waiting & (send_due < today),
                   waiting & (send_due >= today))

    answers, sent_day, answer_due = clocks("timeliness.answer",
                                           lambda among: _answer_query(start, end, dialect, among), days.answer_due)
    answered_on = day_numbers(answers[:, 2])
    answered, unanswered = answered_on != NO_DAY, answers[:, 3] == 1
    answer_keys = {"month": np.array(days.months, dtype=object)[sent_day], "county": answers[:, 4],
                   "service": answers[:, 5], "provider": answers[:, 6]}[by]
    answer = _counts(answer_keys, answered & (answered_on <= answer_due), answered, unanswered & (answer_due < today),
                     unanswered & (answer_due >= today))
    result = []
    for g in sorted(set(send) | set(answer)):
        sent_ok, sent_all, late, pending = send.get(g, [0, 0, 0, 0])
        ans_ok, ans_all, a_late, a_pending = answer.get(g, [0, 0, 0, 0])
        result.append(TimelinessRow(group=g, sent_on_time=sent_ok, sent_decided=sent_all + late, sent_pending=pending,
                                    answered_on_time=ans_ok, answered_decided=ans_all + a_late,
                                    answered_pending=a_pending))
    return result


def _first_sent() -> sa.Subquery:
    """Per referral, the first day it was sent to a provider, and that provider.

    The first sending is the sent assignment with no other sent earlier (by ``sent_on``, then
    ``id``): an anti-join both databases answer from the ``(referral_id, sent_on)`` index, where a
    window function made SQLite number every sent assignment first.
    """
    a, earlier = aliased(Assignment), aliased(Assignment)
    return (
        sa.select(a.referral_id, a.provider_id, a.sent_on)
        .where(
            a.sent_on.is_not(None),
            ~sa.exists().where(
                earlier.referral_id == a.referral_id, earlier.sent_on.is_not(None),
                sa.or_(earlier.sent_on < a.sent_on, sa.and_(earlier.sent_on == a.sent_on, earlier.id < a.id)),
            ),
        )
        .subquery("first_sent")
    )


def _age_cutoff(calendar: HolidayCalendar, as_of: dt.date, age: int) -> dt.date:
    """The latest receipt date that is at least ``age`` business days old on ``as_of``."""
    day = as_of
    try:
        while calendar.business_days_between(day, as_of) < age:
            day -= dt.timedelta(days=1)
    except CalendarRangeError:
        pass
    return day


def aging(session: Session, as_of: dt.date, *, county: str | None = None, service: str | None = None,
          calendar: HolidayCalendar | None = None) -> list[tuple[str, int]]:
    """Referrals waiting for a provider, by business days since receipt (one GROUP BY)."""
    calendar = calendar or default_calendar()
    cuts = [(label, _age_cutoff(calendar, as_of, low)) for label, low in AGE_BUCKETS]
    bucket = sa.case(*[(Referral.received_date > cuts[i + 1][1], cuts[i][0]) for i in range(len(cuts) - 1)],
                     else_=cuts[-1][0])
    stmt = sa.select(bucket.label("bucket"), sa.func.count()).where(Referral.status.in_(WAITING))
    if county:
        stmt = stmt.join(Member, Member.id == Referral.member_id).where(Member.county == county)
    if service:
        stmt = stmt.where(Referral.service_key == service)
    counts: dict[str, int] = dict(session.execute(stmt.group_by(bucket)).tuples().all())
    return [(label, int(counts.get(label, 0))) for label, _ in AGE_BUCKETS]


@dataclass(frozen=True)
class GapCell:
    county: str
    service_key: str
    count: int
    reasons: dict[str, int]


def gap_matrix(session: Session) -> tuple[list[str], list[tuple[str, str]], dict[tuple[str, str], GapCell]]:
    """Unplaced referrals by county × service with their reasons (:func:`referrals.services.network_gaps`,
    aggregated in SQL); returns (counties, services, cells)."""
    reasons: dict[tuple[str, str], dict[str, int]] = {}
    for gap in network_gaps(session):
        reasons.setdefault((gap.county, gap.service_key), {})[gap.reason] = gap.referrals
    counties = sorted({c for c, _ in reasons})
    keys = sorted({s for _, s in reasons})
    names = dict(session.execute(sa.select(Service.key, Service.name).where(Service.key.in_(keys))).tuples().all())
    cells = {k: GapCell(k[0], k[1], sum(v.values()), v) for k, v in reasons.items()}
    return counties, [(k, names.get(k, k)) for k in keys], cells


def unplaced_list(session: Session, page: PageRequest, as_of: dt.date, *, county: str | None = None,
                  service: str | None = None, reason: str | None = None) -> Page[UnplacedEntry]:
    """Unplaced referrals, longest waiting first, with reasons and nearby providers, one page of them
    (counted and paginated in SQL)."""
    entries = unplaced_referrals(session, county=county, service_key=service, reason=reason, as_of=as_of,
                                 limit=page.per_page, offset=page.offset)
    total = count_unplaced(session, county=county, service_key=service, reason=reason)
    return Page(items=entries, page=page.page, per_page=page.per_page, total=total)


def provider_names(session: Session, ids: Sequence[str]) -> dict[str, str]:
    return dict(session.execute(sa.select(Provider.id, Provider.name).where(Provider.id.in_(list(ids))))
                .tuples().all())
