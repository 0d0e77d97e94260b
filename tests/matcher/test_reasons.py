"""One test per unplaced reason and per preference-miss reason: the explanation names the cause."""

from __future__ import annotations

import pytest
from factories import YOLO, data, referral, site

from matcher import (
    ContractPool,
    MatchData,
    PreferenceMissReason,
    ReasonSide,
    Solution,
    UnplacedReason,
    build_problem,
    solve,
    validate,
)


def run(match_data: MatchData) -> Solution:
    problem = build_problem(match_data)
    solution = solve(problem, workers=1)
    validate(solution, problem, match_data)
    return solution


def reason_of(solution: Solution, referral_id: str = "R1") -> UnplacedReason:
    return solution.unplaced_by_referral[referral_id].reason


def test_no_provider_in_area() -> None:
    solution = run(data([referral(county="Yolo", latitude=YOLO[0], longitude=YOLO[1])], [site()]))
    assert reason_of(solution) == UnplacedReason.NO_PROVIDER_IN_AREA
    assert reason_of(solution).side == ReasonSide.NETWORK_GAP


def test_no_provider_of_the_service_at_all() -> None:
    solution = run(data([referral(service="SOBERING")], [site()]))
    assert reason_of(solution) == UnplacedReason.NO_PROVIDER_IN_AREA


def test_beyond_travel_standard() -> None:
    far = site(site_based=True, latitude=38.6, longitude=-122.3)  # ~21 miles north
    solution = run(data([referral(max_travel_miles=15.0)], [far]))
    assert reason_of(solution) == UnplacedReason.BEYOND_TRAVEL_STANDARD


def test_travel_standard_is_met_exactly_at_the_limit() -> None:
    from matcher.validate import miles

    near = site(site_based=True, latitude=38.6, longitude=-122.3)
    limit = miles((38.2975, -122.2869), (38.6, -122.3))
    assert run(data([referral(max_travel_miles=limit)], [near])).site_of("R1") == "S1"


def test_required_language_unavailable() -> None:
    solution = run(data([referral(required_language="Hmong")], [site(languages=frozenset({"English"}))]))
    assert reason_of(solution) == UnplacedReason.REQUIRED_LANGUAGE_UNAVAILABLE


def test_all_in_area_excluded_is_member_side() -> None:
    solution = run(data([referral(excluded_providers=frozenset({"P-S1"}))], [site()]))
    assert reason_of(solution) == UnplacedReason.ALL_IN_AREA_EXCLUDED
    assert solution.unplaced[0].side == ReasonSide.MEMBER


def test_all_in_area_full_lists_who_would_take_it() -> None:
    full = site("S1", reported_full=True)
    empty = site("S2", remaining_units=0, latitude=38.4)
    solution = run(data([referral()], [full, empty]))
    unplaced = solution.unplaced[0]
    assert unplaced.reason == UnplacedReason.ALL_IN_AREA_FULL
    assert [n.site_id for n in unplaced.would_take] == ["S1", "S2"]  # nearest first
    assert unplaced.would_take[0].miles < unplaced.would_take[1].miles


def test_all_in_area_full_when_the_contract_is_spent() -> None:
    s = site(remaining_units=None)
    solution = run(data([referral()], [s], [ContractPool("C-P-S1", "P-S1", "RESPITE", 0)]))
    assert reason_of(solution) == UnplacedReason.ALL_IN_AREA_FULL


@pytest.mark.parametrize("gate", [UnplacedReason.INELIGIBLE, UnplacedReason.LIMIT_REACHED])
def test_gate_set_by_the_adapter_is_member_side(gate: UnplacedReason) -> None:
    solution = run(data([referral(ineligible_reason=gate)], [site()]))
    assert reason_of(solution) == gate
    assert gate.side == ReasonSide.MEMBER


def test_no_eligible_arc_in_an_explicit_problem() -> None:
    from matcher.io import problem_from_dict

    problem = problem_from_dict({"referrals": [{"id": "R1"}], "sites": [{"id": "S1", "capacity": 1}], "arcs": []})
    assert solve(problem, workers=1).unplaced[0].reason == UnplacedReason.NO_ELIGIBLE_ARC


def test_every_unplaced_reason_has_a_side_and_a_description() -> None:
    for reason in UnplacedReason:
        assert reason.side in ReasonSide and reason.description


def test_preference_misses_name_each_better_ranked_provider() -> None:
    spanish = frozenset({"Spanish"})
    sites = [
        site("A", "PA", counties=frozenset({"Yolo"}), languages=spanish),  # out of area
        site("B", "PB", languages=frozenset({"English"})),  # no Spanish
        site("C", "PC", languages=spanish),  # excluded
        site("D", "PD", reported_full=True, languages=spanish),  # full
        site("E", "PE", remaining_units=1, languages=spanish),  # taken by a more urgent member
        site("F", "PF", languages=spanish),
    ]
    urgent = referral("R0", post_discharge=True, preferred_providers=("PE",))
    member = referral(
        "R1", required_language="Spanish", excluded_providers=frozenset({"PC"}),
        preferred_providers=("PX", "PA", "PB", "PC", "PD", "PE", "PF"),
    )
    solution = run(data([urgent, member], sites))
    assignment = solution.assignment_by_referral["R1"]
    assert assignment.site_id == "F"
    assert [(m.provider_id, m.reason) for m in assignment.preference_misses] == [
        ("PX", PreferenceMissReason.NOT_CONTRACTED),
        ("PA", PreferenceMissReason.OUT_OF_AREA),
        ("PB", PreferenceMissReason.LANGUAGE),
        ("PC", PreferenceMissReason.EXCLUDED),
        ("PD", PreferenceMissReason.FULL),
        ("PE", PreferenceMissReason.CAPACITY_GIVEN_TO_OTHERS),
    ]
    assert solution.site_of("R0") == "E"


def test_preference_miss_for_travel() -> None:
    far = site("A", "PA", site_based=True, latitude=38.6, longitude=-122.3)
    near = site("B", "PB")
    solution = run(data([referral(max_travel_miles=10.0, preferred_providers=("PA", "PB"))], [far, near]))
    (miss,) = solution.assignment_by_referral["R1"].preference_misses
    assert miss.reason == PreferenceMissReason.TRAVEL


def test_first_choice_has_no_misses() -> None:
    solution = run(data([referral(preferred_providers=("P-S1", "P-S2"))], [site("S1"), site("S2")]))
    assert solution.assignment_by_referral["R1"].preference_misses == ()

