"""Small records with sensible defaults, a brute-force optimum, and random problems for tests."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from typing import Any

import numpy as np

from matcher import ContractPool, MatchData, Problem, ReferralDemand, ServiceSite
from matcher.problem import NO_LIMIT
from matcher.weights import TIERS

# Napa (county seat) and two nearby points; Yolo further east.
NAPA = (38.2975, -122.2869)
YOLO = (38.6785, -121.7733)


def referral(referral_id: str = "R1", **fields: Any) -> ReferralDemand:
    """A one-unit respite referral in Napa unless told otherwise."""
    base = ReferralDemand(referral_id, "RESPITE", 1, "Napa", *NAPA)
    return replace(base, **fields)


def site(site_id: str = "S1", provider_id: str | None = None, **fields: Any) -> ServiceSite:
    """A respite site in Napa serving Napa under contract ``C-<provider>``."""
    provider = provider_id or f"P-{site_id}"
    fields.setdefault("contract_id", f"C-{provider}")
    base = ServiceSite(site_id, provider, "RESPITE", frozenset({"Napa"}), NAPA[0] + 0.01, NAPA[1], "x")
    return replace(base, **fields)


def contracts_for(sites: list[ServiceSite], remaining: int = 100) -> tuple[ContractPool, ...]:
    """One contract per distinct contract id of ``sites``."""
    seen: dict[str, ContractPool] = {}
    for s in sites:
        seen.setdefault(s.contract_id, ContractPool(s.contract_id, s.provider_id, s.service, remaining))
    return tuple(seen.values())


def data(referrals: list[ReferralDemand], sites: list[ServiceSite], contracts: Any = None) -> MatchData:
    pools = contracts if contracts is not None else contracts_for(sites)
    return MatchData(tuple(referrals), tuple(sites), tuple(pools))


def brute_force(p: Problem) -> tuple[int, int]:
    """Return ``(placed, objective)`` of the lexicographic optimum by enumerating every plan."""
    placed, cost = min(plan_values(p), key=lambda v: (-v[0], v[1]))
    return placed, cost


def random_problem(rng: random.Random, *, unit: bool, referrals: int = 6, sites: int = 3) -> Problem:
    """A small explicit-arc problem: random arcs, costs, units, nested capacities."""
    n_contracts = rng.randint(1, 2)
    site_contract = [rng.randrange(-1, n_contracts) for _ in range(sites)]
    arcs = sorted({(r, s) for r in range(referrals) for s in range(sites) if rng.random() < 0.55})
    units = [1 if unit else rng.randint(1, 4) for _ in range(referrals)]
    locked = [False] * referrals
    current = [-1] * referrals
    if arcs and rng.random() < 0.4:  # one accepted referral, locked where it is
        r, s = rng.choice(arcs)
        locked[r], current[r] = True, s
    for r, s in arcs:
        if not locked[r] and current[r] < 0 and rng.random() < 0.2:
            current[r] = s
    return Problem(
        referral_ids=tuple(f"R{i}" for i in range(referrals)),
        referral_penalty=np.array([rng.randint(0, 50) for _ in range(referrals)]),
        referral_units=np.array(units),
        referral_current=np.array(current),
        referral_locked=np.array(locked),
        referral_block=(None,) * referrals,
        site_ids=tuple(f"S{i}" for i in range(sites)),
        site_provider=tuple(f"P{i}" for i in range(sites)),
        site_capacity=np.array([rng.choice([NO_LIMIT, 0, 1, 2, 3, 5]) for _ in range(sites)]),
        site_contract=np.array(site_contract),
        site_reported_full=np.zeros(sites, dtype=bool),
        contract_ids=tuple(f"C{i}" for i in range(n_contracts)),
        contract_capacity=np.array([rng.randint(0, 6) for _ in range(n_contracts)]),
        arc_referral=np.array([r for r, _ in arcs], dtype=np.int64),
        arc_site=np.array([s for _, s in arcs], dtype=np.int64),
        arc_units=np.array([units[r] for r, _ in arcs], dtype=np.int64),
        arc_cost=np.array([rng.randint(0, 40) for _ in arcs], dtype=np.int64),
        arc_terms=np.zeros((len(arcs), len(TIERS)), dtype=np.int64),
        arc_miles=np.array([rng.uniform(0, 30) for _ in arcs]),
    )


LANGUAGES = ("English", "Spanish", "Hmong", "Tagalog")
CULTURES = ("LGBTQ+ affirming", "Tribal", "Veteran")


def random_data(rng: random.Random, *, unit: bool, referrals: int = 5, sites: int = 3) -> MatchData:
    """A small MatchData exercising every rule: two counties, radius, languages, exclusions."""
    providers = [f"P{i}" for i in range(max(1, sites - 1))]
    site_list = []
    for i in range(sites):
        provider = rng.choice(providers)
        site_based = rng.random() < 0.5
        site_list.append(ServiceSite(
            f"S{i}", provider, "RESPITE",
            frozenset(rng.sample(["Napa", "Yolo"], rng.randint(1, 2))),
            rng.uniform(38.2, 38.8), rng.uniform(-122.4, -121.7), f"C-{provider}",
            site_based=site_based,
            service_radius_miles=rng.choice([None, 20.0, 60.0]) if site_based else None,
            languages=frozenset(rng.sample(LANGUAGES, rng.randint(1, 3))),
            cultural_competencies=frozenset(rng.sample(CULTURES, rng.randint(0, 2))),
            remaining_units=rng.choice([None, 0, 1, 2, 4]),
            reported_full=rng.random() < 0.1,
        ))
    site_ids = [s.site_id for s in site_list]
    referral_list = []
    for i in range(referrals):
        accepted = rng.random() < 0.1
        referral_list.append(ReferralDemand(
            f"R{i}", "RESPITE", 1 if unit else rng.randint(1, 4), rng.choice(["Napa", "Yolo"]),
            rng.uniform(38.2, 38.8), rng.uniform(-122.4, -121.7),
            required_language=rng.choice([None, None, "Spanish", "Hmong"]),
            languages=tuple(rng.sample(LANGUAGES, rng.randint(0, 2))),
            cultural_preferences=tuple(rng.sample(CULTURES, rng.randint(0, 1))),
            preferred_providers=tuple(rng.sample(providers, rng.randint(0, len(providers)))),
            excluded_providers=frozenset(rng.sample(providers, rng.randint(0, 1))),
            prior_providers=frozenset(rng.sample(providers, rng.randint(0, 1))),
            post_discharge=rng.random() < 0.3,
            business_days_waited=rng.randint(0, 15),
            current_site=rng.choice(site_ids) if accepted or rng.random() < 0.3 else None,
            accepted=accepted,
            max_travel_miles=rng.choice([None, 30.0]),
        ))
    contracts = [ContractPool(f"C-{p}", p, "RESPITE", rng.randint(0, 5)) for p in providers]
    return MatchData(tuple(referral_list), tuple(site_list), tuple(contracts))


def plan_values(p: Problem) -> list[tuple[int, int]]:
    """``(placed, objective)`` of every plan that keeps locks and capacity, by enumeration."""
    options: list[list[int]] = []
    for r in range(p.n_referrals):
        arcs = p.arcs_of(r).tolist()
        if p.referral_locked[r]:
            options.append([a for a in arcs if p.arc_site[a] == p.referral_current[r]])
        else:
            options.append([-1, *arcs])
    locked_site = np.zeros(p.n_sites, dtype=np.int64)
    locked_contract = np.zeros(len(p.contract_ids), dtype=np.int64)
    for r in np.flatnonzero(p.referral_locked).tolist():
        (a,) = options[r]
        locked_site[p.arc_site[a]] += p.arc_units[a]
        if p.site_contract[p.arc_site[a]] >= 0:
            locked_contract[p.site_contract[p.arc_site[a]]] += p.arc_units[a]
    site_left = np.where(p.site_capacity == NO_LIMIT, 10**9, np.maximum(p.site_capacity - locked_site, 0))
    contract_left = np.maximum(p.contract_capacity - locked_contract, 0)
    values = []
    for plan in itertools.product(*options):
        site_use = np.zeros(p.n_sites, dtype=np.int64)
        contract_use = np.zeros(len(p.contract_ids), dtype=np.int64)
        placed, cost = 0, 0
        for r, a in enumerate(plan):
            if a < 0:
                cost += int(p.referral_penalty[r])
                continue
            placed += 1
            cost += int(p.arc_cost[a])
            if p.referral_locked[r]:
                continue
            s = p.arc_site[a]
            site_use[s] += p.arc_units[a]
            if p.site_contract[s] >= 0:
                contract_use[p.site_contract[s]] += p.arc_units[a]
        if (site_use <= site_left).all() and (contract_use <= contract_left).all():
            values.append((placed, cost))
    return values


def weighted_plan(rng: random.Random, *, referrals: int = 3000, sites: int = 60) -> MatchData:
    """A larger weighted plan: meals (7-21 a week) and respite hours (4-24) in four counties.

    Each site serves its county and maybe a neighbour; capacity falls about 15% short of demand;
    members rank providers, have prior providers, need languages, so arcs cost differently.
    """
    counties = ["Napa", "Yolo", "Solano", "Sonoma"]
    units = {"MEALS": [7, 10, 14, 21], "RESPITE": list(range(4, 25))}
    site_list, contracts = [], []
    for i in range(sites):
        service = "MEALS" if i % 3 else "RESPITE"
        county = counties[i % len(counties)]
        served = {county} | ({counties[(i + 1) % len(counties)]} if rng.random() < 0.6 else set())
        provider = f"P{i:03d}"
        site_list.append(ServiceSite(
            f"S{i:03d}", provider, service, frozenset(served), 38.3 + rng.uniform(-0.3, 0.3),
            -122.3 + rng.uniform(-0.3, 0.3), f"C{i:03d}",
            languages=frozenset(rng.sample(LANGUAGES, rng.randint(1, 3)) + ["English"]),
        ))
    referral_list = []
    demand: dict[tuple[str, str], int] = {}
    for i in range(referrals):
        service = "MEALS" if rng.random() < 0.65 else "RESPITE"
        county = rng.choice(counties)
        need = rng.choice(units[service])
        demand[service, county] = demand.get((service, county), 0) + need
        local = [s.provider_id for s in site_list if s.service == service and county in s.counties]
        referral_list.append(ReferralDemand(
            f"R{i:05d}", service, need, county, 38.3 + rng.uniform(-0.3, 0.3), -122.3 + rng.uniform(-0.3, 0.3),
            languages=tuple(rng.sample(LANGUAGES, rng.randint(0, 2))),
            preferred_providers=tuple(rng.sample(local, min(len(local), 2))) if rng.random() < 0.3 else (),
            prior_providers=frozenset(rng.sample(local, 1)) if local and rng.random() < 0.15 else frozenset(),
            post_discharge=rng.random() < 0.1,
            business_days_waited=rng.randint(0, 15),
        ))
    for s in site_list:
        share = sum(demand.get((s.service, c), 0) for c in s.counties) / max(
            1, sum(1 for t in site_list if t.service == s.service and t.counties & s.counties))
        contracts.append(ContractPool(s.contract_id, s.provider_id, s.service, int(share * rng.uniform(0.7, 1.0))))
    return MatchData(tuple(referral_list), tuple(site_list), tuple(contracts))
