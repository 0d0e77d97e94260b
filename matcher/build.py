"""``build_problem``: MatchData -> Problem by the rules of DOMAIN.md, vectorised.

Data -> candidate pairs (service match) -> hard rules in funnel order -> soft terms -> cost.
Pools: each site is a leaf pool, each contract its parent; a site that reported full has none.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from matcher.data import MatchData
from matcher.distance import haversine_miles
from matcher.problem import NO_LIMIT, IntArray, Problem
from matcher.reasons import PreferenceMissReason, UnplacedReason
from matcher.rules import HARD_RULES, SOFT_TERMS, Pairs, Tables, candidate_pairs
from matcher.weights import TIER_WEIGHTS, TIERS, unplaced_penalty, urgency_level

__all__ = ["build_problem", "capacity_limits", "eligibility"]


def eligibility(t: Tables) -> IntArray:
    """Eligibility gates and limits (7003 VI.F; DOMAIN.md table), applied by the adapter.

    Returns the referrals that may be matched: not flagged ineligible or at a limit, and not
    already accepted (7003 VI.C.3.a: an accepted referral stays with its provider).
    """
    open_ = [i for i, r in enumerate(t.referrals) if r.ineligible_reason is None and not r.accepted]
    return np.array(open_, dtype=np.int64)


def capacity_limits(t: Tables) -> tuple[IntArray, IntArray]:
    """Capacity (7003 VI.E.6): site and contract units still open; a site reported full has none.

    Returns ``(site_capacity, contract_capacity)``; ``NO_LIMIT`` where a site has no own limit.
    """
    site_capacity = np.array(
        [0 if s.reported_full else NO_LIMIT if s.remaining_units is None else s.remaining_units for s in t.sites],
        dtype=np.int64,
    )
    contract_capacity = np.array([c.remaining_units for c in t.contracts], dtype=np.int64)
    return site_capacity, contract_capacity


def _terms(t: Tables, pairs: Pairs) -> npt.NDArray[np.int16]:
    terms = np.empty((len(pairs), len(TIERS)), dtype=np.int16)  # every term is small (MAX_TRAVEL_TERM)
    for column, tier in enumerate(TIERS):
        terms[:, column] = SOFT_TERMS[tier](t, pairs)
    return terms


def build_problem(data: MatchData) -> Problem:
    """Return the matching problem of ``data``: every arc the hard rules allow, with its costs.

    Referrals, sites and contracts are ordered by id, so input order never changes the result.

    Examples
    --------
    >>> from matcher.data import ContractPool, MatchData, ReferralDemand, ServiceSite
    >>> data = MatchData(
    ...     referrals=(ReferralDemand("R1", "RESPITE", 1, "Napa", 38.30, -122.29),),
    ...     sites=(ServiceSite("S1", "P1", "RESPITE", frozenset({"Napa"}), 38.29, -122.28, "C1"),),
    ...     contracts=(ContractPool("C1", "P1", "RESPITE", 5),),
    ... )
    >>> problem = build_problem(data)
    >>> problem.n_arcs, problem.site_ids, int(problem.contract_capacity[0])
    (1, ('S1',), 5)
    """
    t = Tables.from_data(data)
    n = len(t.referrals)
    open_ = eligibility(t)
    pairs = candidate_pairs(t, open_)

    # Hard rules in funnel order: stage = how many consecutive rules a pair passes (+1 service).
    stage = np.ones(len(pairs), dtype=np.int8)
    passing = np.ones(len(pairs), dtype=bool)
    for rule in HARD_RULES:
        passing &= rule.allows(t, pairs)
        stage += passing
    best = _max_by_referral(pairs.referral, stage, n)
    block = _unplaced_reasons(t, best, len(HARD_RULES) + 1)
    pref_referral, pref_provider, pref_rank, pref_block = _preference_rows(t, pairs, stage)
    del stage

    # Accepted referrals keep their one arc, whatever the rules now say (never moved).
    # (Memory: a statewide plan has tens of millions of pairs; each column is copied once, and the
    # pairs are dropped before the terms are computed.)
    accepted = np.flatnonzero(t.ref_accepted)
    current = t.ref_current[accepted]
    locked_miles = haversine_miles(t.ref_lat[accepted], t.ref_lon[accepted], t.site_lat[current], t.site_lon[current])
    arcs = Pairs(np.concatenate([pairs.referral[passing], accepted]), np.concatenate([pairs.site[passing], current]),
                 np.concatenate([pairs.miles[passing], locked_miles]))
    del pairs, passing
    # Arcs sorted by (referral, site): the solver's classes and look-ups then need no sort. Pairs
    # come grouped by referral with sites ascending, so a stable sort by referral merges the
    # groups' ascending runs (nearly linear) and keeps the sites in order.
    order = np.argsort(arcs.referral, kind="stable")
    arcs = arcs.take(order)
    del order
    terms = _terms(t, arcs)
    cost = np.zeros(len(arcs), dtype=np.int64)
    for column, tier in enumerate(TIERS):  # column by column: no (arcs x tiers) int64 temporary
        cost += terms[:, column].astype(np.int64) * TIER_WEIGHTS[tier]
    site_capacity, contract_capacity = capacity_limits(t)
    levels = np.array([urgency_level(r.post_discharge, r.business_days_waited) for r in t.referrals],
                      dtype=np.int64)
    return Problem(
        referral_ids=tuple(r.referral_id for r in t.referrals),
        referral_penalty=np.array([unplaced_penalty(int(v), holds_proposal=bool(held))
                                   for v, held in zip(levels, t.ref_current >= 0, strict=True)], dtype=np.int64),
        referral_units=np.array([r.units for r in t.referrals], dtype=np.int64),
        referral_current=t.ref_current,
        referral_locked=t.ref_accepted,
        referral_block=block,
        site_ids=tuple(s.site_id for s in t.sites),
        site_provider=tuple(s.provider_id for s in t.sites),
        site_capacity=site_capacity,
        site_contract=t.site_contract,
        site_reported_full=np.array([s.reported_full for s in t.sites], dtype=bool),
        contract_ids=tuple(c.contract_id for c in t.contracts),
        contract_capacity=contract_capacity,
        arc_referral=arcs.referral,
        arc_site=arcs.site,
        arc_units=np.array([r.units for r in t.referrals], dtype=np.int64)[arcs.referral],
        arc_cost=cost,
        arc_terms=terms,
        arc_miles=arcs.miles,
        preference_referral=pref_referral,
        preference_provider=pref_provider,
        preference_rank=pref_rank,
        preference_block=pref_block,
    )


def _max_by_referral(referral: IntArray, values: npt.NDArray[np.integer], n: int) -> IntArray:
    """Per referral, the largest value of its pairs (0 without pairs); pairs come in runs per referral."""
    best = np.zeros(n, dtype=np.int64)
    if referral.size == 0:
        return best
    starts = np.flatnonzero(np.r_[True, referral[1:] != referral[:-1]])
    np.maximum.at(best, referral[starts], np.maximum.reduceat(values, starts))  # one entry per run
    return best


def _unplaced_reasons(t: Tables, best: IntArray, all_passed: int) -> tuple[UnplacedReason | None, ...]:
    """The first hard rule that a referral's best pair failed; the adapter's gate comes first."""
    by_stage: list[UnplacedReason | None] = [UnplacedReason.NO_PROVIDER_IN_AREA]
    by_stage += [rule.unplaced for rule in HARD_RULES]
    by_stage.append(None)
    reasons: list[UnplacedReason | None] = []
    for r, stage in zip(t.referrals, best.tolist(), strict=True):
        if r.accepted:
            reasons.append(None)
        elif r.ineligible_reason is not None:
            reasons.append(r.ineligible_reason)
        else:
            reasons.append(by_stage[min(stage, all_passed)])
    return tuple(reasons)


def _preference_rows(
    t: Tables, pairs: Pairs, stage: npt.NDArray[np.integer]
) -> tuple[IntArray, tuple[str, ...], IntArray, tuple[PreferenceMissReason | None, ...]]:
    """One row per (referral, ranked provider): the first hard rule every site of it failed."""
    keys = t.preference_keys
    if keys.size == 0:
        return np.zeros(0, np.int64), (), np.zeros(0, np.int64), ()
    best = np.zeros(keys.size, dtype=np.int64)
    ranked = np.flatnonzero(t.ref_has_preferences[pairs.referral])  # only members who ranked someone
    if ranked.size:
        pairs, stage = pairs.take(ranked), stage[ranked]
        pair_keys = pairs.provider_keys(t)
        pos = np.minimum(np.searchsorted(keys, pair_keys), keys.size - 1)
        found = keys[pos] == pair_keys
        np.maximum.at(best, pos[found], stage[found])
    referral, provider = np.divmod(keys, t.n_providers)
    n_services = max(len(t.services), 1)
    offers = np.isin(provider * n_services + t.ref_service[referral], t.provider_service_keys)
    by_stage: list[PreferenceMissReason | None] = [PreferenceMissReason.OUT_OF_AREA]
    by_stage += [rule.miss for rule in HARD_RULES]
    by_stage.append(None)
    gated = np.array([r.ineligible_reason is not None or r.accepted for r in t.referrals], dtype=bool)
    keep = ~gated[referral]
    blocks = [
        PreferenceMissReason.NOT_CONTRACTED if not o else by_stage[b]
        for o, b in zip(offers[keep].tolist(), best[keep].tolist(), strict=True)
    ]
    return (
        referral[keep],
        tuple(t.providers[p] for p in provider[keep].tolist()),
        t.preference_ranks[keep],
        tuple(blocks),
    )
