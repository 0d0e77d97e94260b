import numpy as np
import pytest

from geo.distance import haversine_miles, miles_between
from geo.zips import lookup_zip

PAIRS = [
    ("95501", "96001"),  # Eureka - Redding
    ("95482", "95401"),  # Ukiah - Santa Rosa
    ("95928", "95695"),  # Chico - Woodland
    ("94558", "94533"),  # Napa - Fairfield
    ("96101", "95531"),  # Alturas - Crescent City, across the whole service area
]


@pytest.mark.parametrize(("zip_a", "zip_b"), PAIRS)
def test_haversine_agrees_with_geodesic_within_half_percent(zip_a: str, zip_b: str) -> None:
    a, b = lookup_zip(zip_a).point, lookup_zip(zip_b).point
    exact = miles_between(a, b)
    fast = float(haversine_miles(a[0], a[1], b[0], b[1]))
    assert exact > 10
    assert abs(fast - exact) / exact < 0.005


def test_haversine_vectorised_matches_one_by_one() -> None:
    points = [(lookup_zip(a).point, lookup_zip(b).point) for a, b in PAIRS]
    lat1, lon1, lat2, lon2 = (
        np.array(v) for v in zip(*[(a[0], a[1], b[0], b[1]) for a, b in points], strict=True)
    )
    bulk = haversine_miles(lat1, lon1, lat2, lon2)
    one_by_one = [float(haversine_miles(a[0], a[1], b[0], b[1])) for a, b in points]
    assert bulk.shape == (len(PAIRS),)
    np.testing.assert_allclose(bulk, one_by_one)


def test_distance_is_symmetric_and_zero_on_same_point() -> None:
    a, b = lookup_zip("95482").point, lookup_zip("95401").point
    assert miles_between(a, b) == pytest.approx(miles_between(b, a))
    assert miles_between(a, a) == 0.0


@pytest.mark.parametrize("bad", [(91.0, -122.0), (40.0, float("nan")), (40.0, -181.0)])
def test_miles_between_rejects_bad_point(bad: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match="is not a \\(latitude, longitude\\) pair"):
        miles_between(bad, (40.0, -122.0))
