"""Exceptions of the solver core.

Bad input and an infeasible plan are different things: bad input (a negative capacity, an arc to
an unknown site, a duplicate id) raises :class:`ProblemError`; a plan in which some members cannot
be placed is never an exception, it is a :class:`~matcher.solution.Solution` whose ``unplaced``
list says why for each member.
"""

from __future__ import annotations

__all__ = ["MatcherError", "ProblemError", "ValidationError"]


class MatcherError(Exception):
    """Base class of every error raised by :mod:`matcher`."""


class ProblemError(MatcherError, ValueError):
    """The input is malformed; the message names the offending record with ``!r``."""


class ValidationError(MatcherError):
    """A solution breaks a rule; raised by :mod:`matcher.validate`, naming the referral or site."""
