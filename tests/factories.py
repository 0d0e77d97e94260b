"""Factories for test data: real county names and ZIP codes, small and explicit.

Each ``make_*`` adds to the session and flushes, and returns the model; keyword arguments override
the defaults.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy.orm import Session

from capacity.models import CapacityReport, CapacityReportKind, Contract, ContractCounty, ContractSite
from csmatch.models import Service
from placement.models import Assignment, AssignmentStatus
from providers.models import Provider, ProviderSite
from referrals.models import Member, MemberDemographics, Referral, ReferralPreference, ReferralSource

_ids = itertools.count(1)

# (service key, name, offered from, unit, site based)
SERVICES = {
    "HOUSING_NAV": ("Housing Transition Navigation", dt.date(2022, 1, 1), "caseload slots", False),
    "RECUPERATIVE_CARE": ("Recuperative Care (Medical Respite)", dt.date(2022, 1, 1), "beds", True),
    "MEALS": ("Meals / Medically Tailored Meals", dt.date(2022, 1, 1), "meals per week", False),
    "RESPITE": ("Respite Services", dt.date(2023, 1, 1), "hours", False),
    "PERSONAL_CARE": ("Personal Care and Homemaker", dt.date(2023, 1, 1), "hours per week", False),
    "SOBERING": ("Sobering Centers", dt.date(2024, 7, 1), "beds", True),
    "HOUSING_DEPOSIT": ("Housing Deposits", dt.date(2022, 1, 1), "members per month", False),
    "HOUSING_TENANCY": ("Housing Tenancy and Sustaining Services", dt.date(2022, 1, 1), "caseload slots", False),
    "POST_HOSP_HOUSING": ("Short-Term Post-Hospitalization Housing", dt.date(2022, 1, 1), "beds", True),
    "DAY_HAB": ("Day Habilitation Program", dt.date(2025, 1, 1), "program seats", False),
}

# A few real ZIPs with their county and centroid (zipcodes package).
PLACES = {
    "Humboldt": ("95501", "Eureka", 40.8, -124.16),
    "Shasta": ("96001", "Redding", 40.57, -122.42),
    "Sonoma": ("95401", "Santa Rosa", 38.44, -122.76),
    "Mendocino": ("95482", "Ukiah", 39.15, -123.2),
    "Solano": ("94533", "Fairfield", 38.27, -122.03),
}


def ensure_service(session: Session, key: str) -> Service:
    service = session.get(Service, key)
    if service is None:
        name, offered_from, unit, site_based = SERVICES[key]
        service = Service(
            key=key, name=name, offered_from=offered_from, capacity_unit=unit,
            care_setting="site" if site_based else "community", site_based=site_based,
        )
        session.add(service)
        session.flush()
    return service


def make_provider(session: Session, *, county: str = "Humboldt", **kw: Any) -> Provider:
    n = next(_ids)
    zip5, city, lat, lon = PLACES[county]
    provider = Provider(
        id=kw.pop("id", f"PRV{n:04d}"), npi=kw.pop("npi", f"{1_000_000_000 + n}"),
        tin=kw.pop("tin", f"{900_000_000 + n}"), name=kw.pop("name", f"{city} Community Services {n}"),
        staff_languages=kw.pop("staff_languages", ["English"]), **kw,
    )
    session.add(provider)
    session.add(ProviderSite(
        id=f"{provider.id}-S1", provider_id=provider.id, name=f"{provider.name} main site",
        address=f"{100 + n} Main St", city=city, zip=zip5, county=county, latitude=lat, longitude=lon,
    ))
    session.flush()
    return provider


def make_contract(
    session: Session, provider: Provider, *, service: str = "HOUSING_NAV", capacity: int = 5,
    counties: tuple[str, ...] = ("Humboldt",), **kw: Any,
) -> Contract:
    ensure_service(session, service)
    contract = Contract(
        id=kw.pop("id", f"C-{provider.id}-{service}"), provider_id=provider.id, service_key=service,
        effective_start=kw.pop("effective_start", dt.date(2024, 1, 1)), contracted_capacity=capacity, **kw,
    )
    contract.counties = [ContractCounty(county=c) for c in counties]
    contract.sites = [ContractSite(site_id=f"{provider.id}-S1")]
    session.add(contract)
    session.flush()
    return contract


def make_member(session: Session, *, county: str = "Humboldt", **kw: Any) -> Member:
    n = next(_ids)
    zip5, city, lat, lon = PLACES[county]
    demographics = kw.pop("demographics", {"race_ethnicity": "Unknown", "sex": "U"})
    member = Member(
        cin=kw.pop("cin", f"{90_000_000 + n:08d}A"), last_name=kw.pop("last_name", "Rivera"),
        first_name=kw.pop("first_name", f"Member{n}"), dob=kw.pop("dob", dt.date(1970, 5, 17)),
        address=f"{n} Oak Ave", city=city, zip=zip5, county=county, latitude=lat, longitude=lon,
        spoken_languages=kw.pop("spoken_languages", ["English"]),
        eligibility_start=kw.pop("eligibility_start", dt.date(2023, 1, 1)), **kw,
    )
    member.demographics = MemberDemographics(**demographics)
    session.add(member)
    session.flush()
    return member


def make_referral(
    session: Session, member: Member, *, service: str = "HOUSING_NAV",
    preferences: tuple[str, ...] = (), **kw: Any,
) -> Referral:
    ensure_service(session, service)
    n = next(_ids)
    referral = Referral(
        id=kw.pop("id", f"R{n:06d}"), member_id=member.id, service_key=service,
        source=kw.pop("source", ReferralSource.PCP), received_date=kw.pop("received_date", dt.date(2026, 11, 2)),
        **kw,
    )
    referral.preferences = [ReferralPreference(rank=i, provider_id=p) for i, p in enumerate(preferences, 1)]
    session.add(referral)
    session.flush()
    return referral


def make_assignment(
    session: Session, referral: Referral, contract: Contract, *, units: int | None = None,
    status: AssignmentStatus = AssignmentStatus.PROPOSED, **kw: Any,
) -> Assignment:
    """An assignment of ``referral`` to the contract's first site (units default to the referral's)."""
    assignment = Assignment(
        referral_id=referral.id, provider_id=contract.provider_id, site_id=kw.pop("site_id", contract.sites[0].site_id),
        contract_id=contract.id, units=units if units is not None else referral.units_needed, status=status, **kw,
    )
    session.add(assignment)
    session.flush()
    return assignment


def make_capacity_report(
    session: Session, contract: Contract, kind: CapacityReportKind, change_date: dt.date, **kw: Any,
) -> CapacityReport:
    """A capacity report on ``contract``, reported the day of the change unless ``reported_date`` is given."""
    report = CapacityReport(
        contract_id=contract.id, kind=kind, change_date=change_date,
        reported_date=kw.pop("reported_date", change_date), reported_by=kw.pop("reported_by", "provider@example.org"),
        **kw,
    )
    session.add(report)
    session.flush()
    return report
