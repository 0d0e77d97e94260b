"""The four-fifths flag and its significance test, on counts (7003 VI.B.4; no database)."""

from __future__ import annotations

import pytest
from scipy import stats

from reports.fourfifths import CHI_SQUARE, FISHER, FourFifthsResult, GroupCount, compare_two, four_fifths


def by_group(results: list[FourFifthsResult]) -> dict[str, FourFifthsResult]:
    return {r.group: r for r in results}


def test_group_clearly_below_is_flagged_with_chi_square() -> None:
    rows = by_group(four_fifths([GroupCount("A", 30, 30), GroupCount("B", 30, 10)], min_group_size=1))
    b = rows["B"]
    assert (b.n, b.successes, b.best_group, b.best_n, b.best_successes) == (30, 10, "A", 30, 30)
    assert b.ratio == pytest.approx(1 / 3)
    assert b.test == CHI_SQUARE
    assert b.p_value == pytest.approx(stats.chi2_contingency([[10, 20], [30, 0]], correction=True).pvalue)
    assert b.flagged
    assert rows["A"].note == "best group" and not rows["A"].flagged


def test_tiny_group_below_four_fifths_is_not_flagged_because_p_is_large() -> None:
    rows = by_group(four_fifths([GroupCount("A", 30, 30), GroupCount("C", 2, 1)], min_group_size=1))
    c = rows["C"]
    assert c.ratio == 0.5
    assert c.test == FISHER
    assert c.p_value == pytest.approx(0.0625)  # P(the one unplaced member is in C) = 2/32
    assert not c.flagged
    assert "not significant" in c.note


def test_exactly_four_fifths_is_not_below() -> None:
    """With 1000 in each group the difference is significant either way: only the strict ratio decides."""
    best = GroupCount("best", 1000, 1000)
    assert compare_two(GroupCount("g", 1000, 800), best)[1] < 1e-6
    at = by_group(four_fifths([best, GroupCount("g", 1000, 800)]))["g"]
    assert (at.ratio, at.flagged, at.test) == (0.8, False, None)
    assert at.note == "at or above four fifths of the best rate"
    below = by_group(four_fifths([best, GroupCount("g", 1000, 799)]))["g"]
    assert below.ratio is not None and below.ratio < 0.8
    assert below.flagged and below.test == CHI_SQUARE


def test_exact_ratio_does_not_suffer_float_rounding() -> None:
    # 0.4 / 0.5 is 0.8000000000000002 in floating point; the rule compares 4/10 to 4/5 * 5/10 exactly
    rows = by_group(four_fifths([GroupCount("best", 5000, 2500), GroupCount("g", 5000, 2000)]))
    assert not rows["g"].flagged
    assert rows["g"].note == "at or above four fifths of the best rate"


def test_min_group_size_reports_small_groups_without_testing_them() -> None:
    rows = by_group(four_fifths([GroupCount("A", 30, 30), GroupCount("B", 30, 10), GroupCount("C", 4, 0)],
                                min_group_size=5))
    assert rows["C"].test is None and rows["C"].p_value is None and not rows["C"].flagged
    assert rows["C"].note == "not tested: n=4 is below the minimum group size 5"
    assert rows["B"].flagged


def test_small_groups_are_never_the_best_group() -> None:
    rows = by_group(four_fifths([GroupCount("tiny", 3, 3), GroupCount("A", 40, 30), GroupCount("B", 40, 12)],
                                min_group_size=10))
    assert rows["B"].best_group == "A"
    assert rows["tiny"].ratio == pytest.approx(4 / 3)


def test_ties_for_best_go_to_the_larger_group() -> None:
    rows = four_fifths([GroupCount("Unknown", 5, 5), GroupCount("A", 30, 30)], min_group_size=1)
    assert {r.best_group for r in rows} == {"A"}


def test_empty_groups_are_left_out_and_no_large_group_means_no_result() -> None:
    assert [r.group for r in four_fifths([GroupCount("A", 10, 5), GroupCount("B", 0, 0)], min_group_size=1)] == ["A"]
    assert four_fifths([GroupCount("A", 3, 1)], min_group_size=10) == []


def test_best_rate_of_zero_compares_nothing() -> None:
    rows = by_group(four_fifths([GroupCount("A", 20, 0), GroupCount("B", 20, 0)], min_group_size=1))
    assert rows["B"].ratio is None and not rows["B"].flagged


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # expected counts of the failures column: 10*10/20 = 5.0 in each row: chi-square
        (GroupCount("a", 10, 5), GroupCount("b", 10, 5), CHI_SQUARE),
        # 10*9/20 = 4.5 < 5: Fisher
        (GroupCount("a", 10, 6), GroupCount("b", 10, 5), FISHER),
    ],
)
def test_fisher_below_an_expected_count_of_five(a: GroupCount, b: GroupCount, expected: str) -> None:
    assert compare_two(a, b)[0] == expected


@pytest.mark.parametrize(("n", "successes"), [(5, 6), (5, -1)])
def test_impossible_counts_are_refused(n: int, successes: int) -> None:
    with pytest.raises(ValueError, match="group 'g': successes"):
        GroupCount("g", n, successes)
