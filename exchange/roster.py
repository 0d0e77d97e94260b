"""Load a plan's roster (members, providers, sites, contracts, referrals) from CSV files.

The format is documented in ``docs/data-format.md``. The import is all-or-nothing in two phases:

1. **Validate** every row of every file against the catalogue, the ZIP data, the other files and the
   database, collecting *all* problems (:class:`RosterError`: file, line, field, message). Any error
   raises :class:`RosterImportError` before a single row is written.
2. **Write** with bulk statements (no per-row queries): rows are matched to the database by their
   natural key (cin, provider_id, site_id, contract_id, referral_id); new ones are inserted, changed
   ones updated, identical ones left alone, so loading the same files twice changes nothing.

The importer adds and updates; it never deletes. Some data belongs to csmatch's own workflow, not to
the roster, and an import does not overwrite it: a referral's status (changed only through the life
cycle, with history) and its exclusions (a provider's decline recorded in csmatch survives a reload;
the file can add exclusions, not remove them). The caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import gc
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from capacity.models import Contract, ContractCounty, ContractSite
from csmatch.catalog import ServiceDefinition, load_service_catalog
from csmatch.models import record_audit
from csmatch.seed import sync_services
from exchange.errors import RosterError, RosterImportError
from exchange.parsing import (
    Column,
    Table,
    parse_bool,
    parse_choice,
    parse_cin,
    parse_date,
    parse_enum,
    parse_float,
    parse_identifier,
    parse_int,
    parse_language,
    parse_list,
    parse_npi,
    parse_phone,
    parse_text,
    parse_tin,
    read_table,
)
from geo.zips import PARTNERSHIP_COUNTIES, UnknownCountyError, UnknownZipError, canonical_county, lookup_zip
from providers.models import Provider, ProviderSite
from referrals.eligibility import CHRONIC_CONDITIONS, DAY_HAB_HOUSING_SITUATIONS, IHSS_QUALIFYING, INSTITUTIONS
from referrals.models import (
    ExclusionReason,
    Member,
    MemberDemographics,
    MemberPriorProvider,
    Referral,
    ReferralExclusion,
    ReferralPreference,
    ReferralSource,
    ReferralStatus,
    ReferralStatusChange,
)

__all__ = [
    "DISCHARGE_FROM",
    "FILES",
    "IHSS_STATUSES",
    "IMPORT_STATUSES",
    "QUALIFYING_CONDITIONS",
    "RACE_ETHNICITY",
    "SEX_CODES",
    "FileCounts",
    "LoadSummary",
    "Roster",
    "RosterError",
    "RosterImportError",
    "load_roster",
    "validate_roster",
]

#: The roster files, in the order they are validated and written (each may refer to the ones before).
FILES = ("providers.csv", "sites.csv", "contracts.csv", "members.csv", "referrals.csv")

SEX_CODES = ("F", "M", "X", "U")
#: Race/ethnicity groups of the equity report (one per member; "Multiracial" for more than one).
RACE_ETHNICITY = (
    "American Indian or Alaska Native",
    "Asian",
    "Black or African American",
    "Hispanic or Latino",
    "Native Hawaiian or Pacific Islander",
    "White",
    "Multiracial",
    "Other",
    "Unknown",
)
# Codes the eligibility gates read (``referrals.eligibility`` owns them), plus the codes that are
# worth recording although they open no gate.
#: Where a post-discharge member is coming from (7003 VI.F.4.a institutions, or somewhere else).
DISCHARGE_FROM = (*sorted(INSTITUTIONS), "OTHER")
#: The member's In-Home Supportive Services situation, the gate of Personal Care (7003 VI.F.8).
IHSS_STATUSES = (*IHSS_QUALIFYING, "ACTIVE", "NOT_REFERRED")
#: A chronic condition for Meals (VI.F.6.c; the policy's list is "not limited to", hence
#: ``OTHER_CHRONIC``), or the housing situation of a housed member for Day Habilitation (VI.F.10.d).
QUALIFYING_CONDITIONS = (*sorted(CHRONIC_CONDITIONS), "OTHER_CHRONIC", *sorted(DAY_HAB_HOUSING_SITUATIONS))
#: Statuses a referral may arrive with; the others need an assignment, a solver run or a reason
#: and are reached only through csmatch's life cycle.
IMPORT_STATUSES = (ReferralStatus.RECEIVED, ReferralStatus.INFO_REQUESTED, ReferralStatus.READY)

_BATCH = 10_000
_IN_CHUNK = 500


# Columns of each file ---------------------------------------------------------------------------


def _race(raw: str) -> str:
    for label in RACE_ETHNICITY:
        if raw.casefold() == label.casefold():
            return label
    raise ValueError(f"{raw!r} is not one of {', '.join(RACE_ETHNICITY)}")


def _prior_provider(raw: str) -> tuple[str, str]:
    provider, sep, service = raw.partition(":")
    if not sep:
        raise ValueError(f"{raw!r} is not PROVIDERID:SERVICE")
    return parse_identifier(20)(provider.strip()), service.strip().upper()


def _exclusion(raw: str) -> tuple[str, ExclusionReason]:
    provider, sep, reason = raw.partition(":")
    if not sep:
        raise ValueError(f"{raw!r} is not PROVIDERID:DECLINED or PROVIDERID:MEMBER_REFUSED")
    return parse_identifier(20)(provider.strip()), parse_enum(ExclusionReason)(reason.strip())


def _contract_site(raw: str) -> tuple[str, int | None]:
    site, sep, capacity = raw.partition("=")
    site_id = parse_identifier(30)(site.strip())
    if not sep:
        return site_id, None
    return site_id, parse_int(0, "site capacity")(capacity.strip())


def _county(raw: str) -> str:
    try:
        return canonical_county(raw)
    except UnknownCountyError as exc:
        raise ValueError(str(exc)) from None


def _import_status(raw: str) -> ReferralStatus:
    value = raw.upper()
    if value not in IMPORT_STATUSES:
        raise ValueError(f"{raw!r} cannot be imported; allowed: {', '.join(IMPORT_STATUSES)}")
    return ReferralStatus(value)


_LANGUAGES = parse_list(parse_language)
_TAGS = parse_list(parse_text(60))

PROVIDER_COLUMNS = (
    Column("provider_id", parse_identifier(20), required=True),
    Column("npi", parse_npi, required=True),
    Column("tin", parse_tin, required=True),
    Column("name", parse_text(200), required=True),
    Column("phone", parse_phone, default=""),
    Column("staff_languages", _LANGUAGES, default=()),
    Column("cultural_competencies", _TAGS, default=()),
)
SITE_COLUMNS = (
    Column("site_id", parse_identifier(30), required=True),
    Column("provider_id", parse_identifier(20), required=True),
    Column("name", parse_text(200), required=True),
    Column("address", parse_text(200), required=True),
    Column("city", parse_text(80), required=True),
    Column("zip", parse_text(10), required=True),
    Column("latitude", parse_float(-90, 90)),
    Column("longitude", parse_float(-180, 180)),
)
CONTRACT_COLUMNS = (
    Column("contract_id", parse_identifier(30), required=True),
    Column("provider_id", parse_identifier(20), required=True),
    Column("service", lambda raw: raw.upper(), required=True),
    Column("effective_start", parse_date, required=True),
    Column("effective_end", parse_date),
    Column("contracted_capacity", parse_int(0, "capacity"), required=True),
    Column("counties_served", parse_list(_county), default=()),
    Column("sites", parse_list(_contract_site), default=()),
    Column("service_radius_miles", parse_float(0, 500, low_inclusive=False)),
    Column("waitlist_consent", parse_bool, default=False),
    Column("waitlist_consent_date", parse_date),
)
MEMBER_COLUMNS = (
    Column("cin", parse_cin, required=True),
    Column("last_name", parse_text(80), required=True),
    Column("first_name", parse_text(80), required=True),
    Column("dob", parse_date, required=True),
    Column("sex", parse_choice(SEX_CODES), default="U"),
    Column("race_ethnicity", _race, default="Unknown"),
    Column("address", parse_text(200), required=True),
    Column("city", parse_text(80), required=True),
    Column("zip", parse_text(10), required=True),
    Column("county", _county),
    Column("phone", parse_phone, default=""),
    Column("homeless", parse_bool, default=False),
    Column("spoken_languages", _LANGUAGES, default=()),
    Column("required_language", parse_language),
    Column("cultural_preferences", _TAGS, default=()),
    Column("eligibility_start", parse_date, required=True),
    Column("eligibility_end", parse_date),
    Column("ecm_enrolled", parse_bool, default=False),
    Column("lead_care_manager", parse_text(120), default=""),
    Column("prior_cs_providers", parse_list(_prior_provider), default=()),
)
REFERRAL_COLUMNS = (
    Column("referral_id", parse_identifier(30), required=True),
    Column("cin", parse_cin, required=True),
    Column("service", lambda raw: raw.upper(), required=True),
    Column("source", parse_enum(ReferralSource), required=True),
    Column("received_date", parse_date, required=True),
    Column("units_needed", parse_int(1, "units needed"), default=1),
    Column("discharge_date", parse_date),
    Column("discharge_from", parse_choice(DISCHARGE_FROM)),
    Column("qualifying_condition", parse_choice(QUALIFYING_CONDITIONS)),
    Column("ihss_status", parse_choice(IHSS_STATUSES)),
    Column("hours_per_day", parse_float(0, 24, low_inclusive=False)),
    Column("housing_support_plan", parse_bool, default=False),
    Column("housing_nav_start", parse_date),
    Column("documented_change", parse_bool, default=False),
    Column("transferring_from_plan", parse_text(60)),
    Column("preferred_providers", parse_list(parse_identifier(20)), default=()),
    Column("excluded_providers", parse_list(_exclusion), default=()),
    Column("status", _import_status, default=ReferralStatus.RECEIVED),
    Column("notes", parse_text(4000), default=""),
)
COLUMNS: dict[str, tuple[Column, ...]] = {
    "providers.csv": PROVIDER_COLUMNS,
    "sites.csv": SITE_COLUMNS,
    "contracts.csv": CONTRACT_COLUMNS,
    "members.csv": MEMBER_COLUMNS,
    "referrals.csv": REFERRAL_COLUMNS,
}


# What the database already holds ----------------------------------------------------------------

_PROVIDER_FIELDS = ("npi", "tin", "name", "phone", "staff_languages", "cultural_competencies")
_SITE_FIELDS = ("provider_id", "name", "address", "city", "zip", "county", "latitude", "longitude")
_CONTRACT_FIELDS = (
    "provider_id", "service_key", "effective_start", "effective_end", "contracted_capacity",
    "service_radius_miles", "waitlist_consent", "waitlist_consent_date",
)
_MEMBER_FIELDS = (
    "last_name", "first_name", "dob", "address", "city", "zip", "county", "latitude", "longitude", "phone",
    "homeless", "spoken_languages", "required_language", "cultural_preferences", "eligibility_start",
    "eligibility_end", "ecm_enrolled", "lead_care_manager",
)
_REFERRAL_FIELDS = (
    "member_id", "service_key", "source", "received_date", "units_needed", "discharge_date",
    "discharge_from", "qualifying_condition", "ihss_status", "hours_per_day", "housing_support_plan",
    "housing_nav_start", "documented_change", "transferring_from_plan", "notes",
)


@dataclass
class _Existing:
    """The rows the roster may match or refer to, each table read in one query."""

    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    sites: dict[str, dict[str, Any]] = field(default_factory=dict)
    contracts: dict[str, dict[str, Any]] = field(default_factory=dict)
    contract_counties: dict[str, set[str]] = field(default_factory=dict)
    contract_sites: dict[str, dict[str, int | None]] = field(default_factory=dict)
    member_ids: dict[str, int] = field(default_factory=dict)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    demographics: dict[int, tuple[str, str]] = field(default_factory=dict)
    prior_providers: dict[int, set[tuple[str, str]]] = field(default_factory=dict)
    referrals: dict[str, dict[str, Any]] = field(default_factory=dict)
    preferences: dict[str, tuple[str, ...]] = field(default_factory=dict)
    exclusions: dict[str, set[str]] = field(default_factory=dict)


def _select(session: Session, *columns: Any) -> Iterator[tuple[Any, ...]]:
    """Plain rows of table columns: Core columns skip the ORM's per-row loading machinery."""
    table_columns = [column.property.columns[0] if hasattr(column, "property") else column for column in columns]
    return (tuple(row) for row in session.execute(sa.select(*table_columns)))


