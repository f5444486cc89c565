"""回访 by telephone (handlers/staff/phone_followup.py): a resident with no Telegram reported by
phone; when the issue is resolved, a worker calls them and records their answer from the card."""

from __future__ import annotations

from sqlmodel import select

from bot.app import NotebookApplication
from emulator import BotApiEmulator
from emulator.models import BotMessage
from handlers.staff.phone_followup import RATE
from storage import issues as rules
from storage.db import Database
from storage.issue_lifecycle import OPEN, Action
from storage.models import (
    Channel,
    FollowUp,
    FollowUpResult,
    Issue,
    IssueStatus,
    Satisfaction,
)
from storage.residents import register_offline_resident
from storage.staff import CONTACT_SHOWN
from tests.factories import FakeClock, bot_errors, running_bot
from tests.staffroom import Staffroom, bind, events_of, post_cards, staffroom


async def _resolved_phone_report(db: Database, clock: FakeClock, room: Staffroom) -> Issue:
    """Mrs Zhou (no Telegram) called about the stairwell light; Tom took it on and fixed it."""
    from storage.categories import TimeLimits
    from storage.notifications import issue_opened

    assert room.community.id is not None
    async with db.session() as session:
        zhou = await register_offline_resident(
            session,
            community_id=room.community.id,
            name="Mrs Zhou <2nd floor>",
            phone="+86 138 0000 5678",
            building_id=room.building_id,
        )
        issue = await rules.create_issue(
            session,
            community_id=room.community.id,
            reporter_id=zhou.id,
            logged_by_id=room.pid(room.secretary),
            channel=Channel.PHONE,
            category="facilities",
            description="The stairwell light on the 2nd floor is out",
            now=clock(),
            limits=TimeLimits(),
        )
        await rules.claim(session, issue, actor_id=room.pid(room.wang), now=clock())
        await rules.resolve(
            session, issue, note="New bulb fitted", actor_id=room.pid(room.wang), now=clock()
        )
        await issue_opened(session, issue, now=clock())
    return issue


async def _riverside(emulator: BotApiEmulator, db: Database, clock: FakeClock) -> Staffroom:
    return await staffroom(
        emulator, db, clock, name="Riverside", locale="en", names=("Sue", "Tom", "Ann", "Bob")
    )


async def _resolved_card(
    app: NotebookApplication, db: Database, clock: FakeClock, room: Staffroom
) -> tuple[Issue, BotMessage]:
    await bind(room)
    issue = await _resolved_phone_report(db, clock, room)
    await post_cards(app, clock)
    return issue, await room.group.expect_message(contains="No. 1")


