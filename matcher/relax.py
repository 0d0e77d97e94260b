"""The fast weighted path: generalized assignment by LP relaxation, rounding and repair.

**The problem.** When members need different numbers of units (meals per week, respite hours),
filling capacity is a *generalized assignment problem* (GAP, NP-hard). With ``x[r,a]`` = 1 when
referral ``r`` is sent along arc ``a`` (to one site), ``u[r]`` its units, ``cap[q]`` the open
units of pool ``q`` (a site, or the contract its sites share), ``c[r,a]`` the arc cost (which
includes the stability term of a re-solve) and ``pen[r]`` the unplaced penalty (urgency)::

    x[r,a] in {0, 1},    sum_a x[r,a] <= 1,    sum_{arcs a into q} u[r] x[r,a] <= cap[q]
    1. maximise  placed = sum x                                        (most members placed)
    2. minimise  sum c[r,a] x[r,a] + sum_r pen[r] (1 - sum_a x[r,a])   (then least cost)

**LP relaxation as a transportation problem.** Relax ``x`` to ``[0, 1]`` and count in units,
``f[r,a] = u[r] x[r,a]``. The capacity rows become plain flow capacities and the relaxation *is*
a min-cost flow: referral ``r`` supplies ``u[r]`` units; they go to a site at ``c[r,a] / u[r]``
per unit, on through the site's contract to the sink, or straight to the sink as unplaced at
``(LAMBDA + pen[r]) / u[r]`` per unit (a whole unplaced member costs ``LAMBDA + pen[r]``). The data
are integers, so OR-Tools' min-cost flow returns an integral optimal ``f``, an optimal LP solution
``x = f / u``. Per-unit costs are scaled by ``S`` and rounded *down*, so the flow's optimum is at
most ``S`` times the LP's and the bounds below stay valid. Referrals with identical arcs and costs
are one class node with a supply node per urgency level (:mod:`matcher.classes`), and a class
reaches each shared *set* of sites at one cost through a hub node (:class:`matcher.classes.Hubs`,
exact): the statewide meals component drops from 6.8 million class arcs to half a million.

``LAMBDA``, the price of one member, is as large as int64 allows (at least ``umax**2`` times the
largest penalty and cost), so the relaxation places the most members it can -- small demands
first: a unit of a 7-meal member is 1/7 of a member, of a 21-meal member 1/21 -- and among those
the most urgent at the least cost: the two phases of the exact path.

**Rounding and repair.** A class's flow of ``F`` units to a site is ``F // u`` whole members
there (a hub's inflow is packed into its outflow, largest demands first); whole members keep
their site, the most urgent of a class first. The rest are repaired on what is left: a small
repair set by exact CP-SAT (:func:`matcher.assign.solve_assignment`, warm-started from each
member's current site); any set by a greedy fill (smallest demand, then most urgent, cheapest
arc), *exchanges* (move one placed member to another site with room so a waiting one fits: one
more placed) and *upgrades* (swap a placed member for a more urgent waiting one at the same
site when the room allows: same count, lower cost), alternated until neither helps. Which optimal
solution of the relaxation is rounded matters, so it is re-solved anchored on the plan's arcs
(one cost unit cheaper) and rounded again while that improves. In a re-solve the plan that
keeps every proposal that still fits is improved the same way and wins ties, so a proposal
moves only when a higher tier gains. Components of at most ``POLISH_REFERRALS`` referrals are
then polished by CP-SAT warm-started from the plan.

**What is guaranteed.** The plan never breaks a hard rule or a capacity, and no unplaced member
fits anywhere (``matcher.validate`` checks both). ``placed_bound`` comes from the same relaxation:
the optimum of the count-only relaxation (per-unit value ``lcm(units) / u``, rounded down, arcs
free: one more flow), an upper bound on the members any plan places (or CP-SAT's proven count
bound when polished, if lower). ``bound`` is a Lagrangian
lower bound on the objective of every plan placing at least as many members as this one: for
``mu >= 0``, ``LP(mu) - mu * (N - placed)``, maximised over ``mu`` by Kelley's cutting planes (a
flow per step), so ``gap`` is honest. The count itself is not proven maximal (that is the NP-hard
part) unless ``placed == placed_bound``; on the benchmark plans it is within 0.2-0.4% of it.
Status is OPTIMAL only when both bounds are met.

**Why the cost gap stays a few per cent.** Under "most placed first" the relaxation can give up
a fraction of a member of count -- one small demand's units -- and buy much urgency with them;
no integer plan can. Near the top of the count that trade is steep (on the 20,000-referral plan's
respite component, 0.8 of a member of count is worth 12% of the objective), so ``bound`` at the
integer count is well below any plan the relaxation cannot see past; the gap measures that
weakness as much as the plan. CP-SAT closes it on mid-size components (the 5,000-referral
benchmark: gap 0 at the count) but not at state scale.

Components where a referral's arcs use different units (possible only in problem files) are not
a transportation problem and go to CP-SAT (:mod:`matcher.assign`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.graph.python import min_cost_flow

from matcher.assign import AssignmentResult, kept_plan, solve_assignment
from matcher.classes import Classes, build_classes, build_hubs
from matcher.errors import MatcherError
from matcher.problem import NO_LIMIT, IntArray

__all__ = ["REPAIR_EXACT", "REPAIR_SHARE", "solve_relaxed", "uniform_units"]

#: OR-Tools' cost scaling multiplies costs by the node count: scaled costs stay below this.
INT64_SAFE = 2**62
#: Room of a pool without a limit of its own.
_BIG = 2**40
#: A class's cost level reaching at most this many sites gets direct arcs instead of a hub.
DIRECT_SITES = 2
#: Repair sets up to this many members get exact CP-SAT; larger ones greedy and exchanges only.
REPAIR_EXACT = 400
#: Share of the part's time limit for the repair.
REPAIR_SHARE = 0.5
#: At most this many re-solves of the relaxation anchored on the plan so far.
ANCHOR_ROUNDS = 3
#: At most this many alternations of exchanges and upgrades.
IMPROVE_ROUNDS = 20
#: Components up to this many referrals are polished by CP-SAT warm-started from the rounding,
#: for at most POLISH_SECONDS or POLISH_SHARE of the time left.
POLISH_REFERRALS = 1000
POLISH_SECONDS = 10.0
POLISH_SHARE = 0.8
#: The bound's refinement: time kept for it (flows, share of the limit at most), at least so many
#: flows whatever the time, at most so many, and done once within this (relative) of its estimate.
BOUND_RESERVE_FLOWS = 6
BOUND_SHARE = 0.25
BOUND_MIN_FLOWS = 2
BOUND_ITERATIONS = 30
BOUND_TOLERANCE = 1e-5


def uniform_units(arc_referral: IntArray, arc_units: IntArray) -> bool:
    """True when every referral's arcs use the same number of units (a transportation LP)."""
    if arc_referral.size == 0:
        return True
    if bool((arc_referral[1:] >= arc_referral[:-1]).all()):  # the builder's order: one pass
        starts = np.flatnonzero(np.r_[True, arc_referral[1:] != arc_referral[:-1]])
        return bool((np.minimum.reduceat(arc_units, starts) == np.maximum.reduceat(arc_units, starts)).all())
    top = int(arc_referral.max()) + 1
    low = np.full(top, np.iinfo(np.int64).max, dtype=np.int64)
    high = np.zeros(top, dtype=np.int64)
    np.minimum.at(low, arc_referral, arc_units)
    np.maximum.at(high, arc_referral, arc_units)
    used = high > 0
    return bool((low[used] == high[used]).all())


