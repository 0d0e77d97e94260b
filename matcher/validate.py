"""An independent checker: it re-derives every rule instead of trusting the solver or the builder.

:func:`validate` checks a solution against its :class:`~matcher.problem.Problem` (arcs, capacity,
locks, the objective) and, given the :class:`~matcher.data.MatchData`, re-checks each hard rule of
DOMAIN.md and recomputes each cost term one referral at a time in plain Python, so a bug in the
vectorised builder shows up as a disagreement. The first broken rule raises
:class:`~matcher.errors.ValidationError` naming the referral or site.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np

from matcher.data import MatchData, ReferralDemand, ServiceSite
from matcher.distance import EARTH_RADIUS_MILES
from matcher.errors import ValidationError
from matcher.problem import NO_LIMIT, Problem
from matcher.reasons import UnplacedReason
from matcher.solution import CostTerms, Solution
from matcher.weights import MAX_TRAVEL_TERM, UNRANKED, arc_cost, unplaced_penalty, urgency_level

__all__ = ["expected_terms", "miles", "rule_violation", "validate"]


def miles(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Scalar great-circle miles (the same sphere as the builder, written independently)."""
    (lat1, lon1), (lat2, lon2) = a, b
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(math.sqrt(min(1.0, max(0.0, h))))


def rule_violation(r: ReferralDemand, s: ServiceSite) -> str | None:
    """Return the first hard rule sending ``r`` to ``s`` would break, or None (capacity aside)."""
    d = miles((r.latitude, r.longitude), (s.latitude, s.longitude))
    tolerance = 1e-9
    if r.ineligible_reason is not None:
        return f"eligibility ({r.ineligible_reason})"
    if s.service != r.service:
        return f"service match ({s.service!r} is not {r.service!r})"
    in_radius = s.site_based and s.service_radius_miles is not None and d <= s.service_radius_miles + tolerance
    if r.county not in s.counties and not in_radius:
        return f"service area ({r.county!r} not served)"
    if s.site_based and r.max_travel_miles is not None and d > r.max_travel_miles + tolerance:
        return f"travel standard ({d:.1f} > {r.max_travel_miles} miles)"
    if r.required_language is not None and r.required_language not in s.languages:
        return f"required language ({r.required_language!r})"
    if s.provider_id in r.excluded_providers:
        return "exclusion (declined before or refused)"
    return None


def expected_terms(r: ReferralDemand, s: ServiceSite) -> CostTerms:
    """Recompute the soft terms of sending ``r`` to ``s``, straight from the records."""
    if r.preferred_providers:
        ranks = {p: min(i, UNRANKED - 1) for i, p in enumerate(r.preferred_providers)}
        preference = ranks.get(s.provider_id, UNRANKED)
    else:
        preference = 0
    continuity = int(bool(r.prior_providers) and s.provider_id not in r.prior_providers)
    spoken = {x for x in r.languages if x != r.required_language}
    fit = int(bool(spoken) and not spoken & s.languages)
    fit += int(bool(r.cultural_preferences) and not set(r.cultural_preferences) & s.cultural_competencies)
    travel = 0
    if s.site_based:
        travel = min(round(miles((r.latitude, r.longitude), (s.latitude, s.longitude))), MAX_TRAVEL_TERM)
    stability = int(r.current_site is not None and r.current_site != s.site_id)
    return CostTerms(preference, continuity, fit, travel, stability)