def _load_existing(session: Session, present: set[str]) -> _Existing:
    """Read what the database holds for the tables the files touch (whole tables, one query each)."""
    existing = _Existing()
    provider_cols = [getattr(Provider, name) for name in _PROVIDER_FIELDS]
    for row in _select(session, Provider.id, *provider_cols):
        existing.providers[row[0]] = dict(zip(_PROVIDER_FIELDS, row[1:], strict=True))
    site_cols = [getattr(ProviderSite, name) for name in _SITE_FIELDS]
    for row in _select(session, ProviderSite.id, *site_cols):
        existing.sites[row[0]] = dict(zip(_SITE_FIELDS, row[1:], strict=True))
    if "contracts.csv" in present:
        contract_cols = [getattr(Contract, name) for name in _CONTRACT_FIELDS]
        for row in _select(session, Contract.id, *contract_cols):
            existing.contracts[row[0]] = dict(zip(_CONTRACT_FIELDS, row[1:], strict=True))
        for contract_id, county in _select(session, ContractCounty.contract_id, ContractCounty.county):
            existing.contract_counties.setdefault(contract_id, set()).add(county)
        for contract_id, site_id, capacity in _select(
            session, ContractSite.contract_id, ContractSite.site_id, ContractSite.site_capacity
        ):
            existing.contract_sites.setdefault(contract_id, {})[site_id] = capacity
    if "members.csv" in present:
        member_cols = [getattr(Member, name) for name in _MEMBER_FIELDS]
        for row in _select(session, Member.id, Member.cin, *member_cols):
            existing.member_ids[row[1]] = row[0]
            existing.members[row[1]] = dict(zip(_MEMBER_FIELDS, row[2:], strict=True), id=row[0])
        for member_id, race, sex in _select(
            session, MemberDemographics.member_id, MemberDemographics.race_ethnicity, MemberDemographics.sex
        ):
            existing.demographics[member_id] = (race, sex)
        for member_id, provider_id, service_key in _select(
            session, MemberPriorProvider.member_id, MemberPriorProvider.provider_id,
            MemberPriorProvider.service_key,
        ):
            existing.prior_providers.setdefault(member_id, set()).add((provider_id, service_key))
    elif "referrals.csv" in present:
        existing.member_ids = dict(_select(session, Member.cin, Member.id))
    if "referrals.csv" in present:
        referral_cols = [getattr(Referral, name) for name in _REFERRAL_FIELDS]
        for row in _select(session, Referral.id, *referral_cols):
            existing.referrals[row[0]] = dict(zip(_REFERRAL_FIELDS, row[1:], strict=True))
        preferences: dict[str, list[tuple[int, str]]] = {}
        for referral_id, rank, provider_id in _select(
            session, ReferralPreference.referral_id, ReferralPreference.rank, ReferralPreference.provider_id
        ):
            preferences.setdefault(referral_id, []).append((rank, provider_id))
        existing.preferences = {
            referral_id: tuple(provider for _, provider in sorted(ranked))
            for referral_id, ranked in preferences.items()
        }
        for referral_id, provider_id in _select(
            session, ReferralExclusion.referral_id, ReferralExclusion.provider_id
        ):
            existing.exclusions.setdefault(referral_id, set()).add(provider_id)
    return existing


