"""The capacity ledger: contracted, committed and open units per contract (7003 VI.E.5-6).

Committed units are never stored: they are the sum of the units of a contract's active assignments
(``PROPOSED``, ``SENT``, ``ACCEPTED``), derived on every read, so there is no counter to drift.

A provider's :class:`~capacity.models.CapacityReport` rows are events. Ordered by ``change_date``
(then by id, for two changes on the same day), they decide two things:

* **reported full**: the latest ``FULL``, ``REOPENED`` or ``NEW_CAPACITY`` event is ``FULL``. A full
  provider has no open units until it reports again, whatever its number says (DOMAIN.md, hard rules).
* **effective capacity**: the ``new_capacity`` of the latest ``NEW_CAPACITY`` event, else the
  contract's ``contracted_capacity``. ``REOPENED`` lifts a ``FULL`` and restores that number.

``STAFFING_CHANGE`` events change neither; they are counted and shown to provider relations.

Only events whose ``change_date`` is on or before ``as_of`` are in effect, so a provider that
announces a change in advance is full from the day it said. Committed units are always today's.

No over-commit under concurrency: :func:`reserve_units` locks the contract row
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers)
and re-reads committed units under the lock, so of two coordinators placing into the last open
units one waits for the other and then sees its assignment.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from capacity.models import CapacityReport, CapacityReportKind, Contract, ContractCounty, ContractSite
from csmatch.calendar import HolidayCalendar, default_calendar
from csmatch.db import lock_for_update
from placement.models import ACTIVE_ASSIGNMENT_STATUSES, Assignment, AssignmentStatus

__all__ = [
    "CapacityExceeded",
    "CapacityPoint",
    "CapacityPosition",
    "CapacityState",
    "UnknownContract",
    "capacity_history",
    "capacity_positions",
    "capacity_state",
    "committed_units",
    "effective_capacity",
    "is_reported_full",
    "lock_contract",
    "open_units",
    "position",
    "reserve_units",
]

# Events that move a contract between full and open, or change its number.
STATE_KINDS = (CapacityReportKind.FULL, CapacityReportKind.REOPENED, CapacityReportKind.NEW_CAPACITY)


class UnknownContract(LookupError):
    """No contract has the given id."""

    def __init__(self, contract_id: str) -> None:
        super().__init__(f"no contract {contract_id!r}")
        self.contract_id = contract_id


class CapacityExceeded(Exception):
    """Placing ``units_asked`` more units would exceed what the contract (or its site) has open."""

    def __init__(
        self, contract_id: str, units_asked: int, units_open: int, *, reason: str = "", site_id: str | None = None
    ) -> None:
        where = f"contract {contract_id!r}" + (f" at site {site_id!r}" if site_id else "")
        because = f" ({reason})" if reason else ""
        super().__init__(f"{where} has {units_open} open unit(s){because}; {units_asked} asked")
        self.contract_id = contract_id
        self.units_asked = units_asked
        self.units_open = units_open
        self.site_id = site_id
        self.reason = reason


@dataclass(frozen=True)
class CapacityState:
    """What a contract's capacity reports add up to on a date (see the module docstring)."""

    capacity: int
    reported_full: bool
    full_since: dt.date | None


@dataclass(frozen=True)
class CapacityPosition:
    """One contract's capacity on a date: the row the dashboard shows (7003 VI.E.5-6).

    ``capacity`` is the effective number (the latest ``NEW_CAPACITY`` report, else ``contracted``);
    ``open`` is 0 while the provider is reported full. ``report_age_business_days`` counts the
    business days since the last report of any kind (None when the provider never reported).
    """

    contract_id: str
    provider_id: str
    service_key: str
    contracted: int
    capacity: int
    committed: int
    open: int
    reported_full: bool
    full_since: dt.date | None
    last_report_date: dt.date | None
    report_age_business_days: int | None
    staffing_changes: int
    last_staffing_change: str | None
    waitlist_consent: bool

    @property
    def over_committed(self) -> int:
        """Units committed beyond the effective capacity (after a shrink), else 0."""
        return max(0, self.committed - self.capacity)


@dataclass(frozen=True)
class CapacityPoint:
    """One step of a capacity time series: values from ``date`` until the next point.

    Values are summed over the selected contracts of one service (units differ by service: beds
    and hours never add up). ``reported_full`` counts the contracts reported full on that date.
    """

    date: dt.date
    service_key: str
    contracts: int
    contracted: int
    capacity: int
    committed: int
    open: int
    reported_full: int


def _today() -> dt.date:
    return dt.date.today()


