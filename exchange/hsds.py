"""The provider directory as Open Referral HSDS 3.0 CSV files, for community resource directories.

Community directories (211s, closed-loop referral platforms) read the Human Services Data
Specification's tabular format: one CSV per table, UUID identifiers, UTF-8, RFC 4180. The tables
and their columns, in order, are those of HSDS 3.0's ``schema/compiled/tabular.json``
(openreferral/specification); only scalar fields are columns (arrays are the other tables).

What csmatch publishes, as of a date:

* ``organizations.csv``: each active provider with a contract in effect; its NPI goes to
  ``organization_identifiers.csv`` and its phone to ``phones.csv``.
* ``services.csv``: one service per provider and Community Support it is contracted for, named as
  the service catalogue names it; ``service_areas.csv``: the contract's counties.
* ``locations.csv`` and ``addresses.csv``: the provider's sites; ``service_at_location.csv``: the
  sites a contract delivers the service from (community-based services may have none).
* ``languages.csv``: the provider's staff languages, for each of its services (HSDS: "languages
  spoken ... not those only available through interpretation").

Capacity, open units and members are never published: a directory says who offers what where.

Identifiers are UUID 5 of csmatch's own keys (provider id, site id, provider and service, county) in
one fixed namespace, so a re-export gives the same ids and a directory can update rather than
duplicate. Rows are sorted by id; exporting twice gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from capacity.models import Contract
from csmatch.catalog import load_service_catalog
from csmatch.models import Service
from exchange.asf import write_csv
from providers.models import Provider

__all__ = [
    "HSDS_NAMESPACE",
    "HSDS_TABLES",
    "LANGUAGE_CODES",
    "export_hsds",
    "hsds_id",
    "hsds_tables",
]

#: Namespace of every id csmatch writes (UUID 5 of a fixed URL: never change it, ids would change).
HSDS_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:csmatch:hsds")

#: HSDS 3.0 tables csmatch writes: file name -> columns, in the order of the specification.
HSDS_TABLES: dict[str, tuple[str, ...]] = {
    "organizations.csv": (
        "id", "name", "alternate_name", "description", "email", "website", "tax_status", "tax_id",
        "year_incorporated", "legal_status", "logo", "uri", "parent_organization_id",
    ),
    "organization_identifiers.csv": ("id", "organization_id", "identifier_scheme", "identifier_type", "identifier"),
    "services.csv": (
        "id", "organization_id", "program_id", "name", "alternate_name", "description", "url", "email", "status",
        "interpretation_services", "application_process", "fees_description", "wait_time", "fees",
        "accreditations", "eligibility_description", "minimum_age", "maximum_age", "assured_date",
        "assurer_email", "licenses", "alert", "last_modified",
    ),
    "service_at_location.csv": ("id", "service_id", "location_id", "description"),
    "locations.csv": (
        "id", "location_type", "url", "organization_id", "name", "alternate_name", "description",
        "transportation", "latitude", "longitude", "external_identifier", "external_identifier_type",
    ),
    "phones.csv": (
        "id", "location_id", "service_id", "organization_id", "contact_id", "service_at_location_id", "number",
        "extension", "type", "description",
    ),
    "addresses.csv": (
        "id", "location_id", "attention", "address_1", "address_2", "city", "region", "state_province",
        "postal_code", "country", "address_type",
    ),
    "service_areas.csv": ("id", "service_id", "name", "description", "extent", "extent_type", "uri"),
    "languages.csv": ("id", "service_id", "location_id", "phone_id", "name", "code", "note"),
}  # fmt: skip

#: ISO 639-1 codes (639-3 where there is none) of the languages Medi-Cal members in the plan's
#: counties speak most; a language not listed is written with an empty code.
LANGUAGE_CODES = {
    "American Sign Language": "ase", "Arabic": "ar", "Armenian": "hy", "Cantonese": "yue", "Chinese": "zh",
    "English": "en", "Farsi": "fa", "French": "fr", "Hindi": "hi", "Hmong": "hmn", "Japanese": "ja",
    "Khmer": "km", "Korean": "ko", "Lao": "lo", "Mandarin": "cmn", "Mien": "ium", "Mixteco": "mix",
    "Portuguese": "pt", "Punjabi": "pa", "Russian": "ru", "Spanish": "es", "Tagalog": "tl", "Thai": "th",
    "Ukrainian": "uk", "Urdu": "ur", "Vietnamese": "vi",
}  # fmt: skip


def hsds_id(kind: str, *keys: str) -> str:
    """The stable HSDS id of a csmatch record: UUID 5 of ``kind`` and its keys.

    >>> hsds_id("organization", "PRV0001") == hsds_id("organization", "PRV0001")
    True
    >>> hsds_id("organization", "PRV0001") != hsds_id("location", "PRV0001")
    True
    """
    return str(uuid.uuid5(HSDS_NAMESPACE, ":".join((kind, *keys))))


@dataclass(frozen=True, slots=True)
class _Offer:
    """A provider's service as the directory shows it: one or more contracts for one service key."""

    provider: Provider
    service_key: str
    contracts: tuple[Contract, ...]

    @property
    def id(self) -> str:
        return hsds_id("service", self.provider.id, self.service_key)


