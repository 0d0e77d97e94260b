"""The matcher's answer: who goes where, who could not be placed and why, and how good it is.

Every record carries its reasons (DOMAIN.md: "Every decision must be explainable"): an
assignment its cost terms by tier and why each better-ranked provider was not used; an unplaced
referral its reason code and the nearest providers that would take it if they had room (the
network-gap report); a move in a re-solve what changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from matcher.reasons import MoveReason, PreferenceMissReason, ReasonSide, SolveStatus, UnplacedReason

__all__ = ["Assignment", "CostTerms", "Move", "NearbySite", "PreferenceMiss", "Solution", "Unplaced"]


@dataclass(frozen=True, slots=True)
class CostTerms:
    """The arc's soft terms by tier (see :mod:`matcher.weights`); zeros for file-given costs."""

    preference: int = 0
    continuity: int = 0
    fit: int = 0
    travel: int = 0
    stability: int = 0


@dataclass(frozen=True, slots=True)
class PreferenceMiss:
    """A provider the member ranked above the one they got, and why they did not get it."""

    provider_id: str
    rank: int
    reason: PreferenceMissReason


@dataclass(frozen=True, slots=True)
class Assignment:
    """One referral placed at one site; ``locked`` when a provider had already accepted it."""

    referral_id: str
    site_id: str
    provider_id: str
    units: int
    cost: int
    terms: CostTerms
    locked: bool = False
    preference_misses: tuple[PreferenceMiss, ...] = ()


@dataclass(frozen=True, slots=True)
class NearbySite:
    """A site that passes every hard rule for the member except room (network-gap report)."""

    site_id: str
    provider_id: str
    miles: float


@dataclass(frozen=True, slots=True)
class Unplaced:
    """A referral with no provider (never waitlisted, 7003 VI.E.5) and why."""

    referral_id: str
    reason: UnplacedReason
    penalty: int
    would_take: tuple[NearbySite, ...] = ()

    @property
    def side(self) -> ReasonSide:
        """``member`` or ``network gap``."""
        return self.reason.side


@dataclass(frozen=True, slots=True)
class Move:
    """A proposal a re-solve changed: from where, to where (None: now unplaced), and why."""

    referral_id: str
    from_site: str
    to_site: str | None
    reason: MoveReason
    detail: str


@dataclass(frozen=True)
class Solution:
    """The plan and its run figures.

    ``objective`` is the sum of placed arcs' costs and unplaced referrals' penalties; the solver
    first maximises ``placed``, then minimises ``objective``. ``bound`` is a proven lower bound on ``objective`` at that
    number placed, ``gap = (objective - bound) / objective``; both equal ``objective`` and 0 when
    ``status`` is OPTIMAL. ``placed_bound`` is the most members any plan could place: equal to
    ``placed`` unless a weighted (generalized assignment) part was not proven optimal.
    """

    status: SolveStatus
    objective: int
    bound: int
    placed: int
    runtime: float
    components: int
    assignments: tuple[Assignment, ...]
    unplaced: tuple[Unplaced, ...]
    moved: tuple[Move, ...] = ()
    solver: str = ""
    placed_bound: int = -1

    def __post_init__(self) -> None:
        if self.placed_bound < 0:
            object.__setattr__(self, "placed_bound", self.placed)

    @property
    def gap(self) -> float:
        """Relative distance between the objective and the best proven bound."""
        return 0.0 if self.objective <= 0 else max(0, self.objective - self.bound) / self.objective

    @cached_property
    def assignment_by_referral(self) -> dict[str, Assignment]:
        return {a.referral_id: a for a in self.assignments}

    @cached_property
    def unplaced_by_referral(self) -> dict[str, Unplaced]:
        return {u.referral_id: u for u in self.unplaced}

    def site_of(self, referral_id: str) -> str | None:
        """Return the site a referral was placed at, or None if unplaced."""
        assignment = self.assignment_by_referral.get(referral_id)
        return None if assignment is None else assignment.site_id
