"""A statewide plan solved one service at a time: exact, and one service's arcs in memory at a time.

A referral asks for one service and a pool (a site delivering one contract's service) serves one,
so no arc, pool or rule joins two services: the eligibility graph's components never cross a
service, and solving the services apart gives the same optimum as solving them together. A
statewide plan has tens of millions of arcs (meals alone, a county with hundreds of contracted
kitchens, makes 40% of them); building and solving service by service holds only the largest
service's arcs and the solver's temporaries for them, not every service's at once.
"""

from __future__ import annotations

import time
from collections import defaultdict

from matcher.build import build_problem
from matcher.data import ContractPool, MatchData, ReferralDemand, ServiceSite
from matcher.reasons import SolveStatus
from matcher.solution import Solution
from matcher.solver import solve
from matcher.validate import validate

__all__ = ["merge_solutions", "solve_by_service", "split_by_service"]


def split_by_service(data: MatchData) -> list[MatchData]:
    """One :class:`MatchData` per service named by a referral, a site or a contract (sorted by service)."""
    referrals: dict[str, list[ReferralDemand]] = defaultdict(list)
    sites: dict[str, list[ServiceSite]] = defaultdict(list)
    contracts: dict[str, list[ContractPool]] = defaultdict(list)
    for r in data.referrals:
        referrals[r.service].append(r)
    for s in data.sites:
        sites[s.service].append(s)
    for c in data.contracts:
        contracts[c.service].append(c)
    services = sorted(set(referrals) | set(sites) | set(contracts))
    return [MatchData(referrals=tuple(referrals[k]), sites=tuple(sites[k]), contracts=tuple(contracts[k]))
            for k in services]


def merge_solutions(parts: list[Solution], *, runtime: float) -> Solution:
    """One :class:`Solution` of independent parts: counts, objectives and bounds add up.

    The plan is OPTIMAL only when every part is; lists are in referral order, as one solve gives.
    """
    solvers = list(dict.fromkeys(name for s in parts for name in s.solver.split(" + ") if name and name != "none"))
    return Solution(
        status=SolveStatus.OPTIMAL if all(s.status is SolveStatus.OPTIMAL for s in parts) else SolveStatus.FEASIBLE,
        objective=sum(s.objective for s in parts),
        bound=sum(s.bound for s in parts),
        placed=sum(s.placed for s in parts),
        runtime=runtime,
        components=sum(s.components for s in parts),
        assignments=tuple(sorted((a for s in parts for a in s.assignments), key=lambda a: a.referral_id)),
        unplaced=tuple(sorted((u for s in parts for u in s.unplaced), key=lambda u: u.referral_id)),
        moved=tuple(sorted((m for s in parts for m in s.moved), key=lambda m: m.referral_id)),
        solver=" + ".join(solvers) or "none",
        placed_bound=sum(s.placed_bound for s in parts),
    )


def solve_by_service(
    data: MatchData,
    *,
    time_limit: float = 30.0,
    workers: int | None = None,
    check: bool = True,
) -> Solution:
    """Build, solve and (with ``check``) validate each service's part; return the merged plan.

    ``time_limit`` is shared among the weighted parts in proportion to their referrals (flows are
    exact and untimed). Each part is checked by the independent
    :func:`matcher.validate.validate` against its own problem and data before its problem is
    dropped, so a breach still stops the run before anything is written.
    """
    started = time.perf_counter()
    solutions: list[Solution] = []
    # The largest service first, while the least is held (the other parts' answers come later).
    parts = sorted(split_by_service(data), key=lambda part: -len(part.referrals))
    # Only weighted parts (units that differ between referrals) spend solver time.
    weight = [len(p.referrals) if len({r.units for r in p.referrals}) > 1 else 0 for p in parts]
    remaining_time = time_limit
    for i, part in enumerate(parts):
        problem = build_problem(part)
        budget = remaining_time * weight[i] / sum(weight[i:]) if weight[i] else remaining_time
        t = time.perf_counter()
        solution = solve(problem, time_limit=budget, workers=workers)
        remaining_time = max(0.0, remaining_time - (time.perf_counter() - t))
        if check:
            validate(solution, problem, part)
        solutions.append(solution)
        del problem
    return merge_solutions(solutions, runtime=time.perf_counter() - started)
