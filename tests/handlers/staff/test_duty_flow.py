"""The service desk (百通岗) through the emulator: the secretary sets weekly half-day shifts,
anyone sees who is on duty now and this week, the worker is reminded the evening before, and a
visit at the desk becomes an issue with channel "desk". 2 November 2026 is a Monday."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlmodel import select

from bot.jobs import run_reminders
from emulator import BotApiEmulator
from handlers.staff.desk_visit import SETTLED, VISIT, WHO
from handlers.staff.duty import DONE, EDIT, PERSON, SHIFT
from storage.db import Database
from storage.models import Channel, DutyShift, Issue, IssueStatus, Person, Role
from storage.roster import Half
from tests.factories import FakeClock, bot_errors, make_community, make_member, running_bot

CQ = ZoneInfo("Asia/Shanghai")


def cq(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=CQ).astimezone(UTC)


async def test_the_roster_the_reminder_and_a_visit_logged_at_the_desk(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xie = emulator.user(first_name="谢兰", language_code="en")
    wang = emulator.user(first_name="王网格", language_code="en")
    xu = emulator.user(first_name="老许", language_code="en")
    async with db.session() as session:
        for user, role in ((xie, Role.SECRETARY), (wang, Role.WORKER), (xu, Role.RESIDENT)):
            person = await make_member(
                session, community, role, name=user.first_name, telegram_user_id=user.id
            )
            person.locale = "en"
            session.add(person)
            if user is xu:
                await session.flush()
                xu_id = person.id or 0
    async with running_bot(emulator, db, clock) as app:
        await xie.send("/duty")
        roster = await xie.expect_message(contains="No shifts are set yet.")
        assert "Nobody is at the desk right now." in roster.text
        await xie.press(roster, "Set the shifts")
        who = await xie.expect_message(contains="Whose shifts?")
        await xie.press(who, "王网格")
        await xie.expect_edit(who, contains="Desk shifts of 王网格")
        for half_day in ("▫️ Monday morning", "▫️ Thursday afternoon"):
            await xie.press(who, half_day)
            await xie.expect_edit(
                who, predicate=lambda m, h=half_day: m.button("✅" + h[2:]) is not None
            )
        await xie.press(who, "Done")
        week = await xie.expect_edit(who, contains="This week:")
        assert "Monday 11/2/26: morning: 王网格" in week.text
        assert "Thursday 11/5/26: afternoon: 王网格" in week.text
        assert "Saturday" not in week.text  # the weekend shows only when someone is there
        # the secretary takes her own half-day too
        await xie.press(roster, "Set the shifts")
        who = await xie.expect_message(contains="Whose shifts?")
        await xie.press(who, "谢兰")
        await xie.expect_edit(who, contains="Desk shifts of 谢兰")
        await xie.press(who, "▫️ Wednesday morning")
        await xie.expect_edit(who, predicate=lambda m: m.button("✅ Wednesday morning") is not None)

        # anyone sees who is there now (Monday 09:00) and this week; residents cannot edit
        await xu.send("/duty")
        seen = await xu.expect_message(contains="On duty now: 王网格")
        assert "Wednesday 11/4/26: morning: 谢兰" in seen.text
        assert seen.button("Set the shifts") is None and seen.button("Log a desk visit") is None
        for data in (EDIT.data(), PERSON.data(2), SHIFT.data(2, 4, Half.AM), DONE.data()):
            denied = await xu.press_data(seen, data)
            assert denied.show_alert and "secretary" in (denied.text or "")
        denied = await xu.press_data(seen, VISIT.data())
        assert denied.show_alert
        await xu.send("/desk")
        await xu.expect_message(contains="Only community staff can do this.")
        forged = await xie.press_data(
            who, SHIFT.data(3, 0, Half.AM)
        )  # a resident cannot be given a shift
        assert forged.show_alert and "Only community workers" in (forged.text or "")

        # the evening before: 谢兰 on Tuesday for Wednesday, 王网格 on Wednesday for Thursday
        clock.current = cq(3, 18, 59)
        await run_reminders(app)
        clock.current = cq(3, 19)
        await run_reminders(app)
        reminder = await xie.expect_message(contains="Reminder: tomorrow, Wednesday")
        assert "morning" in reminder.text and "/desk" in reminder.text
        await run_reminders(app)  # again: nothing twice
        clock.current = cq(4, 19, 30)
        await run_reminders(app)
        await wang.expect_message(contains="Reminder: tomorrow, Thursday 11/5/26")
        await wang.expect_no_message(timeout=0.3)
        await xie.expect_no_message(timeout=0.3)

        # Thursday afternoon at the desk: 张大爷 comes about the old-age allowance
        clock.current = cq(5, 14, 30)
        await xu.send("/duty")
        await xu.expect_message(contains="On duty now: 王网格")
        await wang.send("/desk")
        kinds = await wang.expect_message(contains="What did the resident come for?")
        await wang.press(kinds, "Civil affairs (subsistence allowance, elderly, disability)")
        await wang.expect_edit(kinds, contains="What is the resident's name?")
        await wang.send("张大爷")
        await wang.expect_message(contains="What did 张大爷 come for?")
        await wang.send("Applying for the old-age allowance <80+>")
        logged = await wang.expect_message(contains="Logged as No. 1 (service desk), for 张大爷")
        assert "<80+>" in logged.text
        denied = await xu.press_data(seen, SETTLED.data(1))
        assert denied.show_alert
        await wang.press(logged, "Settled on the spot")
        await wang.expect_edit(logged, contains="No. 1 was settled at the desk.")

        # 老许 himself comes to the desk: the worker finds him on file, and the visit is his
        await wang.send("/desk")
        kinds = await wang.expect_message(contains="What did the resident come for?")
        await wang.press(kinds, "Civil affairs (subsistence allowance, elderly, disability)")
        await wang.expect_edit(kinds, contains="What is the resident's name?")
        await wang.send("老许")
        which = await wang.expect_message(contains="Is 老许 one of these residents on file?")
        assert which.button_texts()[-2:] == ["Someone new: 老许", "Cancel"]
        forged = await xu.press_data(seen, WHO.data(xu_id))  # not his flow, not staff
        assert forged.show_alert
        await wang.press(which, which.button_texts()[0])
        await wang.expect_edit(which, contains="What did 老许 come for?")
        await wang.send("His pension card")
        await wang.expect_message(contains="Logged as No. 2 (service desk), for 老许")
        told = await xu.expect_message(contains="No. 2")  # he uses Telegram: he is told
        assert "His pension card" in told.text

    async with db.session() as session:
        issue, his = (await session.exec(select(Issue).order_by(Issue.number))).all()
        worker = (await session.exec(select(Person).where(Person.full_name == "王网格"))).one()
        visitor = await session.get(Person, issue.reporter_id)
        shifts = (await session.exec(select(DutyShift))).all()
    assert issue.channel == Channel.DESK and issue.category == "civil_affairs"
    assert issue.logged_by_id == worker.id and issue.owner_id == worker.id
    assert issue.status == IssueStatus.RESOLVED
    assert (
        visitor is not None and visitor.full_name == "张大爷" and visitor.telegram_user_id is None
    )
    assert sorted((s.weekday, s.half) for s in shifts) == [(0, "am"), (2, "am"), (3, "pm")]
    assert his.reporter_id == xu_id and his.channel == Channel.DESK  # not a second 老许
    assert bot_errors(emulator) == []
