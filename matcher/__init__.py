"""csmatch's solver core: referrals and provider capacity in, the best rule-abiding plan out.

Pure: plain frozen dataclasses in (:mod:`matcher.data`), a columnar :class:`Problem`, a plain
:class:`Solution` out. Imports no Flask, no SQLAlchemy and no other csmatch package.

>>> from matcher import ContractPool, MatchData, ReferralDemand, ServiceSite, build_problem, solve
>>> data = MatchData(
...     referrals=(ReferralDemand("R1", "HOUSING_NAV", 1, "Yolo", 38.68, -121.77),),
...     sites=(ServiceSite("S1", "P1", "HOUSING_NAV", frozenset({"Yolo"}), 38.54, -121.74, "C1"),),
...     contracts=(ContractPool("C1", "P1", "HOUSING_NAV", 10),),
... )
>>> solve(build_problem(data), workers=1).site_of("R1")
'S1'
"""

from matcher.build import build_problem
from matcher.data import ContractPool, MatchData, ReferralDemand, ServiceSite
from matcher.errors import MatcherError, ProblemError, ValidationError
from matcher.problem import Problem
from matcher.reasons import MoveReason, PreferenceMissReason, ReasonSide, SolveStatus, UnplacedReason
from matcher.resolve import resolve
from matcher.solution import Assignment, CostTerms, Move, NearbySite, PreferenceMiss, Solution, Unplaced
from matcher.solver import solve
from matcher.validate import validate

__all__ = [
    "Assignment",
    "ContractPool",
    "CostTerms",
    "MatchData",
    "MatcherError",
    "Move",
    "MoveReason",
    "NearbySite",
    "PreferenceMiss",
    "PreferenceMissReason",
    "Problem",
    "ProblemError",
    "ReasonSide",
    "ReferralDemand",
    "ServiceSite",
    "Solution",
    "SolveStatus",
    "Unplaced",
    "UnplacedReason",
    "ValidationError",
    "build_problem",
    "resolve",
    "solve",
    "validate",
]
