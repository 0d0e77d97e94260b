"""Eligibility gates and service limits of MCAP7003, one named function per rule.

Each gate returns None when the referral passes, else a :class:`GateFailure` with a code, the
policy section and a sentence a coordinator can read to the member. The codes match the matcher's
``UnplacedReason`` where it has them (``INELIGIBLE``, ``LIMIT_REACHED``), plus ``NOT_OFFERED``.
A gate whose input is missing fails with ``INELIGIBLE`` and names the field in ``missing``: a
referral lacking what a gate needs goes back for information (7003 VI.C.6), it is not waved through.

Gates run before matching: the matcher never sees age, IHSS status or usage, only which referrals
may be placed. :func:`check_eligibility` runs every gate for one referral;
:func:`check_eligibility_many` does the same for many with two aggregate queries in all.

Recorded values the gates read (``referrals.models.Referral``):

``ihss_status`` (personal care, 7003 VI.F.8)
    ``EXHAUSTED`` IHSS hours used up and more are needed (a); ``WAITING`` referred to IHSS and
    waiting (b); ``NOT_ELIGIBLE_NF_RISK`` not eligible for IHSS, to avoid a nursing-facility stay of
    at most 60 days (c). Anything else (``ACTIVE`` IHSS hours available, ``NOT_REFERRED``) fails:
    the service is never used in lieu of referring to IHSS (f).
``discharge_from`` (post-hospitalization housing VI.F.4, meals VI.F.6.a)
    ``INPATIENT_HOSPITAL`` (acute, psychiatric or chemical dependency and recovery hospital),
    ``RESIDENTIAL_SUD``, ``RESIDENTIAL_MH``, ``CORRECTIONAL``, ``NURSING_FACILITY``.
``qualifying_condition``
    For meals (VI.F.6.c.1) a chronic condition: ``DIABETES``, ``CARDIOVASCULAR``, ``CHF``,
    ``STROKE``, ``CHRONIC_LUNG``, ``HIV``, ``CANCER``, ``BEHAVIORAL_HEALTH`` (the policy's list is
    "not limited to", so any recorded condition passes). For day habilitation (VI.F.10.d) the
    housing situation when the member is not homeless: ``HOUSED_WITHIN_24_MONTHS``,
    ``AT_RISK_HOMELESSNESS``, ``AT_RISK_INSTITUTIONALIZATION``.
``hours_per_day`` and ``units_needed``
    Personal care hours a day, and hours a week (the service's capacity unit); respite hours.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from csmatch.models import Service
from placement.models import ACTIVE_ASSIGNMENT_STATUSES, Assignment, AssignmentStatus
from referrals.models import Member, MemberPriorProvider, Referral, ReferralStatus, ReferralStatusChange

if TYPE_CHECKING:
    from matcher.reasons import UnplacedReason

__all__ = [
    "CHRONIC_CONDITIONS",
    "DAY_HAB_HOUSING_SITUATIONS",
    "IHSS_QUALIFYING",
    "INSTITUTIONS",
    "Continuity",
    "GateCode",
    "GateFailure",
    "UsageFacts",
    "age_on",
    "check_eligibility",
    "check_eligibility_many",
    "check_eligibility_rows",
    "continuity_of_care",
    "day_habilitation_housing",
    "ineligible_referrals",
    "deposit_after_navigation",
    "medi_cal_eligible",
    "meals_need",
    "once_plus_documented",
    "personal_care_hours",
    "personal_care_ihss",
    "post_hospitalization_exit",
    "respite_annual_limit",
    "service_offered",
    "sobering_age",
]

SOBERING_MIN_AGE = 18  # 7003 VI.F.9.g
RESPITE_HOURS_PER_YEAR = 336  # 7003 VI.F.7.f
PERSONAL_CARE_HOURS_PER_DAY = 4  # 7003 VI.F.8.g
PERSONAL_CARE_HOURS_PER_WEEK = 20  # 7003 VI.F.8.g
DEPOSIT_MIN_NAVIGATION_DAYS = 30  # 7003 VI.F.2.a.2: "a minimum of 30 to 60 days": at least 30
CONTINUITY_MONTHS = 6  # 7003 VI.G.3.e

IHSS_QUALIFYING = {
    "EXHAUSTED": "IHSS hours exhausted and more are needed (7003 VI.F.8.a)",
    "WAITING": "referred to IHSS and waiting (7003 VI.F.8.b)",
    "NOT_ELIGIBLE_NF_RISK": (
        "not eligible for IHSS, to avoid a nursing-facility stay of at most 60 days (7003 VI.F.8.c)"
    ),
}
INSTITUTIONS = frozenset(
    {"INPATIENT_HOSPITAL", "RESIDENTIAL_SUD", "RESIDENTIAL_MH", "CORRECTIONAL", "NURSING_FACILITY"}
)
CHRONIC_CONDITIONS = frozenset(
    {"DIABETES", "CARDIOVASCULAR", "CHF", "STROKE", "CHRONIC_LUNG", "HIV", "CANCER", "BEHAVIORAL_HEALTH"}
)
DAY_HAB_HOUSING_SITUATIONS = frozenset(
    {"HOUSED_WITHIN_24_MONTHS", "AT_RISK_HOMELESSNESS", "AT_RISK_INSTITUTIONALIZATION"}
)
# Services available once in a lifetime plus once more with documentation of what changed.
ONCE_PLUS_ONE = frozenset({"HOUSING_DEPOSIT", "HOUSING_TENANCY"})
# A referral that reached one of these has used the service.
_USED_STATUSES = (ReferralStatus.AUTHORIZED, ReferralStatus.IN_SERVICE)
# Assignments whose units count against the respite limit: held now, or delivered.
_RESPITE_COUNTED = (*ACTIVE_ASSIGNMENT_STATUSES, AssignmentStatus.ENDED)


class GateCode(StrEnum):
    """Why a gate refuses a referral; values shared with ``matcher.reasons.UnplacedReason``."""

    INELIGIBLE = "INELIGIBLE"
    LIMIT_REACHED = "LIMIT_REACHED"
    NOT_OFFERED = "NOT_OFFERED"


@dataclass(frozen=True)
class GateFailure:
    """A gate's refusal: which gate, the code, the section, a sentence, and the missing field if any."""

    gate: str
    code: GateCode
    policy: str
    explanation: str
    missing: str | None = None


