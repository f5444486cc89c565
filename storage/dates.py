"""The one grammar for dates and times, in both languages, whatever the reader's locale: due
dates ("下周五", "next Friday", "12-05", "3天后"), meeting times ("周六下午三点", "明天晚上7点半",
"周六 15:00", "next Friday 3pm") and periods ("下周一到周五", "2026-11", "上个月", "last week",
"2026-11-01 2026-11-15"). Nothing else in the notebook reads a typed date.

Plain functions of the text, the clock (`today` / `now`, passed in), the community's time zone and
the reader's locale, so they are tested directly. A due date is a day, not an instant: it is
stored as the end of that day in the community's time zone, so "today" is not overdue until
midnight. The caller echoes every parsed value back in words, so a misreading is seen at once.

Both languages are understood whatever the reader's locale (a Chinese worker may type "next
Friday"); the locale adds its own month and weekday names from Babel's data. Weeks start on
Monday, as on Chinese calendars: "下周五" and "next Friday" are the Friday of next week;
"本周五" / "这周五" the Friday of this week; "周五" / "Friday" / "this Friday" the coming Friday
(today if today is a Friday). Numeric day-month forms are read month first ("12-05", "12/5",
"12.05"), as both zh and en-US write them. A date without a year is the next such day from
today, or, for a period (which looks back), the last such day up to today.

A time of day is read as written ("15:00", "3pm", "下午三点", "晚上7点半", "中午12点"); "3点"
without 上午/下午 is 03:00 and is shown back as such.

**Working days** come from `chinesecalendar`, which knows the State Council's public holidays and
the weekend days made working days (调休) for the years it covers; for a year it does not know
yet, Monday to Friday.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
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
    "昨天": -1,
    "昨日": -1,
    "yesterday": -1,
    "前天": -2,
}
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_NUMBER_WORDS.update({"six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10})
_NUMBER_WORDS.update({"eleven": 11, "twelve": 12})


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


def _next_month_day(today: date, month: int, day: int, past: bool = False) -> date | None:
    """The next `month`-`day` on or after today (this year, else next year); `past`: the last
    one on or before today."""
    this_year = _safe_date(today.year, month, day)
    if this_year is not None and (this_year <= today if past else this_year >= today):
        return this_year
    # 29 February: look as far as the next (or last) leap year
    step = -1 if past else 1
    for year in range(today.year + step, today.year + 5 * step, step):
        found = _safe_date(year, month, day)
        if found is not None:
            return found
    return None


def _next_day_of_month(today: date, day: int, past: bool = False) -> date | None:
    """ "5号": the 5th of this month, or of the next month with a 5th if it has passed (`past`:
    of the month before, if it is still ahead)."""
    year, month = today.year, today.month
    step = -1 if past else 1
    for _ in range(13):
        found = _safe_date(year, month, day)
        if found is not None and (found <= today if past else found >= today):
            return found
        month += step
        if month > 12:
            year, month = year + 1, 1
        elif month < 1:
            year, month = year - 1, 12
    return None


def _weekday(today: date, weekday: int, weeks_ahead: int | None, past: bool = False) -> date:
    """`weeks_ahead` None: the coming `weekday` (today included; `past`: the last one, today
    included); 0: this week's; 1: next week's; -1: last week's."""
    if weeks_ahead is None:
        if past:
            return today - timedelta(days=(today.weekday() - weekday) % 7)
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
_CN_WEEK = re.compile(r"^(下下|下个?|上个?|本|这个?|这)?\s*(?:周|星期|礼拜)([一二三四五六日天七])$")
_CN_WEEK_OFFSETS = {"下下": 2, "下": 1, "下个": 1, "上": -1, "上个": -1}
_CN_IN = re.compile(r"^(.+?)\s*(?:个)?\s*(天|日|周|星期|礼拜|个月)\s*(?:后|以后|之后|内|以内)?$")
_EN_IN = re.compile(r"^(?:in\s+|within\s+)?(\S+)\s+(days?|weeks?|months?)(?:\s+from\s+now)?$")
_EN_WEEK = re.compile(r"^(?:(next|last|this|coming|the\s+coming|on)\s+)?([a-z]+)$")
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


def _clean(text: str) -> str:
    """Lower case, one space between words, full-width colons and commas made plain."""
    cleaned = text.translate({0xFF1A: ":", 0xFF0C: ",", 0x3000: " ", 0xFF5E: "~"})
    return " ".join(cleaned.strip().lower().split()).rstrip("。.!！")


