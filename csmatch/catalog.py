"""The Community Supports service catalogue, kept as data (7003 VI.A, VI.F; data-exchange.md §5).

``csmatch/data/services.csv`` holds one row per service with its effective dates, capacity unit,
care setting and limits; ``csmatch/data/hcpcs_codes.csv`` holds the HCPCS code-modifier pairs of
each service. Effective dates are data: the policy itself disagrees on Sobering Centers (VI.F.9 says
2024-07-01, VI.A.4 lists it under 2025-01-01), and the file records which one is used and why.

``offered_until`` is the last day the plan offers a service (inclusive); blank means open-ended.
A code's unit ``UNKNOWN`` marks a code whose national descriptor was not verified.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

__all__ = [
    "DEFAULT_CODES_FILE",
    "DEFAULT_SERVICES_FILE",
    "BillingUnit",
    "CapacityUnit",
    "CareSetting",
    "CatalogFileError",
    "HcpcsCode",
    "ServiceDefinition",
    "UnknownServiceError",
    "is_offered",
    "load_service_catalog",
]

DEFAULT_SERVICES_FILE = Path(__file__).parent / "data" / "services.csv"
DEFAULT_CODES_FILE = Path(__file__).parent / "data" / "hcpcs_codes.csv"
CODES_FILE_NAME = "hcpcs_codes.csv"

_STATUSES = frozenset({"P", "P2", "D", "A"})
_E = TypeVar("_E", bound=StrEnum)


class CapacityUnit(StrEnum):
    """What a provider's contracted capacity counts (DOMAIN.md, the ten services)."""

    CASELOAD_SLOT = "CASELOAD_SLOT"
    MEMBER_PER_MONTH = "MEMBER_PER_MONTH"
    BED = "BED"
    MEAL_PER_WEEK = "MEAL_PER_WEEK"
    HOUR = "HOUR"
    HOUR_PER_WEEK = "HOUR_PER_WEEK"
    PROGRAM_SEAT = "PROGRAM_SEAT"


class CareSetting(StrEnum):
    """Where care happens."""

    COMMUNITY = "COMMUNITY"
    HOME = "HOME"
    PROVIDER_SITE = "PROVIDER_SITE"
    HOME_OR_OUT_OF_HOME_SITE = "HOME_OR_OUT_OF_HOME_SITE"
    HOME_OR_COMMUNITY = "HOME_OR_COMMUNITY"
    NOT_APPLICABLE = "NOT_APPLICABLE"


class BillingUnit(StrEnum):
    """Unit of a HCPCS code, from its national descriptor (CS-ASF units, data-exchange.md §2).

    ``PER_SESSION`` (S9452 nutrition classes) is not in the CS-ASF list; ``UNKNOWN`` marks an
    unverified code.
    """

    PER_DIEM = "PER_DIEM"
    PER_15_MIN = "PER_15_MIN"
    PER_MONTH = "PER_MONTH"
    PER_MEAL = "PER_MEAL"
    PER_SERVICE = "PER_SERVICE"
    PER_VISIT = "PER_VISIT"
    PER_SESSION = "PER_SESSION"
    UNKNOWN = "UNKNOWN"


class CatalogFileError(ValueError):
    """A catalogue file that cannot be used; the message names file, line and column of every error."""


class UnknownServiceError(ValueError):
    """A service key that is not in the catalogue."""


@dataclass(frozen=True, slots=True)
class HcpcsCode:
    """One billable code-modifier pair: always key on (code, modifier), never the code alone."""

    code: str
    modifier: str
    unit: BillingUnit
    description: str
    status: str
    notes: str = ""


@dataclass(frozen=True, slots=True)
class ServiceDefinition:
    """One Community Support the plan offers, with its dates, unit, setting, limits and codes."""

    key: str
    name: str
    offered_from: dt.date
    offered_until: dt.date | None
    capacity_unit: CapacityUnit
    care_setting: CareSetting
    site_based: bool
    limits: str
    policy_ref: str
    notes: str
    codes: tuple[HcpcsCode, ...]

    def is_offered(self, on_date: dt.date) -> bool:
        """Return whether the plan offers the service on ``on_date`` (both ends inclusive).

        Examples
        --------
        >>> sobering = load_service_catalog()["SOBERING"]
        >>> sobering.is_offered(dt.date(2024, 6, 30)), sobering.is_offered(dt.date(2024, 7, 1))
        (False, True)
        """
        return self.offered_from <= on_date and (self.offered_until is None or on_date <= self.offered_until)