@dataclass(frozen=True)
class UsageFacts:
    """What the database says about a member's past use, for the limit gates.

    ``respite_hours`` maps a calendar year to the hours already committed or used that year by the
    member's *other* respite referrals; ``prior_uses`` counts earlier uses of this referral's
    service (other referrals that reached AUTHORIZED, plus a prior provider on record).
    """

    respite_hours: dict[int, int] = field(default_factory=dict)
    prior_uses: int = 0


@dataclass(frozen=True)
class Continuity:
    """Continuity of care for a member transferring from another plan (7003 VI.G.3).

    ``keeps_service``: authorized automatically for a service the plan offers (VI.G.3);
    ``honoured_until``: the end of the six-month span for a service the plan does not offer
    (VI.G.3.e); ``prior_provider_ids``: providers to keep where possible (VI.G.3.c), for the
    matcher's continuity preference.
    """

    transferring: bool
    keeps_service: bool
    honoured_until: dt.date | None
    prior_provider_ids: tuple[str, ...]


class ServiceFacts(Protocol):
    """What the gates read of a service: its name and the dates the plan offers it."""

    @property
    def name(self) -> str: ...
    @property
    def offered_from(self) -> dt.date: ...
    @property
    def offered_until(self) -> dt.date | None: ...


class MemberFacts(Protocol):
    """What the gates read of a member: an ORM ``Member`` or a snapshot's plain row.

    Gates take these protocols, not the ORM classes, so a statewide solve can run them over plain
    rows read with one column select (no ORM identity map for a quarter of a million members).
    """

    @property
    def cin(self) -> str: ...
    @property
    def dob(self) -> dt.date: ...
    @property
    def homeless(self) -> bool: ...
    def is_eligible_on(self, on: dt.date) -> bool: ...


