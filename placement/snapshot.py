"""Read the database into the matcher's plain problem objects (one direction only).

The adapter decides what a solve sees: which referrals are open and movable, how many units each
contract and site still has once the referrals *outside* the solve keep theirs, which providers
reported full. Accepted referrals are never in a solve: their units are simply not available
(an accepted referral is never moved by a re-solve). Demographics are never read here: the
``member_demographics`` table is not even joined (7003 VI.B.4).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from capacity.ledger import capacity_positions
from capacity.models import Contract, ContractCounty, ContractSite
from csmatch.calendar import CalendarRangeError, HolidayCalendar, default_calendar, span_covers
from csmatch.models import Service
from geo.standards import travel_standard
from matcher.data import ContractPool, MatchData, ReferralDemand, ServiceSite
from matcher.reasons import UnplacedReason
from placement.models import ACTIVE_ASSIGNMENT_STATUSES, Assignment, AssignmentStatus
from providers.models import Provider, ProviderSite
from referrals.eligibility import MemberFacts, ReferralFacts
from referrals.models import (
    Member,
    MemberPriorProvider,
    Referral,
    ReferralExclusion,
    ReferralPreference,
    ReferralStatus,
)

# Open referrals a solve may place or move; ACCEPTED and later are locked, INFO_REQUESTED waits
# for the referring party (7003 VI.C.6).
MATCHABLE_STATUSES = (
    ReferralStatus.RECEIVED,
    ReferralStatus.READY,
    ReferralStatus.PROPOSED,
    ReferralStatus.SENT,
    ReferralStatus.DECLINED,
    ReferralStatus.UNPLACED,
)

# The eligibility gate hook: given the session, the (referral, member) rows and the date, return
# the referrals that fail a gate or limit with the reason. ``referrals.eligibility`` provides the real one.
EligibilityCheck = Callable[
    [Session, Sequence[tuple[ReferralFacts, MemberFacts]], dt.date], dict[str, tuple[UnplacedReason, str]]
]


class OpenReferral(NamedTuple):
    """The columns of an open referral a solve and its eligibility gates read (a plain row, no ORM)."""

    id: str
    member_id: int
    service_key: str
    status: ReferralStatus
    received_date: dt.date
    units_needed: int
    discharge_date: dt.date | None
    discharge_from: str | None
    qualifying_condition: str | None
    ihss_status: str | None
    hours_per_day: float | None
    housing_support_plan: bool
    housing_nav_start: dt.date | None
    documented_change: bool
    transferring_from_plan: str | None


class MemberRow(NamedTuple):
    """The columns of a member a solve reads: place, languages, culture; the gates' dates and flags.

    Demographics (race/ethnicity, sex) live in another table that is never read here; the date of
    birth is read for the age gates only and never reaches the matcher (7003 VI.B.4).
    """

    id: int
    cin: str
    dob: dt.date
    homeless: bool
    county: str
    latitude: float
    longitude: float
    spoken_languages: tuple[str, ...]
    required_language: str | None
    cultural_preferences: tuple[str, ...]
    eligibility_start: dt.date
    eligibility_end: dt.date | None

    def is_eligible_on(self, on: dt.date) -> bool:
        return span_covers(self.eligibility_start, self.eligibility_end, on)


_LIST_COLUMNS = ("spoken_languages", "cultural_preferences")
_REFERRAL_COLUMNS = [getattr(Referral, name) for name in OpenReferral._fields]
# The JSON lists are read as text and decoded by :func:`_words`.
_MEMBER_COLUMNS = [sa.type_coerce(getattr(Member, name), sa.String).label(name) if name in _LIST_COLUMNS
                   else getattr(Member, name) for name in MemberRow._fields]
_LIST_POSITIONS = [MemberRow._fields.index(name) for name in _LIST_COLUMNS]


@functools.lru_cache(maxsize=4096)
def _decoded_words(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


def _words(value: object) -> tuple[str, ...]:
    """A JSON list column read raw. The same few lists recur on a quarter of a million members, so
    each distinct text is decoded once; PostgreSQL's driver hands over the list itself."""
    if isinstance(value, str):
        return _decoded_words(value)
    return tuple(value) if isinstance(value, list | tuple) else ()


