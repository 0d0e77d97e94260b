"""``csmatch solve problem.json -o solution.json``: solve a problem file without a database."""

from __future__ import annotations

from pathlib import Path

import click

from matcher.errors import ProblemError
from matcher.io import read_problem, write_solution
from matcher.solver import solve

__all__ = ["commands", "solve_command"]


@click.command("solve")
@click.argument("problem_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True,
              help="Where to write the solution JSON.")
@click.option("--time-limit", type=click.FloatRange(min=0.0, min_open=True), default=30.0, show_default=True,
              help="Seconds for the weighted (hours, meals) parts; flow parts are exact.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes for large flow parts; default 1 (in process).")
def solve_command(problem_file: Path, output: Path, time_limit: float, workers: int | None) -> None:
    """Solve PROBLEM_FILE (see docs/problem-format.md) and write the plan to OUTPUT."""
    try:
        problem = read_problem(problem_file)
    except ProblemError as error:
        raise click.BadParameter(str(error), param_hint=["PROBLEM_FILE"]) from None
    solution = solve(problem, time_limit=time_limit, workers=workers)
    write_solution(solution, output)
    click.echo(
        f"{solution.status}: placed {solution.placed} of {problem.n_referrals}, objective {solution.objective}, "
        f"gap {solution.gap:.2%}, {solution.components} components, {solution.runtime:.2f} s -> {output}"
    )


#: Commands the top-level ``csmatch`` group registers.
commands: list[click.Command] = [solve_command]