def parse_day(
    text: str, *, today: date, locale: str = "zh_Hans", past: bool = False
) -> date | None:
    """The calendar day `text` names, counted from `today`; None when it is not understood.
    `past`: a day without a year or week ("12-05", "5号", "周五") is the last one up to today,
    as a period looks back; otherwise the next one from today."""
    cleaned = _clean(text)
    cleaned = re.sub(r"^(?:by|until|till|before|due|on|截止到?|到|在)\s*", "", cleaned)
    cleaned = re.sub(r"(?:前|之前|以前)$", "", cleaned).strip()
    if not cleaned:
        return None
    if cleaned in _RELATIVE_DAYS:
        return today + timedelta(days=_RELATIVE_DAYS[cleaned])
    if match := _ISO.match(cleaned):
        year, month, day = (int(g) for g in match.groups())
        return _safe_date(year, month, day)
    if match := _MONTH_DAY.match(cleaned):
        return _next_month_day(today, int(match.group(1)), int(match.group(2)), past)
    if match := _DAY_ONLY.match(cleaned):
        return _next_day_of_month(today, int(match.group(1)), past)
    if match := _CN_WEEK.match(cleaned):
        prefix, name = match.groups()
        weeks = _CN_WEEK_OFFSETS.get(prefix or "", 0) if prefix else None
        return _weekday(today, _CN_WEEKDAYS[name], weeks, past)
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
            weeks = {"next": 1, "last": -1}.get(qualifier or "")
            return _weekday(today, weekdays[name], weeks, past)
    for pattern, month_group, day_group in ((_EN_MONTH_DAY, 1, 2), (_EN_DAY_MONTH, 2, 1)):
        if match := pattern.match(cleaned):
            named_month = months.get(match.group(month_group))
            if named_month is None:
                continue
            day_number = int(match.group(day_group))
            if match.group(3):
                return _safe_date(int(match.group(3)), named_month, day_number)
            return _next_month_day(today, named_month, day_number, past)
    return None


def parse_due_date(text: str, now: datetime, tz: ZoneInfo, locale: str) -> datetime | None:
    """What a worker typed as a due date, as the end of that day; None when not understood.

    A date in the past is returned as it is: the caller says so, rather than "not understood".
    """
    day = parse_day(text, today=now.astimezone(tz).date(), locale=locale)
    return end_of_day(day, tz) if day is not None else None


# --- times of day -------------------------------------------------------------------------------

# the part of the day a Chinese time names, and whether its hours are afternoon ones
_CN_MORNING = ("凌晨", "早上", "早晨", "清晨", "上午", "早")
_CN_NOON = ("中午",)
_CN_AFTERNOON = ("下午", "傍晚", "晚上", "夜里", "夜间", "晚")
_CN_PART = "|".join(_CN_MORNING + _CN_NOON + _CN_AFTERNOON)
_CN_NUM = r"[\d零〇一二两三四五六七八九十]+"
_CN_CLOCK = re.compile(
    rf"^(?P<part>{_CN_PART})?\s*(?P<hour>{_CN_NUM})\s*(?:点钟?|時|时)\s*"
    rf"(?:(?P<half>半)|(?P<quarter>[一三])刻|(?P<minute>{_CN_NUM})\s*分?)?$"
)
_COLON_CLOCK = re.compile(
    rf"^(?P<part>{_CN_PART})?\s*(?P<hour>\d{{1,2}})\s*:\s*(?P<minute>\d{{2}})\s*(?P<ampm>[ap]\.?m\.?)?$"
)
_EN_CLOCK = re.compile(
    r"^(?:at\s+)?(?P<hour>\d{1,2}|[a-z]+)(?:[:.](?P<minute>\d{2}))?\s*"
    r"(?P<ampm>[ap]\.?m\.?|o'?clock)$"
)
_EN_NAMED = {"noon": time(12, 0), "midday": time(12, 0), "midnight": time(0, 0)}


