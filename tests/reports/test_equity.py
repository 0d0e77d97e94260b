"""The equity report (7003 VI.B.4, VI.I.1.a.3) on the small plan of conftest, and the four-fifths
flag end to end on a crafted population."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session

from geo.distance import haversine_miles
from placement.models import Assignment, RunTrigger, SolverRun, UnplacedReferral
from referrals.models import Member, MemberDemographics, Referral, ReferralSource
from reports.equity import MEASURE_COLUMNS, _band_labels, _distinct, _quantiles, equity_report, referral_outcomes
from reports.fourfifths import CHI_SQUARE, FISHER, GroupCount, compare_two
from tests.factories import PLACES, ensure_service, make_contract, make_provider
from tests.reports.conftest import Q4, SmallPlan


def row(measures: pd.DataFrame, dimension: str, group: str, stratum_by: str = "", stratum: str = "") -> pd.Series:
    found = measures[(measures["dimension"] == dimension) & (measures["group"] == group)
                     & (measures["stratum_by"] == stratum_by) & (measures["stratum"] == stratum)]
    assert len(found) == 1, f"{dimension}={group} ({stratum_by}={stratum}): {len(found)} rows"
    return found.iloc[0]


def test_outcomes_read_groups_the_matcher_never_uses(db_session: Session, small_plan: SmallPlan) -> None:
    frame = referral_outcomes(db_session, Q4).set_index("referral_id")
    assert sorted(frame.index) == ["R1", "R2", "R3", "R4", "R5"]  # R0 was received 09-30
    assert frame["outcome"].to_dict() == {"R1": "placed", "R2": "placed", "R3": "placed", "R4": "unplaced",
                                          "R5": "pending"}
    # M3 has no demographics row; M4's sex is U; M4 has no language
    groups = frame[["race_ethnicity", "sex", "language"]]
    assert list(groups.loc["R3"]) == ["Unknown", "Unknown", "Hmong"]
    assert list(groups.loc["R4"]) == ["White", "Unknown", "Unknown"]
    assert frame.loc["R2", "language"] == "Spanish"  # required language before the first spoken one
    # age on the day received: M4 is 25 on 10-19 (26 the next day), 26 on 12-28
    assert frame["age_band"].to_dict() == {"R1": "26-44", "R2": "0-17", "R3": "65+", "R4": "18-25", "R5": "26-44"}


def test_measures_on_the_small_plan(db_session: Session, small_plan: SmallPlan) -> None:
    report = equity_report(db_session, Q4, min_group_size=1)
    m = report.measures
    assert list(m.columns) == list(MEASURE_COLUMNS)
    assert set(m["period"]) == {"2026Q4"}

    humboldt, shasta = row(m, "county", "Humboldt"), row(m, "county", "Shasta")
    # placement: R1, R2 placed in Humboldt; in Shasta R3 placed, R4 unplaced, R5 pending (left out)
    assert (humboldt["placed"], humboldt["decided"], humboldt["placement_rate"]) == (2, 2, 1.0)
    assert (shasta["placed"], shasta["unplaced"], shasta["pending"], shasta["placement_rate"]) == (1, 1, 1, 0.5)

    # business days to placement: R1 2 (Thu 10-01 -> Mon 10-05), R2 10 (10-05 -> 10-19),
    # R3 1 (11-02 -> 11-03, from the assignment's creation: R3 has no status history)
    p1 = row(m, "provider", "P1")
    assert (p1["days_n"], p1["days_median"]) == (3, 2.0)
    assert p1["days_p90"] == pytest.approx(8.4)  # [1, 2, 10]: 2 + 0.8 * (10 - 2)
    assert pd.isna(p1["placement_rate"])  # not defined by provider

    # preference: R1 placed with its first choice P1, R2 with its second choice P1
    hn = row(m, "service", "HOUSING_NAV")
    assert (hn["preference_stated"], hn["preference_rank1"], hn["preference_any"]) == (2, 1, 2)
    assert (hn["preference_rank1_rate"], hn["preference_any_rate"]) == (0.5, 1.0)

    # distance: only R3 is site-based, Shasta member to the Eureka site
    recup = row(m, "service", "RECUPERATIVE_CARE")
    miles = float(haversine_miles(*PLACES["Shasta"][2:], *PLACES["Humboldt"][2:]))
    assert recup["distance_n"] == 1 and recup["distance_median_miles"] == pytest.approx(miles)
    assert hn["distance_n"] == 0

    # declines: three assignments sent, P1 declined R2's
    assert (p1["assignments_sent"], p1["assignments_declined"]) == (3, 1)
    assert p1["decline_rate"] == pytest.approx(1 / 3)
    white = row(m, "race_ethnicity", "White")
    assert (white["referrals"], white["placement_rate"], white["decline_rate"]) == (3, 0.5, 1.0)
    unknown = row(m, "race_ethnicity", "Unknown")
    assert (unknown["referrals"], unknown["placed"]) == (1, 1)

    # member groups within each county
    within = row(m, "race_ethnicity", "White", "county", "Shasta")
    assert (within["referrals"], within["decided"], within["placed"]) == (2, 1, 0)


def test_placement_is_the_current_assignment(db_session: Session, re_referred: Referral) -> None:
    frame = referral_outcomes(db_session, Q4).set_index("referral_id")
    rr = frame.loc["RR"]
    # declined by P1, now proposed to P2, the member's first choice; placed since the first proposal
    assert (rr["provider"], rr["preference_rank1"], rr["placed_on"], rr["days_to_placement"]) == (
        "P2", True, dt.date(2026, 10, 2), 1)


def test_declines_count_by_the_provider_asked_by_provider_and_by_the_referral_elsewhere(
        db_session: Session, re_referred: Referral) -> None:
    m = equity_report(db_session, Q4, min_group_size=1).measures
    # RR was sent to P1, which declined, and is now proposed to P2 (its placement)
    p1, p2 = row(m, "provider", "P1"), row(m, "provider", "P2")
    assert (p1["referrals"], p1["assignments_sent"], p1["assignments_declined"], p1["decline_rate"]) == (0, 1, 1, 1.0)
    assert pd.isna(p1["days_median"]) and pd.isna(p1["placement_rate"])
    assert (p2["referrals"], p2["placed"], p2["assignments_sent"], p2["assignments_declined"]) == (1, 1, 0, 0)
    assert pd.isna(p2["decline_rate"])  # nothing sent to P2 yet
    county = row(m, "county", "Humboldt")
    assert (county["referrals"], county["assignments_sent"], county["assignments_declined"]) == (1, 1, 1)
    # placed since the first proposal (10-02, from the history-less assignment's creation day), 1 business day
    assert (county["days_n"], county["days_median"]) == (1, 1.0)
    assert (county["preference_stated"], county["preference_rank1"]) == (1, 1)  # P2 is its first choice


def test_provider_is_no_stratum(db_session: Session) -> None:
    with pytest.raises(ValueError, match="provider is a dimension of its own"):
        equity_report(db_session, Q4, strata=("provider",))


@pytest.mark.parametrize("seed", range(5))
def test_group_quantiles_are_pandas_quantiles(seed: int) -> None:
    """The quantiles of all groups at once (numpy) are pandas' groupby quantiles, to the last bit."""
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 40, 3000)
    values = np.where(rng.random(3000) < 0.2, np.nan, rng.integers(0, 30, 3000) * rng.choice([1.0, 0.37], 3000))
    n, (median, p90) = _quantiles(groups, values, 45, (0.5, 0.9))
    frame = pd.DataFrame({"g": groups, "v": values}).groupby("g")["v"]
    expected = {q: frame.quantile(q).reindex(range(45)).to_numpy() for q in (0.5, 0.9)}
    np.testing.assert_array_equal(median, expected[0.5])
    np.testing.assert_array_equal(p90, expected[0.9])
    np.testing.assert_array_equal(n, frame.count().reindex(range(45), fill_value=0).to_numpy())


