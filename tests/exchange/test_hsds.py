"""HSDS 3.0 directory export: the specification's tables and columns, stable ids, no member data."""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from pathlib import Path

from sqlalchemy.orm import Session

from exchange.hsds import HSDS_TABLES, export_hsds, hsds_id
from tests.exchange.test_asf import make_cli_db, provider_with_contract, run, valid_npi
from tests.factories import make_contract, make_provider

AS_OF = dt.date(2026, 11, 25)

# Columns HSDS 3.0 requires, or requires in the tabular format (tabular.json "required"/"tabular_required").
REQUIRED = {
    "organizations.csv": {"id", "name", "description"},
    "services.csv": {"id", "name", "status", "organization_id"},
    "locations.csv": {"id", "location_type"},
    "addresses.csv": {"id", "address_1", "city", "state_province", "postal_code", "country", "address_type"},
    "service_at_location.csv": {"id", "service_id", "location_id"},
    "organization_identifiers.csv": {"id", "identifier_type", "identifier", "organization_id"},
    "phones.csv": {"id", "number"},
    "languages.csv": {"id"},
    "service_areas.csv": {"id"},
}


def read_all(directory: Path) -> dict[str, list[dict[str, str]]]:
    tables = {}
    for name in HSDS_TABLES:
        with open(directory / name, newline="", encoding="utf-8") as handle:
            tables[name] = list(csv.DictReader(handle))
    return tables


def directory(session: Session) -> None:
    """Two providers: one with two services (one at a site, one in the community), one with one."""
    first, _ = provider_with_contract(session, 31, staff_languages=["English", "Spanish", "Hmong"],
                                      phone="7075551234")
    make_contract(session, first, service="MEALS", counties=("Humboldt", "Shasta"))
    provider_with_contract(session, 32)
    inactive = make_provider(session, id="PRV-GONE", npi=valid_npi(33), active=False)
    make_contract(session, inactive)
    ended = make_provider(session, id="PRV-ENDED", npi=valid_npi(34))
    make_contract(session, ended, effective_end=dt.date(2026, 6, 30))


def test_hsds_files_have_the_specifications_columns(db_session: Session, tmp_path: Path) -> None:
    directory(db_session)
    paths = export_hsds(db_session, tmp_path, as_of=AS_OF, plan_name="Partnership HealthPlan of California")
    assert sorted(p.name for p in paths) == sorted(HSDS_TABLES) and len(HSDS_TABLES) >= 6
    for path in paths:
        header = path.read_bytes().decode("utf-8").split("\r\n", 1)[0].split(",")
        assert header == list(HSDS_TABLES[path.name])
        assert REQUIRED[path.name] <= set(header)
    tables = read_all(tmp_path)
    for name, rows in tables.items():
        for row in rows:
            missing = [c for c in REQUIRED[name] if not row[c]]
            assert not missing, (name, row["id"], missing)


def test_hsds_lists_active_contracted_providers_their_services_sites_areas_and_languages(
    db_session: Session, tmp_path: Path,
) -> None:
    directory(db_session)
    export_hsds(db_session, tmp_path, as_of=AS_OF)
    t = read_all(tmp_path)
    assert sorted(r["name"] for r in t["organizations.csv"]) == [
        "Eureka Housing Partners 31", "Eureka Housing Partners 32",
    ]  # not the inactive provider, nor the one whose contract ended
    org = hsds_id("organization", "PRV-X31")
    services = {r["name"]: r for r in t["services.csv"] if r["organization_id"] == org}
    assert set(services) == {"Housing Transition Navigation Services", "Meals/Medically Tailored Meals"}
    assert all(r["status"] == "active" and r["assured_date"] == "2026-11-25" for r in services.values())
    meals = services["Meals/Medically Tailored Meals"]["id"]
    assert sorted(r["name"] for r in t["service_areas.csv"] if r["service_id"] == meals) == [
        "Humboldt County, CA", "Shasta County, CA",
    ]
    assert sorted((r["name"], r["code"]) for r in t["languages.csv"] if r["service_id"] == meals) == [
        ("English", "en"), ("Hmong", "hmn"), ("Spanish", "es"),
    ]
    assert {(r["identifier_type"], r["identifier"]) for r in t["organization_identifiers.csv"]} == {
        ("NPI", valid_npi(31)), ("NPI", valid_npi(32)),
    }
    assert [r["number"] for r in t["phones.csv"]] == ["707-555-1234"]
    (address,) = [r for r in t["addresses.csv"] if r["location_id"] == hsds_id("location", "PRV-X31-S1")]
    assert (address["city"], address["region"], address["state_province"], address["postal_code"]) == (
        "Eureka", "Humboldt County", "CA", "95501")


def test_hsds_ids_are_stable_uuid5_and_every_reference_resolves(db_session: Session, tmp_path: Path) -> None:
    directory(db_session)
    export_hsds(db_session, tmp_path / "a", as_of=AS_OF)
    export_hsds(db_session, tmp_path / "b", as_of=AS_OF)
    for name in HSDS_TABLES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    t = read_all(tmp_path / "a")
    ids = {name: {r["id"] for r in rows} for name, rows in t.items()}
    for name, rows in t.items():
        assert len(ids[name]) == len(rows), f"{name}: ids are unique"
        assert all(uuid.UUID(r["id"]).version == 5 for r in rows)
    assert hsds_id("organization", "PRV-X31") in ids["organizations.csv"]
    assert hsds_id("location", "PRV-X31-S1") in ids["locations.csv"]
    references = [
        ("services.csv", "organization_id", "organizations.csv"),
        ("locations.csv", "organization_id", "organizations.csv"),
        ("addresses.csv", "location_id", "locations.csv"),
        ("service_at_location.csv", "service_id", "services.csv"),
        ("service_at_location.csv", "location_id", "locations.csv"),
        ("service_areas.csv", "service_id", "services.csv"),
        ("languages.csv", "service_id", "services.csv"),
        ("phones.csv", "organization_id", "organizations.csv"),
        ("organization_identifiers.csv", "organization_id", "organizations.csv"),
    ]
    for table, column, target in references:
        assert {r[column] for r in t[table]} <= ids[target], (table, column)


def test_hsds_of_an_empty_network_writes_headers_only(db_session: Session, tmp_path: Path) -> None:
    paths = export_hsds(db_session, tmp_path, as_of=AS_OF)
    assert all(p.read_bytes().count(b"\r\n") == 1 for p in paths)


def test_cli_hsds_writes_the_directory(tmp_path: Path) -> None:
    url = make_cli_db(tmp_path)
    code, output = run(url, "exchange", "hsds", "--out", str(tmp_path / "hsds"), "--as-of", "2026-11-25")
    assert (code, output.strip()) == (0, f"Wrote {len(HSDS_TABLES)} HSDS files into {tmp_path / 'hsds'}.")
    assert len(read_all(tmp_path / "hsds")["organizations.csv"]) == 2
