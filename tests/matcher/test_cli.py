"""``csmatch solve``: file in, file out, with CliRunner."""

from __future__ import annotations

import json
import random
from pathlib import Path

from click.testing import CliRunner
from factories import random_data

from matcher import build_problem, solve
from matcher.cli import commands, solve_command
from matcher.io import problem_to_dict, read_problem, read_solution, write_problem


def test_solve_round_trips_an_explicit_arc_file(tmp_path: Path) -> None:
    problem = build_problem(random_data(random.Random(11), unit=True, referrals=8, sites=4))
    write_problem(problem, tmp_path / "problem.json")
    document = json.loads((tmp_path / "problem.json").read_text(encoding="utf-8"))
    for arc in document["arcs"]:  # keep only cost and units: a file made elsewhere
        del arc["terms"], arc["miles"]
    (tmp_path / "explicit.json").write_text(json.dumps(document), encoding="utf-8")
    result = CliRunner().invoke(solve_command, [str(tmp_path / "explicit.json"), "-o", str(tmp_path / "out.json"),
                                                "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "OPTIMAL: placed" in result.output
    solution = read_solution(tmp_path / "out.json")
    direct = solve(read_problem(tmp_path / "explicit.json"), workers=1)
    assert (solution.placed, solution.objective) == (direct.placed, direct.objective)
    assert solution.objective == solve(problem, workers=1).objective
    assert problem_to_dict(read_problem(tmp_path / "explicit.json"))["arcs"][0]["cost"] == document["arcs"][0]["cost"]


def test_solve_rejects_a_bad_file_naming_the_record(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(json.dumps({"referrals": [{"id": "R1"}], "sites": [],
                                                    "arcs": [{"referral": "R1", "site": "S1", "cost": 1, "units": 1}]}))
    result = CliRunner().invoke(solve_command, [str(tmp_path / "bad.json"), "-o", str(tmp_path / "out.json")])
    assert result.exit_code == 2
    assert "names unknown site 'S1'" in result.output
    assert not (tmp_path / "out.json").exists()


def test_solve_is_offered_to_the_top_level_group() -> None:
    assert solve_command in commands and solve_command.name == "solve"
