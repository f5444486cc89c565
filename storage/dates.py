"""Due dates as workers type them: "下周五", "next Friday", "12-05", "2026-12-05", "3天后"…

A plain function of the text, the clock, the community's time zone and the reader's locale, so it
is tested directly. A due date is a day, not an instant: it is stored as the end of that day in
the community's time zone, so "today" is not overdue until midnight.

Both languages are understood whatever the reader's locale (a Chinese worker may type "next
Friday"); the locale adds its own month and weekday names from Babel's data. Weeks start on
Monday, as on Chinese calendars: "下周五" and "next Friday" are the Friday of next week;
"本周五" / "这周五" the Friday of this week; "周五" / "Friday" / "this Friday" the coming Friday
(today if today is a Friday). Numeric
day-month forms are read month first ("12-05", "12/5", "12.05"), as both zh and en-US write
them; a date without a year is the next such day from today.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError

QUICK_PICK_DAYS = (0, 3, 7)  # today, in three days, in a week

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_CN_DIGITS.update({"七": 7, "八": 8, "九": 9})

# Monday = 0, as datetime.weekday()
_CN_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_EN_WEEKDAYS = {
    "monday": 0,
    "mon": 0,
    "tuesday": 1,
    "tue": 1,
    "tues": 1,
    "wednesday": 2,
    "wed": 2,
    "thursday": 3,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "friday": 4,
    "fri": 4,
    "saturday": 5,
    "sat": 5,
    "sunday": 6,
    "sun": 6,
}
_EN_MONTHS = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "sept": 9,
    "october": 10,
    "november": 11,
    "december": 12,
}
_EN_MONTHS.update({name[:3]: number for name, number in list(_EN_MONTHS.items())})
_RELATIVE_DAYS = {
    "今天": 0,
    "今日": 0,
    "today": 0,
    "明天": 1,
    "明日": 1,
    "tomorrow": 1,
    "后天": 2,
    "day after tomorrow": 2,
    "the day after tomorrow": 2,
    "大后天": 3,
}
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_NUMBER_WORDS.update({"six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10})


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The last minute of `day` in the community's time zone, as an aware UTC datetime."""
    return datetime.combine(day, time(23, 59), tzinfo=tz).astimezone(UTC)


def due_in_days(days: int, *, now: datetime, tz: ZoneInfo) -> datetime:
    """A quick pick: the end of the day `days` days from today (0 = today)."""
    return end_of_day(now.astimezone(tz).date() + timedelta(days=days), tz)