# Validation -------------------------------------------------------------------------------------


@dataclass
class Roster:
    """A validated roster, ready to write: parsed rows per file, and the warnings found."""

    directory: Path
    tables: dict[str, Table]
    warnings: list[RosterError]
    existing: _Existing = field(repr=False)


class _Checker:
    """Cross-row and cross-file checks; every problem goes to ``errors`` (or ``warnings``)."""

    def __init__(
        self, tables: dict[str, Table], existing: _Existing, catalog: dict[str, ServiceDefinition],
        today: dt.date,
    ) -> None:
        self.tables = tables
        self.existing = existing
        self.catalog = catalog
        self.today = today
        self.errors: list[RosterError] = []
        self.warnings: list[RosterError] = []
        empty = Table("", [], ())
        self.providers = self._keys(tables.get("providers.csv", empty), "provider_id")
        self.members = self._keys(tables.get("members.csv", empty), "cin")
        self.cin_of_member = {member_id: cin for cin, member_id in existing.member_ids.items()}
        # A site's provider, as the files leave it (file rows win over the database).
        self.site_provider = {site_id: row["provider_id"] for site_id, row in existing.sites.items()}
        self.site_provider.update(
            {row["site_id"]: row["provider_id"] for row in tables.get("sites.csv", empty).rows if row["site_id"]}
        )

    def error(self, table: Table, row: dict[str, Any], column: str, message: str) -> None:
        self.errors.append(RosterError(table.file, row["line"], column, message))

    def warn(self, table: Table, row: dict[str, Any], column: str, message: str) -> None:
        self.warnings.append(RosterError(table.file, row["line"], column, message))

    def _keys(self, table: Table, key: str) -> set[str]:
        return {row[key] for row in table.rows if row[key] is not None}

    def unique(self, table: Table, key: str) -> None:
        """A natural key appears once per file (a second row would silently win otherwise)."""
        first: dict[Any, int] = {}
        for row in table.rows:
            value = row[key]
            if value is None:
                continue
            if value in first:
                self.error(table, row, key, f"duplicate {key} {value!r} (first on line {first[value]})")
            else:
                first[value] = row["line"]

    def known_provider(self, table: Table, row: dict[str, Any], column: str, provider_id: str | None) -> bool:
        if provider_id is None or provider_id in self.providers or provider_id in self.existing.providers:
            return True
        self.error(table, row, column, f"unknown provider {provider_id!r} (not in providers.csv or the database)")
        return False

    def known_service(self, table: Table, row: dict[str, Any], column: str, service: str | None) -> bool:
        """Whether ``service`` is in the catalogue; an unknown one is reported (a missing one already was)."""
        if service is None:
            return False
        if service in self.catalog:
            return True
        self.error(table, row, column, f"unknown service {service!r}; expected one of {', '.join(self.catalog)}")
        return False

    def place(self, table: Table, row: dict[str, Any]) -> None:
        """Resolve the ZIP to county and centroid (``row["_zip"]``), or report it."""
        try:
            row["_zip"] = lookup_zip(row["zip"]) if row["zip"] else None
        except UnknownZipError as exc:
            row["_zip"] = None
            self.error(table, row, "zip", str(exc))

    def providers_file(self, table: Table) -> None:
        self.unique(table, "provider_id")
        self.unique(table, "npi")
        # The NPI is unique in the database: it may move only from a provider this file also updates.
        npi_owner = {old["npi"]: provider_id for provider_id, old in self.existing.providers.items()}
        in_file = {row["provider_id"] for row in table.rows}
        for row in table.rows:
            owner = npi_owner.get(row["npi"])
            if owner is not None and owner != row["provider_id"] and owner not in in_file:
                self.error(table, row, "npi", f"NPI {row['npi']} already belongs to provider {owner!r}")

    def sites_file(self, table: Table) -> None:
        self.unique(table, "site_id")
        for row in table.rows:
            self.known_provider(table, row, "provider_id", row["provider_id"])
            self.place(table, row)
            if (row["latitude"] is None) != (row["longitude"] is None):
                column = "longitude" if row["longitude"] is None else "latitude"
                self.error(table, row, column, "give both latitude and longitude, or neither (ZIP centroid)")

    def contracts_file(self, table: Table) -> None:
        self.unique(table, "contract_id")
        for row in table.rows:
            self.known_provider(table, row, "provider_id", row["provider_id"])
            service_ok = self.known_service(table, row, "service", row["service"])
            start, end = row["effective_start"], row["effective_end"]
            if start and end and end < start:
                self.error(table, row, "effective_end", f"{end} is before effective_start {start}")
            old = self.existing.contracts.get(row["contract_id"])
            if old is not None:
                for column, key in (("provider_id", "provider_id"), ("service", "service_key")):
                    if row[column] is not None and row[column] != old[key]:
                        self.error(table, row, column, f"contract {row['contract_id']!r} is for {old[key]!r} in "
                                   f"the database; it cannot change (use a new contract_id)")
            definition = self.catalog.get(row["service"]) if service_ok else None
            if definition is not None and start is not None and definition.offered_from > start:
                self.warn(table, row, "effective_start",
                          f"the plan offers {definition.key} only from {definition.offered_from}; the contract "
                          f"starts {start} (no placement before {definition.offered_from})")
            site_total = 0
            for site_id, capacity in row["sites"] or ():
                owner = self.site_provider.get(site_id)
                if owner is None:
                    self.error(table, row, "sites", f"unknown site {site_id!r} (not in sites.csv or the database)")
                elif row["provider_id"] is not None and owner != row["provider_id"]:
                    self.error(table, row, "sites", f"site {site_id!r} belongs to provider {owner!r}, "
                               f"not {row['provider_id']!r}")
                site_total += capacity or 0
            capacity = row["contracted_capacity"]
            if capacity is not None and site_total > capacity:
                self.warn(table, row, "sites", f"site capacities add up to {site_total}, more than the "
                          f"contracted capacity {capacity}")
            if definition is not None and definition.site_based and row["sites"] == ():
                self.error(table, row, "sites", f"{definition.key} is given at a provider site: list at least one")
            radius = row["service_radius_miles"]
            if radius is not None and row["sites"] == ():
                self.error(table, row, "service_radius_miles", "a radius is measured from a site: list the sites")
            if row["counties_served"] == () and radius is None:
                self.error(table, row, "counties_served",
                           "a contract needs counties_served, or sites with a service_radius_miles")
            consent, consent_date = row["waitlist_consent"], row["waitlist_consent_date"]
            if consent and consent_date is None:
                self.error(table, row, "waitlist_consent_date",
                           "a waitlist needs the date of the plan's recorded consent (7003 VI.E.5)")
            if consent is False and consent_date is not None:
                self.error(table, row, "waitlist_consent_date", "given, but waitlist_consent is N")

    def members_file(self, table: Table) -> None:
        self.unique(table, "cin")
        for row in table.rows:
            self.place(table, row)
            info = row["_zip"]
            if info is not None and row["county"] is not None and row["county"] != info.county:
                self.error(table, row, "county", f"{row['county']!r} does not match ZIP {info.zip} "
                           f"({info.county} County)")
            if info is not None and info.county not in PARTNERSHIP_COUNTIES:
                self.warn(table, row, "zip", f"ZIP {info.zip} is in {info.county} County, outside the "
                          f"plan's service area")
            if row["dob"] is not None and row["dob"] > self.today:
                self.error(table, row, "dob", f"{row['dob']} is in the future")
            start, end = row["eligibility_start"], row["eligibility_end"]
            if start and end and end < start:
                self.error(table, row, "eligibility_end", f"{end} is before eligibility_start {start}")
            for provider_id, service in row["prior_cs_providers"] or ():
                if self.known_provider(table, row, "prior_cs_providers", provider_id):
                    self.known_service(table, row, "prior_cs_providers", service)

    def referrals_file(self, table: Table) -> None:
        self.unique(table, "referral_id")
        for row in table.rows:
            cin = row["cin"]
            if cin is not None and cin not in self.members and cin not in self.existing.member_ids:
                self.error(table, row, "cin", f"unknown member {cin!r} (not in members.csv or the database)")
            self.known_service(table, row, "service", row["service"])
            old = self.existing.referrals.get(row["referral_id"])
            if old is not None:
                if row["service"] is not None and row["service"] != old["service_key"]:
                    self.error(table, row, "service", f"referral {row['referral_id']!r} is for "
                               f"{old['service_key']!r} in the database; it cannot change (use a new referral_id)")
                owner = self.cin_of_member.get(old["member_id"])
                if cin is not None and owner is not None and cin != owner:
                    self.error(table, row, "cin", f"referral {row['referral_id']!r} is for member {owner!r} in "
                               f"the database; it cannot change (use a new referral_id)")
            preferred = row["preferred_providers"] or ()
            for provider_id in preferred:
                self.known_provider(table, row, "preferred_providers", provider_id)
            for provider_id, _reason in row["excluded_providers"] or ():
                if self.known_provider(table, row, "excluded_providers", provider_id) and provider_id in preferred:
                    self.error(table, row, "excluded_providers",
                               f"provider {provider_id!r} is both preferred and excluded")
            excluded = [provider_id for provider_id, _ in row["excluded_providers"] or ()]
            if len(set(excluded)) != len(excluded):
                self.error(table, row, "excluded_providers", "a provider is listed twice")


