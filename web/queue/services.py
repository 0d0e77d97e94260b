"""Referral lists and details for the queue, the portal and the API.

Lists are filtered, counted and paginated in SQL; the clocks of the page's rows come from
:func:`referrals.clocks.clocks_for` (one query for the page). The ``overdue`` filter must run in SQL
too (100,000 referrals), so :func:`overdue_condition` states the clocks' rule as a WHERE clause: a
clock is overdue when its start date is before the first start date whose due date is still on or
after today. A test checks it against :func:`~referrals.clocks.clocks_for` on the same data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from csmatch.calendar import CalendarRangeError, HolidayCalendar, default_calendar
from csmatch.models import Service
from placement.models import ACTIVE_ASSIGNMENT_STATUSES, Assignment, AssignmentStatus, UnplacedReferral
from providers.models import Provider
from referrals.clocks import ANSWER_CLOCK, SEND_CLOCK, UPDATE_CLOCK, ReferralClocks, clocks_for
from referrals.lifecycle import OPEN_STATUSES, PROVIDER_UPDATE
from referrals.models import Member, Referral, ReferralStatus, ReferralStatusChange
from web.common import Page, PageRequest

__all__ = [
    "QueueFilters",
    "QueueRow",
    "ReferralDetail",
    "counties",
    "list_referrals",
    "overdue_branches",
    "overdue_condition",
    "referral_detail",
    "services",
    "status_counts",
    "visible_to_provider",
]

S = ReferralStatus
# The send clock runs until the referral reaches a provider (referrals.clocks).
NOT_YET_SENT = (S.RECEIVED, S.INFO_REQUESTED, S.READY, S.PROPOSED, S.DECLINED, S.UNPLACED)


@dataclass(frozen=True)
class QueueFilters:
    """What to list. ``provider_id`` scopes the list to referrals sent to that organisation."""

    county: str | None = None
    service: str | None = None
    status: ReferralStatus | None = None
    overdue: bool = False
    open_only: bool = False
    provider_id: str | None = None
    # with provider_id: only referrals whose assignment to that provider has this status
    provider_status: AssignmentStatus | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"county": self.county, "service": self.service,
                "status": self.status.value if self.status else None, "overdue": self.overdue,
                "provider_id": self.provider_id}


@dataclass(frozen=True)
class QueueRow:
    """One referral of a list with its member, service, current provider and clocks."""

    referral_id: str
    member_id: int
    member_name: str
    cin: str
    county: str
    service_key: str
    service_name: str
    status: ReferralStatus
    received_date: dt.date
    units_needed: int
    post_discharge: bool
    assignment_id: int | None
    assignment_status: str | None
    provider_id: str | None
    provider_name: str | None
    clocks: ReferralClocks | None

    @property
    def next_due(self) -> dt.date | None:
        return self.clocks.next_due if self.clocks else None

    @property
    def days_left(self) -> int | None:
        return self.clocks.days_left if self.clocks else None

    @property
    def overdue(self) -> bool:
        return bool(self.clocks and self.clocks.overdue)


def visible_to_provider(provider_id: str, status: AssignmentStatus | None = None) -> sa.ColumnElement[bool]:
    """Referrals the provider may see: those ever sent to it (an assignment with ``sent_on``);
    with ``status``, only those whose assignment to it is in that status.

    A proposal not yet sent is plan business; the provider learns of a referral when it is sent.
    Uncorrelated (``IN``), so the database reads the provider's assignments once through their index
    instead of probing them once per referral.
    """
    sent = sa.select(Assignment.referral_id).where(Assignment.provider_id == provider_id,
                                                   Assignment.sent_on.is_not(None))
    if status is not None:
        sent = sent.where(Assignment.status == status)
    return Referral.id.in_(sent)


def _cutoff(calendar: HolidayCalendar, as_of: dt.date, n: int) -> dt.date:
    """The first start date whose ``n``-business-day clock is not yet overdue on ``as_of``."""
    day = as_of
    try:
        while calendar.due_date(day - dt.timedelta(days=1), n) >= as_of:
            day -= dt.timedelta(days=1)
    except CalendarRangeError:
        pass  # no holiday data further back: the clock of such old dates is long overdue anyway
    return day


def overdue_branches(as_of: dt.date, calendar: HolidayCalendar | None = None, *,
                     correlated: bool = False) -> dict[str, sa.ColumnElement[bool]]:
    """The clauses of :func:`overdue_condition`, one per clock (``send``, ``answer``, ``update``).

    Each names the referral statuses its clock runs in, so a query about SENT referrals can use the
    ``answer`` clause alone. The history is read through the index that leads with ``on_date``: only
    the changes since the cutoff, never the whole history. ``correlated``: the same test as NOT
    EXISTS per referral, for a few hundred referrals (one provider's) on PostgreSQL, which otherwise
    hashes the whole recent history first (the same answer: the history's referral_id is never NULL).
    """
    calendar = calendar or default_calendar()
    send_cut = _cutoff(calendar, as_of, SEND_CLOCK)
    answer_cut = _cutoff(calendar, as_of, ANSWER_CLOCK)
    update_cut = _cutoff(calendar, as_of, UPDATE_CLOCK)
    change = aliased(ReferralStatusChange)
    real = change.from_status.is_distinct_from(change.to_status)
    # Uncorrelated: one scan of the recent history, not one look-up per open referral (a correlated
    # NOT EXISTS made SQLite probe the history once per referral). The update clock restarts at an
    # acceptance or a provider update: two sets.
    sent_since = sa.select(change.referral_id).where(change.to_status == S.SENT, change.on_date >= answer_cut, real)
    accepted_since = sa.select(change.referral_id).where(change.to_status == S.ACCEPTED,
                                                         change.on_date >= update_cut, real)
    updated_since = sa.select(change.referral_id).where(change.reason_code == PROVIDER_UPDATE,
                                                        change.on_date >= update_cut)

    def none_in(changes: sa.Select[str]) -> sa.ColumnElement[bool]:
        if correlated:
            return ~sa.exists(changes.where(change.referral_id == Referral.id))
        return Referral.id.not_in(changes)

    return {
        "send": sa.and_(Referral.status.in_(NOT_YET_SENT), Referral.received_date < send_cut),
        "answer": sa.and_(Referral.status == S.SENT, Referral.received_date < answer_cut, none_in(sent_since)),
        "update": sa.and_(Referral.status == S.ACCEPTED, Referral.received_date < update_cut,
                          none_in(accepted_since), none_in(updated_since)),
    }


def overdue_condition(as_of: dt.date, calendar: HolidayCalendar | None = None, *,
                      correlated: bool = False) -> sa.ColumnElement[bool]:
    """A WHERE clause true for referrals with an overdue clock on ``as_of`` (see referrals.clocks).

    send: not yet sent and received before the cutoff; answer: SENT and last sent before it;
    update: ACCEPTED and the later of acceptance and the last provider update before it.
    """
    return sa.or_(*overdue_branches(as_of, calendar, correlated=correlated).values())


def _conditions(filters: QueueFilters, as_of: dt.date, dialect: str = "") -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if filters.county:
        # a semi-join on members: counting 100,000 referrals without a filter stays on one table
        conditions.append(Referral.member_id.in_(sa.select(Member.id).where(Member.county == filters.county)))
    if filters.service:
        conditions.append(Referral.service_key == filters.service)
    if filters.status:
        conditions.append(Referral.status == filters.status)
    elif filters.open_only:
        conditions.append(Referral.status.in_(sorted(OPEN_STATUSES)))
    if filters.overdue:
        # one provider's referrals on PostgreSQL: test each of them rather than hash the recent history
        conditions.append(overdue_condition(as_of, correlated=dialect == "postgresql" and bool(filters.provider_id)))
    if filters.provider_id:
        conditions.append(visible_to_provider(filters.provider_id, filters.provider_status))
    return conditions


def _filtered(session: Session, filters: QueueFilters, as_of: dt.date) -> sa.Select[Any]:
    return sa.select(Referral.id).where(*_conditions(filters, as_of, session.get_bind().dialect.name))


def count_referrals(session: Session, filters: QueueFilters, as_of: dt.date) -> int:
    """How many referrals match ``filters`` (one COUNT)."""
    conditions = _conditions(filters, as_of, session.get_bind().dialect.name)
    return session.scalar(sa.select(sa.func.count()).select_from(Referral).where(*conditions)) or 0


def list_referrals(session: Session, filters: QueueFilters, page: PageRequest, as_of: dt.date) -> Page[QueueRow]:
    """Return one page of referrals matching ``filters``, oldest receipt first, with their clocks."""
    if filters.provider_id:
        # One provider's referrals are hundreds, not 100,000: read their ids once and count and page
        # them here; their overdue clocks come from referrals.clocks (the rule overdue_condition
        # states in SQL, a test holds the two equal), which reads only these referrals' history.
        matching = list(session.scalars(_filtered(session, dataclasses.replace(filters, overdue=False), as_of)
                                        .order_by(Referral.received_date, Referral.id)))
        if filters.overdue:
            late = {c.referral_id for c in clocks_for(session, as_of=as_of, referral_ids=matching, overdue_only=True)}
            matching = [rid for rid in matching if rid in late]
        total, ids = len(matching), matching[page.offset:page.offset + page.per_page]
    else:
        base = _filtered(session, filters, as_of).order_by(Referral.received_date, Referral.id)
        total = count_referrals(session, filters, as_of)
        ids = list(session.scalars(base.limit(page.per_page).offset(page.offset)))
    return Page(items=rows_for(session, ids, as_of, provider_id=filters.provider_id), page=page.page,
                per_page=page.per_page, total=total)


def rows_for(session: Session, ids: list[str], as_of: dt.date, provider_id: str | None = None) -> list[QueueRow]:
    """Build :class:`QueueRow` s for these referrals, in this order (three queries whatever the count).

    With ``provider_id`` the row shows that provider's latest assignment, never another's.
    """
    if not ids:
        return []
    referrals = {
        r.id: r for r in session.execute(
            sa.select(Referral.id, Referral.member_id, Referral.service_key, Referral.status,
                      Referral.received_date, Referral.units_needed, Referral.discharge_date,
                      Member.first_name, Member.last_name, Member.cin, Member.county,
                      Service.name.label("service_name"))
            .join(Member, Member.id == Referral.member_id)
            .join(Service, Service.key == Referral.service_key)
            .where(Referral.id.in_(ids))
        )
    }
    assignments = _current_assignments(session, ids, provider_id)
    clocks = {c.referral_id: c for c in clocks_for(session, as_of=as_of, referral_ids=ids,
                                                   statuses=list(ReferralStatus))}
    rows = []
    for rid in ids:
        r = referrals[rid]
        a = assignments.get(rid)
        rows.append(QueueRow(
            referral_id=r.id, member_id=r.member_id, member_name=f"{r.last_name}, {r.first_name}", cin=r.cin,
            county=r.county, service_key=r.service_key, service_name=r.service_name, status=ReferralStatus(r.status),
            received_date=r.received_date, units_needed=r.units_needed, post_discharge=r.discharge_date is not None,
            assignment_id=a[0] if a else None, assignment_status=a[1] if a else None,
            provider_id=a[2] if a else None, provider_name=a[3] if a else None,
            clocks=clocks.get(rid) if ReferralStatus(r.status) in OPEN_STATUSES else None,
        ))
    return rows


def _current_assignments(
    session: Session, ids: list[str], provider_id: str | None
) -> dict[str, tuple[int, str, str, str]]:
    """Per referral: its active assignment (plan view) or the provider's latest one (provider view)."""
    # Only ``referral_id`` goes to SQL: with a status or provider test beside it the database may pick
    # that column's index and read most of the table; a page's referrals have few assignments each.
    stmt = (
        sa.select(Assignment.referral_id, Assignment.id, Assignment.status, Assignment.provider_id,
                  Assignment.sent_on, Provider.name)
        .join(Provider, Provider.id == Assignment.provider_id)
        .where(Assignment.referral_id.in_(ids))
        .order_by(Assignment.id)
    )
    found: dict[str, tuple[int, str, str, str]] = {}
    for row in session.execute(stmt):  # ordered by id: the latest wins
        status = AssignmentStatus(row.status)
        if provider_id:
            if row.provider_id != provider_id or row.sent_on is None:
                continue
        elif status not in ACTIVE_ASSIGNMENT_STATUSES:
            continue
        found[row.referral_id] = (row.id, str(status), row.provider_id, row.name)
    return found


def status_counts(session: Session, filters: QueueFilters, as_of: dt.date) -> dict[str, int]:
    """Referrals per status under the filters (the status filter itself aside), in one GROUP BY."""
    conditions = _conditions(dataclasses.replace(filters, status=None, open_only=False), as_of,
                             session.get_bind().dialect.name)
    counts = {str(s): 0 for s in ReferralStatus}
    stmt = sa.select(Referral.status, sa.func.count()).where(*conditions).group_by(Referral.status)
    for status, n in session.execute(stmt):
        counts[str(status)] = n
    return counts


def counties(session: Session) -> list[str]:
    """Counties with at least one member (for the filter).

    A recursive query hops from one county to the next through the ``county`` index (two dozen
    look-ups) instead of reading every member's entry, as DISTINCT does, on every page.
    """
    m = aliased(Member)
    hop = sa.select(sa.func.min(Member.county).label("county")).cte("hop", recursive=True)
    hop = hop.union_all(
        sa.select(sa.select(sa.func.min(m.county)).where(m.county > hop.c.county).scalar_subquery())
        .where(hop.c.county.is_not(None))
    )
    return list(session.scalars(sa.select(hop.c.county).where(hop.c.county.is_not(None)).order_by(hop.c.county)))


def services(session: Session) -> list[tuple[str, str]]:
    """(key, name) of every service in the catalogue."""
    return [(k, n) for k, n in session.execute(sa.select(Service.key, Service.name).order_by(Service.name))]


@dataclass
class ReferralDetail:
    """A referral with everything the detail page and the API show."""

    referral: Referral
    row: QueueRow
    assignments: list[Assignment] = field(default_factory=list)
    unplaced: list[UnplacedReferral] = field(default_factory=list)


def referral_detail(
    session: Session, referral_id: str, as_of: dt.date, provider_id: str | None = None
) -> ReferralDetail | None:
    """Return the referral's detail, or None if there is none *or the provider may not see it*.

    A provider sees only its own assignments of the referral and none of its unplaced history.
    """
    stmt = sa.select(Referral).where(Referral.id == referral_id)
    if provider_id:
        stmt = stmt.where(visible_to_provider(provider_id))
    referral = session.scalar(stmt)
    if referral is None:
        return None
    assignments = sa.select(Assignment).where(Assignment.referral_id == referral_id).order_by(Assignment.id)
    if provider_id:
        assignments = assignments.where(Assignment.provider_id == provider_id, Assignment.sent_on.is_not(None))
    unplaced: list[UnplacedReferral] = []
    if not provider_id:
        unplaced = list(session.scalars(
            sa.select(UnplacedReferral).where(UnplacedReferral.referral_id == referral_id)
            .order_by(UnplacedReferral.id)
        ))
    return ReferralDetail(
        referral=referral, row=rows_for(session, [referral_id], as_of, provider_id)[0],
        assignments=list(session.scalars(assignments)), unplaced=unplaced,
    )


@dataclass(frozen=True)
class OverrideOption:
    """A contract the lead may move a proposed referral to, with its room now."""

    contract_id: str
    provider_id: str
    provider_name: str
    open_units: int
    reported_full: bool


def override_options(
    session: Session, wanted: set[tuple[str, str]], as_of: dt.date
) -> dict[tuple[str, str], list[OverrideOption]]:
    """Per (service, county): the contracts in effect there, most open units first.

    Three queries whatever the number of pairs (positions, counties, names). Full contracts are
    listed too (marked) so the lead sees why they are not offered; the placement service still
    checks every hard rule when the override is saved.
    """
    from capacity.ledger import capacity_positions
    from capacity.models import ContractCounty

    options: dict[tuple[str, str], list[OverrideOption]] = {key: [] for key in wanted}
    if not wanted:
        return options
    services_wanted = {service for service, _ in wanted}
    positions = {p.contract_id: p for p in capacity_positions(session, effective_only=True, as_of=as_of)
                 if p.service_key in services_wanted}
    names = dict(session.execute(
        sa.select(Provider.id, Provider.name).where(Provider.id.in_({p.provider_id for p in positions.values()}))
    ).tuples().all())
    for contract_id, county in session.execute(
        sa.select(ContractCounty.contract_id, ContractCounty.county)
        .where(ContractCounty.contract_id.in_(list(positions)), ContractCounty.county.in_({c for _, c in wanted}))
    ):
        p = positions[contract_id]
        if (p.service_key, county) in options:
            options[(p.service_key, county)].append(OverrideOption(
                p.contract_id, p.provider_id, names.get(p.provider_id, p.provider_id), p.open, p.reported_full))
    for found in options.values():
        found.sort(key=lambda o: (o.reported_full, -o.open_units, o.provider_name))
    return options
