"""The outbox dispatcher sends what was queued, in the reader's language, and copes with
Telegram's refusals: 403 marks the person unreachable, 429 postpones that chat without losing
anything or holding back other chats; only requests made count as attempts; a row Telegram took
is recorded as sent even through a database hiccup; every row given up on is logged."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from delivery import dispatch
from delivery.dispatch import Rendered, dispatch_due
from emulator import BotApiEmulator
from emulator.driver import UserDriver
from storage import issues as rules
from storage import outbox
from storage.db import Database
from storage.models import Issue, Outbox, OutboxStatus, Person, Role
from storage.notifications import ISSUE_EVENT, notify_audience
from storage.outbox import STALE_CLAIM
from tests.factories import (
    FakeClock,
    bot_errors,
    make_community,
    make_issue,
    make_member,
    running_bot,
)
from tests.staffroom import bind, post_cards, report, staffroom


async def _accepted_issue(db: Database, clock: FakeClock, resident_tg: int, english: bool) -> None:
    community = await make_community(db, clock)
    async with db.session() as session:
        resident = await make_member(session, community, telegram_user_id=resident_tg)
        if english:
            resident.locale = "en"
        worker = await make_member(session, community, Role.WORKER, name="王网格")
        issue = await make_issue(session, community, resident, clock, "楼道灯坏了 <三天> & 没人管")
        event = await rules.accept(session, issue, actor_id=worker.id, now=clock())
        assert await notify_audience(session, issue, event, now=clock()) == 1


async def test_a_queued_notification_reaches_the_resident_in_their_language(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    anna = emulator.user(first_name="Anna", language_code="en")
    await _accepted_issue(db, clock, xu.id, english=False)
    await _accepted_issue(db, clock, anna.id, english=True)  # another community
    async with running_bot(emulator, db, clock) as app:
        for user in (xu, anna):  # a bot may only write to people who started it
            await user.send("/start")
            await user.expect_message()
        assert await dispatch_due(app, now=clock()) == 2
        await xu.expect_message(contains="您反映的1号问题，社区已受理。")
        await anna.expect_message(contains="Your issue No. 1 has been accepted")
    assert bot_errors(emulator) == []


async def test_blocked_resident_is_marked_unreachable_and_not_retried(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    xu.block_bot()
    await _accepted_issue(db, clock, xu.id, english=False)
    async with running_bot(emulator, db, clock) as app:
        assert await dispatch_due(app, now=clock()) == 1
        assert await dispatch_due(app, now=clock() + timedelta(hours=1)) == 0  # no retry
    async with db.session() as session:
        row = (await session.exec(select(Outbox))).one()
        person = (await session.exec(select(Person).where(Person.telegram_user_id == xu.id))).one()
    assert row.status == OutboxStatus.FAILED and "blocked" in (row.last_error or "")
    assert person.unreachable_since == clock()


async def test_flood_control_postpones_and_then_delivers(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    await _accepted_issue(db, clock, xu.id, english=False)
    async with running_bot(emulator, db, clock) as app:
        await xu.send("/start")
        await xu.expect_message()
        # the rate limiter does not retry (delivery/rate_limit.py): the dispatcher reschedules
        emulator.fail_next("sendMessage", error_code=429, retry_after=1)
        await dispatch_due(app, now=clock())
        async with db.session() as session:
            row = (await session.exec(select(Outbox))).one()
        assert row.status == OutboxStatus.PENDING
        assert row.due_at == clock() + timedelta(seconds=1)
        assert await dispatch_due(app, now=clock()) == 0
        clock.advance(seconds=1)
        assert await dispatch_due(app, now=clock()) == 1
        await xu.expect_message(contains="社区已受理")


async def _notices_for(
    db: Database, clock: FakeClock, resident_user_id: int, *, plan: bool
) -> None:
    """Queue a resident's notices of one issue: accepted, claimed by 王网格 and, with `plan`,
    its plan: two or three messages to one chat."""
    community = await make_community(db, clock)
    async with db.session() as session:
        resident = await make_member(session, community, telegram_user_id=resident_user_id)
        worker = await make_member(session, community, Role.WORKER, name="王网格")
        issue = await make_issue(session, community, resident, clock, "楼上装修", category="noise")
        for step in (rules.accept, rules.claim):
            event = await step(session, issue, actor_id=worker.id, now=clock())
            await notify_audience(session, issue, event, now=clock())
        if plan:
            event = await rules.set_plan(
                session, issue, plan="明天上门协调", due_at=None, actor_id=worker.id, now=clock()
            )
            await notify_audience(session, issue, event, now=clock())


async def test_messages_to_one_chat_are_paced_to_telegrams_limit(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    await _notices_for(db, clock, xu.id, plan=True)
    emulator.flood_limit(per_chat_per_second=1)  # the emulator answers 429 to a faster bot
    async with running_bot(emulator, db, clock, rate_limit_chat_per_second=1) as app:
        assert await dispatch_due(app, now=clock()) == 3
    texts = [m.text for m in xu.messages]
    assert len(texts) == 3
    assert "社区已受理" in texts[0]
    assert "现在由王网格负责" in texts[1]
    assert "办理方案：明天上门协调" in texts[2]
    assert emulator.errors == []  # no 429: the dispatcher waited between messages


async def test_stopping_does_not_wait_for_the_pace_and_the_next_start_sends_the_rest(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    await _notices_for(db, clock, xu.id, plan=False)
    # One message every 20 s to a chat: the second would hold the stop for that long.
    async with running_bot(emulator, db, clock, rate_limit_chat_per_second=0.05) as app:
        sending = asyncio.create_task(dispatch_due(app, now=clock()))
        await xu.expect_message(contains="社区已受理")
    # Stopping woke it from its wait for the pace: it is done (or finishing its give-back) now,
    # not in 20 s.
    await asyncio.wait_for(sending, timeout=10)
    assert [m.text for m in xu.messages if "现在由王网格负责" in (m.text or "")] == []
    async with db.session() as session:
        statuses = (await session.exec(select(Outbox.status))).all()
    assert sorted(statuses) == sorted([OutboxStatus.SENT, OutboxStatus.PENDING])
    async with running_bot(emulator, db, clock, rate_limit_chat_per_second=0.05) as app:
        await dispatch_due(app, now=clock())
        await xu.expect_message(contains="现在由王网格负责")
    texts = [m.text or "" for m in xu.messages]
    assert len(texts) == 2 and "社区已受理" in texts[0]  # each once, in order


async def test_blocking_the_bot_marks_the_person_unreachable_and_unblocking_clears_it(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    await make_community(db, clock)
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    other = emulator.user(first_name="Sentinel", language_code="en")

    async def unreachable_since() -> object:
        # updates are handled in order: once `other` is answered, xu's update was handled
        await other.send("/language")
        await other.expect_message(contains="Which language")
        async with db.session() as session:
            person = (
                await session.exec(select(Person).where(Person.telegram_user_id == xu.id))
            ).one()
        return person.unreachable_since

    async with running_bot(emulator, db, clock):
        await xu.send("/start")
        await xu.expect_message()
        xu.block_bot()  # Telegram tells the bot with a my_chat_member update
        assert await unreachable_since() == clock()
        xu.unblock_bot()
        assert await unreachable_since() is None
    assert bot_errors(emulator) == []


async def test_a_notice_that_cannot_be_written_waits_for_a_dispatcher_and_the_claim_stands(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    """What an update queues is claimed and written in the update's own transaction, just before
    it commits: a bug in writing the resident's notice must not fail the worker's update; the
    notice stays claimed and a dispatcher takes it again later."""
    room = await staffroom(
        emulator, db, clock, name="Riverside", locale="en", names=("Sue", "Tom", "Ann", "Bob")
    )
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        issue = await report(emulator, db, clock, room.community, reporter_id=room.pid(room.xu))
        await post_cards(app, clock)
        card = await room.group.expect_message(contains="No. 1")

        async def broken(*_args: object) -> Rendered | None:
            raise RuntimeError("a renderer's bug")

        working = app.notebook.renderers.by_kind[ISSUE_EVENT]
        app.notebook.renderers.register(ISSUE_EVENT, broken)
        await room.group.press(room.wang, card, "Claim")
        await room.group.expect_edit(card, contains="Owner: Tom")
        await room.wang.send("/help")  # updates are handled in turn: the claim's has finished
        await room.wang.expect_message()
        async with db.session() as session:
            claimed = await session.get(Issue, issue.id)
            notice = (await session.exec(select(Outbox).where(Outbox.kind == ISSUE_EVENT))).one()
        assert claimed is not None and claimed.owner_id == room.pid(room.wang)
        assert notice.status == OutboxStatus.SENDING  # claimed, not sent, not lost

        # fixed (a new release): a dispatcher takes the stale claim again and the notice goes
        app.notebook.renderers.register(ISSUE_EVENT, working)
        assert await dispatch_due(app, now=clock() + STALE_CLAIM + timedelta(seconds=1)) == 1
    async with db.session() as session:
        notice = (await session.exec(select(Outbox).where(Outbox.kind == ISSUE_EVENT))).one()
    assert notice.status == OutboxStatus.SENT


async def test_an_update_sends_what_it_committed_and_nothing_it_rolled_back(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    """An update's messages are claimed as they are queued and sent after its commit; a message
    queued before a commit within the update goes out even if the update fails later, one
    queued after it is gone with the rollback."""
    from telegram.ext import CommandHandler

    from storage import outbox

    await make_community(db, clock)
    xu = emulator.user(first_name="老许", language_code="zh-hans")

    async def render(_session: object, row: Outbox, _tr: object) -> Rendered:
        return Rendered(str(row.payload["text"]))

    async def twice_then_fail(update: Any, context: Any) -> None:
        for text in ("committed before the failure", "rolled back with it"):
            await outbox.enqueue(
                context.session,
                chat_id=update.effective_chat.id,
                kind="test-note",
                dedupe_key=text,
                due_at=clock(),
                payload={"text": text},
                now=clock(),
            )
            if text.startswith("committed"):
                await context.session.commit()
        raise RuntimeError("a bug after the commit")

    async with running_bot(emulator, db, clock) as app:
        app.notebook.renderers.register("test-note", render)
        app.add_handler(CommandHandler("twice", twice_then_fail), group=1)
        await xu.send("/twice")
        await xu.expect_message(contains="committed before the failure")
        await xu.expect_message(contains="抱歉")  # the error handler's apology
        await xu.send("/help")  # updates are handled in turn: the failed one has finished
        await xu.expect_message()
        await emulator.wait_idle()
    assert not any("rolled back" in m.text for m in xu.messages)
    async with db.session() as session:
        rows = (await session.exec(select(Outbox).where(Outbox.kind == "test-note"))).all()
    assert [(r.dedupe_key, r.status) for r in rows] == [
        ("committed before the failure", OutboxStatus.SENT)
    ]


async def test_a_message_rendered_by_its_update_sees_what_a_bulk_update_changed(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    """An update renders what it queued from the objects it holds; a bulk UPDATE that went past
    them (here: where the card is) makes it read them again, so the refresh edits the card
    where it now is."""
    from sqlalchemy import update

    from delivery.dispatch import claim_queued
    from storage import outbox
    from storage.notifications import issue_changed

    room = await staffroom(
        emulator, db, clock, name="Riverside", locale="en", names=("Sue", "Tom", "Ann", "Bob")
    )
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        reported = await report(emulator, db, clock, room.community, reporter_id=room.pid(room.xu))
        await post_cards(app, clock)
        card = await room.group.expect_message(contains="No. 1")
        async with db.session() as session:
            session.info[outbox.SENDS_AFTER_COMMIT] = True  # as an update's session
            issue = await session.get(Issue, reported.id)
            assert issue is not None and issue.staff_message_id == card.message_id
            moved_to = card.message_id + 1000
            # as moving the staff group does (storage/staff.py: bind_staff_group), past `issue`
            await session.exec(
                update(Issue)
                .where(col(Issue.id) == reported.id)
                .values(staff_message_id=moved_to, staff_card_digest="what the old card showed")
                .execution_options(synchronize_session=False)
            )
            assert issue.staff_message_id == card.message_id  # the object has not seen it
            assert await issue_changed(session, issue, now=clock())
            claimed = await claim_queued(app, session, now=clock())
            assert claimed is not None
            [(_row, rendered)] = claimed.ready
            assert rendered.edit_message_id == moved_to
            await session.rollback()


async def _render_note(_session: object, row: Outbox, _tr: object) -> Rendered:
    return Rendered(str(row.payload["text"]))


async def _note(
    db: Database, clock: FakeClock, user: UserDriver, key: str, *, urgent: bool = True
) -> None:
    """A message to `user` saying `key` (urgent: not held for quiet hours)."""
    async with db.session() as session:
        await outbox.enqueue(
            session,
            chat_id=user.id,
            kind="test-note",
            dedupe_key=key,
            due_at=clock(),
            payload={"text": key},
            now=clock(),
            urgent=urgent,
        )


async def _rows(db: Database) -> dict[str, Outbox]:
    async with db.session() as session:
        return {r.dedupe_key: r for r in (await session.exec(select(Outbox))).all()}


async def test_a_429_for_one_chat_holds_back_that_chat_only(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    ann, bob, cy = (emulator.user(first_name=n) for n in ("Ann", "Bob", "Cy"))
    for key, user in (("ann 1", ann), ("bob", bob), ("cy", cy), ("ann 2", ann)):
        await _note(db, clock, user, key)
    async with running_bot(emulator, db, clock) as app:
        app.notebook.renderers.register("test-note", _render_note)
        emulator.fail_next("sendMessage", error_code=429, retry_after=10)  # Ann's first
        assert await dispatch_due(app, now=clock()) == 2  # Bob and Cy in the same run
        assert [m.text for m in bob.messages + cy.messages] == ["bob", "cy"]
        rows = await _rows(db)
        for key in ("ann 1", "ann 2"):  # both of Ann's wait 10 s; no attempt was counted
            assert (rows[key].status, rows[key].attempts) == (OutboxStatus.PENDING, 0)
            assert rows[key].due_at == clock() + timedelta(seconds=10)
        assert await dispatch_due(app, now=clock() + timedelta(seconds=9)) == 0
        assert await dispatch_due(app, now=clock() + timedelta(seconds=10)) == 2
        assert [m.text for m in ann.messages] == ["ann 1", "ann 2"]
    assert {(r.status, r.attempts) for r in (await _rows(db)).values()} == {(OutboxStatus.SENT, 1)}


async def test_only_requests_made_count_as_attempts(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    await make_community(db, clock)
    ann = emulator.user(first_name="Ann")
    clock.current = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # 23:00 in Chongqing: quiet
    await _note(db, clock, ann, "good morning", urgent=False)
    async with running_bot(emulator, db, clock) as app:
        app.notebook.renderers.register("test-note", _render_note)
        assert await dispatch_due(app, now=clock()) == 0
        row = (await _rows(db))["good morning"]
        morning = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)  # 07:30 in Chongqing
        assert (row.status, row.attempts, row.due_at) == (OutboxStatus.PENDING, 0, morning)
        clock.current = morning
        emulator.fail_next("sendMessage", error_code=502)  # a request made: one attempt
        assert await dispatch_due(app, now=clock()) == 1
        row = (await _rows(db))["good morning"]
        assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
        emulator.fail_next("sendMessage", error_code=429, retry_after=5)  # Telegram took nothing
        assert await dispatch_due(app, now=row.due_at) == 0
        row = (await _rows(db))["good morning"]
        assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
        assert await dispatch_due(app, now=row.due_at) == 1
        assert [m.text for m in ann.messages] == ["good morning"]
    row = (await _rows(db))["good morning"]
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 2)


async def test_a_sent_message_is_recorded_through_a_database_hiccup_and_not_sent_again(
    emulator: BotApiEmulator,
    db: Database,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ann, bob = emulator.user(first_name="Ann"), emulator.user(first_name="Bob")
    await _note(db, clock, ann, "hello Ann")
    marking = outbox.mark_sent
    failures = {"hello Ann": 2, "hello Bob": 99}  # Ann's: twice, then it works; Bob's: never

    async def flaky_mark_sent(session: Any, row: Outbox, *, now: datetime) -> None:
        if failures.get(row.dedupe_key, 0) > 0:
            failures[row.dedupe_key] -= 1
            raise OperationalError("UPDATE outbox …", {}, Exception("database is locked"))
        await marking(session, row, now=now)

    monkeypatch.setattr(outbox, "mark_sent", flaky_mark_sent)
    monkeypatch.setattr(dispatch, "RECORD_RETRY_DELAYS", (0.0, 0.0, 0.0))
    caplog.set_level(logging.WARNING, logger="delivery.dispatch")
    async with running_bot(emulator, db, clock) as app:
        app.notebook.renderers.register("test-note", _render_note)
        assert await dispatch_due(app, now=clock()) == 1
        row = (await _rows(db))["hello Ann"]
        assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)
        later = clock() + STALE_CLAIM + timedelta(seconds=1)
        assert await dispatch_due(app, now=later) == 0  # nothing left claimed to send again
        assert [m.text for m in ann.messages] == ["hello Ann"]

        # a database that never comes back: after a bounded number of tries the row stays
        # claimed, said in the log, and a later dispatcher takes it again
        await _note(db, clock, bob, "hello Bob")
        assert await dispatch_due(app, now=clock()) == 1
        assert (await _rows(db))["hello Bob"].status == OutboxStatus.SENDING
    retried = [r for r in caplog.records if "recording it as sent failed" in r.getMessage()]
    assert len(retried) == 2 + 3  # Ann's two failures; Bob's three retries before giving up
    [given_up] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "could not record it as sent" in given_up.getMessage()


async def test_each_row_given_up_is_logged_without_its_text(
    emulator: BotApiEmulator,
    db: Database,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ann, bob = emulator.user(first_name="Ann"), emulator.user(first_name="Bob")
    bob.block_bot()
    await _note(db, clock, ann, "楼上太吵 13812345678")
    await _note(db, clock, bob, "楼道灯坏了 13900001111")
    caplog.set_level(logging.INFO)
    async with running_bot(emulator, db, clock) as app:
        app.notebook.renderers.register("test-note", _render_note)
        emulator.fail_next("sendMessage", error_code=400, description="Bad Request: injected")
        assert await dispatch_due(app, now=clock()) == 2
    rows = await _rows(db)
    assert {r.status for r in rows.values()} == {OutboxStatus.FAILED}
    lines = sorted(r.getMessage() for r in caplog.records if "given up" in r.getMessage())
    ann_row, bob_row = rows["楼上太吵 13812345678"], rows["楼道灯坏了 13900001111"]
    assert lines == sorted(
        [
            f"outbox {ann_row.id} (test-note) given up: 400 Injected",
            f"outbox {bob_row.id} (test-note) given up: 403 Forbidden: bot was blocked by the user",
        ]
    )
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert "1381234" not in everything and "楼" not in everything