def _number(text: str) -> int | None:
    """Digits, simple Chinese numerals up to 99 (三, 十五, 二十, 两) or English number words."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    if text in _NUMBER_WORDS:
        return _NUMBER_WORDS[text]
    if not text or any(ch not in _CN_DIGITS and ch != "十" for ch in text):
        return None
    if "十" not in text:
        return _CN_DIGITS[text] if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return None
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _next_month_day(today: date, month: int, day: int) -> date | None:
    """The next `month`-`day` on or after today (this year, else next year)."""
    this_year = _safe_date(today.year, month, day)
    if this_year is not None and this_year >= today:
        return this_year
    # 29 February: look as far as the next leap year
    for year in range(today.year + 1, today.year + 5):
        found = _safe_date(year, month, day)
        if found is not None:
            return found
    return None


def _next_day_of_month(today: date, day: int) -> date | None:
    """ "5号": the 5th of this month, or of the next month with a 5th if it has passed."""
    year, month = today.year, today.month
    for _ in range(13):
        found = _safe_date(year, month, day)
        if found is not None and found >= today:
            return found
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return None


def _weekday(today: date, weekday: int, weeks_ahead: int | None) -> date:
    """`weeks_ahead` None: the coming `weekday` (today included); 0: this week's; 1: next week's."""
    if weeks_ahead is None:
        return today + timedelta(days=(weekday - today.weekday()) % 7)
    monday = today - timedelta(days=today.weekday())
    return monday + timedelta(weeks=weeks_ahead, days=weekday)


def _locale_names(locale: str) -> tuple[dict[str, int], dict[str, int]]:
    """Month and weekday names of the reader's locale (lower-cased) from Babel's data."""
    try:
        babel_locale = Locale.parse(locale)
    except (UnknownLocaleError, ValueError):
        return {}, {}
    months: dict[str, int] = {}
    for width in ("wide", "abbreviated"):
        for number, name in babel_locale.months["format"][width].items():
            months[str(name).lower().rstrip(".")] = int(number)
    weekdays: dict[str, int] = {}
    for width in ("wide", "abbreviated"):
        for number, name in babel_locale.days["format"][width].items():
            weekdays[str(name).lower().rstrip(".")] = int(number)
    return months, weekdays


_ISO = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?$")
_MONTH_DAY = re.compile(r"^(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?$")
_DAY_ONLY = re.compile(r"^(\d{1,2})\s*[日号]$")
_CN_WEEK = re.compile(r"^(下下|下个?|本|这个?|这)?\s*(?:周|星期|礼拜)([一二三四五六日天七])$")
_CN_IN = re.compile(r"^(.+?)\s*(?:个)?\s*(天|日|周|星期|礼拜|个月)\s*(?:后|以后|之后|内|以内)?$")
_EN_IN = re.compile(r"^(?:in\s+|within\s+)?(\S+)\s+(days?|weeks?|months?)(?:\s+from\s+now)?$")
_EN_WEEK = re.compile(r"^(?:(next|this|coming|the\s+coming|on)\s+)?([a-z]+)$")
_EN_MONTH_DAY = re.compile(r"^([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s*(\d{4}))?$")
_EN_DAY_MONTH = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([a-z]+)\.?(?:,?\s*(\d{4}))?$")


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for last in (day.day, 30, 29, 28):
        found = _safe_date(year, month, min(day.day, last))
        if found is not None:
            return found
    raise AssertionError("unreachable: every month has a 28th")


def parse_day(text: str, *, today: date, locale: str = "zh_Hans") -> date | None:
    """The calendar day `text` names, counted from `today`; None when it is not understood."""
    cleaned = " ".join(text.strip().lower().replace("，", ",").split())
    cleaned = cleaned.rstrip("。.!！")
    cleaned = re.sub(r"^(?:by|until|till|before|due|截止到?|到|在)\s*", "", cleaned)
    cleaned = re.sub(r"(?:前|之前|以前)$", "", cleaned).strip()
    if not cleaned:
        return None
    if cleaned in _RELATIVE_DAYS:
        return today + timedelta(days=_RELATIVE_DAYS[cleaned])
    if match := _ISO.match(cleaned):
        year, month, day = (int(g) for g in match.groups())
        return _safe_date(year, month, day)
    if match := _MONTH_DAY.match(cleaned):
        return _next_month_day(today, int(match.group(1)), int(match.group(2)))
    if match := _DAY_ONLY.match(cleaned):
        return _next_day_of_month(today, int(match.group(1)))
    if match := _CN_WEEK.match(cleaned):
        prefix, name = match.groups()
        weeks = {"下下": 2, "下": 1, "下个": 1}.get(prefix or "", 0) if prefix else None
        return _weekday(today, _CN_WEEKDAYS[name], weeks)
    if match := _CN_IN.match(cleaned):
        count = _number(match.group(1))
        if count is not None:
            unit = match.group(2)
            if unit == "个月":
                return _add_months(today, count)
            return today + timedelta(days=count if unit in ("天", "日") else count * 7)
    months, weekdays = _locale_names(locale)
    months = {**_EN_MONTHS, **months}
    weekdays = {**_EN_WEEKDAYS, **weekdays}
    if match := _EN_IN.match(cleaned):
        count = _number(match.group(1))
        if count is not None:
            unit = match.group(2)
            if unit.startswith("month"):
                return _add_months(today, count)
            return today + timedelta(days=count * (7 if unit.startswith("week") else 1))
    if match := _EN_WEEK.match(cleaned):
        qualifier, name = match.groups()
        if name in weekdays:
            weeks = 1 if qualifier == "next" else None
            return _weekday(today, weekdays[name], weeks)
    for pattern, month_group, day_group in ((_EN_MONTH_DAY, 1, 2), (_EN_DAY_MONTH, 2, 1)):
        if match := pattern.match(cleaned):
            named_month = months.get(match.group(month_group))
            if named_month is None:
                continue
            day_number = int(match.group(day_group))
            if match.group(3):
                return _safe_date(int(match.group(3)), named_month, day_number)
            return _next_month_day(today, named_month, day_number)
    return None


def parse_due_date(text: str, now: datetime, tz: ZoneInfo, locale: str) -> datetime | None:
    """What a worker typed as a due date, as the end of that day; None when not understood.

    A date in the past is returned as it is: the caller says so, rather than "not understood".
    """
    day = parse_day(text, today=now.astimezone(tz).date(), locale=locale)
    return end_of_day(day, tz) if day is not None else None
