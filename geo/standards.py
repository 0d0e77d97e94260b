"""Medi-Cal time-or-distance standards by county tier (data-exchange.md §7).

Tiers and standards are data: ``geo/data/county_tiers.csv`` (county, people per square mile, tier,
status P/D, source) and ``geo/data/travel_standards.csv`` (tier, miles, minutes, status, source).
csmatch's default for site-based Community Supports is the specialist row of W&I Code 14197 for the
member's county (status A in §7).

The statute names every dense and every medium county (P); a county it does not name is small or
rural, decided by population density (D). The table holds all the named counties plus Partnership's
24; :func:`density_class` classifies any other county from its density.
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from geo.zips import UnknownCountyError, canonical_county

__all__ = [
    "COUNTY_TIERS_FILE",
    "RURAL_BELOW",
    "TRAVEL_STANDARDS_FILE",
    "CountyTier",
    "CountyTierRow",
    "MissingCountyTierError",
    "StandardsDataError",
    "TravelStandard",
    "county_tier",
    "density_class",
    "load_county_tiers",
    "load_travel_standards",
    "travel_standard",
]

_DATA = Path(__file__).parent / "data"
COUNTY_TIERS_FILE = _DATA / "county_tiers.csv"
TRAVEL_STANDARDS_FILE = _DATA / "travel_standards.csv"

#: A county below this many people per square mile is rural; at or above it, small (§7: "<50 rural,
#: 51-200 small"; exactly 50 falls between the two and goes to the stricter small standard).
RURAL_BELOW = 50.0

_STATUSES = frozenset({"P", "P2", "D", "A"})


class CountyTier(StrEnum):
    """County size class of W&I Code 14197(c)(1)."""

    DENSE = "DENSE"
    MEDIUM = "MEDIUM"
    SMALL = "SMALL"
    RURAL = "RURAL"


@dataclass(frozen=True, slots=True)
class TravelStandard:
    """A standard read as "``miles`` miles or ``minutes`` minutes" from the member's residence."""

    miles: float
    minutes: float


@dataclass(frozen=True, slots=True)
class CountyTierRow:
    """One row of ``county_tiers.csv``; ``people_per_sq_mi`` is None where the statute names the county."""

    county: str
    people_per_sq_mi: float | None
    tier: CountyTier
    status: str
    source: str


class StandardsDataError(ValueError):
    """A tier or standards file that cannot be used; the message names file, line and column."""


class MissingCountyTierError(UnknownCountyError):
    """A California county that the tier table does not list."""


def density_class(people_per_sq_mi: float) -> CountyTier:
    """Return the tier of a county the statute does not name, from its population density.

    Only SMALL or RURAL can come out: the statute's dense and medium lists are complete, so a county
    missing from them is small even above 200 people per square mile (Yolo, 223, is small).
    Rural is below :data:`RURAL_BELOW` (50); exactly 50 is small.

    Raises
    ------
    ValueError
        If the density is negative or not a finite number.

    Examples
    --------
    >>> density_class(49.9), density_class(50), density_class(223)
    (<CountyTier.RURAL: 'RURAL'>, <CountyTier.SMALL: 'SMALL'>, <CountyTier.SMALL: 'SMALL'>)
    """
    if not math.isfinite(people_per_sq_mi) or people_per_sq_mi < 0:
        raise ValueError(f"population density {people_per_sq_mi!r} must be a finite number >= 0")
    return CountyTier.RURAL if people_per_sq_mi < RURAL_BELOW else CountyTier.SMALL


def _parse_tier(text: str | None, where: str, errors: list[str]) -> CountyTier | None:
    try:
        return CountyTier(text or "")
    except ValueError:
        errors.append(f"{where}, column tier: {text!r} is not one of {[t.value for t in CountyTier]}")
        return None


def _read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [(number, row) for number, row in enumerate(csv.DictReader(handle), start=2)]


