"""Durable intake: an update is stored before Telegram forgets it, processed once, and an
update a crash left unprocessed is replayed at the next start, without answering twice."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import select
from telegram import Bot, Update

from delivery.inbox import LOW_WATER, DurableUpdateQueue
from emulator import BotApiEmulator
from storage import inbox
from storage.db import Database
from storage.models import InboxStatus, InboxUpdate
from tests.factories import TOKEN, FakeClock, bot_errors, make_community, running_bot

PATIENCE = 5.0


async def test_every_update_is_stored_and_marked_done(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    await make_community(db, clock)
    async with running_bot(emulator, db, clock):
        xu = emulator.user(first_name="老许", language_code="zh-hans")
        await xu.send("/start")
        await xu.expect_message(contains="您住在哪个社区")
        await xu.send("/help")
        await xu.expect_message()
    async with db.session() as session:
        rows = (await session.exec(select(InboxUpdate).order_by(InboxUpdate.update_id))).all()
    assert [r.status for r in rows] == [InboxStatus.DONE, InboxStatus.DONE]
    assert rows[0].payload["message"]["text"] == "/start"
    assert all(r.processed_at is not None for r in rows)


async def test_an_update_left_pending_by_a_crash_is_replayed_once(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    await make_community(db, clock)
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    await xu.send("/start")  # no bot running: Telegram (the emulator) keeps it
    [update] = emulator.pending_updates()
    update_id = update["update_id"]
    # The previous run stored it, then died before processing and before confirming the offset.
    async with db.session() as session:
        await inbox.store(
            session,
            update_id=update_id,
            payload=Update.de_json(update, Bot(TOKEN)).to_dict(),  # as the queue stores it
            now=clock(),
        )
    async with running_bot(emulator, db, clock):
        await xu.expect_message(contains="您住在哪个社区")
        await emulator.wait_idle()
    assert len(xu.messages) == 1  # replayed once; Telegram's redelivery was recognised
    async with db.session() as session:
        row = await session.get(InboxUpdate, update_id)
    assert row is not None and row.status == InboxStatus.DONE
    assert bot_errors(emulator) == []


async def _handled(app: Any) -> None:
    """Wait until python-telegram-bot has handled every update queued so far."""
    await asyncio.wait_for(app.update_queue.join(), PATIENCE)


async def test_a_failing_update_is_tried_again_then_given_up_on_not_lost(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    from telegram.ext import CommandHandler

    from bot.jobs import retry_updates

    await make_community(db, clock)
    tries: list[int] = []
    async with running_bot(emulator, db, clock) as app:

        async def boom(update: object, context: object) -> None:
            tries.append(1)
            raise RuntimeError("a bug in a handler")

        app.add_handler(CommandHandler("boom", boom), group=1)
        xu = emulator.user(first_name="老许", language_code="zh-hans")
        await xu.send("/boom please keep this text")
        await xu.expect_message(contains="您的消息已经保存")  # told once, at the first failure
        async with db.session() as session:
            row = (await session.exec(select(InboxUpdate))).one()
        assert (row.status, row.attempts) == (InboxStatus.PENDING, 1)
        assert row.last_error == "RuntimeError" and "keep this text" not in row.last_error
        assert await retry_updates(app) == 0  # its back-off has not passed
        for attempt in range(2, inbox.MAX_ATTEMPTS + 1):
            clock.advance(seconds=inbox.backoff(attempt - 1).total_seconds())
            assert await retry_updates(app) == 1
            await _handled(app)
        await xu.expect_message(contains="试了几次还是没能处理")  # and once when given up on
        await emulator.wait_idle()
        clock.advance(hours=1)
        assert await retry_updates(app) == 0
    assert len(tries) == inbox.MAX_ATTEMPTS
    assert len(xu.messages) == 2
    async with db.session() as session:
        row = (await session.exec(select(InboxUpdate))).one()
    assert row.status == InboxStatus.FAILED and row.attempts == inbox.MAX_ATTEMPTS
    assert row.payload["message"]["text"] == "/boom please keep this text"


async def test_a_database_failure_at_the_end_of_an_update_is_tried_again_and_others_go_on(
    emulator: BotApiEmulator, db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The statement that marks the update done fails once (the database hiccups): nothing of
    the update stands, the bot goes on with the next resident, and the update is handled when
    its back-off has passed, once."""
    from bot.jobs import retry_updates

    await make_community(db, clock)
    real_finish = inbox.finish
    failures: list[int] = []

    async def finish_once_failing(session: Any, **kwargs: Any) -> bool:
        if not failures:
            failures.append(kwargs["update_id"])
            raise OperationalError("UPDATE inbox_update", {}, Exception("disk I/O error"))
        return await real_finish(session, **kwargs)

    monkeypatch.setattr(inbox, "finish", finish_once_failing)
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    li = emulator.user(first_name="李阿姨", language_code="zh-hans")
    async with running_bot(emulator, db, clock) as app:
        await xu.send("/start")
        await _handled(app)
        await li.send("/start")
        await li.expect_message(contains="您住在哪个社区")  # the fetcher lives on
        assert xu.messages == []  # what the failed try meant to send is not sent
        async with db.session() as session:
            row = await session.get(InboxUpdate, failures[0])
        assert row is not None and row.status == InboxStatus.PENDING
        assert row.attempts == 0 and row.last_error is not None  # the database's fault
        assert "OperationalError" in row.last_error
        clock.advance(seconds=inbox.backoff(1).total_seconds())
        assert await retry_updates(app) == 1
        await xu.expect_message(contains="您住在哪个社区")
        await emulator.wait_idle()
    assert len(xu.messages) == 1
    assert bot_errors(emulator) == []


