"""The plan's internal monitoring reports of 7003 VI.I.1.a.1: utilization, referrals, timeliness.

Each report covers a :class:`~reports.common.Period` (a quarter for the Over/Under Utilization
Review Committee, VI.I.1.b, or any range) and returns a tidy :class:`pandas.DataFrame`. Columns
are listed in ``docs/reports.md``. Each reads one narrow row per clock, assignment or event and
counts in Python: timeliness with pandas (business days cannot be counted in SQL); utilization and
referrals through a :data:`reports.kept.RowSource` (the dashboard keeps those rows and reads again
only the referrals a write touched), with numpy and a Counter.

Utilization (:func:`utilization`), per month × service × county (or × provider):
    an assignment holds units from the day it is created to the day it ends (the capacity ledger's
    convention, :func:`capacity.ledger.capacity_history`). ``units_committed`` are the units of
    PROPOSED/SENT/ACCEPTED assignments holding on the month's last day (or the period's, if
    earlier), ``units_accepted`` those the provider had accepted by then; ``members_served`` counts
    members whose accepted assignment was running at any time in the month.
    ``contracted_capacity`` is the capacity in force that day (the contract's, after its
    NEW_CAPACITY reports, :func:`capacity.ledger.capacity_state`) of the contracts in effect.
    By county, a contract serving several counties counts in full in each (its capacity is open to
    each), so county percentages are a lower bound; by provider they are exact.

Referrals (:func:`referral_events`): one row per month × county × service × provider × source ×
event × reason with a count. RECEIVED counts referrals by receipt date; SENT counts assignments
sent (``sent_on``); ACCEPTED and DECLINED count provider answers (``answered_on``; declines with the
provider's reason code); UNPLACED counts referrals by the reason the matcher gave, in the month
that reason was first recorded in the period. :func:`referral_summary` pivots it for any grouping.

Timeliness (:func:`timeliness`, 7003 VI.C.3): the send clock (referred to a provider within 10
business days of receipt; grouped by receipt month and the first provider sent to) and the answer
clock (the provider accepts or declines within 2 business days of being sent; grouped by the
month sent and the provider asked). A clock is *decided* when done, or when its due date passed
without it being done (late); a clock still inside its time is *pending*. A referral discontinued
before its due date, or an assignment withdrawn before its due date, never started a decided clock
and is left out. Medians and 90th percentiles are business days over clocks that were done.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from capacity.ledger import STATE_KINDS, capacity_state
from capacity.models import CapacityReport, CapacityReportKind, Contract, ContractCounty
from csmatch.calendar import HolidayCalendar, default_calendar, span_covers
from placement.models import ACTIVE_ASSIGNMENT_STATUSES, Assignment, AssignmentStatus, UnplacedReferral
from referrals.clocks import ANSWER_CLOCK, SEND_CLOCK
from referrals.models import Member, Referral, ReferralStatus, ReferralStatusChange
from reports.common import (
    EPOCH,
    Period,
    business_days,
    day_number,
    day_numbers,
    day_of,
    due_dates,
    month_of,
    period_bounds,
    read_frame,
)
from reports.kept import Among, RowSource, fetch_query, fresh_rows

__all__ = [
    "EVENTS",
    "EVENT_KEYS",
    "REFERRAL_COLUMNS",
    "TIMELINESS_COLUMNS",
    "TIMELINESS_DIMENSIONS",
    "UTILIZATION_COLUMNS",
    "answer_clocks",
    "capacity_in_force",
    "referral_counts",
    "referral_events",
    "referral_summary",
    "send_clocks",
    "timeliness",
    "utilization",
]

EVENTS = ("RECEIVED", "SENT", "ACCEPTED", "DECLINED", "UNPLACED")
REFERRAL_COLUMNS = ("month", "county", "service", "provider", "source", "event", "reason", "count")
UTILIZATION_COLUMNS = ("month", "snapshot_date", "service", "county", "provider", "contracts", "contracted_capacity",
                       "units_committed", "units_accepted", "members_served", "utilization_pct")
TIMELINESS_DIMENSIONS = ("all", "month", "county", "service", "provider")
TIMELINESS_COLUMNS = (
    "period", "as_of", "dimension", "group",
    "send_decided", "send_on_time", "send_late", "send_pending", "send_on_time_share", "send_median_days",
    "send_p90_days",
    "answer_decided", "answer_on_time", "answer_late", "answer_pending", "answer_on_time_share",
    "answer_median_days", "answer_p90_days",
)
_ACCEPTED = (AssignmentStatus.ACCEPTED, AssignmentStatus.ENDED)


# --- utilization ---------------------------------------------------------------------------------

def _spans_query(period: Period, dialect: str, among: Among | None = None) -> sa.Select[*tuple[Any, ...]]:
    """Each assignment holding units at some time in the period (of the referrals ``among`` admits):
    referral id, service, county, provider, member, units, and as day numbers the first day held,
    the day it stopped (NULL: still held) and the day accepted (NULL: never)."""
    a = Assignment
    start = day_of(a.created_at, dialect)
    end = sa.case(
        (a.status.in_(ACTIVE_ASSIGNMENT_STATUSES), sa.null()),
        (a.ended_at.is_not(None), day_of(a.ended_at, dialect)),
        (sa.and_(a.status == AssignmentStatus.DECLINED, a.answered_on.is_not(None)), a.answered_on),
        else_=start,
    )
    stmt = (
        sa.select(
            a.referral_id, Contract.service_key, Member.county, a.provider_id, Referral.member_id, a.units,
            day_number(start, dialect), day_number(end, dialect),
            day_number(sa.case((a.status.in_(_ACCEPTED), a.answered_on)), dialect),
        )
        .join(Contract, Contract.id == a.contract_id)
        .join(Referral, Referral.id == a.referral_id)
        .join(Member, Member.id == Referral.member_id)
        .where(start <= period.end, sa.or_(end.is_(None), end >= period.start))
    )
    return stmt if among is None else stmt.where(among(a.referral_id))


def _held_units(session: Session, period: Period, by: str, rows: RowSource) -> pd.DataFrame:
    """Units held and members served per month × service × county/provider.

    The assignments' spans are read one row each, through ``rows`` (:mod:`reports.kept`), and
    counted per month with numpy: an assignment counts in a month when it was held on one of its
    days; units while still held on the month's snapshot day (its last, or the period's), accepted
    units if accepted by then; members served if accepted by then and held past the month's first day.
    """
    dialect = session.get_bind().dialect.name
    spans = rows(session, ("utilization.spans", period),
                 fetch_query(lambda among: _spans_query(period, dialect, among)))
    columns = ["month", "service", "key", "units_committed", "units_accepted", "members_served"]
    if not spans:
        return pd.DataFrame({name: pd.Series(dtype="int64" if name in columns[3:] else object) for name in columns})
    table = np.array(spans, dtype=object)

    group, groups = pd.factorize(pd.MultiIndex.from_arrays([table[:, 1], table[:, 2 if by == "county" else 3]]))
    member = pd.factorize(table[:, 4])[0].astype(np.int64)
    members = int(member.max()) + 1
    units = table[:, 5].astype(np.int64)
    # a NULL day (NO_DAY) comes after every other: still held, or never accepted
    first_held, stopped, accepted_on = (day_numbers(table[:, i]) for i in (6, 7, 8))
    size = len(groups)
    frames = []
    for label, first, last in period.months():
        opened, snap = (first - EPOCH).days, (last - EPOCH).days  # the snapshot: the month's last day
        joined = (first_held <= snap) & (stopped >= opened)
        held = joined & (stopped > snap)
        accepted = held & (accepted_on <= snap)
        served = joined & (accepted_on <= snap) & (stopped > opened)
        present = np.bincount(group[joined], minlength=size) > 0
        pairs = np.unique(group[served] * members + member[served])  # each (group, member) once
        frame = pd.DataFrame({
            "month": label, "service": groups.get_level_values(0), "key": groups.get_level_values(1),
            "units_committed": np.bincount(group[held], weights=units[held], minlength=size).astype(np.int64),
            "units_accepted": np.bincount(group[accepted], weights=units[accepted], minlength=size).astype(np.int64),
            "members_served": np.bincount(pairs // members, minlength=size).astype(np.int64),
        })
        frames.append(frame[present])
    return pd.concat(frames, ignore_index=True).reindex(columns=columns)


class _Report(NamedTuple):
    """A capacity report as :func:`capacity.ledger.capacity_state` reads it."""

    id: int
    kind: CapacityReportKind
    change_date: dt.date
    new_capacity: int | None


def _capacity(session: Session, period: Period, by: str) -> pd.DataFrame:
    """Contracted capacity in force on each month's snapshot day, per service × county/provider
    (``by="plan"``: per service).

    Plain rows, not contract objects: thousands of contracts, and only the few with a report in
    effect need folding (:func:`capacity.ledger.capacity_state`). Read on the session's connection
    (after a flush), as :func:`reports.common.read_frame` does: the ORM's per-row work is most of the
    time otherwise.
    """
    in_period = sa.and_(Contract.effective_start <= period.end,
                        sa.or_(Contract.effective_end.is_(None), Contract.effective_end >= period.start))
    session.flush()
    connection = session.connection()
    contracts = connection.execute(
        sa.select(Contract.id, Contract.provider_id, Contract.service_key, Contract.contracted_capacity,
                  Contract.effective_start, Contract.effective_end).where(in_period).order_by(Contract.id)
    ).all()
    ids = sa.select(Contract.id).where(in_period)
    reports: dict[str, list[_Report]] = defaultdict(list)
    for contract_id, report_id, kind, change_date, new_capacity in connection.execute(
        sa.select(CapacityReport.contract_id, CapacityReport.id, CapacityReport.kind, CapacityReport.change_date,
                  CapacityReport.new_capacity)
        .where(CapacityReport.contract_id.in_(ids), CapacityReport.kind.in_(STATE_KINDS),
               CapacityReport.change_date <= period.end)
    ):
        reports[contract_id].append(_Report(report_id, kind, change_date, new_capacity))
    counties: dict[str, list[str]] = defaultdict(list)
    if by == "county":
        served = sa.select(ContractCounty.contract_id, ContractCounty.county).where(ContractCounty.contract_id.in_(ids))
        for contract_id, county in connection.execute(served):
            counties[contract_id].append(county)
    totals: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for label, _first, last in period.months():
        for contract_id, provider_id, service_key, contracted, start, end in contracts:
            if not span_covers(start, end, last):
                continue
            found = reports.get(contract_id)
            capacity = capacity_state(contracted, found, last).capacity if found else contracted
            keys = counties[contract_id] if by == "county" else [provider_id] if by == "provider" else [""]
            for key in keys:
                cell = totals[(label, service_key, key)]
                cell[0] += 1
                cell[1] += capacity
    rows = [(m, s, k, n, cap) for (m, s, k), (n, cap) in totals.items()]
    return pd.DataFrame(rows, columns=["month", "service", "key", "contracts", "contracted_capacity"])


def capacity_in_force(session: Session, period: Period) -> pd.DataFrame:
    """Per month × service, plan-wide: the contracts in effect on the month's snapshot day and their
    capacity in force (each contract once). Columns: month, service, contracts, contracted_capacity."""
    return _capacity(session, period, "plan").drop(columns=["key"])


def utilization(session: Session, period: Period, *, by: str = "county", rows: RowSource = fresh_rows) -> pd.DataFrame:
    """Return utilization per month × service × ``by`` (``county`` or ``provider``) (7003 VI.I.1.a.1.a).

    Columns: :data:`UTILIZATION_COLUMNS` (``provider`` empty by county, ``county`` empty by provider).

    :raise ValueError: for another ``by``.
    """
    if by not in ("county", "provider"):
        raise ValueError(f"by must be 'county' or 'provider', not {by!r}")
    held = _held_units(session, period, by, rows)
    capacity = _capacity(session, period, by)
    frame = capacity.merge(held, on=["month", "service", "key"], how="outer")
    counts = ["contracts", "contracted_capacity", "units_committed", "units_accepted", "members_served"]
    frame[counts] = frame[counts].fillna(0).astype("int64")
    frame["utilization_pct"] = (100.0 * frame["units_committed"]
                                / frame["contracted_capacity"].where(frame["contracted_capacity"] > 0)).astype(float)
    snapshot = {label: last for label, _first, last in period.months()}
    frame["snapshot_date"] = frame["month"].map(snapshot)
    frame["county"] = frame["key"] if by == "county" else ""
    frame["provider"] = frame["key"] if by == "provider" else ""
    frame = frame.sort_values(["month", "service", "key"], kind="stable").reset_index(drop=True)
    return frame.reindex(columns=list(UTILIZATION_COLUMNS))


# --- referrals -----------------------------------------------------------------------------------

EVENT_KEYS = ("month", "county", "service", "provider", "source")


def _event_query(dialect: str, event: str, period: Period, among: Among | None = None) -> sa.Select[*tuple[Any, ...]]:
    """One event kind's rows (of the referrals ``among`` admits): the referral id, the
    :data:`EVENT_KEYS` columns, the event and its reason."""
    r, a = Referral, Assignment
    blank = sa.literal("")
    label = sa.literal(event)
    if event == "RECEIVED":
        received = (
            sa.select(r.id, month_of(r.received_date, dialect), Member.county, r.service_key, blank, r.source, label,
                      blank)
            .join(Member, Member.id == r.member_id)
            .where(r.received_date.between(period.start, period.end)))
        return received if among is None else received.where(among(r.id))
    stmt: sa.Select[*tuple[Any, ...]]
    if event == "UNPLACED":
        lo, hi = period_bounds(period)
        u = UnplacedReferral
        first_select = (
            sa.select(u.referral_id, u.reason, sa.func.min(u.created_at).label("first_at"))
            .where(u.created_at >= lo, u.created_at < hi)
            .group_by(u.referral_id, u.reason)
        )
        first = (first_select if among is None else first_select.where(among(u.referral_id))).subquery("first_unplaced")
        stmt = (sa.select(first.c.referral_id, month_of(day_of(first.c.first_at, dialect), dialect), Member.county,
                          r.service_key, blank, r.source, label, first.c.reason)
                .select_from(first).join(r, r.id == first.c.referral_id))
    else:
        where: sa.ColumnElement[bool]
        reason_col: sa.ColumnElement[str]
        if event == "SENT":
            day, where, reason_col = a.sent_on, a.sent_on.between(period.start, period.end), blank
        elif event == "ACCEPTED":
            day = a.answered_on
            where = sa.and_(a.answered_on.between(period.start, period.end), a.status != AssignmentStatus.DECLINED)
            reason_col = blank
        else:
            day = a.answered_on
            where = sa.and_(a.answered_on.between(period.start, period.end), a.status == AssignmentStatus.DECLINED)
            reason_col = sa.func.coalesce(a.decline_reason, "")
        stmt = (sa.select(a.referral_id, month_of(day, dialect), Member.county, r.service_key, a.provider_id, r.source,
                          label, reason_col)
                .select_from(a).join(r, r.id == a.referral_id).where(where))
        if among is not None:
            stmt = stmt.where(among(a.referral_id))
    return stmt.join(Member, Member.id == r.member_id)


def _events_query(dialect: str, period: Period, among: Among | None = None) -> sa.CompoundSelect[*tuple[Any, ...]]:
    """Every event of the period, one row each (:func:`_event_query`), for :mod:`reports.kept`."""
    return sa.union_all(*(_event_query(dialect, event, period, among) for event in EVENTS))


def referral_counts(session: Session, period: Period, keys: Sequence[str] = EVENT_KEYS, *,
                    rows: RowSource = fresh_rows) -> pd.DataFrame:
    """Return the events of ``period`` counted by ``keys`` (of :data:`EVENT_KEYS`), event and reason.
    The page asks only for what it shows (by month and one more key); the CSV file for all keys
    (:func:`referral_events`). The events are read one row each, through ``rows``
    (:mod:`reports.kept`), and counted in Python.

    Columns: ``keys``, event, reason, count; sorted by month (when a key), event, the other keys, reason.
    """
    unknown = [k for k in keys if k not in EVENT_KEYS]
    if unknown:
        raise ValueError(f"unknown key(s) {unknown!r}; choose from {', '.join(EVENT_KEYS)}")
    keys = list(dict.fromkeys(keys))
    dialect = session.get_bind().dialect.name
    events = rows(session, ("referral.events", period), fetch_query(lambda among: _events_query(
        dialect, period, among)))
    # row: referral id, the EVENT_KEYS, event, reason
    picked = itemgetter(*(1 + EVENT_KEYS.index(k) for k in keys), 6, 7)
    counts = Counter(map(picked, events))
    result = pd.DataFrame([(*group, n) for group, n in counts.items()], columns=[*keys, "event", "reason", "count"])
    if "source" in keys:
        result["source"] = result["source"].map(str)
    result["count"] = result["count"].astype("int64")
    order = {e: i for i, e in enumerate(EVENTS)}
    first = ["month"] if "month" in keys else []
    result = result.sort_values([*first, "event", *(k for k in keys if k != "month"), "reason"],
                                key=lambda s: s.map(order) if s.name == "event" else s, kind="stable")
    return result.reindex(columns=[*keys, "event", "reason", "count"]).reset_index(drop=True)


def referral_events(session: Session, period: Period, *, rows: RowSource = fresh_rows) -> pd.DataFrame:
    """Return the referral report of ``period`` as tidy counts (7003 VI.I.1.a.1.c).

    Columns: :data:`REFERRAL_COLUMNS`; ``provider`` is empty for RECEIVED and UNPLACED, ``reason``
    for RECEIVED, SENT and ACCEPTED.
    """
    return referral_counts(session, period, rows=rows).reindex(columns=list(REFERRAL_COLUMNS))


def referral_summary(events: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Pivot :func:`referral_events` to one row per group of ``by`` and one column per event.

    Declines and unplaced referrals are also split by reason, in columns ``DECLINED:<reason>`` and
    ``UNPLACED:<reason>``. ``by`` may be empty for plan-wide totals.
    """
    by = list(by)
    keyed = events.assign(_all="all")
    keys = by or ["_all"]
    totals = keyed.pivot_table(index=keys, columns="event", values="count", aggfunc="sum", fill_value=0)
    totals = totals.reindex(columns=list(EVENTS), fill_value=0)
    split = keyed[keyed["event"].isin(["DECLINED", "UNPLACED"])]
    if not split.empty:
        detail = split.assign(column=split["event"] + ":" + split["reason"]).pivot_table(
            index=keys, columns="column", values="count", aggfunc="sum", fill_value=0)
        totals = totals.join(detail, how="left").fillna(0)
    totals = totals.astype("int64").reset_index()
    totals.columns.name = None
    return totals.drop(columns=["_all"]) if not by else totals


