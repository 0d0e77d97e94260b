"""``exchange.roster.load_roster``: validation collects every error, all-or-nothing, idempotent upserts."""

from __future__ import annotations

import copy
import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from capacity.models import Contract, ContractCounty, ContractSite
from csmatch.models import AuditEvent
from exchange.roster import RosterError, RosterImportError, load_roster, validate_roster
from fixtures import DEMO_DIR
from providers.models import Provider, ProviderSite
from referrals.models import (
    Member,
    MemberDemographics,
    MemberPriorProvider,
    Referral,
    ReferralExclusion,
    ReferralPreference,
    ReferralStatus,
    ReferralStatusChange,
)
from tests.conftest import count

ROSTER_MODELS = (Provider, ProviderSite, Contract, ContractCounty, ContractSite, Member, MemberDemographics,
                 MemberPriorProvider, Referral, ReferralPreference, ReferralExclusion, ReferralStatusChange)
TODAY = dt.date(2026, 11, 20)

# A small valid roster: two providers in Humboldt/Shasta and Sonoma, three members, four referrals.
BASE: dict[str, list[dict[str, str]]] = {
    "providers.csv": [
        {"provider_id": "PRV1", "npi": "1234567893", "tin": "94-1234567", "name": "Redwood Coast Housing Partners",
         "phone": "(707) 555-0101", "staff_languages": "English;spanish", "cultural_competencies": "Veteran"},
        {"provider_id": "PRV2", "npi": "1000000004", "tin": "680000001", "name": "Sonoma Meals on Wheels",
         "phone": "", "staff_languages": "English;Russian", "cultural_competencies": ""},
    ],
    "sites.csv": [
        {"site_id": "PRV1-S1", "provider_id": "PRV1", "name": "Eureka office", "address": "410 H St",
         "city": "Eureka", "zip": "95501", "latitude": "40.80207", "longitude": "-124.16367"},
        {"site_id": "PRV1-S2", "provider_id": "PRV1", "name": "Redding beds", "address": "1 Oak St",
         "city": "Redding", "zip": "96001", "latitude": "", "longitude": ""},
        {"site_id": "PRV2-S1", "provider_id": "PRV2", "name": "Santa Rosa kitchen", "address": "9 Elm St",
         "city": "Santa Rosa", "zip": "95401", "latitude": "", "longitude": ""},
    ],
    "contracts.csv": [
        {"contract_id": "C1", "provider_id": "PRV1", "service": "HOUSING_NAV", "effective_start": "2023-01-01",
         "effective_end": "", "contracted_capacity": "10", "counties_served": "Humboldt;del norte county",
         "sites": "PRV1-S1", "service_radius_miles": "", "waitlist_consent": "N", "waitlist_consent_date": ""},
        {"contract_id": "C2", "provider_id": "PRV1", "service": "RECUPERATIVE_CARE", "effective_start": "2023-01-01",
         "effective_end": "2027-06-30", "contracted_capacity": "6", "counties_served": "Humboldt;Shasta",
         "sites": "PRV1-S1=4;PRV1-S2=2", "service_radius_miles": "60", "waitlist_consent": "N",
         "waitlist_consent_date": ""},
        {"contract_id": "C3", "provider_id": "PRV2", "service": "MEALS", "effective_start": "06/01/2022",
         "effective_end": "", "contracted_capacity": "140", "counties_served": "Sonoma;Marin", "sites": "PRV2-S1",
         "service_radius_miles": "", "waitlist_consent": "Y", "waitlist_consent_date": "2024-03-15"},
    ],
    "members.csv": [
        {"cin": "91234567A", "last_name": "Garcia", "first_name": "Maria", "dob": "1961-04-09", "sex": "F",
         "race_ethnicity": "Hispanic or Latino", "address": "1520 Oak Ave", "city": "Eureka", "zip": "95501",
         "county": "Humboldt", "phone": "707-555-0188", "homeless": "N", "spoken_languages": "Spanish;English",
         "required_language": "", "cultural_preferences": "", "eligibility_start": "2019-02-01",
         "eligibility_end": "", "ecm_enrolled": "Y", "lead_care_manager": "Linda Ortiz", "prior_cs_providers": ""},
        {"cin": "92345678b", "last_name": "Ivanov", "first_name": "Olga", "dob": "04/09/1950", "sex": "",
         "race_ethnicity": "white", "address": "3 Pine St", "city": "Santa Rosa", "zip": "95401", "county": "",
         "phone": "", "homeless": "n", "spoken_languages": "", "required_language": "Russian",
         "cultural_preferences": "", "eligibility_start": "2020-01-01", "eligibility_end": "2027-01-31",
         "ecm_enrolled": "", "lead_care_manager": "", "prior_cs_providers": ""},
        {"cin": "93456789C", "last_name": "Smith", "first_name": "John", "dob": "1975-08-30", "sex": "M",
         "race_ethnicity": "", "address": "General Delivery", "city": "Redding", "zip": "96001", "county": "",
         "phone": "", "homeless": "Y", "spoken_languages": "English", "required_language": "",
         "cultural_preferences": "Veteran", "eligibility_start": "2021-05-01", "eligibility_end": "",
         "ecm_enrolled": "N", "lead_care_manager": "", "prior_cs_providers": "PRV1:HOUSING_NAV"},
    ],
    "referrals.csv": [
        {"referral_id": "R1", "cin": "91234567A", "service": "HOUSING_NAV", "source": "PCP",
         "received_date": "2026-10-05", "units_needed": "", "discharge_date": "", "discharge_from": "",
         "qualifying_condition": "", "ihss_status": "", "hours_per_day": "", "housing_support_plan": "",
         "housing_nav_start": "", "documented_change": "", "transferring_from_plan": "",
         "preferred_providers": "PRV1", "excluded_providers": "", "status": "", "notes": ""},
        {"referral_id": "R2", "cin": "92345678B", "service": "MEALS", "source": "ecm",
         "received_date": "2026-10-06", "units_needed": "14", "discharge_date": "", "discharge_from": "",
         "qualifying_condition": "DIABETES", "ihss_status": "", "hours_per_day": "", "housing_support_plan": "",
         "housing_nav_start": "", "documented_change": "", "transferring_from_plan": "Health Net",
         "preferred_providers": "PRV2", "excluded_providers": "", "status": "RECEIVED", "notes": ""},
        {"referral_id": "R3", "cin": "93456789C", "service": "RECUPERATIVE_CARE", "source": "PLAN",
         "received_date": "2026-10-07", "units_needed": "1", "discharge_date": "2026-10-06",
         "discharge_from": "INPATIENT_HOSPITAL", "qualifying_condition": "", "ihss_status": "",
         "hours_per_day": "", "housing_support_plan": "", "housing_nav_start": "", "documented_change": "",
         "transferring_from_plan": "", "preferred_providers": "", "excluded_providers": "PRV2:MEMBER_REFUSED",
         "status": "", "notes": ""},
        {"referral_id": "R4", "cin": "93456789C", "service": "HOUSING_NAV", "source": "CBO",
         "received_date": "2026-10-08", "units_needed": "1", "discharge_date": "", "discharge_from": "",
         "qualifying_condition": "", "ihss_status": "", "hours_per_day": "", "housing_support_plan": "",
         "housing_nav_start": "", "documented_change": "", "transferring_from_plan": "",
         "preferred_providers": "PRV1;PRV2", "excluded_providers": "", "status": "READY",
         "notes": 'Has a "service dog", call first'},
    ],
}


