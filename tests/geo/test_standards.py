from pathlib import Path

import pytest

from geo.standards import (
    CountyTier,
    MissingCountyTierError,
    StandardsDataError,
    TravelStandard,
    county_tier,
    density_class,
    load_county_tiers,
    load_travel_standards,
    travel_standard,
)
from geo.zips import PARTNERSHIP_COUNTIES, UnknownCountyError

MEDIUM = {"Marin", "Placer", "Solano", "Sonoma"}
SMALL = {"Butte", "Lake", "Napa", "Nevada", "Sutter", "Yuba", "Yolo"}


def test_every_partnership_county_has_a_tier_and_none_is_dense() -> None:
    tiers = {c: county_tier(c) for c in PARTNERSHIP_COUNTIES}
    assert {c for c, t in tiers.items() if t is CountyTier.MEDIUM} == MEDIUM
    assert {c for c, t in tiers.items() if t is CountyTier.SMALL} == SMALL
    assert {c for c, t in tiers.items() if t is CountyTier.RURAL} == set(
        PARTNERSHIP_COUNTIES
    ) - MEDIUM - SMALL
    assert CountyTier.DENSE not in tiers.values()


@pytest.mark.parametrize(
    ("county", "miles", "minutes"),
    [("Sacramento", 15, 30), ("Sonoma", 30, 60), ("Yolo", 45, 75), ("Humboldt", 60, 90)],
)
def test_travel_standard_specialist_row(county: str, miles: float, minutes: float) -> None:
    assert travel_standard(county) == TravelStandard(miles, minutes)


def test_statute_names_override_density() -> None:
    # Yolo (223/sq mi) is over 200 yet small: only the statute's list makes a county medium.
    rows = load_county_tiers()
    assert rows["Yolo"].people_per_sq_mi == 223 and rows["Yolo"].tier is CountyTier.SMALL
    assert rows["Placer"].status == "P" and rows["Placer"].tier is CountyTier.MEDIUM


def test_derived_rows_agree_with_density_class() -> None:
    for row in load_county_tiers().values():
        if row.status == "D":
            assert row.people_per_sq_mi is not None
            assert density_class(row.people_per_sq_mi) is row.tier, row.county


@pytest.mark.parametrize(
    ("density", "tier"),
    [
        (0, CountyTier.RURAL),
        (49.99, CountyTier.RURAL),
        (50, CountyTier.SMALL),
        (51, CountyTier.SMALL),
        (200, CountyTier.SMALL),
        (200.5, CountyTier.SMALL),
        (10_000, CountyTier.SMALL),
    ],
)
def test_density_class_at_thresholds(density: float, tier: CountyTier) -> None:
    assert density_class(density) is tier


@pytest.mark.parametrize("density", [-1.0, float("nan"), float("inf")])
def test_density_class_rejects_bad_density(density: float) -> None:
    with pytest.raises(ValueError, match="population density"):
        density_class(density)


def test_county_tier_california_county_missing_from_table() -> None:
    with pytest.raises(MissingCountyTierError, match="'Fresno'.*density_class"):
        county_tier("Fresno")


def test_county_tier_not_a_county() -> None:
    with pytest.raises(UnknownCountyError, match="'Narnia'"):
        travel_standard("Narnia")


def test_load_county_tiers_collects_every_error(tmp_path: Path) -> None:
    bad = tmp_path / "tiers.csv"
    bad.write_text(
        "county,people_per_sq_mi,tier,status,source\n"
        "Lake,54,RURAL,D,x\n"
        "Narnia,3,RURAL,D,x\n"
        "Modoc,2,TINY,D,x\n"
        "Sierra,,RURAL,D,x\n"
        "Sierra,3,RURAL,Q,x\n",
        encoding="utf-8",
    )
    with pytest.raises(StandardsDataError) as info:
        load_county_tiers(bad)
    message = str(info.value)
    assert "tiers.csv, line 2, column tier: 'Lake' at 54 people/sq mi is SMALL by density" in message
    assert "line 3, column county: unknown California county 'Narnia'" in message
    assert "line 4, column tier: 'TINY'" in message
    assert "line 5, column people_per_sq_mi: a derived (D) row needs a density" in message
    assert "line 6, column county: 'Sierra' listed twice" in message
    assert "line 6, column status: 'Q'" in message


def test_load_travel_standards_needs_every_tier(tmp_path: Path) -> None:
    bad = tmp_path / "standards.csv"
    bad.write_text(
        "tier,miles,minutes,status,source\nDENSE,15,30,P,x\nRURAL,sixty,90,A,x\n", encoding="utf-8"
    )
    with pytest.raises(StandardsDataError) as info:
        load_travel_standards(bad)
    assert "line 3, column miles: 'sixty' is not a number" in str(info.value)
    assert "no standard for tier(s) ['MEDIUM', 'SMALL', 'RURAL']" in str(info.value)
