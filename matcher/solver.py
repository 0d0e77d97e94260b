"""``solve``: the best plan the rules allow, exact where it can be, bounded where it cannot.

1. Accepted (locked) referrals keep their site; their units come off the pools first.
2. Arcs into pools without room for them are set aside (they still explain "full").
3. The eligibility graph is split into connected components (networkx, on a graph reduced to one
   node per pool) and each is solved on its own:
   * every arc of the component uses the same ``u`` units: a min-cost flow over referral
     classes (:mod:`matcher.flow`), the exact optimum: most placed, then least cost;
   * otherwise a generalized assignment problem (NP-hard). Up to ``EXACT_REFERRALS``
     referrals: CP-SAT over referral classes (:mod:`matcher.assign`), which proves small ones
     optimal within the time limit. Larger ones: the LP relaxation, a transportation problem
     solved as a min-cost flow, rounded and repaired (:mod:`matcher.relax`; mid-size ones are
     then polished by CP-SAT warm-started from it), with the LP's count bound and a
     Lagrangian bound on the cost, so ``gap`` stays honest.
4. Large flow parts go to worker processes only when ``workers`` > 1 (default 1: on a small
   shared machine a forked worker competes for the same cores and copies the inputs' pages).
5. :func:`matcher.explain.explain` turns the chosen arcs into an explained Solution.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Collection
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import networkx as nx
import numpy as np

from matcher.assign import kept_plan, solve_assignment
from matcher.errors import ProblemError
from matcher.explain import explain
from matcher.flow import solve_flow
from matcher.problem import NO_LIMIT, BoolArray, IntArray, Problem
from matcher.reasons import SolveStatus
from matcher.relax import solve_relaxed, uniform_units
from matcher.solution import Solution

__all__ = ["solve"]

#: Flow parts with more arcs than this are split across worker processes.
PARALLEL_ARCS = 400_000
#: Weighted components with at most this many referrals get exact CP-SAT; larger ones the LP
#: relaxation with rounding and repair (:mod:`matcher.relax`).
EXACT_REFERRALS = 300


@dataclass(frozen=True, eq=False)
class Residual:
    """Pool room left once locked referrals are counted; which arcs still fit."""

    site_left: IntArray
    contract_left: IntArray
    usable: BoolArray
    locked_arcs: IntArray


def residual(problem: Problem) -> Residual:
    """Take locked referrals' units off their pools, then mark the arcs that still fit."""
    p = problem
    on_current = p.arc_site == p.referral_current[p.arc_referral]
    locked_arcs = np.flatnonzero(p.referral_locked[p.arc_referral] & on_current)
    site_used = np.bincount(p.arc_site[locked_arcs], weights=p.arc_units[locked_arcs], minlength=p.n_sites)
    site_left = np.where(p.site_capacity == NO_LIMIT, NO_LIMIT,
                         np.maximum(p.site_capacity - site_used.astype(np.int64), 0))
    contract_used = np.zeros(len(p.contract_ids), dtype=np.int64)
    contracts = p.site_contract[p.arc_site[locked_arcs]]
    np.add.at(contract_used, contracts[contracts >= 0], p.arc_units[locked_arcs][contracts >= 0])
    contract_left = np.maximum(p.contract_capacity - contract_used, 0)
    return Residual(site_left, contract_left, fits(p, site_left, contract_left), locked_arcs)


def fits(problem: Problem, site_left: IntArray, contract_left: IntArray) -> BoolArray:
    """Arcs of free referrals whose units fit in what is left of their site and contract."""
    p = problem
    # Room per site first (its own and its contract's), then one gather per arc: at state scale
    # the arcs outnumber sites by thousands, and per-arc temporaries cost gigabytes.
    unlimited = np.iinfo(np.int64).max
    room = np.where(site_left == NO_LIMIT, unlimited, site_left)
    has = p.site_contract >= 0
    room[has] = np.minimum(room[has], contract_left[p.site_contract[has]])
    ok = room[p.arc_site] >= p.arc_units
    ok &= ~p.referral_locked[p.arc_referral]
    return ok