class ReferralFacts(Protocol):
    """What the gates read of a referral (an ORM ``Referral`` or a snapshot's plain row)."""

    @property
    def id(self) -> str: ...
    @property
    def member_id(self) -> int: ...
    @property
    def service_key(self) -> str: ...
    @property
    def received_date(self) -> dt.date: ...
    @property
    def units_needed(self) -> int: ...
    @property
    def discharge_date(self) -> dt.date | None: ...
    @property
    def discharge_from(self) -> str | None: ...
    @property
    def qualifying_condition(self) -> str | None: ...
    @property
    def ihss_status(self) -> str | None: ...
    @property
    def hours_per_day(self) -> float | None: ...
    @property
    def housing_support_plan(self) -> bool: ...
    @property
    def housing_nav_start(self) -> dt.date | None: ...
    @property
    def documented_change(self) -> bool: ...
    @property
    def transferring_from_plan(self) -> str | None: ...


def age_on(dob: dt.date, on: dt.date) -> int:
    """Return the age in whole years on ``on``; a birthday on that day counts (Feb 29 turns on Mar 1).

    >>> age_on(dt.date(2008, 11, 25), dt.date(2026, 11, 25))
    18
    >>> age_on(dt.date(2008, 2, 29), dt.date(2026, 2, 28))
    17
    """
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def _add_months(d: dt.date, months: int) -> dt.date:
    month = d.month - 1 + months
    year, month = d.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(d.day, _calendar.monthrange(year, month)[1]))


def _is_offered(service: ServiceFacts, on: dt.date) -> bool:
    return service.offered_from <= on and (service.offered_until is None or on <= service.offered_until)


# --- gates ---------------------------------------------------------------------------------------


def service_offered(referral: ReferralFacts, service: ServiceFacts, on_date: dt.date) -> GateFailure | None:
    """The plan offers the service on that date (7003 VI.A, VI.F; catalogue dates are data).

    A member transferring from another plan with a prior authorization keeps a service the plan
    does not offer for six months from the referral (7003 VI.G.3.e).
    """
    if _is_offered(service, on_date):
        return None
    if referral.transferring_from_plan and on_date <= _add_months(referral.received_date, CONTINUITY_MONTHS):
        return None
    until = f" until {service.offered_until.isoformat()}" if service.offered_until else ""
    return GateFailure(
        "service_offered", GateCode.NOT_OFFERED, "7003 VI.A",
        f"{service.name} is offered from {service.offered_from.isoformat()}{until}, not on {on_date.isoformat()}",
    )


def medi_cal_eligible(member: MemberFacts, on_date: dt.date) -> GateFailure | None:
    """The member has Partnership Medi-Cal eligibility on that date (7003 VI.D.1.e)."""
    if member.is_eligible_on(on_date):
        return None
    return GateFailure(
        "medi_cal_eligible", GateCode.INELIGIBLE, "7003 VI.D.1.e",
        f"member {member.cin} is not Medi-Cal eligible on {on_date.isoformat()}",
    )


def sobering_age(member: MemberFacts, on_date: dt.date) -> GateFailure | None:
    """Sobering centers serve members 18 and older (7003 VI.F.9.g); the only place age is read."""
    if member.dob is None:
        return GateFailure(
            "sobering_age", GateCode.INELIGIBLE, "7003 VI.F.9.g",
            "date of birth not recorded: sobering centers serve members 18 and older", missing="dob",
        )
    age = age_on(member.dob, on_date)
    if age >= SOBERING_MIN_AGE:
        return None
    return GateFailure(
        "sobering_age", GateCode.INELIGIBLE, "7003 VI.F.9.g",
        f"sobering centers serve members {SOBERING_MIN_AGE} and older; the member is {age}",
    )