def _clock(hour: int, minute: int, part: str | None) -> time | None:
    """`hour`:`minute` in the part of the day named (上午/下午/am/pm…); None when impossible."""
    if part in ("am",) or part in _CN_MORNING:
        if hour == 12:
            hour = 0 if part == "am" else 12
    elif part in ("pm",) or part in _CN_AFTERNOON:
        if 1 <= hour < 12:
            hour += 12
        elif hour == 12 and part == "pm":
            hour = 12
        elif part in _CN_AFTERNOON and hour == 12:
            return None  # 晚上12点 is midnight, the next day: say it as 0点
    elif part in _CN_NOON and 1 <= hour <= 3:
        hour += 12  # 中午1点
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return time(hour, minute)


def parse_time_of_day(text: str) -> time | None:
    """ "15:00", "下午三点", "晚上7点半", "19点30分", "3pm", "7:30 pm", "noon"; None otherwise."""
    cleaned = _clean(text)
    cleaned = re.sub(r"^(?:at|在)\s*", "", cleaned)
    if cleaned in _EN_NAMED:
        return _EN_NAMED[cleaned]
    if match := _CN_CLOCK.match(cleaned):
        hour = _number(match["hour"])
        if match["half"]:
            minute: int | None = 30
        elif match["quarter"]:
            minute = 15 if match["quarter"] == "一" else 45
        else:
            minute = _number(match["minute"]) if match["minute"] else 0
        if hour is None or minute is None:
            return None
        return _clock(hour, minute, match["part"])
    if match := _COLON_CLOCK.match(cleaned):
        part = match["part"] or (match["ampm"] or "").replace(".", "")[:2] or None
        return _clock(int(match["hour"]), int(match["minute"]), part)
    if match := _EN_CLOCK.match(cleaned):
        hour = _number(match["hour"])
        ampm = match["ampm"].replace(".", "")
        if hour is None or (ampm in ("am", "pm") and not 1 <= hour <= 12):
            return None
        return _clock(hour, int(match["minute"] or 0), ampm if ampm in ("am", "pm") else None)
    return None


# --- moments (a day and a time) -----------------------------------------------------------------

# "今晚" is today in the evening: the day word and the part of the day in one
_DAY_AND_PART = {"今晚": ("今天", "晚上"), "明晚": ("明天", "晚上"), "tonight": ("today", "pm")}
_JOINERS = re.compile(r"^(?:,|at|@|的)\s*|\s*(?:,|at|@|的)$")


def _day_and_time(
    day_text: str, time_text: str, today: date, locale: str
) -> tuple[date, time] | None:
    day_text, time_text = _JOINERS.sub("", day_text).strip(), _JOINERS.sub("", time_text).strip()
    if not time_text:
        return None
    clock = parse_time_of_day(time_text)
    if clock is None:
        return None
    day = parse_day(day_text, today=today, locale=locale) if day_text else today
    return (day, clock) if day is not None else None


def parse_moment(text: str, *, now: datetime, tz: ZoneInfo, locale: str) -> datetime | None:
    """A day and a time of day ("周六下午三点", "明天晚上7点半", "周六 15:00", "next Friday 3pm",
    "3pm on Friday", "12-05 19:30"), as an aware UTC datetime; None when not understood. A time
    without a day is today's (tomorrow's, once it has passed). A moment in the past is returned
    as it is: the caller says so."""
    cleaned = _clean(text)
    for word, (day_word, part) in _DAY_AND_PART.items():
        if word in cleaned:
            spaced = f"{day_word} " if part == "pm" else day_word
            cleaned = cleaned.replace(word, spaced + ("" if part == "pm" else part), 1)
            if part == "pm" and not re.search(r"[ap]\.?m\.?$", cleaned):
                cleaned += "pm"
    local_now = now.astimezone(tz)
    today = local_now.date()
    found: tuple[date, time] | None = None
    # the day first, then the time: the longest time that reads as one, with a day before it
    for cut in range(len(cleaned) + 1):
        found = _day_and_time(cleaned[:cut], cleaned[cut:], today, locale)
        if found is not None:
            break
    if found is None:  # the time first ("3pm next friday", "3pm on friday")
        for cut in range(len(cleaned), 0, -1):
            head, tail = cleaned[:cut].strip(), cleaned[cut:].strip()
            if not tail:
                continue
            found = _day_and_time(tail, head, today, locale)
            if found is not None:
                break
    if found is None:
        return None
    day, clock = found
    moment = datetime.combine(day, clock, tzinfo=tz)
    if moment <= local_now and parse_time_of_day(cleaned) is not None:
        moment += timedelta(days=1)  # only a time, passed today: tomorrow's
    return moment.astimezone(UTC)