async def test_a_second_try_of_an_update_already_handled_changes_nothing(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    """Two instances (or a retry and a late first try) handle the same update: the one that
    finishes second finds the row done, and everything it did is rolled back."""
    await make_community(db, clock)
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    async with running_bot(emulator, db, clock) as app:
        await xu.send("/start")
        await xu.expect_message(contains="您住在哪个社区")
        await emulator.wait_idle()
        async with db.session() as session:
            row = (await session.exec(select(InboxUpdate))).one()
        again = Update.de_json(row.payload, app.bot)
        await app.process_update(again)
        await emulator.wait_idle()
    assert len(xu.messages) == 1


async def test_only_one_instance_takes_a_row_whose_lease_ran_out(
    db: Database, clock: FakeClock
) -> None:
    async with db.session() as session:
        await inbox.store(session, update_id=9, payload={"update_id": 9}, now=clock(), owner="a")
    async with db.session() as session:  # "a" holds it: nobody else may take it
        assert await inbox.take_due(session, owner="b", now=clock(), skip=set()) == []
    clock.advance(seconds=inbox.LEASE.total_seconds() + 1)  # "a" is gone
    async with db.session() as session:
        taken = await inbox.take_due(session, owner="b", now=clock(), skip=set())
    async with db.session() as session:
        assert await inbox.take_due(session, owner="c", now=clock(), skip=set()) == []
    assert [r.update_id for r in taken] == [9]
    async with db.session() as session:
        row = await session.get(InboxUpdate, 9)
    assert row is not None and row.owner == "b"


async def test_at_a_webhook_start_an_instance_takes_back_its_own_rows_at_once(
    db: Database, clock: FakeClock
) -> None:
    async with db.session() as session:
        for update_id, owner in ((1, "web-1"), (2, "web-2")):
            await inbox.store(
                session, update_id=update_id, payload={"update_id": 1}, now=clock(), owner=owner
            )
    async with db.session() as session:  # web-1 restarts a moment after it crashed
        mine = await inbox.take_own(session, owner="web-1", now=clock(), everything=False)
    assert [r.update_id for r in mine] == [1]  # not web-2's, whose lease runs
    clock.advance(seconds=inbox.LEASE.total_seconds() + 1)
    async with db.session() as session:  # web-2 never came back: its row is free now
        theirs = await inbox.take_due(session, owner="web-1", now=clock(), skip={1})
    assert [r.update_id for r in theirs] == [2]


async def test_processed_updates_are_pruned_after_a_week_failed_ones_after_a_month(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    from bot.jobs import housekeeping

    async with db.session() as session:
        for update_id in (1, 2):
            await inbox.store(
                session, update_id=update_id, payload={"update_id": update_id}, now=clock()
            )
        await inbox.finish(session, update_id=1, now=clock())
        for _ in range(inbox.MAX_ATTEMPTS):
            await inbox.failed_attempt(
                session, update_id=2, now=clock(), error="RuntimeError", counts=True
            )
        await inbox.store(session, update_id=3, payload={"update_id": 3}, now=clock())
    clock.advance(days=8)
    async with running_bot(emulator, db, clock) as app:
        assert await housekeeping(app) == 1
        async with db.session() as session:
            left = {r.update_id: r.status for r in (await session.exec(select(InboxUpdate))).all()}
        assert left == {2: InboxStatus.FAILED, 3: InboxStatus.DONE}  # 3 was replayed at start
        clock.advance(days=30)
        assert await housekeeping(app) == 2


async def test_a_reused_update_id_with_new_content_is_a_new_update(
    db: Database, clock: FakeClock
) -> None:
    async with db.session() as session:
        first = {"update_id": 5, "message": {"text": "old"}}
        assert await inbox.store(session, update_id=5, payload=first, now=clock())
        await inbox.finish(session, update_id=5, now=clock())
        assert not await inbox.store(session, update_id=5, payload=first, now=clock())
        assert (await session.get(InboxUpdate, 5)).status == InboxStatus.DONE  # a redelivery
        fresh = {"update_id": 5, "message": {"text": "new"}}
        assert await inbox.store(session, update_id=5, payload=fresh, now=clock())
        row = await session.get(InboxUpdate, 5)
        assert row.status == InboxStatus.PENDING  # Telegram numbered afresh: handle it again


async def test_a_batch_is_kept_in_one_go_and_a_redelivered_batch_is_recognised(
    db: Database, clock: FakeClock
) -> None:
    def message(uid: int, text: str) -> dict[str, object]:
        sender = {"id": 7, "is_bot": False, "first_name": "老许"}
        chat = {"id": 7, "type": "private", "first_name": "老许"}
        return {
            "update_id": uid,
            "message": {"message_id": uid, "date": 0, "chat": chat, "from": sender, "text": text},
        }

    batch = [(uid, message(uid, f"楼道灯 {uid}")) for uid in (11, 12, 13)]
    async with db.session() as session:
        assert await inbox.store_batch(session, batch, now=clock()) == {11, 12, 13}
    # Telegram sends 12 and 13 again (the offset never reached it), 12 stored as the bot would
    # write it back itself; 14 is new.
    again = [
        (12, Update.de_json(batch[1][1], Bot(TOKEN)).to_dict()),
        batch[2],
        (14, message(14, "漏水")),
    ]
    async with db.session() as session:
        assert await inbox.store_batch(session, again, now=clock()) == {14}
    # weeks later Telegram numbers afresh: 11 comes back as a different update
    async with db.session() as session:
        assert await inbox.store_batch(session, [(11, message(11, "新的"))], now=clock()) == {11}
        rows = (await session.exec(select(InboxUpdate).order_by(InboxUpdate.update_id))).all()
    assert [(r.update_id, r.payload["message"]["text"]) for r in rows] == [
        (11, "新的"),
        (12, "楼道灯 12"),
        (13, "楼道灯 13"),
        (14, "漏水"),
    ]


async def test_a_database_hiccup_while_storing_delays_updates_but_loses_none(
    emulator: BotApiEmulator, db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_community(db, clock)
    async with running_bot(emulator, db, clock) as app:
        queue = app.update_queue
        assert isinstance(queue, DurableUpdateQueue)
        real_store = queue.store_batch
        failures: list[int] = []

        async def store_once_failing(updates: list[dict[str, Any]]) -> None:
            if not failures:
                failures.append(len(updates))
                raise OperationalError("INSERT", {}, Exception("the disk is full"))
            await real_store(updates)

        monkeypatch.setattr(queue, "store_batch", store_once_failing)
        xu = emulator.user(first_name="老许", language_code="zh-hans")
        await xu.send("/start")
        # PTB asks again after its back-off (a second); Telegram still has the update
        await xu.expect_message(contains="您住在哪个社区", timeout=10)
    assert failures == [1]
    async with db.session() as session:
        rows = (await session.exec(select(InboxUpdate))).all()
    assert [r.status for r in rows] == [InboxStatus.DONE]


async def test_getupdates_waits_until_the_bot_has_taken_the_queued_updates(
    db: Database, clock: FakeClock
) -> None:
    """Backpressure: while more than LOW_WATER updates wait in our queue, the next getUpdates
    is not sent; what arrives meanwhile stays with Telegram and comes in one batch."""
    queue = DurableUpdateQueue(db, clock, owner="test")
    await queue.drained()  # an empty queue: getUpdates goes at once
    for item in range(LOW_WATER + 2):
        await queue.put(item)
    waiting = asyncio.create_task(queue.drained())
    await asyncio.sleep(0)  # let it run up to its wait
    assert not waiting.done()
    assert await queue.get() == 0
    await asyncio.sleep(0)
    assert not waiting.done()  # still more than LOW_WATER queued
    assert await queue.get() == 1  # taken: LOW_WATER left for the bot to work on meanwhile
    await asyncio.wait_for(waiting, timeout=1)
    assert queue.qsize() == LOW_WATER