class ReportFacts(Protocol):
    """What :func:`capacity_state` reads of a report: a :class:`CapacityReport`, or a plain row of these."""

    @property
    def id(self) -> int | None: ...
    @property
    def kind(self) -> CapacityReportKind: ...
    @property
    def change_date(self) -> dt.date: ...
    @property
    def new_capacity(self) -> int | None: ...


def capacity_state(
    contracted_capacity: int, reports: Iterable[ReportFacts], as_of: dt.date | None = None
) -> CapacityState:
    """Fold a contract's reports (any order) into its :class:`CapacityState` on ``as_of``."""
    as_of = as_of or _today()
    capacity, full_since = contracted_capacity, None
    in_effect = sorted(
        (r for r in reports if r.kind in STATE_KINDS and r.change_date <= as_of),
        key=lambda r: (r.change_date, r.id or 0),
    )
    for report in in_effect:
        if report.kind is CapacityReportKind.FULL:
            full_since = full_since or report.change_date
        else:
            full_since = None
            if report.kind is CapacityReportKind.NEW_CAPACITY and report.new_capacity is not None:
                capacity = report.new_capacity
    return CapacityState(capacity=capacity, reported_full=full_since is not None, full_since=full_since)


def is_reported_full(contract: Contract, as_of: dt.date | None = None) -> bool:
    """Return whether the latest FULL report is not followed by REOPENED or NEW_CAPACITY (7003 VI.C.3.c)."""
    return capacity_state(contract.contracted_capacity, contract.reports, as_of).reported_full


def effective_capacity(contract: Contract, as_of: dt.date | None = None) -> int:
    """Return the contract's capacity after its NEW_CAPACITY reports (7003 VI.E.6)."""
    return capacity_state(contract.contracted_capacity, contract.reports, as_of).capacity


def committed_units(session: Session, contract_id: str, *, site_id: str | None = None) -> int:
    """Return the units held by the contract's PROPOSED, SENT and ACCEPTED assignments (at one site)."""
    stmt = sa.select(sa.func.coalesce(sa.func.sum(Assignment.units), 0)).where(
        Assignment.contract_id == contract_id, Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES)
    )
    if site_id is not None:
        stmt = stmt.where(Assignment.site_id == site_id)
    return int(session.scalar(stmt) or 0)


def _positions_query(as_of: dt.date) -> sa.Select[tuple[object, ...]]:
    """One statement joining each contract to its committed units and its report summary."""
    report = CapacityReport
    committed = (
        sa.select(Assignment.contract_id, sa.func.sum(Assignment.units).label("committed"))
        .where(Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES))
        .group_by(Assignment.contract_id)
        .subquery("committed")
    )

    def latest(kinds: Sequence[CapacityReportKind], name: str) -> sa.Subquery:
        ranked = (
            sa.select(
                report.id,
                report.contract_id,
                report.kind,
                report.change_date,
                report.new_capacity,
                report.staffing_change,
                sa.func.row_number()
                .over(partition_by=report.contract_id, order_by=(report.change_date.desc(), report.id.desc()))
                .label("rn"),
            )
            .where(report.kind.in_(kinds), report.change_date <= as_of)
            .subquery(f"{name}_ranked")
        )
        return sa.select(ranked).where(ranked.c.rn == 1).subquery(name)

    state = latest(STATE_KINDS, "state")
    number = latest([CapacityReportKind.NEW_CAPACITY], "number")
    staffing = latest([CapacityReportKind.STAFFING_CHANGE], "staffing")
    # the first FULL of the current full spell: the earliest FULL after the latest REOPENED or
    # NEW_CAPACITY, in (change_date, id) order
    reopen = latest([CapacityReportKind.REOPENED, CapacityReportKind.NEW_CAPACITY], "reopen")
    stats = (
        sa.select(
            report.contract_id,
            sa.func.max(report.reported_date).label("last_report_date"),
            sa.func.sum(sa.case((report.kind == CapacityReportKind.STAFFING_CHANGE, 1), else_=0)).label(
                "staffing_changes"
            ),
        )
        .where(report.reported_date <= as_of)
        .group_by(report.contract_id)
        .subquery("stats")
    )
    full_start = (
        sa.select(report.contract_id, sa.func.min(report.change_date).label("full_since"))
        .outerjoin(reopen, reopen.c.contract_id == report.contract_id)
        .where(
            report.kind == CapacityReportKind.FULL,
            report.change_date <= as_of,
            sa.or_(
                reopen.c.change_date.is_(None),
                report.change_date > reopen.c.change_date,
                sa.and_(report.change_date == reopen.c.change_date, report.id > reopen.c.id),
            ),
        )
        .group_by(report.contract_id)
        .subquery("full_start")
    )
    return (
        sa.select(
            Contract.id,
            Contract.provider_id,
            Contract.service_key,
            Contract.contracted_capacity,
            Contract.waitlist_consent,
            sa.func.coalesce(committed.c.committed, 0).label("committed"),
            state.c.kind.label("state_kind"),
            number.c.new_capacity,
            staffing.c.staffing_change.label("last_staffing_change"),
            stats.c.last_report_date,
            sa.func.coalesce(stats.c.staffing_changes, 0).label("staffing_changes"),
            full_start.c.full_since,
        )
        .outerjoin(committed, committed.c.contract_id == Contract.id)
        .outerjoin(state, state.c.contract_id == Contract.id)
        .outerjoin(number, number.c.contract_id == Contract.id)
        .outerjoin(staffing, staffing.c.contract_id == Contract.id)
        .outerjoin(stats, stats.c.contract_id == Contract.id)
        .outerjoin(full_start, full_start.c.contract_id == Contract.id)
        .order_by(Contract.id)
    )


