"""Reading roster CSVs into typed rows, collecting every bad value instead of stopping at the first.

Each column has a parser: a function from the stripped text to a value that raises ``ValueError``
with a message naming the value. A file is read with pandas as strings (``keep_default_na=False``:
"NA" is a name, not a missing value), and each column is parsed once per *distinct* value, which is
what makes 250,000 rows cheap: dates, ZIPs and service keys repeat.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from exchange.errors import RosterError

__all__ = [
    "Column",
    "Table",
    "npi_check_digit",
    "parse_bool",
    "parse_choice",
    "parse_cin",
    "parse_date",
    "parse_enum",
    "parse_float",
    "parse_identifier",
    "parse_int",
    "parse_language",
    "parse_list",
    "parse_npi",
    "parse_phone",
    "parse_text",
    "parse_tin",
    "read_table",
]

Parser = Callable[[str], Any]
_E = TypeVar("_E", bound=StrEnum)

_CIN = re.compile(r"^\d{8}[A-Z]$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_US_DATE = re.compile(r"^(\d{1,2})([/-])(\d{1,2})\2(\d{4})$")
_INT = re.compile(r"^[+-]?\d+$")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True, slots=True)
class Column:
    """One CSV column: its parser, whether a value is required, and the value of an empty cell."""

    name: str
    parse: Parser
    required: bool = False
    default: Any = None


@dataclass(slots=True)
class Table:
    """A parsed file: one dict per data row (``"line"`` holds its CSV line number)."""

    file: str
    rows: list[dict[str, Any]]
    columns: tuple[str, ...]


# Value parsers ---------------------------------------------------------------------------------


def parse_text(max_length: int) -> Parser:
    """Text of at most ``max_length`` characters (the column's size in the database)."""

    def parse(raw: str) -> str:
        if len(raw) > max_length:
            raise ValueError(f"{raw[:40]!r}... is longer than {max_length} characters")
        return raw

    return parse


def parse_identifier(max_length: int) -> Parser:
    """An identifier: letters, digits, ``.``, ``_``, ``-`` (no ``;``, ``:`` or ``=``, the list separators)."""

    def parse(raw: str) -> str:
        if len(raw) > max_length or not _IDENTIFIER.match(raw):
            raise ValueError(
                f"{raw!r} is not an identifier (up to {max_length} letters, digits, '.', '_' or '-')"
            )
        return raw

    return parse


def parse_cin(raw: str) -> str:
    """A Medi-Cal Client Index Number: 8 digits and a letter (assumed format, data-exchange.md §2)."""
    value = raw.upper()
    if not _CIN.match(value):
        raise ValueError(f"{raw!r} is not a Medi-Cal CIN (8 digits and a letter)")
    return value


def parse_date(raw: str) -> dt.date:
    """``YYYY-MM-DD``; ``MM/DD/YYYY`` and ``MM-DD-YYYY`` are accepted too (data-exchange.md §1)."""
    if match := _ISO_DATE.match(raw):
        year, month, day = int(match[1]), int(match[2]), int(match[3])
    elif match := _US_DATE.match(raw):
        year, month, day = int(match[4]), int(match[1]), int(match[3])
    else:
        raise ValueError(f"{raw!r} is not a date (YYYY-MM-DD or MM/DD/YYYY)")
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValueError(f"{raw!r} is not a valid date") from None


def parse_int(minimum: int, what: str = "value") -> Parser:
    """A whole number of at least ``minimum``; ``what`` names it in the message."""

    def parse(raw: str) -> int:
        if not _INT.match(raw):
            raise ValueError(f"{raw!r} is not a whole number")
        value = int(raw)
        if value < minimum:
            if minimum == 0:
                raise ValueError(f"{raw!r}: {what} cannot be below zero")
            raise ValueError(f"{raw!r}: {what} must be at least {minimum}")
        return value

    return parse


def parse_float(low: float, high: float, *, low_inclusive: bool = True) -> Parser:
    """A number within ``[low, high]`` (or ``(low, high]``)."""

    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{raw!r} is not a number") from None
        too_low = value < low if low_inclusive else value <= low
        if too_low or value > high or value != value:
            bracket = "[" if low_inclusive else "("
            raise ValueError(f"{raw!r} is outside {bracket}{low:g}, {high:g}]")
        return value

    return parse


def parse_bool(raw: str) -> bool:
    """``Y`` or ``N`` (any case)."""
    value = raw.upper()
    if value == "Y":
        return True
    if value == "N":
        return False
    raise ValueError(f"{raw!r} is not Y or N")


def parse_enum(enum: type[_E]) -> Callable[[str], _E]:
    """One value of a closed list (upper case); the message lists the allowed values."""

    def parse(raw: str) -> _E:
        try:
            return enum(raw.upper())
        except ValueError:
            raise ValueError(f"{raw!r} is not one of {', '.join(enum)}") from None

    return parse


def parse_choice(allowed: Sequence[str]) -> Parser:
    """One value of a closed list of codes, compared in upper case."""
    allowed_set = frozenset(allowed)

    def parse(raw: str) -> str:
        value = raw.upper()
        if value not in allowed_set:
            raise ValueError(f"{raw!r} is not one of {', '.join(allowed)}")
        return value

    return parse


def parse_language(raw: str) -> str:
    """A language name, capitalised when it was typed all in one case ("spanish" -> "Spanish")."""
    value = " ".join(raw.split())
    if len(value) > 40:
        raise ValueError(f"{raw!r} is longer than 40 characters")
    if value.islower() or value.isupper():
        value = value.title()
    return value


def parse_list(item: Parser) -> Callable[[str], tuple[Any, ...]]:
    """A ``;``-separated list: items stripped and parsed, empty items dropped, repeats removed."""

    def parse(raw: str) -> tuple[Any, ...]:
        values: list[Any] = []
        for part in raw.split(";"):
            part = part.strip()
            if part:
                value = item(part)
                if value not in values:
                    values.append(value)
        return tuple(values)

    return parse


def _digits(raw: str) -> str:
    return re.sub(r"[\s().+/-]", "", raw)


def parse_phone(raw: str) -> str:
    """A 10-digit US phone number; spaces, dashes, dots, parentheses and a leading 1 are dropped."""
    value = _digits(raw)
    if len(value) == 11 and value.startswith("1"):
        value = value[1:]
    if len(value) != 10 or not value.isdigit():
        raise ValueError(f"{raw!r} is not a 10-digit phone number")
    return value


def parse_tin(raw: str) -> str:
    """A 9-digit Taxpayer Identification Number (``12-3456789`` accepted)."""
    value = raw.replace("-", "")
    if len(value) != 9 or not value.isdigit():
        raise ValueError(f"{raw!r} is not a TIN (9 digits)")
    return value


def npi_check_digit(first_nine: str) -> int:
    """The NPI check digit: Luhn over ``80840`` + the first nine digits (CMS NPI standard).

    >>> npi_check_digit("123456789")
    3
    """
    total = 24  # the Luhn sum of the 80840 prefix, as CMS specifies
    for position, char in enumerate(reversed(first_nine)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def parse_npi(raw: str) -> str:
    """A National Provider Identifier: 10 digits whose last is the Luhn check digit.

    >>> parse_npi("1234567893")
    '1234567893'
    """
    if len(raw) != 10 or not raw.isdigit() or npi_check_digit(raw[:9]) != int(raw[9]):
        raise ValueError(f"{raw!r} is not an NPI (10 digits with a valid check digit)")
    return raw


# Reading a file ---------------------------------------------------------------------------------

_PARSER_LINE = re.compile(r"line (\d+)")


def read_table(
    path: Path, columns: Sequence[Column], errors: list[RosterError], warnings: list[RosterError]
) -> Table:
    """Read and parse one CSV file, adding every bad value to ``errors``.

    Values of bad cells are ``None`` in the rows; the caller stops before writing if there is any
    error, so a row is never written half-parsed. Unknown columns are a warning (they are ignored).
    """
    file = path.name
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, skip_blank_lines=False, encoding="utf-8-sig"
        )
    except pd.errors.EmptyDataError:
        errors.append(RosterError(file, 0, "", "the file is empty (no header line)"))
        return Table(file, [], ())
    except pd.errors.ParserError as exc:
        found = _PARSER_LINE.search(str(exc))
        errors.append(RosterError(file, int(found[1]) if found else 0, "", f"not a valid CSV file: {exc}"))
        return Table(file, [], ())
    except UnicodeDecodeError as exc:
        errors.append(RosterError(file, 0, "", f"not UTF-8 text: {exc}"))
        return Table(file, [], ())

    frame.columns = pd.Index([str(name).strip().lower() for name in frame.columns])
    known = {column.name for column in columns}
    for name in frame.columns:
        if name not in known:
            warnings.append(RosterError(file, 1, name, "unknown column, ignored"))
    missing = {column.name for column in columns if column.required and column.name not in frame.columns}
    for name in sorted(missing):
        errors.append(RosterError(file, 1, name, "required column is missing"))

    frame = frame.fillna("")
    present = [column.name for column in columns if column.name in frame.columns]
    if present:  # blank lines (all cells empty) are skipped, but keep their line numbers counted
        blank = (frame[present] == "").all(axis=1)
        frame = frame[~blank]
    lines = [int(index) + 2 for index in frame.index]

    parsed: dict[str, list[Any]] = {}
    for column in columns:
        if column.name not in frame.columns:
            parsed[column.name] = [column.default] * len(lines)
            continue
        parsed[column.name] = _parse_column(
            file, column, frame[column.name].tolist(), lines, errors, report_missing=column.name not in missing
        )
    names = [column.name for column in columns]
    rows = [dict(zip(names, values, strict=True), line=line) for line, *values in
            zip(lines, *(parsed[name] for name in names), strict=True)]
    return Table(file, rows, tuple(frame.columns))


def _parse_column(
    file: str, column: Column, raw: list[str], lines: list[int], errors: list[RosterError],
    *, report_missing: bool,
) -> list[Any]:
    """Parse each distinct value once (stripped of spaces); report every row holding a bad or missing one."""
    values: dict[str, Any] = {}
    failures: dict[str, str] = {}
    for original in set(raw):
        text = original.strip()
        if text == "":
            if column.required:
                failures[original] = "a value is required"
            else:
                values[original] = column.default
            continue
        try:
            values[original] = column.parse(text)
        except ValueError as exc:
            failures[original] = str(exc)
    if failures:
        for line, text in zip(lines, raw, strict=True):
            if text in failures and (text.strip() != "" or report_missing):
                errors.append(RosterError(file, line, column.name, failures[text]))
    return [values.get(text) for text in raw]