def validate(solution: Solution, problem: Problem, data: MatchData | None = None) -> None:
    """Check ``solution`` against ``problem`` (and ``data`` if given); raise on the first breach.

    Raises
    ------
    ValidationError
        Naming the referral or site whose rule is broken.
    """
    p = problem
    # Every referral exactly once, placed or unplaced (7003 VI.E.5: no waitlist, no limbo).
    seen = Counter([a.referral_id for a in solution.assignments] + [u.referral_id for u in solution.unplaced])
    for referral_id, n in seen.items():
        if referral_id not in p.referral_index:
            raise ValidationError(f"solution names unknown referral {referral_id!r}")
        if n > 1:
            raise ValidationError(f"referral {referral_id!r} appears {n} times in the solution")
    for referral_id in p.referral_ids:
        if referral_id not in seen:
            raise ValidationError(f"referral {referral_id!r} is neither placed nor reported unplaced")
    # Arc look-up by (referral, site) key, in arrays: a statewide problem has tens of millions.
    width = max(p.n_sites, 1)
    arc_keys = p.arc_referral * width + p.arc_site
    if (arc_keys[1:] >= arc_keys[:-1]).all():  # the builder's order: no sort
        arc_order, sorted_keys = np.arange(arc_keys.size), arc_keys
    else:
        arc_order = np.argsort(arc_keys)
        sorted_keys = arc_keys[arc_order]
    del arc_keys

    def arc_of(r: int, s: int) -> int | None:
        key = r * width + s
        i = int(np.searchsorted(sorted_keys, key))
        return int(arc_order[i]) if i < sorted_keys.size and sorted_keys[i] == key else None

    site_units: dict[int, int] = defaultdict(int)
    locked_site_units: dict[int, int] = defaultdict(int)
    contract_units: dict[int, int] = defaultdict(int)
    locked_contract_units: dict[int, int] = defaultdict(int)
    objective = 0
    for a in solution.assignments:
        r, s = p.referral_index[a.referral_id], p.site_index.get(a.site_id)
        if s is None:
            raise ValidationError(f"referral {a.referral_id!r} is placed at unknown site {a.site_id!r}")
        arc = arc_of(r, s)
        if arc is None:
            raise ValidationError(f"referral {a.referral_id!r} is placed at {a.site_id!r}, which is not an arc")
        if a.units != p.arc_units[arc] or a.cost != p.arc_cost[arc]:
            raise ValidationError(f"referral {a.referral_id!r} at {a.site_id!r}: units or cost differ from the arc")
        if a.provider_id != p.site_provider[s]:
            raise ValidationError(f"referral {a.referral_id!r}: site {a.site_id!r} is not provider {a.provider_id!r}")
        locked = bool(p.referral_locked[r])
        if locked and s != p.referral_current[r]:
            raise ValidationError(f"accepted referral {a.referral_id!r} was moved to {a.site_id!r}")
        if not locked and p.site_reported_full[s]:
            raise ValidationError(f"referral {a.referral_id!r} is parked at {a.site_id!r}, which reported full")
        c = int(p.site_contract[s])
        (locked_site_units if locked else site_units)[s] += a.units
        if c >= 0:
            (locked_contract_units if locked else contract_units)[c] += a.units
        objective += a.cost
    for r in p.referral_locked.nonzero()[0].tolist():
        if p.referral_ids[r] not in solution.assignment_by_referral:
            raise ValidationError(f"accepted referral {p.referral_ids[r]!r} was unplaced")
    # Capacity (7003 VI.E.6): new units never exceed what locked ones left of the site/contract.
    site_left = {}
    for s, cap in enumerate(p.site_capacity.tolist()):
        left = NO_LIMIT if cap == NO_LIMIT else max(cap - locked_site_units[s], 0)
        if left != NO_LIMIT and site_units[s] > left:
            raise ValidationError(f"site {p.site_ids[s]!r} gets {site_units[s]} units but has {left} open")
        site_left[s] = NO_LIMIT if left == NO_LIMIT else left - site_units[s]
    contract_left = {}
    for c, cap in enumerate(p.contract_capacity.tolist()):
        left = max(cap - locked_contract_units[c], 0)
        if contract_units[c] > left:
            raise ValidationError(f"contract {p.contract_ids[c]!r} gets {contract_units[c]} units but has {left} open")
        contract_left[c] = left - contract_units[c]
    # Unplaced: the right reason, and none could still fit anywhere (the count is maximal).
    unplaced_rows = []
    for u in solution.unplaced:
        r = p.referral_index[u.referral_id]
        unplaced_rows.append(r)
        objective += int(p.referral_penalty[r])
        if p.referral_block[r] is not None and u.reason != p.referral_block[r]:
            raise ValidationError(f"referral {u.referral_id!r} is unplaced for {u.reason}, not {p.referral_block[r]}")
    # Every arc of every unplaced referral at once (tens of thousands of members, millions of arcs).
    arcs, owner = p.arcs_of_referrals(np.array(unplaced_rows, dtype=np.int64))
    site_room_left = np.array([site_left[s] for s in range(p.n_sites)], dtype=np.int64)
    contract_room_left = np.array([contract_left[c] for c in range(len(p.contract_ids))], dtype=np.int64)
    sites, units = p.arc_site[arcs], p.arc_units[arcs]
    contracts = p.site_contract[sites]
    room = (site_room_left[sites] == NO_LIMIT) | (site_room_left[sites] >= units)
    room &= (contracts < 0) | (contract_room_left[np.maximum(contracts, 0)] >= units)
    room &= ~p.site_reported_full[sites]
    if room.any():
        i = int(np.argmax(room))
        raise ValidationError(f"referral {p.referral_ids[int(owner[i])]!r} is unplaced but site "
                              f"{p.site_ids[int(sites[i])]!r} has room")
    if objective != solution.objective:
        raise ValidationError(f"objective is {solution.objective}, recomputed {objective}")
    if solution.placed != len(solution.assignments):
        raise ValidationError(f"placed is {solution.placed}, but {len(solution.assignments)} assignments")
    if solution.bound > solution.objective:
        raise ValidationError(f"bound {solution.bound} exceeds objective {solution.objective}")
    if data is not None:
        _validate_rules(solution, data)