def capacity_positions(
    session: Session,
    *,
    contract_ids: Sequence[str] | None = None,
    provider_id: str | None = None,
    county: str | None = None,
    service_key: str | None = None,
    effective_only: bool = False,
    as_of: dt.date | None = None,
    calendar: HolidayCalendar | None = None,
) -> list[CapacityPosition]:
    """Return the :class:`CapacityPosition` of every matching contract, from ONE aggregate query.

    Filters combine with AND; ``county`` keeps contracts serving that county; ``effective_only``
    keeps contracts in effect on ``as_of`` (default today).
    """
    as_of = as_of or _today()
    calendar = calendar or default_calendar()
    stmt = _positions_query(as_of)
    if contract_ids is not None:
        stmt = stmt.where(Contract.id.in_(list(contract_ids)))
    if provider_id is not None:
        stmt = stmt.where(Contract.provider_id == provider_id)
    if service_key is not None:
        stmt = stmt.where(Contract.service_key == service_key)
    if county is not None:
        stmt = stmt.where(
            sa.exists().where(ContractCounty.contract_id == Contract.id, ContractCounty.county == county)
        )
    if effective_only:
        stmt = stmt.where(
            Contract.effective_start <= as_of,
            sa.or_(Contract.effective_end.is_(None), Contract.effective_end >= as_of),
        )
    ages: dict[dt.date, int] = {}
    positions = []
    for row in session.execute(stmt):
        capacity = row.new_capacity if row.new_capacity is not None else row.contracted_capacity
        full = row.state_kind == CapacityReportKind.FULL
        committed = int(row.committed)
        age = None
        if row.last_report_date is not None:
            if row.last_report_date not in ages:
                ages[row.last_report_date] = calendar.business_days_between(row.last_report_date, as_of)
            age = ages[row.last_report_date]
        positions.append(
            CapacityPosition(
                contract_id=row.id,
                provider_id=row.provider_id,
                service_key=row.service_key,
                contracted=row.contracted_capacity,
                capacity=capacity,
                committed=committed,
                open=0 if full else max(0, capacity - committed),
                reported_full=full,
                full_since=row.full_since if full else None,
                last_report_date=row.last_report_date,
                report_age_business_days=age,
                staffing_changes=int(row.staffing_changes),
                last_staffing_change=row.last_staffing_change,
                waitlist_consent=bool(row.waitlist_consent),
            )
        )
    return positions


def position(
    session: Session, contract_id: str, *, as_of: dt.date | None = None, calendar: HolidayCalendar | None = None
) -> CapacityPosition:
    """Return one contract's :class:`CapacityPosition`.

    :raise UnknownContract: if no contract has that id.
    """
    found = capacity_positions(session, contract_ids=[contract_id], as_of=as_of, calendar=calendar)
    if not found:
        raise UnknownContract(contract_id)
    return found[0]


def open_units(session: Session, contract_id: str, *, as_of: dt.date | None = None) -> int:
    """Return the units the contract can still take: 0 while reported full (7003 VI.E.5)."""
    return position(session, contract_id, as_of=as_of).open


def lock_contract(session: Session, contract_id: str) -> Contract:
    """Lock the contract row for the rest of the caller's transaction and return it, freshly read.

    Every writer that commits units into a contract takes this lock first, so they run one at a time.

    :raise UnknownContract: if no contract has that id.
    """
    stmt = lock_for_update(sa.select(Contract).where(Contract.id == contract_id), session)
    contract = session.scalars(stmt.execution_options(populate_existing=True)).one_or_none()
    if contract is None:
        raise UnknownContract(contract_id)
    return contract