def _member_row(values: Sequence[object]) -> MemberRow:
    fields = list(values)
    for i in _LIST_POSITIONS:
        fields[i] = _words(fields[i])
    return MemberRow._make(fields)


#: Rows fetched at a time from the big queries: the driver's buffer holds one chunk, not a quarter of
#: a million rows beside ours. (The resident peak did not measurably change with it: what the load
#: leaves behind is mostly freed-but-kept Python heap.)
STREAM_ROWS = 10_000


def pool_key(contract_id: str, site_id: str) -> str:
    """The matcher's leaf capacity pool: one site delivering one contract's service."""
    return f"{contract_id}@{site_id}"


def split_pool_key(key: str) -> tuple[str, str]:
    contract_id, _, site_id = key.partition("@")
    return contract_id, site_id


class HeldAssignment(NamedTuple):
    """The columns of an active assignment a solve needs (no ORM objects for thousands of rows)."""

    id: int
    referral_id: str
    provider_id: str
    site_id: str
    contract_id: str
    units: int
    status: AssignmentStatus


@dataclass(frozen=True)
class Scope:
    """Which referrals a solve covers: everything open, or one service in some counties."""

    service: str | None = None
    counties: frozenset[str] | None = None
    referral_ids: frozenset[str] | None = None

    def describe(self) -> str:
        parts = []
        if self.service:
            parts.append(self.service)
        if self.counties:
            parts.append(", ".join(sorted(self.counties)))
        if self.referral_ids is not None:
            parts.append(f"{len(self.referral_ids)} referrals")
        return " in ".join(parts) or "all open referrals"


@dataclass
class Snapshot:
    """The matcher's input plus what the writer needs to map the answer back."""

    data: MatchData
    on_date: dt.date
    current: dict[str, HeldAssignment]  # referral id -> its active (unaccepted) assignment
    referral_status: dict[str, ReferralStatus]
    ineligible: dict[str, tuple[UnplacedReason, str]] = field(default_factory=dict)
    full_contracts: frozenset[str] = frozenset()