@pytest.mark.parametrize(("space", "size"), [(1, 0), (1, 50), (45, 3000), (2_000, 50_000), (10**9, 3000)])
def test_distinct_group_codes_are_numpy_unique(space: int, size: int) -> None:
    """Issue 5: counting the group codes instead of sorting them gives np.unique's keys and inverse,
    for a small code space (counted) and a sparse one (sorted, as before)."""
    rng = np.random.default_rng(space + size)
    code = rng.integers(0, space, size).astype(np.int64)
    keys, inverse = _distinct(code, space)
    expected_keys, expected_inverse = np.unique(code, return_inverse=True)
    np.testing.assert_array_equal(keys, expected_keys)
    np.testing.assert_array_equal(inverse, expected_inverse.reshape(-1))
    np.testing.assert_array_equal(keys[inverse], code)


def test_unknown_dimension_is_refused(db_session: Session) -> None:
    with pytest.raises(ValueError, match="unknown dimension"):
        equity_report(db_session, Q4, dimensions=("religion",))


# (race/ethnicity or None for no demographics row, referrals, placed)
CRAFTED = [("A", 30, 30), ("B", 30, 10), ("C", 2, 1), ("D", 30, 24), (None, 5, 5)]


@pytest.fixture
def crafted(db_session: Session) -> None:
    """97 referrals in Humboldt: group B clearly below, C below but tiny, D at exactly 4/5, and 5 unknown."""
    s = db_session
    ensure_service(s, "HOUSING_NAV")
    provider = make_provider(s, id="PX")
    contract = make_contract(s, provider, capacity=1000)
    run = SolverRun(trigger=RunTrigger.MANUAL, actor="test")
    s.add(run)
    zip5, city, lat, lon = PLACES["Humboldt"]
    members: list[tuple[Member, int, bool]] = []
    for race, n, placed in CRAFTED:
        for i in range(n):
            member = Member(cin=f"X{race or 'U'}{i:07d}", last_name="Crafted", first_name=f"{race}{i}",
                            dob=dt.date(1980, 1, 1), address="1 Main St", city=city, zip=zip5, county="Humboldt",
                            latitude=lat, longitude=lon, eligibility_start=dt.date(2023, 1, 1))
            if race is not None:
                member.demographics = MemberDemographics(race_ethnicity=race, sex="F")
            members.append((member, len(members), i < placed))
    s.add_all([m for m, _, _ in members])
    s.flush()
    s.add_all([Referral(id=f"RX{k:04d}", member_id=m.id, service_key="HOUSING_NAV", source=ReferralSource.PCP,
                        received_date=dt.date(2026, 10, 5)) for m, k, _ in members])
    s.flush()
    for _m, k, placed in members:
        if placed:
            s.add(Assignment(referral_id=f"RX{k:04d}", provider_id="PX", site_id="PX-S1", contract_id=contract.id,
                             units=1))
        else:
            s.add(UnplacedReferral(referral_id=f"RX{k:04d}", solver_run_id=run.id, reason="ALL_IN_AREA_FULL"))
    s.flush()


