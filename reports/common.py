"""What every report shares: the reporting period, month labels, and business-day arithmetic.

Business days are counted on the state calendar exactly as the clocks count them
(:meth:`csmatch.calendar.HolidayCalendar.business_days_between`: the start day never counts).
A report touches many rows but few distinct dates, so the arithmetic is memoised per distinct
pair of dates and joined back, instead of being repeated per row.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from csmatch.calendar import HolidayCalendar

__all__ = [
    "EPOCH",
    "NO_DAY",
    "Period",
    "business_days",
    "day_number",
    "day_numbers",
    "day_of",
    "due_dates",
    "month_of",
    "period_bounds",
    "read_frame",
]

_QUARTER = re.compile(r"^(\d{4})\s*-?\s*Q([1-4])$", re.IGNORECASE)


@dataclass(frozen=True)
class Period:
    """A reporting period, both ends included (7003 VI.I.1.b: data aggregated quarterly).

    Examples
    --------
    >>> Period.quarter("2026Q4")
    Period(start=datetime.date(2026, 10, 1), end=datetime.date(2026, 12, 31))
    >>> Period.quarter("2026Q4").label
    '2026Q4'
    >>> [m for m, _, _ in Period(dt.date(2026, 11, 15), dt.date(2027, 1, 10)).months()]
    ['2026-11', '2026-12', '2027-01']
    """

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def quarter(cls, text: str) -> Period:
        """Return the calendar quarter named like ``2026Q4``.

        :raise ValueError: if ``text`` does not name a quarter.
        """
        found = _QUARTER.match(text.strip())
        if found is None:
            raise ValueError(f"{text!r} is not a quarter such as 2026Q4")
        year, q = int(found.group(1)), int(found.group(2))
        start = dt.date(year, 3 * q - 2, 1)
        end = dt.date(year + 1, 1, 1) if q == 4 else dt.date(year, 3 * q + 1, 1)
        return cls(start, end - dt.timedelta(days=1))

    @property
    def label(self) -> str:
        """``2026Q4`` for a calendar quarter, else ``2026-10-01..2026-11-15``."""
        q, rem = divmod(self.start.month - 1, 3)
        if rem == 0 and self.start.day == 1 and self == Period.quarter(f"{self.start.year}Q{q + 1}"):
            return f"{self.start.year}Q{q + 1}"
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def months(self) -> list[tuple[str, dt.date, dt.date]]:
        """Each calendar month the period touches: ``(YYYY-MM, first day, last day)``, clipped to the period."""
        result = []
        first = self.start.replace(day=1)
        while first <= self.end:
            following = (first + dt.timedelta(days=32)).replace(day=1)
            result.append((first.strftime("%Y-%m"), max(first, self.start),
                           min(following - dt.timedelta(days=1), self.end)))
            first = following
        return result


def period_bounds(period: Period) -> tuple[dt.datetime, dt.datetime]:
    """The period as a half-open UTC timestamp range ``[start 00:00, day after end 00:00)``."""
    start = dt.datetime.combine(period.start, dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return start, end


def month_of(expr: Any, dialect: str) -> sa.ColumnElement[str]:
    """SQL for the ``YYYY-MM`` of a date or timestamp column (no portable spelling exists)."""
    if dialect == "postgresql":
        return sa.func.to_char(expr, "YYYY-MM")
    return sa.func.strftime("%Y-%m", expr)


def day_of(expr: Any, dialect: str) -> sa.ColumnElement[dt.date]:
    """SQL for the calendar day (UTC) of a timestamp column, comparable with DATE columns."""
    if dialect == "postgresql":
        return sa.cast(sa.func.timezone("UTC", expr), sa.Date)
    return sa.func.date(expr)


def day_number(expr: Any, dialect: str) -> sa.ColumnElement[int]:
    """SQL for a DATE as days since 1970-01-01: an integer both databases return as is (no date
    objects to build per row), ``datetime64[D]`` once in numpy."""
    if dialect == "postgresql":
        return sa.type_coerce(expr - sa.literal_column("DATE '1970-01-01'"), sa.Integer)
    return sa.cast(sa.func.julianday(expr) - 2440587.5, sa.Integer)  # julianday('1970-01-01')


EPOCH = dt.date(1970, 1, 1)  # day numbers count from it
NO_DAY = int(np.iinfo(np.int64).max)  # a NULL day among day numbers: after every real one


def day_numbers(values: npt.NDArray[np.object_]) -> npt.NDArray[np.int64]:
    """Day numbers as read (:func:`day_number`: ints, None for NULL) as int64, NULL as :data:`NO_DAY`."""
    found = values.astype(np.float64)  # None -> NaN
    out = np.full(len(values), NO_DAY, dtype=np.int64)
    known = ~np.isnan(found)
    out[known] = found[known].astype(np.int64)
    return out


def read_frame(session: Session, stmt: sa.Executable, columns: list[str] | None = None) -> pd.DataFrame:
    """Run ``stmt`` and return its rows as a DataFrame, built column by column.

    Runs on the session's connection (after a flush, as the session's own autoflush would) to skip
    the ORM's per-row work: a report reads tens of thousands of plain rows.
    """
    session.flush()
    result = session.connection().execute(stmt)
    names = columns or list(result.keys())
    rows = result.all()
    if not rows:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in names})
    return pd.DataFrame(dict(zip(names, (list(values) for values in zip(*rows, strict=True)), strict=True)))


def _memoised(frame: pd.DataFrame, columns: list[str], compute: Callable[..., Any]) -> pd.Series:
    """Apply ``compute`` once per distinct non-null row of ``columns``; NaN where any is null."""
    if frame.empty:
        return pd.Series([], index=frame.index, dtype="float64")
    keys = frame[columns]
    usable = keys.notna().all(axis=1)
    distinct = keys[usable].drop_duplicates()
    values: dict[Hashable, Any] = {
        tuple(row): compute(*row) for row in distinct.itertuples(index=False, name=None)
    }
    return pd.Series(
        [values[tuple(row)] if ok else None for row, ok in zip(keys.itertuples(index=False, name=None), usable,
                                                                  strict=True)],
        index=frame.index, dtype="object",
    )


def business_days(frame: pd.DataFrame, start: str, end: str, calendar: HolidayCalendar) -> pd.Series:
    """Business days from ``frame[start]`` to ``frame[end]`` per row (NaN where either is missing).

    :raise csmatch.calendar.CalendarRangeError: for a date in a year without holiday data.
    """
    result = _memoised(frame, [start, end], calendar.business_days_between)
    return pd.to_numeric(result, errors="coerce").astype("Float64")


def due_dates(frame: pd.DataFrame, start: str, n_business_days: int, calendar: HolidayCalendar) -> pd.Series:
    """The due date of an ``n``-business-day clock started on ``frame[start]``, per row."""
    return _memoised(frame, [start], lambda day: calendar.due_date(day, n_business_days))
