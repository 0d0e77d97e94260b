"""Closed lists of reasons, so every decision can be explained, counted and reported.

Each :class:`UnplacedReason` is tagged with the side it falls on (boston-cas ``ALL_REASONS``):
``member`` reasons are about the member's own eligibility or choices; ``network gap`` reasons say
the provider network lacks a provider, a language or room, and feed provider relations' gap report.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["MoveReason", "PreferenceMissReason", "ReasonSide", "SolveStatus", "UnplacedReason"]


class ReasonSide(StrEnum):
    """Who an unplaced reason points at."""

    MEMBER = "member"
    NETWORK_GAP = "network gap"


class UnplacedReason(StrEnum):
    """Why a referral got no provider (7003 VI.E.5: reported, never waitlisted)."""

    NO_PROVIDER_IN_AREA = "NO_PROVIDER_IN_AREA"
    BEYOND_TRAVEL_STANDARD = "BEYOND_TRAVEL_STANDARD"
    REQUIRED_LANGUAGE_UNAVAILABLE = "REQUIRED_LANGUAGE_UNAVAILABLE"
    ALL_IN_AREA_EXCLUDED = "ALL_IN_AREA_EXCLUDED"
    ALL_IN_AREA_FULL = "ALL_IN_AREA_FULL"
    NO_ELIGIBLE_ARC = "NO_ELIGIBLE_ARC"
    INELIGIBLE = "INELIGIBLE"
    LIMIT_REACHED = "LIMIT_REACHED"

    @property
    def side(self) -> ReasonSide:
        """``member`` or ``network gap``, for the gap report and the equity report."""
        return _UNPLACED_SIDE[self]

    @property
    def description(self) -> str:
        """One sentence a coordinator can read to the member."""
        return _UNPLACED_TEXT[self]


_UNPLACED_SIDE = {
    UnplacedReason.NO_PROVIDER_IN_AREA: ReasonSide.NETWORK_GAP,
    UnplacedReason.BEYOND_TRAVEL_STANDARD: ReasonSide.NETWORK_GAP,
    UnplacedReason.REQUIRED_LANGUAGE_UNAVAILABLE: ReasonSide.NETWORK_GAP,
    UnplacedReason.ALL_IN_AREA_EXCLUDED: ReasonSide.MEMBER,
    UnplacedReason.ALL_IN_AREA_FULL: ReasonSide.NETWORK_GAP,
    UnplacedReason.NO_ELIGIBLE_ARC: ReasonSide.NETWORK_GAP,
    UnplacedReason.INELIGIBLE: ReasonSide.MEMBER,
    UnplacedReason.LIMIT_REACHED: ReasonSide.MEMBER,
}

_UNPLACED_TEXT = {
    UnplacedReason.NO_PROVIDER_IN_AREA: "no contracted provider of this service serves the member's area",
    UnplacedReason.BEYOND_TRAVEL_STANDARD: (
        "every provider serving the area is farther than the county travel standard"
    ),
    UnplacedReason.REQUIRED_LANGUAGE_UNAVAILABLE: (
        "no provider serving the area has staff speaking the member's required language"
    ),
    UnplacedReason.ALL_IN_AREA_EXCLUDED: (
        "every provider that could serve the member declined them before or was refused by them"
    ),
    UnplacedReason.ALL_IN_AREA_FULL: "every provider that could serve the member is full",
    UnplacedReason.NO_ELIGIBLE_ARC: "the problem file lists no provider this referral may go to",
    UnplacedReason.INELIGIBLE: "the member does not meet the service's eligibility gate",
    UnplacedReason.LIMIT_REACHED: "the member has reached the service's limit",
}


class PreferenceMissReason(StrEnum):
    """Why a member did not get a provider they ranked above the one they got."""

    NOT_CONTRACTED = "NOT_CONTRACTED"
    OUT_OF_AREA = "OUT_OF_AREA"
    TRAVEL = "TRAVEL"
    LANGUAGE = "LANGUAGE"
    EXCLUDED = "EXCLUDED"
    FULL = "FULL"
    CAPACITY_GIVEN_TO_OTHERS = "CAPACITY_GIVEN_TO_OTHERS"
    NOT_CHOSEN = "NOT_CHOSEN"

    @property
    def description(self) -> str:
        """One sentence for the member's file."""
        return _MISS_TEXT[self]


_MISS_TEXT = {
    PreferenceMissReason.NOT_CONTRACTED: "the provider has no contract for this service",
    PreferenceMissReason.OUT_OF_AREA: "the member lives outside the provider's service area",
    PreferenceMissReason.TRAVEL: "the provider's site is beyond the member's travel standard",
    PreferenceMissReason.LANGUAGE: "the provider has no staff speaking the member's required language",
    PreferenceMissReason.EXCLUDED: "the provider declined the member before, or the member refused it",
    PreferenceMissReason.FULL: "the provider reported full capacity or has no open units",
    PreferenceMissReason.CAPACITY_GIVEN_TO_OTHERS: (
        "its open units went to higher-priority referrals (more urgent, or with no other provider)"
    ),
    PreferenceMissReason.NOT_CHOSEN: (
        "the provider had room but the time-limited solve did not move the member there"
    ),
}


class MoveReason(StrEnum):
    """Why a re-solve moved a proposal the previous run had made."""

    PROVIDER_REPORTED_FULL = "PROVIDER_REPORTED_FULL"
    CAPACITY_SHRANK = "CAPACITY_SHRANK"
    NO_LONGER_ELIGIBLE = "NO_LONGER_ELIGIBLE"
    BETTER_MATCH_AVAILABLE = "BETTER_MATCH_AVAILABLE"
    DISPLACED_BY_MORE_URGENT = "DISPLACED_BY_MORE_URGENT"
    MAKES_ROOM = "MAKES_ROOM"


class SolveStatus(StrEnum):
    """How good the returned plan is known to be."""

    OPTIMAL = "OPTIMAL"
    FEASIBLE = "FEASIBLE"
