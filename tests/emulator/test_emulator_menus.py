"""The emulator enforces Telegram's rules for reactions, reply keyboards that ask the phone for
something, command scopes (and which one a user sees) and the bot's description."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeChatAdministrators,
    BotCommandScopeChatMember,
    KeyboardButton,
    ReactionTypeCustomEmoji,
    ReplyKeyboardMarkup,
)
from telegram.error import BadRequest

from emulator import BotApiEmulator

TOKEN = "123456:menus"


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN, bot_username="notebook_bot") as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as b:
        yield b


@contextmanager
def refused(fragment: str) -> Iterator[None]:
    with pytest.raises(BadRequest) as info:  # python-telegram-bot re-capitalises messages
        yield
    assert fragment.lower() in info.value.message.lower(), info.value.message


async def test_a_reaction_is_one_allowed_emoji_on_a_message_that_exists(
    emu: BotApiEmulator, bot: Bot
) -> None:
    alice = emu.user(first_name="Alice")
    said = await alice.send("楼道灯坏了")
    assert await bot.set_message_reaction(alice.id, said["message_id"], "👌")
    assert alice.reactions(said) == ["👌"]
    with refused("REACTION_INVALID"):
        await bot.set_message_reaction(alice.id, said["message_id"], "🧯")  # not allowed
    with refused("REACTION_INVALID"):
        await bot.set_message_reaction(
            alice.id, said["message_id"], ReactionTypeCustomEmoji("5368324170671202286")
        )
    with refused("REACTIONS_TOO_MANY"):
        await bot.set_message_reaction(alice.id, said["message_id"], ["👌", "👍"])
    with refused("message to react not found"):
        await bot.set_message_reaction(alice.id, 999, "👌")
    assert alice.reactions(said) == ["👌"]  # a refused call changes nothing
    assert await bot.set_message_reaction(alice.id, said["message_id"])  # none: taken away
    assert alice.reactions(said) == []


async def test_location_and_contact_buttons_only_in_private_chats(
    emu: BotApiEmulator, bot: Bot
) -> None:
    alice = emu.user(first_name="Alice")
    group = emu.group(title="Staff", members=[alice])
    menu = ReplyKeyboardMarkup(
        [[KeyboardButton("📍 发送位置", request_location=True), KeyboardButton("联系社区")]],
        resize_keyboard=True,
        is_persistent=True,
        input_field_placeholder="在这里写",
    )
    await bot.send_message(alice.id, "菜单", reply_markup=menu)
    assert alice.keyboard == [["📍 发送位置", "联系社区"]]
    pinned = await alice.tap("📍 发送位置")  # the phone sends where it is
    assert "location" in pinned
    with refused("request_location"):
        await bot.send_message(group.id, "菜单", reply_markup=menu)
    too_long = ReplyKeyboardMarkup([["a"]], input_field_placeholder="x" * 65)
    with refused("placeholder"):
        await bot.send_message(alice.id, "菜单", reply_markup=too_long)
    with refused("is_persistent"):
        await bot.send_message(
            alice.id,
            "菜单",
            reply_markup='{"keyboard": [["a"]], "is_persistent": "yes"}',  # type: ignore[arg-type]
        )


async def test_the_commands_a_user_sees_follow_telegrams_order_of_scopes(
    emu: BotApiEmulator, bot: Bot
) -> None:
    alice = emu.user(first_name="Alice", language_code="zh-hans")
    boss = emu.user(first_name="Boss", language_code="en")
    group = emu.group(title="Staff", members=[alice], admins=[boss])
    await bot.set_my_commands([BotCommand("start", "开始")])  # default
    assert alice.commands() == ["/start"] and group.commands(alice) == ["/start"]
    private = BotCommandScopeAllPrivateChats()
    await bot.set_my_commands([BotCommand("my", "我的问题")], scope=private)
    await bot.set_my_commands([BotCommand("report", "反映问题")], scope=private, language_code="zh")
    assert alice.commands() == ["/report"]  # her language first
    assert boss.commands() == ["/my"]  # none in English: the scope's own
    assert group.commands(alice) == ["/start"]  # private scopes do not reach groups
    await bot.set_my_commands([BotCommand("digest", "d")], scope=BotCommandScopeAllGroupChats())
    await bot.set_my_commands(
        [BotCommand("staff", "s")], scope=BotCommandScopeAllChatAdministrators()
    )
    assert group.commands(alice) == ["/digest"] and group.commands(boss) == ["/staff"]
    await bot.set_my_commands([BotCommand("issue", "i")], scope=BotCommandScopeChat(group.id))
    assert group.commands(alice) == ["/issue"]
    assert group.commands(boss) == ["/issue"]  # the chat's scope comes before all admins'
    await bot.set_my_commands(
        [BotCommand("bind", "b")], scope=BotCommandScopeChatAdministrators(group.id)
    )
    assert group.commands(boss) == ["/bind"] and group.commands(alice) == ["/issue"]
    await bot.set_my_commands(
        [BotCommand("todo", "t")], scope=BotCommandScopeChatMember(group.id, alice.id)
    )
    assert group.commands(alice) == ["/todo"]
    await bot.set_my_commands([BotCommand("todo", "t")], scope=BotCommandScopeChat(alice.id))
    assert alice.commands() == ["/todo"]  # her own chat's scope wins over all private chats
    await bot.delete_my_commands(scope=BotCommandScopeChat(alice.id))
    assert alice.commands() == ["/report"]
    with refused("can't use this scope in a private chat"):
        await bot.set_my_commands(
            [BotCommand("x", "x")], scope=BotCommandScopeChatAdministrators(alice.id)
        )
    with refused("chat not found"):
        await bot.set_my_commands([BotCommand("x", "x")], scope=BotCommandScopeChat(424242))


async def test_the_description_per_language_within_its_limits(
    emu: BotApiEmulator, bot: Bot
) -> None:
    assert await bot.set_my_description("社区民情本", language_code="zh")
    assert await bot.set_my_short_description("Tell your community", language_code="en")
    assert (await bot.get_my_description(language_code="zh")).description == "社区民情本"
    assert (await bot.get_my_short_description("en")).short_description == "Tell your community"
    with refused("too long"):
        await bot.set_my_short_description("x" * 121)
    with refused("too long"):
        await bot.set_my_description("x" * 513)
    with refused("invalid language code"):
        await bot.set_my_description("x", language_code="zh_Hans")
