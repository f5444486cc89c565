"""Quiet hours and local times, with the clock passed in (Chongqing is UTC+8)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from storage.schedule import (
    in_quiet_hours,
    local_today_at,
    parse_clock,
    quiet_hours_end,
    week_start,
)

CQ = ZoneInfo("Asia/Shanghai")
START, END = time(22, 0), time(7, 30)


def cq(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=CQ).astimezone(UTC)


@pytest.mark.parametrize(
    ("moment", "quiet"),
    [
        (cq(2, 21, 59), False),
        (cq(2, 22, 0), True),
        (cq(3, 3, 0), True),
        (cq(3, 7, 29), True),
        (cq(3, 7, 30), False),
        (cq(3, 12, 0), False),
    ],
)
def test_quiet_hours_span_midnight_in_local_time(moment: datetime, quiet: bool) -> None:
    assert in_quiet_hours(moment, CQ, START, END) is quiet


def test_held_back_until_the_morning() -> None:
    assert quiet_hours_end(cq(2, 23, 15), CQ, START, END) == cq(3, 7, 30)
    assert quiet_hours_end(cq(3, 6, 0), CQ, START, END) == cq(3, 7, 30)
    assert quiet_hours_end(cq(3, 9, 0), CQ, START, END) == cq(3, 9, 0)


def test_local_times_and_weeks() -> None:
    assert local_today_at(cq(5, 6, 0), CQ, time(8, 30)) == cq(5, 8, 30)
    # Thursday 5 Nov 2026 -> Monday 2 Nov 08:00; on Monday before 08:00 -> the Monday before
    assert week_start(cq(5, 10, 0), CQ, 0, time(8, 0)) == cq(2, 8, 0)
    assert week_start(cq(9, 7, 59), CQ, 0, time(8, 0)) == cq(2, 8, 0)
    assert week_start(cq(9, 8, 0), CQ, 0, time(8, 0)) == cq(9, 8, 0)


def test_clock_strings() -> None:
    assert parse_clock("08:30") == time(8, 30)
    with pytest.raises(ValueError):
        parse_clock("8.30")
