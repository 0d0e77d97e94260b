"""The independent checker catches each kind of broken plan, naming the referral or site."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from factories import data, referral, site

from matcher import Assignment, CostTerms, Solution, Unplaced, UnplacedReason, ValidationError, build_problem, solve
from matcher.validate import validate


@pytest.fixture
def case() -> tuple:
    match = data(
        [referral("R1", business_days_waited=12), referral("R2"), referral("R3", required_language="Hmong")],
        [site("S1", remaining_units=1), site("S2", remaining_units=1, reported_full=True)],
    )
    problem = build_problem(match)
    return match, problem, solve(problem, workers=1)


def test_a_correct_plan_passes(case: tuple) -> None:
    match, problem, solution = case
    validate(solution, problem, match)


def _swap(solution: Solution, referral_id: str, **fields: object) -> Solution:
    assignments = tuple(replace(a, **fields) if a.referral_id == referral_id else a for a in solution.assignments)
    return replace(solution, assignments=assignments)


def test_overfull_site_is_caught(case: tuple) -> None:
    match, problem, solution = case
    extra = Assignment("R2", "S1", "P-S1", 1, 0, CostTerms())
    broken = replace(solution, assignments=(*solution.assignments, extra),
                     unplaced=tuple(u for u in solution.unplaced if u.referral_id != "R2"))
    with pytest.raises(ValidationError, match=re.escape("site 'S1' gets 2 units but has 1 open")):
        validate(broken, problem)


def test_parking_at_a_full_provider_is_caught(case: tuple) -> None:
    match, problem, solution = case
    broken = _swap(solution, "R1", site_id="S2", provider_id="P-S2")
    with pytest.raises(ValidationError, match=re.escape("referral 'R1' is parked at 'S2', which reported full")):
        validate(broken, problem)


def test_missing_referral_is_caught(case: tuple) -> None:
    match, problem, solution = case
    broken = replace(solution, unplaced=solution.unplaced[1:])
    with pytest.raises(ValidationError, match="is neither placed nor reported unplaced"):
        validate(broken, problem)


def test_wrong_objective_is_caught(case: tuple) -> None:
    match, problem, solution = case
    with pytest.raises(ValidationError, match="objective is"):
        validate(replace(solution, objective=solution.objective + 1), problem)


def test_leaving_a_member_out_while_a_site_has_room_is_caught() -> None:
    match = data([referral("R1")], [site("S1", remaining_units=1)])
    problem = build_problem(match)
    lazy = Solution(solve(problem, workers=1).status, int(problem.referral_penalty[0]), 0, 0, 0.0, 0, (),
                    (Unplaced("R1", UnplacedReason.ALL_IN_AREA_FULL, int(problem.referral_penalty[0])),))
    with pytest.raises(ValidationError, match=re.escape("referral 'R1' is unplaced but site 'S1' has room")):
        validate(lazy, problem)


def test_hard_rule_broken_in_the_data_is_caught(case: tuple) -> None:
    match, problem, solution = case
    hmong = replace(match, referrals=tuple(replace(r, required_language="Hmong") if r.referral_id == "R1" else r
                                           for r in match.referrals))
    with pytest.raises(ValidationError, match=re.escape("referral 'R1' at 'S1' breaks required language ('Hmong')")):
        validate(solution, problem, hmong)


def test_cost_terms_disagreeing_with_the_records_are_caught(case: tuple) -> None:
    match, problem, solution = case
    moved_away = replace(match, referrals=tuple(replace(r, preferred_providers=("PX",)) if r.referral_id == "R1"
                                                else r for r in match.referrals))
    with pytest.raises(ValidationError, match=re.escape("referral 'R1' at 'S1': terms")):
        validate(solution, problem, moved_away)
