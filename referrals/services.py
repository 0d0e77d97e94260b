"""No waitlist, unplaced referrals, and referring a member again (7003 VI.E.5, VI.C.5).

A referral is never parked at a full provider: it is placed with a provider that has open units,
or it is reported unplaced with its reason, which is a network gap for provider relations
(7003 VI.E.5). The placement code writes :class:`~placement.models.UnplacedReferral` rows; this
module lists them for escalation and enforces the one exception, a contract with the plan's
recorded consent to keep a waitlist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from capacity.ledger import UnknownContract
from capacity.models import Contract
from csmatch.calendar import HolidayCalendar, default_calendar
from csmatch.models import record_audit
from placement.models import UnplacedReferral
from referrals.clocks import SEND_CLOCK
from referrals.lifecycle import DiscontinuationReason, LifecycleError
from referrals.models import (
    Member,
    Referral,
    ReferralExclusion,
    ReferralPreference,
    ReferralStatus,
    ReferralStatusChange,
)

__all__ = [
    "NetworkGap",
    "UnplacedEntry",
    "WaitlistNotAllowed",
    "count_unplaced",
    "ensure_may_queue",
    "may_queue",
    "network_gaps",
    "refer_again",
    "unplaced_referrals",
]

# 7003 VI.C.5.a: after these, the member must be willing to engage before a new referral.
_NEEDS_WILLINGNESS = frozenset({DiscontinuationReason.MEMBER_DECLINES.value, DiscontinuationReason.UNRESPONSIVE.value})


class WaitlistNotAllowed(Exception):
    """Queueing a referral at a contract without the plan's recorded consent (7003 VI.E.5)."""

    def __init__(
        self, contract_id: str, referral_id: str | None = None, *, consent_from: dt.date | None = None
    ) -> None:
        who = f"referral {referral_id!r}" if referral_id else "a referral"
        consent = f"consent only from {consent_from.isoformat()}" if consent_from else "no recorded plan consent"
        super().__init__(
            f"contract {contract_id!r} has {consent} to keep a waitlist (7003 VI.E.5): "
            f"{who} must go to a provider with open units or be reported unplaced"
        )
        self.contract_id = contract_id
        self.referral_id = referral_id


@dataclass(frozen=True)
class UnplacedEntry:
    """One unplaced referral for the escalation list: its reason, and how long the member has waited.

    ``side`` is ``"member"`` or ``"network gap"`` when the reason is one of the matcher's
    ``UnplacedReason`` values, else None. ``business_days_waiting`` counts from receipt;
    ``send_due`` is the 10-business-day clock (7003 VI.C.3), ``overdue`` once it has passed.
    """

    referral_id: str
    member_id: int
    county: str
    service_key: str
    received_date: dt.date
    reason: str
    side: str | None
    detail: dict[str, Any]
    unplaced_since: dt.datetime | None
    business_days_waiting: int
    send_due: dt.date
    overdue: bool


@dataclass(frozen=True)
class NetworkGap:
    """Unplaced referrals counted by county, service and reason: what provider relations acts on."""

    county: str
    service_key: str
    reason: str
    referrals: int
    oldest_received: dt.date


def _reason_side(reason: str) -> str | None:
    try:
        from matcher.reasons import UnplacedReason
    except ImportError:  # the matcher is optional for this listing
        return None
    try:
        return UnplacedReason(reason).side.value
    except ValueError:
        return None


