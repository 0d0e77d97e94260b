"""The service catalogue as data (7003 VI.A, VI.F; data-exchange.md §5)."""

import doctest
import shutil
from datetime import date
from pathlib import Path

import pytest

from csmatch.catalog import (
    DEFAULT_CODES_FILE,
    DEFAULT_SERVICES_FILE,
    BillingUnit,
    CapacityUnit,
    CareSetting,
    CatalogFileError,
    UnknownServiceError,
    is_offered,
    load_service_catalog,
)

TEN = [
    "HOUSING_NAV", "HOUSING_DEPOSIT", "HOUSING_TENANCY", "POST_HOSP_HOUSING", "RECUPERATIVE_CARE",
    "MEALS", "RESPITE", "PERSONAL_CARE", "SOBERING", "DAY_HAB",
]  # fmt: skip


def test_catalog_has_the_ten_services() -> None:
    assert list(load_service_catalog()) == TEN


@pytest.mark.parametrize(
    ("key", "first_day"),
    [("HOUSING_NAV", date(2022, 1, 1)), ("MEALS", date(2022, 1, 1)), ("RESPITE", date(2023, 1, 1)),
     ("PERSONAL_CARE", date(2023, 1, 1)), ("SOBERING", date(2024, 7, 1)), ("DAY_HAB", date(2025, 1, 1))],
)  # fmt: skip
def test_is_offered_exactly_from_first_day(key: str, first_day: date) -> None:
    assert is_offered(key, first_day)
    assert not is_offered(key, date.fromordinal(first_day.toordinal() - 1))


def test_sobering_uses_vi_f_9_date_and_notes_discrepancy() -> None:
    sobering = load_service_catalog()["SOBERING"]
    assert sobering.offered_from == date(2024, 7, 1)
    assert "VI.A.4" in sobering.notes and "2025-01-01" in sobering.notes
    assert sobering.offered_until is None


def test_site_based_services() -> None:
    catalog = load_service_catalog()
    assert {k for k, s in catalog.items() if s.site_based} == {
        "POST_HOSP_HOUSING",
        "RECUPERATIVE_CARE",
        "SOBERING",
    }
    assert catalog["RESPITE"].care_setting is CareSetting.HOME_OR_OUT_OF_HOME_SITE
    assert "out-of-home" in catalog["RESPITE"].notes


def test_capacity_units() -> None:
    catalog = load_service_catalog()
    assert catalog["RESPITE"].capacity_unit is CapacityUnit.HOUR
    assert catalog["PERSONAL_CARE"].capacity_unit is CapacityUnit.HOUR_PER_WEEK
    assert catalog["SOBERING"].capacity_unit is CapacityUnit.BED
    assert catalog["DAY_HAB"].capacity_unit is CapacityUnit.PROGRAM_SEAT


def test_codes_key_on_code_and_modifier() -> None:
    catalog = load_service_catalog()
    pairs = [(c.code, c.modifier) for s in catalog.values() for c in s.codes]
    assert len(pairs) == len(set(pairs))
    # same code, different modifier, different service
    owner = {(c.code, c.modifier): k for k, s in catalog.items() for c in s.codes}
    assert owner["H0043", "U6"] == "HOUSING_NAV" and owner["H0043", "U3"] == "POST_HOSP_HOUSING"
    assert owner["H0044", "U2"] == "HOUSING_DEPOSIT" and owner["H0044", "U3"] == "POST_HOSP_HOUSING"
    respite = {c.code: c for c in catalog["RESPITE"].codes}
    assert set(respite) == {"H0045", "S5151", "S9125"}
    assert respite["H0045"].unit is BillingUnit.PER_DIEM


def test_policy_refs_fit_the_database_column() -> None:
    # csmatch.models.Service.policy_ref is String(60); ServiceCode.description String(200)
    for service in load_service_catalog().values():
        assert len(service.policy_ref) <= 60
        assert all(len(c.description) <= 200 for c in service.codes)


def test_is_offered_unknown_key_names_it() -> None:
    with pytest.raises(UnknownServiceError, match="'TRANSITIONAL_RENT'"):
        is_offered("TRANSITIONAL_RENT", date(2026, 1, 1))


def test_offered_until_is_inclusive(tmp_path: Path) -> None:
    services = tmp_path / "services.csv"
    text = DEFAULT_SERVICES_FILE.read_text(encoding="utf-8")
    meals_row = "MEALS,Meals/Medically Tailored Meals,2022-01-01,"
    services.write_text(text.replace(meals_row + ",", meals_row + "2026-06-30,"), encoding="utf-8")
    shutil.copy(DEFAULT_CODES_FILE, tmp_path / "hcpcs_codes.csv")
    meals = load_service_catalog(services)["MEALS"]
    assert meals.is_offered(date(2026, 6, 30))
    assert not meals.is_offered(date(2026, 7, 1))


def test_load_collects_every_error(tmp_path: Path) -> None:
    services = tmp_path / "services.csv"
    services.write_text(
        "key,name,offered_from,offered_until,capacity_unit,care_setting,site_based,limits,policy_ref,notes\n"
        "MEALS,Meals,2022-01-01,2021-01-01,MEAL_PER_WEEK,HOME,N,,,\n"
        "MEALS,Meals,2022-01-01,,MEALS,HOME,maybe,,,\n"
        "BEDS,Beds,01/01/2022,,BED,PROVIDER_SITE,Y,,,\n",
        encoding="utf-8",
    )
    codes = tmp_path / "codes.csv"
    codes.write_text(
        "service_key,code,modifier,unit,description,status,notes\n"
        "MEALS,S5170,U6,PER_MEAL,meal,P2,\n"
        "MEALS,S5170,U6,PER_MEAL,meal,P2,\n"
        "ASTHMA,S5165,U55,PER_YEAR,x,Z,\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogFileError) as info:
        load_service_catalog(services, codes)
    message = str(info.value)
    for expected in [
        "services.csv, line 2, column offered_until: 2021-01-01 is before offered_from 2022-01-01",
        "services.csv, line 3, column key: 'MEALS' listed twice",
        "services.csv, line 3, column capacity_unit: 'MEALS' is not one of",
        "services.csv, line 3, column site_based: 'maybe' is not Y or N",
        "services.csv, line 3, column key: 'MEALS' has no HCPCS code in codes.csv",
        "services.csv, line 4, column offered_from: '01/01/2022' is not a YYYY-MM-DD date",
        "codes.csv, line 3, column code: S5170-U6 already at codes.csv, line 2",
        "codes.csv, line 4, column modifier: 'U55' is not a 2-character modifier",
        "codes.csv, line 4, column status: 'Z'",
        "codes.csv, line 4, column unit: 'PER_YEAR' is not one of",
    ]:
        assert expected in message


def test_docstring_examples_run() -> None:
    """pytest's --doctest-modules covers geo/ and matcher/ only; run this module's Examples here."""
    import csmatch.catalog as catalog_module

    result = doctest.testmod(catalog_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
