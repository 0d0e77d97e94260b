"""``solve``: the best plan the rules allow, exact where it can be, bounded where it cannot.

1. Accepted (locked) referrals keep their site; their units come off the pools first.
2. Arcs into pools without room for them are set aside (they still explain "full").
3. The eligibility graph is split into connected components (networkx) and each is solved alone:
   * every arc of the component uses the same ``u`` units: a min-cost flow (OR-Tools
     ``SimpleMinCostFlow``; capacities divided by ``u``), which is the exact optimum;
   * otherwise a generalized assignment problem (NP-hard): CP-SAT under a time limit, first the
     most members placed, then the least cost at that count, with the best bound and gap.
4. Large flow parts go to worker processes (``workers``); ``workers=1`` stays in process.

An unplaced referral costs its penalty plus a placement constant
(:func:`matcher.weights.placement_constant`) larger than any sum of everything else in its
component, so the number placed is maximal.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import networkx as nx
import numpy as np
from ortools.graph.python import min_cost_flow
from ortools.sat.python import cp_model

from matcher.errors import MatcherError
from matcher.explain import explain
from matcher.problem import NO_LIMIT, BoolArray, IntArray, Problem
from matcher.reasons import SolveStatus
from matcher.solution import Solution

__all__ = ["solve"]

#: Flow parts with more arcs than this are split across worker processes.
PARALLEL_ARCS = 400_000
#: Scaled costs must stay below this (OR-Tools multiplies costs by the node count).
_INT64_SAFE = 2**62


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
    left = site_left[p.arc_site]
    contract = p.site_contract[p.arc_site]
    contract_room = np.where(contract >= 0, contract_left[np.maximum(contract, 0)], NO_LIMIT)
    site_ok = (left == NO_LIMIT) | (left >= p.arc_units)
    contract_ok = (contract_room == NO_LIMIT) | (contract_room >= p.arc_units)
    return np.asarray(~p.referral_locked[p.arc_referral] & site_ok & contract_ok)


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
    order = np.argsort(referral, kind="stable")
    sorted_referral = referral[order]
    starts = np.flatnonzero(np.r_[True, sorted_referral[1:] != sorted_referral[:-1]])
    group = np.cumsum(np.r_[False, sorted_referral[1:] != sorted_referral[:-1]])
    first_site = np.empty_like(site)
    first_site[order] = site[order][starts][group]
    n_sites = p.n_sites
    edges = np.unique(first_site * n_sites + site)
    contract = p.site_contract[np.unique(site)]
    sites_with_contract = np.unique(site)[contract >= 0]
    graph = nx.Graph()
    graph.add_nodes_from(np.unique(site).tolist())
    graph.add_edges_from(zip((edges // n_sites).tolist(), (edges % n_sites).tolist(), strict=True))
    graph.add_edges_from(zip(sites_with_contract.tolist(), (n_sites + contract[contract >= 0]).tolist(),
                             strict=True))
    label = np.full(n_sites + len(p.contract_ids), -1, dtype=np.int64)
    for i, nodes in enumerate(nx.connected_components(graph)):
        label[list(nodes)] = i
    return label[first_site]


@dataclass(frozen=True)
class _Part:
    """Outcome of one solver call: chosen arcs and whether they are proven optimal."""

    chosen: IntArray
    optimal: bool
    bound: int  # lower bound on (arc costs + penalties) of the part's referrals
    objective: int


def _flow_part(
    arc_referral: IntArray, arc_site: IntArray, arc_cost: IntArray, arc_component: IntArray,
    component_units: IntArray, penalty: IntArray, site_left: IntArray, site_contract: IntArray,
    contract_left: IntArray,
) -> IntArray:
    """Min-cost flow over whole components; returns the positions (into the given arcs) used.

    Nodes: referrals (supply 1), sites, contracts, one sink. Arcs: referral->site (cost of the
    arc), referral->sink (unplaced: placement constant + penalty), site->contract->sink (room
    in units of the component's ``u``).
    """
    refs, ref_local = np.unique(arc_referral, return_inverse=True)
    sites, site_local = np.unique(arc_site, return_inverse=True)
    n_r, n_s = refs.size, sites.size
    contracts_of_sites = site_contract[sites]
    contracts, contract_local = np.unique(contracts_of_sites[contracts_of_sites >= 0], return_inverse=True)
    n_c = contracts.size
    sink = n_r + n_s + n_c
    # Per referral: component, and so u and placement constant.
    ref_component = np.empty(n_r, dtype=np.int64)
    ref_component[ref_local] = arc_component
    components_, comp_local = np.unique(ref_component, return_inverse=True)
    count = np.bincount(comp_local, minlength=components_.size)
    max_penalty = np.zeros(components_.size, dtype=np.int64)
    np.maximum.at(max_penalty, comp_local, penalty[refs])
    max_cost = np.zeros(components_.size, dtype=np.int64)
    np.maximum.at(max_cost, comp_local[ref_local], arc_cost)
    constant = count * (max_penalty + max_cost) + 1  # matcher.weights.placement_constant, vectorised
    unplaced_cost = constant[comp_local] + penalty[refs]
    nodes = n_r + n_s + n_c + 1
    if unplaced_cost.size and int(unplaced_cost.max()) > _INT64_SAFE // (nodes + 1):
        raise MatcherError(
            f"a component of {int(count.max())} referrals is too large for an exact int64 flow objective"
        )
    # Room per site / contract in units of its component's u (exact: every arc there uses u).
    site_u = np.ones(n_s, dtype=np.int64)
    site_u[site_local] = component_units[arc_component]
    left = site_left[sites]
    site_cap = np.where(left == NO_LIMIT, n_r, left // site_u)
    has_contract = contracts_of_sites >= 0
    contract_u = np.ones(n_c, dtype=np.int64)
    contract_u[contract_local] = site_u[has_contract]
    contract_cap = contract_left[contracts] // contract_u
    site_head = np.full(n_s, sink, dtype=np.int64)
    site_head[has_contract] = n_r + n_s + contract_local
    tails = np.concatenate([ref_local, np.arange(n_r), n_r + np.arange(n_s), n_r + n_s + np.arange(n_c)])
    heads = np.concatenate([n_r + site_local, np.full(n_r, sink), site_head, np.full(n_c, sink)])
    capacities = np.concatenate([np.ones(arc_referral.size + n_r, dtype=np.int64), site_cap, contract_cap])
    costs = np.concatenate([arc_cost, unplaced_cost, np.zeros(n_s + n_c, dtype=np.int64)])
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
    supplies = np.ones(nodes, dtype=np.int64)
    supplies[n_r:] = 0
    supplies[sink] = -n_r
    flow.set_nodes_supplies(np.arange(nodes), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise MatcherError(f"min-cost flow ended with status {status!r}")
    return np.flatnonzero(flow.flows(arcs[: arc_referral.size]) > 0)


def _greedy(arcs: list[int], p: Problem, site_left: dict[int, int], contract_left: dict[int, int]) -> set[int]:
    """Most urgent first, cheapest arc that fits: a hint for CP-SAT and its fallback."""
    by_referral: dict[int, list[int]] = {}
    for a in arcs:
        by_referral.setdefault(int(p.arc_referral[a]), []).append(a)
    chosen: set[int] = set()
    for r in sorted(by_referral, key=lambda r: (-int(p.referral_penalty[r]), r)):
        for a in sorted(by_referral[r], key=lambda a: (int(p.arc_cost[a]), a)):
            s, u = int(p.arc_site[a]), int(p.arc_units[a])
            c = int(p.site_contract[s])
            if site_left[s] != NO_LIMIT and site_left[s] < u:
                continue
            if c >= 0 and contract_left[c] < u:
                continue
            if site_left[s] != NO_LIMIT:
                site_left[s] -= u
            if c >= 0:
                contract_left[c] -= u
            chosen.add(a)
            break
    return chosen


def _assignment_part(p: Problem, arcs: IntArray, res: Residual, time_limit: float, workers: int) -> _Part:
    """Generalized assignment of one component with CP-SAT: most placed, then least cost."""
    # Data
    arc_list = arcs.tolist()
    referrals = sorted({int(r) for r in p.arc_referral[arcs]})
    sites = sorted({int(s) for s in p.arc_site[arcs]})
    contracts = sorted({int(p.site_contract[s]) for s in sites if p.site_contract[s] >= 0})
    site_left = {s: int(res.site_left[s]) for s in sites}
    contract_left = {c: int(res.contract_left[c]) for c in contracts}
    hint = _greedy(arc_list, p, dict(site_left), dict(contract_left))
    # Model / Variables
    model = cp_model.CpModel()
    x = {a: model.new_bool_var(f"x[{p.referral_ids[p.arc_referral[a]]},{p.site_ids[p.arc_site[a]]}]")
         for a in arc_list}
    # Constraints: each referral at most one site (7003 VI.E.5: never two providers).
    by_referral: dict[int, list[int]] = {r: [] for r in referrals}
    by_site: dict[int, list[int]] = {s: [] for s in sites}
    by_contract: dict[int, list[int]] = {c: [] for c in contracts}
    for a in arc_list:
        by_referral[int(p.arc_referral[a])].append(a)
        s = int(p.arc_site[a])
        by_site[s].append(a)
        if p.site_contract[s] >= 0:
            by_contract[int(p.site_contract[s])].append(a)
    for r_arcs in by_referral.values():
        model.add_at_most_one(x[a] for a in r_arcs)
    # Capacity (7003 VI.E.6): units used never exceed what is left at the site and the contract.
    for pool_arcs, left in [(by_site[s], site_left[s]) for s in sites] + [
        (by_contract[c], contract_left[c]) for c in contracts
    ]:
        if left != NO_LIMIT and sum(int(p.arc_units[a]) for a in pool_arcs) > left:
            model.add(sum(int(p.arc_units[a]) * x[a] for a in pool_arcs) <= left)
    for a in arc_list:
        model.add_hint(x[a], a in hint)
    # Objective, phase 1: place the most members.
    deadline = time.perf_counter() + time_limit
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = max(1, workers)
    solver.parameters.max_time_in_seconds = max(0.05, 0.4 * time_limit)
    placed = [x[a] for a in arc_list]
    model.maximize(sum(placed))
    status = solver.solve(model)
    count_optimal = status == cp_model.OPTIMAL
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        best_count = int(round(solver.objective_value))
        phase1 = {a for a in arc_list if solver.boolean_value(x[a])}
    else:
        best_count, phase1 = len(hint), hint
    if best_count < len(hint):
        best_count, phase1 = len(hint), hint
    # Objective, phase 2: least cost among plans placing that many.
    model.clear_hints()
    for a in arc_list:
        model.add_hint(x[a], a in phase1)
    model.add(sum(placed) >= best_count)
    penalty_total = sum(int(p.referral_penalty[r]) for r in referrals)
    model.minimize(
        sum((int(p.arc_cost[a]) - int(p.referral_penalty[p.arc_referral[a]])) * x[a] for a in arc_list)
        + penalty_total
    )
    solver.parameters.max_time_in_seconds = max(0.05, deadline - time.perf_counter())
    status = solver.solve(model)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        picked = {a for a in arc_list if solver.boolean_value(x[a])}
        bound = int(math.ceil(solver.best_objective_bound - 1e-6))
    else:
        picked, bound = phase1, 0
    # A time-limited plan may leave a member out who still fits somewhere: place them.
    for a in picked:
        s, u = int(p.arc_site[a]), int(p.arc_units[a])
        if site_left[s] != NO_LIMIT:
            site_left[s] -= u
        if p.site_contract[s] >= 0:
            contract_left[int(p.site_contract[s])] -= u
    placed_referrals = {int(p.arc_referral[a]) for a in picked}
    picked |= _greedy([a for a in arc_list if int(p.arc_referral[a]) not in placed_referrals], p, site_left,
                      contract_left)
    objective = penalty_total + sum(int(p.arc_cost[a]) - int(p.referral_penalty[p.arc_referral[a]]) for a in picked)
    optimal = count_optimal and status == cp_model.OPTIMAL
    return _Part(np.array(sorted(picked), dtype=np.int64), optimal, min(bound, objective), objective)


def solve(problem: Problem, *, time_limit: float = 30.0, workers: int | None = None) -> Solution:
    """Return the best plan for ``problem``: most members placed, then least cost.

    Parameters
    ----------
    problem : Problem
        From :func:`matcher.build_problem` or :func:`matcher.io.read_problem`.
    time_limit : float
        Seconds for the CP-SAT parts (weighted units); min-cost flow parts are exact and untimed.
    workers : int, optional
        Processes for large flow parts and CP-SAT search workers; default: the CPU count.

    Returns
    -------
    Solution
        Status OPTIMAL when every part was solved exactly, FEASIBLE with a bound otherwise.
        Infeasibility is never an exception: referrals that cannot be placed are ``unplaced``.

    Raises
    ------
    MatcherError
        If a component is too large for an exact int64 objective (over about two million
        referrals sharing pools).

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
    workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
    p = problem
    res = residual(p)
    chosen = np.full(p.n_referrals, -1, dtype=np.int64)
    chosen[p.arc_referral[res.locked_arcs]] = res.locked_arcs
    usable = np.flatnonzero(res.usable)
    label = components(p, usable)
    n_components = int(label.max()) + 1 if label.size else 0
    # Units per component: uniform -> flow, mixed -> CP-SAT.
    units = p.arc_units[usable]
    low = np.full(n_components, np.iinfo(np.int64).max, dtype=np.int64)
    high = np.zeros(n_components, dtype=np.int64)
    np.minimum.at(low, label, units)
    np.maximum.at(high, label, units)
    uniform = low == high
    optimal = True
    bound_gap = 0  # sum over CP-SAT parts of (objective - bound)
    flow_arcs = usable[uniform[label]]
    if flow_arcs.size:
        flow_label = label[uniform[label]]
        used = _solve_flows(p, res, flow_arcs, flow_label, low, workers)
        chosen[p.arc_referral[used]] = used
    mixed = np.flatnonzero(~uniform)
    if mixed.size:
        mixed_arcs = usable[~uniform[label]]
        mixed_label = label[~uniform[label]]
        order = np.argsort(mixed_label, kind="stable")
        mixed_arcs, mixed_label = mixed_arcs[order], mixed_label[order]
        bounds = np.searchsorted(mixed_label, np.append(mixed, mixed[-1] + 1))
        sizes = np.diff(bounds)
        remaining_time, remaining_arcs = time_limit, int(sizes.sum())
        for i in np.argsort(sizes, kind="stable").tolist():
            part_arcs = mixed_arcs[bounds[i]:bounds[i + 1]]
            budget = remaining_time * part_arcs.size / max(remaining_arcs, 1)
            t0 = time.perf_counter()
            part = _assignment_part(p, part_arcs, res, budget, workers)
            remaining_time = max(0.0, remaining_time - (time.perf_counter() - t0))
            remaining_arcs -= part_arcs.size
            chosen[p.arc_referral[part.chosen]] = part.chosen
            optimal &= part.optimal
            bound_gap += part.objective - part.bound
    solver = " + ".join(name for name, used in (("min-cost flow", flow_arcs.size), ("CP-SAT", mixed.size)) if used)
    return explain(
        p, chosen, res,
        status=SolveStatus.OPTIMAL if optimal else SolveStatus.FEASIBLE,
        bound_gap=bound_gap, started=started, components=n_components, solver=solver or "none",
    )


def _solve_flows(
    p: Problem, res: Residual, arcs: IntArray, label: IntArray, component_units: IntArray, workers: int
) -> IntArray:
    """Solve the flow components, in worker processes when they are large; returns arcs used."""
    args = (p.arc_referral, p.arc_site, p.arc_cost, p.referral_penalty, res.site_left, p.site_contract,
            res.contract_left)
    if workers == 1 or arcs.size < PARALLEL_ARCS:
        return arcs[_flow_part(*_part_args(args, arcs, label, component_units))]
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
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=len(chunks), mp_context=context) as pool:
        futures = [pool.submit(_flow_part, *_part_args(args, arcs[c], label[c], component_units)) for c in chunks]
        return np.concatenate([arcs[c][f.result()] for c, f in zip(chunks, futures, strict=True)])


def _part_args(
    args: tuple[IntArray, ...], arcs: IntArray, label: IntArray, component_units: IntArray
) -> tuple[IntArray, ...]:
    arc_referral, arc_site, arc_cost, penalty, site_left, site_contract, contract_left = args
    return (arc_referral[arcs], arc_site[arcs], arc_cost[arcs], label, component_units, penalty,
            site_left, site_contract, contract_left)

