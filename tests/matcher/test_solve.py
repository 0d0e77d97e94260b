"""Solver paths: components, worker processes, CP-SAT bounds, and the int64 guard."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest
from factories import random_data

import matcher.flow as flow
import matcher.solver as solve_module
from matcher import MatchData, MatcherError, SolveStatus, build_problem, solve, validate
from matcher.solver import components, residual


def county_data(seed: int, unit: bool, referrals: int = 60) -> MatchData:
    """Three independent random plans (own service and providers each): at least three components."""
    rng = random.Random(seed)
    parts = []
    for k in "ABC":
        d = random_data(rng, unit=unit, referrals=referrals // 3, sites=4)
        parts.append(MatchData(
            tuple(replace(r, referral_id=k + r.referral_id, service=k + r.service,
                          current_site=r.current_site and k + r.current_site,
                          preferred_providers=tuple(k + p for p in r.preferred_providers),
                          excluded_providers=frozenset(k + p for p in r.excluded_providers),
                          prior_providers=frozenset(k + p for p in r.prior_providers)) for r in d.referrals),
            tuple(replace(s, site_id=k + s.site_id, provider_id=k + s.provider_id, service=k + s.service,
                          contract_id=k + s.contract_id) for s in d.sites),
            tuple(replace(c, contract_id=k + c.contract_id, provider_id=k + c.provider_id, service=k + c.service)
                  for c in d.contracts),
        ))
    return MatchData(*(tuple(x for d in parts for x in getattr(d, f)) for f in ("referrals", "sites", "contracts")))


def test_components_never_share_a_pool() -> None:
    problem = build_problem(county_data(1, unit=True))
    usable = np.flatnonzero(residual(problem).usable)
    label = components(problem, usable)
    sites = problem.arc_site[usable]
    for s in np.unique(sites):
        assert len(set(label[sites == s].tolist())) == 1
    contracts = problem.site_contract[sites]
    for c in np.unique(contracts):
        assert len(set(label[contracts == c].tolist())) == 1


def test_worker_processes_find_the_same_plan_as_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    match = county_data(2, unit=True, referrals=90)
    problem = build_problem(match)
    alone = solve(problem, workers=1)
    monkeypatch.setattr(solve_module, "PARALLEL_ARCS", 1)
    together = solve(problem, workers=2)
    validate(together, problem, match)
    assert (together.placed, together.objective) == (alone.placed, alone.objective)
    assert together.components == alone.components > 1


def test_weighted_units_use_cp_sat_and_report_a_bound() -> None:
    match = county_data(3, unit=False, referrals=90)
    problem = build_problem(match)
    solution = solve(problem, workers=1, time_limit=5)
    validate(solution, problem, match)
    assert "CP-SAT" in solution.solver
    assert solution.bound <= solution.objective and 0 <= solution.gap < 1
    if solution.status == SolveStatus.OPTIMAL:
        assert solution.bound == solution.objective


def test_component_too_large_for_int64_is_refused_not_overflowed(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = build_problem(county_data(4, unit=True))
    monkeypatch.setattr(flow, "INT64_SAFE", 1000)
    with pytest.raises(MatcherError, match="too large for an exact int64"):
        solve(problem, workers=1)
