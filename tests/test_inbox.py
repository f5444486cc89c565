"""Durable intake: an update is stored before Telegram forgets it, processed once, and an
update a crash left unprocessed is replayed at the next start, without answering twice."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import select
from telegram import Bot, Update

from bot.emulator import BotApiEmulator
from bot.inbox import LOW_WATER, DurableUpdateQueue
from storage import inbox
from storage.db import Database
from storage.models import InboxStatus, InboxUpdate
from tests.factories import TOKEN, FakeClock, bot_errors, make_community, running_bot


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


async def test_a_failing_update_is_kept_as_failed_not_lost(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    await make_community(db, clock)
    async with running_bot(emulator, db, clock) as app:

        async def boom(update: object, context: object) -> None:
            raise RuntimeError("a bug in a handler")

        from telegram.ext import CommandHandler

        app.add_handler(CommandHandler("boom", boom), group=1)
        xu = emulator.user(first_name="老许", language_code="zh-hans")
        await xu.send("/boom please keep this text")
        await xu.expect_message(contains="抱歉")
    async with db.session() as session:
        row = (await session.exec(select(InboxUpdate))).one()
    assert row.status == InboxStatus.FAILED
    assert row.payload["message"]["text"] == "/boom please keep this text"


async def test_processed_updates_are_pruned_after_a_week_failed_ones_kept(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    from bot.jobs import housekeeping

    async with db.session() as session:
        for update_id, failed in ((1, False), (2, True)):
            await inbox.store(
                session, update_id=update_id, payload={"update_id": update_id}, now=clock()
            )
            await inbox.finish(session, update_id=update_id, now=clock(), failed=failed)
        await inbox.store(session, update_id=3, payload={"update_id": 3}, now=clock())
    clock.advance(days=8)
    async with running_bot(emulator, db, clock) as app:
        assert await housekeeping(app) == 1
    async with db.session() as session:
        left = {r.update_id: r.status for r in (await session.exec(select(InboxUpdate))).all()}
    assert left == {2: InboxStatus.FAILED, 3: InboxStatus.DONE}  # 3 was replayed at start


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
    queue = DurableUpdateQueue(db, clock)
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
