"""Timeliness clocks of an open referral, in business days on the state calendar.

=========  ===========================================================  =====================  ==============
clock      rule                                                         runs while             section
=========  ===========================================================  =====================  ==============
send       referred to a CS provider within 10 business days of         not yet sent           7003 VI.C.3
           receipt
answer     the provider accepts or declines within 2 business days of   SENT                   7003 VI.C.3.a-c
           being sent
update     the provider updates the plan weekly (5 business days)       ACCEPTED               7003 VI.E.2
           until the member engages; from acceptance, then from the
           last update
=========  ===========================================================  =====================  ==============

Counting follows :mod:`csmatch.calendar`: the start day never counts, and work done on the due date
is on time (``HolidayCalendar.due_date``). A referral received on Wednesday 2026-11-25, the day
before Thanksgiving, is due at a provider on Friday 2026-12-11 (the Thursday and Friday are
holidays). The send clock keeps running through a decline or an unplaced spell: a re-referral is
still measured from receipt. The capacity-report clock (5 business days, VI.E.6) lives in
:mod:`capacity.services`; :func:`capacity_report_due` gives its due date here too.

:func:`clocks_for` computes the clocks of many referrals with one query (the referrals joined to an
aggregate of their status history) and calendar arithmetic memoised per distinct date, so a
dashboard of thousands of referrals costs one round trip.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from csmatch.calendar import HolidayCalendar, default_calendar
from referrals.lifecycle import OPEN_STATUSES, PROVIDER_UPDATE
from referrals.models import Referral, ReferralStatus, ReferralStatusChange

__all__ = [
    "ANSWER_CLOCK",
    "CAPACITY_REPORT_CLOCK",
    "SEND_CLOCK",
    "UPDATE_CLOCK",
    "Clock",
    "ReferralClocks",
    "capacity_report_due",
    "clocks_for",
    "referral_clocks",
]

SEND_CLOCK = 10  # 7003 VI.C.3
ANSWER_CLOCK = 2  # 7003 VI.C.3.a-c
UPDATE_CLOCK = 5  # 7003 VI.E.2: weekly, counted as five business days
CAPACITY_REPORT_CLOCK = 5  # 7003 VI.E.6

# clocks_for restricts the history it aggregates to the referrals asked for up to this many
_HISTORY_IN_MAX = 1000

S = ReferralStatus
# Before the referral reaches a provider the send clock runs.
_NOT_YET_SENT = frozenset({S.RECEIVED, S.INFO_REQUESTED, S.READY, S.PROPOSED, S.DECLINED, S.UNPLACED})


@dataclass(frozen=True)
class Clock:
    """One running clock: started on ``started``, due on ``due``.

    ``days_left`` is the business days from ``as_of`` to ``due`` (0 on the due date); once overdue,
    minus the business days since ``due`` (0 on the weekend right after a Friday due date).
    ``overdue`` is True on any day after the due date.
    """

    name: str
    policy: str
    started: dt.date
    due: dt.date
    days_left: int
    overdue: bool


@dataclass(frozen=True)
class ReferralClocks:
    """The clocks of one referral on ``as_of``; a clock that is not running is None.

    ``sent_on`` is the last day it was sent to a provider (None if never). ``days_left`` and
    ``next_due`` are those of the most pressing running clock.
    """

    referral_id: str
    status: ReferralStatus
    received_date: dt.date
    as_of: dt.date
    sent_on: dt.date | None
    send: Clock | None
    answer: Clock | None
    update: Clock | None

    @property
    def running(self) -> list[Clock]:
        return [c for c in (self.send, self.answer, self.update) if c is not None]

    @property
    def overdue(self) -> bool:
        return any(c.overdue for c in self.running)

    @property
    def next_due(self) -> dt.date | None:
        return min((c.due for c in self.running), default=None)

    @property
    def days_left(self) -> int | None:
        return min((c.days_left for c in self.running), default=None)


def capacity_report_due(change_date: dt.date, calendar: HolidayCalendar | None = None) -> dt.date:
    """Return the last day a capacity or staffing change may be reported on time (7003 VI.E.6)."""
    return (calendar or default_calendar()).due_date(change_date, CAPACITY_REPORT_CLOCK)


class _Memo:
    """Calendar arithmetic memoised per (date, n): thousands of referrals share few distinct dates."""

    def __init__(self, calendar: HolidayCalendar, as_of: dt.date) -> None:
        self.calendar = calendar
        self.as_of = as_of
        self._due: dict[tuple[dt.date, int], dt.date] = {}
        self._left: dict[dt.date, int] = {}

    def clock(self, name: str, policy: str, started: dt.date, n: int) -> Clock:
        key = (started, n)
        if key not in self._due:
            self._due[key] = self.calendar.due_date(started, n)
        due = self._due[key]
        if due not in self._left:
            # count forwards only, from the earlier date to the later
            if self.as_of <= due:
                self._left[due] = self.calendar.business_days_between(self.as_of, due)
            else:
                self._left[due] = -self.calendar.business_days_between(due, self.as_of)
        return Clock(name=name, policy=policy, started=started, due=due, days_left=self._left[due],
                     overdue=self.as_of > due)


def _compute(
    memo: _Memo,
    referral_id: str,
    status: ReferralStatus,
    received: dt.date,
    sent_on: dt.date | None,
    accepted_on: dt.date | None,
    last_update: dt.date | None,
) -> ReferralClocks:
    send = answer = update = None
    if status in _NOT_YET_SENT:
        send = memo.clock("send", "7003 VI.C.3", received, SEND_CLOCK)
    elif status is S.SENT:
        answer = memo.clock("answer", "7003 VI.C.3.a", sent_on or received, ANSWER_CLOCK)
    elif status is S.ACCEPTED:
        started = max(d for d in (accepted_on, last_update, received) if d is not None)
        update = memo.clock("update", "7003 VI.E.2", started, UPDATE_CLOCK)
    return ReferralClocks(
        referral_id=referral_id, status=status, received_date=received, as_of=memo.as_of, sent_on=sent_on,
        send=send, answer=answer, update=update,
    )


def _history_summary(referral_ids: Sequence[str] | None = None) -> sa.Subquery:
    """Per referral: last day sent, last day accepted, last provider update.

    With ``referral_ids`` only their history is read (through the ``referral_id`` index): a page of
    50 referrals must not aggregate the history of 100,000. (A long list is not repeated here: the
    outer query's IN already holds it, and the databases bound the parameters of one statement.)
    """
    c = ReferralStatusChange
    real_change = c.from_status.is_distinct_from(c.to_status)
    stmt = sa.select(
        c.referral_id,
        sa.func.max(sa.case((sa.and_(real_change, c.to_status == S.SENT), c.on_date))).label("sent_on"),
        sa.func.max(sa.case((sa.and_(real_change, c.to_status == S.ACCEPTED), c.on_date))).label("accepted_on"),
        sa.func.max(sa.case((c.reason_code == PROVIDER_UPDATE, c.on_date))).label("last_update"),
    )
    if referral_ids is not None and len(referral_ids) <= _HISTORY_IN_MAX:
        stmt = stmt.where(c.referral_id.in_(list(referral_ids)))
    return stmt.group_by(c.referral_id).subquery("history")


def clocks_for(
    session: Session,
    *,
    as_of: dt.date | None = None,
    referral_ids: Sequence[str] | None = None,
    statuses: Sequence[ReferralStatus] | None = None,
    overdue_only: bool = False,
    calendar: HolidayCalendar | None = None,
) -> list[ReferralClocks]:
    """Return the clocks of every open referral (or those given), in one query, ordered by next due date.

    :raise csmatch.calendar.CalendarRangeError: if a date falls in a year without holiday data.
    """
    as_of = as_of or dt.date.today()
    memo = _Memo(calendar or default_calendar(), as_of)
    history = _history_summary(referral_ids)
    stmt = (
        sa.select(
            Referral.id, Referral.status, Referral.received_date, history.c.sent_on, history.c.accepted_on,
            history.c.last_update,
        )
        .outerjoin(history, history.c.referral_id == Referral.id)
        .where(Referral.status.in_(list(statuses) if statuses is not None else sorted(OPEN_STATUSES)))
    )
    if referral_ids is not None:
        stmt = stmt.where(Referral.id.in_(list(referral_ids)))
    rows = session.execute(stmt).all()
    result = [
        _compute(memo, r.id, ReferralStatus(r.status), r.received_date, r.sent_on, r.accepted_on, r.last_update)
        for r in rows
    ]
    if overdue_only:
        result = [c for c in result if c.overdue]
    return sorted(result, key=_by_next_due)


def _by_next_due(clocks: ReferralClocks) -> tuple[dt.date, str]:
    return (clocks.next_due or dt.date.max, clocks.referral_id)


def referral_clocks(
    session: Session, referral: Referral, *, as_of: dt.date | None = None, calendar: HolidayCalendar | None = None
) -> ReferralClocks:
    """Return one referral's clocks (no clock runs once it is discontinued)."""
    found = clocks_for(session, as_of=as_of, referral_ids=[referral.id], statuses=list(ReferralStatus),
                       calendar=calendar)
    return found[0]
