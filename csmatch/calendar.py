"""Business days on the California state calendar, for the MCAP7003 clocks.

The clocks (referral sent to a provider within 10 business days of receipt, VI.C.3; provider answer
within 2, VI.C.3.a-c; capacity changes reported within 5, VI.E.6) count business days: Monday to
Friday, except the state holidays of Gov. Code 19853 (data-exchange.md §6).

The holiday list is data, not code: ``csmatch/data/ca_state_holidays.csv`` holds 2024-2027, one row
per holiday with the date offices close (``date``), the holiday's own date (``actual_date``) and the
rule linking them (``observed_rule``). A Saturday holiday is not moved (except Veterans Day, moved to
Friday), so 2026-07-04 and 2027-12-25 close no weekday. Replace the file with the
``CSMATCH_HOLIDAYS_FILE`` environment variable or an explicit path.

Counting convention
-------------------
``business_days_between(start, end)`` counts the business days **after** ``start`` up to **and
including** ``end``: a referral received on Wednesday and sent on Thursday took 1 business day, sent
the same day 0. ``add_business_days(d, n)`` is the inverse: the ``n``-th business day after ``d``,
so ``business_days_between(d, add_business_days(d, n)) == n``. The receipt day never counts, even
when it is itself a business day; a referral received on a Saturday is at 1 on Monday.

Years without data
------------------
Every date a calculation touches must fall in a year the file covers (a year with at least one row);
otherwise :class:`CalendarRangeError` is raised. A clock in 2028 with no 2028 holidays would silently
count New Year's Day as a business day, so csmatch stops instead of guessing (a warning would be an
error anyway under the project's ``filterwarnings = error``).

The ``holidays`` package is not used: its US/CA calendar moves Saturday holidays to Friday and adds
days state offices do not close (Juneteenth, Susan B. Anthony Day); see the calendar tests.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_HOLIDAYS_FILE",
    "HOLIDAYS_FILE_ENV",
    "CalendarRangeError",
    "Holiday",
    "HolidayCalendar",
    "HolidayFileError",
    "ObservedRule",
    "default_calendar",
    "span_covers",
]

DEFAULT_HOLIDAYS_FILE = Path(__file__).parent / "data" / "ca_state_holidays.csv"
HOLIDAYS_FILE_ENV = "CSMATCH_HOLIDAYS_FILE"

_SATURDAY, _SUNDAY = 5, 6


class ObservedRule(StrEnum):
    """How a holiday's own date maps to the day offices close (Gov. Code 19853(a)-(b))."""

    ON_DATE = "ON_DATE"  # a weekday: closed that day
    SUNDAY_TO_MONDAY = "SUNDAY_TO_MONDAY"  # any Sunday holiday: closed the Monday after
    SATURDAY_TO_FRIDAY = "SATURDAY_TO_FRIDAY"  # Veterans Day only: closed the Friday before
    SATURDAY_NOT_MOVED = "SATURDAY_NOT_MOVED"  # any other Saturday holiday: no weekday closure


class HolidayFileError(ValueError):
    """A holiday file that cannot be used; the message names file, line and column of every error."""


class CalendarRangeError(ValueError):
    """A date in a year the holiday data does not cover."""


@dataclass(frozen=True, slots=True)
class Holiday:
    """One state holiday: ``date`` is the day offices close, or the Saturday itself if not moved."""

    date: dt.date
    name: str
    actual_date: dt.date
    observed_rule: ObservedRule
    notes: str = ""

    def rule_error(self) -> str | None:
        """Return why ``date`` does not follow from ``actual_date`` and the rule, or None."""
        weekday = self.actual_date.weekday()
        expected: dt.date | None
        if self.observed_rule is ObservedRule.ON_DATE:
            expected = self.actual_date if weekday < _SATURDAY else None
        elif self.observed_rule is ObservedRule.SUNDAY_TO_MONDAY:
            expected = self.actual_date + dt.timedelta(days=1) if weekday == _SUNDAY else None
        elif self.observed_rule is ObservedRule.SATURDAY_TO_FRIDAY:
            expected = self.actual_date - dt.timedelta(days=1) if weekday == _SATURDAY else None
        else:
            expected = self.actual_date if weekday == _SATURDAY else None
        if expected is None:
            day = self.actual_date.strftime("%A")
            return f"{self.observed_rule.value} does not apply to {self.actual_date} ({day})"
        if expected != self.date:
            return f"{self.observed_rule.value} puts {self.actual_date} on {expected}, not {self.date}"
        return None

    @property
    def closes_offices(self) -> bool:
        """Whether the holiday closes offices on a weekday (False for a Saturday not moved)."""
        return self.date.weekday() < _SATURDAY


