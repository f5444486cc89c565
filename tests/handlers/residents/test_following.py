"""Following an issue to the end: every public step reaches the reporter and supporters, /my and
its history (nobody else's), adding by reply, withdrawing, and the follow-up (回访) with its
reminder and its "not solved" that reopens the issue and tells the owner.

Staff steps are simulated with the domain functions plus `notify_audience`, then the outbox is
flushed with `dispatch_due`, as the staff side (issue 4) will do it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import NotebookApplication
from delivery.dispatch import dispatch_due
from emulator import BotApiEmulator
from handlers.residents.followup import RESULT, sweep_job
from handlers.residents.my_issues import FULL, SHOW, WITHDRAW
from storage import issues as rules
from storage.categories import TimeLimits
from storage.db import Database
from storage.followups import FOLLOWUP_REMINDER, INFO_ADDED, NOT_SOLVED
from storage.issue_lifecycle import Action
from storage.models import (
    FollowUp,
    FollowUpResult,
    Issue,
    IssueEvent,
    IssueStatus,
    OutboxStatus,
    Person,
    Role,
    Satisfaction,
)
from storage.notifications import CARD_REFRESH, notify_audience
from tests.factories import FakeClock, bot_errors, make_community, running_bot
from tests.resident_helpers import (
    attachments,
    bind_staff_group,
    join,
    only_issue,
    outbox_rows,
    report_with_taps,
    say_me_too,
)

Step = Callable[[AsyncSession, Issue], Awaitable[IssueEvent]]


async def staff(app: NotebookApplication, db: Database, clock: FakeClock, step: Step) -> None:
    """One staff step on the only issue, told to its audience, and the outbox flushed."""
    async with db.session() as session:
        issue = (await session.exec(select(Issue))).one()
        event = await step(session, issue)
        if event.public:  # as the staff side does: only public steps are told
            await notify_audience(session, issue, event, now=clock())
    await dispatch_due(app, now=clock())


async def _setup(emulator: BotApiEmulator, db: Database, clock: FakeClock):
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    li = emulator.user(first_name="Auntie Li", language_code="en")
    wang = emulator.user(first_name="Wang <Grid>", language_code="en")
    await join(db, community, xu)
    await join(db, community, li)
    worker = await join(db, community, wang, Role.WORKER)
    return community, xu, li, wang, worker


async def _resolved(app, db, clock, worker: Person) -> None:
    await staff(app, db, clock, lambda s, i: rules.claim(s, i, actor_id=worker.id, now=clock()))
    await staff(
        app,
        db,
        clock,
        lambda s, i: rules.resolve(s, i, note="New bulb fitted", actor_id=worker.id, now=clock()),
    )


async def test_every_public_step_reaches_reporter_and_supporter(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    _community, xu, li, wang, worker = await _setup(emulator, db, clock)
    async with running_bot(emulator, db, clock) as app:
        await wang.send("/start")
        await wang.expect_message()
        await report_with_taps(xu, "Stairwell light <broken> & dark", "Public facilities")
        await say_me_too(li)
        w = worker.id
        await staff(app, db, clock, lambda s, i: rules.accept(s, i, actor_id=w, now=clock()))
        for user in (xu, li):
            got = await user.expect_message(contains="No. 1 has been accepted by the community")
            assert "«Stairwell light <broken> & dark»" in got.text
        await staff(
            app, db, clock, lambda s, i: rules.assign(s, i, owner_id=w, actor_id=w, now=clock())
        )
        for user in (xu, li):
            await user.expect_message(contains="No. 1: Wang <Grid> is now responsible for it.")
        due = clock() + timedelta(days=2)
        await staff(
            app,
            db,
            clock,
            lambda s, i: rules.set_plan(
                s, i, plan="Buy a bulb <LED> & fit it", due_at=due, actor_id=w, now=clock()
            ),
        )
        for user in (xu, li):
            got = await user.expect_message(contains="the plan is: Buy a bulb <LED> & fit it")
            assert "Expected by 11/4/26" in got.text
        await staff(
            app,
            db,
            clock,
            lambda s, i: rules.add_progress(
                s, i, text="Bulb *ordered* _today_", public=True, actor_id=w, now=clock()
            ),
        )
        for user in (xu, li):
            await user.expect_message(contains="a reply from Wang <Grid>:\nBulb *ordered* _today_")
        await staff(
            app,
            db,
            clock,
            lambda s, i: rules.add_progress(
                s, i, text="internal note", public=False, actor_id=w, now=clock()
            ),
        )
        await staff(
            app,
            db,
            clock,
            lambda s, i: rules.resolve(s, i, note="New bulb fitted", actor_id=w, now=clock()),
        )
        mine = await xu.expect_message(contains="No. 1 has been resolved: New bulb fitted")
        assert mine.button_texts() == ["Solved", "Partly solved", "Not solved"]
        theirs = await li.expect_message(contains="No. 1 has been resolved")
        assert theirs.buttons == []  # only the reporter answers the follow-up
        issue = await only_issue(db)
        answer = await li.press_data(
            theirs, RESULT.data(issue.id or 0, "n")
        )  # forged: "not solved"
        assert answer.show_alert
        assert (await only_issue(db)).status == IssueStatus.RESOLVED
        for user in (xu, li):
            assert not any("internal note" in m.text for m in user.messages)
    assert bot_errors(emulator) == []


async def test_transfer_is_told_too(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    _community, xu, _li, _wang, worker = await _setup(emulator, db, clock)
    async with running_bot(emulator, db, clock) as app:
        await report_with_taps(xu, "Gas meter leaking", "Water, power, gas, heating")
        await staff(
            app,
            db,
            clock,
            lambda s, i: rules.transfer(
                s, i, to="Gas company", note="They own the meters", actor_id=worker.id, now=clock()
            ),
        )
        await xu.expect_message(contains="No. 1 has been passed on to Gas company")
        # /my names the date as the gas company's answer date, not a due date
        await xu.send("/my")
        listing = await xu.expect_message(contains="Your issues")
        assert "answer from Gas company due: " in listing.text and "due: " not in (
            listing.text.replace("answer from Gas company due: ", "")
        )
    assert bot_errors(emulator) == []


async def test_my_lists_own_and_backed_issues_and_nobody_else_sees_them(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community, xu, li, _wang, worker = await _setup(emulator, db, clock)
    zhao = emulator.user(first_name="Zhao", language_code="en")
    await join(db, community, zhao, building=2)
    async with running_bot(emulator, db, clock) as app:
        await report_with_taps(xu, "Stairwell light broken", "Public facilities")
        await say_me_too(li)
        await staff(app, db, clock, lambda s, i: rules.claim(s, i, actor_id=worker.id, now=clock()))
        await xu.expect_message(contains="is now responsible")
        await li.expect_message(contains="is now responsible")
        clock.advance(hours=1)
        await xu.send("/my")
        listing = await xu.expect_message(contains="Your issues")
        assert "No. 1 · Public facilities" in listing.text
        # claimed: the reply-by clock stopped and no plan set a due date yet, so no date shows
        assert "assigned · owner: Wang <Grid> · updated:" in listing.text
        assert "reply by" not in listing.text and "due:" not in listing.text
        await xu.press(listing, "No. 1: Stairwell light broken")
        detail = await xu.expect_message(contains="Stairwell light broken")
        assert "problem reported" in detail.text and "Wang <Grid> is responsible" in detail.text
        assert detail.button("Withdraw this issue") is not None

        await li.send("/my")
        backed = await li.expect_message(contains="(you back it)")
        await li.press(backed, "No. 1: Stairwell light broken")
        li_detail = await li.expect_message(contains="Stairwell light broken")
        assert li_detail.button("Withdraw this issue") is None  # only the reporter withdraws

        await zhao.send("/my")
        nothing = await zhao.expect_message(contains="You have no issues yet")
        issue = await only_issue(db)
        answer = await zhao.press_data(nothing, SHOW.data(issue.id or 0))  # a forged button
        assert answer.show_alert and "only see your own issues" in (answer.text or "")
        answer = await zhao.press_data(nothing, FULL.data(issue.id or 0))
        assert answer.show_alert
        answer = await zhao.press_data(nothing, WITHDRAW.data(issue.id or 0))
        assert answer.show_alert
        await zhao.expect_no_message()
        assert not any("Stairwell" in m.text for m in zhao.messages)
    assert (await only_issue(db)).status == IssueStatus.ASSIGNED
    assert bot_errors(emulator) == []


async def test_replying_to_a_bot_message_adds_to_the_issue_and_reaches_the_staff(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community, xu, li, wang, worker = await _setup(emulator, db, clock)
    await bind_staff_group(db, community, emulator)
    async with running_bot(emulator, db, clock) as app:
        await report_with_taps(xu, "Stairwell light broken", "Public facilities")
        confirmation = xu.messages[-1]
        await say_me_too(li)
        await staff(app, db, clock, lambda s, i: rules.claim(s, i, actor_id=worker.id, now=clock()))
        notice = await xu.expect_message(contains="is now responsible")
        await xu.send("It is the 3rd floor <east> & west", reply_to=confirmation)
        await xu.expect_message(contains="Added to No. 1. The community will see it.")
        await xu.send_photo(reply_to=notice)
        await xu.expect_message(contains="Added to No. 1")
        await xu.send_voice(reply_to=notice)
        await xu.expect_message(contains="Added to No. 1")
        await xu.send_location(29.5630, 106.5516, reply_to=notice)  # where it is
        await xu.expect_message(contains="Added to No. 1")

        li_notice = await li.expect_message(contains="is now responsible")
        await li.send("me too!", reply_to=li_notice)
        await li.expect_message(contains="Only the person who reported No. 1 can add to it")
        await wang.send("/issue 1")
        history = await wang.expect_message(contains="History of No. 1")
        assert "added where it is · 📍 location" in history.text
    issue = await only_issue(db)
    kinds = sorted(a.kind for a in await attachments(db, issue))
    assert kinds == ["photo", "voice"]
    async with db.session() as session:
        added = (
            await session.exec(select(IssueEvent).where(IssueEvent.kind == Action.ADD_INFO))
        ).all()
    assert [e.text for e in added] == ["It is the 3rd floor <east> & west", None, None, None]
    assert added[-1].data == {"latitude": 29.5630, "longitude": 106.5516}
    assert (issue.latitude, issue.longitude) == (29.5630, 106.5516)  # the card's 📍 now
    assert len(await outbox_rows(db, INFO_ADDED)) == 4  # the owner hears each addition
    assert len(await outbox_rows(db, CARD_REFRESH)) >= 4  # and the staff card is refreshed
    assert bot_errors(emulator) == []


async def test_withdrawing_an_open_issue_with_a_reason(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    _community, xu, li, _wang, _worker = await _setup(emulator, db, clock)
    async with running_bot(emulator, db, clock) as app:
        await report_with_taps(xu, "Stairwell light broken", "Public facilities")
        await say_me_too(li)
        await xu.send("/my")
        listing = await xu.expect_message(contains="Your issues")
        await xu.press(listing, "No. 1: Stairwell light broken")
        detail = await xu.expect_message(contains="Stairwell light broken")
        await xu.press(detail, "Withdraw this issue")
        ask = await xu.expect_message(contains="Why do you want to withdraw No. 1?")
        await xu.send("My son fixed it <himself>")
        await xu.expect_message(contains="No. 1 has been withdrawn")
        await dispatch_due(app, now=clock())
        await li.expect_message(contains="No. 1 was withdrawn by the person who reported it.")
        answer = await xu.press(ask, "It has been solved")  # the question is answered already
        assert answer.show_alert
    issue = await only_issue(db)
    assert issue.status == IssueStatus.WITHDRAWN
    async with db.session() as session:
        event = (
            await session.exec(select(IssueEvent).where(IssueEvent.kind == Action.WITHDRAW))
        ).one()
    assert event.text == "My son fixed it <himself>"
    assert bot_errors(emulator) == []


async def test_follow_up_solved_satisfied_with_a_comment_closes_the_issue(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    _community, xu, _li, _wang, worker = await _setup(emulator, db, clock)
    async with running_bot(emulator, db, clock) as app:
        await report_with_taps(xu, "Stairwell light broken", "Public facilities")
        await _resolved(app, db, clock, worker)
        await xu.expect_message(contains="is now responsible")
        question = await xu.expect_message(contains="Is the problem really solved?")
        await xu.press(question, "Solved")
        await xu.expect_edit(question, contains="How satisfied are you")
        await xu.press(question, "Satisfied")
        await xu.expect_edit(question, contains="No. 1 is now closed. Anything you would like")
        await xu.send("Thank you, Xiao Wang <3")
        await xu.expect_message(contains="Thank you, I have passed it on with No. 1.")
        clock.advance(days=7)
        assert await dispatch_due(app, now=clock()) == 0  # no reminder for an answered question
    issue = await only_issue(db)
    assert issue.status == IssueStatus.CLOSED
    assert issue.followup_result == FollowUpResult.SOLVED
    assert issue.satisfaction == Satisfaction.SATISFIED
    async with db.session() as session:
        event = (
            await session.exec(select(IssueEvent).where(IssueEvent.kind == Action.FOLLOW_UP))
        ).one()
    assert event.text == "Thank you, Xiao Wang <3"
    reminders = await outbox_rows(db, FOLLOWUP_REMINDER)
    assert [r.status for r in reminders] == [OutboxStatus.CANCELLED]
    assert bot_errors(emulator) == []


async def test_follow_up_not_solved_reopens_the_issue_and_tells_the_owner(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    _community, xu, li, wang, worker = await _setup(emulator, db, clock)
    async with running_bot(emulator, db, clock) as app:
        await wang.send("/start")
        await wang.expect_message()
        await report_with_taps(xu, "Stairwell light broken", "Public facilities")
        await say_me_too(li)
        await _resolved(app, db, clock, worker)
        question = await xu.expect_message(contains="Is the problem really solved?")
        await xu.press(question, "Not solved")
        await xu.expect_edit(question, contains="No. 1 is open again and Wang <Grid> has been told")
        not_satisfied = question.button("Not satisfied")
        assert not_satisfied is not None and not_satisfied.callback_data
        await xu.press(question, "Not satisfied")  # how it was handled so far
        await xu.expect_edit(question, contains="What is still wrong with No. 1?")
        again = await xu.press_data(question, not_satisfied.callback_data)
        assert again.show_alert  # the same answer twice changes nothing
        await dispatch_due(app, now=clock())
        told = await wang.expect_message(
            contains="No. 1 is open again: Lao Xu says it is not solved"
        )
        assert "«Stairwell light broken»" in told.text
        assert "The old due date no longer counts: please set a new one" in told.text
        await li.expect_message(contains="No. 1 has been reopened")
        await xu.send("Still dark on the 3rd floor")
        await xu.expect_message(contains="passed it on with No. 1")
        await dispatch_due(app, now=clock())
        await wang.expect_message(contains="Lao Xu added:\nStill dark on the 3rd floor")
        answer = await xu.press(question, "Skip")
        assert answer.show_alert  # the comment was given already
    issue = await only_issue(db)
    assert issue.status == IssueStatus.ASSIGNED and issue.reopened_count == 1
    assert len(await outbox_rows(db, NOT_SOLVED)) == 1
    async with db.session() as session:  # the answer, with its satisfaction, counts in the rates
        [answer] = (await session.exec(select(FollowUp))).all()
    assert (answer.result, answer.satisfaction) == ("not_solved", "dissatisfied")
    assert bot_errors(emulator) == []


async def test_no_answer_one_reminder_then_closed_as_not_followed_up(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    _community, xu, _li, _wang, worker = await _setup(emulator, db, clock)
    async with running_bot(emulator, db, clock) as app:
        await report_with_taps(xu, "Stairwell light broken", "Public facilities")
        await _resolved(app, db, clock, worker)
        await xu.expect_message(contains="Is the problem really solved?")
        clock.advance(days=3, minutes=-1)
        assert await dispatch_due(app, now=clock()) == 0  # not yet
        clock.advance(minutes=1)
        assert await dispatch_due(app, now=clock()) == 1
        reminder = await xu.expect_message(contains="We have not heard from you yet")
        assert reminder.button_texts() == ["Solved", "Partly solved", "Not solved"]
        clock.advance(days=3)
        assert await dispatch_due(app, now=clock()) == 0  # only one reminder
        await sweep_job(_JobContext(app))  # the periodic job, run once by hand
        answer = await xu.press(reminder, "Solved")
        assert answer.show_alert and "already been answered" in (answer.text or "")
    issue = await only_issue(db)
    assert issue.status == IssueStatus.CLOSED and issue.followup_result is None
    async with db.session() as session:
        closing = (
            await session.exec(select(IssueEvent).where(IssueEvent.kind == Action.CLOSE))
        ).one()
    assert closing.data == {"followed_up": False} and closing.public is False
    assert bot_errors(emulator) == []


class _JobContext:
    """The one attribute sweep_job reads from PTB's CallbackContext."""

    def __init__(self, app: NotebookApplication) -> None:
        self.application = app