def respite_annual_limit(referral: ReferralFacts, hours_used: int) -> GateFailure | None:
    """At most 336 respite hours per member per calendar year (7003 VI.F.7.f).

    ``hours_used``: hours of the member's other respite referrals that year; this referral's
    ``units_needed`` (hours) are added to them.
    """
    total = hours_used + referral.units_needed
    if total <= RESPITE_HOURS_PER_YEAR:
        return None
    return GateFailure(
        "respite_annual_limit", GateCode.LIMIT_REACHED, "7003 VI.F.7.f",
        f"{hours_used} respite hours already used or committed this year plus {referral.units_needed} asked "
        f"makes {total}, over the {RESPITE_HOURS_PER_YEAR}-hour yearly limit",
    )


def personal_care_hours(referral: ReferralFacts) -> GateFailure | None:
    """Personal care and homemaker: at most 4 hours a day and 20 hours a week (7003 VI.F.8.g).

    ``hours_per_day`` must be recorded; ``units_needed`` is hours a week.
    """
    if referral.hours_per_day is None:
        return GateFailure(
            "personal_care_hours", GateCode.INELIGIBLE, "7003 VI.F.8.g",
            "hours per day not recorded: personal care is limited to 4 hours a day", missing="hours_per_day",
        )
    if referral.hours_per_day > PERSONAL_CARE_HOURS_PER_DAY:
        return GateFailure(
            "personal_care_hours", GateCode.LIMIT_REACHED, "7003 VI.F.8.g",
            f"{referral.hours_per_day:g} hours a day asked; personal care is limited to "
            f"{PERSONAL_CARE_HOURS_PER_DAY} hours a day",
        )
    if referral.units_needed > PERSONAL_CARE_HOURS_PER_WEEK:
        return GateFailure(
            "personal_care_hours", GateCode.LIMIT_REACHED, "7003 VI.F.8.g",
            f"{referral.units_needed} hours a week asked; personal care is limited to "
            f"{PERSONAL_CARE_HOURS_PER_WEEK} hours a week",
        )
    return None


def personal_care_ihss(referral: ReferralFacts) -> GateFailure | None:
    """Personal care only above exhausted IHSS hours, during an IHSS wait, or to avoid a short
    nursing-facility stay for a member not eligible for IHSS (7003 VI.F.8.a-c, f)."""
    status = referral.ihss_status
    if status in IHSS_QUALIFYING:
        return None
    if status is None:
        return GateFailure(
            "personal_care_ihss", GateCode.INELIGIBLE, "7003 VI.F.8",
            "IHSS status not recorded: personal care needs exhausted IHSS hours, a pending IHSS referral, "
            "or IHSS ineligibility with a nursing-facility stay to avoid", missing="ihss_status",
        )
    return GateFailure(
        "personal_care_ihss", GateCode.INELIGIBLE, "7003 VI.F.8.f",
        f"IHSS status {status!r}: personal care is not used in lieu of IHSS (needs one of "
        f"{', '.join(IHSS_QUALIFYING)})",
    )


def once_plus_documented(referral: ReferralFacts, prior_uses: int) -> GateFailure | None:
    """Housing deposits and tenancy sustaining: once in a lifetime, plus once more with documentation
    of what changed (7003 VI.F.2.a.1.a, VI.F.3.b)."""
    policy = "7003 VI.F.2.a.1.a" if referral.service_key == "HOUSING_DEPOSIT" else "7003 VI.F.3.b"
    if prior_uses == 0 or (prior_uses == 1 and referral.documented_change):
        return None
    if prior_uses == 1:
        return GateFailure(
            "once_plus_documented", GateCode.LIMIT_REACHED, policy,
            "already used once: a second time needs documentation of what changed",
        )
    return GateFailure(
        "once_plus_documented", GateCode.LIMIT_REACHED, policy,
        f"already used {prior_uses} times: the service is allowed once, plus once more with documentation",
    )