@dataclass(frozen=True)
class HolidayCalendar:
    """State business-day calendar over the years its holiday data covers.

    ``years`` defaults to the years of the holidays given; a year listed there with no holidays is
    taken as a year with none.

    Examples
    --------
    >>> from datetime import date
    >>> cal = default_calendar()
    >>> received = date(2026, 11, 25)  # Wednesday before Thanksgiving
    >>> cal.due_date(received, 2)
    datetime.date(2026, 12, 1)
    >>> cal.business_days_between(received, date(2026, 11, 30))
    1
    >>> cal.is_business_day(date(2026, 7, 3))  # July 4 2026 is a Saturday and is not moved
    True
    """

    holidays: frozenset[Holiday]
    years: frozenset[int] = frozenset()
    source: str = field(default="<memory>", compare=False)
    _numpy_calendar: np.busdaycalendar = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.years:
            object.__setattr__(self, "years", frozenset(h.date.year for h in self.holidays))
        if not self.years:
            raise HolidayFileError(f"{self.source}: no holidays, so no year is covered")
        outside = sorted(h.date for h in self.holidays if h.date.year not in self.years)
        if outside:
            raise HolidayFileError(
                f"{self.source}: holidays {outside} lie outside years {sorted(self.years)}"
            )
        closed = sorted({h.date for h in self.holidays if h.closes_offices})
        object.__setattr__(self, "_numpy_calendar", np.busdaycalendar(holidays=closed))

    @classmethod
    def from_csv(cls, path: str | Path) -> HolidayCalendar:
        """Read a holiday file (columns date, name, actual_date, observed_rule, notes; ISO dates).

        Every row is checked, and ``date`` must follow from ``actual_date`` by ``observed_rule``.

        Raises
        ------
        HolidayFileError
            Listing every bad row as file, line, column and message.
        """
        path = Path(path)
        holidays: list[Holiday] = []
        errors: list[str] = []
        seen: dict[dt.date, int] = {}
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {"date", "name", "actual_date", "observed_rule"} - set(reader.fieldnames or ())
            if missing:
                raise HolidayFileError(f"{path.name}, line 1: missing column(s) {sorted(missing)}")
            for line, row in enumerate(reader, start=2):
                where = f"{path.name}, line {line}"
                parsed: dict[str, dt.date] = {}
                for column in ("date", "actual_date"):
                    try:
                        parsed[column] = dt.date.fromisoformat((row[column] or "").strip())
                    except ValueError:
                        errors.append(f"{where}, column {column}: {row[column]!r} is not a YYYY-MM-DD date")
                try:
                    rule = ObservedRule((row["observed_rule"] or "").strip())
                except ValueError:
                    allowed = [r.value for r in ObservedRule]
                    errors.append(
                        f"{where}, column observed_rule: {row['observed_rule']!r} is not one of {allowed}"
                    )
                    continue
                name = (row["name"] or "").strip()
                if not name:
                    errors.append(f"{where}, column name: empty")
                if len(parsed) < 2:
                    continue
                holiday = Holiday(
                    parsed["date"], name, parsed["actual_date"], rule, (row.get("notes") or "").strip()
                )
                if (problem := holiday.rule_error()) is not None:
                    errors.append(f"{where}, column date: {problem}")
                if holiday.date in seen:
                    errors.append(
                        f"{where}, column date: {holiday.date} already on line {seen[holiday.date]}"
                    )
                seen.setdefault(holiday.date, line)
                holidays.append(holiday)
        if errors:
            raise HolidayFileError("; ".join(errors))
        return cls(frozenset(holidays), source=str(path))

    def _check_range(self, first: dt.date, last: dt.date) -> None:
        uncovered = [y for y in range(first.year, last.year + 1) if y not in self.years]
        if uncovered:
            covered = f"{min(self.years)}-{max(self.years)}" if self.years else "none"
            raise CalendarRangeError(
                f"no state holiday data for {uncovered} (needed for {first} to {last}; "
                f"{self.source} covers {covered}): add those years' holidays to the holiday file"
            )

    def is_business_day(self, d: dt.date) -> bool:
        """Return whether ``d`` is a Monday-Friday that is not a state office closure.

        Raises
        ------
        CalendarRangeError
            If ``d``'s year is not covered by the holiday data.
        """
        self._check_range(d, d)
        return bool(np.is_busday(np.datetime64(d, "D"), busdaycal=self._numpy_calendar))

    def add_business_days(self, d: dt.date, n: int) -> dt.date:
        """Return the ``n``-th business day after ``d`` (``d`` itself when ``n`` is 0).

        ``d`` need not be a business day: Saturday plus 1 is the next business day.

        Raises
        ------
        ValueError
            If ``n`` is negative.
        CalendarRangeError
            If the walk leaves the years the holiday data covers.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0 business days, got {n!r}")
        if n == 0:
            self._check_range(d, d)
            return d
        # roll a non-business start back to the business day before it, then step forward n
        result = np.busday_offset(np.datetime64(d, "D"), n, roll="backward", busdaycal=self._numpy_calendar)
        end: dt.date = result.astype(dt.date)
        self._check_range(d, end)
        return end

    def business_days_between(self, start: dt.date, end: dt.date) -> int:
        """Return the number of business days after ``start`` up to and including ``end``.

        Negative when ``end`` is before ``start`` (``-business_days_between(end, start)``).

        Raises
        ------
        CalendarRangeError
            If a year from ``start`` to ``end`` is not covered by the holiday data.
        """
        self._check_range(min(start, end), max(start, end))
        one = dt.timedelta(days=1)
        # numpy counts [begin, end): shift both by a day to count (start, end]
        count = np.busday_count(
            np.datetime64(start + one, "D"), np.datetime64(end + one, "D"), busdaycal=self._numpy_calendar
        )
        return int(count)

    def business_days_between_days(self, start: npt.NDArray[np.datetime64],
                                   end: npt.NDArray[np.datetime64]) -> npt.NDArray[np.int64]:
        """:meth:`business_days_between` element-wise, for arrays of days (``datetime64[D]``).

        Raises
        ------
        CalendarRangeError
            If a year from some ``start`` to its ``end`` is not covered by the holiday data.
        """
        start, end = np.asarray(start, dtype="datetime64[D]"), np.asarray(end, dtype="datetime64[D]")
        low, high = np.minimum(start, end), np.maximum(start, end)
        first_year = low.astype("datetime64[Y]").astype(np.int64) + 1970
        last_year = high.astype("datetime64[Y]").astype(np.int64) + 1970
        for first, last in np.unique(np.stack([first_year, last_year]), axis=1).T.tolist():  # each span of years once
            if any(year not in self.years for year in range(first, last + 1)):
                spans = (first_year == first) & (last_year == last)
                self._check_range(low[spans].min().astype(dt.date), high[spans].max().astype(dt.date))
        one = np.timedelta64(1, "D")  # numpy counts [begin, end): shift both by a day to count (start, end]
        counts = np.busday_count(start + one, end + one, busdaycal=self._numpy_calendar)
        return np.asarray(counts, dtype=np.int64)

    def due_date(self, received: dt.date, n_business_days: int) -> dt.date:
        """Return the last day that meets an ``n``-business-day clock started on ``received``.

        Work done on or before the due date is on time:
        ``business_days_between(received, done) <= n_business_days``.
        """
        return self.add_business_days(received, n_business_days)


@functools.cache
def span_covers(start: dt.date, end: dt.date | None, on: dt.date) -> bool:
    """Whether a span of days, both ends included (``end`` None: open), covers ``on``: a member's
    Medi-Cal eligibility, a contract's effective dates.

    >>> span_covers(dt.date(2026, 1, 1), None, dt.date(2026, 11, 25))
    True
    """
    return start <= on and (end is None or on <= end)


def _load(path: str) -> HolidayCalendar:
    return HolidayCalendar.from_csv(path)


def default_calendar(path: str | Path | None = None) -> HolidayCalendar:
    """Return the configured holiday calendar, read once per file.

    The file is ``path`` if given, else the ``CSMATCH_HOLIDAYS_FILE`` environment variable if set,
    else the packaged ``csmatch/data/ca_state_holidays.csv``.

    Examples
    --------
    >>> sorted(default_calendar().years)
    [2024, 2025, 2026, 2027]
    """
    chosen = path if path is not None else os.environ.get(HOLIDAYS_FILE_ENV) or DEFAULT_HOLIDAYS_FILE
    return _load(str(Path(chosen).resolve()))
