"""The bounded path: a generalized assignment over referral classes, solved by CP-SAT.

When units differ (respite hours, meals per week), filling capacity is a generalized assignment
problem (NP-hard). The model works on :mod:`matcher.classes`: one integer variable per (class,
site) arc counts the class's members sent there, one per penalty level counts those placed.
Solved in two phases under one time limit: first the most members placed, then the least cost
(arc costs plus unplaced penalties) at that count; the second phase's best bound is reported.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from matcher.classes import Classes, build_classes
from matcher.problem import NO_LIMIT, IntArray

__all__ = ["COUNT_SHARE", "SEARCH_WORKERS", "AssignmentResult", "kept_plan", "search_workers", "solve_assignment"]

#: Share of a part's time limit for phase 1 (the count); phase 2 gets the rest.
COUNT_SHARE = 0.6
#: CP-SAT search threads, at least: its portfolio needs several subsolvers (with two, the count
#: bounds of small weighted components went unproven: placed_bound 3,435 instead of 3,420 on the
#: 5,000-referral benchmark). Threads beyond the cores interleave within the time limit; they
#: are threads of this process, not processes.
SEARCH_WORKERS = 8


def search_workers(workers: int) -> int:
    """CP-SAT threads for a solve given ``workers``: ``SEARCH_WORKERS``, or more if asked."""
    return max(SEARCH_WORKERS, workers)


@dataclass(frozen=True)
class AssignmentResult:
    """Arcs used (positions into the given arcs), whether proven optimal, objective and bound."""

    chosen: IntArray
    optimal: bool
    objective: int
    bound: int
    placed_bound: int  # most members any plan could place (CP-SAT's bound of phase 1)


@dataclass(frozen=True, eq=False)
class _Data:
    """The class-level instance: class arcs with site, cost, units; pools with room."""

    classes: Classes
    site: IntArray  # per class arc: local site
    cost: IntArray
    units: IntArray
    site_left: IntArray  # per local site (NO_LIMIT: none of its own)
    site_contract: IntArray  # per local site: local contract or -1
    contract_left: IntArray
    rank: IntArray  # per class arc: the greedy tries lower ranks first, then cheaper arcs


def _greedy(d: _Data, x: IntArray, y: IntArray) -> None:
    """Most urgent level first, cheapest arc with room: a hint, and the filler after a time limit.

    Adds to ``x`` (per class arc) and ``y`` (per level) in place, on top of what they hold.
    """
    c = d.classes
    site_left = d.site_left.copy()
    contract_left = d.contract_left.copy()
    used = np.bincount(d.site, weights=d.units * x, minlength=site_left.size).astype(np.int64)
    site_left = np.where(site_left == NO_LIMIT, NO_LIMIT, site_left - used)
    has = d.site_contract[d.site] >= 0
    contract_used = np.bincount(d.site_contract[d.site][has], weights=(d.units * x)[has],
                                minlength=contract_left.size).astype(np.int64)
    contract_left = contract_left - contract_used
    arcs_of_class = np.searchsorted(c.class_of_arc, np.arange(c.n_classes + 1))
    for level in np.lexsort((np.arange(c.level_size.size), -c.level_penalty)).tolist():
        waiting = int(c.level_size[level] - y[level])
        k = int(c.level_class[level])
        arcs = np.arange(arcs_of_class[k], arcs_of_class[k + 1])
        for j in arcs[np.lexsort((d.cost[arcs], d.rank[arcs]))].tolist():
            if waiting == 0:
                break
            s, u = int(d.site[j]), int(d.units[j])
            fit = waiting if site_left[s] == NO_LIMIT else min(waiting, int(site_left[s]) // u)
            contract = int(d.site_contract[s])
            if contract >= 0:
                fit = min(fit, int(contract_left[contract]) // u)
            if fit <= 0:
                continue
            x[j] += fit
            y[level] += fit
            waiting -= fit
            if site_left[s] != NO_LIMIT:
                site_left[s] -= fit * u
            if contract >= 0:
                contract_left[contract] -= fit * u


def kept_plan(
    arc_referral: IntArray, arc_site: IntArray, arc_units: IntArray, penalty: IntArray, site_left: IntArray,
    site_contract: IntArray, contract_left: IntArray, current_site: IntArray,
) -> IntArray:
    """Positions of the arcs to each referral's current site that still fit, most urgent first.

    The plan a re-solve starts from (stability, tier 6): every proposal kept where the rules and
    capacity still allow it.
    """
    kept = np.flatnonzero(current_site[arc_referral] == arc_site)
    if kept.size == 0:
        return kept
    kept = kept[np.lexsort((arc_referral[kept], -penalty[arc_referral[kept]]))]
    site_room = np.where(site_left == NO_LIMIT, np.iinfo(np.int64).max, site_left).astype(np.int64)
    contract_room = contract_left.astype(np.int64).copy()
    out: list[int] = []
    for a, s, u in zip(kept.tolist(), arc_site[kept].tolist(), arc_units[kept].tolist(), strict=True):
        k = int(site_contract[s])
        if site_room[s] >= u and (k < 0 or contract_room[k] >= u):
            site_room[s] -= u
            if k >= 0:
                contract_room[k] -= u
            out.append(a)
    return np.array(out, dtype=np.int64)


def solve_assignment(
    arc_referral: IntArray, arc_site: IntArray, arc_cost: IntArray, arc_units: IntArray, penalty: IntArray,
    site_left: IntArray, site_contract: IntArray, contract_left: IntArray, *, time_limit: float, workers: int,
    hint_rank: IntArray | None = None, start: IntArray | None = None,
) -> AssignmentResult:
    """Place the referrals of these arcs with CP-SAT: most placed, then least cost.

    ``bound`` is a lower bound on the objective among plans placing as many as this one; when
    phase 1 was not proven, ``placed_bound`` says how many more a plan might place.
    ``hint_rank`` (per arc, lower first) orders the greedy warm start, which otherwise takes
    each member's cheapest arc with room. ``start`` (arc positions of a feasible plan, at most
    one per referral) is the warm start instead, filled up greedily.
    """
    # Data
    key = arc_cost * (int(arc_units.max(initial=0)) + 1) + arc_units
    c = build_classes(arc_referral, arc_site, key, penalty)
    sites, site_local = np.unique(arc_site[c.order][c.class_arcs], return_inverse=True)
    contracts_of_sites = site_contract[sites]
    contracts, contract_local = np.unique(contracts_of_sites[contracts_of_sites >= 0], return_inverse=True)
    local_contract = np.full(sites.size, -1, dtype=np.int64)
    local_contract[contracts_of_sites >= 0] = contract_local
    rank = np.zeros(arc_cost.size, np.int64) if hint_rank is None else np.asarray(hint_rank, dtype=np.int64)
    d = _Data(c, site_local, arc_cost[c.order][c.class_arcs], arc_units[c.order][c.class_arcs], site_left[sites],
              local_contract, contract_left[contracts], rank[c.order][c.class_arcs])
    if start is None:
        hint_x = np.zeros(c.class_arcs.size, dtype=np.int64)
        hint_y = np.zeros(c.level_size.size, dtype=np.int64)
    else:
        hint_x, hint_y = c.counts(start)
    _greedy(d, hint_x, hint_y)
    # Model / Variables: x[class arc] members sent along it, y[level] members placed.
    model = cp_model.CpModel()
    size = c.class_size[c.class_of_arc]
    x = [model.new_int_var(0, int(size[j]), f"x[class {int(c.class_of_arc[j])},site {int(sites[d.site[j]])}]")
         for j in range(size.size)]
    y = [model.new_int_var(0, int(n), f"y[class {int(k)},penalty {int(p)}]")
         for k, p, n in zip(c.level_class, c.level_penalty, c.level_size, strict=True)]
    # Constraints: a class places along its arcs exactly the members its levels place.
    arcs_of_class = np.searchsorted(c.class_of_arc, np.arange(c.n_classes + 1))
    levels_of_class = np.searchsorted(c.level_class, np.arange(c.n_classes + 1))
    for k in range(c.n_classes):
        model.add(sum(x[arcs_of_class[k]:arcs_of_class[k + 1]]) == sum(y[levels_of_class[k]:levels_of_class[k + 1]]))
    # Capacity (7003 VI.E.6): units never exceed what is open at the site and the contract.
    for s in range(sites.size):
        arcs = np.flatnonzero(d.site == s)
        if d.site_left[s] != NO_LIMIT and int((d.units[arcs] * size[arcs]).sum()) > d.site_left[s]:
            model.add(cp_model.LinearExpr.weighted_sum([x[j] for j in arcs], d.units[arcs].tolist())
                      <= int(d.site_left[s]))
    arc_contract = d.site_contract[d.site]
    for k in range(contracts.size):
        arcs = np.flatnonzero(arc_contract == k)
        if int((d.units[arcs] * size[arcs]).sum()) > d.contract_left[k]:
            model.add(cp_model.LinearExpr.weighted_sum([x[j] for j in arcs], d.units[arcs].tolist())
                      <= int(d.contract_left[k]))
    for var, value in zip(x + y, [*hint_x.tolist(), *hint_y.tolist()], strict=True):
        model.add_hint(var, value)
    # Objective, phase 1: the most members placed.
    deadline = time.perf_counter() + time_limit
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = search_workers(workers)
    solver.parameters.max_time_in_seconds = max(0.05, COUNT_SHARE * time_limit)
    placed = sum(y)
    model.maximize(placed)
    status = solver.solve(model)
    count_optimal = status == cp_model.OPTIMAL
    placed_bound = int(c.level_size.sum())
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        placed_bound = int(math.floor(solver.best_objective_bound + 1e-6))
    best_x, best_y = hint_x, hint_y
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and solver.objective_value >= hint_y.sum():
        best_x = np.array([solver.value(v) for v in x], dtype=np.int64)
        best_y = np.array([solver.value(v) for v in y], dtype=np.int64)
    # Objective, phase 2: the least cost among plans placing that many.
    model.clear_hints()
    for var, value in zip(x + y, [*best_x.tolist(), *best_y.tolist()], strict=True):
        model.add_hint(var, value)
    model.add(placed >= int(best_y.sum()))
    penalty_total = int((c.level_penalty * c.level_size).sum())
    model.minimize(cp_model.LinearExpr.weighted_sum(x, d.cost.tolist())
                   - cp_model.LinearExpr.weighted_sum(y, c.level_penalty.tolist()) + penalty_total)
    solver.parameters.max_time_in_seconds = max(0.05, deadline - time.perf_counter())
    status = solver.solve(model)
    bound = 0
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        best_x = np.array([solver.value(v) for v in x], dtype=np.int64)
        best_y = np.array([solver.value(v) for v in y], dtype=np.int64)
        bound = int(math.ceil(solver.best_objective_bound - 1e-6))
    # A time-limited plan may leave a member out who still fits somewhere: place them.
    _greedy(d, best_x, best_y)
    objective = int((d.cost * best_x).sum()) + int((c.level_penalty * (c.level_size - best_y)).sum())
    chosen = c.split(c.level_size - best_y, best_x)
    optimal = count_optimal and status == cp_model.OPTIMAL
    placed_bound = max(placed_bound, int(best_y.sum()))
    return AssignmentResult(chosen, optimal, objective, min(bound, objective), placed_bound)
