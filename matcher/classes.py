"""Referral classes: referrals with identical arcs (site, cost, units) are interchangeable.

Both solver paths work on classes instead of referrals: the min-cost flow gets one node per
class, CP-SAT one integer variable per (class, site) instead of one boolean per referral arc,
which also removes the symmetry between look-alike referrals. Within a class, members differ
only in their unplaced penalty (urgency), so each class is split into penalty *levels*. After
solving, :meth:`Classes.split` hands the counts back to members: in each level the least
recently listed members are the ones left out, so the result is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.problem import IntArray

__all__ = ["Classes", "Hubs", "build_classes", "build_hubs", "pair_hub_flows", "referral_classes"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, element-wise on uint64 (wrapping), *in place*: ``z`` is overwritten
    and returned. (One value per arc at state scale: one temporary, not a new array per step.)"""
    assert z.dtype == np.uint64
    t = np.empty_like(z)
    for shift, multiplier in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
        np.right_shift(z, np.uint64(shift), out=t)
        z ^= t
        z *= np.uint64(multiplier)
    np.right_shift(z, np.uint64(31), out=t)
    z ^= t
    return z


def _is_identity(order: IntArray) -> bool:
    """Whether a permutation leaves every position where it is (the builder's arcs come sorted)."""
    return order.size == 0 or (int(order[-1]) == order.size - 1 and bool((order[1:] > order[:-1]).all()))


def _by_referral_site(arc_referral: IntArray, arc_site: IntArray) -> IntArray:
    """The order sorting arcs by (referral, site): (referral, site) keys are unique, so any sort is
    stable, and the builder's arcs usually come sorted already (then this is one pass)."""
    if arc_referral.size == 0:
        return np.zeros(0, dtype=np.int64)
    key = arc_referral * (int(arc_site.max()) + 1) + arc_site
    if bool((key[1:] > key[:-1]).all()):
        return np.arange(key.size, dtype=np.int64)
    return np.asarray(np.argsort(key), dtype=np.int64)


def referral_classes(arc_referral: IntArray, arc_site: IntArray, arc_cost: IntArray) -> tuple[IntArray, IntArray]:
    """Group referrals with identical (site, cost) arc lists.

    Returns ``(order, arc_class)``: ``order`` sorts the arcs by (referral, site), and
    ``arc_class[i]`` is the class of the referral of arc ``order[i]``. Classes are found by a
    hash of the arc list and then verified arc by arc, so a hash collision only costs a split.
    """
    order = _by_referral_site(arc_referral, arc_site)
    # (Memory: every temporary here is one value per arc, tens of millions at state scale; sorted
    # input is used as it is, and each temporary is dropped as soon as it has served.)
    in_order = _is_identity(order)
    referral = arc_referral if in_order else arc_referral[order]
    site, cost = (arc_site, arc_cost) if in_order else (arc_site[order], arc_cost[order])
    start = np.flatnonzero(np.r_[True, referral[1:] != referral[:-1]])
    count = np.diff(np.r_[start, referral.size])
    n_arcs = referral.size
    del referral
    with np.errstate(over="ignore"):
        arc_hash = site.astype(np.uint64)
        arc_hash *= _GOLDEN
        arc_hash += cost.astype(np.uint64)
        _mix(arc_hash)
        signature = np.add.reduceat(arc_hash, start) if n_arcs else np.zeros(0, np.uint64)
        del arc_hash
        signature = _mix(signature ^ count.astype(np.uint64))
    _, first, klass = np.unique(signature, return_index=True, return_inverse=True)
    klass = klass.ravel()
    # Verify: each member's arcs equal its class representative's, position by position (a member
    # whose count differs fails; its clamped positions are never trusted).
    representative = first[klass]
    same_count = count == count[representative]
    rep_arc = np.arange(n_arcs) + np.repeat(start[representative] - start, count)
    np.minimum(rep_arc, max(n_arcs - 1, 0), out=rep_arc)
    arc_same = site == site[rep_arc]
    arc_same &= cost == cost[rep_arc]
    del rep_arc
    arc_same &= np.repeat(same_count, count)
    member_ok = np.logical_and.reduceat(arc_same, start) if n_arcs else np.zeros(0, bool)
    if not member_ok.all():
        bad = np.flatnonzero(~member_ok)
        klass = klass.copy()
        klass[bad] = klass.max() + 1 + np.arange(bad.size)
        _, klass = np.unique(klass, return_inverse=True)
    return order, np.repeat(klass.ravel(), count)


