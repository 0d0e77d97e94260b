"""Timeliness (7003 VI.C.3) and network gaps (7003 VI.E.5), aggregated in SQL.

Business-day clocks cannot be computed by the database, so each report first builds a small
``days`` table in Python (one row per calendar day of the window: the send and answer due dates
of a clock started that day, and its month) and joins it in a CTE: the database then does the
counting over any number of referrals, and Python only works per day.

On time means done on or before the due date (:mod:`referrals.clocks`). A clock counts once it is
*decided*: done, or past due and not done; clocks still running are reported as pending.
Referrals discontinued before being sent, and assignments withdrawn before an answer, have no
decided clock and are left out.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from csmatch.calendar import CalendarRangeError, HolidayCalendar, default_calendar
from csmatch.models import Service
from placement.models import Assignment, AssignmentStatus
from providers.models import Provider
from referrals.clocks import ANSWER_CLOCK, SEND_CLOCK
from referrals.models import Member, Referral, ReferralStatus
from referrals.services import UnplacedEntry, count_unplaced, network_gaps, unplaced_referrals
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


def _days_cte(first: dt.date, last: dt.date, calendar: HolidayCalendar, dialect: str) -> sa.CTE:
    """Per calendar day: the due dates of a send and an answer clock started that day, and its month.

    Written as literal VALUES (dates the calendar made, nothing from the request): a year of
    days as bound parameters took SQLAlchemy longer to compile than the database to read.
    """
    date = (lambda d: f"DATE '{d.isoformat()}'") if dialect == "postgresql" else (lambda d: f"'{d.isoformat()}'")
    rows = []
    day = first
    while day <= last:
        # no holiday data for that year: those clocks cannot be judged, and the day is left out
        with contextlib.suppress(CalendarRangeError):
            rows.append(f"({date(day)}, {date(calendar.due_date(day, SEND_CLOCK))}, "
                        f"{date(calendar.due_date(day, ANSWER_CLOCK))}, '{day.strftime('%Y-%m')}')")
        day += dt.timedelta(days=1)
    if not rows:  # keep the CTE well-formed
        epoch = dt.date(1900, 1, 1)
        rows.append(f"({date(epoch)}, {date(epoch)}, {date(epoch)}, '1900-01')")
    values = sa.text(f"SELECT column1 AS day, column2 AS send_due, column3 AS answer_due, column4 AS month "
                     f"FROM (VALUES {', '.join(rows)}) AS days_values")
    return values.columns(sa.column("day", sa.Date), sa.column("send_due", sa.Date), sa.column("answer_due", sa.Date),
                          sa.column("month", sa.String)).cte("days")


def timeliness(session: Session, by: str, start: dt.date, end: dt.date, as_of: dt.date,
               calendar: HolidayCalendar | None = None) -> list[TimelinessRow]:
    """Send and answer timeliness by ``by`` (month, county, service or provider), two GROUP BYs.

    Send clocks are grouped by the referral's receipt (its month, the member's county, the
    service, the first provider it was sent to); answer clocks by the sending (its month, county,
    service and the provider asked). Only clocks started in ``[start, end]`` count.

    :raise ValueError: for an unknown ``by``.
    """
    if by not in DIMENSIONS:
        raise ValueError(f"by must be one of {', '.join(DIMENSIONS)}, not {by!r}")
    calendar = calendar or default_calendar()
    end = min(end, as_of)
    days = _days_cte(start, end, calendar, session.get_bind().dialect.name)
    on_time, late_open, pending = _send_counts(session, by, days, start, end, as_of)
    a_on_time, a_late_open, a_pending = _answer_counts(session, by, days, start, end, as_of)
    groups = sorted(set(on_time) | set(late_open) | set(pending) | set(a_on_time) | set(a_late_open) | set(a_pending))
    rows = []
    for g in groups:
        sent_ok, sent_all = on_time.get(g, (0, 0))
        ans_ok, ans_all = a_on_time.get(g, (0, 0))
        rows.append(TimelinessRow(
            group=g, sent_on_time=sent_ok, sent_decided=sent_all + late_open.get(g, 0),
            sent_pending=pending.get(g, 0), answered_on_time=ans_ok, answered_decided=ans_all + a_late_open.get(g, 0),
            answered_pending=a_pending.get(g, 0),
        ))
    return rows


def _first_sent(*, with_provider: bool) -> sa.Subquery:
    """Per referral, the first day it was sent to a provider (and that provider, when asked for).

    The first sending is the sent assignment with no other sent earlier (by ``sent_on``, then
    ``id``): an anti-join both databases answer from the ``(referral_id, sent_on)`` index, where a
    window function made SQLite number every sent assignment first.
    """
    if not with_provider:
        return (sa.select(Assignment.referral_id, sa.func.min(Assignment.sent_on).label("sent_on"))
                .where(Assignment.sent_on.is_not(None)).group_by(Assignment.referral_id).subquery("first_sent"))
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


def _send_counts(session: Session, by: str, days: sa.CTE, start: dt.date, end: dt.date,
                 as_of: dt.date) -> tuple[dict[str, tuple[int, int]], dict[str, int], dict[str, int]]:
    first = _first_sent(with_provider=by == "provider")
    group: sa.SQLColumnExpression[Any]
    if by == "provider":
        group = sa.func.coalesce(first.c.provider_id, "(not sent)")
    else:
        group = {"month": days.c.month, "county": Member.county, "service": Referral.service_key}[by]
    sent = first.c.sent_on.is_not(None)
    stmt: sa.Select[Any, Any, Any, Any, Any] = (
        sa.select(
            group.label("g"),
            sa.func.sum(sa.case((sa.and_(sent, first.c.sent_on <= days.c.send_due), 1), else_=0)),
            sa.func.sum(sa.case((sent, 1), else_=0)),
            sa.func.sum(sa.case((sa.and_(~sent, Referral.status != ReferralStatus.DISCONTINUED,
                                         days.c.send_due < as_of), 1), else_=0)),
            sa.func.sum(sa.case((sa.and_(~sent, Referral.status != ReferralStatus.DISCONTINUED,
                                         days.c.send_due >= as_of), 1), else_=0)),
        )
        .select_from(Referral)
        .join(days, days.c.day == Referral.received_date)
        .outerjoin(first, first.c.referral_id == Referral.id)
        .where(Referral.received_date.between(start, end))
        .group_by(group)
    )
    if by == "county":  # members are joined only when grouping by county: 100,000 rows fewer to read
        stmt = stmt.join(Member, Member.id == Referral.member_id)
    on_time, late_open, pending = {}, {}, {}
    for g, ok, sent_n, late_n, pending_n in session.execute(stmt):
        on_time[str(g)] = (int(ok or 0), int(sent_n or 0))
        late_open[str(g)] = int(late_n or 0)
        pending[str(g)] = int(pending_n or 0)
    return on_time, late_open, pending


def _answer_counts(session: Session, by: str, days: sa.CTE, start: dt.date, end: dt.date,
                   as_of: dt.date) -> tuple[dict[str, tuple[int, int]], dict[str, int], dict[str, int]]:
    groups: dict[str, sa.SQLColumnExpression[Any]] = {
        "month": days.c.month, "county": Member.county, "service": Referral.service_key,
        "provider": Assignment.provider_id,
    }
    group = groups[by]
    answered = Assignment.answered_on.is_not(None)
    waiting = sa.and_(~answered, Assignment.status == AssignmentStatus.SENT)
    stmt: sa.Select[Any, Any, Any, Any, Any] = (
        sa.select(
            group.label("g"),
            sa.func.sum(sa.case((sa.and_(answered, Assignment.answered_on <= days.c.answer_due), 1), else_=0)),
            sa.func.sum(sa.case((answered, 1), else_=0)),
            sa.func.sum(sa.case((sa.and_(waiting, days.c.answer_due < as_of), 1), else_=0)),
            sa.func.sum(sa.case((sa.and_(waiting, days.c.answer_due >= as_of), 1), else_=0)),
        )
        .select_from(Assignment)
        .join(days, days.c.day == Assignment.sent_on)
        .where(Assignment.sent_on.between(start, end))
        .group_by(group)
    )
    if by in ("county", "service"):
        stmt = stmt.join(Referral, Referral.id == Assignment.referral_id)
    if by == "county":
        stmt = stmt.join(Member, Member.id == Referral.member_id)
    on_time, late_open, pending = {}, {}, {}
    for g, ok, answered_n, late_n, pending_n in session.execute(stmt):
        on_time[str(g)] = (int(ok or 0), int(answered_n or 0))
        late_open[str(g)] = int(late_n or 0)
        pending[str(g)] = int(pending_n or 0)
    return on_time, late_open, pending


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