class _Unplaced:
    """The referrals in UNPLACED, with their member and (when asked for) their reason.

    The reason is that of the latest unresolved ``UnplacedReferral`` row (newest ``created_at``,
    then ``id``), else the reason code of the latest transition to UNPLACED, else ``UNKNOWN``.
    "Latest" is stated as "no later one exists" (NOT EXISTS), which both databases run well: SQLite
    looks each referral's few rows up through the ``referral_id`` indexes, PostgreSQL hash-joins;
    window functions made SQLite's planner scan one side once per row of the other.
    """

    def __init__(self) -> None:
        u, newer = aliased(UnplacedReferral), aliased(UnplacedReferral)
        self.latest = (
            sa.select(u.referral_id, u.reason, u.detail, u.created_at)
            .where(
                u.resolved_at.is_(None),
                ~sa.exists().where(
                    newer.referral_id == u.referral_id, newer.resolved_at.is_(None),
                    sa.or_(newer.created_at > u.created_at,
                           sa.and_(newer.created_at == u.created_at, newer.id > u.id)),
                ),
            )
            .subquery("latest_row")
        )
        c, later = aliased(ReferralStatusChange), aliased(ReferralStatusChange)
        self.change = (
            sa.select(c.referral_id, c.reason_code)
            .where(
                c.to_status == ReferralStatus.UNPLACED, c.from_status.is_distinct_from(c.to_status),
                ~sa.exists().where(
                    later.referral_id == c.referral_id, later.to_status == ReferralStatus.UNPLACED,
                    later.from_status.is_distinct_from(later.to_status), later.id > c.id,
                ),
            )
            .subquery("latest_change")
        )
        self.reason = sa.func.coalesce(self.latest.c.reason, self.change.c.reason_code, "UNKNOWN")

    def select(
        self, *columns: Any, county: str | None = None, service_key: str | None = None, reason: str | None = None,
        with_reason: bool = False, with_member: bool = True,
    ) -> sa.Select[tuple[Any, ...]]:
        """``columns`` of the unplaced referrals; ``with_member=False`` leaves the members out unless
        ``county`` needs them (every referral has one: a count need not read them)."""
        stmt = sa.select(*columns).select_from(Referral).where(Referral.status == ReferralStatus.UNPLACED)
        if with_member or county is not None:
            stmt = stmt.join(Member, Member.id == Referral.member_id)
        if with_reason or reason is not None:
            stmt = (stmt.outerjoin(self.latest, self.latest.c.referral_id == Referral.id)
                    .outerjoin(self.change, self.change.c.referral_id == Referral.id))
        if county is not None:
            stmt = stmt.where(Member.county == county)
        if service_key is not None:
            stmt = stmt.where(Referral.service_key == service_key)
        if reason is not None:
            stmt = stmt.where(self.reason == reason)
        return stmt


def count_unplaced(
    session: Session, *, county: str | None = None, service_key: str | None = None, reason: str | None = None
) -> int:
    """How many referrals :func:`unplaced_referrals` lists with these filters (one COUNT)."""
    stmt = _Unplaced().select(sa.func.count(), county=county, service_key=service_key, reason=reason,
                              with_member=False)
    return int(session.scalar(stmt) or 0)


