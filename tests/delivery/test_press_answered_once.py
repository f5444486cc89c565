"""A button press is answered once, however many tries its update takes.

A try that fails (the database locked by another connection, or refusing a write) still answers
the press, so that its button stops spinning; the try that succeeds later does its work (the
message edited) without answering the press again: Telegram takes one answer per press and
refuses a second ("query is too old … or query ID is invalid").
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from telegram import Update
from telegram.ext import TypeHandler

import storage.db
from bot.jobs import retry_updates
from emulator import BotApiEmulator
from emulator.driver import UserDriver
from emulator.models import BotMessage
from storage import inbox
from storage.db import Database
from storage.models import InboxUpdate
from tests.factories import FakeClock, bot_errors, make_community, running_bot
from tests.resident_helpers import join

ON_POSTGRESQL = os.environ.get("TEST_DATABASE_URL", "").startswith("postgres")
PATIENCE = 10.0


def answers_to_presses(emulator: BotApiEmulator) -> list[str]:
    """The callback query id of every answerCallbackQuery the bot made, refused ones too."""
    return [
        str(call.params.get("callback_query_id"))
        for call in emulator.calls_to("answerCallbackQuery")
    ]


async def the_question(user: UserDriver) -> BotMessage:
    await user.send("The stairwell light has been broken for three days")
    return await user.expect_message(contains="What is the problem about?")


@pytest.mark.skipif(ON_POSTGRESQL, reason="SQLite's write lock")
async def test_a_press_handled_while_another_connection_holds_the_lock_is_answered_once(
    emulator: BotApiEmulator,
    db: Database,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another connection takes SQLite's write lock just as the press is handled: its writes
    wait, give up, the update fails and noting the failure fails too (the update waits in
    memory). The press is answered then; once the lock is gone the retry moves the report on
    and leaves the press alone."""
    monkeypatch.setattr(storage.db, "SQLITE_LOCK_TIMEOUT", 0.5)  # SQLite's 10 s, shorter
    await db.engine.dispose()  # connections made from now on wait that long
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    await join(db, community, xu)
    path = db.sqlite_path
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None, timeout=0)  # a backup tool, a shell

    async def lock_at_the_press(update: Update, _context: Any) -> None:
        if update.callback_query is not None and not locked:
            other.execute("BEGIN IMMEDIATE")
            locked.append(update.update_id)

    locked: list[int] = []
    try:
        async with running_bot(emulator, db, clock) as app:
            app.add_handler(TypeHandler(Update, lock_at_the_press), group=-3)  # before all
            question = await the_question(xu)
            await xu.press(question, "Public facilities")  # answered by the failed try
            await asyncio.wait_for(app.update_queue.join(), PATIENCE)  # its try is over
            assert locked and locked[0] in app.update_queue.waiting  # type: ignore[attr-defined]
            other.execute("COMMIT")
            clock.advance(seconds=inbox.backoff(1).total_seconds())
            assert await retry_updates(app) == 1
            await xu.expect_edit(question, contains="photo")  # the retry did the press's work
            await emulator.wait_idle()
    finally:
        other.close()
    assert len(answers_to_presses(emulator)) == 1
    assert bot_errors(emulator) == []


async def test_a_press_whose_update_failed_at_its_end_is_answered_once(
    emulator: BotApiEmulator,
    db: Database,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The statement that marks the press's update done fails once (the database hiccups):
    the press is answered and the inbox row says so; the retry, which could be another
    instance's, moves the report on without answering the press again."""
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    await join(db, community, xu)
    real_finish = inbox.finish
    failed: list[int] = []

    async def finish_failing_for_the_press(session: Any, **kwargs: Any) -> bool:
        if armed and not failed:
            failed.append(kwargs["update_id"])
            raise OperationalError("UPDATE inbox_update", {}, Exception("disk I/O error"))
        return await real_finish(session, **kwargs)

    armed = False
    monkeypatch.setattr(inbox, "finish", finish_failing_for_the_press)
    async with running_bot(emulator, db, clock) as app:
        question = await the_question(xu)
        armed = True
        await xu.press(question, "Public facilities")  # answered by the failed try
        await asyncio.wait_for(app.update_queue.join(), PATIENCE)  # its try is over
        async with db.session() as session:
            row = await session.get(InboxUpdate, failed[0])
        assert row is not None and row.press_answered and row.processed_at is None
        clock.advance(seconds=inbox.backoff(1).total_seconds())
        assert await retry_updates(app) == 1
        await xu.expect_edit(question, contains="photo")
        await emulator.wait_idle()
    assert len(answers_to_presses(emulator)) == 1
    assert bot_errors(emulator) == []
