"""Business days on the California state calendar (data-exchange.md §6; MCAP7003 VI.C.3, VI.E.6)."""

import doctest
from datetime import date, timedelta
from pathlib import Path

import holidays as holidays_package
import pytest
from hypothesis import given
from hypothesis import strategies as st

from csmatch.calendar import (
    DEFAULT_HOLIDAYS_FILE,
    HOLIDAYS_FILE_ENV,
    CalendarRangeError,
    HolidayCalendar,
    HolidayFileError,
    ObservedRule,
    default_calendar,
)

REFERRAL_CLOCK = 10  # 7003 VI.C.3: referred to a CS provider within 10 business days of receipt
PROVIDER_ANSWER_CLOCK = 2  # 7003 VI.C.3.a-c
CAPACITY_REPORT_CLOCK = 5  # 7003 VI.E.6

HEADER = "date,name,actual_date,observed_rule,notes\n"


@pytest.fixture
def cal() -> HolidayCalendar:
    return default_calendar()


def test_holiday_file_matches_section_6(cal: HolidayCalendar) -> None:
    assert sorted(cal.years) == [2024, 2025, 2026, 2027]
    assert len(cal.holidays) == 44  # 11 holidays a year
    by_date = {h.date: h for h in cal.holidays}
    assert by_date[date(2024, 4, 1)].actual_date == date(2024, 3, 31)
    assert by_date[date(2024, 4, 1)].observed_rule is ObservedRule.SUNDAY_TO_MONDAY
    assert by_date[date(2027, 7, 5)].name == "Independence Day"
    for saturday in (date(2026, 7, 4), date(2027, 12, 25)):
        assert by_date[saturday].observed_rule is ObservedRule.SATURDAY_NOT_MOVED
        assert not by_date[saturday].closes_offices


def test_wednesday_before_thanksgiving_ten_business_days(cal: HolidayCalendar) -> None:
    received = date(2026, 11, 25)  # Wednesday; Thu 26 and Fri 27 are holidays
    # business days after receipt: Nov 30 (1), Dec 1-4 (2-5), Dec 7-11 (6-10)
    assert cal.due_date(received, REFERRAL_CLOCK) == date(2026, 12, 11)
    assert cal.add_business_days(received, 9) == date(2026, 12, 10)


def test_wednesday_before_thanksgiving_two_business_days(cal: HolidayCalendar) -> None:
    assert cal.due_date(date(2026, 11, 25), PROVIDER_ANSWER_CLOCK) == date(2026, 12, 1)


def test_thanksgiving_days_are_not_business_days(cal: HolidayCalendar) -> None:
    assert not cal.is_business_day(date(2026, 11, 26))
    assert not cal.is_business_day(date(2026, 11, 27))
    assert cal.business_days_between(date(2026, 11, 25), date(2026, 11, 29)) == 0


def test_next_business_day_counts_one(cal: HolidayCalendar) -> None:
    wednesday = date(2026, 11, 18)
    assert cal.business_days_between(wednesday, wednesday) == 0
    assert cal.business_days_between(wednesday, date(2026, 11, 19)) == 1


def test_across_new_year(cal: HolidayCalendar) -> None:
    received = date(2025, 12, 24)  # Wednesday; Dec 25 and Jan 1 closed
    # Dec 26 (1), Dec 29-31 (2-4), Jan 2 (5), Jan 5-9 (6-10)
    assert cal.add_business_days(received, 5) == date(2026, 1, 2)
    assert cal.due_date(received, REFERRAL_CLOCK) == date(2026, 1, 9)
    assert cal.business_days_between(received, date(2026, 1, 9)) == REFERRAL_CLOCK


def test_saturday_july_fourth_2026_is_not_moved(cal: HolidayCalendar) -> None:
    assert cal.is_business_day(date(2026, 7, 3))
    assert not cal.is_business_day(date(2026, 7, 4))
    assert cal.add_business_days(date(2026, 7, 2), 1) == date(2026, 7, 3)


def test_saturday_christmas_2027_is_not_moved(cal: HolidayCalendar) -> None:
    assert cal.is_business_day(date(2027, 12, 24))


def test_sunday_holidays_move_to_monday(cal: HolidayCalendar) -> None:
    assert not cal.is_business_day(date(2024, 4, 1))  # Cesar Chavez Day, Mar 31 a Sunday
    assert not cal.is_business_day(date(2027, 7, 5))  # Independence Day, Jul 4 a Sunday


def test_days_the_state_does_not_close_are_business_days(cal: HolidayCalendar) -> None:
    assert cal.is_business_day(date(2026, 6, 19))  # Juneteenth
    assert cal.is_business_day(date(2026, 2, 12))  # Lincoln Day
    assert cal.is_business_day(date(2026, 10, 12))  # Columbus Day
    assert cal.is_business_day(date(2026, 9, 25))  # Native American Day


def test_holidays_package_differs_from_state_calendar(cal: HolidayCalendar) -> None:
    """Why csmatch does not use the ``holidays`` package (data-exchange.md §6)."""
    package = holidays_package.country_holidays("US", subdiv="CA", years=[2026, 2027])
    # it moves Saturday holidays to Friday; the state does not close those Fridays
    assert date(2026, 7, 3) in package and cal.is_business_day(date(2026, 7, 3))
    assert date(2027, 12, 24) in package and cal.is_business_day(date(2027, 12, 24))
    # it adds weekdays state offices do not close
    assert date(2026, 6, 19) in package and cal.is_business_day(date(2026, 6, 19))  # Juneteenth


