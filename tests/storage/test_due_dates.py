"""Due dates typed by workers, parsed by a plain function (no bot, no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from storage.dates import due_in_days, end_of_day, parse_day, parse_due_date

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 11, 2)  # the test clock's day: Monday 2 November 2026
SATURDAY = date(2026, 11, 7)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the four forms the issue names
        ("下周五", date(2026, 11, 13)),
        ("next Friday", date(2026, 11, 13)),
        ("12-05", date(2026, 12, 5)),
        ("2026-12-05", date(2026, 12, 5)),
        # weekdays
        ("周五", date(2026, 11, 6)),
        ("星期五", date(2026, 11, 6)),
        ("礼拜五", date(2026, 11, 6)),
        ("本周五", date(2026, 11, 6)),
        ("这周五", date(2026, 11, 6)),
        ("下个周五", date(2026, 11, 13)),
        ("下下周一", date(2026, 11, 16)),
        ("下周日", date(2026, 11, 15)),
        ("周一", MONDAY),  # the coming Monday is today
        ("Friday", date(2026, 11, 6)),
        ("this friday", date(2026, 11, 6)),
        ("fri", date(2026, 11, 6)),
        ("next Monday", date(2026, 11, 9)),
        ("by Friday", date(2026, 11, 6)),
        # relative days
        ("今天", MONDAY),
        ("today", MONDAY),
        ("明天", date(2026, 11, 3)),
        ("Tomorrow", date(2026, 11, 3)),
        ("后天", date(2026, 11, 4)),
        ("大后天", date(2026, 11, 5)),
        ("3天后", date(2026, 11, 5)),
        ("三天内", date(2026, 11, 5)),
        ("十天", date(2026, 11, 12)),
        ("一周", date(2026, 11, 9)),
        ("两周后", date(2026, 11, 16)),
        ("一个星期", date(2026, 11, 9)),
        ("一个月", date(2026, 12, 2)),
        ("in 3 days", date(2026, 11, 5)),
        ("in a week", date(2026, 11, 9)),
        ("2 weeks", date(2026, 11, 16)),
        ("in one month", date(2026, 12, 2)),
        # calendar dates
        ("12/5", date(2026, 12, 5)),
        ("12.05", date(2026, 12, 5)),
        ("12月5日", date(2026, 12, 5)),
        ("12月5号", date(2026, 12, 5)),
        ("12月5日前", date(2026, 12, 5)),
        ("截止到12月5日", date(2026, 12, 5)),
        ("2026年12月5日", date(2026, 12, 5)),
        ("2026/12/05", date(2026, 12, 5)),
        ("2027.1.3", date(2027, 1, 3)),
        ("1-3", date(2027, 1, 3)),  # already past this year: next year
        ("11-02", MONDAY),  # today is still ahead
        ("5号", date(2026, 11, 5)),
        ("1号", date(2026, 12, 1)),  # the 1st has passed this month
        ("Dec 5", date(2026, 12, 5)),
        ("December 5th", date(2026, 12, 5)),
        ("5 December 2027", date(2027, 12, 5)),
        ("dec. 5, 2026", date(2026, 12, 5)),
        ("  下周五。 ", date(2026, 11, 13)),
        # a past explicit date is returned as typed: the caller says it has passed
        ("2025-12-05", date(2025, 12, 5)),
    ],
)
def test_understood(text: str, expected: date) -> None:
    assert parse_day(text, today=MONDAY, locale="zh_Hans") == expected
    assert parse_day(text, today=MONDAY, locale="en") == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "soon", "下周", "明年某天", "13-45", "2026-02-30", "2-30", "next week", "周八"],
)
def test_not_understood(text: str) -> None:
    assert parse_day(text, today=MONDAY, locale="zh_Hans") is None


def test_weekdays_counted_from_a_saturday() -> None:
    assert parse_day("周五", today=SATURDAY) == date(2026, 11, 13)  # the coming one
    assert parse_day("本周五", today=SATURDAY) == date(2026, 11, 6)  # this week's: past
    assert parse_day("下周五", today=SATURDAY) == date(2026, 11, 13)
    assert parse_day("next friday", today=SATURDAY) == date(2026, 11, 13)
    assert parse_day("星期天", today=SATURDAY) == date(2026, 11, 8)


def test_leap_day_without_a_year_is_the_next_leap_year() -> None:
    assert parse_day("2-29", today=MONDAY) == date(2028, 2, 29)


def test_due_is_the_end_of_the_day_in_the_community_time_zone() -> None:
    # 23:30 UTC on Monday is already Tuesday 07:30 in Chongqing: "today" is Tuesday there.
    late = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)
    due = parse_due_date("今天", late, TZ, "zh_Hans")
    assert due == datetime(2026, 11, 3, 15, 59, tzinfo=UTC)  # 23:59 on Tuesday in Chongqing
    assert due is not None and due.tzinfo is UTC
    assert parse_due_date("what?", late, TZ, "en") is None
    assert due_in_days(0, now=late, tz=TZ) == due
    assert due_in_days(7, now=late, tz=TZ) == end_of_day(date(2026, 11, 10), TZ)


def test_the_readers_locale_adds_its_own_names() -> None:
    assert parse_day("星期五", today=MONDAY, locale="en") == date(2026, 11, 6)
    assert parse_day("Dec 5", today=MONDAY, locale="zh_Hans") == date(2026, 12, 5)
    assert parse_day("Freitag", today=MONDAY, locale="de") == date(2026, 11, 6)
