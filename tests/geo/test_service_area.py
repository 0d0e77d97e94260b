import pytest

from geo.distance import miles_between
from geo.service_area import in_service_area, within_travel_standard
from geo.zips import UnknownCountyError, lookup_zip

EUREKA = lookup_zip("95501").point
ARCATA = lookup_zip("95521").point
REDDING = lookup_zip("96001").point
UKIAH = lookup_zip("95482").point
SANTA_ROSA = lookup_zip("95401").point


def test_in_service_area_county_only() -> None:
    assert in_service_area("Humboldt", EUREKA, counties_served=["Del Norte", "Humboldt County"])
    assert not in_service_area("Trinity", EUREKA, counties_served=["Humboldt"])
    assert not in_service_area("Humboldt", EUREKA, counties_served=[])


def test_in_service_area_county_only_needs_no_point() -> None:
    assert in_service_area("humboldt", None, counties_served=["Humboldt"])


def test_in_service_area_radius_exactly_at_value_is_inside() -> None:
    distance = miles_between(EUREKA, ARCATA)
    assert in_service_area(
        "Humboldt", EUREKA, counties_served=["Humboldt"], site_point=ARCATA, radius_miles=distance
    )
    assert not in_service_area(
        "Humboldt", EUREKA, counties_served=["Humboldt"], site_point=ARCATA, radius_miles=distance - 1e-6
    )


def test_in_service_area_radius_never_widens_counties() -> None:
    assert not in_service_area(
        "Trinity", EUREKA, counties_served=["Humboldt"], site_point=EUREKA, radius_miles=500
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"site_point": None, "radius_miles": 10}, "needs the provider's site_point"),
        ({"site_point": ARCATA, "radius_miles": -1}, "radius_miles -1 must be"),
        ({"site_point": ARCATA, "radius_miles": float("nan")}, "radius_miles nan must be"),
    ],
)
def test_in_service_area_bad_radius_input(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        in_service_area("Humboldt", EUREKA, counties_served=["Humboldt"], **kwargs)


def test_in_service_area_radius_without_member_point() -> None:
    with pytest.raises(ValueError, match="needs the member's point"):
        in_service_area("Humboldt", None, counties_served=["Humboldt"], site_point=ARCATA, radius_miles=10)


def test_in_service_area_unknown_county_raises() -> None:
    with pytest.raises(UnknownCountyError, match="'Humbolt'"):
        in_service_area("Humbolt", EUREKA, counties_served=["Humboldt"])


def test_within_travel_standard_by_tier() -> None:
    # Ukiah - Santa Rosa is about 50 miles: inside Mendocino's rural 60, outside Sonoma's medium 30
    assert 45 < miles_between(UKIAH, SANTA_ROSA) < 60
    assert within_travel_standard("Mendocino", UKIAH, SANTA_ROSA)
    assert not within_travel_standard("Sonoma", SANTA_ROSA, UKIAH)


def test_within_travel_standard_minutes_arm_exactly_at_value() -> None:
    assert not within_travel_standard("Humboldt", EUREKA, REDDING)
    assert within_travel_standard("Humboldt", EUREKA, REDDING, travel_minutes=90)
    assert not within_travel_standard("Humboldt", EUREKA, REDDING, travel_minutes=90.01)


def test_within_travel_standard_miles_exactly_at_value() -> None:
    # a site due north of Eureka placed 60 geodesic miles away: rural standard is 60 miles
    from geopy.distance import geodesic

    site = geodesic(miles=60).destination(EUREKA, bearing=0)
    assert miles_between(EUREKA, (site.latitude, site.longitude)) == pytest.approx(60, abs=1e-6)
    inside = geodesic(miles=60 - 1e-4).destination(EUREKA, bearing=0)
    outside = geodesic(miles=60 + 1e-4).destination(EUREKA, bearing=0)
    assert within_travel_standard("Humboldt", EUREKA, (inside.latitude, inside.longitude))
    assert not within_travel_standard("Humboldt", EUREKA, (outside.latitude, outside.longitude))
