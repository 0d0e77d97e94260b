"""Turn the chosen arcs into a :class:`~matcher.solution.Solution` that explains itself.

* each assignment: its cost terms, and for every provider the member ranked higher, the hard rule
  that ruled it out, or that it was full before the solve, or that its room went to others;
* each unplaced referral: the first hard rule its best candidate failed (from the build), or
  ``ALL_IN_AREA_FULL``, and the nearest sites that would take it if they had room;
* each moved proposal (re-solve): its provider reported full, capacity shrank, it is no longer
  eligible, it moved to a better match, or its place went to a more urgent referral.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from matcher.problem import NO_LIMIT, IntArray, Problem
from matcher.reasons import MoveReason, PreferenceMissReason, SolveStatus, UnplacedReason
from matcher.solution import Assignment, CostTerms, Move, NearbySite, PreferenceMiss, Solution, Unplaced
from matcher.weights import TIER_WEIGHTS, TIERS

if TYPE_CHECKING:
    from matcher.solver import Residual

__all__ = ["NEAREST", "explain"]

#: Sites listed per unplaced referral in the network-gap report.
NEAREST = 3


def explain(
    p: Problem, chosen: IntArray, res: Residual, *, status: SolveStatus, bound_gap: int, placed_gap: int,
    started: float,
    components: int, solver: str,
) -> Solution:
    """Build the Solution for ``chosen[r]`` (the arc of referral ``r``, or -1)."""
    from matcher.solver import fits

    placed = chosen >= 0
    arcs = chosen[placed]
    objective = int(p.arc_cost[arcs].sum()) + int(p.referral_penalty[~placed].sum())
    free_arcs = arcs[~p.referral_locked[p.arc_referral[arcs]]]
    site_used = np.bincount(p.arc_site[free_arcs], weights=p.arc_units[free_arcs], minlength=p.n_sites)
    site_after = np.where(res.site_left == NO_LIMIT, NO_LIMIT, res.site_left - site_used.astype(np.int64))
    contract_used = np.zeros(len(p.contract_ids), dtype=np.int64)
    contracts = p.site_contract[p.arc_site[free_arcs]]
    np.add.at(contract_used, contracts[contracts >= 0], p.arc_units[free_arcs][contracts >= 0])
    room_after = fits(p, site_after, res.contract_left - contract_used)
    misses = _preference_misses(p, chosen, res.usable, room_after)
    assignments = _assignments(p, chosen, misses)
    unplaced = _unplaced(p, chosen)
    moved = _moves(p, chosen, res)
    return Solution(
        status=status,
        objective=objective,
        bound=objective - bound_gap,
        placed=int(placed.sum()),
        placed_bound=int(placed.sum()) + placed_gap,
        runtime=time.perf_counter() - started,
        components=components,
        assignments=assignments,
        unplaced=unplaced,
        moved=moved,
        solver=solver,
    )


def _assignments(
    p: Problem, chosen: IntArray, misses: dict[int, tuple[PreferenceMiss, ...]]
) -> tuple[Assignment, ...]:
    referrals = np.flatnonzero(chosen >= 0)
    arcs = chosen[referrals]
    # Few distinct term vectors: build each CostTerms once.
    rows, inverse = np.unique(p.arc_terms[arcs], axis=0, return_inverse=True)
    terms = [CostTerms(*row) for row in rows.tolist()]
    ids, sites, providers = p.referral_ids, p.site_ids, p.site_provider
    return tuple(
        Assignment(ids[r], sites[s], providers[s], u, c, terms[t], lock, misses.get(r, ()))
        for r, s, u, c, t, lock in zip(referrals.tolist(), p.arc_site[arcs].tolist(), p.arc_units[arcs].tolist(),
                                       p.arc_cost[arcs].tolist(), inverse.ravel().tolist(),
                                       p.referral_locked[referrals].tolist(), strict=True)
    )


def _preference_misses(
    p: Problem, chosen: IntArray, room_before: np.ndarray, room_after: np.ndarray
) -> dict[int, tuple[PreferenceMiss, ...]]:
    """For placed referrals: each provider ranked above the one they got, and why not."""
    if not len(p.preference_referral):
        return {}
    rows = p.preference_referral
    keep = (chosen[rows] >= 0) & ~p.referral_locked[rows]
    got = {r: p.site_provider[p.arc_site[chosen[r]]] for r in np.unique(rows[keep]).tolist()}
    rank_got: dict[int, int] = {}
    for r, provider, rank in zip(rows.tolist(), p.preference_provider, p.preference_rank.tolist(), strict=True):
        if got.get(r) == provider:
            rank_got[r] = rank
    out: dict[int, list[PreferenceMiss]] = {}
    for i in np.flatnonzero(keep).tolist():
        r, provider, rank = int(rows[i]), p.preference_provider[i], int(p.preference_rank[i])
        if rank >= rank_got.get(r, rank + 1) or provider == got[r]:
            continue
        reason = p.preference_block[i]
        if reason is None:
            mine = [a for a in p.arcs_of(r).tolist() if p.site_provider[p.arc_site[a]] == provider]
            if not any(room_before[a] for a in mine):
                reason = PreferenceMissReason.FULL
            elif any(room_after[a] for a in mine):
                reason = PreferenceMissReason.NOT_CHOSEN
            else:
                reason = PreferenceMissReason.CAPACITY_GIVEN_TO_OTHERS
        out.setdefault(r, []).append(PreferenceMiss(provider, rank, reason))
    return {r: tuple(sorted(v, key=lambda m: m.rank)) for r, v in out.items()}


def _unplaced(p: Problem, chosen: IntArray) -> tuple[Unplaced, ...]:
    """Unplaced referrals with their reason and the nearest sites that would take them."""
    referrals = np.flatnonzero(chosen < 0)
    if referrals.size == 0:
        return ()
    arcs, referral = p.arcs_of_referrals(referrals)
    miles = np.nan_to_num(p.arc_miles[arcs], nan=np.inf)
    ranked = np.lexsort((p.arc_site[arcs], p.arc_cost[arcs], miles, referral))
    arcs, referral = arcs[ranked], referral[ranked]
    first = np.r_[True, referral[1:] != referral[:-1]] if referral.size else np.zeros(0, bool)
    group_start = np.maximum.accumulate(np.where(first, np.arange(referral.size), 0))
    near = (np.arange(referral.size) - group_start) < NEAREST
    nearby: dict[int, list[NearbySite]] = {}
    for r, s, m in zip(referral[near].tolist(), p.arc_site[arcs[near]].tolist(), p.arc_miles[arcs[near]].tolist(),
                       strict=True):
        nearby.setdefault(r, []).append(NearbySite(p.site_ids[s], p.site_provider[s], round(m, 1)))
    out = []
    for r in referrals.tolist():
        reason = p.referral_block[r]
        if reason is None:
            reason = UnplacedReason.ALL_IN_AREA_FULL if r in nearby else UnplacedReason.NO_ELIGIBLE_ARC
        out.append(Unplaced(p.referral_ids[r], reason, int(p.referral_penalty[r]), tuple(nearby.get(r, ()))))
    return tuple(out)


def _moves(p: Problem, chosen: IntArray, res: Residual) -> tuple[Move, ...]:
    """Proposals that changed site, each with the change that caused it."""
    current = p.referral_current
    chosen_site = np.full(p.n_referrals, -1, dtype=np.int64)
    chosen_site[chosen >= 0] = p.arc_site[chosen[chosen >= 0]]
    moved = np.flatnonzero((current >= 0) & ~p.referral_locked & (chosen_site != current))
    if moved.size == 0:
        return ()
    # Units the current proposals ask of each site and contract now.
    proposals = np.flatnonzero((current >= 0) & ~p.referral_locked)
    demand = np.bincount(current[proposals], weights=p.referral_units[proposals], minlength=p.n_sites)
    contract_demand = np.zeros(len(p.contract_ids), dtype=np.int64)
    contracts = p.site_contract[current[proposals]]
    np.add.at(contract_demand, contracts[contracts >= 0], p.referral_units[proposals][contracts >= 0])
    newcomers: dict[int, list[int]] = {}
    for r in np.flatnonzero((chosen_site >= 0) & (chosen_site != current) & ~p.referral_locked).tolist():
        newcomers.setdefault(int(chosen_site[r]), []).append(r)
    out = []
    for r in moved.tolist():
        s = int(current[r])
        to = int(chosen_site[r])
        site, provider = p.site_ids[s], p.site_provider[s]
        to_site = p.site_ids[to] if to >= 0 else None
        c = int(p.site_contract[s])
        arc = [a for a in p.arcs_of(r).tolist() if p.arc_site[a] == s]
        if p.site_reported_full[s]:
            reason, detail = MoveReason.PROVIDER_REPORTED_FULL, f"provider {provider!r} reported full at {site!r}"
        elif not arc:
            reason, detail = MoveReason.NO_LONGER_ELIGIBLE, f"site {site!r} no longer passes the hard rules"
        elif (res.site_left[s] != NO_LIMIT and demand[s] > res.site_left[s]) or (
            c >= 0 and contract_demand[c] > res.contract_left[c]
        ):
            pool = site if res.site_left[s] != NO_LIMIT and demand[s] > res.site_left[s] else p.contract_ids[c]
            reason, detail = MoveReason.CAPACITY_SHRANK, f"capacity at {pool!r} no longer covers its proposals"
        elif to >= 0 and _without_move(p, int(chosen[r])) < p.arc_cost[arc[0]]:
            reason, detail = MoveReason.BETTER_MATCH_AVAILABLE, f"room at {to_site!r} is a better match"
        else:
            urgent = [n for n in newcomers.get(s, []) if p.referral_penalty[n] > p.referral_penalty[r]]
            if urgent:
                who = max(urgent, key=lambda n: (int(p.referral_penalty[n]), p.referral_ids[n]))
                reason = MoveReason.DISPLACED_BY_MORE_URGENT
                detail = f"its place at {site!r} went to more urgent referral {p.referral_ids[who]!r}"
            else:
                reason = MoveReason.MAKES_ROOM
                detail = f"moving it from {site!r} lets another member be placed or better matched"
        out.append(Move(p.referral_ids[r], site, to_site, reason, detail))
    return tuple(out)


def _without_move(p: Problem, arc: int) -> int:
    """The arc's cost less its stability term: is the new place better, move aside?"""
    return int(p.arc_cost[arc]) - TIER_WEIGHTS["stability"] * int(p.arc_terms[arc, TIERS.index("stability")])
