"""The courtyard council through the emulator: a resident's proposal, neighbours' support, the
secretary grading and scheduling a meeting, invitations and the reminder, attendance, minutes,
a decision that becomes an owned issue with a plan, and the results sent to everyone invited.
Rights are checked on every press. 2 November 2026 (the clock's start) is a Monday."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import select

from delivery.dispatch import dispatch_due
from emulator import BotApiEmulator, BotMessage
from emulator.driver import UserDriver
from handlers.council import (
    meeting_common,
    meeting_decisions,
    meeting_minutes,
    meeting_move,
    meeting_schedule,
    topic_staff,
    topics,
)
from handlers.shared.fallback import STALE
from storage import council_digest
from storage.db import Database
from storage.models import (
    Channel,
    Community,
    CouncilTopic,
    Issue,
    IssueStatus,
    Outbox,
    OutboxStatus,
    Person,
    Role,
    TopicGrade,
    TopicStatus,
)
from tests.factories import (
    FakeClock,
    bot_errors,
    make_cast,
    make_community,
    running_bot,
)

CQ = ZoneInfo("Asia/Shanghai")


def cq(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=CQ).astimezone(UTC)


async def people(
    db: Database, clock: FakeClock, emulator: BotApiEmulator
) -> tuple[Community, dict[str, UserDriver]]:
    """谢兰 (secretary), 王网格 (worker); residents 老许, 李阿姨, 张叔 in 1栋 and 赵姐 in 2栋."""
    community = await make_community(db, clock)
    users = await make_cast(
        db,
        emulator,
        community,
        [
            ("谢兰", Role.SECRETARY, None),
            ("王网格", Role.WORKER, None),
            ("老许", Role.RESIDENT, "1栋"),
            ("李阿姨", Role.RESIDENT, "1栋"),
            ("张叔", Role.RESIDENT, "1栋"),
            ("赵姐", Role.RESIDENT, "2栋"),
        ],
    )
    return community, users


async def propose(user: UserDriver, title: str, description: str, scope: str) -> None:
    await user.send("/propose")
    await user.expect_message(contains="Please send a short title")
    await user.send(title)
    await user.expect_message(contains="tell us more")
    await user.send(description)
    chooser = await user.expect_message(contains="Who does it concern?")
    await user.press(chooser, scope)
    await user.expect_edit(chooser, contains="is now before the courtyard council")


async def test_a_proposal_goes_to_a_meeting_and_its_decision_becomes_an_owned_issue(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community, u = await people(db, clock, emulator)
    xie, wang, xu, li, zhang, zhao = (
        u["谢兰"],
        u["王网格"],
        u["老许"],
        u["李阿姨"],
        u["张叔"],
        u["赵姐"],
    )
    async with running_bot(emulator, db, clock) as app:
        # a resident brings a matter from their phone
        await propose(
            xu, "Elevator for 1栋", "Many of us are old; the stairs are <hard> & steep.", "1栋"
        )
        await dispatch_due(app, now=clock())
        card = await xie.expect_message(contains="New topic for the courtyard council")
        assert "Topic #1: Elevator for 1栋" in card.text
        assert "the stairs are <hard> & steep." in card.text  # shown as typed
        assert "Not graded yet" in card.text
        # a forged press whose grade is none of the grades reaches no handler, even the
        # secretary's, and the topic stays ungraded
        malformed = topic_staff.GRADE.data(1, TopicGrade.QUICK).replace("quick", "soon")
        forged = await xie.press_data(card, malformed)
        assert forged.show_alert and forged.text == STALE
        async with db.session() as session:
            topic = await session.get(CouncilTopic, 1)
            assert topic is not None and topic.grade is None

        # a neighbour supports it, once
        await li.send("/topics")
        listing = await li.expect_message(contains="#1 Elevator for 1栋 (0 supporters)")
        answer = await li.press(listing, "👍 Support #1")
        assert not answer.show_alert and "support is counted" in (answer.text or "")
        await li.expect_edit(listing, contains="(1 supporters)")
        again = await li.press(listing, "👍 Support #1")
        assert again.show_alert and "already support" in (again.text or "")
        # the proposer is not offered their own topic, and another building's resident is refused
        await xu.send("/topics")
        own = await xu.expect_message(contains="#1 Elevator")
        assert own.button("👍 Support #1") is None
        await zhao.send("/topics")
        nothing = await zhao.expect_message(contains="No topics are waiting")
        forged = await zhao.press_data(nothing, topics.SUPPORT.data(1))
        assert forged.show_alert and "another building" in (forged.text or "")

        # residents cannot grade, schedule, or record anything
        denied = await xu.press_data(own, topic_staff.GRADE.data(1, TopicGrade.QUICK))
        assert denied.show_alert and "Only community staff" in (denied.text or "")
        await xu.send("/meeting")
        await xu.expect_message(contains="Only community staff can do this.")
        denied = await xu.press_data(own, meeting_schedule.NEW.data())
        assert denied.show_alert
        await wang.send("/meeting")
        menu = await wang.expect_message(contains="No meetings yet.")
        assert menu.button("Schedule a meeting") is None  # the secretary schedules
        denied = await wang.press_data(menu, meeting_schedule.NEW.data())
        assert denied.show_alert and "secretary" in (denied.text or "")

        # the secretary grades it deep: consultation to start within five working days
        await xie.press(card, "Deep (5 working days)")
        await xie.expect_edit(card, contains="Deep topic: consultation to start by Nov 9, 2026.")

        # … and schedules the meeting
        await xie.send("/meeting")
        menu = await xie.expect_message(contains="No meetings yet.")
        await xie.press(menu, "Schedule a meeting")
        await xie.expect_message(contains="When is the meeting?")
        await xie.send("11-01 19:30")  # typed: already past this year
        where = await xie.expect_message(contains="Where will it be held?")
        assert "2027" in where.text  # a date gone this year means next year
        await xie.send("/meeting")  # start again with the right date
        menu = await xie.expect_message(contains="No meetings yet.")
        await xie.press(menu, "Schedule a meeting")
        await xie.expect_message(contains="When is the meeting?")
        await xie.send("11-2 08:00")
        await xie.expect_message(contains="That time has passed")
        await xie.send("next thursday")  # a day without a time is asked again, not guessed
        await xie.expect_message(contains="I could not read “next thursday” as a day and a time")
        await xie.send("Thursday 7:30pm")  # said as people say it, and read back with its weekday
        await xie.expect_message(
            contains="Thursday, November 5, 2026 7:30\u202fPM. Where will it be held?"
        )
        await xie.send("The courtyard of 1栋")
        chooser = await xie.expect_message(contains="Which topics are on the agenda?")
        await xie.press(chooser, "☐ #1 Elevator for 1栋")
        await xie.expect_edit(
            chooser, predicate=lambda m: m.button("☑ #1 Elevator for 1栋") is not None
        )
        await xie.press(chooser, "Done")
        await xie.expect_edit(chooser, contains="shall I also invite the residents")
        await xie.press(chooser, "Yes, invite them")
        await xie.expect_edit(chooser, contains="Please check:")
        await xie.press(chooser, "Schedule it")
        done = await xie.expect_edit(chooser, contains="Meeting #1 is scheduled")
        assert "3 people are invited" in done.text  # proposer, supporter, 张叔 of 1栋; not 赵姐

        await dispatch_due(app, now=clock())
        invites = {}
        for user, reason in (
            (xu, "you raised a topic"),
            (li, "you support a topic"),
            (zhang, "you live in a building"),
        ):
            invite = await user.expect_message(contains="Invitation to the courtyard council")
            assert "The courtyard of 1栋" in invite.text and reason in invite.text
            assert "#1 Elevator for 1栋" in invite.text
            assert invite.button_texts() == ["Can come", "Cannot come"]
            invites[user.id] = invite
        await zhao.expect_no_message(timeout=0.5)
        # 能来 / 不能来: one tap, shown at once, changed at will before the meeting
        await xu.press(invites[xu.id], "Can come")
        await xu.expect_edit(invites[xu.id], contains="Your answer: Can come.")
        assert invites[xu.id].button_texts() == ["✓ Can come", "Cannot come"]
        await li.press(invites[li.id], "Can come")
        await li.expect_edit(invites[li.id], contains="Your answer: Can come.")
        await li.press(invites[li.id], "Cannot come")
        await li.expect_edit(invites[li.id], contains="Your answer: Cannot come.")
        # someone not invited cannot answer for the meeting
        stranger = await zhao.press_data(nothing, meeting_common.REPLY.data(1, "yes"))
        assert stranger.show_alert

        # the reminder comes the evening before, not earlier
        assert await dispatch_due(app, now=cq(4, 17, 59)) == 0
        clock.current = cq(4, 18)
        assert await dispatch_due(app, now=clock()) == 3
        for user in (xu, li, zhang):
            await user.expect_message(contains="Reminder: the courtyard council meets")

        # the meeting: attendance, minutes, a decision that becomes an issue (black pen)
        clock.current = cq(5, 20, 30)
        await xie.send("/meeting")
        menu = await xie.expect_message(contains="Courtyard council meetings:")
        await xie.press(menu, "Open #1")
        meeting_card = await xie.expect_message(contains="Courtyard council meeting #1")
        await xie.press(meeting_card, "Attendance")
        roll = await xie.expect_message(contains="0 of 3 present")
        await xie.press(roll, "▫️ 老许")
        await xie.expect_edit(roll, contains="1 of 3 present")
        await xie.press(roll, "▫️ 李阿姨")
        await xie.expect_edit(roll, contains="2 of 3 present")
        # not a participant
        forged = await xie.press_data(roll, meeting_minutes.MARK.data(1, 999999, 0))
        assert forged.show_alert
        # a resident marking attendance
        denied = await xu.press_data(own, meeting_minutes.MARK.data(1, 3, 0))
        assert denied.show_alert

        await xie.press(meeting_card, "Minutes")
        await xie.expect_message(contains="Type the minutes of meeting #1")
        await xie.send("Everyone spoke. The ground floor worries about noise.")
        await xie.expect_message(contains="Minutes saved.")

        await wang.send("/meeting")  # a worker records the decision
        menu = await wang.expect_message(contains="Courtyard council meetings:")
        await wang.press(menu, "Open #1")
        card2 = await wang.expect_message(contains="Courtyard council meeting #1")
        assert "The ground floor worries about noise." in card2.text
        assert "2 of 3" not in card2.text and "present: 2" in card2.text
        await wang.press(card2, "Add a decision")
        which = await wang.expect_message(contains="Which topic is the decision about?")
        await wang.press(which, "#1 Elevator for 1栋")
        await wang.expect_edit(which, contains="Type the decision")
        await wang.send("Apply for the elevator subsidy and start a consent campaign in 1栋.")
        recorded = await wang.expect_message(contains="Decision recorded.")
        denied = await xu.press_data(own, meeting_decisions.TO_ISSUE.data(1))
        assert denied.show_alert
        await wang.press(recorded, "Make it an issue with an owner and a plan")
        await wang.expect_edit(recorded, contains="What kind of matter is it?")
        await wang.press(recorded, "Adding an elevator")
        await wang.expect_edit(recorded, contains="Who is responsible for it?")
        # 老许 is no worker
        forged = await wang.press_data(recorded, meeting_decisions.OWNER.data(1, 3))
        assert forged.show_alert and "must be a community worker" in (forged.text or "")
        await wang.press(recorded, "王网格")
        await wang.expect_edit(recorded, contains="type the plan")
        await wang.send("Collect the households' consent by door-to-door visits; apply by Dec.")
        due = await wang.expect_message(contains="By when?")
        await wang.press(due, "In 30 days")
        opened = await wang.expect_edit(due, contains="No. 1 opened: 王网格 is responsible.")
        assert "door-to-door visits" in opened.text
        # the same decision again
        stale = await wang.press_data(recorded, meeting_decisions.TO_ISSUE.data(1))
        assert stale.show_alert and "already has an issue" in (stale.text or "")

        # the proposer and the supporter hear who owns it and the plan
        await dispatch_due(app, now=clock())
        for user in (xu, li):
            await user.expect_message(contains="No. 1: 王网格 is now responsible for it.")
            await user.expect_message(contains="No. 1: the plan is: Collect the households")

        # 结果公示: asked first, then the results go to everyone invited
        await xie.press(meeting_card, "Publish the results")
        await xie.expect_edit(meeting_card, contains="Publish the results now?")
        assert "go to 3 participants" in meeting_card.text
        await xie.press(meeting_card, "Not now")
        await xie.expect_edit(
            meeting_card, predicate=lambda m: "Publish the results now?" not in m.text
        )
        await dispatch_due(app, now=clock())
        await xu.expect_no_message(timeout=0.2)  # nothing was sent
        await xie.press(meeting_card, "Publish the results")
        await xie.expect_edit(meeting_card, contains="Publish the results now?")
        await xie.press(meeting_card, "Yes, publish them")
        await xie.expect_edit(meeting_card, contains="held, results published")
        await dispatch_due(app, now=clock())
        for user in (xu, li, zhang):
            result = await user.expect_message(contains="Results of the courtyard council")
            assert "2 of 3 invited neighbours took part." in result.text
            assert "Apply for the elevator subsidy" in result.text
            assert "No. 1, responsible: 王网格" in result.text
        await zhao.expect_no_message(timeout=0.5)

    async with db.session() as session:
        issue = (await session.exec(select(Issue))).one()
        worker = (await session.exec(select(Person).where(Person.full_name == "王网格"))).one()
        topic = (await session.exec(select(CouncilTopic))).one()
    assert issue.channel == Channel.MEETING and issue.category == "elevator"
    assert issue.owner_id == worker.id and issue.status == IssueStatus.IN_PROGRESS
    assert issue.plan and issue.due_at == cq(5, 20, 30) + timedelta(days=30)
    assert issue.support_count == 1  # 李阿姨 backs it as she backed the topic
    assert topic.status == TopicStatus.DECIDED
    assert community.id is not None
    assert bot_errors(emulator) == []


async def test_a_quick_topic_is_answered_another_becomes_an_issue_and_late_ones_are_flagged(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community, u = await people(db, clock, emulator)
    xie, xu, li = u["谢兰"], u["老许"], u["李阿姨"]
    assert community.id is not None
    async with running_bot(emulator, db, clock) as app:
        await propose(
            xu, "Rubbish bins", "The bins by 1栋 overflow at weekends.", "The whole community"
        )
        await propose(li, "Broken bench", "The bench in the garden is broken.", "1栋")
        await propose(li, "Dogs", "Dogs off the lead in the garden.", "The whole community")
        await dispatch_due(app, now=clock())
        bins = await xie.expect_message(contains="Topic #1: Rubbish bins")
        bench = await xie.expect_message(contains="Topic #2: Broken bench")
        await xie.expect_message(contains="Topic #3: Dogs")

        await xie.press(bins, "Quick (48 h)")
        await xie.expect_edit(bins, contains="Quick topic: answer by")
        await xie.press(bins, "Answer")
        await xie.expect_message(contains="Please type your answer to topic #1")
        await xie.send("A second bin comes on Friday; the cleaners will empty it on Sundays.")
        await xie.expect_message(contains="was sent to the proposer and 0 supporters")
        await dispatch_due(app, now=clock())
        news = await xu.expect_message(contains="The community answered topic #1")
        assert "A second bin comes on Friday" in news.text

        await xie.press(bench, "Turn into an issue")
        await xie.expect_edit(
            bench,
            predicate=lambda m: m.button("Public facilities (stairwell lights, doors)") is not None,
        )
        answer = await xie.press(bench, "Public facilities (stairwell lights, doors)")
        assert "Issue No. 1 opened" in (answer.text or "")
        await xie.expect_edit(bench, contains="Now issue No. 1.")
        stale = await xie.press_data(bench, topic_staff.CATEGORY.data(2, "facilities"))
        assert stale.show_alert and "already been taken up" in (stale.text or "")
        await dispatch_due(app, now=clock())
        await li.expect_message(contains="Topic #2 «Broken bench» is now issue No. 1.")

        # two days on, "Dogs" has had no answer: it is past its limit for the digest and /topics
        clock.advance(hours=49)
        async with db.session() as session:
            late = await council_digest.overdue_topics(session, community.id, clock())
        assert [t.title for t in late] == ["Dogs"]
        await xie.send("/topics")
        listing = await xie.expect_message(contains="Topics before the courtyard council")
        assert "⚠️ #3 Dogs" in listing.text and "#1" not in listing.text
    async with db.session() as session:
        issue = (await session.exec(select(Issue))).one()
    assert issue.reporter_id is not None and issue.category == "facilities"
    assert bot_errors(emulator) == []


async def test_a_restart_in_the_middle_of_a_proposal_loses_nothing(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    _community, u = await people(db, clock, emulator)
    xu = u["老许"]
    async with running_bot(emulator, db, clock):
        await xu.send("/propose")
        await xu.expect_message(contains="Please send a short title")
        await xu.send("Parking at night")
        await xu.expect_message(contains="tell us more")
    async with running_bot(emulator, db, clock):  # a new process on the same database
        await xu.send("Cars block the fire lane every night.")
        chooser = await xu.expect_message(contains="Who does it concern?")
        await xu.press(chooser, "The whole community")
        await xu.expect_edit(chooser, contains="Your topic #1 «Parking at night»")
    async with db.session() as session:
        topic = (await session.exec(select(CouncilTopic))).one()
    assert topic.description == "Cars block the fire lane every night."
    assert bot_errors(emulator) == []


async def test_cancelling_a_meeting_tells_the_invited_and_drops_the_reminder(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    _community, u = await people(db, clock, emulator)
    xie, xu = u["谢兰"], u["老许"]
    async with running_bot(emulator, db, clock) as app:
        await propose(xu, "Street lights", "The lane is dark.", "The whole community")
        await xie.send("/meeting")
        menu = await xie.expect_message(contains="No meetings yet.")
        await xie.press(menu, "Schedule a meeting")
        when = await xie.expect_message(contains="When is the meeting?")
        await xie.press(when, when.button_texts()[0])  # tomorrow evening at 19:30
        await xie.expect_message(contains="Where will it be held?")
        await xie.send("Community hall")
        chooser = await xie.expect_message(contains="Which topics are on the agenda?")
        await xie.press(chooser, "☐ #1 Street lights")
        await xie.expect_edit(
            chooser, predicate=lambda m: m.button("☑ #1 Street lights") is not None
        )
        await xie.press(chooser, "Done")
        await xie.expect_edit(chooser, contains="shall I also invite")
        await xie.press(chooser, "No")
        await xie.expect_edit(chooser, contains="Only proposers and supporters are invited.")
        await xie.press(chooser, "Schedule it")
        await xie.expect_edit(chooser, contains="1 people are invited")
        await dispatch_due(app, now=clock())
        await xu.expect_message(contains="Invitation to the courtyard council")

        await xie.send("/meeting")
        menu = await xie.expect_message(contains="Courtyard council meetings:")
        await xie.press(menu, "Open #1")
        card = await xie.expect_message(contains="Courtyard council meeting #1")
        await xie.press(card, "Cancel the meeting")
        await xie.expect_edit(card, predicate=lambda m: m.button("No, keep it") is not None)
        await xie.press(card, "Yes, cancel it and tell everyone")
        await xie.expect_edit(card, contains="Status: cancelled")
        await dispatch_due(app, now=clock())
        await xu.expect_message(contains="is cancelled. Sorry!")
        clock.advance(days=3)
        assert await dispatch_due(app, now=clock()) == 0  # no reminder for a cancelled meeting
    async with db.session() as session:
        rows = (await session.exec(select(Outbox).where(Outbox.kind == "meeting_reminder"))).all()
        topic = (await session.exec(select(CouncilTopic))).one()
    assert [r.status for r in rows] == [OutboxStatus.CANCELLED]
    assert topic.status == TopicStatus.OPEN  # back to waiting for another meeting
    assert bot_errors(emulator) == []


async def test_a_meeting_time_is_written_as_the_secretary_says_it_and_read_back(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    """周六下午三点 is understood; a day without a time is asked again; the time she meant is
    read back with its weekday before she goes on; the example given is not in the past."""
    _community, u = await people(db, clock, emulator)
    xie = u["谢兰"]
    async with db.session() as session:
        person = (await session.exec(select(Person).where(Person.full_name == "谢兰"))).one()
        person.locale = "zh_Hans"
        session.add(person)
    async with running_bot(emulator, db, clock):
        await xie.send("/meeting")
        menu = await xie.expect_message(contains="还没有议事会。")
        await xie.press(menu, "安排议事会")
        prompt = await xie.expect_message(contains="什么时候开会？")
        assert "比如：周六下午三点" in prompt.text
        assert "11月12日 19:30" in prompt.text  # ten days ahead: an example that can be typed
        assert "12-05" not in prompt.text
        await xie.send("周六")
        again = await xie.expect_message(contains="“周六”我没看懂是哪天几点")
        assert again.button("取消") is not None
        await xie.send("周六下午三点")
        await xie.expect_message(contains="2026年11月7日星期六 15:00。在哪里开？")
    assert bot_errors(emulator) == []


async def _street_lights_meeting(
    app: Any, clock: FakeClock, xie: UserDriver, xu: UserDriver
) -> BotMessage:
    """老许 proposes street lights; 谢兰 schedules it for tomorrow evening in the community hall,
    inviting only proposers and supporters; 老许's invitation, as it arrives."""
    await propose(xu, "Street lights", "The lane is dark.", "The whole community")
    await xie.send("/meeting")
    menu = await xie.expect_message(contains="No meetings yet.")
    await xie.press(menu, "Schedule a meeting")
    when = await xie.expect_message(contains="When is the meeting?")
    await xie.press(when, when.button_texts()[0])  # tomorrow evening at 19:30
    await xie.expect_message(contains="Where will it be held?")
    await xie.send("Community hall")
    chooser = await xie.expect_message(contains="Which topics are on the agenda?")
    await xie.press(chooser, "☐ #1 Street lights")
    await xie.expect_edit(chooser, predicate=lambda m: m.button("☑ #1 Street lights") is not None)
    await xie.press(chooser, "Done")
    await xie.expect_edit(chooser, contains="shall I also invite")
    await xie.press(chooser, "No")
    await xie.expect_edit(chooser, contains="Only proposers and supporters are invited.")
    await xie.press(chooser, "Schedule it")
    await xie.expect_edit(chooser, contains="1 people are invited")
    await dispatch_due(app, now=clock())
    return await xu.expect_message(contains="Invitation to the courtyard council")


