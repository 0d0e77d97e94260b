"""Eligibility gates and limits (7003 VI.F, VI.G.3): each tested exactly at its threshold and with a
missing value (boston-cas: "contains Roy (Happy Birthday!)")."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.orm import Session

from csmatch.models import Service
from matcher.reasons import UnplacedReason
from placement.models import AssignmentStatus
from referrals.eligibility import (
    INSTITUTIONS,
    GateCode,
    age_on,
    check_eligibility,
    continuity_of_care,
    day_habilitation_housing,
    deposit_after_navigation,
    ineligible_referrals,
    meals_need,
    medi_cal_eligible,
    once_plus_documented,
    personal_care_hours,
    personal_care_ihss,
    post_hospitalization_exit,
    respite_annual_limit,
    service_offered,
    sobering_age,
)
from referrals.lifecycle import transition
from referrals.models import Member, MemberPriorProvider, Referral, ReferralStatus
from tests.factories import ensure_service, make_assignment, make_contract, make_member, make_provider, make_referral

ON = dt.date(2026, 11, 25)


def referral(**kw: Any) -> Referral:
    """A transient referral: gates are plain functions of its fields."""
    values: dict[str, Any] = {"id": "R1", "service_key": "HOUSING_NAV", "units_needed": 1,
                              "received_date": dt.date(2026, 11, 2), "documented_change": False,
                              "housing_support_plan": False}
    values.update(kw)
    return Referral(**values)


def member(**kw: Any) -> Member:
    values: dict[str, Any] = {"cin": "91234567A", "dob": dt.date(1970, 5, 17), "homeless": False,
                              "eligibility_start": dt.date(2023, 1, 1), "eligibility_end": None}
    values.update(kw)
    return Member(**values)


# --- age: sobering centers only (7003 VI.F.9.g) ----------------------------------------------------


@pytest.mark.parametrize(
    ("dob", "passes"),
    [
        (dt.date(2008, 11, 25), True),  # 18th birthday today
        (dt.date(2008, 11, 26), False),  # 18 tomorrow
        (dt.date(1960, 1, 1), True),
    ],
)
def test_sobering_center_age_18_on_the_birthday(dob: dt.date, passes: bool) -> None:
    failure = sobering_age(member(dob=dob), ON)
    assert (failure is None) is passes
    if failure is not None:
        assert failure.code is GateCode.INELIGIBLE and "the member is 17" in failure.explanation


def test_sobering_center_age_with_no_date_of_birth() -> None:
    failure = sobering_age(member(dob=None), ON)
    assert failure is not None and failure.missing == "dob" and failure.policy == "7003 VI.F.9.g"


def test_leap_day_birthday_turns_over_on_march_first() -> None:
    assert age_on(dt.date(2008, 2, 29), dt.date(2026, 2, 28)) == 17
    assert age_on(dt.date(2008, 2, 29), dt.date(2026, 3, 1)) == 18


# --- respite: 336 hours per calendar year (7003 VI.F.7.f) ---------------------------------------------


@pytest.mark.parametrize(("used", "asked", "passes"), [(300, 36, True), (300, 37, False), (0, 336, True),
                                                        (0, 337, False), (336, 1, False)])
def test_respite_at_most_336_hours_a_year(used: int, asked: int, passes: bool) -> None:
    failure = respite_annual_limit(referral(service_key="RESPITE", units_needed=asked), used)
    assert (failure is None) is passes
    if failure is not None:
        assert failure.code is GateCode.LIMIT_REACHED and f"makes {used + asked}" in failure.explanation


def test_respite_hours_come_from_the_members_other_assignments_that_year(db_session: Session) -> None:
    person = make_member(db_session)
    contract = make_contract(db_session, make_provider(db_session), service="RESPITE", capacity=1000)
    for units, status, received in [
        (200, AssignmentStatus.ENDED, dt.date(2026, 2, 1)),  # used this year
        (100, AssignmentStatus.ACCEPTED, dt.date(2026, 6, 1)),  # held this year
        (300, AssignmentStatus.DECLINED, dt.date(2026, 7, 1)),  # never held: not counted
        (300, AssignmentStatus.ENDED, dt.date(2025, 6, 1)),  # last year
    ]:
        earlier = make_referral(db_session, person, service="RESPITE", units_needed=units, received_date=received)
        make_assignment(db_session, earlier, contract, status=status)
    exact = make_referral(db_session, person, service="RESPITE", units_needed=36, received_date=ON)
    make_assignment(db_session, exact, contract)  # its own proposal is not counted twice
    assert check_eligibility(db_session, exact, ON) == []
    over = make_referral(db_session, person, service="RESPITE", units_needed=1, received_date=ON)
    failures = check_eligibility(db_session, over, ON)
    # 200 + 100 + the 36 just proposed = 336 used; one more hour is over
    assert [(f.gate, f.code) for f in failures] == [("respite_annual_limit", GateCode.LIMIT_REACHED)]


# --- personal care: 4 h/day, 20 h/week, IHSS (7003 VI.F.8) --------------------------------------------


@pytest.mark.parametrize(
    ("per_day", "per_week", "code"),
    [(4.0, 20, None), (4.25, 20, GateCode.LIMIT_REACHED), (4.0, 21, GateCode.LIMIT_REACHED),
     (None, 20, GateCode.INELIGIBLE)],
)
def test_personal_care_four_hours_a_day_twenty_a_week(
    per_day: float | None, per_week: int, code: GateCode | None
) -> None:
    failure = personal_care_hours(referral(service_key="PERSONAL_CARE", hours_per_day=per_day, units_needed=per_week))
    assert (failure.code if failure else None) is code
    if per_day is None:
        assert failure is not None and failure.missing == "hours_per_day"


@pytest.mark.parametrize(
    ("status", "passes"),
    [("EXHAUSTED", True), ("WAITING", True), ("NOT_ELIGIBLE_NF_RISK", True), ("ACTIVE", False),
     ("NOT_REFERRED", False), (None, False)],
)
def test_personal_care_only_with_ihss_exhausted_pending_or_not_eligible(status: str | None, passes: bool) -> None:
    failure = personal_care_ihss(referral(service_key="PERSONAL_CARE", ihss_status=status))
    assert (failure is None) is passes
    if status is None:
        assert failure is not None and failure.missing == "ihss_status"
    elif not passes:
        assert failure is not None and "not used in lieu of IHSS" in failure.explanation


# --- housing deposits and tenancy: once, plus once with documentation (VI.F.2-3) ----------------------


@pytest.mark.parametrize(
    ("prior", "documented", "passes"),
    [(0, False, True), (1, True, True), (1, False, False), (2, True, False)],
)
@pytest.mark.parametrize("service", ["HOUSING_DEPOSIT", "HOUSING_TENANCY"])
def test_once_in_a_lifetime_plus_once_with_documentation(service: str, prior: int, documented: bool,
                                                         passes: bool) -> None:
    failure = once_plus_documented(referral(service_key=service, documented_change=documented), prior)
    assert (failure is None) is passes
    if failure is not None:
        assert failure.code is GateCode.LIMIT_REACHED
        assert failure.policy == ("7003 VI.F.2.a.1.a" if service == "HOUSING_DEPOSIT" else "7003 VI.F.3.b")


def test_earlier_use_is_an_authorized_referral_or_a_prior_provider(db_session: Session) -> None:
    person = make_member(db_session)
    earlier = make_referral(db_session, person, service="HOUSING_TENANCY", received_date=dt.date(2026, 1, 5))
    for status in [ReferralStatus.READY, ReferralStatus.PROPOSED, ReferralStatus.SENT, ReferralStatus.ACCEPTED,
                   ReferralStatus.ENGAGED, ReferralStatus.TAR_SUBMITTED, ReferralStatus.AUTHORIZED]:
        transition(db_session, earlier, status, actor="c", on_date=dt.date(2026, 2, 1))
    transition(db_session, earlier, ReferralStatus.DISCONTINUED, actor="c", on_date=dt.date(2026, 6, 1),
               reason_code="01")
    second = make_referral(db_session, person, service="HOUSING_TENANCY", received_date=ON)
    assert [f.gate for f in check_eligibility(db_session, second, ON)] == ["once_plus_documented"]
    second.documented_change = True
    assert check_eligibility(db_session, second, ON) == []
    # a prior provider from another plan is one more use
    provider = make_provider(db_session)
    db_session.add(MemberPriorProvider(member_id=person.id, provider_id=provider.id, service_key="HOUSING_TENANCY"))
    db_session.flush()
    assert [f.gate for f in check_eligibility(db_session, second, ON)] == ["once_plus_documented"]


# --- deposits after 30 days of navigation with a plan (VI.F.2.a.2) -------------------------------------


@pytest.mark.parametrize(
    ("nav_start", "plan", "passes", "missing"),
    [
        (ON - dt.timedelta(days=30), True, True, None),  # exactly 30 days
        (ON - dt.timedelta(days=29), True, False, None),
        (ON - dt.timedelta(days=90), True, True, None),  # 60 is not an upper bound
        (ON - dt.timedelta(days=30), False, False, "housing_support_plan"),
        (None, True, False, "housing_nav_start"),
    ],
)
def test_deposit_needs_thirty_days_of_navigation_and_a_plan(
    nav_start: dt.date | None, plan: bool, passes: bool, missing: str | None
) -> None:
    failure = deposit_after_navigation(
        referral(service_key="HOUSING_DEPOSIT", housing_nav_start=nav_start, housing_support_plan=plan), ON)
    assert (failure is None) is passes
    if failure is not None:
        assert failure.code is GateCode.INELIGIBLE and failure.missing == missing


# --- meals, post-hospitalization housing, day habilitation --------------------------------------------


@pytest.mark.parametrize(
    ("kw", "passes"),
    [({"discharge_date": dt.date(2026, 11, 20)}, True), ({"discharge_from": "NURSING_FACILITY"}, True),
     ({"qualifying_condition": "CHF"}, True), ({}, False)],
)
def test_meals_after_discharge_or_with_a_chronic_condition(kw: dict[str, Any], passes: bool) -> None:
    assert (meals_need(referral(service_key="MEALS", **kw)) is None) is passes


@pytest.mark.parametrize(("discharge_from", "passes"), [*[(i, True) for i in sorted(INSTITUTIONS)],
                                                        ("HOME", False), (None, False)])
def test_post_hospitalization_housing_only_when_exiting_an_institution(discharge_from: str | None,
                                                                       passes: bool) -> None:
    failure = post_hospitalization_exit(referral(service_key="POST_HOSP_HOUSING", discharge_from=discharge_from))
    assert (failure is None) is passes
    if discharge_from is None:
        assert failure is not None and failure.missing == "discharge_from"


@pytest.mark.parametrize(
    ("homeless", "situation", "passes"),
    [(True, None, True), (False, "HOUSED_WITHIN_24_MONTHS", True), (False, "AT_RISK_HOMELESSNESS", True),
     (False, "AT_RISK_INSTITUTIONALIZATION", True), (False, None, False), (False, "STABLY_HOUSED", False)],
)
def test_day_habilitation_housing_situation(homeless: bool, situation: str | None, passes: bool) -> None:
    failure = day_habilitation_housing(referral(service_key="DAY_HAB", qualifying_condition=situation),
                                       member(homeless=homeless))
    assert (failure is None) is passes


# --- offered on the date, Medi-Cal on the date, continuity (VI.A, VI.D.1.e, VI.G.3) --------------------


@pytest.mark.parametrize(
    ("on", "until", "transferring", "code"),
    [
        (dt.date(2024, 7, 1), None, None, None),  # the first day
        (dt.date(2024, 6, 30), None, None, GateCode.NOT_OFFERED),
        (dt.date(2026, 12, 31), dt.date(2026, 12, 31), None, None),  # the last day
        (dt.date(2027, 1, 1), dt.date(2026, 12, 31), None, GateCode.NOT_OFFERED),
        # a transferring member's prior authorization is honoured six months from the referral
        (dt.date(2027, 5, 2), dt.date(2026, 12, 31), "Anthem Blue Cross", None),
        (dt.date(2027, 5, 3), dt.date(2026, 12, 31), "Anthem Blue Cross", GateCode.NOT_OFFERED),
    ],
)
def test_service_offered_on_the_date(on: dt.date, until: dt.date | None, transferring: str | None,
                                     code: GateCode | None) -> None:
    service = Service(key="SOBERING", name="Sobering Centers", offered_from=dt.date(2024, 7, 1), offered_until=until,
                      capacity_unit="BED", care_setting="PROVIDER_SITE")
    failure = service_offered(referral(service_key="SOBERING", received_date=dt.date(2026, 11, 2),
                                       transferring_from_plan=transferring), service, on)
    assert (failure.code if failure else None) is code


@pytest.mark.parametrize(("on", "passes"), [(dt.date(2026, 11, 30), True), (dt.date(2026, 12, 1), False),
                                            (dt.date(2022, 12, 31), False)])
def test_medi_cal_eligible_on_the_date(on: dt.date, passes: bool) -> None:
    failure = medi_cal_eligible(member(eligibility_start=dt.date(2023, 1, 1), eligibility_end=dt.date(2026, 11, 30)),
                                on)
    assert (failure is None) is passes


def test_continuity_keeps_the_service_and_offers_the_prior_provider(db_session: Session) -> None:
    person = make_member(db_session)
    provider = make_provider(db_session)
    ensure_service(db_session, "RECUPERATIVE_CARE")
    db_session.add(MemberPriorProvider(member_id=person.id, provider_id=provider.id, service_key="RECUPERATIVE_CARE"))
    moving = make_referral(db_session, person, service="RECUPERATIVE_CARE", transferring_from_plan="Health Net")
    kept = continuity_of_care(db_session, moving)
    assert kept.transferring and kept.keeps_service and kept.honoured_until is None
    assert kept.prior_provider_ids == (provider.id,)
    staying = continuity_of_care(db_session, make_referral(db_session, make_member(db_session)))
    assert not staying.transferring and not staying.keeps_service and staying.prior_provider_ids == ()


# --- all gates together, and the matcher's hook --------------------------------------------------------


def test_check_eligibility_collects_every_failure(db_session: Session) -> None:
    minor = make_member(db_session, dob=dt.date(2010, 1, 1), eligibility_end=dt.date(2026, 10, 31))
    sobering = make_referral(db_session, minor, service="SOBERING")
    failures = check_eligibility(db_session, sobering, ON)
    assert [(f.gate, f.code) for f in failures] == [("medi_cal_eligible", GateCode.INELIGIBLE),
                                                    ("sobering_age", GateCode.INELIGIBLE)]


def test_ineligible_referrals_gives_the_matcher_reason_and_explanation(db_session: Session) -> None:
    adult, minor = make_member(db_session), make_member(db_session, dob=dt.date(2010, 1, 1))
    ok = make_referral(db_session, adult, service="SOBERING")
    young = make_referral(db_session, minor, service="SOBERING")
    capped = make_referral(db_session, adult, service="PERSONAL_CARE", hours_per_day=5.0, ihss_status="WAITING")
    found = ineligible_referrals(db_session, [(r, r.member) for r in (ok, young, capped)], ON)
    assert set(found) == {young.id, capped.id}
    assert found[young.id][0] is UnplacedReason.INELIGIBLE and "(7003 VI.F.9.g)" in found[young.id][1]
    assert found[capped.id][0] is UnplacedReason.LIMIT_REACHED
