"""The fast weighted path: generalized assignment by LP relaxation, rounding and repair.

**The problem.** When members need different numbers of units (meals per week, respite hours),
filling capacity is a *generalized assignment problem* (GAP, NP-hard). With ``x[r,a]`` = 1 when
referral ``r`` is sent along arc ``a`` (to one site), ``u[r]`` its units, ``cap[q]`` the open
units of pool ``q`` (a site, or the contract its sites share), ``c[r,a]`` the arc cost and
``pen[r]`` the unplaced penalty (urgency)::

    x[r,a] in {0, 1},    sum_a x[r,a] <= 1,    sum_{arcs a into q} u[r] x[r,a] <= cap[q]
    1. maximise  placed = sum x                                    (most members placed)
    2. minimise  sum c[r,a] x[r,a] + sum_r pen[r] (1 - sum_a x[r,a])   (then least cost)

**LP relaxation as a transportation problem.** Relax ``x`` to ``[0, 1]`` and count in units,
``f[r,a] = u[r] x[r,a]``. The capacity rows become plain flow capacities, and the relaxation *is*
a min-cost flow: referral ``r`` supplies ``u[r]`` units; they go to a site (at ``c[r,a] / u[r]``
per unit), on through the site's contract to the sink, or straight to the sink as unplaced (at
``(LAMBDA + pen[r]) / u[r]`` per unit: a whole unplaced member costs ``LAMBDA + pen[r]``). The data
are integers, so OR-Tools' min-cost flow returns an integral optimal flow ``f``, which is an
optimal LP solution ``x = f / u`` (fractional in ``x``). Costs are scaled by ``S`` and rounded
*down* to integers, so the flow's optimum is at most ``S`` times the LP's: every bound below stays
valid. Referrals with identical arcs and costs are aggregated into classes and urgency levels
(:mod:`matcher.classes`), so the network has one node per class, not per referral.

``LAMBDA``, the price of one member, is large against penalties and arc costs (``umax**2``
times them, as far as int64 allows): the relaxation then places the most members it can (small
demands first: one unit of a 7-meal member is worth 1/7 of a member, of a 21-meal member only
1/21), and among those the most urgent at the least cost, the two phases of the exact path.

**Rounding and repair.** A basic optimal solution of the relaxation splits only a few referrals
(roughly one per tight pool); a class's flow of ``F`` units along an arc is ``F // u`` whole
members there. Every whole member keeps its site, the most urgent of a class first. The rest --
split and partially placed members, and any unplaced member with an arc into a pool with room
left -- go to a small exact CP-SAT (:func:`matcher.assign.solve_assignment`: most placed, then
least cost) on the residual capacity, warm-started from the relaxation (its split arcs first) and
from each member's current site. What is left cannot fit anywhere.

**What is guaranteed.** The plan never breaks a capacity, and no unplaced member fits anywhere.
``placed_bound`` is the optimum of the *count-only* relaxation (per-unit value ``1/u``, exact in
integers with ``lcm(units)`` scaling), an upper bound on the members any plan places. ``bound`` is
a Lagrangian lower bound on the objective of every plan placing at least as many members as this
one: for ``mu >= 0``, ``LP(mu) - mu * (N - placed)`` where ``LP(mu)`` is the relaxation with member
price ``mu``; it is maximised over ``mu`` by Kelley's cutting planes (a few more flows), so
``gap`` is honest. The members placed are at least ``placed_bound`` minus the members the repair
could not fit; the count itself is not proven maximal (that is the NP-hard part) unless
``placed == placed_bound``. Status is OPTIMAL only when both bounds are met.

Components where a referral's arcs use different units (possible only in problem files) are not
a transportation problem and go to CP-SAT (:mod:`matcher.assign`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from matcher.assign import AssignmentResult, solve_assignment
from matcher.classes import Classes, build_classes
from matcher.errors import MatcherError
from matcher.problem import NO_LIMIT, BoolArray, IntArray

__all__ = ["BOUND_ITERATIONS", "BOUND_TOLERANCE", "REPAIR_SHARE", "solve_relaxed", "uniform_units"]

#: Scaled per-unit costs times the node count stay below this (OR-Tools' cost scaling).
_COST_BUDGET = 2**62
#: Stop improving the Lagrangian bound when it is this close (relative) to its upper estimate.
BOUND_TOLERANCE = 1e-5
#: At most this many extra flows for the Lagrangian bound.
BOUND_ITERATIONS = 24
#: Share of the part's time limit the repair CP-SAT may use.
REPAIR_SHARE = 0.8


def uniform_units(arc_referral: IntArray, arc_units: IntArray) -> bool:
    """True when every referral's arcs use the same number of units (a transportation LP)."""
    if arc_referral.size == 0:
        return True
    top = int(arc_referral.max()) + 1
    low = np.full(top, np.iinfo(np.int64).max, dtype=np.int64)
    high = np.zeros(top, dtype=np.int64)
    np.minimum.at(low, arc_referral, arc_units)
    np.maximum.at(high, arc_referral, arc_units)
    used = high > 0
    return bool((low[used] == high[used]).all())