async def test_walk_ins_are_signed_in_by_name_and_results_wait_for_the_meeting(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    """A neighbour without a phone is signed in by name and household by a worker and counts
    as present; someone invited is marked, not listed twice; 公示 is refused before the
    meeting, and an invitation can no longer be answered once it has started."""
    _community, u = await people(db, clock, emulator)
    xie, wang, xu = u["谢兰"], u["王网格"], u["老许"]
    async with running_bot(emulator, db, clock) as app:
        invite = await _street_lights_meeting(app, clock, xie, xu)

        # before the meeting: no results can be published
        await wang.send("/meeting")
        menu = await wang.expect_message(contains="Courtyard council meetings:")
        await wang.press(menu, "Open #1")
        card = await wang.expect_message(contains="Courtyard council meeting #1")
        early = await wang.press(card, "Publish the results")
        assert early.show_alert and "published after the meeting" in (early.text or "")
        assert "Status: scheduled" in card.text

        # the meeting has started: invitations are closed, walk-ins are signed in
        clock.current = cq(3, 19, 40)
        late = await xu.press(invite, "Can come")
        assert late.show_alert and "can no longer be answered" in (late.text or "")
        await wang.press(card, "Attendance")
        roll = await wang.expect_message(contains="0 of 1 present")
        await wang.press(roll, "＋ Sign in someone by name…")
        await wang.expect_message(contains="Type the name of the person who came")
        await wang.send("张大爷 3栋201")
        signed = await wang.expect_message(contains="Signed in: 张大爷 (3栋201).")
        assert "1 of 2 present" in signed.text and "✅ 张大爷" in signed.button_texts()
        await wang.press(signed, "＋ Sign in someone by name…")
        await wang.expect_message(contains="Type the name of the person who came")
        await wang.send("老许")  # invited: marked present, not listed twice
        again = await wang.expect_message(contains="Signed in: 老许.")
        assert "2 of 2 present" in again.text
        await wang.send("/meeting")
        menu = await wang.expect_message(contains="Courtyard council meetings:")
        await wang.press(menu, "Open #1")
        card = await wang.expect_message(contains="Courtyard council meeting #1")
        assert "Invited: 1 · present: 2" in card.text
        assert "Replies: 0 can come · 0 cannot · 1 signed in at the door" in card.text
        # a resident cannot sign anyone in
        denied = await xu.press_data(invite, meeting_minutes.WALK_IN.data(1))
        assert denied.show_alert
    async with db.session() as session:
        walk_in = (await session.exec(select(Person).where(Person.full_name == "张大爷"))).one()
    assert walk_in.telegram_user_id is None
    assert bot_errors(emulator) == []


async def test_moving_a_meeting_tells_the_invited_and_asks_them_again(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    """The secretary moves the meeting (a new time typed as she says it): the invited hear the
    old and the new time with 能来 / 不能来 asked again; the reminder follows the new time."""
    _community, u = await people(db, clock, emulator)
    xie, xu, wang = u["谢兰"], u["老许"], u["王网格"]
    async with running_bot(emulator, db, clock) as app:
        invite = await _street_lights_meeting(app, clock, xie, xu)
        await xu.press(invite, "Can come")
        await xu.expect_edit(invite, contains="Your answer: Can come.")

        await xie.send("/meeting")
        menu = await xie.expect_message(contains="Courtyard council meetings:")
        await xie.press(menu, "Open #1")
        card = await xie.expect_message(contains="Courtyard council meeting #1")
        await wang.send("/meeting")  # a worker does not move meetings
        theirs = await wang.expect_message(contains="Courtyard council meetings:")
        denied = await wang.press_data(theirs, meeting_common.MOVE.data(1))
        assert denied.show_alert
        await xie.press(card, "Move it…")
        await xie.expect_message(contains="Meeting #1 is Tuesday, November 3, 2026 7:30")
        await xie.send("Saturday")  # no time: asked again
        await xie.expect_message(contains="I could not read “Saturday” as a day and a time")
        await xie.send("Saturday 3pm")
        asked = await xie.expect_message(contains="Move meeting #1 to Saturday, November 7")
        await dispatch_due(app, now=clock())
        await xu.expect_no_message()  # nobody is told before the secretary says yes
        forged = await wang.press_data(theirs, meeting_move.MOVE_TO.data(1, 1_700_000_000))
        assert forged.show_alert  # a worker's forged yes moves nothing
        yes = asked.button("✅ Yes, move it")
        assert yes is not None and yes.callback_data is not None
        await xie.press(asked, "✅ Yes, move it")
        moved = await xie.expect_edit(asked, contains="Meeting #1 is moved to Saturday, November 7")
        assert "1 people invited are told" in moved.text
        again = await xie.press_data(asked, yes.callback_data)  # a replayed yes tells nobody twice
        assert again.text == "The meeting is at this time already."
        await dispatch_due(app, now=clock())
        news = await xu.expect_message(contains="The courtyard council has moved")
        assert "it was Tuesday, November 3, 2026" in news.text
        assert "it is now Saturday, November 7, 2026 3:00" in news.text
        assert news.button_texts() == ["Can come", "Cannot come"]  # asked again
        # no reminder the evening before the old time; one the evening before the new
        assert await dispatch_due(app, now=cq(2, 18, 0)) == 0
        assert await dispatch_due(app, now=cq(6, 18, 0)) == 1
        reminder = await xu.expect_message(contains="Reminder: the courtyard council meets")
        assert "November 7" in reminder.text
    assert bot_errors(emulator) == []