def validate_roster(session: Session, directory: str | Path, *, today: dt.date | None = None) -> Roster:
    """Read and check every roster file in ``directory`` without writing anything.

    Any subset of :data:`FILES` may be present; references to rows not in the files are resolved
    against the database. ``today`` (default: the current date) bounds dates of birth.

    Raises
    ------
    RosterImportError
        Listing every problem, ordered by file, line and column.
    """
    with _collector_paused():
        return _validate(session, Path(directory), today or dt.date.today())


def _validate(session: Session, directory: Path, today: dt.date) -> Roster:
    errors: list[RosterError] = []
    warnings: list[RosterError] = []
    if not directory.is_dir():
        raise RosterImportError([RosterError(str(directory), 0, "", "not a directory")])
    present = [name for name in FILES if (directory / name).is_file()]
    if not present:
        raise RosterImportError([RosterError(str(directory), 0, "", f"no roster file ({', '.join(FILES)})")])
    tables = {name: read_table(directory / name, COLUMNS[name], errors, warnings) for name in present}
    existing = _load_existing(session, set(present))
    checker = _Checker(tables, existing, load_service_catalog(), today)
    for name, check in (
        ("providers.csv", checker.providers_file),
        ("sites.csv", checker.sites_file),
        ("contracts.csv", checker.contracts_file),
        ("members.csv", checker.members_file),
        ("referrals.csv", checker.referrals_file),
    ):
        if name in tables:
            check(tables[name])
    errors.extend(checker.errors)
    warnings.extend(checker.warnings)
    if errors:
        raise RosterImportError(_ordered(errors))
    return Roster(directory, tables, _ordered(warnings), existing)