@dataclass(frozen=True, eq=False)
class Classes:
    """Classes and levels of a set of arcs; arc positions refer to ``order`` (sorted arcs)."""

    order: IntArray  # arcs sorted by (referral, site)
    first_arc: IntArray  # per member: its first arc in sorted order
    members: IntArray  # per member: referral index
    member_class: IntArray
    member_level: IntArray
    class_rep: IntArray  # per class: its first member
    class_arcs: IntArray  # sorted positions of each class's arcs (its representative's), by class
    class_of_arc: IntArray  # per class arc: its class
    class_size: IntArray
    level_class: IntArray
    level_penalty: IntArray
    level_size: IntArray

    @property
    def n_classes(self) -> int:
        return int(self.class_size.size)

    def class_arc_of(self, sorted_pos: IntArray | None = None) -> IntArray:
        """Per sorted arc position (all, or those given): the class arc it stands for (same site,
        same place in the list)."""
        if sorted_pos is None:
            sorted_pos = np.arange(self.order.size)
        member = np.searchsorted(self.first_arc, sorted_pos, side="right") - 1
        offset = sorted_pos - self.first_arc[member]
        return np.asarray(np.searchsorted(self.class_of_arc, self.member_class[member]) + offset)

    def counts(self, used: IntArray) -> tuple[IntArray, IntArray]:
        """A plan by arc positions (into the original arcs) as counts: per class arc, per level."""
        if _is_identity(self.order):
            sorted_pos = np.asarray(used, dtype=np.int64)
        else:  # the inverse permutation, looked up only where used
            where = np.empty(self.order.size, dtype=np.int64)
            where[self.order] = np.arange(self.order.size)
            sorted_pos = where[used]
            del where
        member = np.searchsorted(self.first_arc, sorted_pos, side="right") - 1
        x = np.bincount(self.class_arc_of(sorted_pos), minlength=self.class_arcs.size).astype(np.int64)
        y = np.bincount(self.member_level[member], minlength=self.level_size.size).astype(np.int64)
        return x, y

    def split(self, unplaced: IntArray, to_site: IntArray) -> IntArray:
        """Hand counts back to members; return positions (into the original arcs) of arcs used.

        ``unplaced[level]`` members of each level stay out (the last listed); the placed members
        of each class take its arcs' ``to_site[class arc]`` slots in order.
        """
        return _split(self.order, self.first_arc, self.member_class, self.member_level, unplaced,
                      self.class_arcs, self.class_of_arc, to_site, self.class_rep)


def build_classes(arc_referral: IntArray, arc_site: IntArray, arc_key: IntArray, penalty: IntArray) -> Classes:
    """Group the referrals of these arcs into classes (same ``(site, arc_key)`` lists) and levels."""
    order, arc_class = referral_classes(arc_referral, arc_site, arc_key)
    referral = arc_referral[order]
    first_arc = np.flatnonzero(np.r_[True, referral[1:] != referral[:-1]]) if referral.size else \
        np.zeros(0, np.int64)
    members = referral[first_arc]
    member_class = arc_class[first_arc]
    n_classes = int(member_class.max()) + 1 if member_class.size else 0
    class_rep = np.full(n_classes, -1, dtype=np.int64)
    class_rep[member_class[::-1]] = np.arange(member_class.size)[::-1]
    member_arcs = np.diff(np.r_[first_arc, referral.size])
    rep_arcs = member_arcs[class_rep]
    class_of_arc = np.repeat(np.arange(n_classes), rep_arcs)
    class_arcs = np.repeat(first_arc[class_rep], rep_arcs) + (
        np.arange(class_of_arc.size) - np.repeat(np.cumsum(rep_arcs) - rep_arcs, rep_arcs))
    member_penalty = penalty[members]
    span = int(member_penalty.max(initial=0)) + 1
    level_key = np.unique(member_class * span + member_penalty)
    member_level = np.searchsorted(level_key, member_class * span + member_penalty)
    return Classes(
        order=order, first_arc=first_arc, members=members, member_class=member_class, member_level=member_level,
        class_rep=class_rep, class_arcs=class_arcs, class_of_arc=class_of_arc,
        class_size=np.bincount(member_class, minlength=n_classes),
        level_class=level_key // span, level_penalty=level_key % span,
        level_size=np.bincount(member_level, minlength=level_key.size),
    )


def _split(
    order: IntArray, first_arc: IntArray, member_class: IntArray, member_level: IntArray, unplaced: IntArray,
    class_arcs: IntArray, class_of_arc: IntArray, to_site: IntArray, class_rep: IntArray,
) -> IntArray:
    """Hand each class's flow back to its members: least urgent unplaced, the rest site by site."""
    n = member_class.size
    # Rank members within their level by referral order; the last `unplaced[level]` stay out.
    by_level = np.lexsort((np.arange(n), member_level))
    level_start = np.searchsorted(member_level[by_level], np.arange(unplaced.size))
    level_end = np.r_[level_start[1:], n]
    rank_from_end = np.empty(n, dtype=np.int64)
    rank_from_end[by_level] = level_end[member_level[by_level]] - 1 - np.arange(n)
    placed = rank_from_end >= unplaced[member_level]
    # Placed members of a class take the class's site slots in order.
    who = np.flatnonzero(placed)
    who = who[np.lexsort((who, member_class[who]))]
    slots = np.repeat(np.arange(class_arcs.size), to_site)  # class arc per slot, grouped by class
    slots = slots[np.lexsort((slots, class_of_arc[slots]))]
    assert slots.size == who.size, "flow out of classes must equal members placed"
    # Member arc = member's first arc + (class arc offset from its representative's first arc).
    offset = class_arcs[slots] - first_arc[class_rep[class_of_arc[slots]]]
    return np.asarray(order[first_arc[who] + offset])