# --- timeliness ----------------------------------------------------------------------------------

def send_clocks(session: Session, period: Period, *, as_of: dt.date,
                calendar: HolidayCalendar | None = None) -> pd.DataFrame:
    """The send clock (7003 VI.C.3) of each referral received in ``period``, on ``as_of``.

    Columns: referral_id, month, county, service, provider (first sent to, or "(not sent)"),
    received_date, sent_on, due, days, state (on_time, late, pending or excluded).
    """
    calendar = calendar or default_calendar()
    h = ReferralStatusChange
    ids = sa.select(Referral.id).where(Referral.received_date.between(period.start, period.end))
    history = (
        sa.select(
            h.referral_id,
            sa.func.min(sa.case((h.to_status == ReferralStatus.SENT, h.on_date))).label("sent_on"),
            sa.func.min(sa.case((h.to_status == ReferralStatus.DISCONTINUED, h.on_date))).label("discontinued_on"),
        )
        .where(h.from_status.is_distinct_from(h.to_status), h.referral_id.in_(ids))
        .group_by(h.referral_id)
        .subquery("history")
    )
    # the first sending: its day, then the lowest assignment id sent that day (aggregates, not a
    # window function, which SQLite would rescan once per referral)
    first_day = (
        sa.select(Assignment.referral_id, sa.func.min(Assignment.sent_on).label("sent_on"))
        .where(Assignment.sent_on.is_not(None), Assignment.referral_id.in_(ids))
        .group_by(Assignment.referral_id)
        .subquery("first_day")
    )
    first_id = (
        sa.select(Assignment.referral_id, sa.func.min(Assignment.id).label("id"))
        .join(first_day, sa.and_(first_day.c.referral_id == Assignment.referral_id,
                                 first_day.c.sent_on == Assignment.sent_on))
        .group_by(Assignment.referral_id)
        .subquery("first_id")
    )
    first = aliased(Assignment, name="first_sent")
    stmt = (
        sa.select(Referral.id, Referral.received_date, Member.county, Referral.service_key, first.provider_id,
                  first.sent_on, history.c.sent_on, history.c.discontinued_on)
        .join(Member, Member.id == Referral.member_id)
        .outerjoin(first_id, first_id.c.referral_id == Referral.id)
        .outerjoin(first, first.id == first_id.c.id)
        .outerjoin(history, history.c.referral_id == Referral.id)
        .where(Referral.received_date.between(period.start, period.end))
    )
    raw = read_frame(session, stmt, ["referral_id", "received_date", "county", "service", "provider",
                                     "assignment_sent_on", "history_sent_on", "discontinued_on"])
    # the earlier of the two records of the first sending
    both = [pd.to_datetime(raw[c]) for c in ("assignment_sent_on", "history_sent_on")]
    first_sent = pd.concat(both, axis=1).min(axis=1)
    frame = raw[["referral_id", "received_date", "county", "service"]].copy()
    frame["month"] = pd.to_datetime(frame["received_date"]).dt.strftime("%Y-%m")
    frame["provider"] = raw["provider"].where(raw["provider"].notna(), "(not sent)")
    frame["sent_on"] = pd.Series(first_sent.dt.date, index=raw.index, dtype=object).where(first_sent.notna(), None)
    frame["due"] = due_dates(frame, "received_date", SEND_CLOCK, calendar)
    frame["days"] = business_days(frame, "received_date", "sent_on", calendar)
    stopped = raw["discontinued_on"]
    frame["state"] = _states(frame["sent_on"], frame["days"], frame["due"], stopped, as_of, SEND_CLOCK)
    return frame


