"""Tests of the emulator's clock and fault knobs: the callback deadline on the injected clock, an
outage of the Bot API (502 or hanging requests), one chat's flood wait, and each chat's
transcript of what the bot and the users did. Driven by a real telegram.Bot over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import warnings
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from emulator import BotApiEmulator
from emulator.server import CALLBACK_DEADLINE

TOKEN = "123456:EMULATOR-FAULTS"
START = 1_800_000_000.0


class Clock:
    """The emulator's injected clock, moved only by the test."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def emu(clock: Clock) -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN, clock=clock) as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=emu.base_url) as tg_bot:
        yield tg_bot


def _seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns when retry_after is still an int
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="y")]])


# --- the callback deadline --------------------------------------------------------------------


async def test_a_callback_answer_is_judged_on_the_injected_clock(
    emu: BotApiEmulator, bot: Bot, clock: Clock
) -> None:
    alice = emu.user()
    await alice.send("/start")
    sent = await bot.send_message(alice.id, "Sure?", reply_markup=KEYBOARD)
    raw = alice.chat.messages[sent.message_id]

    in_time = emu.emit_callback_query(alice.record, alice.chat, raw, "y")
    clock.now += CALLBACK_DEADLINE - 1  # just inside the deadline, however long it really took
    assert in_time is not None
    assert await bot.answer_callback_query(in_time.id, text="ok")
    assert in_time.answer is not None and in_time.answer.text == "ok"

    too_late = emu.emit_callback_query(alice.record, alice.chat, raw, "y")
    clock.now += CALLBACK_DEADLINE + 1  # past it, though hardly any real time went by
    assert too_late is not None
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(too_late.id)
    assert too_late.answer is None


# --- an outage of the Bot API -----------------------------------------------------------------


async def test_an_outage_answers_502_to_every_method_and_delivers_nothing(
    emu: BotApiEmulator, bot: Bot
) -> None:
    alice = emu.user()
    await alice.send("/start")
    await bot.get_updates()
    emu.outage(status=502)
    said = await alice.send("are you there?")  # users go on writing; Telegram keeps it
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(alice.id, "hello")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.get_updates(offset=-1)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.get_me()
    assert alice.messages == []
    assert emu.outage_requests == {"sendMessage": 1, "getUpdates": 1, "getMe": 1}
    assert [(e.method, e.error_code) for e in emu.errors] == [
        ("sendMessage", 502),
        ("getUpdates", 502),
        ("getMe", 502),
    ]

    emu.end_outage()
    updates = await bot.get_updates()
    assert [u.message.text for u in updates if u.message] == ["/start", said["text"]]
    await bot.send_message(alice.id, "hello")
    assert [m.text for m in alice.messages] == ["hello"]
    assert emu.outage_requests["sendMessage"] == 1  # the count stays for the test to read