def load_county_tiers(path: str | Path = COUNTY_TIERS_FILE) -> dict[str, CountyTierRow]:
    """Read a county tier file into ``{county: CountyTierRow}``, checking every row.

    A derived (D) row must agree with :func:`density_class` of its density; a published (P) row is
    the statute's word and may disagree with density.

    Raises
    ------
    StandardsDataError
        Listing every bad row (file, line, column), duplicates included.

    Examples
    --------
    >>> load_county_tiers()["Lake"]  # doctest: +ELLIPSIS
    CountyTierRow(county='Lake', people_per_sq_mi=54.0, tier=<CountyTier.SMALL: 'SMALL'>, status='D', ...)
    """
    path = Path(path)
    table: dict[str, CountyTierRow] = {}
    errors: list[str] = []
    for line, row in _read_rows(path):
        where = f"{path.name}, line {line}"
        try:
            county = canonical_county(row["county"] or "")
        except UnknownCountyError as exc:
            errors.append(f"{where}, column county: {exc}")
            continue
        if county in table:
            errors.append(f"{where}, column county: {county!r} listed twice")
        density_text = (row["people_per_sq_mi"] or "").strip()
        density: float | None = None
        if density_text:
            try:
                density = float(density_text)
            except ValueError:
                errors.append(f"{where}, column people_per_sq_mi: {density_text!r} is not a number")
        tier = _parse_tier(row["tier"], where, errors)
        if tier is None:
            continue
        status = row["status"]
        if status not in _STATUSES:
            errors.append(f"{where}, column status: {status!r} is not one of {sorted(_STATUSES)}")
        if status == "D":
            if density is None:
                errors.append(f"{where}, column people_per_sq_mi: a derived (D) row needs a density")
            elif density_class(density) is not tier:
                errors.append(
                    f"{where}, column tier: {county!r} at {density:g} people/sq mi is "
                    f"{density_class(density).value} by density, not {tier.value}"
                )
        table[county] = CountyTierRow(county, density, tier, status, row["source"] or "")
    if errors:
        raise StandardsDataError("; ".join(errors))
    return table


def load_travel_standards(path: str | Path = TRAVEL_STANDARDS_FILE) -> dict[CountyTier, TravelStandard]:
    """Read a travel standards file into ``{tier: TravelStandard}``; every tier must be present.

    Raises
    ------
    StandardsDataError
        Listing every bad row (file, line, column) and any missing tier.

    Examples
    --------
    >>> load_travel_standards()[CountyTier.RURAL]
    TravelStandard(miles=60.0, minutes=90.0)
    """
    path = Path(path)
    table: dict[CountyTier, TravelStandard] = {}
    errors: list[str] = []
    for line, row in _read_rows(path):
        where = f"{path.name}, line {line}"
        tier = _parse_tier(row["tier"], where, errors)
        if tier is None:
            continue
        if tier in table:
            errors.append(f"{where}, column tier: {tier.value!r} listed twice")
        values: dict[str, float] = {}
        for column in ("miles", "minutes"):
            try:
                values[column] = float(row[column])
            except (TypeError, ValueError):
                errors.append(f"{where}, column {column}: {row[column]!r} is not a number")
                continue
            if not values[column] > 0:
                errors.append(f"{where}, column {column}: {row[column]!r} must be positive")
        if len(values) == 2:
            table[tier] = TravelStandard(values["miles"], values["minutes"])
    missing = [t.value for t in CountyTier if t not in table]
    if missing:
        errors.append(f"{path.name}: no standard for tier(s) {missing}")
    if errors:
        raise StandardsDataError("; ".join(errors))
    return table


@functools.cache
def _default_tiers() -> dict[str, CountyTierRow]:
    return load_county_tiers()


@functools.cache
def _default_standards() -> dict[CountyTier, TravelStandard]:
    return load_travel_standards()


def county_tier(county: str) -> CountyTier:
    """Return the tier of a county from the packaged tier table.

    Raises
    ------
    UnknownCountyError
        If ``county`` is not a California county.
    MissingCountyTierError
        If it is one but the table does not list it (classify it with :func:`density_class`).

    Examples
    --------
    >>> county_tier("Humboldt"), county_tier("Sonoma County")
    (<CountyTier.RURAL: 'RURAL'>, <CountyTier.MEDIUM: 'MEDIUM'>)
    >>> county_tier("Fresno")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geo.standards.MissingCountyTierError: county 'Fresno' has no tier in county_tiers.csv; ...
    """
    tiers = _default_tiers()
    if county in tiers:  # the common case: no need to build the state's ZIP table
        return tiers[county].tier
    name = canonical_county(county)
    try:
        return tiers[name].tier
    except KeyError:
        raise MissingCountyTierError(
            f"county {name!r} has no tier in {COUNTY_TIERS_FILE.name}; classify it with density_class()"
        ) from None


def travel_standard(county: str) -> TravelStandard:
    """Return csmatch's default travel standard (the specialist row) for a member's county.

    Raises
    ------
    UnknownCountyError, MissingCountyTierError
        As :func:`county_tier`.

    Examples
    --------
    >>> travel_standard("Napa")
    TravelStandard(miles=45.0, minutes=75.0)
    """
    return _default_standards()[county_tier(county)]