def load_snapshot(
    session: Session,
    on_date: dt.date,
    *,
    scope: Scope | None = None,
    eligibility: EligibilityCheck | None = None,
    calendar: HolidayCalendar | None = None,
) -> Snapshot:
    """Build the matcher's :class:`MatchData` for the open referrals in ``scope`` on ``on_date``."""
    scope = scope or Scope()
    calendar = calendar or default_calendar()

    # Contracts in force for services offered that day (7003 VI.A: effective dates are data).
    contract_stmt = (
        sa.select(Contract, Service.site_based)
        .join(Service, Service.key == Contract.service_key)
        .options(selectinload(Contract.sites))
        .where(Contract.effective_start <= on_date,
               sa.or_(Contract.effective_end.is_(None), Contract.effective_end >= on_date),
               Service.offered_from <= on_date,
               sa.or_(Service.offered_until.is_(None), Service.offered_until >= on_date))
    )
    if scope.service:
        contract_stmt = contract_stmt.where(Contract.service_key == scope.service)
    contracts = {c.id: (c, site_based) for c, site_based in session.execute(contract_stmt)}
    counties: dict[str, set[str]] = defaultdict(set)
    county_stmt = sa.select(ContractCounty.contract_id, ContractCounty.county)
    if scope.service:
        county_stmt = county_stmt.join(Contract).where(Contract.service_key == scope.service)
    for contract_id, county in session.execute(county_stmt):
        if contract_id in contracts:
            counties[contract_id].add(county)
    # Effective capacity and full flags from the ledger (latest reports in effect on the day).
    positions = {p.contract_id: p for p in capacity_positions(session, effective_only=True, as_of=on_date,
                                                               service_key=scope.service, calendar=calendar)}
    full = {cid for cid, p in positions.items() if p.reported_full}

    # The referrals in the solve.
    # Plain column rows, not ORM entities: a statewide solve reads a quarter of a million of them.
    ref_stmt = (
        sa.select(*_REFERRAL_COLUMNS, *_MEMBER_COLUMNS)
        .join(Member, Member.id == Referral.member_id)
        .where(Referral.status.in_(MATCHABLE_STATUSES))
    )
    if scope.service:
        ref_stmt = ref_stmt.where(Referral.service_key == scope.service)
    if scope.counties is not None:
        ref_stmt = ref_stmt.where(Member.county.in_(sorted(scope.counties)))
    if scope.referral_ids is not None:
        ref_stmt = ref_stmt.where(Referral.id.in_(sorted(scope.referral_ids)))
    split = len(_REFERRAL_COLUMNS)
    # Core, not the ORM's row machinery: these are plain columns.
    rows: list[tuple[OpenReferral, MemberRow]] = [
        (OpenReferral._make(row[:split]), _member_row(row[split:]))
        for row in session.connection().execute(ref_stmt.order_by(Referral.id).execution_options(
            yield_per=STREAM_ROWS))
    ]
    in_scope = {r.id for r, _ in rows}

    # Units held by active assignments, split into those of referrals in the solve (movable: their
    # units are freed for it) and everyone else's (kept: not available to the solve).
    held_contract: dict[str, int] = defaultdict(int)
    held_site: dict[tuple[str, str], int] = defaultdict(int)
    current: dict[str, HeldAssignment] = {}
    active_stmt = sa.select(
        Assignment.id, Assignment.referral_id, Assignment.provider_id, Assignment.site_id, Assignment.contract_id,
        Assignment.units, Assignment.status,
    ).where(Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES))
    if scope.service:  # other services' assignments use other contracts: they cannot matter here
        active_stmt = active_stmt.where(Assignment.contract_id.in_(
            sa.select(Contract.id).where(Contract.service_key == scope.service)))
    active = [HeldAssignment(*row)
              for row in session.execute(active_stmt, execution_options={"yield_per": STREAM_ROWS})]
    locked: set[str] = set()
    for a in active:
        if a.referral_id in in_scope and a.status is not AssignmentStatus.ACCEPTED:
            current[a.referral_id] = a
            continue
        if a.status is AssignmentStatus.ACCEPTED:
            locked.add(a.referral_id)
        held_contract[a.contract_id] += a.units
        held_site[(a.contract_id, a.site_id)] += a.units
    # An accepted referral is never moved by a re-solve, whatever its status says.
    rows = [(r, m) for r, m in rows if r.id not in locked]

    providers = {p.id: p for p in session.scalars(
        sa.select(Provider).where(Provider.active).options(selectinload(Provider.sites)))}
    sites = {s.id: s for s in session.scalars(sa.select(ProviderSite))}
    pools: list[ContractPool] = []
    service_sites: list[ServiceSite] = []
    for contract_id, (contract, site_based) in sorted(contracts.items()):
        provider = providers.get(contract.provider_id)
        if provider is None:
            continue
        effective = positions[contract_id].capacity if contract_id in positions else contract.contracted_capacity
        remaining = max(0, effective - held_contract[contract_id])
        pools.append(ContractPool(contract_id, contract.provider_id, contract.service_key, remaining))
        contract_sites: list[ContractSite] = list(contract.sites)
        if not contract_sites and provider.sites:
            contract_sites = [ContractSite(contract_id=contract_id, site_id=provider.sites[0].id)]
        for cs in contract_sites:
            site = sites[cs.site_id]
            site_remaining = None
            if cs.site_capacity is not None:
                site_remaining = max(0, cs.site_capacity - held_site[(contract_id, cs.site_id)])
            service_sites.append(ServiceSite(
                site_id=pool_key(contract_id, cs.site_id), provider_id=contract.provider_id,
                service=contract.service_key, counties=frozenset(counties[contract_id]),
                latitude=site.latitude, longitude=site.longitude, contract_id=contract_id,
                site_based=bool(site_based), service_radius_miles=contract.service_radius_miles,
                languages=frozenset(provider.staff_languages),
                cultural_competencies=frozenset(provider.cultural_competencies),
                remaining_units=site_remaining, reported_full=contract_id in full,
            ))

    # The referral ids of the solve as a subquery (no giant IN lists).
    scope_ids = ref_stmt.with_only_columns(Referral.id).order_by(None)
    preferences: dict[str, list[str]] = defaultdict(list)
    for rid, pid in session.execute(
        sa.select(ReferralPreference.referral_id, ReferralPreference.provider_id)
        .where(ReferralPreference.referral_id.in_(scope_ids))
        .order_by(ReferralPreference.referral_id, ReferralPreference.rank)
    ):
        preferences[rid].append(pid)
    exclusions: dict[str, set[str]] = defaultdict(set)
    for rid, pid in session.execute(
        sa.select(ReferralExclusion.referral_id, ReferralExclusion.provider_id)
        .where(ReferralExclusion.referral_id.in_(scope_ids))
    ):
        exclusions[rid].add(pid)
    prior: dict[tuple[int, str], set[str]] = defaultdict(set)
    prior_stmt = sa.select(MemberPriorProvider.member_id, MemberPriorProvider.provider_id,
                           MemberPriorProvider.service_key).where(
        MemberPriorProvider.member_id.in_(ref_stmt.with_only_columns(Referral.member_id).order_by(None)))
    for mid, pid, skey in session.execute(prior_stmt):
        prior[(mid, skey)].add(pid)

    ineligible = eligibility(session, rows, on_date) if eligibility else {}
    standards: dict[str, float | None] = {}
    demands: list[ReferralDemand] = []
    waits: dict[dt.date, int] = {}
    # One object for each repeated value, not one per referral (a quarter of a million at state
    # scale): the pool keys, counties, services, and the empty sets most referrals have.
    pool_of = {(s.contract_id, split_pool_key(s.site_id)[1]): s.site_id for s in service_sites}
    nobody: frozenset[str] = frozenset()
    for referral, member in rows:
        held = current.get(referral.id)
        current_site = pool_of.get((held.contract_id, held.site_id)) if held is not None else None
        if member.county not in standards:
            try:
                standards[member.county] = travel_standard(member.county).miles
            except ValueError:
                standards[member.county] = None
        waited = waits.get(referral.received_date, -1)
        if waited < 0:  # a few hundred distinct dates among a quarter of a million referrals
            try:
                waited = max(0, calendar.business_days_between(referral.received_date, on_date))
            except CalendarRangeError:
                waited = max(0, (on_date - referral.received_date).days * 5 // 7)
            waits[referral.received_date] = waited
        gate = ineligible.get(referral.id)
        demands.append(ReferralDemand(
            referral_id=referral.id, service=sys.intern(referral.service_key), units=referral.units_needed,
            county=sys.intern(member.county), latitude=member.latitude, longitude=member.longitude,
            required_language=member.required_language, languages=member.spoken_languages,
            cultural_preferences=member.cultural_preferences,
            preferred_providers=tuple(dict.fromkeys(preferences.get(referral.id, ()))),
            excluded_providers=frozenset(exclusions[referral.id]) if referral.id in exclusions else nobody,
            prior_providers=frozenset(prior[key]) if (key := (member.id, referral.service_key)) in prior else nobody,
            post_discharge=referral.discharge_date is not None and referral.discharge_date <= on_date,
            business_days_waited=waited,
            ineligible_reason=gate[0] if gate else None,
            current_site=current_site,
            max_travel_miles=standards[member.county],
        ))
    data = MatchData(referrals=tuple(demands), sites=tuple(service_sites), contracts=tuple(pools))
    return Snapshot(data=data, on_date=on_date, current=current,
                    referral_status={r.id: r.status for r, _ in rows}, ineligible=ineligible,
                    full_contracts=frozenset(full))

