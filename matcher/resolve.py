"""Re-solve with stability: after a change, move as few existing proposals as possible.

The previous plan's proposals become each referral's current site; every arc that would move a
referral away from it carries the stability term (tier 6), accepted referrals stay locked, and
the solution's ``moved`` list says which proposals moved and why. Because the solver splits the
problem into components, a change in one component (a provider going full) cannot move a
referral of another.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping

import numpy as np

from matcher.build import build_problem
from matcher.data import MatchData
from matcher.errors import ProblemError
from matcher.problem import Problem
from matcher.solution import Solution
from matcher.solver import solve
from matcher.weights import TIER_WEIGHTS, TIERS

__all__ = ["current_sites", "resolve", "with_current"]


def current_sites(previous: Solution | Mapping[str, str]) -> dict[str, str]:
    """Referral id -> site id of the proposals in ``previous`` (a Solution or a plain mapping)."""
    if isinstance(previous, Solution):
        return {a.referral_id: a.site_id for a in previous.assignments}
    return dict(previous)


def with_current(problem: Problem, current: Mapping[str, str]) -> Problem:
    """Return ``problem`` with these proposals as current sites and the stability term re-costed.

    Referrals not in ``current`` keep their current site; locked referrals never change.

    Raises
    ------
    ProblemError
        If ``current`` names an unknown referral or site.
    """
    p = problem
    referral_current = p.referral_current.copy()
    for referral_id, site_id in current.items():
        r = p.referral_index.get(referral_id)
        s = p.site_index.get(site_id)
        if r is None:
            raise ProblemError(f"proposal names unknown referral {referral_id!r}")
        if s is None:
            raise ProblemError(f"proposal of referral {referral_id!r} names unknown site {site_id!r}")
        if not p.referral_locked[r]:
            referral_current[r] = s
    column = TIERS.index("stability")
    moved = (referral_current[p.arc_referral] >= 0) & (referral_current[p.arc_referral] != p.arc_site)
    terms = p.arc_terms.copy()
    terms[:, column] = moved.astype(np.int64)
    cost = p.arc_cost + TIER_WEIGHTS["stability"] * (terms[:, column].astype(np.int64) - p.arc_terms[:, column])
    return dataclasses.replace(p, referral_current=referral_current, arc_terms=terms, arc_cost=cost)


def resolve(
    source: MatchData | Problem,
    previous: Solution | Mapping[str, str] | None = None,
    *,
    time_limit: float = 30.0,
    workers: int | None = None,
    focus_sites: Collection[str] | None = None,
) -> Solution:
    """Re-solve ``source`` keeping ``previous`` proposals where the rules and capacity still allow.

    ``source`` is the changed data (a provider reported full, capacity shrank or grew, new
    referrals) or a problem built from it. Without ``previous``, the referrals' own
    ``current_site`` values are the proposals. ``focus_sites`` (the sites that changed) limits
    the work to their components, for a fast re-solve after one provider's report; see
    :func:`matcher.solve`.

    Examples
    --------
    >>> from matcher.data import ContractPool, MatchData, ReferralDemand, ServiceSite
    >>> napa = frozenset({"Napa"})
    >>> sites = (ServiceSite("S1", "P1", "RESPITE", napa, 38.29, -122.28, "C1"),
    ...          ServiceSite("S2", "P2", "RESPITE", napa, 38.30, -122.30, "C2"))
    >>> contracts = (ContractPool("C1", "P1", "RESPITE", 1), ContractPool("C2", "P2", "RESPITE", 1))
    >>> referral = ReferralDemand("R1", "RESPITE", 1, "Napa", 38.3, -122.29, current_site="S1")
    >>> full = dataclasses.replace(sites[0], reported_full=True)
    >>> moved = resolve(MatchData((referral,), (full, sites[1]), contracts), workers=1).moved[0]
    >>> moved.to_site, moved.reason.value
    ('S2', 'PROVIDER_REPORTED_FULL')
    """
    current = {} if previous is None else current_sites(previous)
    if isinstance(source, MatchData):
        referrals = tuple(
            dataclasses.replace(r, current_site=current[r.referral_id])
            if r.referral_id in current and not r.accepted
            else r
            for r in source.referrals
        )
        problem = build_problem(dataclasses.replace(source, referrals=referrals))
    else:
        known = {k: v for k, v in current.items() if k in source.referral_index}
        problem = with_current(source, known)
    return solve(problem, time_limit=time_limit, workers=workers, focus_sites=focus_sites)