async def test_an_outage_can_spare_getupdates(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user()
    emu.outage(spare=["getUpdates"])
    await alice.send("hi")
    assert [u.message.text for u in await bot.get_updates() if u.message] == ["hi"]
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(alice.id, "hello")
    assert emu.outage_requests == {"sendMessage": 1}


async def test_an_outage_of_some_methods_only(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user()
    await alice.send("/start")
    emu.outage(methods=["editMessageText"])
    sent = await bot.send_message(alice.id, "one")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.edit_message_text("two", alice.id, sent.message_id)
    assert [m.text for m in alice.messages] == ["one"]


async def test_a_hanging_outage_holds_requests_until_the_client_gives_up(
    emu: BotApiEmulator, bot: Bot
) -> None:
    alice = emu.user()
    await alice.send("/start")
    emu.outage(timeout=True)
    with pytest.raises(TimedOut):
        await bot.send_message(alice.id, "hello", read_timeout=0.2)
    assert emu.outage_requests == {"sendMessage": 1}
    assert alice.messages == []
    assert emu.errors == []  # nobody answered the request

    # A request still hanging when the outage ends is given up by the front end, not handled.
    hanging = asyncio.create_task(bot.send_message(alice.id, "later", read_timeout=60))
    await emu.signal.wait_for(lambda: emu.outage_requests["sendMessage"] == 2, timeout=10)
    emu.end_outage()
    with pytest.raises(NetworkError):
        await hanging
    assert alice.messages == []
    await bot.send_message(alice.id, "back")
    assert [m.text for m in alice.messages] == ["back"]


async def test_webhook_deliveries_wait_for_the_end_of_an_outage(emu: BotApiEmulator) -> None:
    from aiohttp import web

    received: list[int] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(int((await request.json())["update_id"]))
        emu.signal.fire()
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with Bot(TOKEN, base_url=emu.base_url) as bot:
            await bot.set_webhook(f"http://127.0.0.1:{port}/hook")
            alice = emu.user()
            emu.outage()
            await alice.send("first")
            await emu.signal.wait_for(lambda: emu.updates_pending() == 1, timeout=5)
            assert received == [] and emu.updates_pending() == 1
            emu.end_outage()
            await emu.signal.wait_for(lambda: len(received) == 1, timeout=10)
    finally:
        await runner.cleanup()


# --- one chat's flood wait --------------------------------------------------------------------


async def test_a_flooded_chat_answers_429_until_the_injected_clock_passes_the_deadline(
    emu: BotApiEmulator, bot: Bot, clock: Clock
) -> None:
    alice, bob = emu.user(), emu.user()
    await alice.send("/start")
    await bob.send("/start")
    before = await bot.send_message(alice.id, "before")
    emu.flood_chat(alice.id, retry_after=10)

    with pytest.raises(RetryAfter) as info:
        await bot.send_message(alice.id, "one")
    assert _seconds(info.value) == 10
    with pytest.raises(RetryAfter):
        await bot.edit_message_text("changed", alice.id, before.message_id)
    await bot.send_message(bob.id, "bob is served")  # other chats are not held up
    await bot.send_chat_action(alice.id, "typing")  # not a message

    clock.now += 4
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(alice.id, "two")
    assert _seconds(info.value) == 6
    clock.now += 6
    await bot.send_message(alice.id, "three")
    assert [m.text for m in alice.messages] == ["before", "three"]
    assert [m.text for m in bob.messages] == ["bob is served"]


async def test_a_flood_wait_can_be_lifted(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user()
    await alice.send("/start")
    emu.flood_chat(alice.id, retry_after=10)
    with pytest.raises(RetryAfter):
        await bot.send_message(alice.id, "one")
    emu.lift_flood(alice.id)
    await bot.send_message(alice.id, "two")
    assert [m.text for m in alice.messages] == ["two"]


async def test_flood_limits_can_run_on_the_injected_clock(
    emu: BotApiEmulator, bot: Bot, clock: Clock
) -> None:
    alice = emu.user()
    await alice.send("/start")
    emu.flood_limit(per_chat_per_second=2, injected_clock=True)
    await bot.send_message(alice.id, "1")
    await bot.send_message(alice.id, "2")
    with pytest.raises(RetryAfter):
        await bot.send_message(alice.id, "3")
    clock.now += 1
    await bot.send_message(alice.id, "4")


# --- transcripts ------------------------------------------------------------------------------


async def test_the_transcript_keeps_every_send_edit_press_and_deletion_in_order(
    emu: BotApiEmulator, bot: Bot, clock: Clock
) -> None:
    alice = emu.user()
    await alice.send("/start")
    first = await bot.send_message(alice.id, "Sure?", reply_markup=KEYBOARD)
    pressing = asyncio.create_task(alice.press(first.message_id, "Yes"))
    updates = await bot.get_updates()
    query = updates[-1].callback_query
    assert query is not None
    await bot.answer_callback_query(query.id)
    await pressing
    clock.now += 60
    await bot.edit_message_text("Done.", alice.id, first.message_id)
    second = await bot.send_message(alice.id, "Bye")
    await bot.delete_message(alice.id, second.message_id)

    entries = alice.transcript
    assert [(e.kind, e.message_id, e.text) for e in entries] == [
        ("user", 1, "/start"),
        ("sent", first.message_id, "Sure?"),
        ("press", first.message_id, "Yes"),
        ("edited", first.message_id, "Done."),
        ("sent", second.message_id, "Bye"),
        ("deleted", second.message_id, "Bye"),
    ]
    assert entries[1].labels == (("Yes",),) and entries[1].live_buttons
    assert entries[2].data == "y" and entries[2].user_id == alice.id
    assert entries[3].labels == () and not entries[3].live_buttons
    assert entries[3].date == int(START) + 60
    assert emu.transcript(alice.id) == entries
    assert [e.seq for e in entries] == sorted(e.seq for e in entries)
