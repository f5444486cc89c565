"""Tests of the Bot API emulator itself, driven by a real telegram.Bot / Application over HTTP.

They pin down the Telegram rules the emulator enforces (limits, HTML parsing, privacy mode,
update offsets, webhooks, files) so that project tests relying on it can trust a green run.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import socket
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from aiohttp import web
from telegram import (
    Bot,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from emulator import BotApiEmulator, EntityParseError, parse_html, utf16_len
from emulator.media import tiny_png

TOKEN = "123456:EMULATOR-TEST"
BOT_USERNAME = "notebook_bot"


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(
        token=TOKEN, bot_username=BOT_USERNAME, bot_first_name="社区民情本"
    ) as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as tg_bot:
        yield tg_bot


@contextmanager
def raises(kind: type[TelegramError], fragment: str) -> Iterator[None]:
    """pytest.raises plus a case-insensitive substring check (PTB re-capitalises messages)."""
    with pytest.raises(kind) as info:
        yield
    assert fragment.lower() in str(info.value).lower(), str(info.value)


def _seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns when retry_after is still an int
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


# --- a tiny real Application -------------------------------------------------------------------


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("English", callback_data="lang:en"),
                InlineKeyboardButton("中文", callback_data="lang:zh"),
            ]
        ]
    )
    args = " ".join(context.args or [])
    await update.effective_message.reply_html(
        f"欢迎 <b>{html.escape(args)}</b>", reply_markup=keyboard
    )


async def _button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(f"chose {query.data}", show_alert=query.data == "lang:zh")
    if query.data in ("lang:en", "lang:zh"):
        await query.edit_message_text(f"Language set: {query.data}")


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_message.text is not None
    await update.effective_message.reply_text(update.effective_message.text)


@asynccontextmanager
async def running_app(
    emu: BotApiEmulator,
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(emu.base_url)
        .base_file_url(emu.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(CallbackQueryHandler(_button))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def test_application_echo_button_and_edit_flow(emu: BotApiEmulator) -> None:
    async with running_app(emu):
        alice = emu.user(first_name="老许", language_code="zh-hans")
        sent = await alice.send("/start a<b")
        assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
        menu = await alice.expect_message(contains="欢迎")
        assert menu.text == "欢迎 a<b"
        assert menu.html == "欢迎 <b>a&lt;b</b>"
        assert menu.entities == [{"type": "bold", "offset": 3, "length": 3}]
        assert menu.button("English") is not None
        assert menu.button("Deutsch") is None

        answer = await alice.press(menu, "English")
        assert answer.text == "chose lang:en" and not answer.show_alert
        edited = await alice.expect_edit(menu, contains="Language set: lang:en")
        assert edited is menu and menu.buttons == [] and len(menu.edits) == 1

        forged = await alice.press_data(menu, "lang:zh")
        assert forged.show_alert
        await alice.expect_edit(menu, contains="lang:zh")

        await alice.send("hello 你好")
        echoed = await alice.expect_message(contains="hello")
        assert echoed.text == "hello 你好"
        await emu.wait_idle()
        assert emu.updates_pending() == 0
    assert emu.errors == []
    assert [m.text for m in alice.messages] == [
        "Language set: lang:zh",
        "hello 你好",
    ]
    assert len(alice.history) == 4  # two from the user, two from the bot


async def test_expect_message_timeout_explains_what_arrived(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user(first_name="Alice")
    await alice.send("hi")
    await bot.get_updates()
    await bot.send_message(alice.id, "something else")
    with pytest.raises(AssertionError, match="No bot message containing 'wanted'") as info:
        await alice.expect_message(contains="wanted", timeout=0.05)
    assert "something else" in str(info.value)
    # The non-matching message was not consumed by the failed expectation.
    assert (await alice.expect_message()).text == "something else"
    await alice.expect_no_message(timeout=1)


# --- message limits ------------------------------------------------------------------------


async def test_text_length_is_counted_after_parsing_in_utf16_units(
    emu: BotApiEmulator, bot: Bot
) -> None:
    alice = emu.user()
    await alice.send("/start")
    await bot.send_message(alice.id, "a" * 4096)
    with raises(BadRequest, "message is too long"):
        await bot.send_message(alice.id, "a" * 4097)
    await bot.send_message(alice.id, "😀" * 2048)  # 4096 UTF-16 units
    with raises(BadRequest, "message is too long"):
        await bot.send_message(alice.id, "😀" * 2048 + "a")
    await bot.send_message(alice.id, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    with raises(BadRequest, "message text is empty"):
        await bot.send_message(alice.id, "<b> </b>", parse_mode="HTML")
    assert [e.description for e in emu.errors] == [
        "Bad Request: message is too long",
        "Bad Request: message is too long",
        "Bad Request: message text is empty",
    ]


async def test_caption_limit(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user()
    await alice.send("/start")
    await bot.send_photo(alice.id, tiny_png(), caption="c" * 1024)
    with raises(BadRequest, "message caption is too long"):
        await bot.send_photo(alice.id, tiny_png(), caption="c" * 1025)


async def test_a_location_is_a_map_pin_with_coordinates_in_range(
    emu: BotApiEmulator, bot: Bot
) -> None:
    alice = emu.user()
    await alice.send("/start")
    sent = await bot.send_location(alice.id, 29.563, 106.5516)
    assert (sent.location.latitude, sent.location.longitude) == (29.563, 106.5516)
    pin = alice.messages[-1]
    assert pin.media_type == "location" and pin.raw["location"]["longitude"] == 106.5516
    with raises(BadRequest, "wrong latitude"):
        await bot.send_location(alice.id, 91, 0)
    with raises(BadRequest, "wrong longitude"):
        await bot.send_location(alice.id, 0, -180.5)


async def test_callback_data_is_limited_to_64_bytes(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user()
    await alice.send("/start")

    def keyboard(data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data=data)]])

    await bot.send_message(alice.id, "ok", reply_markup=keyboard("d" * 64))
    await bot.send_message(alice.id, "ok", reply_markup=keyboard("中" * 21))  # 63 bytes
    for data in ("d" * 65, "中" * 22):
        with raises(BadRequest, "BUTTON_DATA_INVALID"):
            await bot.send_message(alice.id, "no", reply_markup=keyboard(data))
    with raises(BadRequest, "text buttons are unallowed"):
        await bot.send_message(
            alice.id, "no", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("x")]])
        )


async def test_reply_keyboards_force_reply_and_tap(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user(first_name="Alice", last_name="Li")
    await alice.send("/start")
    await bot.send_message(
        alice.id,
        "share?",
        reply_markup=ReplyKeyboardMarkup(
            [
                [KeyboardButton("📞 Phone", request_contact=True)],
                [KeyboardButton("📍 Here", request_location=True), "Skip"],
            ]
        ),
    )
    shown = await alice.expect_message(contains="share?")
    assert shown.keyboard is not None and shown.keyboard[0][0].request_contact
    assert alice.keyboard == [["📞 Phone"], ["📍 Here", "Skip"]]
    contact = await alice.tap("📞 Phone")
    assert contact["contact"]["user_id"] == alice.id
    location = await alice.tap("📍 Here")
    assert "location" in location
    await bot.send_message(alice.id, "thanks", reply_markup=ReplyKeyboardRemove())
    assert alice.keyboard is None
    await bot.send_message(alice.id, "why?", reply_markup=ForceReply(input_field_placeholder="…"))
    updates = await bot.get_updates()
    assert updates[-1].message is not None
    assert updates[-1].message.location is not None


# --- HTML ----------------------------------------------------------------------------------


async def test_html_is_validated_like_telegram(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user()
    await alice.send("/start")
    for bad in (
        "<b>a & b",
        "<b>a &amp; b",
        "a < b",
        "<foo>x</foo>",
        "<b><i>x</b></i>",
        "x</b>",
        "<span>x</span>",
        "&nbsp;",
        "<br/>",
    ):
        with raises(BadRequest, "can't parse entities"):
            await bot.send_message(alice.id, bad, parse_mode="HTML")
    original = 'Tom & "Jerry" <3 > 2 😀'
    message = await bot.send_message(alice.id, html.escape(original), parse_mode="HTML")
    assert message.text == original
    assert (await alice.expect_message(contains="Jerry")).text == original


def test_parse_html_entities_and_errors() -> None:
    parsed = parse_html(
        '😀<b>bold <i>both</i></b> <a href="https://e.com/?a=1&amp;b=2">link</a> '
        '<tg-spoiler>s</tg-spoiler><span class="tg-spoiler">t</span> '
        '<pre><code class="language-python">x = 1</code></pre><code>c</code> '
        "<blockquote expandable>q</blockquote>&#x1F600;&#39;"
    )
    assert parsed.text == "😀bold both link st x = 1c q😀'"
    types = [(e["type"], e["offset"], e["length"]) for e in parsed.entities]
    assert types == [
        ("bold", 2, 9),
        ("italic", 7, 4),
        ("text_link", 12, 4),
        ("spoiler", 17, 1),
        ("spoiler", 18, 1),
        ("pre", 20, 5),
        ("code", 25, 1),
        ("expandable_blockquote", 27, 1),
    ]
    assert parsed.entities[2]["url"] == "https://e.com/?a=1&b=2"
    assert parsed.entities[5]["language"] == "python"
    assert utf16_len(parsed.text) == len(parsed.text) + 2
    with pytest.raises(EntityParseError, match='Unsupported start tag "foo" at byte offset 4'):
        parse_html("中x<foo>")
    with pytest.raises(EntityParseError, match='expected "</i>", found "</b>"'):
        parse_html("<b><i>x</b>")
    with pytest.raises(
        EntityParseError, match='Can\'t find end tag corresponding to start tag "b"'
    ):
        parse_html("<b>x")


async def test_markdown_v2_reserved_characters(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user()
    await alice.send("/start")
    with raises(BadRequest, "reserved and must be escaped"):
        await bot.send_message(alice.id, "Done.", parse_mode="MarkdownV2")
    message = await bot.send_message(
        alice.id, "*Done*\\. [x](https://e.com)", parse_mode="MarkdownV2"
    )
    assert message.text == "Done. x"
    assert [e.type for e in message.entities] == ["bold", "text_link"]


# --- edits, deletes, missing things --------------------------------------------------------


async def test_edit_rules_and_not_found_errors(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user()
    await alice.send("/start")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    sent = await bot.send_message(alice.id, "<b>same</b>", parse_mode="HTML", reply_markup=keyboard)
    with raises(BadRequest, "message is not modified"):
        await bot.edit_message_text(
            "<b>same</b>", alice.id, sent.message_id, parse_mode="HTML", reply_markup=keyboard
        )
    # Same text without the keyboard is a modification: the keyboard goes away.
    await bot.edit_message_text("<b>same</b>", alice.id, sent.message_id, parse_mode="HTML")
    with raises(BadRequest, "message is not modified"):
        await bot.edit_message_reply_markup(alice.id, sent.message_id)
    await bot.edit_message_reply_markup(alice.id, sent.message_id, reply_markup=keyboard)
    with raises(BadRequest, "message to edit not found"):
        await bot.edit_message_text("x", alice.id, 999)
    with raises(BadRequest, "message to delete not found"):
        await bot.delete_message(alice.id, 999)
    with raises(BadRequest, "chat not found"):
        await bot.send_message(424242, "x")
    assert await bot.delete_message(alice.id, sent.message_id)
    with raises(BadRequest, "message to edit not found"):
        await bot.edit_message_text("y", alice.id, sent.message_id)
    record = alice.messages[0]
    assert record.deleted and len(record.edits) == 2
    assert emu.errors[0].description.startswith("Bad Request: message is not modified: specified")


async def test_blocked_user_and_never_started_user_are_forbidden(
    emu: BotApiEmulator, bot: Bot
) -> None:
    alice = emu.user(started=False)
    stranger = emu.user(started=False)
    with raises(Forbidden, "can't initiate conversation"):
        await bot.send_message(stranger.id, "hi")
    await alice.send("/start")
    alice.block_bot()
    with raises(Forbidden, "bot was blocked by the user"):
        await bot.send_message(alice.id, "hi")
    with raises(Forbidden, "bot was blocked by the user"):
        await bot.send_photo(alice.id, tiny_png())
    alice.unblock_bot()
    await bot.send_message(alice.id, "welcome back")
    kinds = [
        (u.my_chat_member.new_chat_member.status if u.my_chat_member else "message")
        for u in await bot.get_updates()
    ]
    assert kinds == ["message", "kicked", "member"]


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # int retry_after
async def test_fail_next_gives_retry_after(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user()
    await alice.send("/start")
    emu.fail_next("sendMessage", retry_after=3)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(alice.id, "first")
    assert _seconds(info.value) == 3
    await bot.send_message(alice.id, "second")
    emu.fail_next(None, count=2)  # any sending method
    for _ in range(2):
        with pytest.raises(RetryAfter):
            await bot.send_photo(alice.id, tiny_png())
    await bot.send_photo(alice.id, tiny_png())
    assert [m.text for m in alice.messages] == ["second", ""]
    assert emu.errors[0].description == "Too Many Requests: retry after 3"


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # int retry_after
async def test_flood_limit_per_chat(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user()
    await alice.send("/start")
    emu.flood_limit(per_chat_per_second=2)
    await bot.send_message(alice.id, "1")
    await bot.send_message(alice.id, "2")
    with pytest.raises(RetryAfter):
        await bot.send_message(alice.id, "3")


async def test_unknown_method_and_wrong_token(emu: BotApiEmulator, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")
    assert emu.errors[-1].description == "Not Found: method not found"
    wrong = Bot("123456:WRONG", base_url=emu.base_url)
    try:
        with raises(InvalidToken, "rejected by the server"):
            await wrong.initialize()
    finally:
        await wrong.shutdown()
    assert (emu.errors[-1].method, emu.errors[-1].description) == ("getMe", "Unauthorized")


# --- group privacy -------------------------------------------------------------------------


async def test_group_privacy_mode(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user(first_name="Alice")
    staff = emu.group(title="邢家桥社区工作群")
    await staff.add_bot(by=alice)
    await staff.send(alice, "just chatting")
    await staff.send(alice, "/bind")
    await staff.send(alice, "/bind@other_bot")
    await staff.send(alice, f"/bind@{BOT_USERNAME} now")
    await staff.send(alice, f"😀 hey @{BOT_USERNAME}")
    await staff.send(alice, "@someone_else hi")
    sent = await bot.send_message(staff.id, "I am here")
    await staff.send(alice, "a reply", reply_to=sent)
    await staff.send(alice, "a reply to a human", reply_to=staff.history[1])

    updates = await bot.get_updates()
    assert updates[0].my_chat_member is not None
    assert updates[0].my_chat_member.new_chat_member.status == "member"
    texts = []
    for update in updates[1:]:
        assert update.message is not None
        texts.append(update.message.text or "new_chat_members")
    assert texts == [
        "new_chat_members",
        "/bind",
        f"/bind@{BOT_USERNAME} now",
        f"😀 hey @{BOT_USERNAME}",
        "a reply",
    ]
    mention = updates[4].message
    assert mention is not None and mention.entities[0].offset == 7  # UTF-16 units
    assert mention.parse_entities() == {mention.entities[0]: f"@{BOT_USERNAME}"}
    assert len(staff.history) == 10  # everything is recorded, delivered or not

    await staff.promote_bot()
    await staff.send(alice, "admins see everything")
    updates = await bot.get_updates(offset=updates[-1].update_id + 1)
    assert updates[-1].message is not None
    assert updates[-1].message.text == "admins see everything"
    gm = await staff.expect_message(contains="here")
    assert gm.chat_id == staff.id


async def test_bot_outside_a_group_cannot_write_there(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user()
    group = emu.group(title="G")
    await bot.leave_chat(group.id)
    with raises(Forbidden, "not a member"):
        await bot.send_message(group.id, "hi")
    await group.send(alice, "/start")
    updates = await bot.get_updates()
    assert [u.my_chat_member is not None for u in updates] == [True]


# --- updates: polling and webhooks ---------------------------------------------------------


async def test_get_updates_offset_limit_and_long_poll(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user()
    for text in ("one", "two", "three"):
        await alice.send(text)
    first = await bot.get_updates()
    assert [u.message.text for u in first if u.message] == ["one", "two", "three"]
    assert len(await bot.get_updates()) == 3  # nothing confirmed yet
    again = await bot.get_updates(offset=first[1].update_id, limit=1)
    assert [u.update_id for u in again] == [first[1].update_id]
    assert emu.updates_pending() == 2
    assert [u.update_id for u in await bot.get_updates(offset=-1)] == [first[2].update_id]
    assert emu.updates_pending() == 1
    assert await bot.get_updates(offset=first[2].update_id + 1) == ()
    assert emu.updates_pending() == 0
    assert (await bot.get_webhook_info()).pending_update_count == 0

    # A long poll returns as soon as an update exists, well before its timeout.
    polls = len(emu.calls_to("getUpdates"))
    waiting = asyncio.create_task(bot.get_updates(timeout=10))
    await emu.signal.wait_for(lambda: len(emu.calls_to("getUpdates")) > polls, 2)
    await alice.send("four")
    got = await asyncio.wait_for(waiting, 3)
    assert [u.message.text for u in got if u.message] == ["four"]

    # A second poller terminates the first, like Telegram does. (A Bot polls over a single
    # connection, so the second poller is another Bot with the same token.)
    await bot.get_updates(offset=got[0].update_id + 1)
    polls = len(emu.calls_to("getUpdates"))
    parked = asyncio.create_task(bot.get_updates(timeout=10))
    await emu.signal.wait_for(lambda: len(emu.calls_to("getUpdates")) > polls, 2)
    async with Bot(TOKEN, base_url=emu.base_url) as second:
        assert await second.get_updates() == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await asyncio.wait_for(parked, 3)


async def test_allowed_updates_filter(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user()
    await bot.get_updates(allowed_updates=["callback_query"])
    await alice.send("ignored")
    assert emu.updates_pending() == 0
    await bot.get_updates(allowed_updates=[])
    await alice.send("seen")
    assert emu.updates_pending() == 1


async def test_webhook_delivery_with_secret_and_retry(emu: BotApiEmulator, bot: Bot) -> None:
    received: asyncio.Queue[tuple[str | None, dict[str, Any]]] = asyncio.Queue()
    failures = {"left": 1}

    async def hook(request: web.Request) -> web.Response:
        await received.put(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        if failures["left"]:
            failures["left"] -= 1
            return web.Response(status=500)
        return web.Response(text="ok")

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    runner = web.AppRunner(receiver, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        with raises(BadRequest, "https url must be provided"):
            await bot.set_webhook("http://example.com/hook")
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret-_")
        alice = emu.user()
        await alice.send("via webhook")
        secret, body = await asyncio.wait_for(received.get(), 5)
        assert secret == "s3cret-_"
        assert body["message"]["text"] == "via webhook"
        secret, retried = await asyncio.wait_for(received.get(), 5)
        assert retried["update_id"] == body["update_id"]  # the same update, again
        await emu.wait_idle()
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 0
        assert info.last_error_message is not None and "500" in info.last_error_message
        with raises(Conflict, "webhook is active"):
            await bot.get_updates()
        await bot.delete_webhook()
        await alice.send("via polling")
        assert [u.message.text for u in await bot.get_updates() if u.message] == ["via polling"]
    finally:
        await runner.cleanup()


# --- files ---------------------------------------------------------------------------------


async def test_photo_round_trip_and_user_media(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user()
    await alice.send("/start")
    png = tiny_png(120, 60)
    sent = await bot.send_photo(alice.id, png, caption="<i>chart</i>", parse_mode="HTML")
    largest = sent.photo[-1]
    assert (largest.width, largest.height) == (120, 60)
    downloaded = await (await bot.get_file(largest.file_id)).download_as_bytearray()
    assert bytes(downloaded) == png
    again = await bot.send_photo(alice.id, largest.file_id)  # resend by file_id
    assert again.photo[-1].file_id == largest.file_id
    record = await alice.expect_message(contains="chart")
    assert record.photo == png and record.caption == "chart"
    with raises(BadRequest, "IMAGE_PROCESS_FAILED"):
        await bot.send_photo(alice.id, b"not an image")
    with raises(BadRequest, "wrong file identifier"):
        await bot.send_photo(alice.id, "no-such-file-id")

    doc = await bot.send_document(alice.id, b"col1,col2\n", filename="export.csv")
    assert doc.document is not None and doc.document.file_name == "export.csv"
    voice = await bot.send_voice(alice.id, b"OggS fake", duration=2)
    assert voice.voice is not None
    assert voice.to_dict()["voice"]["duration"] == 2
    album = await bot.send_media_group(
        alice.id, [InputMediaPhoto(tiny_png()), InputMediaPhoto(largest.file_id, caption="2")]
    )
    assert len({m.media_group_id for m in album}) == 1

    user_photo = await alice.send_photo(caption="look @notebook_bot")
    await alice.send_voice(duration=3)
    await alice.send_document(filename="x.exe", mime_type="application/octet-stream")
    await alice.send_sticker()
    await alice.share_contact(phone="+8613800000000")
    await alice.send_location(29.6, 106.5)
    album_messages = await alice.send_media_group(photos=2, caption="album")
    assert album_messages[0]["media_group_id"] == album_messages[1]["media_group_id"]
    updates = await bot.get_updates()
    messages = [u.message for u in updates if u.message]
    assert messages[1].photo and messages[1].caption == "look @notebook_bot"
    photo_file = await bot.get_file(user_photo["photo"][-1]["file_id"])
    assert (await photo_file.download_as_bytearray()).startswith(b"\x89PNG")
    assert messages[2].voice is not None and messages[3].document is not None
    assert messages[4].sticker is not None
    assert messages[5].contact is not None and messages[5].contact.user_id == alice.id
    assert messages[6].location is not None
    assert messages[7].media_group_id == messages[8].media_group_id
    assert emu.errors[-1].description == "Bad Request: wrong file identifier/HTTP URL specified"


async def test_commands_chat_info_and_members(emu: BotApiEmulator, bot: Bot) -> None:
    from telegram import BotCommand, BotCommandScopeAllPrivateChats

    alice = emu.user(first_name="Alice", username="alice")
    group = emu.group(title="Staff", admins=[alice], bot_is_admin=True)
    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("help", "帮助")])
    await bot.set_my_commands(
        [BotCommand("report", "Report")], scope=BotCommandScopeAllPrivateChats(), language_code="en"
    )
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    assert emu.commands_for({"type": "all_private_chats"}, "en")[0]["command"] == "report"
    with raises(BadRequest, "BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Start", "x")])
    with raises(BadRequest, "invalid language code"):
        await bot.set_my_commands([BotCommand("start", "x")], language_code="zh-hans")
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()

    chat = await bot.get_chat(group.id)
    assert chat.title == "Staff" and chat.type == "supergroup"
    private = await bot.get_chat(alice.id)
    assert private.username == "alice"
    member = await bot.get_chat_member(group.id, alice.id)
    assert member.status == "administrator"
    admins = await bot.get_chat_administrators(group.id)
    assert {a.user.id for a in admins} == {alice.id, emu.bot_id}
    assert await bot.set_chat_menu_button() is True
    await alice.send("/start")
    assert await bot.send_chat_action(alice.id, "typing")
    assert alice.actions == ["typing"]


async def test_application_in_webhook_mode(emu: BotApiEmulator) -> None:
    with socket.socket() as probe:  # a free port for PTB's webhook server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = ApplicationBuilder().token(TOKEN).base_url(emu.base_url).build()
    app.add_handler(CommandHandler("start", _start))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_webhook(
        listen="127.0.0.1",
        port=port,
        url_path="tg",
        webhook_url=f"http://127.0.0.1:{port}/tg",
        secret_token="hook-secret",
    )
    try:
        assert emu.webhook_url == f"http://127.0.0.1:{port}/tg"
        alice = emu.user()
        await alice.send("/start hooked")
        assert (await alice.expect_message(contains="欢迎")).text == "欢迎 hooked"
        await emu.wait_idle()
        assert emu.updates_pending() == 0
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert emu.errors == []


# --- more chat behaviour -------------------------------------------------------------------


async def test_copy_forward_and_group_deletion_rules(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user(first_name="Alice")
    staff = emu.group(title="Staff", members=[alice])
    report = await alice.send_photo(caption="broken lamp @someone")
    copied = await bot.copy_message(staff.id, alice.id, report["message_id"], caption="copy")
    forwarded = await bot.forward_message(staff.id, alice.id, report["message_id"])
    assert forwarded.forward_origin is not None and forwarded.caption == "broken lamp @someone"
    copy_record = staff.messages[0]
    assert copy_record.message_id == copied.message_id and copy_record.caption == "copy"
    assert copy_record.photo is not None and copy_record.photo.startswith(b"\x89PNG")
    with raises(BadRequest, "message to copy not found"):
        await bot.copy_message(staff.id, alice.id, 999)

    said = await staff.send(alice, "/report")
    with raises(BadRequest, "message can't be deleted"):
        await bot.delete_message(staff.id, said["message_id"])  # not an admin
    assert await bot.delete_message(staff.id, copied.message_id)  # its own message is fine
    await staff.promote_bot(can_delete_messages=True)
    assert await bot.delete_message(staff.id, said["message_id"])
    assert said["message_id"] in staff.chat.deleted


async def test_injected_clock_dates_messages_and_limits_deletion() -> None:
    now = [1_800_000_000.0]
    async with (
        BotApiEmulator(token=TOKEN, clock=lambda: now[0]) as emu,
        Bot(TOKEN, base_url=emu.base_url) as bot,
    ):
        alice = emu.user()
        sent_by_user = await alice.send("hi")
        assert sent_by_user["date"] == 1_800_000_000
        message = await bot.send_message(alice.id, "old news")
        assert message.date.timestamp() == 1_800_000_000
        now[0] += 49 * 3600
        with raises(BadRequest, "message can't be deleted"):
            await bot.delete_message(alice.id, message.message_id)
        edited = await bot.edit_message_text("new", alice.id, message.message_id)
        assert isinstance(edited, Message) and edited.edit_date is not None
        assert edited.edit_date.timestamp() == 1_800_000_000 + 49 * 3600


async def test_members_joining_and_user_edits(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user(first_name="Alice")
    bob = emu.user(first_name="Bob")
    group = emu.group(title="Neighbours", bot_is_admin=True)
    await bot.get_updates(allowed_updates=["message", "edited_message", "chat_member"])
    await group.add_member(bob, by=alice)
    said = await group.send(bob, "hello all")
    await group.edit(bob, said, "hello everyone")
    updates = await bot.get_updates()
    assert updates[0].chat_member is not None
    assert updates[0].chat_member.new_chat_member.user.id == bob.id
    assert updates[1].message is not None and updates[1].message.new_chat_members[0].id == bob.id
    assert updates[2].message is not None and updates[2].message.text == "hello all"
    assert updates[3].edited_message is not None
    assert updates[3].edited_message.text == "hello everyone"
    assert (await bot.get_chat_member(group.id, bob.id)).status == "member"
    assert await bot.get_chat_member_count(group.id) == 3  # alice wrote nothing: not a member


async def test_ban_and_unban_need_an_admin_bot_with_the_right_to_restrict(
    emu: BotApiEmulator, bot: Bot
) -> None:
    owner, alice, bob = emu.user("Owner"), emu.user("Alice"), emu.user("Bob")
    group = emu.group("Staff", owner=owner, members=[alice, bob], admins=[])
    # a plain member bot, then an admin without the right: Telegram refuses
    with raises(BadRequest, "not enough rights to restrict/unrestrict chat member"):
        await bot.ban_chat_member(group.id, alice.id)
    await group.promote_bot(can_restrict_members=False)
    with raises(BadRequest, "not enough rights"):
        await bot.ban_chat_member(group.id, alice.id)
    with raises(BadRequest, "not enough rights"):
        await bot.unban_chat_member(group.id, alice.id, only_if_banned=True)
    assert group.chat.members[alice.id] == "member"
    me = await bot.get_chat_member(group.id, emu.bot_id)
    assert me.status == "administrator" and not me.can_restrict_members  # type: ignore[attr-defined]

    # with the right: banned (out, cannot come back), then unbanned (may be invited again)
    await group.promote_bot(can_restrict_members=True)
    assert await bot.ban_chat_member(group.id, alice.id)
    assert (await bot.get_chat_member(group.id, alice.id)).status == "kicked"
    assert await bot.unban_chat_member(group.id, alice.id, only_if_banned=True)
    assert (await bot.get_chat_member(group.id, alice.id)).status == "left"
    # only_if_banned leaves a member alone; without it a member is removed, as Telegram does
    assert await bot.unban_chat_member(group.id, bob.id, only_if_banned=True)
    assert group.chat.members[bob.id] == "member"
    assert await bot.unban_chat_member(group.id, bob.id)
    assert group.chat.members[bob.id] == "left"
    # the owner cannot be banned; private chats and strangers are refused
    with raises(BadRequest, "can't remove chat owner"):
        await bot.ban_chat_member(group.id, owner.id)
    with raises(BadRequest, "can't be changed in private chats"):
        await bot.ban_chat_member(alice.id, alice.id)
    with raises(BadRequest, "PARTICIPANT_ID_INVALID"):
        await bot.ban_chat_member(group.id, 42)
    # a basic group has no unban (a removed member may simply be added again)
    basic = emu.group("Old staff", supergroup=False, members=[alice], bot_is_admin=True)
    assert await bot.ban_chat_member(basic.id, alice.id)
    with raises(BadRequest, "supergroup and channel chats only"):
        await bot.unban_chat_member(basic.id, alice.id)
    # a bot that was removed from the group cannot act there at all
    await group.remove_bot(by=owner)
    with raises(Forbidden, "bot was kicked"):
        await bot.ban_chat_member(group.id, bob.id)
