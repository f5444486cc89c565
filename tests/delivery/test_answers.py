"""Answers after the commit (delivery/answers.py): every Bot API call an update makes goes out once
it has committed, in order per chat, and survives a crash in between."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from sqlmodel import select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, MessageEntity
from telegram.ext import CallbackQueryHandler, ContextTypes

from delivery.answers import Answer, Answers, NotebookBot, breaches
from emulator import BotApiEmulator
from runtime.context import CURRENT_SCOPE, UpdateScope
from storage import inbox
from storage.db import Database
from storage.models import InboxStatus, InboxUpdate, Person
from tests.factories import FakeClock, bot_errors, make_community, running_bot
from tests.resident_helpers import join

PATIENCE = 5.0


def _edit(chat: int, text: str) -> Answer:
    return {
        "method": "edit_message_text",
        "params": {"chat_id": chat, "message_id": 1, "text": text},
    }


async def test_each_chat_hears_its_answers_in_order_without_waiting_for_other_chats() -> None:
    started: dict[str, asyncio.Event] = {}
    release: dict[str, asyncio.Event] = {}

    async def send(_bot: Any, answer: Answer) -> None:
        text = answer["params"]["text"]
        started.setdefault(text, asyncio.Event()).set()
        await release.setdefault(text, asyncio.Event()).wait()

    def began(text: str) -> bool:
        return text in started and started[text].is_set()

    answers = Answers(SimpleNamespace(bot=None), send=send)  # type: ignore[arg-type]
    answers.follow(None, None, [_edit(1, "first")], chat=1)
    answers.follow(None, None, [_edit(1, "second")], chat=1)
    answers.follow(None, None, [_edit(2, "other chat")], chat=2)
    async with asyncio.timeout(PATIENCE):
        await started.setdefault("first", asyncio.Event()).wait()
        await started.setdefault("other chat", asyncio.Event()).wait()
    assert not began("second")  # chat 1's next answer waits for its first

    release.setdefault("first", asyncio.Event()).set()
    async with asyncio.timeout(PATIENCE):
        await started.setdefault("second", asyncio.Event()).wait()
    for event in release.values():
        event.set()
    release.setdefault("second", asyncio.Event()).set()
    async with asyncio.timeout(PATIENCE):
        await answers.close()
    assert not answers.tasks


async def test_calls_inside_an_update_are_kept_as_json_in_the_order_made() -> None:
    bot = NotebookBot("1:x", base_url="http://127.0.0.1:9/bot")  # nothing is sent
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("好", callback_data="ok")]])
    scope = UpdateScope(session=None)  # type: ignore[arg-type]
    token = CURRENT_SCOPE.set(scope)
    try:
        sent = await bot.send_message(5, "您的问题已记下", reply_markup=markup)
        edited = await bot.edit_message_text(
            "x", chat_id=5, message_id=7, entities=[MessageEntity(MessageEntity.BOLD, 0, 1)]
        )
        pressed = await bot.answer_callback_query("q1", text="好")
    finally:
        CURRENT_SCOPE.reset(token)
    # what python-telegram-bot makes of no answer yet: no message, and True
    assert (sent, edited, pressed) == (None, True, True)
    assert [a["method"] for a in scope.answers] == [
        "sendmessage",
        "editmessagetext",
        "answercallbackquery",
    ]
    assert scope.answers[0]["params"]["reply_markup"] == markup.to_dict()
    assert scope.answers[0]["params"]["text"] == "您的问题已记下"
    assert scope.answers[1]["params"]["entities"] == [{"type": "bold", "offset": 0, "length": 1}]
    assert breaches() == []


async def test_answers_a_crash_left_owed_go_out_at_the_next_start(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    await make_community(db, clock)
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    async with running_bot(emulator, db, clock):
        await xu.send("/start")
        question = await xu.expect_message(contains="您住在哪个社区")
    # The previous run committed an update that edits this message, then died before the edit
    # went out: the inbox row still owes it.
    # (written as the previous version wrote it: method names with underscores)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("继续", callback_data="x")]])
    owed = {
        "method": "edit_message_text",
        "params": {
            "chat_id": xu.chat.id,
            "message_id": question.message_id,
            "text": "这一步<b>已记下</b>",
            "reply_markup": markup.to_dict(),
        },
    }
    async with db.session() as session:
        await inbox.store(session, update_id=424242, payload={"update_id": 424242}, now=clock())
        await inbox.finish(session, update_id=424242, now=clock(), answers=[owed])
    async with running_bot(emulator, db, clock):
        edited = await xu.expect_edit(question, contains="这一步已记下", timeout=PATIENCE)
        assert edited.button("继续") is not None
    async with db.session() as session:
        row = await session.get(InboxUpdate, 424242)
    assert row is not None and row.status == InboxStatus.DONE and row.answers is None
    assert bot_errors(emulator) == []


async def test_a_failed_update_answers_the_press_but_drops_its_edits(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    await make_community(db, clock)
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    async with running_bot(emulator, db, clock) as app:

        async def boom(update: Any, context: ContextTypes.DEFAULT_TYPE) -> None:
            await update.callback_query.edit_message_text("这段文字不该出现")
            raise RuntimeError("a bug after the edit was made")

        # after group 0, where the notebook answers a button it does not know
        app.add_handler(CallbackQueryHandler(boom, pattern="^boom$"), group=1)
        await xu.send("/start")
        question = await xu.expect_message(contains="您住在哪个社区")
        answer = await xu.press_data(question, "boom", timeout=PATIENCE)
        assert answer.text == "这个按钮属于一条较早的消息。请使用最新的消息，或发送 /start。"
        await xu.expect_message(contains="抱歉")
        await emulator.wait_idle()
        assert question.edits == []  # the edit showed what was rolled back
    assert bot_errors(emulator) == []


async def _pressed_once(db: Database, clock: FakeClock, xu: Any) -> Any:
    """A resident starts a report and picks its category: the press is answered and the
    question edited into the next one, both after the update's commit."""
    await join(db, await make_community(db, clock), xu)
    await xu.send("The stairwell light is broken")
    question = await xu.expect_message(contains="What is the problem about?")
    await xu.press(question, "Public facilities", timeout=PATIENCE)
    return question


