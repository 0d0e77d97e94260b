"""Solving service by service gives the plan one solve of everything gives (services never share a pool)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from factories import random_data

from matcher import MatchData, build_problem, solve, validate
from matcher.partition import merge_solutions, solve_by_service, split_by_service


def _two_services(seed: int, *, unit: bool) -> MatchData:
    """The same random plan twice, once as respite and once as meals, with distinct ids."""
    rng = random.Random(seed)
    respite = random_data(rng, unit=unit, referrals=7, sites=3)
    meals = random_data(rng, unit=unit, referrals=6, sites=3)

    def renamed(d: MatchData, service: str, tag: str) -> MatchData:
        sites = tuple(replace(s, site_id=f"{tag}{s.site_id}", service=service, contract_id=f"{tag}{s.contract_id}")
                      for s in d.sites)
        return MatchData(
            tuple(replace(r, referral_id=f"{tag}{r.referral_id}", service=service,
                          current_site=None if r.current_site is None else f"{tag}{r.current_site}")
                  for r in d.referrals),
            sites,
            tuple(replace(c, contract_id=f"{tag}{c.contract_id}", service=service) for c in d.contracts),
        )

    a, b = renamed(respite, "RESPITE", "r"), renamed(meals, "MEALS", "m")
    return MatchData(a.referrals + b.referrals, a.sites + b.sites, a.contracts + b.contracts)


def test_split_keeps_every_record_with_its_service() -> None:
    data = _two_services(1, unit=True)
    parts = split_by_service(data)
    assert [p.referrals[0].service for p in parts] == ["MEALS", "RESPITE"]
    assert sum(len(p.referrals) for p in parts) == len(data.referrals) == 13
    for part in parts:
        services = {r.service for r in part.referrals} | {s.service for s in part.sites}
        assert len(services | {c.service for c in part.contracts}) == 1


@pytest.mark.parametrize("seed", range(12))
def test_unit_plans_are_the_same_as_one_solve(seed: int) -> None:
    data = _two_services(seed, unit=True)
    whole = solve(build_problem(data), workers=1)
    parts = solve_by_service(data, workers=1)
    assert (parts.placed, parts.objective) == (whole.placed, whole.objective)
    assert parts.status == whole.status
    assert sorted(a.referral_id for a in parts.assignments) == [a.referral_id for a in parts.assignments]
    validate(parts, build_problem(data), data)  # the merged plan passes the checker on the whole problem


@pytest.mark.parametrize("seed", range(6))
def test_weighted_plans_place_as_many_as_one_solve(seed: int) -> None:
    data = _two_services(100 + seed, unit=False)
    whole = solve(build_problem(data), workers=1)
    parts = solve_by_service(data, workers=1)
    assert parts.placed == whole.placed  # small parts are solved exactly by CP-SAT either way
    assert parts.objective == whole.objective
    validate(parts, build_problem(data), data)


def test_merge_adds_figures_and_is_optimal_only_when_every_part_is() -> None:
    data = _two_services(3, unit=True)
    a, b = (solve(build_problem(p), workers=1) for p in split_by_service(data))
    merged = merge_solutions([a, b], runtime=1.5)
    assert merged.placed == a.placed + b.placed
    assert merged.objective == a.objective + b.objective
    assert merged.placed_bound == a.placed_bound + b.placed_bound
    assert merged.runtime == 1.5
    assert len(merged.assignments) + len(merged.unplaced) == len(data.referrals)
    feasible = replace(b, status=type(b.status)("FEASIBLE"))
    assert merge_solutions([a, feasible], runtime=0).status.value == "FEASIBLE"