def unplaced_referrals(
    session: Session,
    *,
    county: str | None = None,
    service_key: str | None = None,
    reason: str | None = None,
    as_of: dt.date | None = None,
    calendar: HolidayCalendar | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[UnplacedEntry]:
    """Return the referrals reported unplaced, longest waiting first, filtered in SQL (7003 VI.E.5).

    The reason is that of the latest unresolved ``UnplacedReferral`` row, else the reason code of
    the transition to UNPLACED, else ``UNKNOWN``. ``limit`` and ``offset`` return one page of the
    list (:func:`count_unplaced` counts it whole): the page's referrals are chosen first, in the
    ``(status, received_date, id)`` index's order, and only theirs are looked up further.
    """
    as_of = as_of or dt.date.today()
    calendar = calendar or default_calendar()
    q = _Unplaced()
    columns = (Referral.id, Referral.member_id, Member.county, Referral.service_key, Referral.received_date,
               q.reason.label("reason"), q.latest.c.detail, q.latest.c.created_at)
    order = (Referral.received_date, Referral.id)
    rows: list[Any]
    if limit is None and not offset:  # the whole list: one query
        rows = list(session.execute(q.select(*columns, county=county, service_key=service_key, reason=reason,
                                             with_reason=True).order_by(*order)))
    else:
        ids = list(session.scalars(
            q.select(Referral.id, county=county, service_key=service_key, reason=reason, with_member=False)
            .order_by(*order).limit(limit).offset(offset)
        ))
        found = {row.id: row for row in session.execute(
            q.select(*columns, with_reason=True).where(Referral.id.in_(ids)))} if ids else {}
        rows = [found[i] for i in ids]
    due: dict[dt.date, dt.date] = {}
    waited: dict[dt.date, int] = {}
    entries = []
    for row in rows:
        if row.received_date not in due:
            due[row.received_date] = calendar.due_date(row.received_date, SEND_CLOCK)
            waited[row.received_date] = (
                calendar.business_days_between(row.received_date, as_of) if row.received_date <= as_of else 0
            )
        entries.append(
            UnplacedEntry(
                referral_id=row.id, member_id=row.member_id, county=row.county, service_key=row.service_key,
                received_date=row.received_date, reason=row.reason, side=_reason_side(row.reason),
                detail=row.detail or {}, unplaced_since=row.created_at,
                business_days_waiting=waited[row.received_date], send_due=due[row.received_date],
                overdue=as_of > due[row.received_date],
            )
        )
    return entries


def network_gaps(session: Session, *, county: str | None = None) -> list[NetworkGap]:
    """Return unplaced referrals counted by county, service and reason, aggregated in SQL."""
    q = _Unplaced()
    unplaced = q.select(Member.county, Referral.service_key, Referral.received_date, q.reason.label("reason"),
                        county=county, with_reason=True).subquery("unplaced")
    stmt = (
        sa.select(
            unplaced.c.county, unplaced.c.service_key, unplaced.c.reason,
            sa.func.count().label("referrals"), sa.func.min(unplaced.c.received_date).label("oldest"),
        )
        .group_by(unplaced.c.county, unplaced.c.service_key, unplaced.c.reason)
        .order_by(sa.func.count().desc(), unplaced.c.county, unplaced.c.service_key, unplaced.c.reason)
    )
    return [
        NetworkGap(county=r.county, service_key=r.service_key, reason=r.reason, referrals=int(r.referrals),
                   oldest_received=r.oldest)
        for r in session.execute(stmt)
    ]


def may_queue(contract: Contract, on_date: dt.date) -> bool:
    """Return whether the contract may hold a waitlist on ``on_date``: only with the plan's recorded
    consent, from its date (7003 VI.E.5)."""
    if not contract.waitlist_consent:
        return False
    return contract.waitlist_consent_date is None or contract.waitlist_consent_date <= on_date


def ensure_may_queue(
    session: Session, contract_id: str, on_date: dt.date, *, referral_id: str | None = None
) -> Contract:
    """Return the contract if a referral may wait in its queue; otherwise refuse (7003 VI.E.5).

    :raise UnknownContract: if no contract has that id.
    :raise WaitlistNotAllowed: if the contract has no recorded consent on ``on_date``.
    """
    contract = session.get(Contract, contract_id)
    if contract is None:
        raise UnknownContract(contract_id)
    if not may_queue(contract, on_date):
        consent_from = contract.waitlist_consent_date if contract.waitlist_consent else None
        raise WaitlistNotAllowed(contract_id, referral_id, consent_from=consent_from)
    return contract


def _next_id(session: Session, previous_id: str) -> str:
    prefix = f"{previous_id}-"
    taken = session.scalar(
        sa.select(sa.func.count()).select_from(Referral).where(Referral.id.startswith(prefix, autoescape=True))
    ) or 0
    return f"{prefix}{taken + 1}"


def refer_again(
    session: Session,
    previous: Referral,
    *,
    received_date: dt.date,
    actor: str,
    willing_to_engage: bool = False,
    new_id: str | None = None,
) -> Referral:
    """Refer a member again for the same service after a discontinued referral (7003 VI.C.5).

    A new referral is made (its clocks start on ``received_date``), with the previous one's needs,
    preferences and exclusions. When the member had declined or was unresponsive (codes 02, 03),
    the coordinator must confirm the member is now willing to engage (VI.C.5.a).

    :raise LifecycleError: if the previous referral is still open, or willingness is not confirmed.
    """
    if previous.status is not ReferralStatus.DISCONTINUED:
        raise LifecycleError(
            f"referral {previous.id!r} is {previous.status.value}: only a discontinued referral is referred again"
        )
    ended = next((c for c in reversed(previous.history) if c.to_status is ReferralStatus.DISCONTINUED), None)
    code = ended.reason_code if ended else None
    if code in _NEEDS_WILLINGNESS and not willing_to_engage:
        raise LifecycleError(
            f"referral {previous.id!r} ended with reason {code} ({DiscontinuationReason(code).description}): "
            "confirm the member is willing to engage before referring again (7003 VI.C.5.a)"
        )
    referral = Referral(
        id=new_id or _next_id(session, previous.id),
        member_id=previous.member_id, service_key=previous.service_key, source=previous.source,
        received_date=received_date, units_needed=previous.units_needed, status=ReferralStatus.RECEIVED,
        discharge_date=previous.discharge_date, discharge_from=previous.discharge_from,
        qualifying_condition=previous.qualifying_condition, ihss_status=previous.ihss_status,
        hours_per_day=previous.hours_per_day, housing_support_plan=previous.housing_support_plan,
        housing_nav_start=previous.housing_nav_start, documented_change=previous.documented_change,
        transferring_from_plan=previous.transferring_from_plan,
        notes=f"referred again after {previous.id} (7003 VI.C.5)",
    )
    referral.preferences = [ReferralPreference(rank=p.rank, provider_id=p.provider_id) for p in previous.preferences]
    referral.exclusions = [ReferralExclusion(provider_id=e.provider_id, reason=e.reason) for e in previous.exclusions]
    referral.history = [
        ReferralStatusChange(
            from_status=None, to_status=ReferralStatus.RECEIVED, on_date=received_date, actor=actor,
            reason=f"referred again after {previous.id}", reason_code=None,
        )
    ]
    session.add(referral)
    session.flush()
    record_audit(
        session, actor=actor, action="referral.refer_again", entity_type="referral", entity_id=referral.id,
        details={"previous": previous.id, "previous_reason_code": code, "willing_to_engage": willing_to_engage,
                 "received_date": received_date.isoformat()},
    )
    return referral