def answer_clocks(session: Session, period: Period, *, as_of: dt.date,
                  calendar: HolidayCalendar | None = None) -> pd.DataFrame:
    """The answer clock (7003 VI.C.3.a-c) of each assignment sent in ``period``, on ``as_of``.

    Columns: assignment_id, month (sent), county, service, provider, sent_on, answered_on, due,
    days, state.
    """
    calendar = calendar or default_calendar()
    a = Assignment
    stmt = (
        sa.select(a.id, a.sent_on, Member.county, Referral.service_key, a.provider_id, a.answered_on, a.status,
                  a.ended_at)
        .join(Referral, Referral.id == a.referral_id)
        .join(Member, Member.id == Referral.member_id)
        .where(a.sent_on.between(period.start, period.end))
    )
    raw = read_frame(session, stmt, ["assignment_id", "sent_on", "county", "service", "provider", "answered_on",
                                     "status", "ended_at"])
    frame = raw[["assignment_id", "sent_on", "county", "service", "provider", "answered_on"]].copy()
    frame["month"] = pd.to_datetime(frame["sent_on"]).dt.strftime("%Y-%m")
    frame["due"] = due_dates(frame, "sent_on", ANSWER_CLOCK, calendar)
    frame["days"] = business_days(frame, "sent_on", "answered_on", calendar)
    # an assignment withdrawn or superseded unanswered stopped its clock the day it ended
    still_sent = raw["status"].map(str) == AssignmentStatus.SENT.value
    ended = raw["ended_at"].map(lambda t: t.date() if isinstance(t, dt.datetime) else None)
    stopped = ended.where(~still_sent, None)
    frame["state"] = _states(frame["answered_on"], frame["days"], frame["due"], stopped, as_of, ANSWER_CLOCK)
    return frame


