import pytest

from geo.zips import (
    PARTNERSHIP_COUNTIES,
    UnknownCountyError,
    UnknownZipError,
    ZipInfo,
    ca_counties,
    canonical_county,
    lookup_zip,
    zips_in_county,
)


@pytest.mark.parametrize(
    ("zip5", "city", "county"),
    [
        ("95501", "Eureka", "Humboldt"),
        ("95482", "Ukiah", "Mendocino"),
        ("94558", "Napa", "Napa"),
        ("95928", "Chico", "Butte"),
        ("96001", "Redding", "Shasta"),
        ("95695", "Woodland", "Yolo"),
        ("94533", "Fairfield", "Solano"),
        ("95401", "Santa Rosa", "Sonoma"),
    ],
)
def test_lookup_zip_known_city_and_county(zip5: str, city: str, county: str) -> None:
    info = lookup_zip(zip5)
    assert (info.zip, info.city, info.state, info.county) == (zip5, city, "CA", county)
    # Northern California: the centroid is real, not the data's 0,0 placeholder
    assert 38.0 < info.latitude < 42.1 and -124.5 < info.longitude < -120.0


def test_lookup_zip_accepts_zip_plus_four_and_spaces() -> None:
    assert lookup_zip("95501-1234") == lookup_zip(" 95501 ") == lookup_zip("95501")


def test_lookup_zip_is_frozen() -> None:
    info = lookup_zip("95501")
    assert isinstance(info, ZipInfo)
    with pytest.raises(AttributeError):
        info.county = "Trinity"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("zip5", "message"),
    [
        ("00000", "unknown California ZIP code '00000'"),
        ("97501", "unknown California ZIP code '97501'"),  # Medford, Oregon
        ("9550", "malformed ZIP code '9550'"),
        ("95501-12", "malformed ZIP code '95501-12'"),
        ("", "malformed ZIP code ''"),
        ("90085", "unknown California ZIP code '90085'"),  # PO Box ZIP with no county or centroid
    ],
)
def test_lookup_zip_unknown_raises_naming_zip(zip5: str, message: str) -> None:
    with pytest.raises(UnknownZipError, match=message):
        lookup_zip(zip5)


def test_lookup_zip_rejects_int() -> None:
    with pytest.raises(TypeError, match="95501"):
        lookup_zip(95501)  # type: ignore[arg-type]


def test_partnership_counties_are_24_real_counties() -> None:
    assert len(PARTNERSHIP_COUNTIES) == len(set(PARTNERSHIP_COUNTIES)) == 24
    assert set(PARTNERSHIP_COUNTIES) <= set(ca_counties())
    assert all(zips_in_county(c) for c in PARTNERSHIP_COUNTIES)


def test_zips_in_county_all_belong_and_sorted() -> None:
    zips = zips_in_county("humboldt county")
    assert [z.zip for z in zips] == sorted(z.zip for z in zips)
    assert {z.county for z in zips} == {"Humboldt"}
    assert lookup_zip("95501") in zips


def test_zips_in_county_unknown_raises() -> None:
    with pytest.raises(UnknownCountyError, match="'Atlantis'"):
        zips_in_county("Atlantis")


@pytest.mark.parametrize(("name", "canonical"), [("DEL NORTE", "Del Norte"), ("Yuba County", "Yuba")])
def test_canonical_county(name: str, canonical: str) -> None:
    assert canonical_county(name) == canonical