def write_roster(directory: Path, tables: dict[str, list[dict[str, str]]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        with open(directory / name, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return directory


@pytest.fixture
def tables() -> dict[str, list[dict[str, str]]]:
    return copy.deepcopy(BASE)


@pytest.fixture
def roster_dir(tmp_path: Path, tables: dict[str, list[dict[str, str]]]) -> Path:
    return write_roster(tmp_path / "roster", tables)


def row_counts(session: Session) -> dict[str, int]:
    return {model.__name__: count(session, model) for model in ROSTER_MODELS}


def load(session: Session, directory: Path) -> Any:
    return load_roster(session, directory, actor="test", today=TODAY)


# Loading ------------------------------------------------------------------------------------------


def test_load_adds_every_row(db_session: Session, roster_dir: Path) -> None:
    summary = load(db_session, roster_dir)

    assert {name: (c.added, c.changed) for name, c in summary.files.items()} == {
        "providers.csv": (2, 0), "sites.csv": (3, 0), "contracts.csv": (3, 0), "members.csv": (3, 0),
        "referrals.csv": (4, 0),
    }
    assert summary.warnings == ()
    assert row_counts(db_session) == {
        "Provider": 2, "ProviderSite": 3, "Contract": 3, "ContractCounty": 6, "ContractSite": 4, "Member": 3,
        "MemberDemographics": 3, "MemberPriorProvider": 1, "Referral": 4, "ReferralPreference": 4,
        "ReferralExclusion": 1, "ReferralStatusChange": 5,
    }


def test_load_normalises_values(db_session: Session, roster_dir: Path) -> None:
    load(db_session, roster_dir)

    olga = db_session.scalars(sa.select(Member).where(Member.cin == "92345678B")).one()
    assert (olga.dob, olga.county, olga.spoken_languages, olga.required_language) == (
        dt.date(1950, 4, 9), "Sonoma", ["Russian"], "Russian")
    assert (olga.latitude, olga.longitude) != (0.0, 0.0)
    assert olga.demographics is not None
    assert (olga.demographics.sex, olga.demographics.race_ethnicity) == ("U", "White")
    provider = db_session.get(Provider, "PRV1")
    assert provider is not None
    assert (provider.tin, provider.phone, provider.staff_languages) == ("941234567", "7075550101",
                                                                        ["English", "Spanish"])
    contract = db_session.get(Contract, "C3")
    assert contract is not None
    assert (contract.effective_start, contract.waitlist_consent, contract.county_names) == (
        dt.date(2022, 6, 1), True, ["Marin", "Sonoma"])
    site = db_session.get(ProviderSite, "PRV1-S1")
    assert site is not None and (site.county, site.latitude) == ("Humboldt", 40.80207)
    recuperative = db_session.get(Contract, "C1")
    assert recuperative is not None and recuperative.county_names == ["Del Norte", "Humboldt"]


def test_new_referral_starts_its_status_history(db_session: Session, roster_dir: Path) -> None:
    load(db_session, roster_dir)

    r1, r4 = db_session.get(Referral, "R1"), db_session.get(Referral, "R4")
    assert r1 is not None and r4 is not None
    assert [(h.from_status, h.to_status, h.on_date, h.actor) for h in r1.history] == [
        (None, ReferralStatus.RECEIVED, dt.date(2026, 10, 5), "test")]
    assert r4.status is ReferralStatus.READY
    assert [h.to_status for h in r4.history] == [ReferralStatus.RECEIVED, ReferralStatus.READY]
    assert [p.provider_id for p in r4.preferences] == ["PRV1", "PRV2"]
    assert r4.notes == 'Has a "service dog", call first'


def test_load_records_an_audit_event(db_session: Session, roster_dir: Path) -> None:
    load(db_session, roster_dir)

    event = db_session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "roster.load")).one()
    assert (event.actor, event.entity_type, event.entity_id) == ("test", "roster", "roster")
    assert event.details["files"]["referrals.csv"] == {"rows": 4, "added": 4, "changed": 0}


def test_loading_twice_changes_nothing(db_session: Session, roster_dir: Path) -> None:
    load(db_session, roster_dir)
    before = row_counts(db_session)

    again = load(db_session, roster_dir)

    assert (again.added, again.changed) == (0, 0)
    assert all(c.unchanged == c.rows for c in again.files.values())
    assert row_counts(db_session) == before


def test_changed_rows_update_the_records(
    db_session: Session, tmp_path: Path, tables: dict[str, list[dict[str, str]]]
) -> None:
    load(db_session, write_roster(tmp_path / "first", tables))
    tables["providers.csv"][1]["staff_languages"] = "English;Russian;Spanish"
    tables["contracts.csv"][0].update(contracted_capacity="12", counties_served="Humboldt")
    tables["members.csv"][0].update(zip="95401", city="Santa Rosa", county="", sex="X")
    tables["members.csv"][1]["eligibility_end"] = ""  # eligibility no longer ends
    tables["referrals.csv"][0].update(units_needed="2", preferred_providers="PRV2;PRV1")
    tables["referrals.csv"][1]["status"] = "INFO_REQUESTED"  # status belongs to the life cycle: ignored

    summary = load(db_session, write_roster(tmp_path / "second", tables))

    assert {name: (c.added, c.changed) for name, c in summary.files.items()} == {
        "providers.csv": (0, 1), "sites.csv": (0, 0), "contracts.csv": (0, 1), "members.csv": (0, 2),
        "referrals.csv": (0, 1),
    }
    db_session.expire_all()
    contract = db_session.get(Contract, "C1")
    assert contract is not None and (contract.contracted_capacity, contract.county_names) == (12, ["Humboldt"])
    maria = db_session.scalars(sa.select(Member).where(Member.cin == "91234567A")).one()
    assert (maria.county, maria.demographics.sex if maria.demographics else None) == ("Sonoma", "X")
    olga = db_session.scalars(sa.select(Member).where(Member.cin == "92345678B")).one()
    assert olga.eligibility_end is None
    r1, r2 = db_session.get(Referral, "R1"), db_session.get(Referral, "R2")
    assert r1 is not None and r2 is not None
    assert (r1.units_needed, [p.provider_id for p in r1.preferences]) == (2, ["PRV2", "PRV1"])
    assert r2.status is ReferralStatus.RECEIVED


def test_reload_never_removes_a_recorded_exclusion(
    db_session: Session, tmp_path: Path, tables: dict[str, list[dict[str, str]]]
) -> None:
    load(db_session, write_roster(tmp_path / "first", tables))
    tables["referrals.csv"][2]["excluded_providers"] = ""

    summary = load(db_session, write_roster(tmp_path / "second", tables))

    assert summary.changed == 0
    assert count(db_session, ReferralExclusion) == 1


def test_referrals_alone_resolve_members_and_providers_in_the_database(
    db_session: Session, tmp_path: Path, tables: dict[str, list[dict[str, str]]]
) -> None:
    load(db_session, write_roster(tmp_path / "full", tables))
    extra = dict(tables["referrals.csv"][0], referral_id="R5", service="MEALS", preferred_providers="PRV2")

    summary = load(db_session, write_roster(tmp_path / "daily", {"referrals.csv": [extra]}))

    assert list(summary.files) == ["referrals.csv"]
    assert (summary.added, summary.changed) == (1, 0)
    referral = db_session.get(Referral, "R5")
    assert referral is not None and referral.member.cin == "91234567A"


def test_contract_before_the_service_is_offered_is_a_warning(
    db_session: Session, tmp_path: Path, tables: dict[str, list[dict[str, str]]]
) -> None:
    tables["contracts.csv"][1].update(service="SOBERING", effective_start="2024-01-01")

    summary = load(db_session, write_roster(tmp_path / "r", tables))

    assert [str(w) for w in summary.warnings] == [
        "contracts.csv:3: effective_start: the plan offers SOBERING only from 2024-07-01; the contract starts "
        "2024-01-01 (no placement before 2024-07-01)"]
    assert count(db_session, Contract) == 3


# Validation errors --------------------------------------------------------------------------------

ERROR_CASES = [
    # (file, row index, column, bad value, expected message)
    ("members.csv", 0, "zip", "99999", r"members\.csv:2: zip: unknown California ZIP code '99999'"),
    ("sites.csv", 2, "zip", "97401", r"sites\.csv:4: zip: unknown California ZIP code '97401'"),
    ("members.csv", 1, "cin", "1234", r"members\.csv:3: cin: '1234' is not a Medi-Cal CIN \(8 digits and a letter\)"),
    ("referrals.csv", 3, "cin", "9345678C", r"referrals\.csv:5: cin: '9345678C' is not a Medi-Cal CIN"),
    ("contracts.csv", 0, "contracted_capacity", "-2",
     r"contracts\.csv:2: contracted_capacity: '-2': capacity cannot be below zero"),
    ("contracts.csv", 1, "sites", "PRV1-S1=-1",
     r"contracts\.csv:3: sites: '-1': site capacity cannot be below zero"),
    ("referrals.csv", 0, "service", "HOUSING", r"referrals\.csv:2: service: unknown service 'HOUSING'; expected one"),
    ("contracts.csv", 2, "service", "HOME_MODS", r"contracts\.csv:4: service: unknown service 'HOME_MODS'"),
    ("members.csv", 2, "prior_cs_providers", "PRV1:ASTHMA",
     r"members\.csv:4: prior_cs_providers: unknown service 'ASTHMA'"),
    ("members.csv", 1, "cin", "91234567A", r"members\.csv:3: cin: duplicate cin '91234567A' \(first on line 2\)"),
    ("providers.csv", 1, "provider_id", "PRV1",
     r"providers\.csv:3: provider_id: duplicate provider_id 'PRV1' \(first on line 2\)"),
    ("referrals.csv", 3, "referral_id", "R1", r"referrals\.csv:5: referral_id: duplicate referral_id 'R1'"),
    ("providers.csv", 1, "npi", "1234567893", r"providers\.csv:3: npi: duplicate npi '1234567893'"),
    ("members.csv", 0, "dob", "1961-02-30", r"members\.csv:2: dob: '1961-02-30' is not a valid date"),
    ("referrals.csv", 1, "received_date", "Oct 6", r"referrals\.csv:3: received_date: 'Oct 6' is not a date "
     r"\(YYYY-MM-DD or MM/DD/YYYY\)"),
    ("contracts.csv", 0, "effective_end", "2022-12-31",
     r"contracts\.csv:2: effective_end: 2022-12-31 is before effective_start 2023-01-01"),
    ("sites.csv", 0, "provider_id", "PRV9", r"sites\.csv:2: provider_id: unknown provider 'PRV9' \(not in "
     r"providers\.csv or the database\)"),
    ("contracts.csv", 0, "sites", "PRV1-S9", r"contracts\.csv:2: sites: unknown site 'PRV1-S9'"),
    ("contracts.csv", 0, "sites", "PRV2-S1", r"contracts\.csv:2: sites: site 'PRV2-S1' belongs to provider 'PRV2'"),
    ("referrals.csv", 2, "cin", "99999999Z", r"referrals\.csv:4: cin: unknown member '99999999Z'"),
    ("referrals.csv", 0, "preferred_providers", "PRV1;PRV7",
     r"referrals\.csv:2: preferred_providers: unknown provider 'PRV7'"),
    ("referrals.csv", 0, "excluded_providers", "PRV1:DECLINED",
     r"referrals\.csv:2: excluded_providers: provider 'PRV1' is both preferred and excluded"),
    ("referrals.csv", 0, "excluded_providers", "PRV2:BUSY",
     r"referrals\.csv:2: excluded_providers: 'BUSY' is not one of DECLINED, MEMBER_REFUSED"),
    ("members.csv", 0, "county", "Napa",
     r"members\.csv:2: county: 'Napa' does not match ZIP 95501 \(Humboldt County\)"),
    ("members.csv", 0, "county", "Narnia", r"members\.csv:2: county: unknown California county 'Narnia'"),
    ("providers.csv", 0, "npi", "1234567890",
     r"providers\.csv:2: npi: '1234567890' is not an NPI \(10 digits with a valid check digit\)"),
    ("providers.csv", 1, "npi", "12345", r"providers\.csv:3: npi: '12345' is not an NPI"),
    ("providers.csv", 1, "tin", "12345", r"providers\.csv:3: tin: '12345' is not a TIN \(9 digits\)"),
    ("contracts.csv", 2, "waitlist_consent_date", "",
     r"contracts\.csv:4: waitlist_consent_date: a waitlist needs the date of the plan's recorded consent"),
    ("contracts.csv", 1, "sites", "", r"contracts\.csv:3: sites: RECUPERATIVE_CARE is given at a provider site"),
    ("referrals.csv", 0, "status", "ACCEPTED", r"referrals\.csv:2: status: 'ACCEPTED' cannot be imported"),
    ("referrals.csv", 1, "units_needed", "0", r"referrals\.csv:3: units_needed: '0': units needed must be at least 1"),
    ("referrals.csv", 1, "source", "FAX", r"referrals\.csv:3: source: 'FAX' is not one of PLAN, PCP"),
    ("members.csv", 2, "last_name", "", r"members\.csv:4: last_name: a value is required"),
    ("members.csv", 2, "homeless", "yes", r"members\.csv:4: homeless: 'yes' is not Y or N"),
]


@pytest.mark.parametrize(("file", "index", "column", "value", "expected"), ERROR_CASES,
                         ids=[f"{c[0]}-{c[2]}-{c[3] or 'empty'}" for c in ERROR_CASES])
def test_bad_value_rejects_the_roster(
    db_session: Session, tmp_path: Path, tables: dict[str, list[dict[str, str]]],
    file: str, index: int, column: str, value: str, expected: str,
) -> None:
    tables[file][index][column] = value
    directory = write_roster(tmp_path / "bad", tables)

    with pytest.raises(RosterImportError, match=expected):
        load(db_session, directory)

    assert set(row_counts(db_session).values()) == {0}


def test_every_error_is_reported_in_file_and_line_order(
    db_session: Session, tmp_path: Path, tables: dict[str, list[dict[str, str]]]
) -> None:
    tables["members.csv"][2]["dob"] = "1975-13-01"
    tables["members.csv"][0]["zip"] = "00000"
    tables["contracts.csv"][0]["contracted_capacity"] = "-1"
    tables["referrals.csv"][1]["service"] = "NAP"
    del tables["sites.csv"][0]["city"], tables["sites.csv"][1]["city"], tables["sites.csv"][2]["city"]

    with pytest.raises(RosterImportError) as raised:
        load(db_session, write_roster(tmp_path / "bad", tables))

    assert str(raised.value).splitlines() == [
        "sites.csv:1: city: required column is missing",
        "contracts.csv:2: contracted_capacity: '-1': capacity cannot be below zero",
        "members.csv:2: zip: unknown California ZIP code '00000'",
        "members.csv:4: dob: '1975-13-01' is not a valid date",
        "referrals.csv:3: service: unknown service 'NAP'; expected one of HOUSING_NAV, HOUSING_DEPOSIT, "
        "HOUSING_TENANCY, POST_HOSP_HOUSING, RECUPERATIVE_CARE, MEALS, RESPITE, PERSONAL_CARE, SOBERING, DAY_HAB",
    ]
    assert raised.value.errors[0] == RosterError("sites.csv", 1, "city", "required column is missing")
    assert set(row_counts(db_session).values()) == {0}


def test_line_numbers_count_blank_lines(db_session: Session, roster_dir: Path) -> None:
    path = roster_dir / "members.csv"
    lines = path.read_text().splitlines()
    lines.insert(2, "")
    lines[3] = lines[3].replace("92345678b", "x")
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(RosterImportError, match=r"^members\.csv:4: cin: 'x' is not a Medi-Cal CIN"):
        load(db_session, roster_dir)


def test_changing_the_service_of_a_loaded_contract_is_an_error(
    db_session: Session, tmp_path: Path, tables: dict[str, list[dict[str, str]]]
) -> None:
    load(db_session, write_roster(tmp_path / "first", tables))
    tables["contracts.csv"][0]["service"] = "HOUSING_TENANCY"

    with pytest.raises(RosterImportError, match=r"contracts\.csv:2: service: contract 'C1' is for 'HOUSING_NAV'"):
        validate_roster(db_session, write_roster(tmp_path / "second", tables), today=TODAY)


def test_missing_directory_and_empty_directory_are_errors(db_session: Session, tmp_path: Path) -> None:
    with pytest.raises(RosterImportError, match="not a directory"):
        load(db_session, tmp_path / "nope")
    with pytest.raises(RosterImportError, match=r"no roster file \(providers\.csv"):
        load(db_session, tmp_path)


# The demo set and the CLI -------------------------------------------------------------------------


def test_demo_set_loads_cleanly(db_session: Session) -> None:
    summary = load(db_session, DEMO_DIR)

    assert summary.warnings == ()
    assert {name: c.added for name, c in summary.files.items()} == {
        "providers.csv": 60, "sites.csv": 94, "contracts.csv": 104, "members.csv": 1500, "referrals.csv": 2000,
    }
    assert count(db_session, ReferralStatusChange) == 2000


@pytest.fixture
def cli_url(committing_engine: Engine) -> Iterator[str]:
    yield committing_engine.url.render_as_string(hide_password=False)


def test_cli_load_prints_a_summary(cli_url: str, roster_dir: Path) -> None:
    from csmatch.cli import main

    result = CliRunner().invoke(main, ["--database-url", cli_url, "load", str(roster_dir)],
                                env={"CSMATCH_ACTOR": "pr@plan.org"})

    assert result.exit_code == 0, result.output
    assert "15 added, 0 changed." in result.stdout
    assert "4 rows: 4 added, 0 changed, 0 unchanged" in result.stdout


def test_cli_load_fails_with_the_error_list_and_writes_nothing(
    cli_url: str, committing_engine: Engine, tmp_path: Path, tables: dict[str, list[dict[str, str]]]
) -> None:
    from csmatch.cli import main

    tables["members.csv"][1]["zip"] = "1234"
    tables["contracts.csv"][0]["contracted_capacity"] = "-3"
    directory = write_roster(tmp_path / "bad", tables)

    result = CliRunner().invoke(main, ["--database-url", cli_url, "load", str(directory)])

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Roster rejected, nothing was written: 2 error(s).",
        "contracts.csv:2: contracted_capacity: '-3': capacity cannot be below zero",
        "members.csv:3: zip: malformed ZIP code '1234': expected 5 digits or ZIP+4",
    ]
    with Session(committing_engine) as session:
        assert count(session, Member) == 0


def test_cli_load_check_writes_nothing(cli_url: str, committing_engine: Engine, roster_dir: Path) -> None:
    from csmatch.cli import main

    result = CliRunner().invoke(main, ["--database-url", cli_url, "load", "--check", str(roster_dir)])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{roster_dir}: 15 rows in 5 files are valid; nothing written.")
    with Session(committing_engine) as session:
        assert count(session, Provider) == 0