async def test_a_worker_records_the_answer_of_a_resident_without_telegram(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await _riverside(emulator, db, clock)
    group = room.group
    async with running_bot(emulator, db, clock) as app:
        issue, card = await _resolved_card(app, db, clock, room)
        assert "Status: resolved" in card.text

        await group.press(room.wang, card, "Follow-up by phone…")
        ask = await group.expect_message(contains="please call")
        assert ask.text == "Tom, please call Mrs Zhou <2nd floor> and ask whether No. 1 is solved."
        await group.press(room.wang, ask, "Solved")
        await group.expect_edit(ask, contains="How satisfied is Mrs Zhou <2nd floor>?")
        await group.press(room.wang, ask, "Satisfied")
        await group.expect_edit(
            ask, contains="No. 1: Mrs Zhou <2nd floor>'s answer by phone is recorded"
        )
        assert ask.text.endswith("Solved, Satisfied.") and ask.buttons == []
        await group.expect_edit(card, contains="Status: closed")

        # the old question again: the issue no longer waits for an answer, nothing changes
        again = await group.press_data(room.li, ask, RATE.data(issue.id, "n", "3"))
        assert again.show_alert and "no longer waiting" in (again.text or "")

        await room.wang.send("/issue 1")
        history = await room.wang.expect_message(contains="History of No. 1")
        assert "follow-up: solved, satisfied · 📞 by phone" in history.text
    async with db.session() as session:
        stored = await session.get(Issue, issue.id)
        answers = (await session.exec(select(FollowUp))).all()
    assert stored is not None and stored.status == IssueStatus.CLOSED
    assert [(a.result, a.satisfaction, a.actor_id) for a in answers] == [
        (FollowUpResult.SOLVED, Satisfaction.SATISFIED, room.pid(room.wang))
    ]
    followed = [e for e in await events_of(db, issue.id) if e.kind == Action.FOLLOW_UP]
    assert [e.data.get("by_phone") for e in followed] == [True]
    assert bot_errors(emulator) == []


async def test_not_solved_by_phone_reopens_the_issue_and_only_staff_may_record(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await _riverside(emulator, db, clock)
    group = room.group
    async with running_bot(emulator, db, clock) as app:
        issue, card = await _resolved_card(app, db, clock, room)

        # a forged press from a private chat records nothing
        await room.xu.send("/start")
        await room.xu.expect_message()
        forged = await room.xu.press_data(room.xu.messages[-1], RATE.data(issue.id, "s", "1"))
        assert forged.show_alert
        await room.wang.send("/start")
        await room.wang.expect_message()

        await group.press(room.secretary, card, "Follow-up by phone…")
        ask = await group.expect_message(contains="please call")
        await group.press(room.secretary, ask, "Not solved")
        await group.expect_edit(ask, contains="How satisfied")
        await group.press(room.secretary, ask, "Not satisfied")
        await group.expect_edit(ask, contains="answer by phone is recorded")
        told = await room.wang.expect_message(contains="No. 1")  # the owner hears it
        assert "not solved" in told.text.lower()
    async with db.session() as session:
        stored = await session.get(Issue, issue.id)
        answers = (await session.exec(select(FollowUp))).all()
    assert stored is not None and stored.status in OPEN
    assert [(a.result, a.satisfaction) for a in answers] == [
        (FollowUpResult.NOT_SOLVED, Satisfaction.DISSATISFIED)
    ]
    assert bot_errors(emulator) == []


async def test_the_call_is_on_the_owners_list_and_answered_in_two_taps_from_a_private_chat(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    """Mrs Zhou has no Telegram: her resolved issue waits on Tom's call list, in /todo and in
    the morning agenda; from /todo he gets her number and records her answer in two taps; it
    counts like a chat answer, and the list is empty afterwards."""
    from datetime import timedelta

    from bot.jobs import run_reminders

    room = await _riverside(emulator, db, clock)
    async with running_bot(emulator, db, clock) as app:
        issue, card = await _resolved_card(app, db, clock, room)
        await room.wang.send("/start")
        await room.wang.expect_message()
        await room.li.send("/todo")  # Ann owns nothing: no call for her
        theirs = await room.li.expect_message(contains="Your open items in Riverside: 0")
        assert "Follow-up calls" not in theirs.text

        # the morning agenda names the call
        clock.advance(days=1)
        clock.current = clock().replace(hour=0, minute=30)  # 08:30 in Chongqing
        await run_reminders(app)
        agenda = await room.wang.expect_message(contains="Good morning!")
        assert "open items" not in agenda.text  # he has none: only the call
        assert "📞 Follow-up calls to make: 1" in agenda.text
        assert "No. 1: The stairwell light on the 2nd floor is… (call Mrs Zhou <2nd" in agenda.text
        assert "Send /todo to record each answer in two taps." in agenda.text

        await room.wang.send("/todo")
        todo = await room.wang.expect_message(contains="📞 Follow-up calls to make: 1")
        assert "call Mrs Zhou &lt;2nd floor&gt;" not in todo.text  # shown as typed
        assert "call Mrs Zhou <2nd floor>, resolved" in todo.text
        await room.wang.press(todo, "📞 Call No. 1")
        ask = await room.wang.expect_message(contains="please call Mrs Zhou <2nd floor>")
        assert "Phone: 13800005678" in ask.text  # here only Tom reads it
        await room.wang.press(ask, "Partly solved")  # one
        await room.wang.expect_edit(ask, contains="How satisfied is Mrs Zhou <2nd floor>?")
        await room.wang.press(ask, "Satisfied")  # two
        await room.wang.expect_edit(ask, contains="answer by phone is recorded")
        await room.group.expect_edit(card, contains="Status: closed")

        await room.wang.send("/todo")
        after = await room.wang.expect_message(contains="Your open items in Riverside")
        assert "Follow-up calls" not in after.text
        clock.advance(days=1)
        await run_reminders(app)  # nothing left to call about, nothing open: no agenda
        await room.wang.expect_no_message(timeout=0.3)
    async with db.session() as session:
        answers = (await session.exec(select(FollowUp))).all()
    assert [(a.result, a.actor_id) for a in answers] == [
        (FollowUpResult.PARTLY, room.pid(room.wang))
    ]
    shown = [e for e in await events_of(db, issue.id) if e.kind == CONTACT_SHOWN]
    assert [e.actor_id for e in shown] == [room.pid(room.wang)]
    assert timedelta(0) <= clock() - issue.created_at
    assert bot_errors(emulator) == []