def _ordered(problems: Iterable[RosterError]) -> list[RosterError]:
    order = {name: index for index, name in enumerate(FILES)}
    columns = {name: {c.name: i for i, c in enumerate(cols)} for name, cols in COLUMNS.items()}
    return sorted(
        problems,
        key=lambda e: (order.get(e.file, -1), e.line, columns.get(e.file, {}).get(e.field, 99), e.message),
    )


# Writing ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileCounts:
    """What one file did to the database."""

    rows: int
    added: int
    changed: int

    @property
    def unchanged(self) -> int:
        return self.rows - self.added - self.changed


@dataclass(frozen=True)
class LoadSummary:
    """The outcome of :func:`load_roster`: counts per file, warnings and the time taken."""

    directory: Path
    files: dict[str, FileCounts]
    warnings: tuple[RosterError, ...]
    seconds: float

    @property
    def added(self) -> int:
        return sum(counts.added for counts in self.files.values())

    @property
    def changed(self) -> int:
        return sum(counts.changed for counts in self.files.values())

    def __str__(self) -> str:
        lines = [f"Loaded {self.directory} in {self.seconds:.1f} s: {self.added} added, {self.changed} changed."]
        for name, counts in self.files.items():
            lines.append(f"  {name:<14} {counts.rows:>8} rows: {counts.added} added, {counts.changed} changed, "
                         f"{counts.unchanged} unchanged")
        if self.warnings:
            lines.append(f"{len(self.warnings)} warning(s):")
            lines.extend(f"  {warning}" for warning in self.warnings)
        return "\n".join(lines)


