"""The columnar Problem: bad input, build determinism, distances."""

from __future__ import annotations

import random
import re
from dataclasses import replace

import numpy as np
import pytest
from factories import random_data, random_problem

from matcher import MatchData, Problem, ProblemError, build_problem
from matcher.distance import haversine_miles
from matcher.rules import HARD_RULES

# geopy's WGS-84 geodesic miles for these pairs (geopy 2.5, hard-coded so the test needs no geopy).
GEODESIC_MILES = [
    ((40.7938, -124.1573), (40.5605, -122.4116), 93.1081),  # Eureka - Redding
    ((38.2975, -122.2869), (41.7354, -122.6345), 237.9093),  # Napa - Yreka
    ((39.1458, -121.5911), (38.5449, -121.7405), 42.2263),  # Yuba City - Davis
    ((38.4405, -122.7144), (40.8021, -124.1637), 180.3357),  # Santa Rosa - Eureka
    ((41.9, -124.2), (38.0, -120.0), 349.3844),
]


@pytest.mark.parametrize(("a", "b", "geodesic"), GEODESIC_MILES)
def test_haversine_is_within_half_a_percent_of_the_geodesic(a: tuple, b: tuple, geodesic: float) -> None:
    assert abs(float(haversine_miles(*a, *b)) - geodesic) / geodesic < 0.005


def test_haversine_agrees_with_geopy_when_available() -> None:
    geopy = pytest.importorskip("geopy.distance")
    rng = np.random.default_rng(7)
    lat1, lat2 = rng.uniform(38, 42, 200), rng.uniform(38, 42, 200)
    lon1, lon2 = rng.uniform(-124.3, -120, 200), rng.uniform(-124.3, -120, 200)
    ours = haversine_miles(lat1, lon1, lat2, lon2)
    theirs = np.array([geopy.geodesic((a, b), (c, d)).miles for a, b, c, d in zip(lat1, lon1, lat2, lon2, strict=True)])
    assert np.all(np.abs(ours - theirs) <= 0.005 * theirs + 1e-9)


@pytest.mark.parametrize("seed", range(20))
def test_build_is_identical_when_input_order_is_shuffled(seed: int) -> None:
    rng = random.Random(seed)
    original = random_data(rng, unit=bool(seed % 2), referrals=8, sites=5)
    shuffled = MatchData(*(tuple(rng.sample(x, len(x))) for x in (original.referrals, original.sites,
                                                                   original.contracts)))
    a, b = build_problem(original), build_problem(shuffled)
    for name in Problem.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            assert x == y, name


def test_every_hard_rule_cites_its_policy_and_has_a_docstring() -> None:
    assert [r.name for r in HARD_RULES] == ["service_area", "travel_standard", "required_language", "exclusions"]
    for rule in HARD_RULES:
        assert re.search(r"7003|DOMAIN", rule.policy) and rule.allows.__doc__


def _problem() -> Problem:
    return random_problem(random.Random(3), unit=True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: {"site_capacity": np.r_[-2, p.site_capacity[1:]]}, "site 'S0' has negative capacity"),
        (lambda p: {"contract_capacity": np.r_[-1, p.contract_capacity[1:]]}, "contract 'C0' has negative capacity"),
        (lambda p: {"referral_ids": ("R0", "R0", *p.referral_ids[2:])}, "duplicate referral id 'R0'"),
        (lambda p: {"site_ids": ("S0", "S0", *p.site_ids[2:])}, "duplicate site id 'S0'"),
        (lambda p: {"arc_site": np.r_[9, p.arc_site[1:]]}, "arc of referral 'R0' names an unknown site"),
        (lambda p: {"arc_units": np.r_[0, p.arc_units[1:]]}, "arc ('R0', 'S1') uses fewer than one unit"),
        (lambda p: {"arc_cost": np.r_[-5, p.arc_cost[1:]]}, "arc ('R0', 'S1') has a negative cost"),
        (lambda p: {"arc_site": np.r_[p.arc_site[1], p.arc_site[1:]]}, "duplicate arc ('R0', 'S2')"),
        (lambda p: {"referral_penalty": np.r_[-1, p.referral_penalty[1:]]}, "referral 'R0' has a negative unplaced"),
        (lambda p: {"site_contract": np.r_[7, p.site_contract[1:]]}, "site 'S0' names an unknown contract"),
        (lambda p: {"arc_cost": p.arc_cost[1:]}, "arc_cost has"),
        (lambda p: {"arc_terms": p.arc_terms.astype(np.int64) + 40_000},
         "arc_terms must lie in -32768..32767"),
    ],
)
def test_bad_problem_raises_problem_error_naming_the_record(change: object, message: str) -> None:
    p = _problem()
    with pytest.raises(ProblemError, match=re.escape(message)):
        replace(p, **change(p))  # type: ignore[operator]


def test_arc_columns_are_stored_narrow() -> None:
    """A statewide problem has tens of millions of arcs: terms as int16, miles as float32."""
    p = build_problem(random_data(random.Random(5), unit=True, referrals=8))
    assert p.arc_terms.dtype == np.int16 and p.arc_miles.dtype == np.float32


def test_locked_referral_needs_an_arc_to_its_current_site() -> None:
    p = _problem()
    r = int(p.arc_referral[0])
    other = next(s for s in range(p.n_sites) if s not in p.arc_site[p.arc_referral == r])
    current, locked = p.referral_current.copy(), p.referral_locked.copy()
    current[r], locked[r] = other, True
    with pytest.raises(ProblemError, match=re.escape(f"locked referral {p.referral_ids[r]!r} has no arc")):
        replace(p, referral_current=current, referral_locked=locked)


def test_pairwise_haversine_equals_the_broadcast_one() -> None:
    from matcher.distance import haversine_pairs

    rng = np.random.default_rng(3)
    lat1, lon1, lat2, lon2 = rng.uniform(38, 42, 50), rng.uniform(-124, -120, 50), rng.uniform(38, 42, 9), \
        rng.uniform(-124, -120, 9)
    i, j = rng.integers(0, 50, 300), rng.integers(0, 9, 300)
    np.testing.assert_allclose(haversine_pairs(lat1, lon1, i, lat2, lon2, j),
                               haversine_miles(lat1[i], lon1[i], lat2[j], lon2[j]), rtol=1e-12)
