"""What a user would otherwise do, on the same Problem, scored the same way as csmatch.

* :func:`raw_flow`: OR-Tools ``SimpleMinCostFlow`` on the plain per-referral network (no classes,
  no components, arcs added in bulk from numpy): the yardstick for csmatch's flow path.
* :func:`greedy_first_come`: longest-waiting referral first, cheapest site with room (by hand).
* :func:`networkx_flow`: ``networkx.max_flow_min_cost`` on the same network.
* :func:`monolithic_cp_sat`: one CP-SAT model, a boolean per arc, one objective with a global
  placement constant, time-limited.

Each returns the chosen arc per referral (-1: unplaced) plus solver figures; :func:`score` turns
that into (placed, objective) exactly like :class:`matcher.Solution` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ortools.graph.python import min_cost_flow
from ortools.sat.python import cp_model

from matcher import Problem
from matcher.problem import NO_LIMIT, IntArray
from matcher.solver import residual
from matcher.weights import placement_constant


def score(problem: Problem, chosen: IntArray) -> tuple[int, int]:
    """``(placed, objective)``: objective = placed arcs' cost + unplaced referrals' penalty."""
    placed = chosen >= 0
    return int(placed.sum()), int(problem.arc_cost[chosen[placed]].sum()) + int(problem.referral_penalty[~placed].sum())


def _network(problem: Problem) -> dict[str, Any]:
    """Per-referral network: referral -> site -> contract -> sink, usable arcs only."""
    p = problem
    res = residual(p)
    arcs = np.flatnonzero(res.usable)
    n, s, c = p.n_referrals, p.n_sites, len(p.contract_ids)
    sink = n + s + c
    site_cap = np.where(res.site_left == NO_LIMIT, n, res.site_left)
    has = p.site_contract >= 0
    site_head = np.where(has, n + s + p.site_contract, sink)
    return {"arcs": arcs, "n": n, "s": s, "c": c, "sink": sink, "site_cap": site_cap, "site_head": site_head,
            "contract_cap": res.contract_left}


def raw_flow(problem: Problem) -> tuple[IntArray, dict[str, Any]]:
    """Max flow with min cost on the per-referral network (the same objective as csmatch)."""
    p = problem
    g = _network(p)
    arcs, n, s, c, sink = g["arcs"], g["n"], g["s"], g["c"], g["sink"]
    top = int(p.referral_penalty.max(initial=0))
    ref = p.arc_referral[arcs]
    tails = np.concatenate([ref, n + np.arange(s), n + s + np.arange(c)])
    heads = np.concatenate([n + p.arc_site[arcs], g["site_head"], np.full(c, sink)])
    capacities = np.concatenate([np.ones(arcs.size, np.int64), g["site_cap"], g["contract_cap"]])
    costs = np.concatenate([p.arc_cost[arcs] + top - p.referral_penalty[ref], np.zeros(s + c, np.int64)])
    flow = min_cost_flow.SimpleMinCostFlow()
    handles = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
    supplies = np.zeros(sink + 1, np.int64)
    supplies[:n] = 1
    supplies[sink] = -n
    flow.set_nodes_supplies(np.arange(sink + 1), supplies)
    status = flow.solve_max_flow_with_min_cost()
    used = arcs[flow.flows(handles[: arcs.size]) > 0]
    chosen = np.full(n, -1, np.int64)
    chosen[p.arc_referral[used]] = used
    return chosen, {"status": "OPTIMAL" if status == flow.OPTIMAL else str(status), "arcs": int(tails.size)}


def greedy_first_come(problem: Problem) -> tuple[IntArray, dict[str, Any]]:
    """Longest-waiting (highest penalty) first; each takes its cheapest site that has room."""
    p = problem
    res = residual(p)
    site_left = res.site_left.copy()
    contract_left = res.contract_left.copy()
    order = np.lexsort((p.arc_cost, p.arc_referral))
    start = np.searchsorted(p.arc_referral[order], np.arange(p.n_referrals + 1))
    usable = res.usable
    chosen = np.full(p.n_referrals, -1, np.int64)
    arc_site, arc_units, site_contract = p.arc_site.tolist(), p.arc_units.tolist(), p.site_contract.tolist()
    left, cleft = site_left.tolist(), contract_left.tolist()
    usable_list = usable.tolist()
    order_list = order.tolist()
    for r in np.argsort(-p.referral_penalty, kind="stable").tolist():
        for a in order_list[start[r]:start[r + 1]]:
            if not usable_list[a]:
                continue
            site, units = arc_site[a], arc_units[a]
            contract = site_contract[site]
            if left[site] != NO_LIMIT and left[site] < units:
                continue
            if contract >= 0 and cleft[contract] < units:
                continue
            if left[site] != NO_LIMIT:
                left[site] -= units
            if contract >= 0:
                cleft[contract] -= units
            chosen[r] = a
            break
    return chosen, {"status": "HEURISTIC"}


def networkx_flow(problem: Problem) -> tuple[IntArray, dict[str, Any]]:
    """``networkx.max_flow_min_cost`` on the per-referral network (unit demands only)."""
    import networkx as nx

    p = problem
    g = _network(p)
    arcs, n, s, c, sink = g["arcs"], g["n"], g["s"], g["c"], g["sink"]
    top = int(p.referral_penalty.max(initial=0))
    graph = nx.DiGraph()
    source = sink + 1
    for r in range(n):
        graph.add_edge(source, r, capacity=1, weight=top - int(p.referral_penalty[r]))
    for a, r, site, cost in zip(arcs.tolist(), p.arc_referral[arcs].tolist(), p.arc_site[arcs].tolist(),
                                p.arc_cost[arcs].tolist(), strict=True):
        del a
        graph.add_edge(r, n + site, capacity=1, weight=cost)
    for site in range(s):
        graph.add_edge(n + site, int(g["site_head"][site]), capacity=int(g["site_cap"][site]), weight=0)
    for k in range(c):
        graph.add_edge(n + s + k, sink, capacity=int(g["contract_cap"][k]), weight=0)
    flow = nx.max_flow_min_cost(graph, source, sink)
    chosen = np.full(n, -1, np.int64)
    arc_of = {(int(r), int(site)): int(a) for a, r, site in zip(arcs, p.arc_referral[arcs], p.arc_site[arcs],
                                                               strict=True)}
    for r in range(n):
        for head, f in flow[r].items():
            if f > 0:
                chosen[r] = arc_of[r, head - n]
    return chosen, {"status": "OPTIMAL"}


def monolithic_cp_sat(problem: Problem, time_limit: float, workers: int = 8) -> tuple[IntArray, dict[str, Any]]:
    """One CP-SAT model: a boolean per usable arc, a global placement constant, time-limited."""
    p = problem
    res = residual(p)
    arcs = np.flatnonzero(res.usable)
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{a}") for a in arcs.tolist()]
    ref = p.arc_referral[arcs]
    order = np.argsort(ref, kind="stable")
    bounds = np.flatnonzero(np.r_[True, ref[order][1:] != ref[order][:-1], True])
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        model.add_at_most_one(x[i] for i in order[lo:hi].tolist())
    units = p.arc_units[arcs]
    for pool, left in ((p.arc_site[arcs], res.site_left), (p.site_contract[p.arc_site[arcs]], res.contract_left)):
        by = np.argsort(pool, kind="stable")
        edges = np.flatnonzero(np.r_[True, pool[by][1:] != pool[by][:-1], True])
        for lo, hi in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
            key = int(pool[by][lo])
            if key < 0 or left[key] == NO_LIMIT:
                continue
            idx = by[lo:hi].tolist()
            model.add(cp_model.LinearExpr.weighted_sum([x[i] for i in idx], units[idx].tolist()) <= int(left[key]))
    constant = placement_constant(p.n_referrals, int(p.referral_penalty.max(initial=0)), int(p.arc_cost.max(initial=0)))
    gain = p.arc_cost[arcs] - p.referral_penalty[ref] - constant
    model.minimize(cp_model.LinearExpr.weighted_sum(x, gain.tolist()))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    chosen = np.full(p.n_referrals, -1, np.int64)
    figures: dict[str, Any] = {"status": solver.status_name(status), "arcs": int(arcs.size)}
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        values = np.array([solver.boolean_value(v) for v in x], dtype=bool)
        used = arcs[values]
        chosen[p.arc_referral[used]] = used
    return chosen, figures
