"""Calendar feeds (iCalendar, RFC 5545) at secret addresses: a community's council meetings and
service-desk shifts, and each worker's own (their shifts, the meetings they called or take part
in, the due dates of the issues they own).

- A feed's address is `/calendar/<token>.ics`; the token (`secrets.token_urlsafe`, 256 bits) is
  the whole secret, so it is unguessable, and a renewed feed's old token answers nothing from
  then on (`renew`). A worker's feed also stops when they stop being staff of the community:
  rights are checked each time it is read (`resolve`).
- What a feed shows is safe to sync to any calendar service: times, places, issue numbers and
  categories, and on the community's the names of the workers at the desk (as /duty shows
  them to anyone); never what a resident wrote, nor a resident's name or phone.
- `to_ics` writes the events; the words (titles) are passed in already translated, since
  storage knows nothing of languages (bot/feeds.py translates them).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.issue_lifecycle import OPEN
from storage.models import (
    STAFF_ROLES,
    Building,
    CalendarFeed,
    Community,
    CouncilMeeting,
    DutyShift,
    Issue,
    IssueStatus,
    MeetingParticipant,
    MeetingStatus,
    Person,
)
from storage.people import role_in
from storage.roster import DeskHours, Half

TOKEN_BYTES = 32
MEETINGS_SINCE = timedelta(days=90)  # meetings further back are left out of the feeds
MEETING_LENGTH = timedelta(hours=2)  # a meeting has a start only; calendars show two hours
DUE_STATUSES = (*OPEN, IssueStatus.TRANSFERRED)


@dataclass(frozen=True)
class Feed:
    """A feed found by its token: whose it is, and for which community."""

    community: Community
    person: Person | None  # None: the community's feed


async def active_feed(
    session: AsyncSession, *, community_id: int, person_id: int | None
) -> CalendarFeed | None:
    found = await session.exec(
        select(CalendarFeed).where(
            CalendarFeed.community_id == community_id,
            CalendarFeed.person_id == person_id,
            col(CalendarFeed.revoked_at).is_(None),
        )
    )
    return found.first()


async def feed_for(
    session: AsyncSession, *, community_id: int, person_id: int | None, now: datetime
) -> CalendarFeed:
    """The active feed of the community (person_id None) or of a worker, made on first ask."""
    feed = await active_feed(session, community_id=community_id, person_id=person_id)
    if feed is not None:
        return feed
    feed = CalendarFeed(
        token=secrets.token_urlsafe(TOKEN_BYTES),
        community_id=community_id,
        person_id=person_id,
        created_at=now,
    )
    session.add(feed)
    await session.flush()
    return feed


async def renew(
    session: AsyncSession, *, community_id: int, person_id: int | None, now: datetime
) -> CalendarFeed:
    """Revoke the active feed (its address stops answering) and make a new one."""
    feed = await active_feed(session, community_id=community_id, person_id=person_id)
    if feed is not None:
        feed.revoked_at = now
        session.add(feed)
        await session.flush()
    return await feed_for(session, community_id=community_id, person_id=person_id, now=now)


async def resolve(session: AsyncSession, token: str) -> Feed | None:
    """The feed behind a token, if it is active and (a worker's) its worker is still staff of
    the community; None otherwise, whatever the reason (the caller answers 404)."""
    if not token or len(token) > 64:
        return None
    found = await session.exec(
        select(CalendarFeed).where(
            CalendarFeed.token == token, col(CalendarFeed.revoked_at).is_(None)
        )
    )
    feed = found.first()
    if feed is None:
        return None
    community = await session.get(Community, feed.community_id)
    if community is None:
        return None
    if feed.person_id is None:
        return Feed(community, None)
    person = await session.get(Person, feed.person_id)
    role = await role_in(session, person_id=feed.person_id, community_id=feed.community_id)
    if person is None or role not in STAFF_ROLES:
        return None
    return Feed(community, person)


# --- the events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shift:
    uid: str
    weekday: int  # 0 = Monday
    half: Half
    person_id: int


@dataclass(frozen=True)
class Meeting:
    uid: str
    starts_at: datetime
    place: str
    cancelled: bool


@dataclass(frozen=True)
class Due:
    uid: str
    due_at: datetime
    number: int
    category: str
    building: str | None


@dataclass(frozen=True)
class Events:
    shifts: list[Shift]
    meetings: list[Meeting]
    due: list[Due]


def _uid(kind: str, community_id: int, *parts: object) -> str:
    return "-".join([kind, str(community_id), *map(str, parts)]) + "@community-notebook"


async def community_events(session: AsyncSession, community: Community, *, now: datetime) -> Events:
    assert community.id is not None
    shifts = (
        await session.exec(
            select(DutyShift)
            .where(DutyShift.community_id == community.id)
            .order_by(col(DutyShift.weekday), col(DutyShift.half), col(DutyShift.id))
        )
    ).all()
    meetings = (
        await session.exec(
            select(CouncilMeeting)
            .where(
                CouncilMeeting.community_id == community.id,
                col(CouncilMeeting.starts_at) >= now - MEETINGS_SINCE,
            )
            .order_by(col(CouncilMeeting.starts_at))
        )
    ).all()
    return Events(
        shifts=[_shift(community.id, s) for s in shifts],
        meetings=[_meeting(community.id, m) for m in meetings],
        due=[],
    )


async def person_events(
    session: AsyncSession, community: Community, person: Person, *, now: datetime
) -> Events:
    assert community.id is not None and person.id is not None
    shifts = (
        await session.exec(
            select(DutyShift)
            .where(DutyShift.community_id == community.id, DutyShift.person_id == person.id)
            .order_by(col(DutyShift.weekday), col(DutyShift.half))
        )
    ).all()
    taking_part = select(MeetingParticipant.meeting_id).where(
        MeetingParticipant.person_id == person.id
    )
    meetings = (
        await session.exec(
            select(CouncilMeeting)
            .where(
                CouncilMeeting.community_id == community.id,
                col(CouncilMeeting.starts_at) >= now - MEETINGS_SINCE,
                or_(
                    CouncilMeeting.created_by_id == person.id,
                    col(CouncilMeeting.id).in_(taking_part),
                ),
            )
            .order_by(col(CouncilMeeting.starts_at))
        )
    ).all()
    issues = (
        await session.exec(
            select(Issue, Building.name)
            .join(Building, col(Building.id) == col(Issue.building_id), isouter=True)
            .where(
                Issue.community_id == community.id,
                Issue.owner_id == person.id,
                col(Issue.due_at).is_not(None),
                col(Issue.status).in_(DUE_STATUSES),
            )
            .order_by(col(Issue.due_at))
        )
    ).all()
    return Events(
        shifts=[_shift(community.id, s) for s in shifts],
        meetings=[_meeting(community.id, m) for m in meetings],
        due=[
            Due(
                uid=_uid("due", community.id, issue.id),
                due_at=issue.due_at,
                number=issue.number,
                category=issue.category,
                building=building,
            )
            for issue, building in issues
            if issue.due_at is not None
        ],
    )


def _shift(community_id: int, shift: DutyShift) -> Shift:
    return Shift(
        uid=_uid("shift", community_id, shift.id),
        weekday=shift.weekday,
        half=Half(shift.half),
        person_id=shift.person_id,
    )


def _meeting(community_id: int, meeting: CouncilMeeting) -> Meeting:
    return Meeting(
        uid=_uid("meeting", community_id, meeting.id),
        starts_at=meeting.starts_at,
        place=meeting.place,
        cancelled=meeting.status == MeetingStatus.CANCELLED,
    )


# --- the file --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Words:
    """The feed's titles, in the reader's language (bot/feeds.py)."""

    calendar: str  # the calendar's name
    meeting: str
    shift: str  # "{half}" is replaced by the morning's or afternoon's label
    halves: dict[Half, str]
    due: str  # "{number}", "{category}", "{building}"
    categories: dict[str, str]
    nowhere: str  # the building when an issue has none


def _first_day(weekday: int, since: date) -> date:
    return since + timedelta(days=(weekday - since.weekday()) % 7)


def to_ics(
    events: Events,
    words: Words,
    *,
    tz: ZoneInfo,
    hours: DeskHours,
    now: datetime,
    people: dict[int, str] | None = None,
) -> bytes:
    """The calendar as an .ics file. Shifts are weekly events (RRULE) from this week on;
    meetings and due dates are single events; cancelled meetings stay, marked CANCELLED, so a
    calendar that had them removes them. `people`: names for the shifts of a community feed
    (omitted: no names)."""
    calendar = Calendar()
    calendar.add("prodid", "-//Community Notebook//社区民情本//ZH")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", words.calendar)
    calendar.add("x-wr-timezone", tz.key)
    stamp = now.astimezone(UTC)
    monday = now.astimezone(tz).date() - timedelta(days=now.astimezone(tz).weekday())
    for shift in events.shifts:
        start, end = hours.window(shift.half)
        day = _first_day(shift.weekday, monday)
        event = Event()
        event.add("uid", shift.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", datetime.combine(day, start, tzinfo=tz))
        event.add("dtend", datetime.combine(day, end, tzinfo=tz))
        event.add("rrule", {"freq": "weekly"})
        summary = words.shift.format(half=words.halves[shift.half])
        if people is not None and shift.person_id in people:
            summary = f"{summary} · {people[shift.person_id]}"
        event.add("summary", summary)
        calendar.add_component(event)
    for meeting in events.meetings:
        event = Event()
        event.add("uid", meeting.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", meeting.starts_at.astimezone(tz))
        event.add("dtend", (meeting.starts_at + MEETING_LENGTH).astimezone(tz))
        event.add("summary", words.meeting)
        event.add("location", meeting.place)
        event.add("status", "CANCELLED" if meeting.cancelled else "CONFIRMED")
        calendar.add_component(event)
    for due in events.due:
        event = Event()
        event.add("uid", due.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", due.due_at.astimezone(tz))
        event.add("dtend", due.due_at.astimezone(tz) + timedelta(minutes=30))
        event.add(
            "summary",
            words.due.format(
                number=due.number,
                category=words.categories.get(due.category, due.category),
                building=due.building or words.nowhere,
            ),
        )
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()