def _read(path: Path) -> list[tuple[str, dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [(f"{path.name}, line {n}", row) for n, row in enumerate(csv.DictReader(handle), start=2)]


def _text(row: dict[str, str], column: str) -> str:
    return (row.get(column) or "").strip()


def _parse_codes(path: Path, errors: list[str]) -> dict[str, tuple[str, list[HcpcsCode]]]:
    """Return ``{service key: (where first seen, codes)}``."""
    codes: dict[str, tuple[str, list[HcpcsCode]]] = {}
    seen: dict[tuple[str, str], str] = {}
    for where, row in _read(path):
        code, modifier = _text(row, "code"), _text(row, "modifier")
        if len(code) != 5 or not code.isalnum():
            errors.append(f"{where}, column code: {code!r} is not a 5-character HCPCS code")
        if len(modifier) not in (0, 2):
            errors.append(f"{where}, column modifier: {modifier!r} is not a 2-character modifier")
        if (code, modifier) in seen:
            errors.append(f"{where}, column code: {code}-{modifier} already at {seen[code, modifier]}")
        seen.setdefault((code, modifier), where)
        status = _text(row, "status")
        if status not in _STATUSES:
            errors.append(f"{where}, column status: {status!r} is not one of {sorted(_STATUSES)}")
        unit = _parse_enum(BillingUnit, where, row, "unit", errors)
        if unit is None:
            continue
        entry = HcpcsCode(code, modifier, unit, _text(row, "description"), status, _text(row, "notes"))
        codes.setdefault(_text(row, "service_key"), (where, []))[1].append(entry)
    return codes


def _parse_enum(enum: type[_E], where: str, row: dict[str, str], column: str, errors: list[str]) -> _E | None:
    try:
        return enum(_text(row, column))
    except ValueError:
        allowed = [member.value for member in enum]
        errors.append(f"{where}, column {column}: {_text(row, column)!r} is not one of {allowed}")
        return None


def _parse_date(where: str, row: dict[str, str], column: str, errors: list[str]) -> dt.date | None:
    try:
        return dt.date.fromisoformat(_text(row, column))
    except ValueError:
        errors.append(f"{where}, column {column}: {_text(row, column)!r} is not a YYYY-MM-DD date")
        return None


def load_service_catalog(
    path: str | Path | None = None, codes_path: str | Path | None = None
) -> dict[str, ServiceDefinition]:
    """Read the service catalogue into ``{service key: ServiceDefinition}``, in file order.

    ``path`` is a services file (default: the packaged one); ``codes_path`` defaults to the
    ``hcpcs_codes.csv`` beside it. Every service needs at least one code, and every code a service.
    The packaged files are read once and cached.

    Raises
    ------
    CatalogFileError
        Listing every bad row of both files as file, line, column and message.

    Examples
    --------
    >>> catalog = load_service_catalog()
    >>> len(catalog), catalog["RESPITE"].capacity_unit, catalog["SOBERING"].offered_from
    (10, <CapacityUnit.HOUR: 'HOUR'>, datetime.date(2024, 7, 1))
    >>> [f"{c.code}-{c.modifier}" for c in catalog["RECUPERATIVE_CARE"].codes]
    ['T2033-U6']
    """
    services_file = Path(path) if path is not None else DEFAULT_SERVICES_FILE
    codes_file = Path(codes_path) if codes_path is not None else services_file.parent / CODES_FILE_NAME
    if path is None and codes_path is None:
        return dict(_default_catalog())
    return _load(services_file, codes_file)


@functools.cache
def _default_catalog() -> dict[str, ServiceDefinition]:
    return _load(DEFAULT_SERVICES_FILE, DEFAULT_CODES_FILE)


def _load(services_file: Path, codes_file: Path) -> dict[str, ServiceDefinition]:
    errors: list[str] = []
    codes = _parse_codes(codes_file, errors)
    catalog: dict[str, ServiceDefinition] = {}
    for where, row in _read(services_file):
        key = _text(row, "key")
        if not key or not key.replace("_", "").isalnum() or key != key.upper():
            errors.append(f"{where}, column key: {key!r} is not an upper-case service key")
        if key in catalog:
            errors.append(f"{where}, column key: {key!r} listed twice")
        name = _text(row, "name")
        if not name:
            errors.append(f"{where}, column name: empty")
        offered_from = _parse_date(where, row, "offered_from", errors)
        offered_until = (
            _parse_date(where, row, "offered_until", errors) if _text(row, "offered_until") else None
        )
        if offered_from and offered_until and offered_until < offered_from:
            errors.append(
                f"{where}, column offered_until: {offered_until} is before offered_from {offered_from}"
            )
        capacity_unit = _parse_enum(CapacityUnit, where, row, "capacity_unit", errors)
        care_setting = _parse_enum(CareSetting, where, row, "care_setting", errors)
        site_based = _text(row, "site_based")
        if site_based not in ("Y", "N"):
            errors.append(f"{where}, column site_based: {site_based!r} is not Y or N")
        service_codes = tuple(codes.pop(key, ("", []))[1])
        if not service_codes:
            errors.append(f"{where}, column key: {key!r} has no HCPCS code in {codes_file.name}")
        if offered_from is None or capacity_unit is None or care_setting is None:
            continue
        catalog[key] = ServiceDefinition(
            key=key,
            name=name,
            offered_from=offered_from,
            offered_until=offered_until,
            capacity_unit=capacity_unit,
            care_setting=care_setting,
            site_based=site_based == "Y",
            limits=_text(row, "limits"),
            policy_ref=_text(row, "policy_ref"),
            notes=_text(row, "notes"),
            codes=service_codes,
        )
    for orphan, (where, _) in codes.items():
        errors.append(f"{where}, column service_key: {orphan!r} is not a service in {services_file.name}")
    if errors:
        raise CatalogFileError("; ".join(errors))
    return catalog


def is_offered(service_key: str, on_date: dt.date) -> bool:
    """Return whether the plan offers a service on a date, from the packaged catalogue.

    Raises
    ------
    UnknownServiceError
        If ``service_key`` is not in the catalogue.

    Examples
    --------
    >>> is_offered("DAY_HAB", dt.date(2024, 12, 31)), is_offered("DAY_HAB", dt.date(2025, 1, 1))
    (False, True)
    >>> is_offered("HOME_MODS", dt.date(2025, 1, 1))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    csmatch.catalog.UnknownServiceError: unknown service key 'HOME_MODS'; the catalogue has ...
    """
    catalog = _default_catalog()
    try:
        return catalog[service_key].is_offered(on_date)
    except KeyError:
        raise UnknownServiceError(
            f"unknown service key {service_key!r}; the catalogue has {sorted(catalog)}"
        ) from None