def components(problem: Problem, arcs: IntArray) -> IntArray:
    """Label each arc with its connected component of the eligibility graph.

    The graph joins a referral to the sites it may use and a site to its contract. It is reduced
    before networkx sees it: a referral joins its first site to each other one, so the graph has
    one node per pool, not one per referral (millions of arcs become thousands of edges).
    """
    p = problem
    if arcs.size == 0:
        return np.zeros(0, dtype=np.int64)
    referral = p.arc_referral[arcs]
    site = p.arc_site[arcs]
    if bool((referral[1:] >= referral[:-1]).all()):  # the builder's order: no sort, no copies
        starts = np.flatnonzero(np.r_[True, referral[1:] != referral[:-1]])
        del referral
        first_site = np.repeat(site[starts], np.diff(np.r_[starts, site.size]))
    else:
        order = np.argsort(referral, kind="stable")
        sorted_referral = referral[order]
        del referral
        starts = np.flatnonzero(np.r_[True, sorted_referral[1:] != sorted_referral[:-1]])
        group = np.cumsum(np.r_[False, sorted_referral[1:] != sorted_referral[:-1]])
        del sorted_referral
        first_site = np.empty_like(site)
        first_site[order] = site[order][starts][group]
        del order, group
    n_sites = p.n_sites
    if n_sites * n_sites <= 1 << 28:  # a bitmap of site pairs: one pass, no sort of every arc
        seen = np.zeros(n_sites * n_sites, dtype=bool)
        seen[first_site * n_sites + site] = True  # (first_site is reused below)
        edges = np.flatnonzero(seen)
        del seen
    else:
        edges = np.unique(first_site * n_sites + site)
    used_sites = np.flatnonzero(np.bincount(site, minlength=n_sites))
    del site
    contract = p.site_contract[used_sites]
    sites_with_contract = used_sites[contract >= 0]
    graph = nx.Graph()
    graph.add_nodes_from(used_sites.tolist())
    graph.add_edges_from(zip((edges // n_sites).tolist(), (edges % n_sites).tolist(), strict=True))
    graph.add_edges_from(zip(sites_with_contract.tolist(), (n_sites + contract[contract >= 0]).tolist(),
                             strict=True))
    label = np.full(n_sites + len(p.contract_ids), -1, dtype=np.int64)
    for i, nodes in enumerate(nx.connected_components(graph)):
        label[list(nodes)] = i
    return label[first_site]


def solve(
    problem: Problem, *, time_limit: float = 30.0, workers: int | None = None,
    focus_sites: Collection[str] | None = None,
) -> Solution:
    """Return the best plan for ``problem``: most members placed, then least cost.

    Parameters
    ----------
    problem : Problem
        From :func:`matcher.build_problem` or :func:`matcher.io.read_problem`.
    time_limit : float
        Seconds for the weighted (generalized assignment) parts: CP-SAT, the repair and the
        bound's refinement; min-cost flow parts, and the relaxation's flows, are untimed.
    workers : int, optional
        Processes for large flow parts (default 1: in process). CP-SAT uses
        :func:`matcher.assign.search_workers` threads.
    focus_sites : collection of str, optional
        For a re-solve after a change at these sites: only the components that hold them (or
        hold referrals proposed to them) are solved; every other referral keeps its current
        site. Valid when nothing else changed since the plan those current sites came from.

    Returns
    -------
    Solution
        Status OPTIMAL when every part was solved exactly, FEASIBLE with a bound otherwise.
        Infeasibility is never an exception: referrals that cannot be placed are ``unplaced``.

    Raises
    ------
    ProblemError
        If ``focus_sites`` names an unknown site.
    MatcherError
        If costs are too large for an exact int64 flow (never with :mod:`matcher.weights`).

    Examples
    --------
    >>> from matcher.data import ContractPool, MatchData, ReferralDemand, ServiceSite
    >>> from matcher.build import build_problem
    >>> data = MatchData(
    ...     referrals=(ReferralDemand("R1", "RESPITE", 1, "Napa", 38.30, -122.29, business_days_waited=12),
    ...                ReferralDemand("R2", "RESPITE", 1, "Napa", 38.31, -122.29)),
    ...     sites=(ServiceSite("S1", "P1", "RESPITE", frozenset({"Napa"}), 38.29, -122.28, "C1"),),
    ...     contracts=(ContractPool("C1", "P1", "RESPITE", 1),),
    ... )
    >>> solution = solve(build_problem(data), workers=1)
    >>> solution.site_of("R1"), solution.unplaced[0].referral_id, solution.unplaced[0].reason.value
    ('S1', 'R2', 'ALL_IN_AREA_FULL')
    """
    started = time.perf_counter()
    workers = max(1, workers if workers is not None else 1)
    p = problem
    res = residual(p)
    chosen = np.full(p.n_referrals, -1, dtype=np.int64)
    chosen[p.arc_referral[res.locked_arcs]] = res.locked_arcs
    usable = np.flatnonzero(res.usable)
    label = components(p, usable)
    n_components = int(label.max()) + 1 if label.size else 0
    if focus_sites is not None:
        usable, label = _focus(p, chosen, usable, label, n_components, focus_sites)
    # Units per component: uniform -> flow, mixed -> CP-SAT.
    low, high = _unit_range(label, p.arc_units[usable], n_components)
    uniform = low == high
    has_arcs = np.bincount(label, minlength=n_components) > 0
    optimal = True
    bound_gap = 0  # sum over CP-SAT parts of (objective - bound)
    placed_gap = 0  # sum over CP-SAT parts of (placed bound - placed)
    # (Memory: usable, label and their selections are one value per arc; each is dropped once used.)
    on_flow = uniform[label]
    flow_arcs = usable[on_flow]
    paths = {"min-cost flow": bool(flow_arcs.size), "CP-SAT": False, "LP rounding": False}
    if flow_arcs.size:
        flow_label = label[on_flow]
        used = _solve_flows(p, res, flow_arcs, flow_label, low, workers)
        chosen[p.arc_referral[used]] = used
        del flow_label, used
    del flow_arcs
    mixed = np.flatnonzero(~uniform & has_arcs)
    if mixed.size:
        np.logical_not(on_flow, out=on_flow)
        mixed_arcs = usable[on_flow]
        mixed_label = label[on_flow]
        del usable, label, on_flow
        if not bool((mixed_label[1:] >= mixed_label[:-1]).all()):
            order = np.argsort(mixed_label, kind="stable")
            mixed_arcs, mixed_label = mixed_arcs[order], mixed_label[order]
            del order
        bounds = np.searchsorted(mixed_label, np.append(mixed, mixed[-1] + 1))
        del mixed_label
        sizes = np.diff(bounds)
        remaining_time, remaining_arcs = time_limit, int(sizes.sum())
        for i in np.argsort(sizes, kind="stable").tolist():
            part_arcs = mixed_arcs[bounds[i]:bounds[i + 1]]
            budget = remaining_time * part_arcs.size / max(remaining_arcs, 1)
            t0 = time.perf_counter()
            lo, hi = int(part_arcs[0]), int(part_arcs[-1]) + 1
            # A run of consecutive arcs (a service's one big component) is taken as views, not copies.
            take = slice(lo, hi) if hi - lo == part_arcs.size else part_arcs
            args = (_read_only(p.arc_referral[take]), _read_only(p.arc_site[take]), _read_only(p.arc_cost[take]),
                    _read_only(p.arc_units[take]), p.referral_penalty, res.site_left, p.site_contract,
                    res.contract_left)
            seen = np.zeros(p.n_referrals, dtype=bool)
            seen[args[0]] = True
            if int(seen.sum()) > EXACT_REFERRALS and uniform_units(args[0], args[3]):
                part = solve_relaxed(*args, time_limit=budget, workers=workers, current_site=p.referral_current)
                paths["LP rounding"] = True
            else:
                start = kept_plan(args[0], args[1], args[3], *args[4:], p.referral_current)
                part = solve_assignment(*args, time_limit=budget, workers=workers, start=start)
                paths["CP-SAT"] = True
            remaining_time = max(0.0, remaining_time - (time.perf_counter() - t0))
            remaining_arcs -= part_arcs.size
            used = part_arcs[part.chosen]
            chosen[p.arc_referral[used]] = used
            optimal &= part.optimal
            placed_gap += part.placed_bound - int(part.chosen.size)
            bound_gap += part.objective - part.bound
    solver = " + ".join(name for name, used in paths.items() if used)
    return explain(
        p, chosen, res,
        status=SolveStatus.OPTIMAL if optimal else SolveStatus.FEASIBLE,
        bound_gap=bound_gap, placed_gap=placed_gap, started=started, components=n_components, solver=solver or "none",
    )


def _read_only(a: IntArray) -> IntArray:
    """A read-only view: the solver paths must never write into the problem's columns."""
    view = a.view()
    view.flags.writeable = False
    return view


def _unit_range(label: IntArray, units: IntArray, n: int) -> tuple[IntArray, IntArray]:
    """Least and most units of an arc in each component (empty ones: max int64 and 0)."""
    low = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    high = np.zeros(n, dtype=np.int64)
    top = int(units.max(initial=0)) + 1
    if units.size and n * top <= 1 << 24:  # a histogram: one pass (ufunc.at is slow on millions)
        present = np.bincount(label * top + units, minlength=n * top).reshape(n, top) > 0
        has = present.any(axis=1)
        low[has] = np.argmax(present[has], axis=1)
        high[has] = top - 1 - np.argmax(present[has][:, ::-1], axis=1)
    else:
        np.minimum.at(low, label, units)
        np.maximum.at(high, label, units)
    return low, high


def _focus(
    p: Problem, chosen: IntArray, usable: IntArray, label: IntArray, n_components: int, focus_sites: Collection[str]
) -> tuple[IntArray, IntArray]:
    """Keep current sites outside the components touched by ``focus_sites``; return the rest."""
    focus = np.zeros(p.n_sites, dtype=bool)
    for site_id in focus_sites:
        if site_id not in p.site_index:
            raise ProblemError(f"focus site {site_id!r} is not in the problem")
        focus[p.site_index[site_id]] = True
    touched = np.zeros(p.n_referrals, dtype=bool)
    touched[p.arc_referral[focus[p.arc_site]]] = True
    touched |= (p.referral_current >= 0) & focus[np.maximum(p.referral_current, 0)]
    active = np.zeros(n_components, dtype=bool)
    active[label[touched[p.arc_referral[usable]]]] = True
    kept = usable[~active[label]]
    on_current = kept[p.arc_site[kept] == p.referral_current[p.arc_referral[kept]]]
    chosen[p.arc_referral[on_current]] = on_current
    return usable[active[label]], label[active[label]]


def _solve_flows(
    p: Problem, res: Residual, arcs: IntArray, label: IntArray, component_units: IntArray, workers: int
) -> IntArray:
    """Solve the flow components, in worker processes when they are large; returns arcs used."""
    args = (p.arc_referral, p.arc_site, p.arc_cost, p.referral_penalty, res.site_left, p.site_contract,
            res.contract_left)
    if workers == 1 or arcs.size < PARALLEL_ARCS:
        return arcs[solve_flow(*_part_args(args, arcs, label, component_units))]
    # Balance whole components over the workers by arc count (largest first).
    sizes = np.bincount(label)
    loads = [0] * workers
    owner = np.zeros(sizes.size, dtype=np.int64)
    for component in np.argsort(-sizes, kind="stable").tolist():
        k = loads.index(min(loads))
        owner[component] = k
        loads[k] += int(sizes[component])
    chunks = [np.flatnonzero(owner[label] == k) for k in range(workers)]
    chunks = [c for c in chunks if c.size]
    if len(chunks) == 1:
        return arcs[solve_flow(*_part_args(args, arcs, label, component_units))]
    # Forked workers inherit the inputs (copy-on-write) instead of receiving millions of pickled
    # arcs; the parent solves the first chunk meanwhile.
    global _FORKED
    _FORKED = [_part_args(args, arcs[c], label[c], component_units) for c in chunks]
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=len(chunks) - 1, mp_context=context) as pool:
            futures = [pool.submit(_forked_flow, k) for k in range(1, len(chunks))]
            used = [arcs[chunks[0]][solve_flow(*_FORKED[0])]]
            used += [arcs[c][f.result()] for c, f in zip(chunks[1:], futures, strict=True)]
    finally:
        _FORKED = []
    return np.concatenate(used)


#: Inputs of the flow chunks, read by forked workers (set only while a pool runs).
_FORKED: list[tuple[IntArray, ...]] = []


def _forked_flow(k: int) -> IntArray:
    return solve_flow(*_FORKED[k])


def _part_args(
    args: tuple[IntArray, ...], arcs: IntArray, label: IntArray, component_units: IntArray
) -> tuple[IntArray, ...]:
    arc_referral, arc_site, arc_cost, penalty, site_left, site_contract, contract_left = args
    return (arc_referral[arcs], arc_site[arcs], arc_cost[arcs], label, component_units, penalty,
            site_left, site_contract, contract_left)