def _batches(rows: Sequence[Any], size: int = _BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


class _Writer:
    """Bulk inserts and updates of one validated roster."""

    def __init__(self, session: Session, roster: Roster, actor: str) -> None:
        self.session = session
        self.roster = roster
        self.existing = roster.existing
        self.actor = actor

    def insert(self, model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
        """One ``executemany`` per batch. The table's Core insert, not the ORM's bulk insert: the ORM
        leaves out None values so defaults can fire, which splits a batch into one statement per
        distinct set of keys (at 250,000 referrals: 170,000 statements instead of 60)."""
        table = model.__table__
        for batch in _batches(rows):
            self.session.execute(sa.insert(table), list(batch))

    def update(self, model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
        for batch in _batches(rows):
            self.session.execute(sa.update(model), list(batch))

    def delete_where(self, column: Any, keys: Sequence[Any]) -> None:
        for batch in _batches(keys, _IN_CHUNK):
            self.session.execute(sa.delete(column.class_).where(column.in_(list(batch))))

    def upsert(
        self, model: type[Any], key: str, values: list[dict[str, Any]], existing: dict[Any, dict[str, Any]],
        fields: Sequence[str],
    ) -> tuple[set[Any], set[Any]]:
        """Insert new rows, update changed ones; return (added keys, changed keys)."""
        added = [row for row in values if row[key] not in existing]
        changed = [
            row for row in values
            if row[key] in existing and any(row[f] != existing[row[key]][f] for f in fields)
        ]
        self.insert(model, added)
        self.update(model, changed)
        return {row[key] for row in added}, {row[key] for row in changed}

    def providers(self, table: Table) -> FileCounts:
        values = [
            {"id": row["provider_id"], "npi": row["npi"], "tin": row["tin"], "name": row["name"],
             "phone": row["phone"], "staff_languages": list(row["staff_languages"]),
             "cultural_competencies": list(row["cultural_competencies"])}
            for row in table.rows
        ]
        added, changed = self.upsert(Provider, "id", values, self.existing.providers, _PROVIDER_FIELDS)
        return FileCounts(len(values), len(added), len(changed))

    def sites(self, table: Table) -> FileCounts:
        values = []
        for row in table.rows:
            info = row["_zip"]
            latitude, longitude = row["latitude"], row["longitude"]
            if latitude is None:
                latitude, longitude = info.latitude, info.longitude
            values.append({"id": row["site_id"], "provider_id": row["provider_id"], "name": row["name"],
                           "address": row["address"], "city": row["city"], "zip": info.zip,
                           "county": info.county, "latitude": latitude, "longitude": longitude})
        added, changed = self.upsert(ProviderSite, "id", values, self.existing.sites, _SITE_FIELDS)
        return FileCounts(len(values), len(added), len(changed))

    def contracts(self, table: Table) -> FileCounts:
        values = [
            {"id": row["contract_id"], "provider_id": row["provider_id"], "service_key": row["service"],
             "effective_start": row["effective_start"], "effective_end": row["effective_end"],
             "contracted_capacity": row["contracted_capacity"], "service_radius_miles": row["service_radius_miles"],
             "waitlist_consent": row["waitlist_consent"], "waitlist_consent_date": row["waitlist_consent_date"]}
            for row in table.rows
        ]
        added, changed = self.upsert(Contract, "id", values, self.existing.contracts, _CONTRACT_FIELDS)
        # Counties and sites belong to the roster: replaced when they differ.
        children_changed: list[str] = []
        counties: list[dict[str, Any]] = []
        sites: list[dict[str, Any]] = []
        for row in table.rows:
            contract_id = row["contract_id"]
            new_counties = set(row["counties_served"])
            new_sites = dict(row["sites"])
            if contract_id not in added and (
                new_counties == self.existing.contract_counties.get(contract_id, set())
                and new_sites == self.existing.contract_sites.get(contract_id, {})
            ):
                continue
            if contract_id not in added:
                children_changed.append(contract_id)
            counties.extend({"contract_id": contract_id, "county": county} for county in sorted(new_counties))
            sites.extend({"contract_id": contract_id, "site_id": site_id, "site_capacity": capacity}
                         for site_id, capacity in new_sites.items())
        self.delete_where(ContractCounty.contract_id, children_changed)
        self.delete_where(ContractSite.contract_id, children_changed)
        self.insert(ContractCounty, counties)
        self.insert(ContractSite, sites)
        return FileCounts(len(values), len(added), len(changed | set(children_changed)))

    def members(self, table: Table) -> FileCounts:
        values: list[dict[str, Any]] = []
        for row in table.rows:
            info = row["_zip"]
            spoken = list(row["spoken_languages"])
            if row["required_language"] and row["required_language"] not in spoken:
                spoken.append(row["required_language"])
            values.append({
                "cin": row["cin"], "last_name": row["last_name"], "first_name": row["first_name"],
                "dob": row["dob"], "address": row["address"], "city": row["city"], "zip": info.zip,
                "county": info.county, "latitude": info.latitude, "longitude": info.longitude,
                "phone": row["phone"], "homeless": row["homeless"], "spoken_languages": spoken,
                "required_language": row["required_language"],
                "cultural_preferences": list(row["cultural_preferences"]),
                "eligibility_start": row["eligibility_start"], "eligibility_end": row["eligibility_end"],
                "ecm_enrolled": row["ecm_enrolled"], "lead_care_manager": row["lead_care_manager"],
            })
        old = self.existing.members
        added = [v for v in values if v["cin"] not in old]
        changed = [
            dict(v, id=old[v["cin"]]["id"]) for v in values
            if v["cin"] in old and any(v[f] != old[v["cin"]][f] for f in _MEMBER_FIELDS)
        ]
        self.insert(Member, added)
        self.update(Member, changed)
        changed_cins = {v["cin"] for v in changed}
        if added:  # one query for the ids the database gave the new members
            self.existing.member_ids = dict(_select(self.session, Member.cin, Member.id))
        ids_by_cin = self.existing.member_ids

        new_demographics, changed_demographics = [], []
        prior_rows: list[dict[str, Any]] = []
        prior_replaced: list[int] = []
        for row in table.rows:
            member_id = ids_by_cin[row["cin"]]
            demographics = (row["race_ethnicity"], row["sex"])
            before = self.existing.demographics.get(member_id)
            record = {"member_id": member_id, "race_ethnicity": demographics[0], "sex": demographics[1]}
            if before is None:
                new_demographics.append(record)
                if row["cin"] in old:
                    changed_cins.add(row["cin"])
            elif before != demographics:
                changed_demographics.append(record)
                changed_cins.add(row["cin"])
            prior = set(row["prior_cs_providers"])
            if prior != self.existing.prior_providers.get(member_id, set()):
                if row["cin"] in old:
                    prior_replaced.append(member_id)
                    changed_cins.add(row["cin"])
                prior_rows.extend({"member_id": member_id, "provider_id": p, "service_key": s}
                                  for p, s in sorted(prior))
        self.insert(MemberDemographics, new_demographics)
        self.update(MemberDemographics, changed_demographics)
        self.delete_where(MemberPriorProvider.member_id, prior_replaced)
        self.insert(MemberPriorProvider, prior_rows)
        return FileCounts(len(values), len(added), len(changed_cins))

    def referrals(self, table: Table) -> FileCounts:
        ids_by_cin = self.existing.member_ids
        values = [
            {"id": row["referral_id"], "member_id": ids_by_cin[row["cin"]], "service_key": row["service"],
             "source": row["source"], "received_date": row["received_date"], "units_needed": row["units_needed"],
             "discharge_date": row["discharge_date"], "discharge_from": row["discharge_from"],
             "qualifying_condition": row["qualifying_condition"], "ihss_status": row["ihss_status"],
             "hours_per_day": row["hours_per_day"], "housing_support_plan": row["housing_support_plan"],
             "housing_nav_start": row["housing_nav_start"], "documented_change": row["documented_change"],
             "transferring_from_plan": row["transferring_from_plan"], "notes": row["notes"]}
            for row in table.rows
        ]
        old = self.existing.referrals
        added_rows = [dict(v, status=row["status"]) for v, row in zip(values, table.rows, strict=True)
                      if v["id"] not in old]
        added = {v["id"] for v in added_rows}
        changed: set[str] = set()
        self.insert(Referral, added_rows)
        updates = [v for v in values if v["id"] in old and any(v[f] != old[v["id"]][f] for f in _REFERRAL_FIELDS)]
        self.update(Referral, updates)
        changed.update(v["id"] for v in updates)

        today = dt.date.today()
        history: list[dict[str, Any]] = []
        preferences: list[dict[str, Any]] = []
        replaced: list[str] = []
        exclusions: list[dict[str, Any]] = []
        for row in table.rows:
            referral_id = row["referral_id"]
            is_new = referral_id in added
            if is_new:
                history.append({"referral_id": referral_id, "from_status": None,
                                "to_status": ReferralStatus.RECEIVED, "on_date": row["received_date"],
                                "actor": self.actor, "reason": f"imported from {table.file}", "reason_code": None})
                if row["status"] != ReferralStatus.RECEIVED:
                    history.append({"referral_id": referral_id, "from_status": ReferralStatus.RECEIVED,
                                    "to_status": row["status"], "on_date": today, "actor": self.actor,
                                    "reason": f"status given in {table.file}", "reason_code": None})
            preferred = tuple(row["preferred_providers"])
            if preferred != self.existing.preferences.get(referral_id, ()):
                if not is_new:
                    replaced.append(referral_id)
                    changed.add(referral_id)
                preferences.extend({"referral_id": referral_id, "rank": rank, "provider_id": provider_id}
                                   for rank, provider_id in enumerate(preferred, start=1))
            recorded = self.existing.exclusions.get(referral_id, set())
            for provider_id, reason in row["excluded_providers"]:
                if provider_id not in recorded:
                    exclusions.append({"referral_id": referral_id, "provider_id": provider_id, "reason": reason})
                    if not is_new:
                        changed.add(referral_id)
        self.delete_where(ReferralPreference.referral_id, replaced)
        self.insert(ReferralPreference, preferences)
        self.insert(ReferralExclusion, exclusions)
        self.insert(ReferralStatusChange, history)
        return FileCounts(len(values), len(added), len(changed))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of short-lived rows are built.

    The rows hold no reference cycles, yet every few thousand allocations the collector walks all
    of them again: at 250,000 referrals that doubled the time of a load. Reference counting still
    frees memory; the collector runs again (if it was on) as soon as the load ends or fails.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_roster(
    session: Session, directory: str | Path, *, actor: str = "csmatch load", today: dt.date | None = None
) -> LoadSummary:
    """Validate the roster files in ``directory``, then add and update their rows in one go.

    Nothing is committed here: the caller's transaction commits or rolls back the whole load. An
    audit event records who loaded what, with the counts.

    Raises
    ------
    RosterImportError
        If any row of any file is invalid; nothing has been written then.
    """
    started = time.perf_counter()
    with _collector_paused():
        roster = validate_roster(session, directory, today=today)
        sync_services(session)  # the catalogue rows every contract and referral refers to
        writer = _Writer(session, roster, actor)
        steps = {
            "providers.csv": writer.providers, "sites.csv": writer.sites, "contracts.csv": writer.contracts,
            "members.csv": writer.members, "referrals.csv": writer.referrals,
        }
        files = {name: step(roster.tables[name]) for name, step in steps.items() if name in roster.tables}
    summary = LoadSummary(roster.directory, files, tuple(roster.warnings), time.perf_counter() - started)
    record_audit(
        session, actor=actor, action="roster.load", entity_type="roster", entity_id=roster.directory.name,
        details={
            "directory": str(roster.directory),
            "files": {name: {"rows": c.rows, "added": c.added, "changed": c.changed} for name, c in files.items()},
            "warnings": len(summary.warnings),
        },
    )
    session.flush()
    return summary
