"""Clock arithmetic in a community's time zone: quiet hours, "this morning at 08:30", weeks.

Plain functions of `now`; every schedule in the notebook is computed here.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def parse_clock(value: str) -> time:
    """ "22:00" -> time(22, 0); raises ValueError on anything else."""
    hours, sep, minutes = value.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit():
        raise ValueError(f"expected HH:MM, got {value!r}")
    return time(int(hours), int(minutes))


def in_quiet_hours(moment: datetime, tz: ZoneInfo, start: time, end: time) -> bool:
    local = moment.astimezone(tz).time()
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end  # spans midnight (22:00-07:30)


def quiet_hours_end(moment: datetime, tz: ZoneInfo, start: time, end: time) -> datetime:
    """The first instant at or after `moment` outside quiet hours."""
    if not in_quiet_hours(moment, tz, start, end):
        return moment
    local = moment.astimezone(tz)
    candidate = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate.astimezone(UTC)


def local_today_at(now: datetime, tz: ZoneInfo, at: time) -> datetime:
    """Today's `at` (in the community's zone) as an aware UTC datetime."""
    local = now.astimezone(tz)
    return local.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0).astimezone(UTC)


def local_date(now: datetime, tz: ZoneInfo) -> str:
    return now.astimezone(tz).date().isoformat()


def week_start(now: datetime, tz: ZoneInfo, weekday: int, at: time) -> datetime:
    """The most recent `weekday` (0 = Monday) at `at`, local, not after `now`."""
    today_at = local_today_at(now, tz, at).astimezone(tz)
    days_back = (today_at.weekday() - weekday) % 7
    slot = today_at - timedelta(days=days_back)
    if slot > now:
        slot -= timedelta(days=7)
    return slot.astimezone(UTC)