def _offers(session: Session, as_of: dt.date) -> list[_Offer]:
    catalog = load_service_catalog()
    contracts = session.scalars(
        sa.select(Contract)
        .join(Provider, Provider.id == Contract.provider_id)
        .where(Provider.active.is_(True), Contract.effective_start <= as_of,
               sa.or_(Contract.effective_end.is_(None), Contract.effective_end >= as_of))
        .options(selectinload(Contract.provider).selectinload(Provider.sites),
                 selectinload(Contract.counties), selectinload(Contract.sites))
        .order_by(Contract.id)
    ).all()
    grouped: dict[tuple[str, str], list[Contract]] = defaultdict(list)
    for contract in contracts:
        definition = catalog.get(contract.service_key)
        if definition is not None and not definition.is_offered(as_of):
            continue
        grouped[contract.provider_id, contract.service_key].append(contract)
    return [_Offer(items[0].provider, key, tuple(items)) for (_, key), items in sorted(grouped.items())]


def _county(name: str) -> str:
    return name if name.lower().endswith(" county") else f"{name} County"


def hsds_tables(
    session: Session, *, as_of: dt.date, plan_name: str = "the plan",
) -> dict[str, list[dict[str, str]]]:
    """The directory as HSDS rows: file name -> rows (dicts keyed by :data:`HSDS_TABLES` columns), sorted by id."""
    catalog = load_service_catalog()
    names = dict(session.execute(sa.select(Service.key, Service.name)).tuples().all())
    tables: dict[str, list[dict[str, str]]] = {name: [] for name in HSDS_TABLES}

    def add(table: str, **values: object) -> None:
        row = {column: "" for column in HSDS_TABLES[table]}
        row.update({k: "" if v is None else str(v) for k, v in values.items()})
        tables[table].append(row)

    offers = _offers(session, as_of)
    providers = {o.provider.id: o.provider for o in offers}
    for provider in providers.values():
        org = hsds_id("organization", provider.id)
        add("organizations.csv", id=org, name=provider.name,
            description=f"Contracted provider of CalAIM Community Supports for {plan_name} members.")
        add("organization_identifiers.csv", id=hsds_id("organization_identifier", provider.id, "NPI"),
            organization_id=org, identifier_type="NPI", identifier=provider.npi)
        if provider.phone:
            add("phones.csv", id=hsds_id("phone", provider.id), organization_id=org,
                number=f"{provider.phone[:3]}-{provider.phone[3:6]}-{provider.phone[6:]}", type="voice")
        for site in provider.sites:
            location = hsds_id("location", site.id)
            add("locations.csv", id=location, location_type="physical", organization_id=org, name=site.name,
                latitude=f"{site.latitude:.6f}", longitude=f"{site.longitude:.6f}", external_identifier=site.id,
                external_identifier_type="csmatch site id")
            add("addresses.csv", id=hsds_id("address", site.id), location_id=location, address_1=site.address,
                city=site.city, region=_county(site.county), state_province="CA", postal_code=site.zip,
                country="US", address_type="physical")

    for offer in offers:
        definition = catalog.get(offer.service_key)
        name = definition.name if definition else names.get(offer.service_key, offer.service_key)
        org = hsds_id("organization", offer.provider.id)
        limits = definition.limits if definition else ""
        eligibility = f"Medi-Cal members of {plan_name} the plan authorizes for this Community Support"
        add("services.csv", id=offer.id, organization_id=org, name=name, status="active",
            description=f"{name}: a CalAIM Community Support, at no cost to eligible Medi-Cal members.",
            application_process=(f"By referral to {plan_name}: a doctor, care manager, community organization "
                                 "or the member asks; the plan authorizes the service and refers the member."),
            fees_description="No cost to eligible Medi-Cal members.",
            eligibility_description=f"{eligibility}; {limits}." if limits else f"{eligibility}.",
            assured_date=as_of.isoformat())
        counties = sorted({c for contract in offer.contracts for c in contract.county_names})
        radius = [c.service_radius_miles for c in offer.contracts if c.service_radius_miles]
        for county in counties:
            add("service_areas.csv", id=hsds_id("service_area", offer.provider.id, offer.service_key, county),
                service_id=offer.id, name=f"{_county(county)}, CA",
                description=f"Members living within {max(radius):g} miles of a site" if radius else "")
        sites = sorted({s.site_id for contract in offer.contracts for s in contract.sites})
        for site_id in sites:
            add("service_at_location.csv", id=hsds_id("service_at_location", offer.provider.id, offer.service_key,
                                                      site_id),
                service_id=offer.id, location_id=hsds_id("location", site_id))
        for language in _unique(offer.provider.staff_languages):
            add("languages.csv", id=hsds_id("language", offer.provider.id, offer.service_key, language),
                service_id=offer.id, name=language, code=LANGUAGE_CODES.get(language, ""))

    for rows in tables.values():
        rows.sort(key=lambda r: r["id"])
    return tables


def _unique(items: Iterable[str]) -> list[str]:
    return sorted({item.strip() for item in items if item.strip()})


def export_hsds(
    session: Session, out_dir: str | Path, *, as_of: dt.date, plan_name: str = "the plan",
) -> list[Path]:
    """Write the HSDS 3.0 CSV files of the provider directory into ``out_dir``; return their paths.

    Every table of :data:`HSDS_TABLES` is written, with its header even when empty, so a reader
    finds the same files every time.
    """
    tables = hsds_tables(session, as_of=as_of, plan_name=plan_name)
    return [write_csv(Path(out_dir) / name, HSDS_TABLES[name], tables[name]) for name in HSDS_TABLES]
