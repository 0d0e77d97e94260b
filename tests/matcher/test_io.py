"""Problem and solution files: round trips, the documented example, bad files."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest
from factories import random_data, random_problem

from matcher import Problem, ProblemError, build_problem, solve, validate
from matcher.io import (
    problem_from_dict,
    problem_to_dict,
    read_problem,
    read_solution,
    write_problem,
    write_solution,
)

DOC = Path(__file__).parents[2] / "docs" / "problem-format.md"


def documented_example() -> dict:
    return json.loads(re.search(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1))


def assert_same_problem(a: Problem, b: Problem) -> None:
    for name in Problem.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            assert x == y, name


def test_documented_example_parses_and_solves_as_the_doc_says() -> None:
    problem = problem_from_dict(documented_example())
    solution = solve(problem, workers=1)
    validate(solution, problem)
    assert solution.site_of("R1") == "S2"
    (unplaced,) = solution.unplaced
    assert (unplaced.referral_id, unplaced.reason.value, solution.objective) == ("R2", "ALL_IN_AREA_FULL", 66132)
    assert [n.site_id for n in unplaced.would_take] == ["S2"]
    assert [(m.referral_id, m.reason.value) for m in solution.moved] == [("R2", "DISPLACED_BY_MORE_URGENT")]


@pytest.mark.parametrize("columns", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_built_problem_round_trips_through_a_file(tmp_path: Path, seed: int, columns: bool) -> None:
    problem = build_problem(random_data(random.Random(seed), unit=False, referrals=8, sites=4))
    write_problem(problem, tmp_path / "p.json", columns=columns)
    assert_same_problem(problem, read_problem(tmp_path / "p.json"))


@pytest.mark.parametrize("seed", range(6))
def test_solution_round_trips_through_a_file(tmp_path: Path, seed: int) -> None:
    problem = random_problem(random.Random(seed), unit=bool(seed % 2))
    solution = solve(problem, workers=1)
    write_solution(solution, tmp_path / "s.json")
    again = read_solution(tmp_path / "s.json")
    assert again.assignments == solution.assignments and again.unplaced == solution.unplaced
    assert again.moved == solution.moved and (again.objective, again.placed) == (solution.objective, solution.placed)
    validate(again, problem)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["arcs"].append({"referral": "R9", "site": "S1", "cost": 1, "units": 1}),
         "names unknown referral 'R9'"),
        (lambda d: d["arcs"].append({"referral": "R1", "site": "S7", "cost": 1, "units": 1}),
         "names unknown site 'S7'"),
        (lambda d: d["arcs"].append({"referral": "R1", "site": "S1", "units": 1}), "has no 'cost'"),
        (lambda d: d["arcs"].append({"referral": "R1", "site": "S1", "cost": "5", "units": 1}),
         "'cost' must be int"),
        (lambda d: d["arcs"].append({"referral": "R1", "site": "S1", "cost": 5, "units": 1}),
         "duplicate arc ('R1', 'S1')"),
        (lambda d: d["sites"][0].update(capacity=-1), "has negative capacity -1"),
        (lambda d: d["contracts"].append({"id": "C1", "capacity": 1}), "duplicate contract id 'C1'"),
        (lambda d: d["referrals"].append({"id": "R1"}), "duplicate referral id 'R1'"),
        (lambda d: d["referrals"][0].update(block="BUSY"), "unknown reason 'BUSY'"),
        (lambda d: d.update(format="something-else"), "not a 'csmatch-problem' file"),
    ],
)
def test_bad_file_raises_problem_error_naming_the_record(change: object, message: str) -> None:
    document = documented_example()
    change(document)  # type: ignore[operator]
    with pytest.raises(ProblemError, match=re.escape(message)):
        problem_from_dict(document)


def test_unreadable_json_is_a_problem_error(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ProblemError, match="is not valid JSON"):
        read_problem(tmp_path / "bad.json")


def test_explicit_costs_are_kept_as_given() -> None:
    document = documented_example()
    problem = problem_from_dict(document)
    assert problem_to_dict(problem)["arcs"][0]["cost"] == 6012


def test_every_hard_rule_has_a_row_in_the_format_doc() -> None:
    from matcher.rules import HARD_RULES

    doc = DOC.read_text(encoding="utf-8")
    for name in [rule.name for rule in HARD_RULES] + ["eligibility", "candidate_pairs", "capacity_limits"]:
        assert f"| `{name}`" in doc, name
    for rule in HARD_RULES:
        assert f"`{rule.unplaced.value}`" in doc and f"`{rule.miss.value}`" in doc
