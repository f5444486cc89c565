"""The sandbox's clock: real time plus jumps forward, so reminders and the digest can be seen
without waiting for them.

The bot is built with this clock (`build_application(clock=…)`) and the emulator stamps messages
with it, so everything in the sandbox agrees on what time it is. It only ever moves forward: the
notebook's reminders are keyed by time, and going back would show the same reminder twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from enum import StrEnum
from zoneinfo import ZoneInfo

from storage.reminders import ReminderPolicy
from storage.schedule import week_start
from storage.types import utcnow


class Jump(StrEnum):
    """The jumps the page offers."""

    HOUR = "hour"
    DAY = "day"
    DIGEST = "digest"  # to the next weekly digest slot (Monday 08:00 by default)


class SandboxClock:
    """`clock()` is the sandbox's now (aware, UTC). With `follow_real_time` it keeps ticking
    like a wall clock between jumps; without, it stands still (tests)."""

    def __init__(
        self,
        start: datetime | None = None,
        *,
        follow_real_time: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("the sandbox clock needs an aware start time")
        self._base = (start or utcnow()).astimezone(UTC)
        self._follow = follow_real_time
        self._monotonic = monotonic
        self._anchor = monotonic()
        self.revision = 0  # bumps at every jump, so watchers can tell a jump happened

    @property
    def follows_real_time(self) -> bool:
        return self._follow

    def __call__(self) -> datetime:
        if not self._follow:
            return self._base
        return self._base + timedelta(seconds=self._monotonic() - self._anchor)

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("the sandbox clock only moves forward")
        self._base += delta
        self.revision += 1
        return self()

    def jump(self, jump: Jump, *, tz: ZoneInfo, policy: ReminderPolicy) -> datetime:
        if jump is Jump.HOUR:
            return self.advance(timedelta(hours=1))
        if jump is Jump.DAY:
            return self.advance(timedelta(days=1))
        now = self()
        return self.advance(
            next_weekly_slot(now, tz, policy.digest_weekday, policy.digest_at) - now
        )


def next_weekly_slot(now: datetime, tz: ZoneInfo, weekday: int, at: clock_time) -> datetime:
    """The first `weekday` at `at` (local time in `tz`) strictly after `now`."""
    last = week_start(now, tz, weekday, at).astimezone(tz)
    # Wall-clock arithmetic in the zone: "next Monday 08:00" stays 08:00 across DST changes.
    following = (last + timedelta(days=7)).replace(hour=at.hour, minute=at.minute)
    return following.astimezone(UTC)