# --- periods (a span of days) -------------------------------------------------------------------

_RANGE = re.compile(r"\s*(?:到|至|~|—|–|\s-\s|\bto\b|\buntil\b|\btill\b|\bthrough\b)\s*")
_YEAR_MONTH = re.compile(r"^(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*月?(?:份)?$")
_CN_MONTH = re.compile(r"^(\d{1,2}|[一二三四五六七八九十]+)\s*月份?$")
_CN_THIS_WEEK = {"本周": 0, "这周": 0, "这个星期": 0, "本星期": 0, "上周": -1, "上个星期": -1}
_CN_THIS_WEEK.update({"上星期": -1, "下周": 1, "下个星期": 1, "this week": 0, "last week": -1})
_CN_THIS_WEEK.update({"next week": 1})
_CN_THIS_MONTH = {"本月": 0, "这个月": 0, "上个月": -1, "上月": -1, "this month": 0}
_CN_THIS_MONTH.update({"last month": -1})


def _month_span(year: int, month: int) -> tuple[date, date] | None:
    if not 1 <= month <= 12:
        return None
    first = date(year, month, 1)
    return first, _add_months(first, 1) - timedelta(days=1)


def _single_span(text: str, today: date, locale: str) -> tuple[date, date] | None:
    """One named span: a month, a week, or a day (looking back)."""
    if text in _CN_THIS_WEEK:
        monday = today - timedelta(days=today.weekday()) + timedelta(weeks=_CN_THIS_WEEK[text])
        return monday, monday + timedelta(days=6)
    if text in _CN_THIS_MONTH:
        first = _add_months(today.replace(day=1), _CN_THIS_MONTH[text])
        return _month_span(first.year, first.month)
    if match := _YEAR_MONTH.match(text):
        return _month_span(int(match.group(1)), int(match.group(2)))
    month_number: int | None = None
    year: int | None = None
    if match := _CN_MONTH.match(text):
        month_number = _number(match.group(1))
    else:
        months = {**_EN_MONTHS, **_locale_names(locale)[0]}
        words = text.replace(",", " ").split()
        with_year = len(words) == 2 and re.fullmatch(r"\d{4}", words[1]) is not None
        if words and words[0].rstrip(".") in months and (len(words) == 1 or with_year):
            month_number = months[words[0].rstrip(".")]
            year = int(words[1]) if with_year else None
    if month_number is not None:
        if year is None:  # the last such month up to this one
            year = today.year if month_number <= today.month else today.year - 1
        return _month_span(year, month_number)
    day = parse_day(text, today=today, locale=locale, past=True)
    return (day, day) if day is not None else None


def parse_days(text: str, *, today: date, locale: str) -> tuple[date, date] | None:
    """The days a period names, first and last included: "2026-11", "11月", "上个月",
    "last week", "2026-11-05", "昨天", "下周一到周五", "12-01 to 12-05",
    "2026-11-01 2026-11-15". A day without a year looks back (the last such day up to today);
    the end of a range is counted from its start ("下周一到周五": next week's Friday). None when
    not understood, or when the end comes before the start."""
    cleaned = _clean(text)
    if not cleaned:
        return None
    parts = _RANGE.split(cleaned, maxsplit=1)
    if len(parts) == 1:
        words = cleaned.split()
        if len(words) == 2:  # two days side by side: "2026-11-01 2026-11-15"
            first = parse_day(words[0], today=today, locale=locale, past=True)
            if first is not None:
                parts = words
    if len(parts) == 1:
        return _single_span(cleaned, today, locale)
    start = _single_span(parts[0].strip(), today, locale)
    if start is None:
        return None
    end = parse_day(parts[1].strip(), today=start[0], locale=locale)
    if end is None:
        end_span = _single_span(parts[1].strip(), today, locale)
        if end_span is None:
            return None
        end = end_span[1]
    if end < start[0]:
        return None
    return start[0], end


# --- working days -------------------------------------------------------------------------------


def is_working_day(day: date) -> bool:
    """A working day in mainland China: public holidays are not, 调休 weekends are; Monday to
    Friday for a year `chinesecalendar` does not know yet."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def add_working_days(start: datetime, days: int, tz: ZoneInfo) -> datetime:
    """The end (local midnight) of the `days`-th working day after `start`'s day."""
    day = start.astimezone(tz).date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
