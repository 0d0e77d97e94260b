"""Tier dominance: what the weights guarantee, tested exactly as documented in matcher.weights."""

from __future__ import annotations

import itertools

import pytest
from factories import data, referral, site

from matcher import build_problem, solve, validate
from matcher.weights import (
    MAX_ARC_COST,
    MAX_URGENCY_LEVEL,
    TIER_MAX,
    TIERS,
    URGENCY_WEIGHT,
    arc_cost,
    unplaced_penalty,
    urgency_level,
)


@pytest.mark.parametrize("tier", range(len(TIERS)))
def test_one_step_of_a_tier_beats_every_lower_tier_at_its_worst(tier: int) -> None:
    """Per referral, the arc order is lexicographic: the lower tiers' extremes cannot flip it."""
    lower = TIERS[tier + 1:]
    for high in range(TIER_MAX[TIERS[tier]]):
        better = dict.fromkeys(TIERS, 0) | {TIERS[tier]: high} | {t: TIER_MAX[t] for t in lower}
        worse = dict.fromkeys(TIERS, 0) | {TIERS[tier]: high + 1}
        assert arc_cost(**better) < arc_cost(**worse)


def test_weights_order_is_lexicographic_over_every_small_term_vector() -> None:
    small = [sorted({0, 1, TIER_MAX[t]}) for t in TIERS]
    vectors = list(itertools.product(*small))
    for a, b in itertools.combinations(vectors, 2):
        assert (arc_cost(*a) < arc_cost(*b)) == (a < b)


def test_urgency_step_outweighs_any_arc_cost_difference() -> None:
    assert URGENCY_WEIGHT > MAX_ARC_COST
    for level in range(MAX_URGENCY_LEVEL):
        assert unplaced_penalty(level + 1) - unplaced_penalty(level) > MAX_ARC_COST


def test_urgency_uses_days_waited_and_post_discharge_only() -> None:
    assert urgency_level(False, 9) < urgency_level(False, 10)  # the 10-business-day clock
    assert urgency_level(True, 0) > urgency_level(False, 9)
    assert urgency_level(True, 40) == MAX_URGENCY_LEVEL


def test_more_urgent_member_gets_the_last_slot_even_at_the_worst_arc() -> None:
    far = site("S1", site_based=True, latitude=38.99, longitude=-122.2869, remaining_units=1)
    urgent = referral("R1", business_days_waited=11, preferred_providers=("PX",), prior_providers=frozenset({"PY"}),
                      languages=("Tagalog",), cultural_preferences=("Tribal",))
    calm = referral("R2", business_days_waited=10, preferred_providers=("P-S1",))
    match = data([urgent, calm], [far])
    problem = build_problem(match)
    solution = solve(problem, workers=1)
    validate(solution, problem, match)
    assert solution.site_of("R1") == "S1"
    assert solution.assignment_by_referral["R1"].cost > solution.unplaced_by_referral["R2"].penalty - unplaced_penalty(
        urgency_level(False, 11))


def test_placing_one_more_member_beats_every_cost_in_the_component() -> None:
    """R1 is more urgent and prefers A, but R2 can only use A: placing both wins."""
    a = site("A", remaining_units=1)
    b = site("B", remaining_units=1, site_based=True, latitude=39.2)  # ~62 miles
    r1 = referral("R1", business_days_waited=20, post_discharge=True, preferred_providers=("P-A",))
    r2 = referral("R2", excluded_providers=frozenset({"P-B"}))
    solution = solve(build_problem(data([r1, r2], [a, b])), workers=1)
    assert solution.placed == 2
    assert (solution.site_of("R1"), solution.site_of("R2")) == ("B", "A")


@pytest.mark.parametrize(
    ("higher", "lower"),
    [
        ({"preferred_providers": ("P-far",)}, {"prior_providers": frozenset({"P-near"})}),
        ({"prior_providers": frozenset({"P-far"})}, {"languages": ("Tagalog",)}),
        ({"languages": ("Hmong",)}, {}),  # fit beats travel
    ],
)
def test_higher_tier_wins_for_one_member_over_a_lower_one(higher: dict, lower: dict) -> None:
    near = site("near", "P-near", site_based=True, latitude=38.30, languages=frozenset({"Tagalog"}))
    far = site("far", "P-far", site_based=True, latitude=38.90, languages=frozenset({"Hmong"}))
    member = referral(**higher, **lower)
    assert solve(build_problem(data([member], [near, far])), workers=1).site_of("R1") == "far"