def test_four_fifths_on_a_crafted_population(db_session: Session, crafted: None) -> None:
    report = equity_report(db_session, Q4, dimensions=("race_ethnicity",), strata=(), min_group_size=1)
    flags = {f.group: f for f in report.flags if f.measure == "placement_rate"}
    assert set(flags) == {"A", "B", "C", "D", "Unknown"}  # the members without demographics are "Unknown"
    assert {f.best_group for f in flags.values()} == {"A"}  # 30/30 beats Unknown's 5/5 on size

    b, c, d, unknown = flags["B"], flags["C"], flags["D"], flags["Unknown"]
    assert (b.n, b.successes, b.test, b.flagged) == (30, 10, CHI_SQUARE, True)
    assert b.p_value is not None and b.p_value < 0.001
    # tiny: half placed, far below four fifths, but Fisher's p = 2/32
    assert (c.n, c.successes, c.ratio, c.test, c.flagged) == (2, 1, 0.5, FISHER, False)
    assert c.p_value == pytest.approx(0.0625)
    # exactly four fifths: not below, so not flagged, although the difference is significant
    # (Fisher, p = 2 * C(30,6)/C(60,6) ~ 0.024)
    assert (d.n, d.successes, d.ratio, d.flagged) == (30, 24, 0.8, False)
    assert d.note == "at or above four fifths of the best rate"
    assert compare_two(GroupCount("D", 30, 24), GroupCount("A", 30, 30)) == (FISHER, pytest.approx(0.0237, abs=1e-4))
    assert (unknown.n, unknown.ratio, unknown.flagged) == (5, 1.0, False)
    assert [f.group for f in report.flagged] == ["B"]

    frame = report.flags_frame()
    flagged = frame[frame["flagged"]]
    assert flagged[["dimension", "measure", "group", "test"]].values.tolist() == [
        ["race_ethnicity", "placement_rate", "B", CHI_SQUARE]]


def test_min_group_size_keeps_small_groups_out_of_the_test(db_session: Session, crafted: None) -> None:
    report = equity_report(db_session, Q4, dimensions=("race_ethnicity",), strata=(), min_group_size=10)
    flags = {f.group: f for f in report.flags if f.measure == "placement_rate"}
    assert flags["C"].test is None and flags["Unknown"].test is None
    assert flags["C"].note == "not tested: n=2 is below the minimum group size 10"
    assert [f.group for f in report.flagged] == ["B"]


def test_age_bands_at_each_boundary() -> None:
    ages = np.array([0, 17, 18, 25, 26, 44, 45, 64, 65, 101, np.nan, -1], dtype=np.float64)
    assert list(_band_labels(ages)) == ["0-17", "0-17", "18-25", "18-25", "26-44", "26-44", "45-64", "45-64",
                                      "65+", "65+", "Unknown", "Unknown"]