@pytest.mark.parametrize(
    ("received", "clock"),
    [
        (date(2026, 11, 25), REFERRAL_CLOCK),
        (date(2026, 11, 25), PROVIDER_ANSWER_CLOCK),
        (date(2026, 12, 23), CAPACITY_REPORT_CLOCK),
        (date(2026, 7, 4), REFERRAL_CLOCK),
    ],
)
def test_clock_exactly_at_due_date_is_on_time(cal: HolidayCalendar, received: date, clock: int) -> None:
    due = cal.due_date(received, clock)
    assert cal.is_business_day(due)
    assert cal.business_days_between(received, due) == clock  # on time
    assert cal.business_days_between(received, due - timedelta(days=1)) == clock - 1
    assert cal.business_days_between(received, cal.add_business_days(due, 1)) == clock + 1  # late


def test_received_on_weekend_counts_from_next_business_day(cal: HolidayCalendar) -> None:
    saturday = date(2026, 3, 28)
    assert cal.add_business_days(saturday, 1) == date(2026, 3, 30)
    assert cal.add_business_days(saturday, 2) == date(2026, 4, 1)  # Tue Mar 31 is Cesar Chavez Day
    assert cal.add_business_days(saturday, 0) == saturday


def test_business_days_between_reversed_is_negative(cal: HolidayCalendar) -> None:
    assert cal.business_days_between(date(2026, 12, 11), date(2026, 11, 25)) == -REFERRAL_CLOCK


def test_add_business_days_rejects_negative(cal: HolidayCalendar) -> None:
    with pytest.raises(ValueError, match="got -1"):
        cal.add_business_days(date(2026, 1, 5), -1)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.is_business_day(date(2028, 1, 3)),
        lambda c: c.is_business_day(date(2023, 12, 29)),
        lambda c: c.add_business_days(date(2027, 12, 27), 10),
        lambda c: c.business_days_between(date(2027, 12, 1), date(2028, 1, 3)),
        lambda c: c.due_date(date(2028, 1, 3), 0),
    ],
)
def test_years_without_holiday_data_raise(cal: HolidayCalendar, call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(
        CalendarRangeError, match=r"no state holiday data for \[20(23|28)\].*covers 2024-2027"
    ):
        call(cal)


def test_last_covered_day(cal: HolidayCalendar) -> None:
    assert cal.add_business_days(date(2027, 12, 29), 2) == date(2027, 12, 31)


def _naive_between(cal: HolidayCalendar, start: date, end: date) -> int:
    day, count = start, 0
    while day < end:
        day += timedelta(days=1)
        count += cal.is_business_day(day)
    return count


@given(
    start=st.dates(date(2024, 1, 1), date(2027, 10, 31)),
    n=st.integers(min_value=0, max_value=40),
)
def test_add_and_between_agree_with_day_by_day_walk(start: date, n: int) -> None:
    cal = default_calendar()
    end = cal.add_business_days(start, n)
    assert cal.business_days_between(start, end) == n == _naive_between(cal, start, end)
    assert n == 0 or cal.is_business_day(end)


def test_env_var_replaces_holiday_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    custom = tmp_path / "plan_holidays.csv"
    custom.write_text(HEADER + "2026-11-24,Plan closure day,2026-11-24,ON_DATE,\n", encoding="utf-8")
    monkeypatch.setenv(HOLIDAYS_FILE_ENV, str(custom))
    cal = default_calendar()
    assert cal.years == {2026}
    assert not cal.is_business_day(date(2026, 11, 24))
    assert cal.is_business_day(date(2026, 11, 26))
    assert default_calendar(DEFAULT_HOLIDAYS_FILE).years == {2024, 2025, 2026, 2027}


def test_from_csv_collects_every_error(tmp_path: Path) -> None:
    bad = tmp_path / "holidays.csv"
    bad.write_text(
        HEADER
        + "2026-07-03,Independence Day,2026-07-04,ON_DATE,\n"
        + "2026-07-03,Independence Day,2026-07-04,SATURDAY_TO_FRIDAY,\n"
        + "2026-13-01,Bad,2026-12-01,ON_DATE,\n"
        + "2026-12-25,Christmas,2026-12-25,SOMETIMES,\n"
        + "2026-03-31,,2026-03-31,ON_DATE,\n",
        encoding="utf-8",
    )
    with pytest.raises(HolidayFileError) as info:
        HolidayCalendar.from_csv(bad)
    message = str(info.value)
    assert "holidays.csv, line 2, column date: ON_DATE does not apply to 2026-07-04 (Saturday)" in message
    assert "line 3, column date: 2026-07-03 already on line 2" in message
    assert "line 4, column date: '2026-13-01' is not a YYYY-MM-DD date" in message
    assert "line 5, column observed_rule: 'SOMETIMES'" in message
    assert "line 6, column name: empty" in message


def test_from_csv_names_missing_columns(tmp_path: Path) -> None:
    bad = tmp_path / "holidays.csv"
    bad.write_text("date,name\n2026-01-01,New Year's Day\n", encoding="utf-8")
    with pytest.raises(
        HolidayFileError, match=r"line 1: missing column\(s\) \['actual_date', 'observed_rule'\]"
    ):
        HolidayCalendar.from_csv(bad)


def test_calendar_is_frozen(cal: HolidayCalendar) -> None:
    with pytest.raises(AttributeError):
        cal.years = frozenset({2028})  # type: ignore[misc]


def test_docstring_examples_run() -> None:
    """pytest's --doctest-modules covers geo/ and matcher/ only; run this module's Examples here."""
    import csmatch.calendar as calendar_module

    result = doctest.testmod(calendar_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
