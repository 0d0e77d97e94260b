"""The columnar problem every solver path reads: referrals, site pools, contract pools and arcs.

A :class:`Problem` is what :func:`matcher.build_problem` makes from :class:`~matcher.data.MatchData`
by the rules of DOMAIN.md, and what :func:`matcher.io.read_problem` reads from a file whose arcs were
made elsewhere. Arrays, not objects, so a statewide problem (millions of arcs) stays small and the
solvers take it in bulk.

Capacity is nested: an arc uses ``arc_units`` of its site, and a site with a contract also uses
the contract's units. ``site_capacity == -1`` means the site has no limit of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from matcher.errors import ProblemError
from matcher.reasons import PreferenceMissReason, UnplacedReason
from matcher.weights import TIERS

__all__ = ["NO_LIMIT", "Problem"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: ``site_capacity`` of a site with no limit of its own (its contract limits it).
NO_LIMIT = -1
#: The values an arc's tier term may take (they are stored as int16).
TERM_RANGE = (-(2**15), 2**15 - 1)


def _ints(values: Any) -> IntArray:
    return np.ascontiguousarray(values, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Problem:
    """A matching problem in columns; see ``docs/problem-format.md`` for the file form.

    Per referral ``r``: ``referral_penalty[r]`` is the tier-1 cost of leaving it unplaced (urgency),
    ``referral_current[r]`` the site it is proposed to now (-1: none), ``referral_locked[r]`` true
    when a provider accepted it (it stays on its current site), ``referral_block[r]`` why it has no
    arc when it has none. Per arc ``a``: referral, site, units used, integer cost and the tier terms
    the cost was made of (``arc_terms[a]`` in :data:`matcher.weights.TIERS` order, zeros when the
    cost came from a file). ``preference_*`` rows list each referral's ranked providers and, when
    no arc reaches one, the hard rule that stopped it.
    """

    referral_ids: tuple[str, ...]
    referral_penalty: IntArray
    referral_units: IntArray
    referral_current: IntArray
    referral_locked: BoolArray
    referral_block: tuple[UnplacedReason | None, ...]
    site_ids: tuple[str, ...]
    site_provider: tuple[str, ...]
    site_capacity: IntArray
    site_contract: IntArray
    site_reported_full: BoolArray
    contract_ids: tuple[str, ...]
    contract_capacity: IntArray
    arc_referral: IntArray
    arc_site: IntArray
    arc_units: IntArray
    arc_cost: IntArray
    arc_terms: npt.NDArray[np.integer[Any]]  # stored as int16
    arc_miles: npt.NDArray[np.floating[Any]]  # stored as float32
    preference_referral: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    preference_provider: tuple[str, ...] = ()
    preference_rank: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    preference_block: tuple[PreferenceMissReason | None, ...] = ()

    def __post_init__(self) -> None:
        for name in ("referral_penalty", "referral_units", "referral_current", "site_capacity",
                     "site_contract", "contract_capacity", "arc_referral", "arc_site", "arc_units",
                     "arc_cost", "preference_referral", "preference_rank"):
            object.__setattr__(self, name, _ints(getattr(self, name)))
        object.__setattr__(self, "referral_locked", np.asarray(self.referral_locked, dtype=bool))
        object.__setattr__(self, "site_reported_full", np.asarray(self.site_reported_full, dtype=bool))
        # Narrow columns: a statewide plan has tens of millions of arcs. Miles are for explanations
        # (the rules compared full-precision miles when the arcs were built); terms are small.
        object.__setattr__(self, "arc_miles", np.asarray(self.arc_miles, dtype=np.float32))
        terms = np.asarray(self.arc_terms)
        if terms.size and (int(terms.min()) < TERM_RANGE[0] or int(terms.max()) > TERM_RANGE[1]):
            raise ProblemError(f"arc_terms must lie in {TERM_RANGE[0]}..{TERM_RANGE[1]}")
        terms = np.ascontiguousarray(terms, dtype=np.int16)
        if terms.size == 0:
            terms = terms.reshape(len(self.arc_referral), len(TIERS))
        object.__setattr__(self, "arc_terms", terms)
        self._check()

    # -- Quick error detection: bad input is a ProblemError naming the record -----------------
    def _check(self) -> None:
        n, s, c, a = self.n_referrals, self.n_sites, len(self.contract_ids), self.n_arcs
        _unique("referral", self.referral_ids)
        _unique("site", self.site_ids)
        _unique("contract", self.contract_ids)
        _lengths("referral", n, referral_penalty=self.referral_penalty, referral_units=self.referral_units,
                 referral_current=self.referral_current, referral_locked=self.referral_locked,
                 referral_block=self.referral_block)
        _lengths("site", s, site_provider=self.site_provider, site_capacity=self.site_capacity,
                 site_contract=self.site_contract, site_reported_full=self.site_reported_full)
        _lengths("contract", c, contract_capacity=self.contract_capacity)
        _lengths("arc", a, arc_site=self.arc_site, arc_units=self.arc_units, arc_cost=self.arc_cost,
                 arc_terms=self.arc_terms, arc_miles=self.arc_miles)
        _lengths("preference", len(self.preference_referral), preference_provider=self.preference_provider,
                 preference_rank=self.preference_rank, preference_block=self.preference_block)
        if self.arc_terms.ndim != 2 or self.arc_terms.shape[1] != len(TIERS):
            raise ProblemError(f"arc_terms must have one column per tier {TIERS!r}")
        _first_bad(self.referral_penalty < 0, "referral {!r} has a negative unplaced penalty",
                   self.referral_ids)
        _first_bad(self.referral_units < 1, "referral {!r} needs fewer than one unit", self.referral_ids)
        _first_bad((self.referral_current < -1) | (self.referral_current >= s),
                   "referral {!r} names an unknown current site", self.referral_ids)
        _first_bad(self.referral_locked & (self.referral_current < 0),
                   "referral {!r} is locked but has no current site", self.referral_ids)
        _first_bad(self.site_capacity < NO_LIMIT, "site {!r} has negative capacity", self.site_ids)
        _first_bad((self.site_contract < -1) | (self.site_contract >= c),
                   "site {!r} names an unknown contract", self.site_ids)
        _first_bad(self.contract_capacity < 0, "contract {!r} has negative capacity", self.contract_ids)
        bad = (self.arc_referral < 0) | (self.arc_referral >= n)
        if bad.any():
            raise ProblemError(f"arc {int(np.argmax(bad))} names an unknown referral")
        bad = (self.arc_site < 0) | (self.arc_site >= s)
        if bad.any():
            i = int(np.argmax(bad))
            raise ProblemError(f"arc of referral {self.referral_ids[self.arc_referral[i]]!r} "
                               f"names an unknown site")
        arc_names = _ArcNames(self)
        _first_bad(self.arc_units < 1, "arc {} uses fewer than one unit", arc_names)
        _first_bad(self.arc_cost < 0, "arc {} has a negative cost", arc_names)
        if a:
            keys = self.arc_referral * max(s, 1) + self.arc_site
            if not (keys[1:] > keys[:-1]).all():  # the builder's order is strictly ascending already
                keys.sort()  # in place: a statewide problem has tens of millions of arcs
            if (keys[1:] == keys[:-1]).any():
                keys = self.arc_referral * max(s, 1) + self.arc_site
                order = np.argsort(keys, kind="stable")
                same = keys[order][1:] == keys[order][:-1]
                raise ProblemError(f"duplicate arc {arc_names[int(order[1:][same][0])]}")
            del keys
        locked = np.flatnonzero(self.referral_locked)
        if locked.size:
            has_current_arc = np.zeros(n, dtype=bool)
            on_current = self.arc_site == self.referral_current[self.arc_referral]
            has_current_arc[self.arc_referral[on_current]] = True
            _first_bad(self.referral_locked & ~has_current_arc,
                       "locked referral {!r} has no arc to its current site", self.referral_ids)
        _first_bad((self.preference_referral < 0) | (self.preference_referral >= n),
                   "preference row {!r} names an unknown referral", range(len(self.preference_referral)))

    # -- Sizes and look-ups ----------------------------------------------------------------------
    @property
    def n_referrals(self) -> int:
        return len(self.referral_ids)

    @property
    def n_sites(self) -> int:
        return len(self.site_ids)

    @property
    def n_arcs(self) -> int:
        return len(self.arc_referral)

    @cached_property
    def referral_index(self) -> dict[str, int]:
        """Referral id -> row."""
        return {key: i for i, key in enumerate(self.referral_ids)}

    @cached_property
    def site_index(self) -> dict[str, int]:
        """Site id -> row."""
        return {key: i for i, key in enumerate(self.site_ids)}

    @cached_property
    def arcs_by_referral(self) -> tuple[IntArray, IntArray]:
        """``(order, start)``: arcs of referral ``r`` are ``order[start[r]:start[r + 1]]``."""
        order = np.argsort(self.arc_referral, kind="stable")
        start = np.searchsorted(self.arc_referral[order], np.arange(self.n_referrals + 1))
        return order, start

    def arcs_of_referrals(self, referrals: IntArray) -> tuple[IntArray, IntArray]:
        """The arcs of several referrals at once, and the referral of each (in the order given)."""
        order, start = self.arcs_by_referral
        counts = start[referrals + 1] - start[referrals]
        offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        return order[np.repeat(start[referrals], counts) + offsets], np.repeat(referrals, counts)

    def arcs_of(self, referral: int) -> IntArray:
        """Return the arc indices of one referral."""
        order, start = self.arcs_by_referral
        return order[start[referral]:start[referral + 1]]


class _ArcNames:
    """Lazily names arc ``i`` as ``(referral id, site id)`` for error messages."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem

    def __getitem__(self, i: int) -> str:
        p = self.problem
        return repr((p.referral_ids[p.arc_referral[i]], p.site_ids[p.arc_site[i]]))


def _unique(kind: str, keys: tuple[str, ...]) -> None:
    if len(set(keys)) != len(keys):
        seen: set[str] = set()
        for key in keys:
            if key in seen:
                raise ProblemError(f"duplicate {kind} id {key!r}")
            seen.add(key)


def _lengths(kind: str, expected: int, **columns: Any) -> None:
    for name, column in columns.items():
        if len(column) != expected:
            raise ProblemError(f"{name} has {len(column)} rows for {expected} {kind}s")


def _first_bad(mask: BoolArray, message: str, names: Any) -> None:
    if mask.any():
        raise ProblemError(message.format(names[int(np.argmax(mask))]))