def reserve_units(
    session: Session,
    contract_id: str,
    units: int,
    *,
    site_id: str | None = None,
    as_of: dt.date | None = None,
) -> CapacityPosition:
    """Lock the contract, re-check its room, and return its position before the new units.

    The caller adds the assignment in the same transaction, after this call; the lock is held until
    that transaction ends, so committed units never exceed capacity (7003 VI.E.5; DOMAIN.md hard
    rules). With ``site_id``, the site's own ``site_capacity`` (when set) is checked too.

    :raise ValueError: if ``units`` is below 1.
    :raise UnknownContract: if no contract has that id.
    :raise CapacityExceeded: if the contract is reported full or has fewer than ``units`` open.
    """
    if units < 1:
        raise ValueError(f"units must be at least 1, got {units!r}")
    lock_contract(session, contract_id)
    current = position(session, contract_id, as_of=as_of)
    if current.reported_full:
        raise CapacityExceeded(
            contract_id, units, 0, reason=f"reported full since {current.full_since.isoformat()}"
            if current.full_since else "reported full"
        )
    if units > current.open:
        raise CapacityExceeded(
            contract_id, units, current.open,
            reason=f"{current.committed} of {current.capacity} committed",
        )
    if site_id is not None:
        site_capacity = session.scalar(
            sa.select(ContractSite.site_capacity).where(
                ContractSite.contract_id == contract_id, ContractSite.site_id == site_id
            )
        )
        if site_capacity is not None:
            at_site = committed_units(session, contract_id, site_id=site_id)
            if at_site + units > site_capacity:
                raise CapacityExceeded(
                    contract_id, units, max(0, site_capacity - at_site), site_id=site_id,
                    reason=f"{at_site} of the site's {site_capacity} committed",
                )
    return current


# --- capacity over time -------------------------------------------------------------------------


def _hold_spans(contract_ids: Sequence[str]) -> sa.Subquery:
    """Per assignment of these contracts: the first day it holds units (its creation day), the day
    it stops (None while it still holds them) and its units; the caller sums those of the same span.

    It stops on its ``ended_at`` day when set; else a declined assignment on its answer date; else
    (an inactive assignment with no end recorded) on its creation day, so it never inflates the
    history.
    """
    day = sa.Date()
    finish = sa.case(
        (Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES), sa.null()),
        (Assignment.ended_at.is_not(None), sa.func.date(Assignment.ended_at, type_=day)),
        (sa.and_(Assignment.status == AssignmentStatus.DECLINED, Assignment.answered_on.is_not(None)),
         Assignment.answered_on),
        else_=sa.func.date(Assignment.created_at, type_=day),
    )
    return (
        sa.select(Assignment.contract_id, sa.func.date(Assignment.created_at, type_=day).label("begin"),
                  sa.type_coerce(finish, day).label("finish"), Assignment.units)
        .where(Assignment.contract_id.in_(list(contract_ids)))
        .subquery("spans")
    )


