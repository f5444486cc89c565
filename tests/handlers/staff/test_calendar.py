"""/calendar (handlers/staff/calendar.py) and the feeds it points to (bot/feeds.py): staff get
two addresses, the community's and their own; the addresses answer an .ics calendar over the
bot's HTTP server; "New address" kills the old one; residents and forged presses get nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import aiohttp
from icalendar import Calendar

from emulator import BotApiEmulator
from handlers.staff.calendar import RENEW_MINE, RENEW_SHARED
from storage import roster
from storage.council import CouncilPolicy
from storage.council_meetings import schedule_meeting
from storage.db import Database
from storage.roster import Half
from tests.factories import FakeClock, bot_errors, running_bot
from tests.staffroom import staffroom
from tests.webhooks import free_port

PUBLIC = "https://notebook.example.org"
ADDRESS = re.compile(re.escape(PUBLIC) + r"/calendar/([A-Za-z0-9_-]+)\.ics")


async def _fetch(base: str, address: str) -> tuple[int, str, bytes]:
    path = address.removeprefix(PUBLIC)
    async with aiohttp.ClientSession() as http, http.get(base + path) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.read()


async def test_staff_get_their_calendars_and_can_renew_an_address(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock, locale="en", names=("Xie", "Wang", "Li", "Xu"))
    community_id = room.community.id
    assert community_id is not None
    async with db.session() as session:
        await roster.toggle_shift(
            session,
            community_id=community_id,
            person_id=room.pid(room.wang),
            weekday=2,
            half=Half.AM,
            now=clock(),
        )
        await schedule_meeting(
            session,
            community_id=community_id,
            starts_at=clock() + timedelta(days=3),
            place="Hall",
            topic_ids=[],
            invite_residents=False,
            created_by_id=room.pid(room.secretary),
            now=clock(),
            policy=CouncilPolicy(),
            tz=ZoneInfo("Asia/Shanghai"),
        )
    async with running_bot(emulator, db, clock, health_port=free_port(), public_url=PUBLIC) as app:
        server = app.operations.health_server
        assert server is not None
        wang = room.wang
        await wang.send("/calendar")
        answer = await wang.expect_message(contains="Council meetings and the service desk")
        shared, own = ADDRESS.findall(answer.text)
        assert shared != own
        assert answer.button_texts() == ["New address for my calendar"]  # a worker's buttons

        status, kind, body = await _fetch(server.base_url, f"{PUBLIC}/calendar/{shared}.ics")
        assert status == 200 and kind.startswith("text/calendar")
        events = Calendar.from_ical(body).walk("VEVENT")
        summaries = sorted(str(e["SUMMARY"]) for e in events)
        assert summaries == ["Courtyard council meeting", "Service desk (morning) · Wang"]
        status, _kind, body = await _fetch(server.base_url, f"{PUBLIC}/calendar/{own}.ics")
        assert status == 200
        mine = [str(e["SUMMARY"]) for e in Calendar.from_ical(body).walk("VEVENT")]
        assert mine == ["Service desk (morning)"]  # the meeting is the secretary's, not his

        await wang.send("/calendar")  # asking again gives the same addresses
        again = await wang.expect_message(contains="Your shifts, meetings and due dates")
        assert ADDRESS.findall(again.text) == [shared, own]

        reply = await wang.press(again, "New address for my calendar")
        assert "old one no longer works" in (reply.text or "")
        edited = await wang.expect_edit(again)
        new_shared, new_own = ADDRESS.findall(edited.text)
        assert new_shared == shared and new_own != own
        status, _kind, _body = await _fetch(server.base_url, f"{PUBLIC}/calendar/{own}.ics")
        assert status == 404
        status, _kind, _body = await _fetch(server.base_url, f"{PUBLIC}/calendar/{new_own}.ics")
        assert status == 200

        # a worker cannot renew the community's address, even with a forged press
        forged = again.buttons[0][0].callback_data.replace("cal.mine", "cal.shared")  # type: ignore[union-attr]
        refused = await wang.press_data(again, forged)
        assert refused.show_alert and "Only the secretary" in (refused.text or "")
        status, _kind, _body = await _fetch(server.base_url, f"{PUBLIC}/calendar/{shared}.ics")
        assert status == 200

        xie = room.secretary
        await xie.send("/calendar")
        theirs = await xie.expect_message(contains="Council meetings and the service desk")
        assert ADDRESS.findall(theirs.text)[0] == shared  # one address per community
        assert theirs.button_texts()[-1] == "New address for the community's calendar"
        await xie.press(theirs, "New address for the community's calendar")
        renewed = await xie.expect_edit(theirs)
        assert ADDRESS.findall(renewed.text)[0] != shared
        status, _kind, _body = await _fetch(server.base_url, f"{PUBLIC}/calendar/{shared}.ics")
        assert status == 404

        # a resident: no address, and a forged press changes nothing
        xu = room.xu
        await xu.send("/calendar")
        told = await xu.expect_message(contains="The calendars are for the community's staff.")
        await xie.send("/calendar")
        before = ADDRESS.findall((await xie.expect_message(contains="Council")).text)
        for forged in (RENEW_MINE.data(community_id), RENEW_SHARED.data(community_id)):
            refused = await xu.press_data(told, forged)
            assert refused.show_alert and "for the community's staff" in (refused.text or "")
        await xie.send("/calendar")
        after = await xie.expect_message(contains="Council meetings")
        assert ADDRESS.findall(after.text) == before

        # in the staff group: please use a private chat
        await room.group.send(wang, "/calendar")
        await room.group.expect_message(contains="private chat")
    assert bot_errors(emulator) == []


async def test_without_a_public_address_no_link_is_given(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock, locale="en", names=("Xie", "Wang", "Li", "Xu"))
    async with running_bot(emulator, db, clock):
        await room.wang.send("/calendar")
        answer = await room.wang.expect_message(contains="PUBLIC_URL")
        assert "/calendar/" not in answer.text
    assert bot_errors(emulator) == []
