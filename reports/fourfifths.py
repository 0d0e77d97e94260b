"""The four-fifths flag with a significance test, for the equity report (7003 VI.B.4, VI.I.1.a.3).

A group's rate (placement, preference honoured) is compared with the best group's rate in the same
table. The four-fifths rule of thumb calls a group's outcome adverse when its rate is *below*
4/5 of the best rate; on small groups that rule fires on noise, so a group is flagged only when

* it has at least ``min_group_size`` members in the denominator,
* ``rate / best rate < 0.8`` (strictly: exactly 0.8 is not flagged; compared in exact
  integer arithmetic, so 8/10 against 10/10 is never a rounding error away from 0.8), and
* the difference is significant: the 2×2 table (group vs best group × success vs not) gives
  ``p < alpha`` (two-sided). Fisher's exact test is used when any expected count is below 5,
  Pearson's chi-square with Yates' continuity correction otherwise (``scipy.stats``).

Every group is returned with the counts behind it, the test used (for a group below four fifths;
a group at or above it needs none) and why it is or is not flagged, so a reviewer can check each
figure by hand.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from scipy import stats

__all__ = [
    "CHI_SQUARE",
    "DEFAULT_ALPHA",
    "DEFAULT_MIN_GROUP_SIZE",
    "FISHER",
    "FOUR_FIFTHS",
    "FourFifthsResult",
    "GroupCount",
    "compare_two",
    "four_fifths",
]

FOUR_FIFTHS = Fraction(4, 5)
DEFAULT_ALPHA = 0.05
DEFAULT_MIN_GROUP_SIZE = 10
FISHER = "fisher_exact"
CHI_SQUARE = "chi_square_yates"
# Fisher's exact test below this expected count in any cell (the usual chi-square validity rule).
MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class GroupCount:
    """One group's denominator ``n`` and its ``successes`` (placed, or placed with a preferred provider)."""

    group: str
    n: int
    successes: int

    def __post_init__(self) -> None:
        if not 0 <= self.successes <= self.n:
            raise ValueError(f"group {self.group!r}: successes {self.successes} not within 0..n={self.n}")

    @property
    def rate(self) -> float | None:
        return self.successes / self.n if self.n else None


@dataclass(frozen=True)
class FourFifthsResult:
    """A group compared with the best group of its table, and whether it is flagged.

    The table is ``dimension`` (e.g. race_ethnicity) plan-wide, or within ``stratum`` of
    ``stratum_by`` (e.g. within county Humboldt); both are empty for a plain table.

    ``ratio`` is ``rate / best_rate`` (None when the best rate is 0);
    ``test`` is :data:`FISHER` or :data:`CHI_SQUARE` for a group below four fifths of the best
    rate; None when no test was needed (the best group, a group at or above four fifths) or allowed
    (a group below the minimum size). ``note`` says why the group is or is not flagged.
    """

    dimension: str
    stratum_by: str
    stratum: str
    measure: str
    group: str
    n: int
    successes: int
    rate: float
    best_group: str
    best_n: int
    best_successes: int
    best_rate: float
    ratio: float | None
    test: str | None
    p_value: float | None
    flagged: bool
    note: str


def compare_two(a: GroupCount, b: GroupCount) -> tuple[str, float]:
    """Return ``(test name, two-sided p-value)`` for the difference between two groups' rates.

    Fisher's exact test if any expected count of the 2×2 table is below 5, else chi-square with
    Yates' correction.

    Examples
    --------
    >>> compare_two(GroupCount("a", 2, 1), GroupCount("b", 30, 30))
    ('fisher_exact', 0.0625)
    >>> name, p = compare_two(GroupCount("a", 30, 10), GroupCount("b", 30, 30))
    >>> name, p < 0.001
    ('chi_square_yates', True)
    """
    return _compare(a.n, a.successes, b.n, b.successes)


@functools.lru_cache(maxsize=65536)
def _compare(n_a: int, s_a: int, n_b: int, s_b: int) -> tuple[str, float]:
    """:func:`compare_two` on plain counts, kept: a report runs hundreds of tests, and the next report
    (after a small change to the data) mostly the same ones again."""
    table = [[s_a, n_a - s_a], [s_b, n_b - s_b]]
    total = n_a + n_b
    columns = (s_a + s_b, total - s_a - s_b)
    expected = [row * col / total for row in (n_a, n_b) for col in columns] if total else [0.0]
    if min(expected) < MIN_EXPECTED:
        result = stats.fisher_exact(table, alternative="two-sided")
        return FISHER, float(result.pvalue)
    chi = stats.chi2_contingency(table, correction=True)
    return CHI_SQUARE, float(chi.pvalue)


def _best(groups: list[GroupCount], min_group_size: int) -> GroupCount | None:
    """The group with the highest rate among those large enough; ties go to the larger group, then the name."""
    eligible = [g for g in groups if g.n >= min_group_size]
    if not eligible:
        return None
    return min(eligible, key=lambda g: (-Fraction(g.successes, g.n), -g.n, g.group))


def four_fifths(
    groups: Iterable[GroupCount],
    *,
    dimension: str = "",
    stratum_by: str = "",
    stratum: str = "",
    measure: str = "",
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    alpha: float = DEFAULT_ALPHA,
) -> list[FourFifthsResult]:
    """Compare every group with the best one; flag a group whose rate is below 4/5 of it, significantly.

    Groups smaller than ``min_group_size`` are reported but never flagged and never the best group;
    groups with ``n == 0`` have no rate and are left out. Returns one result per group, in the order
    given; an empty list when no group is large enough.

    Examples
    --------
    >>> rows = four_fifths([GroupCount("A", 30, 30), GroupCount("B", 30, 10), GroupCount("C", 30, 24)],
    ...                    min_group_size=1)
    >>> [(r.group, r.ratio, r.flagged) for r in rows]
    [('A', 1.0, False), ('B', 0.3333333333333333, True), ('C', 0.8, False)]
    """
    groups = [g for g in groups if g.n > 0]
    best = _best(groups, min_group_size)
    if best is None:
        return []
    results = []
    for g in groups:
        # rate / best rate = (s * best_n) / (n * best_s), compared in integers
        numerator, denominator = g.successes * best.n, g.n * best.successes
        ratio: float | None = numerator / denominator if best.successes else None  # correctly rounded
        test: str | None = None
        p: float | None = None
        flagged = False
        if g is best:
            note = "best group"
        elif g.n < min_group_size:
            note = f"not tested: n={g.n} is below the minimum group size {min_group_size}"
        elif ratio is None:
            note = "no rate to compare (the best group's rate is 0)"
        elif numerator * FOUR_FIFTHS.denominator >= denominator * FOUR_FIFTHS.numerator:
            note = "at or above four fifths of the best rate"
        else:
            test, p = compare_two(g, best)
            if p >= alpha:
                note = f"below four fifths, but the difference is not significant (p >= {alpha})"
            else:
                flagged = True
                note = f"below four fifths of the best rate, significant (p < {alpha})"
        results.append(FourFifthsResult(
            dimension=dimension, stratum_by=stratum_by, stratum=stratum, measure=measure, group=g.group, n=g.n,
            successes=g.successes, rate=g.successes / g.n, best_group=best.group, best_n=best.n,
            best_successes=best.successes, best_rate=best.successes / best.n,
            ratio=ratio, test=test, p_value=p, flagged=flagged, note=note,
        ))
    return results