def _states(done_on: pd.Series, days: pd.Series, due: pd.Series, stopped_on: pd.Series, as_of: dt.date,
            limit: int) -> pd.Series:
    """on_time / late / pending / excluded per clock (see the module docstring)."""
    done = done_on.notna() & days.notna()
    due_day, stopped = pd.to_datetime(due), pd.to_datetime(stopped_on)
    stopped_early = ~done & stopped.notna()
    states = np.select(
        [done & (days.astype("float64") <= limit), done, stopped_early & (stopped > due_day), stopped_early,
         due_day < pd.Timestamp(as_of)],
        ["on_time", "late", "late", "excluded", "late"],
        default="pending",
    )
    return pd.Series(states, index=done_on.index, dtype=object)


def _clock_summary(frame: pd.DataFrame, key: str | None, prefix: str) -> pd.DataFrame:
    """Counts of each state, the on-time share and the days of one clock, per value of ``key``."""
    data = frame.assign(_all="all", _days=frame["days"].astype("float64"),
                        **{state: frame["state"].eq(state) for state in ("on_time", "late", "pending")})
    grouped = data.groupby(key or "_all", sort=True, observed=True)
    counts = grouped[["on_time", "late", "pending"]].sum()
    table = pd.DataFrame(index=counts.index)
    table[f"{prefix}_decided"] = counts["on_time"] + counts["late"]
    table[f"{prefix}_on_time"] = counts["on_time"]
    table[f"{prefix}_late"] = counts["late"]
    table[f"{prefix}_pending"] = counts["pending"]
    decided = table[f"{prefix}_decided"]
    table[f"{prefix}_on_time_share"] = (table[f"{prefix}_on_time"] / decided.where(decided > 0)).astype(float)
    table[f"{prefix}_median_days"] = grouped["_days"].quantile(0.5)
    table[f"{prefix}_p90_days"] = grouped["_days"].quantile(0.9)
    table.index.name = "group"
    return table


