"""Re-solve with stability: few moves, each with its cause; accepted referrals never move."""

from __future__ import annotations

import random
from dataclasses import replace

from factories import YOLO, data, referral, site

from matcher import MatchData, MoveReason, build_problem, resolve, solve, validate
from matcher.data import ContractPool
from matcher.resolve import current_sites, with_current


def two_counties(n: int = 12) -> MatchData:
    """Napa members with two providers, Yolo members with two others (YB could take all; they rank
    YA first, so it has someone to lose)."""
    sites = [site("NA", remaining_units=4), site("NB", remaining_units=4),
             site("YA", counties=frozenset({"Yolo"}), remaining_units=4),
             site("YB", counties=frozenset({"Yolo"}), remaining_units=8)]
    rng = random.Random(5)
    referrals = [referral(f"N{i}", business_days_waited=rng.randint(0, 12)) for i in range(n // 2)]
    referrals += [referral(f"Y{i}", county="Yolo", latitude=YOLO[0], longitude=YOLO[1], preferred_providers=("P-YA",),
                           business_days_waited=rng.randint(0, 12)) for i in range(n // 2)]
    return data(referrals, sites)


def report_full(match: MatchData, site_id: str) -> MatchData:
    sites = tuple(replace(s, reported_full=True) if s.site_id == site_id else s for s in match.sites)
    return replace(match, sites=sites)


def test_resolve_with_nothing_changed_moves_nobody() -> None:
    match = two_counties()
    first = solve(build_problem(match), workers=1)
    again = resolve(match, first, workers=1)
    assert again.moved == ()
    assert {a.referral_id: a.site_id for a in again.assignments} == {
        a.referral_id: a.site_id for a in first.assignments}


def test_unrelated_provider_going_full_moves_nobody_else() -> None:
    match = two_counties()
    first = solve(build_problem(match), workers=1)
    changed = report_full(match, "YA")
    problem = build_problem(changed)
    second = resolve(problem, first, workers=1)
    validate(second, with_current(problem, current_sites(first)))
    yolo_at_ya = {a.referral_id for a in first.assignments if a.site_id == "YA"}
    assert yolo_at_ya  # the change matters to someone
    assert {m.referral_id for m in second.moved} == yolo_at_ya
    assert {m.reason for m in second.moved} == {MoveReason.PROVIDER_REPORTED_FULL}
    for a in first.assignments:
        if a.referral_id not in yolo_at_ya:
            assert second.site_of(a.referral_id) == a.site_id


def test_provider_going_full_in_one_county_never_moves_another_county() -> None:
    match = two_counties(20)
    first = solve(build_problem(match), workers=1)
    for full in ("YA", "YB"):
        second = resolve(report_full(match, full), first, workers=1)
        assert second.moved and all(m.referral_id.startswith("Y") for m in second.moved)
        napa = [a for a in first.assignments if a.referral_id.startswith("N")]
        assert all(second.site_of(a.referral_id) == a.site_id for a in napa)


def test_accepted_referral_never_moves_even_when_its_provider_reports_full() -> None:
    accepted = referral("R1", current_site="S1", accepted=True, preferred_providers=("P-S2",))
    match = data([accepted, referral("R2", business_days_waited=15)],
                 [site("S1", reported_full=True), site("S2", remaining_units=1)])
    problem = build_problem(match)
    solution = solve(problem, workers=1)
    validate(solution, problem, match)
    assert solution.site_of("R1") == "S1" and solution.assignment_by_referral["R1"].locked
    assert solution.site_of("R2") == "S2"


def test_accepted_units_come_off_the_capacity_first() -> None:
    accepted = referral("R1", current_site="S1", accepted=True)
    match = data([accepted, referral("R2")], [site("S1", remaining_units=1)])
    solution = solve(build_problem(match), workers=1)
    assert solution.site_of("R1") == "S1" and solution.site_of("R2") is None


def test_shrunk_capacity_moves_one_proposal_and_says_so() -> None:
    sites = [site("S1", remaining_units=2), site("S2", remaining_units=2, latitude=38.5)]
    referrals = [referral("R1", current_site="S1"), referral("R2", current_site="S1")]
    shrunk = data(referrals, [replace(sites[0], remaining_units=1), sites[1]])
    solution = resolve(shrunk, workers=1)
    (move,) = solution.moved
    assert (move.to_site, move.reason) == ("S2", MoveReason.CAPACITY_SHRANK)
    assert "'S1'" in move.detail and solution.placed == 2


def test_shrunk_capacity_unplaces_the_least_urgent() -> None:
    referrals = [referral("R1", current_site="S1", business_days_waited=12),
                 referral("R2", current_site="S1", business_days_waited=1)]
    solution = resolve(data(referrals, [site("S1", remaining_units=1)]), workers=1)
    (move,) = solution.moved
    assert (move.referral_id, move.to_site, move.reason) == ("R2", None, MoveReason.CAPACITY_SHRANK)


def test_freed_capacity_lets_a_more_urgent_referral_in() -> None:
    sites = [site("S1", remaining_units=1)]
    calm = referral("R1", current_site="S1", business_days_waited=0)
    urgent = referral("R2", post_discharge=True, business_days_waited=3)
    solution = resolve(data([calm, urgent], sites), workers=1)
    (move,) = solution.moved
    assert (move.referral_id, move.to_site, move.reason) == ("R1", None, MoveReason.DISPLACED_BY_MORE_URGENT)
    assert "'R2'" in move.detail


def test_grown_capacity_lets_a_member_move_to_their_first_choice() -> None:
    sites = [site("S1", remaining_units=1), site("S2", remaining_units=1)]
    member = referral("R1", current_site="S2", preferred_providers=("P-S1", "P-S2"))
    solution = resolve(data([member], sites), workers=1)
    (move,) = solution.moved
    assert (move.to_site, move.reason) == ("S1", MoveReason.BETTER_MATCH_AVAILABLE)


def test_stability_keeps_a_proposal_when_another_site_is_equally_good() -> None:
    sites = [site("S1"), site("S2")]
    solution = resolve(data([referral("R1", current_site="S2")], sites), workers=1)
    assert solution.site_of("R1") == "S2" and solution.moved == ()


def test_exclusion_after_a_decline_moves_the_proposal() -> None:
    sites = [site("S1"), site("S2")]
    declined = referral("R1", current_site="S1", excluded_providers=frozenset({"P-S1"}))
    (move,) = resolve(data([declined], sites), workers=1).moved
    assert (move.to_site, move.reason) == ("S2", MoveReason.NO_LONGER_ELIGIBLE)


def test_resolve_accepts_a_plain_mapping_of_proposals() -> None:
    sites = [site("S1"), site("S2")]
    match = data([referral("R1")], sites, [ContractPool("C-P-S1", "P-S1", "RESPITE", 1),
                                          ContractPool("C-P-S2", "P-S2", "RESPITE", 1)])
    assert resolve(match, {"R1": "S2"}, workers=1).site_of("R1") == "S2"
    assert resolve(build_problem(match), {"R1": "S2"}, workers=1).site_of("R1") == "S2"


def test_focused_resolve_equals_the_full_resolve_and_leaves_other_components_alone() -> None:
    match = two_counties(20)
    problem = build_problem(match)
    first = solve(problem, workers=1)
    changed = build_problem(report_full(match, "YA"))
    full = resolve(changed, first, workers=1)
    focused = resolve(changed, first, workers=1, focus_sites={"YA"})
    validate(focused, with_current(changed, current_sites(first)))
    assert (focused.placed, focused.objective) == (full.placed, full.objective)
    assert {m.referral_id for m in focused.moved} == {m.referral_id for m in full.moved}


def test_focus_on_an_unknown_site_is_a_problem_error() -> None:
    import pytest

    from matcher import ProblemError

    problem = build_problem(two_counties())
    with pytest.raises(ProblemError, match="focus site 'NOPE' is not in the problem"):
        solve(problem, workers=1, focus_sites={"NOPE"})


def test_an_equally_urgent_waiting_member_never_takes_a_proposal() -> None:
    """Leaving a proposal costs its stability term also when the member would go unplaced: a swap
    between two members of the same urgency places no one more and no one better, only churn (a
    provider would hear its referral withdrawn). Keeping is strictly cheaper, so no tie-break can
    swap; both orders, on the flow and on the weighted path."""
    for units in ((1, 1), (2, 2, 3)):  # equal units: min-cost flow; unequal: LP rounding / CP-SAT
        for holder_last in (False, True):
            holder = referral("HOLDS", current_site="S1", business_days_waited=4, units=units[0])
            waiting = [referral(f"W{i}", business_days_waited=4, units=u, preferred_providers=("P-S1",))
                       for i, u in enumerate(units[1:])]  # S1 is their first choice: a cost of 0 there too
            referrals = [*waiting, holder] if holder_last else [holder, *waiting]
            problem = build_problem(data(referrals, [site("S1", remaining_units=units[0])]))
            h, w = problem.referral_ids.index("HOLDS"), problem.referral_ids.index("W0")
            cost_at_s1 = {int(r): int(c) for r, c in zip(problem.arc_referral, problem.arc_cost, strict=True)}
            keep = cost_at_s1[h] + int(problem.referral_penalty[w])
            swap = cost_at_s1[w] + int(problem.referral_penalty[h])
            assert keep < swap, (units, holder_last)
            solution = resolve(problem, workers=1)
            assert solution.site_of("HOLDS") == "S1" and solution.moved == (), (units, holder_last)