async def test_a_blocked_person_is_marked_unreachable_when_an_edit_is_refused(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    xu = emulator.user(first_name="Xu", language_code="en")
    emulator.fail_next("editMessageText", error_code=403, description="Forbidden: bot was blocked")
    async with running_bot(emulator, db, clock):
        question = await _pressed_once(db, clock, xu)
    # stopping lets the answers on their way finish: the refusal has been handled by now
    assert question.edits == []
    async with db.session() as session:
        person = (await session.exec(select(Person).where(Person.telegram_user_id == xu.id))).one()
    assert person.unreachable_since is not None


async def test_flood_control_on_an_edit_is_waited_out(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    xu = emulator.user(first_name="Xu", language_code="en")
    emulator.fail_next("editMessageText", error_code=429, retry_after=1, count=2)
    async with running_bot(emulator, db, clock):
        question = await _pressed_once(db, clock, xu)
        await xu.expect_edit(question, contains="photo", timeout=PATIENCE)
    assert bot_errors(emulator) == [] or {e.error_code for e in bot_errors(emulator)} == {429}


async def test_an_edit_lost_to_the_network_is_tried_again_while_the_bot_runs(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    xu = emulator.user(first_name="Xu", language_code="en")
    emulator.fail_next("editMessageText", error_code=502, count=2)
    async with running_bot(emulator, db, clock):
        question = await _pressed_once(db, clock, xu)
        await xu.expect_edit(question, contains="photo", timeout=PATIENCE)
    async with db.session() as session:
        assert await inbox.owed(session) == []


async def test_an_edit_still_owed_when_the_bot_stops_goes_out_at_the_next_start(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    xu = emulator.user(first_name="Xu", language_code="en")
    emulator.fail_next("editMessageText", error_code=502, count=1000)
    async with running_bot(emulator, db, clock):
        question = await _pressed_once(db, clock, xu)
        # refused: Telegram is unreachable for it
        await emulator._signal.wait_for(lambda: bool(emulator.calls_to("editMessageText")), 5)
    assert question.edits == []
    async with db.session() as session:
        owing = await inbox.owed(session)
    assert "editmessagetext" in [a["method"] for _uid, answers in owing for a in answers if a]
    emulator._failures.clear()  # Telegram is back
    async with running_bot(emulator, db, clock):
        await xu.expect_edit(question, contains="photo", timeout=PATIENCE)
    async with db.session() as session:
        assert await inbox.owed(session) == []


async def test_a_bot_api_call_that_cannot_wait_inside_an_update_is_caught(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    """The rule is enforced: a call that must be made at once (a read) inside an update's
    transaction is recorded, and the suite's fixture fails any test that makes one."""
    from telegram.ext import CommandHandler

    await make_community(db, clock)
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    async with running_bot(emulator, db, clock) as app:

        async def reads_inside(update: Any, context: ContextTypes.DEFAULT_TYPE) -> None:
            await context.bot.get_chat(update.effective_chat.id)
            await context.bot.send_message(update.effective_chat.id, "读完了")

        app.add_handler(CommandHandler("read", reads_inside), group=1)
        await xu.send("/read")
        await xu.expect_message(contains="读完了")
    assert breaches() == ["getChat"]
    breaches().clear()


async def test_stopping_leaves_queued_updates_pending_for_the_next_start(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    await make_community(db, clock)
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    async with running_bot(emulator, db, clock) as app:
        app.notebook.stopping.set()  # as SIGTERM does (bot/cli.py)
        await xu.send("/start")
        await emulator.wait_idle()  # fetched and stored, not handled
        await asyncio.wait_for(app.update_queue.join(), PATIENCE)
        assert xu.messages == []
    async with db.session() as session:
        assert [r.status for r in (await session.exec(select(InboxUpdate))).all()] == [
            InboxStatus.PENDING
        ]
    async with running_bot(emulator, db, clock):
        await xu.expect_message(contains="您住在哪个社区", timeout=PATIENCE)
