"""The one grammar for times of day, meeting moments, periods and working days (storage/dates.py),
as plain functions with the clock passed in. Day names alone: test_due_dates.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from storage.dates import (
    add_working_days,
    is_working_day,
    parse_day,
    parse_days,
    parse_moment,
    parse_time_of_day,
)

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=TZ)  # Monday 2 November 2026, 10:00
TUESDAY_8_DEC = date(2026, 12, 8)


def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TZ).astimezone(UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15:00", time(15, 0)),
        ("15：00", time(15, 0)),
        ("下午三点", time(15, 0)),
        ("下午3点", time(15, 0)),
        ("晚上7点半", time(19, 30)),
        ("晚上七点半", time(19, 30)),
        ("19点30", time(19, 30)),
        ("19点30分", time(19, 30)),
        ("上午十点一刻", time(10, 15)),
        ("早上8点三刻", time(8, 45)),
        ("中午12点", time(12, 0)),
        ("中午1点", time(13, 0)),
        ("下午3:30", time(15, 30)),
        ("3点", time(3, 0)),  # as written: shown back, so a worker sees it is 03:00
        ("3pm", time(15, 0)),
        ("3 PM", time(15, 0)),
        ("7:30 pm", time(19, 30)),
        ("7.30pm", time(19, 30)),
        ("12am", time(0, 0)),
        ("12pm", time(12, 0)),
        ("at 9am", time(9, 0)),
        ("seven pm", time(19, 0)),
        ("noon", time(12, 0)),
        ("8 o'clock", time(8, 0)),
    ],
)
def test_times_of_day(text: str, expected: time) -> None:
    assert parse_time_of_day(text) == expected


@pytest.mark.parametrize(
    "text", ["", "三点钟左右", "25:00", "19:60", "13pm", "0am", "晚上12点", "soon", "下周五"]
)
def test_times_of_day_not_understood(text: str) -> None:
    assert parse_time_of_day(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the examples
        ("周六下午三点", at(11, 7, 15)),
        ("明天晚上7点半", at(11, 3, 19, 30)),
        ("周六 15:00", at(11, 7, 15)),
        ("next Friday 3pm", at(11, 13, 15)),
        # more of the same grammar
        ("周六下午3:00", at(11, 7, 15)),
        ("下周三晚上八点", at(11, 11, 20)),
        ("周日上午十点一刻", at(11, 8, 10, 15)),
        ("今晚7点", at(11, 2, 19)),
        ("明晚七点半", at(11, 3, 19, 30)),
        ("tonight 7", at(11, 2, 19)),
        ("tomorrow noon", at(11, 3, 12)),
        ("3pm next Friday", at(11, 13, 15)),
        ("3pm on Friday", at(11, 6, 15)),
        ("Saturday at 7:30 pm", at(11, 7, 19, 30)),
        ("12-05 19:30", at(12, 5, 19, 30)),
        ("12月5日 19点30", at(12, 5, 19, 30)),
        ("12/5 19：30", at(12, 5, 19, 30)),
        ("2026-11-03 8:00", at(11, 3, 8)),
        ("11-04 19点", at(11, 4, 19)),
        ("01-10 19:00", at(1, 10, 19, year=2027)),  # gone this year: next year
        ("下午三点", at(11, 2, 15)),  # a time alone: today, while it is ahead
        ("9点", at(11, 3, 9)),  # … and tomorrow once it has passed
        # a day named, earlier today: kept (the caller says it has passed)
        ("11-02 08:00", at(11, 2, 8)),
        ("今天上午8点", at(11, 2, 8)),
    ],
)
def test_meeting_moments(text: str, expected: datetime) -> None:
    assert parse_moment(text, now=NOW, tz=TZ, locale="zh_Hans") == expected
    assert parse_moment(text, now=NOW, tz=TZ, locale="en") == expected


@pytest.mark.parametrize(
    "text", ["", "周六", "tomorrow", "02-30 19:00", "12-05 25:00", "12-05", "sometime", "晚上12点"]
)
def test_meeting_moments_not_understood(text: str) -> None:
    """A day without a time (or a time that cannot be) is asked again, never guessed."""
    assert parse_moment(text, now=NOW, tz=TZ, locale="zh_Hans") is None


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        # the example: the end is counted from the start
        ("下周一到周五", date(2026, 12, 14), date(2026, 12, 18)),
        ("2026-11", date(2026, 11, 1), date(2026, 11, 30)),
        ("2026年10月", date(2026, 10, 1), date(2026, 10, 31)),
        ("11月", date(2026, 11, 1), date(2026, 11, 30)),
        ("十月份", date(2026, 10, 1), date(2026, 10, 31)),
        ("上个月", date(2026, 11, 1), date(2026, 11, 30)),
        ("本月", date(2026, 12, 1), date(2026, 12, 31)),
        ("last month", date(2026, 11, 1), date(2026, 11, 30)),
        ("November", date(2026, 11, 1), date(2026, 11, 30)),
        ("nov 2025", date(2025, 11, 1), date(2025, 11, 30)),
        ("上周", date(2026, 11, 30), date(2026, 12, 6)),
        ("this week", date(2026, 12, 7), date(2026, 12, 13)),
        ("2026-11-05", date(2026, 11, 5), date(2026, 11, 5)),
        ("昨天", date(2026, 12, 7), date(2026, 12, 7)),
        ("yesterday", date(2026, 12, 7), date(2026, 12, 7)),
        # a day without a year looks back, as a period does
        ("12-05", date(2026, 12, 5), date(2026, 12, 5)),
        ("12月20日", date(2025, 12, 20), date(2025, 12, 20)),
        ("周五", date(2026, 12, 4), date(2026, 12, 4)),
        ("上周五", date(2026, 12, 4), date(2026, 12, 4)),
        ("12-01 to 12-05", date(2026, 12, 1), date(2026, 12, 5)),
        ("11-01 到 11-15", date(2026, 11, 1), date(2026, 11, 15)),
        ("10月1日至10月7日", date(2026, 10, 1), date(2026, 10, 7)),
        ("10月1日到7日", date(2026, 10, 1), date(2026, 10, 7)),
        ("2026-11-01 2026-11-15", date(2026, 11, 1), date(2026, 11, 15)),
        ("2026-11-01 ~ 2026-11-15", date(2026, 11, 1), date(2026, 11, 15)),
        ("12-28 到 1-3", date(2025, 12, 28), date(2026, 1, 3)),
        ("10月到11月", date(2026, 10, 1), date(2026, 11, 30)),
    ],
)
def test_periods(text: str, first: date, last: date) -> None:
    assert parse_days(text, today=TUESDAY_8_DEC, locale="zh_Hans") == (first, last)
    assert parse_days(text, today=TUESDAY_8_DEC, locale="en") == (first, last)


@pytest.mark.parametrize(
    "text", ["", "abc", "2026-13", "2026-11-15 2026-11-01", "下周五到上周一", "2026-02-30"]
)
def test_periods_not_understood(text: str) -> None:
    assert parse_days(text, today=TUESDAY_8_DEC, locale="zh_Hans") is None


def test_due_dates_look_ahead_periods_look_back() -> None:
    assert parse_day("12-05", today=TUESDAY_8_DEC) == date(2027, 12, 5)
    assert parse_day("12-05", today=TUESDAY_8_DEC, past=True) == date(2026, 12, 5)
    assert parse_day("5号", today=TUESDAY_8_DEC, past=True) == date(2026, 12, 5)
    assert parse_day("10号", today=TUESDAY_8_DEC, past=True) == date(2026, 11, 10)
    assert parse_day("周二", today=TUESDAY_8_DEC, past=True) == TUESDAY_8_DEC
    assert parse_day("last friday", today=TUESDAY_8_DEC) == date(2026, 12, 4)
    assert parse_day("2-29", today=TUESDAY_8_DEC, past=True) == date(2024, 2, 29)


def test_working_days_know_public_holidays_and_make_up_days() -> None:
    assert is_working_day(date(2026, 11, 2))  # an ordinary Monday
    assert not is_working_day(date(2026, 11, 7))  # an ordinary Saturday
    assert not is_working_day(date(2026, 10, 1))  # National Day, a Thursday
    assert not is_working_day(date(2026, 10, 5))  # a Monday of the Golden Week
    assert is_working_day(date(2026, 9, 20))  # a Sunday made a working day (调休)
    assert is_working_day(date(2026, 10, 10))  # a Saturday made a working day (调休)
    # a year the calendar does not know yet: Monday to Friday
    assert is_working_day(date(2099, 1, 5)) and not is_working_day(date(2099, 1, 3))


def test_five_working_days_across_the_golden_week() -> None:
    # raised on Tuesday 29 September: Wed 30, then the holiday (1–7 October) does not count,
    # then Thu 8, Fri 9, Sat 10 (调休) and Mon 12 -> by the end of Monday 12 October
    raised = datetime(2026, 9, 29, 10, 0, tzinfo=TZ)
    assert add_working_days(raised, 5, TZ) == at(10, 13, 0)
    # a weekday rule would have said Tuesday 6 October, in the middle of the holiday