def deposit_after_navigation(referral: ReferralFacts, on_date: dt.date) -> GateFailure | None:
    """Housing deposits need at least 30 days in Housing Transition Navigation and a housing support
    plan (7003 VI.F.2.a.2; "a minimum of 30 to 60 days" read as at least 30)."""
    policy = "7003 VI.F.2.a.2"
    if referral.housing_nav_start is None:
        return GateFailure(
            "deposit_after_navigation", GateCode.INELIGIBLE, policy,
            "housing navigation start not recorded: deposits need 30 days of housing navigation",
            missing="housing_nav_start",
        )
    days = (on_date - referral.housing_nav_start).days
    if days < DEPOSIT_MIN_NAVIGATION_DAYS:
        return GateFailure(
            "deposit_after_navigation", GateCode.INELIGIBLE, policy,
            f"{days} days in housing navigation; deposits need at least {DEPOSIT_MIN_NAVIGATION_DAYS}",
        )
    if not referral.housing_support_plan:
        return GateFailure(
            "deposit_after_navigation", GateCode.INELIGIBLE, policy, "no housing support plan on record",
            missing="housing_support_plan",
        )
    return None


def meals_need(referral: ReferralFacts) -> GateFailure | None:
    """Meals follow a discharge from hospital or nursing home, or meet a chronic condition
    (7003 VI.F.6.a-c)."""
    if referral.discharge_date is not None or referral.discharge_from or referral.qualifying_condition:
        return None
    return GateFailure(
        "meals_need", GateCode.INELIGIBLE, "7003 VI.F.6",
        "meals need a recent discharge or a chronic condition; neither is recorded",
        missing="discharge_date or qualifying_condition",
    )


def post_hospitalization_exit(referral: ReferralFacts) -> GateFailure | None:
    """Short-term post-hospitalization housing is for members exiting an institution (7003 VI.F.4.a)."""
    if referral.discharge_from in INSTITUTIONS:
        return None
    if referral.discharge_from is None:
        return GateFailure(
            "post_hospitalization_exit", GateCode.INELIGIBLE, "7003 VI.F.4.a",
            "no institution recorded: the service is for members exiting an inpatient, residential, "
            "correctional or nursing facility", missing="discharge_from",
        )
    return GateFailure(
        "post_hospitalization_exit", GateCode.INELIGIBLE, "7003 VI.F.4.a",
        f"{referral.discharge_from!r} is not one of {', '.join(sorted(INSTITUTIONS))}",
    )


def day_habilitation_housing(referral: ReferralFacts, member: MemberFacts) -> GateFailure | None:
    """Day habilitation: homeless, housed within the last 24 months, or at risk of homelessness or
    institutionalization (7003 VI.F.10.d)."""
    if member.homeless or referral.qualifying_condition in DAY_HAB_HOUSING_SITUATIONS:
        return None
    return GateFailure(
        "day_habilitation_housing", GateCode.INELIGIBLE, "7003 VI.F.10.d",
        "day habilitation is for members homeless, housed within the last 24 months, or at risk of "
        "homelessness or institutionalization; none is recorded",
        missing="qualifying_condition",
    )


# --- running the gates ---------------------------------------------------------------------------


