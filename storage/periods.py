"""Periods the digest, the notebook page and the exports cover, in a community's local days.

A period is a half-open range of UTC instants [start, end). People name periods in local dates
("2026-11", "上个月", "2026-11-05", "下周一到周五", "2026-11-01 2026-11-15": the grammar is
storage/dates.py's `parse_days`), so each local day begins at local midnight. Plain functions of
`now`; no Telegram here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.dates import parse_days

MAX_DAYS = 366  # a year and a day: longer spans are a typo, not a request
DEFAULT_DAYS = 7


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant a local day begins, as an aware UTC datetime."""
    return datetime.combine(day, time(0, 0), tzinfo=tz).astimezone(UTC)


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC. `calendar_month`: compared with the month before, not the same
    number of days before."""

    start: datetime
    end: datetime
    tz: ZoneInfo
    calendar_month: bool = False

    @classmethod
    def days(cls, first: date, last: date, tz: ZoneInfo) -> Period:
        """Whole local days, `first` to `last` inclusive."""
        return cls(local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz), tz)

    @classmethod
    def month(cls, year: int, month: int, tz: ZoneInfo) -> Period:
        first = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        return cls(local_midnight(first, tz), local_midnight(following, tz), tz, True)

    @classmethod
    def week_before(cls, moment: datetime, tz: ZoneInfo) -> Period:
        """The seven whole local days before the day of `moment`: sent on Monday morning, the
        weekly digest covers Monday to Sunday of the week before."""
        today = local_day(moment, tz)
        return cls.days(today - timedelta(days=7), today - timedelta(days=1), tz)

    @property
    def first_day(self) -> date:
        return local_day(self.start, self.tz)

    @property
    def last_day(self) -> date:
        """The local day of the last instant in the period."""
        return local_day(self.end - timedelta(microseconds=1), self.tz)

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> Period:
        """The period just before, to compare with: the month before, or as many days before."""
        if self.calendar_month:
            day = self.first_day
            year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
            return Period.month(year, month, self.tz)
        return Period(self.start - self.length, self.start, self.tz)

    def day_by_day(self) -> list[Period]:
        """Each local day of the period, in order."""
        days = []
        day = self.first_day
        while day <= self.last_day:
            days.append(Period.days(day, day, self.tz))
            day += timedelta(days=1)
        return days


def last_days(now: datetime, tz: ZoneInfo, count: int = DEFAULT_DAYS) -> Period:
    """The last `count` local days, today included."""
    today = local_day(now, tz)
    return Period.days(today - timedelta(days=count - 1), today, tz)


def parse_period(text: str, *, now: datetime, tz: ZoneInfo, locale: str) -> Period | None:
    """Nothing → the last 7 days; a month ("2026-11", "11月", "上个月", "last month") → that
    calendar month; a day or a span of days ("2026-11-05", "上周", "下周一到周五",
    "2026-11-01 2026-11-15") → those days. None when not understood, longer than a year and a
    day, or outside 2000–2100."""
    if not text.strip():
        return last_days(now, tz)
    days = parse_days(text, today=local_day(now, tz), locale=locale)
    if days is None:
        return None
    first, last = days
    if (last - first).days >= MAX_DAYS or not 2000 <= first.year <= last.year <= 2100:
        return None
    if first.day == 1 and last == _month_end(first):
        return Period.month(first.year, first.month, tz)
    return Period.days(first, last, tz)


def _month_end(first: date) -> date:
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return following - timedelta(days=1)


def day_code(day: date) -> str:
    """A day as 8 digits, for callback data (`20261105`)."""
    return day.strftime("%Y%m%d")


def parse_day_code(code: str) -> date | None:
    if len(code) != 8 or not code.isdigit():
        return None
    try:
        return date(int(code[:4]), int(code[4:6]), int(code[6:]))
    except ValueError:
        return None
