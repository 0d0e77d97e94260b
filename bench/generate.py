"""Seeded synthetic plans shaped like Partnership HealthPlan's: 24 Northern California counties.

Referrals land where people live (county populations), sites where providers are (one site per
~50 referrals), each site serves its county and its nearest neighbours, site-based care has a
radius, staff speak the threshold languages, members rank providers that serve them. Capacity
falls a little short of demand in most services, so there are real network gaps to report.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from matcher import ContractPool, MatchData, ReferralDemand, ServiceSite

# County seat (latitude, longitude) and population in thousands (2020 census, rounded).
COUNTIES: dict[str, tuple[float, float, int]] = {
    "Butte": (39.51, -121.56, 211), "Colusa": (39.21, -122.01, 22), "Del Norte": (41.76, -124.20, 28),
    "Glenn": (39.52, -122.19, 29), "Humboldt": (40.80, -124.16, 136), "Lake": (39.04, -122.92, 68),
    "Lassen": (40.42, -120.65, 33), "Marin": (37.97, -122.53, 262), "Mendocino": (39.15, -123.21, 91),
    "Modoc": (41.49, -120.54, 9), "Napa": (38.30, -122.29, 138), "Nevada": (39.26, -121.02, 103),
    "Placer": (38.90, -121.08, 404), "Plumas": (39.94, -120.95, 20), "Shasta": (40.59, -122.39, 182),
    "Sierra": (39.56, -120.83, 3), "Siskiyou": (41.74, -122.63, 44), "Solano": (38.25, -122.04, 453),
    "Sonoma": (38.44, -122.71, 489), "Sutter": (39.14, -121.62, 99), "Tehama": (40.18, -122.24, 65),
    "Trinity": (40.73, -122.94, 16), "Yolo": (38.68, -121.77, 217), "Yuba": (39.15, -121.59, 81),
}
RURAL = {"Colusa", "Del Norte", "Glenn", "Lassen", "Modoc", "Plumas", "Sierra", "Siskiyou", "Trinity"}


@dataclass(frozen=True)
class Service:
    key: str
    share: float  # of referrals
    site_based: bool
    units: tuple[int, ...]  # units a referral may need (weighted instances)


SERVICES = (
    Service("HOUSING_NAV", 0.22, False, (1,)),
    Service("HOUSING_DEPOSITS", 0.06, False, (1,)),
    Service("HOUSING_TENANCY", 0.14, False, (1,)),
    Service("SHORT_TERM_HOUSING", 0.05, True, (1,)),
    Service("RECUPERATIVE_CARE", 0.06, True, (1,)),
    Service("MEALS", 0.20, False, (7, 14, 21)),
    Service("RESPITE", 0.07, False, (4, 8, 12, 24)),
    Service("PERSONAL_CARE", 0.10, False, (4, 8, 12, 20)),
    Service("SOBERING", 0.04, True, (1,)),
    Service("DAY_HAB", 0.06, False, (1,)),
)
LANGUAGES = (("English", 0.72), ("Spanish", 0.2), ("Hmong", 0.02), ("Tagalog", 0.02), ("Russian", 0.015),
             ("Punjabi", 0.015), ("Vietnamese", 0.01))
CULTURES = ("Tribal", "LGBTQ+ affirming", "Veteran", "Faith-based", "Latino/a")


def _miles(a: tuple[float, float], b: tuple[float, float]) -> float:
    dy = (a[0] - b[0]) * 69.0
    dx = (a[1] - b[1]) * 69.0 * math.cos(math.radians(a[0]))
    return math.hypot(dx, dy)


def _neighbours() -> dict[str, list[str]]:
    seat = {c: (v[0], v[1]) for c, v in COUNTIES.items()}
    return {c: sorted((d for d in COUNTIES if d != c), key=lambda d: _miles(seat[c], seat[d]))[:3] for c in COUNTIES}


def generate(referrals: int, *, seed: int = 42, weighted: bool = False, sites: int | None = None) -> MatchData:
    """Return a synthetic plan of ``referrals`` open referrals and about referrals/50 sites.

    The network never drops below 200 sites (a plan has providers even when few referrals are
    open) nor grows beyond 2,500 (the plan's whole network).
    """
    rng = random.Random(seed)
    n_sites = sites if sites is not None else min(max(200, referrals // 50), 2_500)
    names = list(COUNTIES)
    weights = [COUNTIES[c][2] for c in names]
    neighbours = _neighbours()
    languages = [x for x, _ in LANGUAGES]
    language_weights = [w for _, w in LANGUAGES]
    services = list(SERVICES)
    service_weights = [s.share for s in services]

    def jitter(county: str, spread: float) -> tuple[float, float]:
        lat, lon, _ = COUNTIES[county]
        return lat + rng.uniform(-spread, spread), lon + rng.uniform(-spread, spread)

    # Demand per (service, county), to size capacity against it.
    chosen = [(rng.choices(services, service_weights)[0], rng.choices(names, weights)[0]) for _ in range(referrals)]
    demand: dict[tuple[str, str], int] = {}
    for service, county in chosen:
        demand[service.key, county] = demand.get((service.key, county), 0) + (
            1 if not weighted else sum(service.units) // len(service.units))
    # Sites: provider organisations run a few sites each.
    site_list: list[ServiceSite] = []
    contract_room: dict[str, int] = {}
    contract_of: dict[str, ContractPool] = {}
    n_providers = max(10, n_sites // 3)
    for i in range(n_sites):
        service = rng.choices(services, service_weights)[0]
        county = rng.choices(names, weights)[0]
        provider = f"P{rng.randrange(n_providers):04d}"
        counties = frozenset([county, *rng.sample(neighbours[county], rng.randint(0, 2))])
        expected_sites = max(1.0, n_sites * service.share * COUNTIES[county][2] / sum(weights))
        need = demand.get((service.key, county), 0) / expected_sites
        room = max(0, round(need * rng.uniform(0.6, 1.2)))
        staff = {"English"} | {x for x in languages[1:] if rng.random() < (0.5 if x == "Spanish" else 0.08)}
        site_id = f"{provider}-S{i:05d}:{service.key}"
        contract_id = f"{provider}:{service.key}"
        site_list.append(ServiceSite(
            site_id, provider, service.key, counties, *jitter(county, 0.25), contract_id,
            site_based=service.site_based,
            service_radius_miles=rng.choice([25.0, 40.0, 60.0]) if service.site_based else None,
            languages=frozenset(staff),
            cultural_competencies=frozenset(x for x in CULTURES if rng.random() < 0.15),
            remaining_units=None if rng.random() < 0.3 else room,
            reported_full=rng.random() < 0.02,
        ))
        contract_room[contract_id] = contract_room.get(contract_id, 0) + room
        contract_of[contract_id] = ContractPool(contract_id, provider, service.key, 0)
    contracts = tuple(ContractPool(c, p.provider_id, p.service, round(contract_room[c] * rng.uniform(0.8, 1.0)))
                      for c, p in contract_of.items())
    serving: dict[tuple[str, str], list[str]] = {}
    for s in site_list:
        for county in s.counties:
            providers = serving.setdefault((s.service, county), [])
            if s.provider_id not in providers:
                providers.append(s.provider_id)
    referral_list = []
    for i, (service, county) in enumerate(chosen):
        spoken = rng.choices(languages, language_weights)[0]
        local = serving.get((service.key, county), [])
        preferred = tuple(rng.sample(local, min(len(local), rng.randint(1, 3)))) if local and rng.random() < 0.3 else ()
        referral_list.append(ReferralDemand(
            f"R{i:07d}", service.key, rng.choice(service.units) if weighted else 1, county, *jitter(county, 0.3),
            required_language=spoken if spoken != "English" and rng.random() < 0.4 else None,
            languages=(spoken,) if spoken == "English" else (spoken, "English"),
            cultural_preferences=(rng.choice(CULTURES),) if rng.random() < 0.1 else (),
            preferred_providers=preferred,
            excluded_providers=frozenset(rng.sample(local, 1)) if local and rng.random() < 0.05 else frozenset(),
            prior_providers=frozenset(rng.sample(local, 1)) if local and rng.random() < 0.15 else frozenset(),
            post_discharge=rng.random() < 0.1,
            business_days_waited=rng.randint(0, 15),
            max_travel_miles=(60.0 if county in RURAL else 30.0) if service.site_based else None,
        ))
    return MatchData(tuple(referral_list), tuple(site_list), contracts)