@dataclass(frozen=True, eq=False)
class _Network:
    """The relaxation's network over classes; solved for different per-unit cost vectors.

    Arcs, in order: class -> site (one per class arc), level -> class, level -> sink (unplaced),
    site -> contract or sink, contract -> sink. Level ``l`` supplies ``size[l] * u[l]`` units.
    """

    classes: Classes
    arc_units: IntArray  # per class arc
    level_units: IntArray  # per level
    tails: IntArray
    heads: IntArray
    capacities: IntArray
    supplies: IntArray
    members: int

    @classmethod
    def build(cls, c: Classes, site: IntArray, arc_units: IntArray, site_left: IntArray, site_contract: IntArray,
              contract_left: IntArray) -> _Network:
        class_units = np.zeros(c.n_classes, dtype=np.int64)
        class_units[c.class_of_arc] = arc_units
        level_units = class_units[c.level_class]
        sites, site_local = np.unique(site, return_inverse=True)
        contracts_of_sites = site_contract[sites]
        has_contract = contracts_of_sites >= 0
        contracts, contract_local = np.unique(contracts_of_sites[has_contract], return_inverse=True)
        n_l, n_k, n_s, n_c = c.level_size.size, c.n_classes, sites.size, contracts.size
        sink = n_l + n_k + n_s + n_c
        total = int((c.level_size * level_units).sum())
        left = site_left[sites]
        site_cap = np.where(left == NO_LIMIT, total, np.minimum(left, total))
        site_head = np.full(n_s, sink, dtype=np.int64)
        site_head[has_contract] = n_l + n_k + n_s + contract_local
        levels = np.arange(n_l)
        tails = np.concatenate([n_l + c.class_of_arc, levels, levels, n_l + n_k + np.arange(n_s),
                                n_l + n_k + n_s + np.arange(n_c)])
        heads = np.concatenate([n_l + n_k + site_local.ravel(), n_l + c.level_class, np.full(n_l, sink), site_head,
                                np.full(n_c, sink)])
        level_room = c.level_size * level_units
        capacities = np.concatenate([c.class_size[c.class_of_arc] * arc_units, level_room, level_room, site_cap,
                                     np.minimum(contract_left[contracts], total)])
        supplies = np.zeros(sink + 1, dtype=np.int64)
        supplies[:n_l] = level_room
        supplies[sink] = -total
        return cls(c, arc_units, level_units, tails, heads, capacities, supplies, int(c.level_size.sum()))

    @property
    def n_nodes(self) -> int:
        return int(self.supplies.size)

    @property
    def total_units(self) -> int:
        return int(self.supplies[-1] * -1)

    def cost_cap(self) -> int:
        """Largest per-unit cost the network can carry without int64 trouble in OR-Tools."""
        return min(_COST_BUDGET // (2 * (self.n_nodes + 1)), _COST_BUDGET // max(1, self.total_units))

    def solve(self, arc_cost: IntArray, unplaced_cost: IntArray) -> tuple[int, IntArray, IntArray]:
        """Min-cost flow with these per-unit costs; returns (cost, flow per class arc, unplaced units per level)."""
        n_a, n_l = self.arc_units.size, self.level_units.size
        costs = np.concatenate([arc_cost, np.zeros(n_l, np.int64), unplaced_cost,
                                np.zeros(self.tails.size - n_a - 2 * n_l, np.int64)])
        flow = min_cost_flow.SimpleMinCostFlow()
        arcs = flow.add_arcs_with_capacity_and_unit_cost(self.tails, self.heads, self.capacities, costs)
        flow.set_nodes_supplies(np.arange(self.n_nodes), self.supplies)
        status = flow.solve()
        if status != flow.OPTIMAL:
            raise MatcherError(f"LP relaxation flow ended with status {status!r}")
        values = flow.flows(arcs)
        return int(flow.optimal_cost()), values[:n_a], values[n_a + n_l:n_a + 2 * n_l]


def solve_relaxed(
    arc_referral: IntArray, arc_site: IntArray, arc_cost: IntArray, arc_units: IntArray, penalty: IntArray,
    site_left: IntArray, site_contract: IntArray, contract_left: IntArray, *, time_limit: float, workers: int,
    current_site: IntArray | None = None,
) -> AssignmentResult:
    """Place the referrals of these arcs by LP relaxation, rounding and repair (see the module doc).

    Every referral's arcs must use the same units (:func:`uniform_units`). ``current_site`` (per
    referral, -1: none) warm-starts the repair. Returns arc positions used, whether provably
    optimal, the objective, the Lagrangian bound and the count bound.
    """
    deadline = time.perf_counter() + time_limit
    top_units = int(arc_units.max(initial=1))
    c = build_classes(arc_referral, arc_site, arc_cost * (top_units + 1) + arc_units, penalty)
    class_arc_pos = c.order[c.class_arcs]  # representative's arc (original position) of each class arc
    site = arc_site[class_arc_pos]
    cost = arc_cost[class_arc_pos]
    units = arc_units[class_arc_pos]
    net = _Network.build(c, site, units, site_left, site_contract, contract_left)
    n = net.members
    lu = net.level_units
    cap = net.cost_cap()
    # Phase-1 bound: the count-only relaxation, per-unit value L / u (exact when L = lcm(units) fits).
    scale_count = math.lcm(*np.unique(lu).tolist()) if lu.size else 1
    if scale_count > cap:
        scale_count = cap
    count_cost, _, _ = net.solve(np.zeros(units.size, np.int64), scale_count // lu)
    placed_bound = n - -(-count_cost // scale_count)  # floor(n - unplaced LP), with per-unit values rounded down
    # The relaxation, members first (price LAMBDA), then penalties and costs.
    pmax = int(c.level_penalty.max(initial=0))
    cmax = int(cost.max(initial=0))
    price = top_units * top_units * (pmax + 2 * cmax + 1)
    scale = max(top_units, min(math.lcm(*np.unique(units).tolist()) if units.size else 1, 1 << 12))
    while scale * (price + pmax) > cap and scale > top_units:
        scale = max(top_units, scale // 2)
    while scale * (price + pmax) > cap and price > pmax + cmax + 1:
        price //= 2
    if scale * (price + pmax + cmax) > cap:
        raise MatcherError(f"penalties up to {pmax} are too large for the LP relaxation in int64")
    arc_pu = scale * cost // units
    lp_cost, flow, unplaced_units = net.solve(arc_pu, scale * (price + c.level_penalty) // lu)
    chosen = _round(c, flow, units, unplaced_units, lu)
    # Repair: members not placed whole, on what is left of the pools.
    site_room, contract_room = _room_after(arc_site[chosen], arc_units[chosen], site_left, site_contract,
                                           contract_left)
    placed = np.zeros(int(arc_referral.max(initial=-1)) + 1, dtype=bool)
    placed[arc_referral[chosen]] = True
    open_arc = ~placed[arc_referral] & _fits(arc_site, arc_units, site_room, site_contract, contract_room)
    repair = np.flatnonzero(open_arc)
    repaired = np.zeros(0, dtype=np.int64)
    if repair.size:
        # Warm start: the member's current site, then the arcs the relaxation used for its class.
        used = np.zeros(arc_referral.size, dtype=bool)
        class_arc_of = c.class_arc_of()
        used[c.order] = flow[class_arc_of] % units[class_arc_of] > 0
        hint = np.where(used[repair], 1, 2)
        if current_site is not None:
            hint = np.where(current_site[arc_referral[repair]] == arc_site[repair], 0, hint)
        part = solve_assignment(arc_referral[repair], arc_site[repair], arc_cost[repair], arc_units[repair], penalty,
                                site_room, site_contract, contract_room,
                                time_limit=max(0.05, REPAIR_SHARE * (deadline - time.perf_counter())),
                                workers=workers, hint_rank=hint)
        repaired = repair[part.chosen]
    chosen = np.concatenate([chosen, repaired])
    count = int(chosen.size)
    members = c.members
    placed[:] = False
    placed[arc_referral[chosen]] = True
    objective = int(arc_cost[chosen].sum()) + int(penalty[members[~placed[members]]].sum())
    bound = _lagrangian_bound(net, arc_pu, scale, c.level_penalty, price, lp_cost, unplaced_units, n, count,
                              objective, deadline)
    bound = min(bound, objective)
    placed_bound = max(placed_bound, count)
    optimal = count == placed_bound and bound == objective
    return AssignmentResult(chosen, optimal, objective, bound, placed_bound)


def _round(c: Classes, flow: IntArray, units: IntArray, unplaced_units: IntArray, level_units: IntArray) -> IntArray:
    """Whole members of the relaxation keep their site, the most urgent of each class first.

    Returns arc positions (into the given arcs) of the members placed whole.
    """
    whole = flow // units  # members placed whole along each class arc
    out_whole = unplaced_units // level_units  # members unplaced whole in each level
    candidates = c.level_size - out_whole  # members of each level placed at least in part
    spare = np.bincount(c.level_class, weights=candidates, minlength=c.n_classes).astype(np.int64) - np.bincount(
        c.class_of_arc, weights=whole, minlength=c.n_classes).astype(np.int64)
    # The class's members not placed whole come from its least urgent levels.
    by_urgency = np.lexsort((c.level_penalty, c.level_class))
    klass = c.level_class[by_urgency]
    sorted_candidates = candidates[by_urgency]
    before = np.cumsum(sorted_candidates) - sorted_candidates  # candidates of less urgent levels, all classes
    class_start = np.searchsorted(klass, np.arange(c.n_classes))
    before -= before[class_start[klass]]  # ... of this class only
    take = np.clip(spare[klass] - before, 0, sorted_candidates)
    out = out_whole.copy()
    out[by_urgency] += take
    return c.split(out, whole)


def _room_after(
    sites: IntArray, units: IntArray, site_left: IntArray, site_contract: IntArray, contract_left: IntArray
) -> tuple[IntArray, IntArray]:
    """Site and contract room left once these arcs' units are taken."""
    used = np.bincount(sites, weights=units, minlength=site_left.size).astype(np.int64)
    site_room = np.where(site_left == NO_LIMIT, NO_LIMIT, site_left - used)
    contract = site_contract[sites]
    contract_used = np.bincount(contract[contract >= 0], weights=units[contract >= 0],
                                minlength=contract_left.size).astype(np.int64)
    return site_room, contract_left - contract_used


def _fits(arc_site: IntArray, arc_units: IntArray, site_room: IntArray, site_contract: IntArray,
          contract_room: IntArray) -> BoolArray:
    room = site_room[arc_site]
    contract = site_contract[arc_site]
    contract_ok = (contract < 0) | (contract_room[np.maximum(contract, 0)] >= arc_units)
    return np.asarray(((room == NO_LIMIT) | (room >= arc_units)) & contract_ok)


def _lagrangian_bound(
    net: _Network, arc_pu: IntArray, scale: int, level_penalty: IntArray, price: int, price_cost: int,
    price_unplaced: IntArray, n: int, count: int, objective: int, deadline: float,
) -> int:
    """Largest ``LP(mu) - mu * (n - count)`` found over ``mu`` in ``[0, price]`` (Kelley's method).

    ``LP(mu)`` is the relaxation with member price ``mu``: for any plan placing ``count`` or more,
    ``objective + mu * unplaced >= LP(mu)`` and ``unplaced <= n - count``, so each value is a lower
    bound on the objective of such plans. The flow costs are rounded down, so ``cost / scale``
    never exceeds ``LP(mu)``.
    """
    lu = net.level_units
    out = n - count

    def value(mu: int, cost: int, unplaced: IntArray) -> tuple[int, float, float]:
        exact = -(-(cost - mu * scale * out) // scale)  # ceil
        return exact, (cost - mu * scale * out) / scale, float((unplaced / lu).sum()) - out

    best, g_hi, s_hi = value(price, price_cost, price_unplaced)
    if s_hi >= 0:
        return best
    cost0, _, unplaced0 = net.solve(arc_pu, scale * level_penalty // lu)
    bound0, g_lo, s_lo = value(0, cost0, unplaced0)
    best = max(best, bound0)
    lo, hi = 0.0, float(price)
    for _ in range(BOUND_ITERATIONS):
        if s_lo <= 0 or time.perf_counter() > deadline:
            break
        mu = (g_hi - g_lo + s_lo * lo - s_hi * hi) / (s_lo - s_hi)
        estimate = g_lo + s_lo * (mu - lo)
        if estimate - best <= BOUND_TOLERANCE * max(objective, 1):
            break
        mu_int = int(round(mu))
        if not lo < mu_int < hi:
            break
        cost, _, unplaced = net.solve(arc_pu, scale * (mu_int + level_penalty) // lu)
        exact, g, s = value(mu_int, cost, unplaced)
        best = max(best, exact)
        import os
        if os.environ.get("DEBUG_BOUND"):
            print(f"      mu {mu_int} lo {lo} hi {hi} g {g:.6g} s {s:.3f} est {estimate:.6g} best {best}")
        if s == 0:
            break
        if s > 0:
            lo, g_lo, s_lo = float(mu_int), g, s
        else:
            hi, g_hi, s_hi = float(mu_int), g, s
    return best
