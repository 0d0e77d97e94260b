"""Property tests: every plan passes the validator and equals the brute-force optimum."""

from __future__ import annotations

import random

import numpy as np
import pytest
from factories import brute_force, random_data, random_problem
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher import Problem, build_problem, solve, validate
from matcher.problem import NO_LIMIT
from matcher.weights import TIERS


@st.composite
def problems(draw: st.DrawFn, unit: bool) -> Problem:
    """Explicit-arc problems of up to 6 referrals and 3 sites, with nested capacity."""
    n = draw(st.integers(1, 6))
    m = draw(st.integers(1, 3))
    k = draw(st.integers(1, 2))
    arcs = [(r, s) for r in range(n) for s in range(m) if draw(st.booleans())]
    units = [1 if unit else draw(st.integers(1, 4)) for _ in range(n)]
    return Problem(
        referral_ids=tuple(f"R{i}" for i in range(n)),
        referral_penalty=np.array(draw(st.lists(st.integers(0, 60), min_size=n, max_size=n)), dtype=np.int64),
        referral_units=np.array(units),
        referral_current=np.full(n, -1),
        referral_locked=np.zeros(n, dtype=bool),
        referral_block=(None,) * n,
        site_ids=tuple(f"S{i}" for i in range(m)),
        site_provider=tuple(f"P{i}" for i in range(m)),
        site_capacity=np.array(draw(st.lists(st.sampled_from([NO_LIMIT, 0, 1, 2, 3, 5]), min_size=m, max_size=m))),
        site_contract=np.array(draw(st.lists(st.integers(-1, k - 1), min_size=m, max_size=m))),
        site_reported_full=np.zeros(m, dtype=bool),
        contract_ids=tuple(f"C{i}" for i in range(k)),
        contract_capacity=np.array(draw(st.lists(st.integers(0, 6), min_size=k, max_size=k))),
        arc_referral=np.array([r for r, _ in arcs], dtype=np.int64),
        arc_site=np.array([s for _, s in arcs], dtype=np.int64),
        arc_units=np.array([units[r] for r, _ in arcs], dtype=np.int64),
        arc_cost=np.array(draw(st.lists(st.integers(0, 40), min_size=len(arcs), max_size=len(arcs))), dtype=np.int64),
        arc_terms=np.zeros((len(arcs), len(TIERS)), dtype=np.int64),
        arc_miles=np.zeros(len(arcs)),
    )


def assert_optimal(problem: Problem) -> None:
    solution = solve(problem, workers=1, time_limit=10)
    validate(solution, problem)
    assert (solution.placed, solution.objective) == brute_force(problem)
    assert solution.bound == solution.objective


@settings(max_examples=150, deadline=None)
@given(problems(unit=True))
def test_unit_problem_is_solved_to_the_brute_force_optimum(problem: Problem) -> None:
    assert_optimal(problem)


@settings(max_examples=100, deadline=None)
@given(problems(unit=False))
def test_weighted_problem_is_solved_to_the_brute_force_optimum(problem: Problem) -> None:
    assert_optimal(problem)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_problem_with_locks_and_proposals_is_solved_to_the_optimum(seed: int, unit: bool) -> None:
    assert_optimal(random_problem(random.Random(seed), unit=unit))


@settings(max_examples=120, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_plan_built_from_data_keeps_every_hard_rule_and_is_optimal(seed: int, unit: bool) -> None:
    data = random_data(random.Random(seed), unit=unit)
    problem = build_problem(data)
    solution = solve(problem, workers=1, time_limit=10)
    validate(solution, problem, data)
    assert (solution.placed, solution.objective) == brute_force(problem)


@st.composite
def look_alike_problems(draw: st.DrawFn) -> Problem:
    """Many referrals sharing a few arc lists: exercises the class aggregation of the flow."""
    n = draw(st.integers(2, 8))
    templates = draw(st.lists(st.lists(st.sampled_from([(0, 0), (0, 3), (1, 0), (1, 3), (2, 1)]), min_size=1,
                                       max_size=3, unique_by=lambda x: x[0]), min_size=1, max_size=3))
    chosen = [draw(st.sampled_from(templates)) for _ in range(n)]
    arcs = sorted((r, s, c) for r, arcs_ in enumerate(chosen) for s, c in arcs_)
    return Problem(
        referral_ids=tuple(f"R{i}" for i in range(n)),
        referral_penalty=np.array(draw(st.lists(st.sampled_from([1, 2, 5]), min_size=n, max_size=n))),
        referral_units=np.ones(n, dtype=np.int64),
        referral_current=np.full(n, -1),
        referral_locked=np.zeros(n, dtype=bool),
        referral_block=(None,) * n,
        site_ids=("S0", "S1", "S2"),
        site_provider=("P0", "P1", "P2"),
        site_capacity=np.array(draw(st.lists(st.sampled_from([NO_LIMIT, 0, 1, 2, 3]), min_size=3, max_size=3))),
        site_contract=np.array([0, 0, -1]),
        site_reported_full=np.zeros(3, dtype=bool),
        contract_ids=("C0",),
        contract_capacity=np.array([draw(st.integers(0, 5))]),
        arc_referral=np.array([a[0] for a in arcs], dtype=np.int64),
        arc_site=np.array([a[1] for a in arcs], dtype=np.int64),
        arc_units=np.ones(len(arcs), dtype=np.int64),
        arc_cost=np.array([a[2] for a in arcs], dtype=np.int64),
        arc_terms=np.zeros((len(arcs), len(TIERS)), dtype=np.int64),
        arc_miles=np.zeros(len(arcs)),
    )


@settings(max_examples=150, deadline=None)
@given(look_alike_problems())
def test_look_alike_referrals_are_solved_to_the_brute_force_optimum(problem: Problem) -> None:
    assert_optimal(problem)
    solution = solve(problem, workers=1)
    # Least urgent first out: no unplaced referral is more urgent than a placed one of the same arcs.
    for u in solution.unplaced:
        r = problem.referral_index[u.referral_id]
        twins = [a for a in solution.assignments
                 if _arcs(problem, problem.referral_index[a.referral_id]) == _arcs(problem, r)]
        assert all(u.penalty <= problem.referral_penalty[problem.referral_index[a.referral_id]] for a in twins)


def _arcs(problem: Problem, r: int) -> list[tuple[int, int]]:
    arcs = problem.arcs_of(r)
    return sorted(zip(problem.arc_site[arcs].tolist(), problem.arc_cost[arcs].tolist(), strict=True))


def test_referral_classes_split_a_hash_collision(monkeypatch: pytest.MonkeyPatch) -> None:
    import matcher.classes as classes

    monkeypatch.setattr(classes, "_mix", lambda x: np.zeros(np.shape(x), dtype=np.uint64))  # everything collides
    referral = np.array([0, 0, 1, 1, 2, 3])
    site = np.array([0, 1, 0, 1, 0, 1])
    cost = np.array([5, 6, 5, 6, 5, 5])
    order, klass = classes.referral_classes(referral, site, cost)
    by_referral = dict(zip(referral[order].tolist(), klass.tolist(), strict=True))
    assert by_referral[0] == by_referral[1]
    assert len({by_referral[0], by_referral[2], by_referral[3]}) == 3
