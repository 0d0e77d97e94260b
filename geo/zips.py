"""Offline California ZIP look-ups: county and centroid, from the ``zipcodes`` package.

No network is used. The ``zipcodes`` package ships every US ZIP code with its county and an
approximate centroid; csmatch only needs California, so the first look-up builds one dict of the
California ZIPs and every later look-up is a dict access.

Decisions
---------
- Input is a string: ``"95501"`` or ZIP+4 ``"95501-1234"`` (surrounding spaces are stripped).
  An ``int`` is refused with ``TypeError``: a ZIP is an identifier, and a ZIP column read as numbers
  (``pandas`` does that by default) is an import bug to fix at the import, not here.
- Only California ZIPs are known; an Oregon or Nevada ZIP raises ``UnknownZipError``.
- A California ZIP that the data carries without a county or centroid (a few PO Box and unique
  ZIPs, listed at latitude 0) is treated as unknown too: csmatch can neither check its service area
  nor measure a distance from it.
- Inactive (retired) ZIPs that still have a county and centroid are kept: old addresses use them.
- County names are returned without the " County" suffix ("Humboldt"), spelled as the Census spells
  them; :func:`canonical_county` maps user spellings ("humboldt county") to that form.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import zipcodes

__all__ = [
    "PARTNERSHIP_COUNTIES",
    "UnknownCountyError",
    "UnknownZipError",
    "ZipInfo",
    "canonical_county",
    "ca_counties",
    "lookup_zip",
    "zips_in_county",
]

#: The 24 Northern California counties Partnership HealthPlan serves (DOMAIN.md "Service area").
PARTNERSHIP_COUNTIES: tuple[str, ...] = (
    "Butte",
    "Colusa",
    "Del Norte",
    "Glenn",
    "Humboldt",
    "Lake",
    "Lassen",
    "Marin",
    "Mendocino",
    "Modoc",
    "Napa",
    "Nevada",
    "Placer",
    "Plumas",
    "Shasta",
    "Sierra",
    "Siskiyou",
    "Solano",
    "Sonoma",
    "Sutter",
    "Tehama",
    "Trinity",
    "Yolo",
    "Yuba",
)

_ZIP_RE = re.compile(r"^(\d{5})(?:-\d{4})?$")
_COUNTY_SUFFIX = " county"


class UnknownZipError(ValueError):
    """A ZIP code that is malformed, not in California, or has no county/centroid in the data."""


class UnknownCountyError(ValueError):
    """A county name that is not one of California's 58 counties."""


@dataclass(frozen=True, slots=True)
class ZipInfo:
    """One California ZIP code: its main city, county (no " County" suffix) and centroid."""

    zip: str
    city: str
    state: str
    county: str
    latitude: float
    longitude: float

    @property
    def point(self) -> tuple[float, float]:
        """The centroid as ``(latitude, longitude)``, the point type used across ``geo``."""
        return (self.latitude, self.longitude)


@functools.cache
def _ca_zips() -> dict[str, ZipInfo]:
    """Build the dict of usable California ZIPs once (``zipcodes`` scans a list on every call)."""
    table: dict[str, ZipInfo] = {}
    for row in zipcodes.filter_by(state="CA"):
        county = row["county"]
        latitude, longitude = float(row["lat"]), float(row["long"])
        if not county or (latitude == 0.0 and longitude == 0.0):
            continue
        if county.lower().endswith(_COUNTY_SUFFIX):
            county = county[: -len(_COUNTY_SUFFIX)]
        table[row["zip_code"]] = ZipInfo(
            zip=row["zip_code"],
            city=row["city"],
            state=row["state"],
            county=county,
            latitude=latitude,
            longitude=longitude,
        )
    return table


@functools.cache
def _zips_by_county() -> dict[str, tuple[ZipInfo, ...]]:
    grouped: dict[str, list[ZipInfo]] = {}
    for info in _ca_zips().values():
        grouped.setdefault(info.county, []).append(info)
    return {county: tuple(sorted(infos, key=lambda i: i.zip)) for county, infos in grouped.items()}


@functools.cache
def _county_names() -> dict[str, str]:
    return {county.casefold(): county for county in _zips_by_county()}


def ca_counties() -> tuple[str, ...]:
    """Return the California county names present in the ZIP data, sorted.

    Examples
    --------
    >>> len(ca_counties())
    58
    >>> ca_counties()[:2]
    ('Alameda', 'Alpine')
    """
    return tuple(sorted(_zips_by_county()))


def canonical_county(name: str) -> str:
    """Return the canonical spelling of a California county name.

    Case and a trailing " County" are ignored.

    Raises
    ------
    UnknownCountyError
        If ``name`` is not a California county.

    Examples
    --------
    >>> canonical_county("del norte county")
    'Del Norte'
    >>> canonical_county("Humboldt")
    'Humboldt'
    >>> canonical_county("Josephine")
    Traceback (most recent call last):
    ...
    geo.zips.UnknownCountyError: unknown California county 'Josephine'
    """
    key = " ".join(name.split()).casefold()
    if key.endswith(_COUNTY_SUFFIX):
        key = key[: -len(_COUNTY_SUFFIX)]
    try:
        return _county_names()[key]
    except KeyError:
        raise UnknownCountyError(f"unknown California county {name!r}") from None


def lookup_zip(zip5: str) -> ZipInfo:
    """Return the county and centroid of a California ZIP code.

    Parameters
    ----------
    zip5 : str
        ``"95501"`` or ZIP+4 ``"95501-1234"``; surrounding spaces are ignored.

    Raises
    ------
    TypeError
        If ``zip5`` is not a string (an ``int`` loses leading zeros and hides import bugs).
    UnknownZipError
        If the ZIP is malformed, not a California ZIP, or carries no county or centroid.

    Examples
    --------
    >>> info = lookup_zip("95501-1234")
    >>> info.city, info.county, info.point
    ('Eureka', 'Humboldt', (40.7938, -124.1573))
    >>> lookup_zip("00000")
    Traceback (most recent call last):
    ...
    geo.zips.UnknownZipError: unknown California ZIP code '00000'
    """
    if not isinstance(zip5, str):
        raise TypeError(f"ZIP code must be a string like '95501', not {type(zip5).__name__} {zip5!r}")
    match = _ZIP_RE.match(zip5.strip())
    if match is None:
        raise UnknownZipError(f"malformed ZIP code {zip5!r}: expected 5 digits or ZIP+4")
    try:
        return _ca_zips()[match.group(1)]
    except KeyError:
        raise UnknownZipError(f"unknown California ZIP code {zip5!r}") from None


def zips_in_county(county: str) -> list[ZipInfo]:
    """Return every usable ZIP of a California county, sorted by ZIP.

    Raises
    ------
    UnknownCountyError
        If ``county`` is not a California county.

    Examples
    --------
    >>> [z.zip for z in zips_in_county("Sierra")][:3]
    ['95910', '95936', '95944']
    >>> all(z.county == "Napa" for z in zips_in_county("Napa County"))
    True
    """
    return list(_zips_by_county()[canonical_county(county)])