def _gates(
    referral: ReferralFacts, member: MemberFacts, service: ServiceFacts, on_date: dt.date, usage: UsageFacts
) -> list[GateFailure]:
    checks: list[GateFailure | None] = [service_offered(referral, service, on_date), medi_cal_eligible(member, on_date)]
    key = referral.service_key
    if key == "SOBERING":
        checks.append(sobering_age(member, on_date))
    elif key == "RESPITE":
        checks.append(respite_annual_limit(referral, usage.respite_hours.get(on_date.year, 0)))
    elif key == "PERSONAL_CARE":
        checks += [personal_care_hours(referral), personal_care_ihss(referral)]
    elif key == "HOUSING_DEPOSIT":
        checks += [once_plus_documented(referral, usage.prior_uses), deposit_after_navigation(referral, on_date)]
    elif key == "HOUSING_TENANCY":
        checks.append(once_plus_documented(referral, usage.prior_uses))
    elif key == "MEALS":
        checks.append(meals_need(referral))
    elif key == "POST_HOSP_HOUSING":
        checks.append(post_hospitalization_exit(referral))
    elif key == "DAY_HAB":
        checks.append(day_habilitation_housing(referral, member))
    return [c for c in checks if c is not None]


def respite_hours_used(
    session: Session, member_ids: Iterable[int], *, exclude_referral_ids: Iterable[str] = ()
) -> dict[int, dict[int, int]]:
    """Return ``{member_id: {year: hours}}`` of respite held or used, by year of the referral's receipt.

    Counts the units (hours) of PROPOSED, SENT, ACCEPTED and ENDED respite assignments (7003 VI.F.7.f).
    """
    ids = list(set(member_ids))
    if not ids:
        return {}
    year = sa.extract("year", Referral.received_date)
    stmt = (
        sa.select(Referral.member_id, year.label("year"), sa.func.sum(Assignment.units))
        .join(Assignment, Assignment.referral_id == Referral.id)
        .where(
            Referral.member_id.in_(ids),
            Referral.service_key == "RESPITE",
            Assignment.status.in_(_RESPITE_COUNTED),
        )
        .group_by(Referral.member_id, year)
    )
    excluded = list(exclude_referral_ids)
    if excluded:
        stmt = stmt.where(Referral.id.not_in(excluded))
    used: dict[int, dict[int, int]] = defaultdict(dict)
    for member_id, y, hours in session.execute(stmt):
        used[member_id][int(y)] = int(hours or 0)
    return dict(used)


def prior_uses(
    session: Session, referrals: Sequence[ReferralFacts]
) -> dict[str, int]:
    """Return ``{referral_id: earlier uses of its service by the member}``.

    An earlier use is another referral of the member for the same service that reached AUTHORIZED
    or IN_SERVICE, and a prior provider of that service on record unless the member is transferring
    with it (that is the same episode, 7003 VI.G.3).
    """
    wanted = [r for r in referrals if r.service_key in ONCE_PLUS_ONE]
    if not wanted:
        return {}
    member_ids = list({r.member_id for r in wanted})
    used_by: dict[tuple[int, str], set[str]] = defaultdict(set)
    stmt = (
        sa.select(Referral.member_id, Referral.service_key, Referral.id)
        .join(ReferralStatusChange, ReferralStatusChange.referral_id == Referral.id)
        .where(
            Referral.member_id.in_(member_ids),
            Referral.service_key.in_(sorted(ONCE_PLUS_ONE)),
            ReferralStatusChange.to_status.in_(_USED_STATUSES),
        )
        .distinct()
    )
    for member_id, service_key, referral_id in session.execute(stmt):
        used_by[(member_id, service_key)].add(referral_id)
    prior_provider = {
        (member_id, service_key)
        for member_id, service_key in session.execute(
            sa.select(MemberPriorProvider.member_id, MemberPriorProvider.service_key)
            .where(MemberPriorProvider.member_id.in_(member_ids))
            .distinct()
        )
    }
    result = {}
    for r in wanted:
        count = len(used_by[(r.member_id, r.service_key)] - {r.id})
        if (r.member_id, r.service_key) in prior_provider and not r.transferring_from_plan:
            count += 1
        result[r.id] = count
    return result


