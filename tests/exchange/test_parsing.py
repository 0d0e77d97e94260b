"""Value parsers of the roster import: each accepts what the format allows and names what it refuses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from exchange.parsing import (
    npi_check_digit,
    parse_cin,
    parse_date,
    parse_float,
    parse_int,
    parse_language,
    parse_list,
    parse_npi,
    parse_phone,
    parse_tin,
)


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-11-20", dt.date(2026, 11, 20)),
    ("2026-1-2", dt.date(2026, 1, 2)),
    ("11/20/2026", dt.date(2026, 11, 20)),
    ("1/2/2026", dt.date(2026, 1, 2)),
    ("11-20-2026", dt.date(2026, 11, 20)),
    ("02/29/2024", dt.date(2024, 2, 29)),
])
def test_parse_date_accepts_iso_and_us_dates(raw: str, expected: dt.date) -> None:
    assert parse_date(raw) == expected


@pytest.mark.parametrize(("parser", "raw", "message"), [
    (parse_date, "20/11/2026", r"'20/11/2026' is not a valid date"),
    (parse_date, "02/29/2025", r"'02/29/2025' is not a valid date"),
    (parse_date, "11/20-2026", r"is not a date \(YYYY-MM-DD or MM/DD/YYYY\)"),
    (parse_date, "2026/11/20", r"is not a date"),
    (parse_cin, "12345678", r"'12345678' is not a Medi-Cal CIN"),
    (parse_cin, "123456789", r"is not a Medi-Cal CIN"),
    (parse_cin, "1234567AB", r"is not a Medi-Cal CIN"),
    (parse_npi, "1234567894", r"'1234567894' is not an NPI \(10 digits with a valid check digit\)"),
    (parse_npi, "123456789X", r"is not an NPI"),
    (parse_tin, "12-345678", r"is not a TIN"),
    (parse_phone, "555-0123", r"'555-0123' is not a 10-digit phone number"),
    (parse_int(0, "capacity"), "-1", r"'-1': capacity cannot be below zero"),
    (parse_int(0, "capacity"), "2.5", r"'2.5' is not a whole number"),
    (parse_int(1, "units needed"), "0", r"'0': units needed must be at least 1"),
    (parse_float(0, 24, low_inclusive=False), "0", r"'0' is outside \(0, 24\]"),
    (parse_float(-90, 90), "nan", r"'nan' is outside \[-90, 90\]"),
    (parse_float(-90, 90), "north", r"'north' is not a number"),
])
def test_parsers_name_the_bad_value(parser: Callable[[str], Any], raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parser(raw)


def test_parse_cin_upper_cases_the_letter() -> None:
    assert parse_cin("91234567a") == "91234567A"


def test_npi_check_digit_matches_the_cms_example() -> None:
    # CMS "NPI check digit" example: 123456789 -> 3.
    assert npi_check_digit("123456789") == 3
    assert parse_npi("1234567893") == "1234567893"


def test_phone_and_tin_drop_punctuation() -> None:
    assert parse_phone("+1 (707) 555.0123") == "7075550123"
    assert parse_tin("94-1234567") == "941234567"


def test_lists_drop_empty_items_and_repeats() -> None:
    assert parse_list(parse_language)(" spanish; English;;SPANISH ;Tagalog") == ("Spanish", "English", "Tagalog")
    assert parse_list(parse_language)("") == ()
