"""The exact path: a min-cost flow over referral classes (OR-Tools ``SimpleMinCostFlow``).

Referrals with the same arcs at the same costs are interchangeable, so the network carries one
*class* node per distinct arc list instead of one node per referral: a county's home-delivered
referrals without personal preferences share a handful of classes. Within a class, members
differ only in their unplaced penalty (urgency), so a class gets one supply node per penalty
level. This is exact (the optimum of the aggregated network, split back to members, is an
optimum of the original) and cuts the arcs the solver sees by half or more.

Network, with ``u`` the units every arc of the component uses (capacities are divided by it):

    level (supply = its members) --top - penalty--> class --cost--> site --> contract --> sink

It is solved by ``solve_max_flow_with_min_cost``: first the maximum flow (the most members
placed, globally, through any chain of reassignments), then the least cost among maximum flows.
With the flow value fixed, ``top - penalty`` per placed member is the penalty of the unplaced
ones up to a constant, so this is exactly "most placed, then least cost plus unplaced
penalties". No big placement constant is needed: OR-Tools' cost scaling multiplies costs by
the node count, and a constant large enough to dominate every chain made it 2-3x slower and
closer to int64 overflow.

Who in a class is left unplaced: its least urgent members (the flow says how many per level),
ties broken by referral order, so results are deterministic.
"""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow

from matcher.classes import build_classes, build_hubs, pair_hub_flows
from matcher.errors import MatcherError
from matcher.problem import NO_LIMIT, IntArray

__all__ = ["INT64_SAFE", "solve_flow"]

#: A class's cost level reaching at most this many sites keeps direct arcs instead of a hub.
DIRECT_SITES = 2
#: Scaled costs must stay below this (OR-Tools multiplies costs by the node count).
INT64_SAFE = 2**62


def solve_flow(
    arc_referral: IntArray, arc_site: IntArray, arc_cost: IntArray, arc_component: IntArray,
    component_units: IntArray, penalty: IntArray, site_left: IntArray, site_contract: IntArray,
    contract_left: IntArray,
) -> IntArray:
    """Solve whole components exactly; return positions (into the given arcs) of the arcs used."""
    c = build_classes(arc_referral, arc_site, arc_cost, penalty)
    order, n_classes, class_arcs, class_of_arc = c.order, c.n_classes, c.class_arcs, c.class_of_arc
    class_size, level_class, level_penalty, level_size = c.class_size, c.level_class, c.level_penalty, c.level_size
    members = c.members
    arc_class = np.repeat(c.member_class, np.diff(np.r_[c.first_arc, order.size]))
    site_of_arc = arc_site[order][class_arcs]
    cost_of_arc = arc_cost[order][class_arcs]
    component_of_class = np.zeros(n_classes, dtype=np.int64)
    component_of_class[arc_class] = arc_component[order]
    # Nodes: levels, classes, sites, contracts, sink.
    sites, site_local = np.unique(site_of_arc, return_inverse=True)
    contracts_of_sites = site_contract[sites]
    has_contract = contracts_of_sites >= 0
    contracts, contract_local = np.unique(contracts_of_sites[has_contract], return_inverse=True)
    n_l, n_k, n_s, n_c = level_class.size, n_classes, sites.size, contracts.size
    sink = n_l + n_k + n_s + n_c
    nodes = sink + 1
    top = int(level_penalty.max(initial=0))
    if max(top, int(cost_of_arc.max(initial=0))) > INT64_SAFE // (nodes + 1) // 2:
        raise MatcherError(f"costs up to {max(top, int(cost_of_arc.max(initial=0)))} are too large for an exact "
                           f"int64 flow over {nodes} nodes")
    site_u = np.ones(n_s, dtype=np.int64)
    site_u[site_local] = component_units[component_of_class[class_of_arc]]
    left = site_left[sites]
    site_cap = np.where(left == NO_LIMIT, int(members.size), left // site_u)
    contract_u = np.ones(n_c, dtype=np.int64)
    contract_u[contract_local] = site_u[has_contract]
    contract_cap = contract_left[contracts] // contract_u
    site_head = np.full(n_s, sink, dtype=np.int64)
    site_head[has_contract] = n_l + n_k + n_s + contract_local
    level_nodes = np.arange(n_l)
    # Class arcs through hubs (matcher.classes.Hubs): a class reaches a shared set of sites at one
    # cost through one arc; exact, and a tenth of the arcs at state scale.
    arcs_of_class = np.searchsorted(class_of_arc, np.arange(n_k + 1))
    h = build_hubs(class_of_arc, cost_of_arc, site_local, arcs_of_class, DIRECT_SITES)
    n_h = h.n_hubs
    if max(top, int(cost_of_arc.max(initial=0))) > INT64_SAFE // (nodes + n_h + 1) // 2:
        raise MatcherError(f"costs up to {max(top, int(cost_of_arc.max(initial=0)))} are too large for an exact "
                           f"int64 flow over {nodes + n_h} nodes")
    hub_base = sink + 1
    # Placed members first (max flow), then least cost: a level->class arc costs what
    # placing one more member of that level saves, shifted to be non-negative.
    tails = np.concatenate([n_l + h.hub_class, n_l + class_of_arc[h.direct_arcs], hub_base + h.hub_tail,
                            level_nodes, n_l + n_k + np.arange(n_s), n_l + n_k + n_s + np.arange(n_c)])
    heads = np.concatenate([hub_base + h.hub_node, n_l + n_k + site_local[h.direct_arcs],
                            n_l + n_k + h.hub_site, n_l + level_class, site_head, np.full(n_c, sink)])
    capacities = np.concatenate([class_size[h.hub_class], class_size[class_of_arc[h.direct_arcs]],
                                 np.full(h.hub_site.size, int(members.size)), level_size, site_cap, contract_cap])
    costs = np.concatenate([h.hub_cost, cost_of_arc[h.direct_arcs], np.zeros(h.hub_site.size, np.int64),
                            top - level_penalty, np.zeros(n_s + n_c, np.int64)])
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
    supplies = np.zeros(nodes + n_h, dtype=np.int64)
    supplies[:n_l] = level_size
    supplies[sink] = -int(members.size)
    flow.set_nodes_supplies(np.arange(nodes + n_h), supplies)
    status = flow.solve_max_flow_with_min_cost()
    if status != flow.OPTIMAL:
        raise MatcherError(f"min-cost flow ended with status {status!r}")
    values = flow.flows(arcs)
    n_hub_arcs, n_direct, n_out = h.hub_class.size, h.direct_arcs.size, h.hub_site.size
    to_site = np.zeros(class_arcs.size, dtype=np.int64)
    to_site[h.direct_arcs] = values[n_hub_arcs:n_hub_arcs + n_direct]
    klass, site, amount = pair_hub_flows(h, values[:n_hub_arcs], values[n_hub_arcs + n_direct:
                                                                         n_hub_arcs + n_direct + n_out])
    where = np.searchsorted(class_of_arc * n_s + site_local, klass * n_s + site)  # class arcs: by class, then site
    np.add.at(to_site, where, amount)
    start = n_hub_arcs + n_direct + n_out
    unplaced = level_size - values[start:start + n_l]
    return c.split(unplaced, to_site)