def _validate_rules(solution: Solution, data: MatchData) -> None:
    """Hard rules and cost terms, one assignment at a time, straight from the records."""
    referrals = {r.referral_id: r for r in data.referrals}
    sites = {s.site_id: s for s in data.sites}
    contracts = {c.contract_id: c for c in data.contracts}
    for a in solution.assignments:
        r, s = referrals[a.referral_id], sites[a.site_id]
        contract = contracts[s.contract_id]
        if (contract.provider_id, contract.service) != (s.provider_id, r.service):
            raise ValidationError(f"referral {a.referral_id!r}: {a.site_id!r} is not contracted for {r.service!r}")
        if r.accepted:
            if a.site_id != r.current_site:
                raise ValidationError(f"accepted referral {a.referral_id!r} was moved to {a.site_id!r}")
        else:
            broken = rule_violation(r, s)
            if broken is not None:
                raise ValidationError(f"referral {a.referral_id!r} at {a.site_id!r} breaks {broken}")
            if s.reported_full:
                raise ValidationError(f"referral {a.referral_id!r} is parked at full site {a.site_id!r}")
        terms = expected_terms(r, s)
        if terms != a.terms or arc_cost(*_values(terms)) != a.cost:
            raise ValidationError(f"referral {a.referral_id!r} at {a.site_id!r}: terms {a.terms} != {terms}")
    for u in solution.unplaced:
        r = referrals[u.referral_id]
        if u.penalty != unplaced_penalty(urgency_level(r.post_discharge, r.business_days_waited),
                                         holds_proposal=r.current_site is not None):
            raise ValidationError(f"referral {u.referral_id!r}: unplaced penalty {u.penalty} is not its urgency's")
        if r.ineligible_reason is not None and u.reason != r.ineligible_reason:
            raise ValidationError(f"referral {u.referral_id!r} is unplaced for {u.reason}, not {r.ineligible_reason}")
        if u.reason in (UnplacedReason.ALL_IN_AREA_FULL,):
            for near in u.would_take:
                if rule_violation(r, sites[near.site_id]) is not None:
                    raise ValidationError(f"referral {u.referral_id!r}: {near.site_id!r} would not take it")


def _values(terms: CostTerms) -> tuple[int, int, int, int, int]:
    return terms.preference, terms.continuity, terms.fit, terms.travel, terms.stability