@dataclass(frozen=True, eq=False)
class _Instance:
    """A component over classes, with local sites and contracts (the last contract: none).

    ``x[j]`` counts the members sent along class arc ``j``, ``y[l]`` the members of level ``l``
    placed; rooms are per local site and contract, ``_BIG`` standing for no limit.
    """

    c: Classes
    site: IntArray  # per class arc: local site
    cost: IntArray
    units: IntArray
    level_units: IntArray
    arcs_of_class: IntArray  # class k's arcs are arcs_of_class[k]:arcs_of_class[k + 1]
    sites: IntArray  # local site -> given site
    contracts: IntArray  # local contract -> given contract
    site_room: IntArray
    site_contract: IntArray  # per local site: local contract (contracts.size: none)
    contract_room: IntArray

    @classmethod
    def build(cls, c: Classes, site: IntArray, cost: IntArray, units: IntArray, site_left: IntArray,
              site_contract: IntArray, contract_left: IntArray) -> _Instance:
        sites, site_local = np.unique(site, return_inverse=True)
        contracts_of_sites = site_contract[sites]
        has = contracts_of_sites >= 0
        contracts, contract_local = np.unique(contracts_of_sites[has], return_inverse=True)
        local_contract = np.full(sites.size, contracts.size, dtype=np.int64)
        local_contract[has] = contract_local.ravel()
        left = site_left[sites]
        class_units = np.zeros(c.n_classes, dtype=np.int64)
        class_units[c.class_of_arc] = units
        return cls(c, site_local.ravel(), cost, units, class_units[c.level_class],
                   np.searchsorted(c.class_of_arc, np.arange(c.n_classes + 1)), sites, contracts,
                   np.where(left == NO_LIMIT, _BIG, left), local_contract, np.r_[contract_left[contracts], _BIG])

    def room(self, site_room: IntArray, contract_room: IntArray) -> IntArray:
        """Units one more member could use at each site: the least of its own room and its contract's."""
        return np.asarray(np.minimum(site_room, contract_room[self.site_contract]))

    def rooms_after(self, x: IntArray) -> tuple[IntArray, IntArray]:
        """Site and contract room left once ``x`` is placed."""
        used = np.bincount(self.site, weights=self.units * x, minlength=self.site_room.size).astype(np.int64)
        contract_used = np.bincount(self.site_contract, weights=used, minlength=self.contract_room.size)
        return self.site_room - used, self.contract_room - contract_used.astype(np.int64)

    def given_rooms(self, site_room: IntArray, contract_room: IntArray, site_left: IntArray,
                    contract_left: IntArray) -> tuple[IntArray, IntArray]:
        """These rooms written back into copies of the given (global) site and contract arrays."""
        site_out, contract_out = site_left.copy(), contract_left.copy()
        site_out[self.sites] = np.where(site_room >= _BIG // 2, NO_LIMIT, site_room)
        contract_out[self.contracts] = contract_room[:-1]
        return site_out, contract_out


class _Relaxation:
    """The LP relaxation as a min-cost flow over levels, classes and *hubs*, for any per-unit costs.

    A class reaches its sites at a few distinct costs (preference rank, continuity, fit), and
    many classes share the same sets of sites. So for each class and each of its cost levels
    ``L`` the network has one arc to a hub node standing for the set ``T(k, L)`` of the class's
    sites costing at most ``L``; the hub has a free arc to each site of its set. Every real arc
    is a path at its own cost (through the hub of its level), the other paths through a hub are
    real arcs at a higher price, so the optimum is the relaxation's, and any split of a hub's
    inflow over its outflow is an optimal assignment. The statewide meals component shrinks from
    6.8 million class arcs to half a million. Levels reaching at most ``DIRECT_SITES`` sites keep
    direct arcs. Arcs, in order: class -> hub, class -> site (direct), hub -> site, level ->
    class, level -> sink (unplaced), site -> contract (or sink), contract -> sink.
    """

    def __init__(self, d: _Instance) -> None:
        c = d.c
        n_l, n_k, n_s, n_c = c.level_size.size, c.n_classes, d.site_room.size, d.contracts.size
        self.d = d
        h = build_hubs(c.class_of_arc, d.cost, d.site, d.arcs_of_class, DIRECT_SITES)
        self.hub_class, self.hub_cost, self.hub_node, self.hub_site, self.hub_tail = (
            h.hub_class, h.hub_cost, h.hub_node, h.hub_site, h.hub_tail)
        self.direct_arcs = direct_arcs = h.direct_arcs
        hub_of, hub_sites, hub_tail, n_h = h.hub_node, h.hub_site, h.hub_tail, h.n_hubs
        # Nodes: levels, classes, hubs, sites, contracts, sink.
        o_k, o_h = n_l, n_l + n_k
        o_s = o_h + n_h
        o_c = o_s + n_s
        sink = o_c + n_c
        self.total = int((c.level_size * d.level_units).sum())
        class_units = d.level_units[np.searchsorted(c.level_class, np.arange(n_k))] if n_k else np.zeros(0, np.int64)
        self.class_units = class_units
        levels = np.arange(n_l)
        level_room = c.level_size * d.level_units
        self.tails = np.concatenate([o_k + self.hub_class, o_k + c.class_of_arc[direct_arcs], o_h + hub_tail, levels,
                                     levels, o_s + np.arange(n_s), o_c + np.arange(n_c)])
        self.heads = np.concatenate([o_h + hub_of, o_s + d.site[direct_arcs], o_s + hub_sites,
                                     o_k + c.level_class, np.full(n_l, sink),
                                     np.where(d.site_contract < n_c, o_c + d.site_contract, sink), np.full(n_c, sink)])
        self.capacities = np.concatenate([
            c.class_size[self.hub_class] * class_units[self.hub_class],
            c.class_size[c.class_of_arc[direct_arcs]] * d.units[direct_arcs],
            np.full(hub_sites.size, self.total), level_room, level_room,
            np.minimum(d.site_room, self.total), np.minimum(d.contract_room[:n_c], self.total)])
        self.supplies = np.zeros(sink + 1, dtype=np.int64)
        self.supplies[:n_l] = level_room
        self.supplies[sink] = -self.total
        self.n_levels, self.site_node = n_l, o_s
        #: Largest per-unit cost the network carries without int64 trouble.
        self.cost_cap = min(INT64_SAFE // (2 * (sink + 2)), INT64_SAFE // max(1, self.total))

    @property
    def size(self) -> int:
        return int(self.tails.size)

    def solve(self, scale: int, unplaced_cost: IntArray, anchor: IntArray | None = None
              ) -> tuple[int, IntArray, IntArray]:
        """Min-cost flow with arc costs ``scale * cost / u`` (rounded down) and these unplaced costs.

        ``anchor`` (class arcs, e.g. those a plan uses) get direct arcs one cost unit cheaper
        than every other way to a site, like the stability term: among optimal solutions of the
        relaxation, one close to that plan. Returns (optimal cost, every arc's flow, unplaced
        units per level); with an anchor, the cost includes those extra units.
        """
        d, n_l = self.d, self.n_levels
        n_front = self.hub_class.size + self.direct_arcs.size + self.hub_site.size
        bonus = 0 if anchor is None else 1
        costs = np.concatenate([scale * (self.hub_cost + bonus) // self.class_units[self.hub_class],
                                scale * (d.cost[self.direct_arcs] + bonus) // d.units[self.direct_arcs],
                                np.zeros(self.hub_site.size + n_l, np.int64), unplaced_cost,
                                np.zeros(self.tails.size - n_front - 2 * n_l, np.int64)])
        tails, heads, capacities = self.tails, self.heads, self.capacities
        if anchor is not None:
            c = d.c
            tails = np.concatenate([tails, n_l + c.class_of_arc[anchor]])
            heads = np.concatenate([heads, self.site_node + d.site[anchor]])
            capacities = np.concatenate([capacities, c.class_size[c.class_of_arc[anchor]] * d.units[anchor]])
            costs = np.concatenate([costs, scale * d.cost[anchor] // d.units[anchor]])
        flow = min_cost_flow.SimpleMinCostFlow()
        arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
        flow.set_nodes_supplies(np.arange(self.supplies.size), self.supplies)
        status = flow.solve()
        if status != flow.OPTIMAL:
            raise MatcherError(f"LP relaxation (min-cost flow) ended with status {status!r}")
        values = flow.flows(arcs)
        return int(flow.optimal_cost()), values, values[n_front + n_l:n_front + 2 * n_l]

    def whole(self, values: IntArray, anchor: IntArray | None = None) -> IntArray:
        """Members placed whole by a flow, per class arc: direct arcs' flow // u, hubs packed.

        A hub's inflow from a class is ``F // u`` whole members (and a remainder); they are packed
        into the hub's outflow to its sites, largest demands first, first fit.
        """
        d, c = self.d, self.d.c
        n_hub_arcs, n_direct = self.hub_class.size, self.direct_arcs.size
        x = np.zeros(d.units.size, dtype=np.int64)
        x[self.direct_arcs] = values[n_hub_arcs:n_hub_arcs + n_direct] // d.units[self.direct_arcs]
        if anchor is not None:
            np.add.at(x, anchor, values[self.tails.size:] // d.units[anchor])
        inflow = values[:n_hub_arcs]
        outflow = values[n_hub_arcs + n_direct:n_hub_arcs + n_direct + self.hub_site.size]
        members = inflow // self.class_units[self.hub_class]
        ins = np.flatnonzero(members > 0)
        if ins.size == 0:
            return x
        ins = ins[np.lexsort((-self.class_units[self.hub_class[ins]], self.hub_node[ins]))]
        outs = np.flatnonzero(outflow > 0)  # grouped by hub already
        out_start = np.searchsorted(self.hub_tail[outs], np.arange(int(self.hub_node.max(initial=-1)) + 2))
        room = outflow.copy()
        placed_class: list[int] = []
        placed_site: list[int] = []
        placed_count: list[int] = []
        for arc in ins.tolist():
            hub = int(self.hub_node[arc])
            k = int(self.hub_class[arc])
            u = int(self.class_units[k])
            left = int(members[arc])
            for o in outs[out_start[hub]:out_start[hub + 1]].tolist():
                m = min(left, int(room[o]) // u)
                if m > 0:
                    room[o] -= m * u
                    left -= m
                    placed_class.append(k)
                    placed_site.append(int(self.hub_site[o]))
                    placed_count.append(m)
                    if left == 0:
                        break
        n_sites = d.site_room.size
        keys = c.class_of_arc * n_sites + d.site
        where = np.searchsorted(keys, np.array(placed_class, dtype=np.int64) * n_sites + np.array(placed_site))
        np.add.at(x, where, np.array(placed_count, dtype=np.int64))
        return x


def solve_relaxed(
    arc_referral: IntArray, arc_site: IntArray, arc_cost: IntArray, arc_units: IntArray, penalty: IntArray,
    site_left: IntArray, site_contract: IntArray, contract_left: IntArray, *, time_limit: float, workers: int,
    current_site: IntArray | None = None,
) -> AssignmentResult:
    """Place the referrals of these arcs by LP relaxation, rounding and repair (see the module doc).

    Every referral's arcs must use the same units (:func:`uniform_units`). ``current_site`` (per
    referral, -1: none) warm-starts the repair. ``time_limit`` bounds the repair and the bound's
    refinement; the relaxation's flows themselves are not interrupted. Returns the arc positions
    used, whether provably optimal, the objective, the Lagrangian bound and the count bound.

    Raises
    ------
    MatcherError
        If penalties are too large for the relaxation in int64 (never with :mod:`matcher.weights`).
    """
    started = time.perf_counter()
    top_units = int(arc_units.max(initial=1))
    c = build_classes(arc_referral, arc_site, arc_cost * (top_units + 1) + arc_units, penalty)
    rep = c.order[c.class_arcs]  # each class arc's representative arc (a position in the given arcs)
    d = _Instance.build(c, arc_site[rep], arc_cost[rep], arc_units[rep], site_left, site_contract, contract_left)
    lp = _Relaxation(d)
    n = int(c.level_size.sum())
    # Scale S (per-unit costs are S * cost / u, rounded down) and member price LAMBDA, as large as int64 allows.
    pmax, cmax = int(c.level_penalty.max(initial=0)), int(d.cost.max(initial=0))
    lcm = math.lcm(*np.unique(d.units).tolist()) if d.units.size else 1
    least = top_units * top_units * (pmax + 2 * cmax + 1)
    scale = lcm if lcm <= 64 * top_units and lp.cost_cap // lcm - pmax - cmax >= least else top_units
    price = lp.cost_cap // scale - pmax - cmax
    if price < least:
        raise MatcherError(f"penalties up to {pmax} are too large for the LP relaxation in int64")
    unplaced_cost = scale * (price + c.level_penalty) // d.level_units
    lp_started = time.perf_counter()
    lp_cost, flow, out_units = lp.solve(scale, unplaced_cost)
    flow_seconds = time.perf_counter() - lp_started
    # The time limit covers the repair, anchoring, polish and the bound's refinement; the bound
    # comes last and keeps time for a few flows (it always gets at least BOUND_MIN_FLOWS).
    end = started + time_limit
    work_end = end - min(BOUND_RESERVE_FLOWS * flow_seconds, BOUND_SHARE * time_limit)

    def left() -> float:
        return max(0.0, work_end - time.perf_counter())

    # Count bound. Every plan has S * (LAMBDA * unplaced + objective) >= lp_cost and objective <= worst.
    worst = int(np.maximum(c.level_penalty, _class_max(d.cost, d.arcs_of_class)[c.level_class]).dot(c.level_size))
    placed_bound = n - max(0, -(-(lp_cost - scale * worst) // (scale * price)))
    # ... and the count-only relaxation (per-unit value lcm / u, arcs free) is exact, a few members
    # tighter at state scale; one more flow, of small costs.
    per_member = min(math.lcm(*np.unique(d.level_units).tolist()) if n else 1, lp.cost_cap)
    count_cost, _, _ = lp.solve(0, per_member // d.level_units)
    placed_bound = min(placed_bound, n - -(-count_cost // per_member))
    # Round: whole members keep their site; repair the rest on what is left.
    hint = np.ones(arc_referral.size, dtype=np.int8)  # a rank per arc: one byte, not eight, at state scale
    if current_site is not None:  # the repair's warm start: the current site first
        hint[current_site[arc_referral] == arc_site] = 0

    def plan(flow: IntArray, out_units: IntArray, anchor: IntArray | None, share: float
             ) -> tuple[IntArray, IntArray, int, int]:
        x, y = _round(c, lp.whole(flow, anchor), out_units, d.level_units)
        site_room, contract_room = d.rooms_after(x)
        deadline = time.perf_counter() + share * left()
        _repair(d, x, y, site_room, contract_room, arc_referral, arc_site, arc_cost, arc_units, penalty,
                site_left, site_contract, contract_left, hint, deadline, workers)
        return x, y, int(y.sum()), int(d.cost.dot(x)) + int(c.level_penalty.dot(c.level_size - y))

    x, y, count, objective = plan(flow, out_units, None, REPAIR_SHARE)
    # Which optimal solution of the relaxation gets rounded matters: re-solve it anchored on the
    # plan's arcs, round again, and keep the better plan while it improves.
    for _ in range(ANCHOR_ROUNDS):
        if left() < 4 * flow_seconds:
            break
        anchor = np.flatnonzero(x > 0)
        _, flow2, out2 = lp.solve(scale, unplaced_cost, anchor)
        x2, y2, count2, objective2 = plan(flow2, out2, anchor, REPAIR_SHARE)
        if (count2, -objective2) <= (count, -objective):
            break
        x, y, count, objective = x2, y2, count2, objective2
    if current_site is not None and (current_site[arc_referral] == arc_site).any():
        # Re-solve: also improve the plan that keeps every proposal that still fits; the better
        # plan wins (a move costs its stability term, so equal plans keep members where they are).
        kept = kept_plan(arc_referral, arc_site, arc_units, penalty, site_left, site_contract, contract_left,
                         current_site)
        x2, y2 = c.counts(kept)
        _improve(d, x2, y2, *d.rooms_after(x2), time.perf_counter() + left())
        count2 = int(y2.sum())
        objective2 = int(d.cost.dot(x2)) + int(c.level_penalty.dot(c.level_size - y2))
        if (count2, -objective2) >= (count, -objective):
            x, y, count, objective = x2, y2, count2, objective2
    proven = 0  # CP-SAT's bound, for plans placing at least as many as its plan (never more than ours)
    polish = min(POLISH_SECONDS, POLISH_SHARE * left())
    if n <= POLISH_REFERRALS and polish > 0.1:
        # Mid-size: CP-SAT, warm-started from this plan, may prove the count or place one more.
        part = solve_assignment(arc_referral, arc_site, arc_cost, arc_units, penalty, site_left, site_contract,
                                contract_left, time_limit=polish, workers=workers,
                                start=c.split(c.level_size - y, x))
        placed_bound = min(placed_bound, part.placed_bound)
        proven = part.bound
        if (part.chosen.size, -part.objective) > (count, -objective):
            x, y = c.counts(part.chosen)
            _improve(d, x, y, *d.rooms_after(x), time.perf_counter() + REPAIR_SHARE * polish)
            count = int(y.sum())
            objective = int(d.cost.dot(x)) + int(c.level_penalty.dot(c.level_size - y))
    bound = _lagrangian_bound(lp, d, scale, price, lp_cost, out_units, n, count, objective, deadline=end)
    placed_bound = max(placed_bound, count)
    bound = min(max(bound, proven), objective)
    chosen = c.split(c.level_size - y, x)
    return AssignmentResult(chosen, count == placed_bound and bound == objective, objective, bound, placed_bound)


def _class_max(values: IntArray, bounds: IntArray) -> IntArray:
    """Per class, the largest value over its arcs."""
    if values.size == 0:
        return np.zeros(bounds.size - 1, dtype=np.int64)
    return np.asarray(np.maximum.reduceat(values, bounds[:-1]))


def _round(c: Classes, x: IntArray, out_units: IntArray, level_units: IntArray) -> tuple[IntArray, IntArray]:
    """Whole members of the relaxation keep their site, the most urgent of each class first.

    ``x`` is the members placed whole per class arc; returns it and ``y`` (members placed per level).
    """
    candidates = c.level_size - out_units // level_units  # members of each level placed at least in part
    spare = np.bincount(c.level_class, weights=candidates, minlength=c.n_classes).astype(np.int64) - np.bincount(
        c.class_of_arc, weights=x, minlength=c.n_classes).astype(np.int64)
    # Of each class, the members not placed whole come from its least urgent levels.
    by_urgency = np.lexsort((c.level_penalty, c.level_class))
    klass = c.level_class[by_urgency]
    ordered = candidates[by_urgency]
    before = np.cumsum(ordered) - ordered
    before -= before[np.searchsorted(klass, np.arange(c.n_classes))][klass]
    y = candidates.copy()
    y[by_urgency] -= np.clip(spare[klass] - before, 0, ordered)
    return x, y


def _repair(
    d: _Instance, x: IntArray, y: IntArray, site_room: IntArray, contract_room: IntArray,
    arc_referral: IntArray, arc_site: IntArray, arc_cost: IntArray, arc_units: IntArray, penalty: IntArray,
    site_left: IntArray, site_contract: IntArray, contract_left: IntArray, hint: npt.NDArray[np.int8], deadline: float,
    workers: int,
) -> None:
    """Place what the rounding left out; updates ``x``, ``y`` and the rooms in place.

    A small repair set (members not placed whole that fit somewhere) gets exact CP-SAT on the
    rooms left: most placed, then least cost. Then, whatever its size, :func:`_improve`: the
    greedy fill, exchanges and upgrades.
    """
    c = d.c
    room = d.room(site_room, contract_room)
    fits = room[d.site] >= d.units
    waiting = c.level_size - y
    open_class = np.zeros(c.n_classes, dtype=bool)
    open_class[c.level_class[waiting > 0]] = True
    if fits.size:
        open_class &= np.logical_or.reduceat(fits, d.arcs_of_class[:-1])
    if 0 < int(waiting[open_class[c.level_class]].sum()) <= REPAIR_EXACT:
        placed = np.zeros(int(arc_referral.max(initial=-1)) + 1, dtype=bool)
        placed[arc_referral[c.split(waiting, x)]] = True
        sorted_fits = np.zeros(arc_referral.size, dtype=bool)
        class_arc = c.class_arc_of()
        sorted_fits[c.order] = fits[class_arc] & open_class[c.class_of_arc[class_arc]]
        candidate = np.flatnonzero(sorted_fits & ~placed[arc_referral])
        left_site, left_contract = d.given_rooms(site_room, contract_room, site_left, contract_left)
        part = solve_assignment(arc_referral[candidate], arc_site[candidate], arc_cost[candidate],
                                arc_units[candidate], penalty, left_site, site_contract, left_contract,
                                time_limit=max(0.05, deadline - time.perf_counter()), workers=workers,
                                hint_rank=hint[candidate].astype(np.int64))
        add_x, add_y = c.counts(candidate[part.chosen])
        x += add_x
        y += add_y
        site_room[:], contract_room[:] = d.rooms_after(x)
    _improve(d, x, y, site_room, contract_room, deadline)


def _improve(d: _Instance, x: IntArray, y: IntArray, site_room: IntArray, contract_room: IntArray,
             deadline: float) -> None:
    """Greedy fill, then exchanges (one more placed) and upgrades (same count, lower cost), in turn.

    An upgrade can leave the room an exchange needs and the other way round, so the two
    alternate until neither changes anything or the deadline passes.
    """
    _greedy_fill(d, x, y, site_room, contract_room)
    for _ in range(IMPROVE_ROUNDS):
        changed = _exchanges(d, x, y, site_room, contract_room, deadline)
        changed |= _upgrades(d, x, y, site_room, contract_room, deadline)
        if not changed or time.perf_counter() > deadline:
            break
        _greedy_fill(d, x, y, site_room, contract_room)


def _greedy_fill(d: _Instance, x: IntArray, y: IntArray, site_room: IntArray, contract_room: IntArray) -> None:
    """Place waiting members where they fit: smallest demand, then most urgent, cheapest arc first."""
    c = d.c
    fits = d.room(site_room, contract_room)[d.site] >= d.units  # rooms only shrink: nothing else will fit
    waiting = c.level_size - y
    if not fits.any() or not waiting.any():
        return
    class_fits = np.logical_or.reduceat(fits, d.arcs_of_class[:-1])
    levels = np.flatnonzero((waiting > 0) & class_fits[c.level_class])
    for level in levels[np.lexsort((-c.level_penalty[levels], d.level_units[levels]))].tolist():
        k, u, left = int(c.level_class[level]), int(d.level_units[level]), int(waiting[level])
        start = int(d.arcs_of_class[k])
        arcs = start + np.flatnonzero(fits[start:d.arcs_of_class[k + 1]])
        for j in arcs[np.argsort(d.cost[arcs], kind="stable")].tolist():
            s = int(d.site[j])
            contract = int(d.site_contract[s])
            m = min(left, int(min(site_room[s], contract_room[contract])) // u)
            if m <= 0:
                continue
            x[j] += m
            y[level] += m
            site_room[s] -= m * u
            contract_room[contract] -= m * u
            left -= m
            if left == 0:
                break


def _exchanges(d: _Instance, x: IntArray, y: IntArray, site_room: IntArray, contract_room: IntArray,
               deadline: float) -> bool:
    """Place waiting members by moving one placed member elsewhere to make room; True if any placed.

    A move takes a placed member ``v`` from site ``s`` to the cheapest other site of its class
    with room for it; it is worth making when the room it leaves at ``s`` fits a waiting member
    (the smallest demand, then the most urgent, then the cheapest arc). Moves are found for all
    sites at once, then applied one by one with rooms re-checked at both sites and both
    contracts; rounds repeat while they place someone.
    """
    c = d.c
    n_s = d.site_room.size
    never = np.iinfo(np.int64).max
    levels = _Levels(c, y)
    placed_any = False
    while time.perf_counter() < deadline and x.size:
        room = d.room(site_room, contract_room)
        waiting = c.level_size - y
        # Waiting classes' arcs that do not fit now, by site: smallest demand, most urgent, cheapest.
        urgent = np.full(c.n_classes, -1, dtype=np.int64)
        np.maximum.at(urgent, c.level_class[waiting > 0], c.level_penalty[waiting > 0])
        class_waiting = np.bincount(c.level_class, weights=waiting, minlength=c.n_classes).astype(np.int64)
        wanted = np.flatnonzero((urgent[c.class_of_arc] >= 0) & (room[d.site] < d.units))
        if wanted.size == 0:
            break
        wanted = wanted[np.lexsort((d.cost[wanted], -urgent[c.class_of_arc[wanted]], d.units[wanted],
                                    d.site[wanted]))]
        wanted_start = np.searchsorted(d.site[wanted], np.arange(n_s + 1))
        smallest = np.full(n_s, never, dtype=np.int64)
        np.minimum.at(smallest, d.site[wanted], d.units[wanted])
        # Placed members whose leaving would make room, and their cheapest target elsewhere.
        movers = np.flatnonzero((x > 0) & (room[d.site] + d.units >= smallest[d.site]))
        if movers.size == 0:
            break
        takes = room[d.site] >= d.units
        price = np.where(takes, d.cost, never)
        best = _class_argmin(price, d.arcs_of_class)
        other = np.where(takes & (d.site != d.site[best[c.class_of_arc]]), d.cost, never)
        second = _class_argmin(other, d.arcs_of_class)
        k = c.class_of_arc[movers]
        target = np.where(d.site[best[k]] != d.site[movers], best[k], second[k])
        keep = (target >= 0) & takes[np.maximum(target, 0)]
        movers, target = movers[keep], target[keep]
        placed_now = 0
        for v, t in zip(*(a.tolist() for a in _by(d.cost[target] - d.cost[movers], movers, target)), strict=True):
            if time.perf_counter() > deadline:
                break
            if x[v] == 0:
                continue
            s = int(d.site[v])
            uv = int(d.units[v])
            a = int(d.site_contract[s])
            ts = int(d.site[t])
            if min(site_room[ts], contract_room[d.site_contract[ts]]) < uv:
                continue
            for j in wanted[wanted_start[s]:wanted_start[s + 1]].tolist():
                u = int(d.units[j])
                if u > min(site_room[s], contract_room[a]) + uv:
                    break  # sorted by demand: nothing further fits either
                kj = int(c.class_of_arc[j])
                if not class_waiting[kj] or not _move_fits(d, site_room, contract_room, s, a, u, t, uv):
                    continue
                level = levels.waiting(kj)
                for arc, delta, units in ((v, -1, uv), (t, 1, uv), (j, 1, u)):
                    x[arc] += delta
                    site = int(d.site[arc])
                    site_room[site] -= delta * units
                    contract_room[d.site_contract[site]] -= delta * units
                y[level] += 1
                class_waiting[kj] -= 1
                placed_now += 1
                break
        placed_any |= placed_now > 0
        if placed_now == 0:
            break
    return placed_any


def _upgrades(d: _Instance, x: IntArray, y: IntArray, site_room: IntArray, contract_room: IntArray,
              deadline: float) -> bool:
    """Swap a placed member for a waiting one at the same site when that lowers the objective.

    The count stays the same; the waiting member may need more units than the one it replaces,
    up to what the site has left, so rooms the rounding could not fill buy urgency. The most
    valuable waiting member goes first, replacing the least valuable placed member it fits in
    for. Returns True if anything changed.
    """
    c = d.c
    n_s = d.site_room.size
    levels = _Levels(c, y)
    changed = False
    while time.perf_counter() < deadline and x.size:
        waiting = c.level_size - y
        urgent = np.full(c.n_classes, -1, dtype=np.int64)
        np.maximum.at(urgent, c.level_class[waiting > 0], c.level_penalty[waiting > 0])
        # Placed members' least urgent level per class (what a swap would give up).
        mild = np.full(c.n_classes, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(mild, c.level_class[y > 0], c.level_penalty[y > 0])
        placed = np.flatnonzero(x > 0)
        give = mild[c.class_of_arc[placed]] - d.cost[placed]  # penalty given back, less the cost saved
        least = np.full(n_s, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(least, d.site[placed], give)
        wanted = np.flatnonzero(urgent[c.class_of_arc] >= 0)
        value = urgent[c.class_of_arc[wanted]] - d.cost[wanted]
        worth = value > least[d.site[wanted]]
        wanted, value = wanted[worth], value[worth]
        if wanted.size == 0:
            break
        wanted = wanted[np.lexsort((-value, d.site[wanted]))]
        wanted_start = np.searchsorted(d.site[wanted], np.arange(n_s + 1))
        order = np.lexsort((give, d.site[placed]))
        placed, give = placed[order], give[order]
        placed_start = np.searchsorted(d.site[placed], np.arange(n_s + 1))
        swaps = 0
        for site in np.unique(d.site[wanted]).tolist():
            if time.perf_counter() > deadline:
                break
            a = int(d.site_contract[site])
            out_arcs = placed[placed_start[site]:placed_start[site + 1]]
            out_give = give[placed_start[site]:placed_start[site + 1]].tolist()
            out_units = d.units[out_arcs].tolist()
            out_class = c.class_of_arc[out_arcs].tolist()
            out = out_arcs.tolist()
            biggest = max(out_units, default=0)
            for j in wanted[wanted_start[site]:wanted_start[site + 1]].tolist():
                kj = int(c.class_of_arc[j])
                u = int(d.units[j])
                room = int(min(site_room[site], contract_room[a]))
                if u > room + biggest:
                    continue
                level = levels.waiting(kj)
                if level < 0:
                    continue
                gain = levels.penalty[level] - int(d.cost[j])
                if gain <= out_give[0]:
                    break  # by value: no one further gains
                for i, v in enumerate(out):
                    if out_give[i] >= gain:
                        break
                    kv, uv = out_class[i], out_units[i]
                    if x[v] == 0 or kv == kj or room + uv < u:
                        continue
                    level_v = levels.held(kv)
                    if level_v < 0 or levels.penalty[level_v] - int(d.cost[v]) >= gain:
                        continue
                    x[v] -= 1
                    y[level_v] -= 1
                    x[j] += 1
                    y[level] += 1
                    site_room[site] += uv - u
                    contract_room[a] += uv - u
                    swaps += 1
                    break
        changed |= swaps > 0
        if swaps == 0:
            break
    return changed


class _Levels:
    """Each class's urgency levels, for the scalar searches of the exchanges and upgrades."""

    def __init__(self, c: Classes, y: IntArray) -> None:
        bounds = np.searchsorted(c.level_class, np.arange(c.n_classes + 1)).tolist()
        self.first, self.end = bounds[:-1], bounds[1:]
        self.penalty: list[int] = c.level_penalty.tolist()
        self.size = c.level_size
        self.y = y

    def waiting(self, k: int) -> int:
        """The most urgent level of class ``k`` with a member waiting, or -1."""
        best = -1
        for level in range(self.first[k], self.end[k]):
            if self.y[level] < self.size[level] and (best < 0 or self.penalty[level] > self.penalty[best]):
                best = level
        return best

    def held(self, k: int) -> int:
        """The least urgent level of class ``k`` with a member placed, or -1."""
        best = -1
        for level in range(self.first[k], self.end[k]):
            if self.y[level] > 0 and (best < 0 or self.penalty[level] < self.penalty[best]):
                best = level
        return best


def _by(key: IntArray, *arrays: IntArray) -> tuple[IntArray, ...]:
    """``arrays`` sorted by ``key`` (stable)."""
    order = np.argsort(key, kind="stable")
    return tuple(a[order] for a in arrays)


def _class_argmin(values: IntArray, bounds: IntArray) -> IntArray:
    """Per class, the class arc with the least value (the first on ties)."""
    least = np.minimum.reduceat(values, bounds[:-1])
    hit = np.flatnonzero(values == least[np.repeat(np.arange(bounds.size - 1), np.diff(bounds))])
    klass = np.searchsorted(bounds, hit, side="right") - 1
    first = np.full(bounds.size - 1, -1, dtype=np.int64)
    first[klass[::-1]] = hit[::-1]
    return first


def _move_fits(d: _Instance, site_room: IntArray, contract_room: IntArray, s: int, a: int, u: int, t: int,
               uv: int) -> bool:
    """Would moving ``uv`` units from site ``s`` (contract ``a``) along arc ``t`` leave ``u`` units at ``s``?"""
    ts = int(d.site[t])
    b = int(d.site_contract[ts])
    if ts == s or site_room[ts] < uv or site_room[s] + uv < u:
        return False
    if a == b:
        return bool(contract_room[a] >= u)
    return bool(contract_room[b] >= uv and contract_room[a] + uv >= u)


def _lagrangian_bound(
    lp: _Relaxation, d: _Instance, scale: int, price: int, price_cost: int,
    price_out: IntArray, n: int, count: int, objective: int, *, deadline: float,
) -> int:
    """Largest ``LP(mu) - mu * (n - count)`` found for ``mu`` in ``[0, LAMBDA]`` (Kelley's cutting planes).

    ``LP(mu)`` is the relaxation with member price ``mu``. A plan placing ``count`` or more has
    ``objective + mu * unplaced >= LP(mu)`` and ``unplaced <= n - count``, so each value bounds the
    objective of every such plan from below; ``cost / S`` never exceeds ``LP(mu)`` (costs rounded
    down). The function is concave in ``mu``; its slope at ``mu`` is the relaxation's unplaced
    count there minus ``n - count``. The first flow at ``mu = 0`` is skipped when the deadline has passed.
    """
    c, lu = d.c, d.level_units
    out = n - count

    def value(mu: int, cost: int, unplaced: IntArray) -> tuple[int, float, float]:
        exact = -(-(cost - mu * scale * out) // scale)  # ceil: objectives are integers
        return exact, (cost - mu * scale * out) / scale, float((unplaced / lu).sum()) - out

    best, g_hi, s_hi = value(price, price_cost, price_out)
    if s_hi >= 0:
        return best
    cost, _, unplaced = lp.solve(scale, scale * c.level_penalty // lu)
    exact, g_lo, s_lo = value(0, cost, unplaced)
    best = max(best, exact)
    lo, hi = 0.0, float(price)
    for step in range(BOUND_ITERATIONS):
        if s_lo <= 0 or (step + 1 >= BOUND_MIN_FLOWS and time.perf_counter() > deadline):
            break
        mu = (g_hi - g_lo + s_lo * lo - s_hi * hi) / (s_lo - s_hi)  # where the two cuts meet
        if g_lo + s_lo * (mu - lo) - best <= BOUND_TOLERANCE * max(objective, 1):
            break
        mu_int = int(round(mu))
        if not lo < mu_int < hi:
            break
        cost, _, unplaced = lp.solve(scale, scale * (mu_int + c.level_penalty) // lu)
        exact, g, s = value(mu_int, cost, unplaced)
        best = max(best, exact)
        if s == 0:
            break
        if s > 0:
            lo, g_lo, s_lo = float(mu_int), g, s
        else:
            hi, g_hi, s_hi = float(mu_int), g, s
    return best
