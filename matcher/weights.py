"""Every weight of the objective, in one place (DOMAIN.md "Soft", 7003 VI.E.5.a, VI.G.3.c, VI.E.4).

The objective is lexicographic, built in integers:

1. **placement**: the most members placed, globally. The flow path gets this exactly from
   OR-Tools' max-flow-with-min-cost (the flow value is the number placed, so no augmenting chain
   can be traded for cost); the CP-SAT path solves for the count first and then for cost at that
   count; the LP path (:mod:`matcher.relax`) prices a member far above any penalty or cost.
   :func:`placement_constant` is the single-objective alternative (a per-unplaced constant
   larger than everything else in a component), used by the monolithic baseline in ``bench/``;
2. **urgency** (tier 1): an unplaced referral costs ``URGENCY_WEIGHT * (1 + urgency_level)``, plus
   the stability term when it holds a proposal (:data:`LEAVING_PROPOSAL`): leaving a proposal
   costs that term whether the member moves or goes unplaced, so an equally urgent waiting member
   never takes a proposal for nothing (the two would swap back and forth on every re-solve);
3. on each arc, the tiers below, each weight larger than the largest possible sum of all the
   tiers under it (:data:`TIER_WEIGHTS`): preference rank, continuity, language/culture fit,
   travel miles, stability.

What this guarantees, exactly (and what tests check):

* the number of placed members is globally maximal (proven for flow parts; for weighted parts
  proven when the status is OPTIMAL, else bounded by ``Solution.placed_bound``);
* for one referral, a better higher-tier term always beats any lower-tier terms: among two arcs of
  the same referral the cost order is lexicographic in (preference, continuity, fit, travel,
  stability);
* when two referrals compete for one slot, the more urgent one wins whatever their arc costs
  (``URGENCY_WEIGHT > MAX_ARC_COST``).

What it does *not* guarantee: across long reassignment chains, the lower-tier terms of many
referrals added together can outweigh one referral's higher tier (a single int64 objective cannot
make every tier globally dominant at 250,000 referrals). Urgency and waiting time are the only
priority inputs; no protected attribute has a weight here.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "MAX_ARC_COST",
    "LEAVING_PROPOSAL",
    "MAX_URGENCY_LEVEL",
    "OVERDUE_AFTER_BUSINESS_DAYS",
    "TIERS",
    "TIER_MAX",
    "TIER_WEIGHTS",
    "UNRANKED",
    "URGENCY_WEIGHT",
    "arc_cost",
    "placement_constant",
    "unplaced_penalty",
    "urgency_level",
]

#: Arc cost tiers, highest weight first (tier 1, urgency, is on the referral, not the arc).
TIERS: Final = ("preference", "continuity", "fit", "travel", "stability")

#: Preference term of a provider the member did not rank (ranks 0..UNRANKED-1 count).
UNRANKED: Final = 10
#: Travel miles are capped here so the tier has a fixed range.
MAX_TRAVEL_TERM: Final = 500

#: Largest value each tier term can take.
TIER_MAX: Final = {
    "preference": UNRANKED,  # 0 = first choice .. 9, 10 = not ranked
    "continuity": 1,  # 1 = not a current or previous provider of a member who has one
    "fit": 2,  # +1 no spoken language matched, +1 no cultural preference matched
    "travel": MAX_TRAVEL_TERM,  # whole miles to a site-based provider
    "stability": 1,  # 1 = moves an existing proposal
}


def _tier_weights() -> dict[str, int]:
    """Each weight is one more than the largest sum of all lower tiers: lexicographic by design."""
    weights: dict[str, int] = {}
    below = 0
    for tier in reversed(TIERS):
        weights[tier] = below + 1
        below += weights[tier] * TIER_MAX[tier]
    return {tier: weights[tier] for tier in TIERS}


#: Weight of each arc tier term.
TIER_WEIGHTS: Final = _tier_weights()
#: Largest cost one arc can have.
MAX_ARC_COST: Final = sum(TIER_WEIGHTS[t] * TIER_MAX[t] for t in TIERS)

#: 7003 VI.C.3: a referral goes to a provider within 10 business days of receipt.
OVERDUE_AFTER_BUSINESS_DAYS: Final = 10
URGENCY_DAYS_CAP: Final = 20
OVERDUE_BONUS: Final = 5
POST_DISCHARGE_BONUS: Final = 10
MAX_URGENCY_LEVEL: Final = URGENCY_DAYS_CAP + OVERDUE_BONUS + POST_DISCHARGE_BONUS
#: What a member holding a proposal adds to its unplaced penalty: its stability term, as a move costs.
LEAVING_PROPOSAL: Final = TIER_WEIGHTS["stability"] * TIER_MAX["stability"]
#: One urgency level outweighs any difference of arc costs and of leaving a proposal.
URGENCY_WEIGHT: Final = MAX_ARC_COST + LEAVING_PROPOSAL + 1


def urgency_level(post_discharge: bool, business_days_waited: int) -> int:
    """Return the tier-1 urgency level: days waited (capped), overdue and post-discharge bonuses.

    Examples
    --------
    >>> urgency_level(False, 0), urgency_level(False, 10), urgency_level(True, 3)
    (0, 15, 13)
    """
    days = min(max(business_days_waited, 0), URGENCY_DAYS_CAP)
    overdue = OVERDUE_BONUS if business_days_waited >= OVERDUE_AFTER_BUSINESS_DAYS else 0
    return days + overdue + (POST_DISCHARGE_BONUS if post_discharge else 0)


def unplaced_penalty(level: int, *, holds_proposal: bool = False) -> int:
    """Return what leaving a referral of this urgency level unplaced costs (tier 1), and, when it
    holds a proposal, what leaving that proposal costs (the stability tier).

    Examples
    --------
    >>> unplaced_penalty(3, holds_proposal=True) - unplaced_penalty(3)
    1
    """
    return URGENCY_WEIGHT * (1 + level) + (LEAVING_PROPOSAL if holds_proposal else 0)


def arc_cost(preference: int, continuity: int, fit: int, travel: int, stability: int) -> int:
    """Return the cost of one arc from its tier terms (the scalar twin of the vectorised builder).

    Examples
    --------
    >>> arc_cost(0, 0, 0, 0, 1) < arc_cost(0, 0, 0, 1, 0)
    True
    """
    terms = (preference, continuity, fit, min(travel, MAX_TRAVEL_TERM), stability)
    return sum(TIER_WEIGHTS[t] * v for t, v in zip(TIERS, terms, strict=True))


def placement_constant(referrals: int, max_penalty: int, max_arc_cost: int) -> int:
    """Return a per-unplaced constant that makes placing one more member beat everything else.

    Any plan placing ``k + 1`` members of a component costs less than any plan placing ``k``:
    the rest of the objective (penalties plus arc costs) differs by at most
    ``referrals * (max_penalty + max_arc_cost)``.
    """
    return referrals * (max_penalty + max_arc_cost) + 1
