"""The calendar feeds' rules (storage/calendars.py): secret, revocable addresses; a worker's feed
holds their shifts, their meetings and their due dates only, and stops when they stop being
staff; the .ics file reads back as RFC 5545 with the community's time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar
from sqlmodel import col, select

from storage import calendars, roster, turnover
from storage import issues as rules
from storage.council import CouncilPolicy
from storage.council_meetings import cancel_meeting, schedule_meeting
from storage.db import Database
from storage.models import Community, CouncilMeeting, Person, Role
from storage.roster import DeskHours, Half
from tests.factories import FakeClock, make_community, make_issue, make_member

TZ = ZoneInfo("Asia/Shanghai")


def _words() -> calendars.Words:
    return calendars.Words(
        calendar="邢家桥社区",
        meeting="Council meeting",
        shift="Desk ({half})",
        halves={Half.AM: "morning", Half.PM: "afternoon"},
        due="Due: #{number} {category} {building}",
        categories={"facilities": "Facilities"},
        nowhere="no building",
    )


async def _setup(db: Database, clock: FakeClock) -> tuple[Community, int, int, int]:
    community = await make_community(db, clock)
    assert community.id is not None
    async with db.session() as session:
        stored = await session.get(Community, community.id)
        assert stored is not None
        wang = await make_member(session, stored, Role.WORKER, name="王网格")
        li = await make_member(session, stored, Role.WORKER, name="李网格")
        resident = await make_member(session, stored, Role.RESIDENT, name="老许")
        assert wang.id and li.id and resident.id
        await roster.toggle_shift(
            session, community_id=community.id, person_id=wang.id, weekday=2, half=Half.AM,
            now=clock(),
        )  # fmt: skip
        await roster.toggle_shift(
            session, community_id=community.id, person_id=li.id, weekday=4, half=Half.PM,
            now=clock(),
        )  # fmt: skip
        for by, days in ((wang, 3), (li, 5)):
            assert by.id is not None
            await schedule_meeting(
                session,
                community_id=community.id,
                starts_at=clock() + timedelta(days=days),
                place="议事厅",
                topic_ids=[],
                invite_residents=False,
                created_by_id=by.id,
                now=clock(),
                policy=CouncilPolicy(),
                tz=TZ,
            )
        mine = await make_issue(session, stored, resident, clock, "王大妈家门口 13812345678")
        theirs = await make_issue(session, stored, resident, clock)
        await rules.claim(session, mine, actor_id=wang.id, now=clock())
        await rules.set_plan(
            session, mine, plan="换灯", due_at=clock() + timedelta(days=2), actor_id=wang.id,
            now=clock(),
        )  # fmt: skip
        await rules.claim(session, theirs, actor_id=li.id, now=clock())
        await rules.set_plan(
            session, theirs, plan="修", due_at=clock() + timedelta(days=4), actor_id=li.id,
            now=clock(),
        )  # fmt: skip
    return community, wang.id, li.id, resident.id


async def test_a_feed_address_is_secret_stable_and_revocable(
    db: Database, clock: FakeClock
) -> None:
    community, wang, _li, _resident = await _setup(db, clock)
    assert community.id is not None
    async with db.session() as session:
        shared = await calendars.feed_for(
            session, community_id=community.id, person_id=None, now=clock()
        )
        own = await calendars.feed_for(
            session, community_id=community.id, person_id=wang, now=clock()
        )
        again = await calendars.feed_for(
            session, community_id=community.id, person_id=wang, now=clock()
        )
    assert own.token == again.token  # asking twice gives the same address
    assert shared.token != own.token
    assert len(own.token) >= 43  # 256 bits, URL-safe
    async with db.session() as session:
        found = await calendars.resolve(session, own.token)
        assert found is not None and found.person is not None and found.person.id == wang
        found = await calendars.resolve(session, shared.token)
        assert found is not None and found.person is None
        assert await calendars.resolve(session, own.token[:-1]) is None  # a guess finds nothing
        assert await calendars.resolve(session, "") is None
        renewed = await calendars.renew(
            session, community_id=community.id, person_id=wang, now=clock()
        )
    assert renewed.token != own.token
    async with db.session() as session:
        assert await calendars.resolve(session, own.token) is None  # the old one is dead
        assert await calendars.resolve(session, renewed.token) is not None
        assert await calendars.resolve(session, shared.token) is not None  # untouched


async def test_a_workers_feed_stops_when_they_leave_the_staff(
    db: Database, clock: FakeClock
) -> None:
    community, wang, _li, _resident = await _setup(db, clock)
    assert community.id is not None
    async with db.session() as session:
        own = await calendars.feed_for(
            session, community_id=community.id, person_id=wang, now=clock()
        )
    async with db.session() as session:
        stored = await session.get(Community, community.id)
        assert stored is not None
        secretary = await make_member(session, stored, Role.SECRETARY, name="谢兰")
        assert secretary.id is not None
        await turnover.deactivate_worker(
            session,
            community_id=community.id,
            secretary_id=secretary.id,
            worker_id=wang,
            to_person_id=None,
            reason="left",
            now=clock(),
        )
    async with db.session() as session:
        assert await calendars.resolve(session, own.token) is None


async def test_a_workers_feed_has_their_shifts_meetings_and_due_dates_only(
    db: Database, clock: FakeClock
) -> None:
    community, wang, li, _resident = await _setup(db, clock)
    async with db.session() as session:
        stored = await session.get(Community, community.id)
        found = await calendars.resolve(
            session,
            (
                await calendars.feed_for(
                    session, community_id=community.id or 0, person_id=wang, now=clock()
                )
            ).token,
        )
        assert stored is not None and found is not None and found.person is not None
        mine = await calendars.person_events(session, stored, found.person, now=clock())
        everything = await calendars.community_events(session, stored, now=clock())
    assert [(s.weekday, s.half) for s in mine.shifts] == [(2, Half.AM)]
    assert len(mine.meetings) == 1 and mine.meetings[0].starts_at == clock() + timedelta(days=3)
    assert [d.due_at for d in mine.due] == [clock() + timedelta(days=2)]
    assert [(s.weekday, s.half) for s in everything.shifts] == [(2, Half.AM), (4, Half.PM)]
    assert len(everything.meetings) == 2 and everything.due == []
    assert {s.person_id for s in everything.shifts} == {wang, li}


async def test_the_ics_reads_back_with_weekly_shifts_in_the_communitys_time(
    db: Database, clock: FakeClock
) -> None:
    community, wang, _li, _resident = await _setup(db, clock)
    async with db.session() as session:
        stored = await session.get(Community, community.id)
        assert stored is not None
        meetings = (
            await session.exec(
                select(CouncilMeeting)
                .where(CouncilMeeting.community_id == stored.id)
                .order_by(col(CouncilMeeting.starts_at))
            )
        ).all()
        await cancel_meeting(session, meetings[1], now=clock())
        everything = await calendars.community_events(session, stored, now=clock())
        person = await session.get(Person, wang)
        assert person is not None
        mine = await calendars.person_events(session, stored, person, now=clock())
    hours = DeskHours()
    shared = Calendar.from_ical(
        calendars.to_ics(
            everything, _words(), tz=TZ, hours=hours, now=clock(), people={wang: "王网格"}
        )
    )
    events = [c for c in shared.walk("VEVENT")]
    shifts = [e for e in events if "RRULE" in e]
    assert len(shifts) == 2
    first = next(e for e in shifts if "王网格" in str(e["SUMMARY"]))
    start = first.decoded("DTSTART")
    # Monday 2 November 2026 is "now": Wednesday's morning shift starts on the 4th, 08:30 local
    assert start == datetime(2026, 11, 4, 8, 30, tzinfo=TZ)
    assert start.tzinfo is not None and str(first["DTSTART"].params["TZID"]) == "Asia/Shanghai"
    assert first.decoded("DTEND") == datetime(2026, 11, 4, 12, 0, tzinfo=TZ)
    assert first["RRULE"]["FREQ"] == ["WEEKLY"]
    assert str(first["SUMMARY"]).startswith("Desk (morning)")
    held = [e for e in events if str(e["SUMMARY"]) == "Council meeting"]
    assert sorted(str(e["STATUS"]) for e in held) == ["CANCELLED", "CONFIRMED"]
    assert all(str(e["LOCATION"]) == "议事厅" for e in held)
    assert shared.walk("VTIMEZONE"), "the time zone travels with the file"
    own = Calendar.from_ical(calendars.to_ics(mine, _words(), tz=TZ, hours=hours, now=clock()))
    text = own.to_ical().decode()
    due = [e for e in own.walk("VEVENT") if str(e["SUMMARY"]).startswith("Due")]
    assert len(due) == 1 and "#1 Facilities no building" in str(due[0]["SUMMARY"])
    # what the resident wrote never reaches a calendar
    assert "王大妈" not in text and "13812345678" not in text and "老许" not in text
    uids = [str(e["UID"]) for e in own.walk("VEVENT")]
    assert len(set(uids)) == len(uids)