def check_eligibility_many(
    session: Session, referrals: Sequence[Referral], on_date: dt.date
) -> dict[str, list[GateFailure]]:
    """Run every applicable gate for each referral; ``{referral_id: failures}`` (empty list = eligible).

    A handful of queries whatever the number of referrals: members, services, and two aggregates
    (respite hours, earlier uses).
    """
    members: dict[int, Member] = {}
    member_ids = list({r.member_id for r in referrals})
    for chunk in range(0, len(member_ids), 5000):
        members.update((m.id, m) for m in session.scalars(
            sa.select(Member).where(Member.id.in_(member_ids[chunk:chunk + 5000]))))
    return check_eligibility_rows(session, [(r, members[r.member_id]) for r in referrals], on_date)


def check_eligibility_rows(
    session: Session, rows: Sequence[tuple[ReferralFacts, MemberFacts]], on_date: dt.date
) -> dict[str, list[GateFailure]]:
    """:func:`check_eligibility_many` over (referral, member) facts already read, e.g. a snapshot's rows."""
    referrals = [r for r, _ in rows]
    services = {s.key: s for s in session.scalars(
        sa.select(Service).where(Service.key.in_({r.service_key for r in referrals})))}
    respite = [r for r in referrals if r.service_key == "RESPITE"]
    hours = respite_hours_used(
        session, (r.member_id for r in respite), exclude_referral_ids=[r.id for r in respite]
    ) if respite else {}
    uses = prior_uses(session, referrals)
    no_hours: dict[int, int] = {}
    return {
        r.id: _gates(r, m, services[r.service_key], on_date,
                     UsageFacts(respite_hours=hours.get(r.member_id, no_hours), prior_uses=uses.get(r.id, 0)))
        for r, m in rows
    }


def check_eligibility(session: Session, referral: Referral, on_date: dt.date) -> list[GateFailure]:
    """Run every gate that applies to the referral's service; an empty list means eligible.

    The respite limit counts the member's other respite referrals received in ``on_date``'s year.
    """
    return check_eligibility_many(session, [referral], on_date)[referral.id]


def ineligible_referrals(
    session: Session, rows: Sequence[tuple[ReferralFacts, MemberFacts]], on_date: dt.date
) -> dict[str, tuple[UnplacedReason, str]]:
    """The matcher's eligibility hook (``placement.snapshot.EligibilityCheck``): the referrals that fail
    a gate, each with the matcher's reason and the first failure's explanation and section.

    ``NOT_OFFERED`` maps to the matcher's reason of that name when it has one, else ``INELIGIBLE``.
    """
    from matcher.reasons import UnplacedReason

    result: dict[str, tuple[UnplacedReason, str]] = {}
    for referral_id, failures in check_eligibility_rows(session, rows, on_date).items():
        if not failures:
            continue
        first = failures[0]
        try:
            reason = UnplacedReason(first.code.value)
        except ValueError:
            reason = UnplacedReason.INELIGIBLE
        result[referral_id] = (reason, f"{first.explanation} ({first.policy})")
    return result


def continuity_of_care(session: Session, referral: Referral) -> Continuity:
    """Continuity for a member transferring from another plan or fee-for-service (7003 VI.G.3).

    The member keeps a service the plan offers; for one it does not, a prior authorization is
    honoured for six months from the referral (VI.G.3.e); the previous providers of the service are
    returned so the matcher can keep one where possible (VI.G.3.c).
    """
    transferring = bool(referral.transferring_from_plan)
    providers = tuple(
        session.scalars(
            sa.select(MemberPriorProvider.provider_id)
            .where(
                MemberPriorProvider.member_id == referral.member_id,
                MemberPriorProvider.service_key == referral.service_key,
            )
            .order_by(MemberPriorProvider.provider_id)
        )
    )
    offered = _is_offered(referral.service, referral.received_date)
    return Continuity(
        transferring=transferring,
        keeps_service=transferring and offered,
        honoured_until=_add_months(referral.received_date, CONTINUITY_MONTHS) if transferring and not offered else None,
        prior_provider_ids=providers,
    )
