"""The service desk (百通岗) roster: weekly half-day shifts per worker (the secretary takes one
too), who is on duty now and this week, the reminder the evening before a shift, and visits at
the desk logged as issues with channel "desk".

Shift hours and the reminder time are settings (`DeskHours`); all times are community time.
Like storage/reminders.py, `plan_duty_reminders` looks at the roster as it is and queues what is
due, once per worker and shift date (dedupe key), so it can run every few minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import issues as rules
from storage import outbox
from storage.categories import CATEGORIES, TimeLimits
from storage.council import community_staff
from storage.models import (
    STAFF_ROLES,
    Channel,
    Community,
    DutyShift,
    Issue,
    Membership,
    Person,
    Role,
)
from storage.notifications import issue_opened
from storage.reports import tell_resident_it_was_logged
from storage.schedule import parse_clock

DUTY_REMINDER = "duty_reminder"


class Half(StrEnum):
    AM = "am"
    PM = "pm"


def parse_hours(value: str) -> tuple[time, time]:
    """ "08:30-12:00" -> (08:30, 12:00); ValueError unless start < end."""
    start, sep, end = value.partition("-")
    if not sep:
        raise ValueError(f"expected HH:MM-HH:MM, got {value!r}")
    first, last = parse_clock(start), parse_clock(end)
    if first >= last:
        raise ValueError(f"the shift must end after it starts: {value!r}")
    return first, last


@dataclass(frozen=True)
class DeskHours:
    morning: tuple[time, time] = (time(8, 30), time(12, 0))
    afternoon: tuple[time, time] = (time(14, 0), time(17, 30))
    reminder_at: time = time(19, 0)  # the evening before a shift

    def window(self, half: Half) -> tuple[time, time]:
        return self.morning if half is Half.AM else self.afternoon


class RosterError(Exception):
    """A refusal to tell the person in plain words."""


def shift_window(
    day: date, half: Half, hours: DeskHours, tz: ZoneInfo
) -> tuple[datetime, datetime]:
    start, end = hours.window(half)
    return (
        datetime.combine(day, start, tzinfo=tz).astimezone(UTC),
        datetime.combine(day, end, tzinfo=tz).astimezone(UTC),
    )


def next_shift_day(shift: DutyShift, now: datetime, hours: DeskHours, tz: ZoneInfo) -> date:
    """The next day this weekly shift starts (today if it has not started yet)."""
    today = now.astimezone(tz).date()
    day = today + timedelta(days=(shift.weekday - today.weekday()) % 7)
    if shift_window(day, Half(shift.half), hours, tz)[0] <= now:
        day += timedelta(days=7)
    return day


def on_duty(
    shifts: Sequence[DutyShift], now: datetime, hours: DeskHours, tz: ZoneInfo
) -> list[DutyShift]:
    """The shifts whose half-day is going on at `now`."""
    today = now.astimezone(tz).date()
    result = []
    for shift in shifts:
        if shift.weekday != today.weekday():
            continue
        start, end = shift_window(today, Half(shift.half), hours, tz)
        if start <= now < end:
            result.append(shift)
    return result


async def roster(session: AsyncSession, community_id: int) -> list[tuple[DutyShift, Person]]:
    """Every shift of the community with its worker, Monday morning first."""
    rows = await session.exec(
        select(DutyShift, Person)
        .join(Person, col(Person.id) == DutyShift.person_id)
        .where(DutyShift.community_id == community_id)
        .order_by(col(DutyShift.weekday), col(DutyShift.half), col(Person.full_name))
    )
    return list(rows.all())


async def toggle_shift(
    session: AsyncSession,
    *,
    community_id: int,
    person_id: int,
    weekday: int,
    half: Half,
    now: datetime,
) -> bool:
    """Give the worker this weekly half-day, or take it away; returns whether they have it."""
    if not 0 <= weekday <= 6:
        raise RosterError("no such weekday")
    if person_id not in {p.id for p in await community_staff(session, community_id)}:
        raise RosterError("only community workers take desk shifts")
    existing = (
        await session.exec(
            select(DutyShift).where(
                DutyShift.community_id == community_id,
                DutyShift.person_id == person_id,
                DutyShift.weekday == weekday,
                DutyShift.half == half,
            )
        )
    ).first()
    if existing is not None:
        await session.delete(existing)
        await session.flush()
        return False
    session.add(
        DutyShift(
            community_id=community_id,
            person_id=person_id,
            weekday=weekday,
            half=half,
            created_at=now,
        )
    )
    await session.flush()
    return True


async def shifts_on(
    session: AsyncSession, *, community_id: int, person_id: int, weekday: int
) -> list[DutyShift]:
    rows = await session.exec(
        select(DutyShift)
        .where(
            DutyShift.community_id == community_id,
            DutyShift.person_id == person_id,
            DutyShift.weekday == weekday,
        )
        .order_by(col(DutyShift.half))
    )
    return list(rows.all())


async def plan_duty_reminders(session: AsyncSession, *, now: datetime, hours: DeskHours) -> int:
    """Queue the evening-before reminder of every coming shift whose reminder time has come:
    one message per worker and shift date (both halves of a day in one)."""
    queued = 0
    for community in (await session.exec(select(Community))).all():
        assert community.id is not None
        tz = ZoneInfo(community.timezone)
        for shift, person in await roster(session, community.id):
            if person.telegram_user_id is None:
                continue
            day = next_shift_day(shift, now, hours, tz)
            remind_at = datetime.combine(
                day - timedelta(days=1), hours.reminder_at, tzinfo=tz
            ).astimezone(UTC)
            if now < remind_at:
                continue
            queued += await outbox.enqueue(
                session,
                chat_id=person.telegram_user_id,
                kind=DUTY_REMINDER,
                dedupe_key=f"duty:{person.id}:{day.isoformat()}",
                due_at=now,
                payload={"person_id": person.id, "date": day.isoformat()},
                now=now,
                person_id=person.id,
                community_id=community.id,
            )
    return queued


# --- visits at the desk -------------------------------------------------------------------------


async def log_desk_visit(
    session: AsyncSession,
    *,
    community_id: int,
    worker_id: int,
    resident_name: str,
    category: str,
    description: str,
    now: datetime,
    limits: TimeLimits,
    resident_id: int | None = None,
) -> Issue:
    """A resident came to the desk and their matter becomes an issue with channel "desk", logged
    by the worker. `resident_id`: the resident on file the worker recognised (their issue, on
    their /my, and told of it when they use Telegram); else the visitor is noted as a person
    without Telegram (a resident of the community)."""
    if category not in CATEGORIES:
        raise RosterError("unknown category")
    name, description = resident_name.strip(), description.strip()
    if not name or not description:
        raise RosterError("a desk visit needs the resident's name and what they came for")
    if resident_id is not None:
        on_file = (
            await session.exec(
                select(Person)
                .join(Membership, col(Membership.person_id) == Person.id)
                .where(
                    Person.id == resident_id,
                    Membership.community_id == community_id,
                    col(Membership.active).is_(True),
                    col(Membership.role).not_in([str(r) for r in STAFF_ROLES]),
                )
            )
        ).first()
        if on_file is None:
            raise RosterError("not a resident of this community")
        visitor = on_file
    else:
        visitor = Person(full_name=name[:200], created_at=now)
        session.add(visitor)
        await session.flush()
        assert visitor.id is not None
        session.add(Membership(person_id=visitor.id, community_id=community_id, role=Role.RESIDENT))
    issue = await rules.create_issue(
        session,
        community_id=community_id,
        category=category,
        description=description,
        now=now,
        limits=limits,
        reporter_id=visitor.id,
        logged_by_id=worker_id,
        channel=Channel.DESK,
    )
    await issue_opened(session, issue, now=now)
    if resident_id is not None:
        await tell_resident_it_was_logged(session, issue, now=now)
    return issue


async def handled_at_desk(
    session: AsyncSession, issue: Issue, *, worker_id: int, note: str, now: datetime
) -> Issue:
    """Settled on the spot (most desk matters are): the worker owns it and resolves it."""
    if issue.channel != Channel.DESK or issue.logged_by_id != worker_id:
        raise RosterError("only the worker who logged the visit closes it this way")
    await rules.claim(session, issue, actor_id=worker_id, now=now)
    await rules.resolve(session, issue, note=note, actor_id=worker_id, now=now)
    return issue