async def test_a_long_my_list_fits_one_message(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community, xu, _li, _wang, _worker = await _setup(emulator, db, clock)
    async with db.session() as session:
        person = (await session.exec(select(Person).where(Person.telegram_user_id == xu.id))).one()
        for n in range(30):
            await rules.create_issue(
                session,
                community_id=community.id or 0,
                category="neighbours",
                description=f"{n} " + "<&> a rather long first line about the neighbours " * 3,
                now=clock(),
                limits=TimeLimits(),
                reporter_id=person.id,
            )
    async with running_bot(emulator, db, clock):
        await xu.send("/my")
        listing = await xu.expect_message(contains="Your issues")
        assert len(listing.text) <= 4096
        assert "older ones." in listing.text
        assert len(listing.buttons) <= 20
    assert bot_errors(emulator) == []


async def test_my_names_the_clock_it_shows_reply_by_then_due(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    """#22: in /my "期限" meant the reply deadline for some items and the plan's due date for
    others. Now: 答复时限 / "reply by" until the community answers, 完成期限 / "due" once a plan
    set a date, nothing in between; "overdue" only by the clock shown."""
    community, xu, _li, _wang, worker = await _setup(emulator, db, clock)
    zhou = emulator.user(first_name="老周", language_code="zh-hans")
    await join(db, community, zhou)
    async with running_bot(emulator, db, clock) as app:
        await report_with_taps(xu, "Stairwell light broken", "Public facilities")
        await xu.send("/my")
        listing = await xu.expect_message(contains="Your issues")
        assert "new · reply by: 11/9/26, 9:00\u202fAM · updated:" in listing.text
        assert "due:" not in listing.text and "overdue" not in listing.text
        clock.advance(days=8)  # nobody answered within the 7 days promised
        await xu.send("/my")
        listing = await xu.expect_message(contains="Your issues")
        assert "reply by: 11/9/26, 9:00\u202fAM ⚠️ overdue" in listing.text

        await staff(app, db, clock, lambda s, i: rules.claim(s, i, actor_id=worker.id, now=clock()))
        await xu.expect_message(contains="is now responsible")
        due = clock() + timedelta(days=2)
        await staff(
            app,
            db,
            clock,
            lambda s, i: rules.set_plan(
                s, i, plan="New bulb", due_at=due, actor_id=worker.id, now=clock()
            ),
        )
        await xu.expect_message(contains="New bulb")
        await xu.send("/my")
        listing = await xu.expect_message(contains="Your issues")
        assert "in progress · owner: Wang <Grid> · due: 11/12/26 · updated:" in listing.text
        assert "reply by" not in listing.text and "overdue" not in listing.text

        async with db.session() as session:  # the same clocks in Chinese, for 老周's own issue
            person = (
                await session.exec(select(Person).where(Person.telegram_user_id == zhou.id))
            ).one()
            mine = await rules.create_issue(
                session,
                community_id=community.id or 0,
                reporter_id=person.id,
                category="facilities",
                description="单元门坏了",
                now=clock(),
                limits=TimeLimits(),
            )
            await rules.claim(session, mine, actor_id=worker.id, now=clock())
            await rules.set_plan(
                session,
                mine,
                plan="换锁",
                due_at=clock() + timedelta(days=1),
                actor_id=worker.id,
                now=clock(),
            )
        clock.advance(days=3)
        await zhou.send("/my")
        listing = await zhou.expect_message(contains="2号")
        assert "完成期限：2026/11/11 ⚠️ 已超期" in listing.text
        assert "答复时限" not in listing.text
    assert bot_errors(emulator) == []