def capacity_history(
    session: Session,
    *,
    contract_id: str | None = None,
    provider_id: str | None = None,
    county: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> list[CapacityPoint]:
    """Return a step time series of capacity, committed and open units, per service, for charts.

    Exactly one of ``contract_id``, ``provider_id`` or ``county`` selects the contracts. There is a
    point at each date where something changed (a contract starting or ending, a capacity report
    taking effect, an assignment starting or ending), clipped to ``[start, end]``. Three queries in
    all (contracts, their reports, their assignments' dates and units), whatever the number of
    contracts; then one sweep over the dated events in order, keeping each contract's committed
    units and state and the service's totals up to date, so the cost grows with the number of
    events, not with days × assignments.

    ``contracted`` is the contract's current number (amendments are not versioned); an assignment
    holds units from its creation day to its ``ended_at`` day.

    :raise ValueError: unless exactly one selector is given.
    """
    chosen = {"contract_id": contract_id, "provider_id": provider_id, "county": county}
    given = [k for k, v in chosen.items() if v is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of contract_id, provider_id, county (got {given or 'none'})")
    stmt = sa.select(Contract)
    if contract_id is not None:
        stmt = stmt.where(Contract.id == contract_id)
    elif provider_id is not None:
        stmt = stmt.where(Contract.provider_id == provider_id)
    else:
        stmt = stmt.where(
            sa.exists().where(ContractCounty.contract_id == Contract.id, ContractCounty.county == county)
        )
    contracts = list(session.scalars(stmt.order_by(Contract.id)))
    if not contracts:
        return []
    ids = [c.id for c in contracts]
    reports: dict[str, list[CapacityReport]] = defaultdict(list)
    holds: dict[str, list[tuple[dt.date, dt.date | None, int]]] = defaultdict(list)  # (start, end, units)
    for chunk in range(0, len(ids), 5000):  # bound the IN lists
        part = ids[chunk:chunk + 5000]
        for r in session.scalars(sa.select(CapacityReport).where(CapacityReport.contract_id.in_(part))):
            reports[r.contract_id].append(r)
        spans = _hold_spans(part)
        for row in session.execute(
            sa.select(spans.c.contract_id, spans.c.begin, spans.c.finish, sa.func.sum(spans.c.units))
            .group_by(spans.c.contract_id, spans.c.begin, spans.c.finish)
        ):
            holds[row[0]].append((row[1], row[2], int(row[3])))

    by_service: dict[str, list[Contract]] = defaultdict(list)
    for c in contracts:
        by_service[c.service_key].append(c)

    points: list[CapacityPoint] = []
    for service_key, group in sorted(by_service.items()):
        points.extend(_sweep(service_key, group, reports, holds, start, end))
    return points


def _sweep(
    service_key: str,
    group: list[Contract],
    reports: dict[str, list[CapacityReport]],
    holds: dict[str, list[tuple[dt.date, dt.date | None, int]]],
    start: dt.date | None,
    end: dt.date | None,
) -> list[CapacityPoint]:
    """One service's points: the values in force on each date where something changed.

    Events are (date, contract index, kind, units): a contract's start and the day after its end
    change whether it counts; a report's change date re-folds its state (:func:`capacity_state`, so
    the rule stays in one place); an assignment adds its units on its first day and takes them
    away on its end day (never, if it ends on or before the day it started: it never held any).
    """
    dates: set[dt.date] = set()
    events: list[tuple[dt.date, int, int]] = []  # (date, contract index, units change; 0 = re-evaluate)
    for i, c in enumerate(group):
        dates.add(c.effective_start)
        events.append((c.effective_start, i, 0))
        if c.effective_end is not None:
            dates.add(c.effective_end + dt.timedelta(days=1))
            events.append((c.effective_end + dt.timedelta(days=1), i, 0))
        for r in reports[c.id]:
            dates.add(r.change_date)
            events.append((r.change_date, i, 0))
        for begin, finish, units in holds[c.id]:
            dates.add(begin)
            if finish is not None:
                dates.add(finish)
            if finish is not None and finish <= begin:
                continue  # held nothing on any day
            events.append((begin, i, units))
            if finish is not None:
                events.append((finish, i, -units))
    ordered = sorted(dates)
    if start is not None:
        # the value in force on ``start`` opens the window
        first = bisect.bisect_right(ordered, start)
        ordered = [start] + ordered[first:]
    if end is not None:
        ordered = [d for d in ordered if d <= end]
    events.sort(key=lambda e: e[0])

    committed = [0] * len(group)
    # each contract's contribution to the totals: (contracts, contracted, capacity, committed, open, full)
    part: list[tuple[int, int, int, int, int, int]] = [(0, 0, 0, 0, 0, 0)] * len(group)
    totals = [0, 0, 0, 0, 0, 0]
    state: list[CapacityState | None] = [None] * len(group)
    points: list[CapacityPoint] = []
    e = 0
    for day in ordered:
        changed: set[int] = set()
        while e < len(events) and events[e][0] <= day:
            _day, i, units = events[e]
            if units:
                committed[i] += units
            else:
                state[i] = None  # re-fold the reports on the day it is needed
            changed.add(i)
            e += 1
        for i in changed:
            c = group[i]
            if c.is_effective(day):
                st = state[i]
                if st is None:
                    st = state[i] = capacity_state(c.contracted_capacity, reports[c.id], day)
                held = committed[i]
                new = (1, c.contracted_capacity, st.capacity, held,
                       0 if st.reported_full else max(0, st.capacity - held), int(st.reported_full))
            else:
                new = (0, 0, 0, 0, 0, 0)
            old = part[i]
            for k in range(6):
                totals[k] += new[k] - old[k]
            part[i] = new
        points.append(
            CapacityPoint(
                date=day, service_key=service_key, contracts=totals[0], contracted=totals[1],
                capacity=totals[2], committed=totals[3], open=totals[4], reported_full=totals[5],
            )
        )
    return points
