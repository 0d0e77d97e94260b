"""The matcher's input: plain frozen records the adapter fills from the database.

The matcher never sees age, sex, race, ethnicity or any other protected attribute: eligibility
gates that need them (the 18+ gate of Sobering Centers) are applied by the adapter, which sets
:attr:`ReferralDemand.ineligible_reason`. Capacity is nested: a referral uses units of a
:class:`ServiceSite` (one provider site x one service), and the sites of one contract share the
:class:`ContractPool`'s remaining units (referral -> site -> contract).

Records check themselves on construction and raise :class:`~matcher.errors.ProblemError` naming
the record.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from matcher.errors import ProblemError
from matcher.reasons import UnplacedReason

__all__ = ["ContractPool", "MatchData", "ReferralDemand", "ServiceSite"]


def _check_point(kind: str, key: str, latitude: float, longitude: float) -> None:
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        raise ProblemError(f"{kind} {key!r} has a non-finite location ({latitude!r}, {longitude!r})")
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        raise ProblemError(f"{kind} {key!r} has an out-of-range location ({latitude!r}, {longitude!r})")


def _freeze(record: object, name: str, kind: type) -> None:
    value = getattr(record, name)
    if not isinstance(value, kind):
        object.__setattr__(record, name, kind(value))


@dataclass(frozen=True, slots=True)
class ReferralDemand:
    """One open referral: what the member needs, where, and what decides their priority.

    ``units`` is in the service's capacity unit (a slot, a bed, hours, meals). ``accepted``
    referrals are locked at ``current_site``; others with a ``current_site`` are proposals a
    re-solve tries not to move. ``ineligible_reason`` is set by the adapter when a gate or a
    limit fails (``INELIGIBLE`` or ``LIMIT_REACHED``): such a referral is reported unplaced.
    """

    referral_id: str
    service: str
    units: int
    county: str
    latitude: float
    longitude: float
    required_language: str | None = None
    languages: tuple[str, ...] = ()
    cultural_preferences: tuple[str, ...] = ()
    preferred_providers: tuple[str, ...] = ()
    excluded_providers: frozenset[str] = field(default_factory=frozenset)
    prior_providers: frozenset[str] = field(default_factory=frozenset)
    post_discharge: bool = False
    business_days_waited: int = 0
    ineligible_reason: UnplacedReason | None = None
    current_site: str | None = None
    accepted: bool = False
    max_travel_miles: float | None = None

    def __post_init__(self) -> None:
        for name in ("languages", "cultural_preferences", "preferred_providers"):
            _freeze(self, name, tuple)
        for name in ("excluded_providers", "prior_providers"):
            _freeze(self, name, frozenset)
        key = self.referral_id
        if not key:
            raise ProblemError(f"referral {key!r} has an empty id")
        if isinstance(self.units, bool) or not isinstance(self.units, int) or self.units < 1:
            raise ProblemError(f"referral {key!r} needs {self.units!r} units; it must be an integer >= 1")
        if self.business_days_waited < 0:
            raise ProblemError(f"referral {key!r} has waited {self.business_days_waited!r} business days")
        _check_point("referral", key, self.latitude, self.longitude)
        if self.max_travel_miles is not None and not self.max_travel_miles >= 0:
            raise ProblemError(f"referral {key!r} has travel standard {self.max_travel_miles!r} miles")
        if self.ineligible_reason is not None:
            object.__setattr__(self, "ineligible_reason", UnplacedReason(self.ineligible_reason))
        if self.accepted and self.current_site is None:
            raise ProblemError(f"referral {key!r} is accepted but has no current_site")
        if len(set(self.preferred_providers)) != len(self.preferred_providers):
            raise ProblemError(f"referral {key!r} ranks a provider twice: {self.preferred_providers!r}")


@dataclass(frozen=True, slots=True)
class ServiceSite:
    """One provider site offering one service under one contract: a leaf capacity pool.

    ``site_based`` services (beds, sobering centers) are delivered at the site, so distance and
    ``service_radius_miles`` matter; others are delivered in the member's home and the site serves
    ``counties``. ``remaining_units`` is the site's own open units (None: only the contract
    limits it). A site that ``reported_full`` has no open units until it reports again.
    """

    site_id: str
    provider_id: str
    service: str
    counties: frozenset[str]
    latitude: float
    longitude: float
    contract_id: str
    site_based: bool = False
    service_radius_miles: float | None = None
    languages: frozenset[str] = field(default_factory=frozenset)
    cultural_competencies: frozenset[str] = field(default_factory=frozenset)
    remaining_units: int | None = None
    reported_full: bool = False

    def __post_init__(self) -> None:
        for name in ("counties", "languages", "cultural_competencies"):
            _freeze(self, name, frozenset)
        key = self.site_id
        if not key:
            raise ProblemError(f"site {key!r} has an empty id")
        if self.remaining_units is not None and self.remaining_units < 0:
            raise ProblemError(f"site {key!r} has negative remaining capacity {self.remaining_units!r}")
        if self.service_radius_miles is not None and not self.service_radius_miles >= 0:
            raise ProblemError(f"site {key!r} has service radius {self.service_radius_miles!r} miles")
        _check_point("site", key, self.latitude, self.longitude)


@dataclass(frozen=True, slots=True)
class ContractPool:
    """A provider's contract for one service: contracted units minus those committed elsewhere."""

    contract_id: str
    provider_id: str
    service: str
    remaining_units: int

    def __post_init__(self) -> None:
        if not self.contract_id:
            raise ProblemError(f"contract {self.contract_id!r} has an empty id")
        if self.remaining_units < 0:
            raise ProblemError(
                f"contract {self.contract_id!r} has negative remaining capacity {self.remaining_units!r}"
            )


def _no_duplicates(kind: str, keys: Iterable[str]) -> None:
    counts = Counter(keys)
    duplicates = sorted(k for k, n in counts.items() if n > 1)
    if duplicates:
        raise ProblemError(f"duplicate {kind} id {duplicates[0]!r}")


@dataclass(frozen=True, slots=True)
class MatchData:
    """Everything one solve sees: the referrals, the sites and the contracts they share."""

    referrals: tuple[ReferralDemand, ...]
    sites: tuple[ServiceSite, ...]
    contracts: tuple[ContractPool, ...]

    def __post_init__(self) -> None:
        for name in ("referrals", "sites", "contracts"):
            _freeze(self, name, tuple)
        _no_duplicates("referral", (r.referral_id for r in self.referrals))
        _no_duplicates("site", (s.site_id for s in self.sites))
        _no_duplicates("contract", (c.contract_id for c in self.contracts))
        contracts = {c.contract_id: c for c in self.contracts}
        for site in self.sites:
            contract = contracts.get(site.contract_id)
            if contract is None:
                raise ProblemError(f"site {site.site_id!r} names unknown contract {site.contract_id!r}")
            if (contract.provider_id, contract.service) != (site.provider_id, site.service):
                raise ProblemError(
                    f"site {site.site_id!r} ({site.provider_id!r}, {site.service!r}) does not match its "
                    f"contract {contract.contract_id!r} ({contract.provider_id!r}, {contract.service!r})"
                )
        site_ids = {s.site_id for s in self.sites}
        for referral in self.referrals:
            if referral.current_site is not None and referral.current_site not in site_ids:
                raise ProblemError(
                    f"referral {referral.referral_id!r} names unknown current site {referral.current_site!r}"
                )