def timeliness(
    session: Session,
    period: Period,
    *,
    as_of: dt.date | None = None,
    dimensions: Sequence[str] = TIMELINESS_DIMENSIONS,
    calendar: HolidayCalendar | None = None,
) -> pd.DataFrame:
    """Return send and answer timeliness per dimension value (7003 VI.C.3; VI.I.1.a.1): two queries.

    ``as_of`` (default today) decides which clocks are late and which still pending. Columns:
    :data:`TIMELINESS_COLUMNS`; ``dimension`` ``all`` is the plan-wide row.

    :raise ValueError: for an unknown dimension.
    :raise csmatch.calendar.CalendarRangeError: for a date in a year without holiday data.
    """
    unknown = [d for d in dimensions if d not in TIMELINESS_DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown dimension(s) {unknown!r}; choose from {', '.join(TIMELINESS_DIMENSIONS)}")
    as_of = as_of or dt.date.today()
    calendar = calendar or default_calendar()
    send = send_clocks(session, period, as_of=as_of, calendar=calendar)
    answer = answer_clocks(session, period, as_of=as_of, calendar=calendar)
    tables = []
    for dimension in dimensions:
        key = None if dimension == "all" else dimension
        table = _clock_summary(send, key, "send").join(_clock_summary(answer, key, "answer"), how="outer")
        tables.append(table.reset_index().assign(dimension=dimension))
    result = pd.concat(tables, ignore_index=True)
    counts = [c for c in TIMELINESS_COLUMNS if c.endswith(("_decided", "_on_time", "_late", "_pending"))]
    result[counts] = result[counts].fillna(0).astype("int64")
    result["period"] = period.label
    result["as_of"] = as_of
    return result.reindex(columns=list(TIMELINESS_COLUMNS))