@dataclass(frozen=True, eq=False)
class Hubs:
    """Class arcs grouped into hubs: shared sets of sites a class reaches at one cost.

    A class reaches its sites at a few distinct costs (preference rank, continuity, fit), and many
    classes share the same sets of sites. For each class and each of its cost levels ``L`` a
    network gets one arc (``hub_class[i]`` -> hub ``hub_node[i]`` at ``hub_cost[i]``) to a hub
    standing for the set ``T(k, L)`` of the class's sites costing at most ``L``, and the hub one
    free arc to each of its sites (``hub_tail[j]`` -> ``hub_site[j]``). Every real arc is a path
    at its own cost (through the hub of its level); the other paths through a hub are real arcs
    at a higher price, never used by an optimal flow (the class's own level gives the same site
    cheaper, with the same capacity). So optimal flows and values are the network's without hubs,
    and any pairing of a hub's inflows with its outflows is an optimal assignment. Levels
    reaching at most ``direct_sites`` sites keep their class arcs (``direct_arcs``).
    """

    hub_class: IntArray
    hub_cost: IntArray
    hub_node: IntArray
    hub_site: IntArray
    hub_tail: IntArray
    direct_arcs: IntArray  # class arcs kept as they are

    @property
    def n_hubs(self) -> int:
        return int(self.hub_tail.max(initial=-1)) + 1


def build_hubs(class_of_arc: IntArray, cost: IntArray, site: IntArray, arcs_of_class: IntArray,
               direct_sites: int) -> Hubs:
    """Group class arcs (``class_of_arc`` sorted, each class's arcs contiguous) into :class:`Hubs`."""
    by_cost = np.lexsort((cost, class_of_arc))
    klass, cost_sorted, site_sorted = class_of_arc[by_cost], cost[by_cost], site[by_cost]
    new = np.r_[True, (klass[1:] != klass[:-1]) | (cost_sorted[1:] != cost_sorted[:-1])] if klass.size else \
        np.zeros(0, bool)
    group_start = np.flatnonzero(new)
    group_end = np.r_[group_start[1:], klass.size].astype(np.int64)
    group_class, group_cost = klass[group_start], cost_sorted[group_start]
    class_start = arcs_of_class[group_class]
    direct = (group_end - group_start) <= direct_sites
    # Distinct site sets T(k, L): two order-free 64-bit hashes of the set and its size.
    with np.errstate(over="ignore"):
        cum1 = np.cumsum(_mix(site_sorted.astype(np.uint64) * _GOLDEN + np.uint64(1)))
        cum2 = np.cumsum(_mix(site_sorted.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F) + np.uint64(7)))
        if klass.size:
            hash1 = cum1[group_end - 1] - np.where(class_start > 0, cum1[np.maximum(class_start - 1, 0)], 0)
            hash2 = cum2[group_end - 1] - np.where(class_start > 0, cum2[np.maximum(class_start - 1, 0)], 0)
        else:
            hash1 = hash2 = np.zeros(0, np.uint64)
    hubbed = np.flatnonzero(~direct)
    keys = np.stack([hash1[hubbed], hash2[hubbed], (group_end - class_start)[hubbed].astype(np.uint64)], axis=1)
    _, first, hub_of = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    rep = hubbed[first]  # a group whose prefix set is the hub's
    lengths = (group_end - class_start)[rep]
    hub_site = site_sorted[np.repeat(class_start[rep] - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
                           + np.arange(int(lengths.sum()))]
    starts, ends = group_start[direct], group_end[direct]
    counts = ends - starts
    direct_arcs = by_cost[np.repeat(starts - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(int(counts.sum()))]
    return Hubs(group_class[hubbed], group_cost[hubbed], np.asarray(hub_of).ravel().astype(np.int64),
                hub_site, np.repeat(np.arange(first.size), lengths), direct_arcs)


def pair_hub_flows(hubs: Hubs, inflow: IntArray, outflow: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Pair each hub's inflows (per class -> hub arc) with its outflows (per hub -> site arc).

    North-west corner over all hubs at once: inflows sorted by hub and outflows (grouped by hub)
    have equal totals per hub, so their running sums meet at every hub boundary. Returns
    ``(class, site, amount)`` of the pieces.
    """
    order = np.argsort(hubs.hub_node, kind="stable")
    a = np.cumsum(inflow[order])
    b = np.cumsum(outflow)
    cuts = np.union1d(a, b)
    cuts = cuts[cuts > 0]
    amount = np.diff(np.r_[0, cuts])
    i = np.searchsorted(a, cuts)
    j = np.searchsorted(b, cuts)
    return hubs.hub_class[order[i]], hubs.hub_site[j], amount
