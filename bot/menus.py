"""At start: tell Telegram the command menus (per scope and language) and the bot's
description (handlers/shared/commands.py says which): the residents' in every private chat, each
staff group's, the description and short description. A worker's or the secretary's own menu
is set from their private chat (when they join the staff, when their role changes, when they
send /start): Telegram refuses a chat scope for someone who has not opened the chat yet.

The calls go through the bot's rate limiter and transport like any other, outside any update's
transaction; a refusal is logged and the start goes on: a menu is a convenience, never a reason
not to run."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from telegram import (
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeDefault,
)
from telegram.error import TelegramError

from handlers.shared.commands import (
    DESCRIPTION,
    GROUP_COMMANDS,
    LANGUAGE_CODES,
    RESIDENT_COMMANDS,
    SHORT_DESCRIPTION,
    commands,
)
from runtime.i18n import Translator
from storage.menus import group_menus

if TYPE_CHECKING:
    from bot.app import NotebookApplication

log = logging.getLogger(__name__)


async def publish(app: NotebookApplication) -> None:
    nb = app.notebook
    bot = app.bot
    tz = nb.settings.tz

    def tr(locale: str | None) -> Translator:
        return nb.i18n.translator(locale or nb.settings.default_locale, tz)

    try:
        default = tr(None)
        residents = commands(default, RESIDENT_COMMANDS)
        # none in groups but the staff group's: residents' commands have no use there
        for code in ("", *LANGUAGE_CODES.values()):
            await bot.delete_my_commands(scope=BotCommandScopeDefault(), language_code=code or None)
        # no language: the community's; then one per catalog, for each client's language
        await bot.set_my_commands(residents, scope=BotCommandScopeAllPrivateChats())
        await bot.set_my_description(default.gettext(DESCRIPTION))
        await bot.set_my_short_description(default.gettext(SHORT_DESCRIPTION))
        for locale, code in LANGUAGE_CODES.items():
            t = tr(locale)
            await bot.set_my_commands(
                commands(t, RESIDENT_COMMANDS),
                scope=BotCommandScopeAllPrivateChats(),
                language_code=code,
            )
            await bot.set_my_description(t.gettext(DESCRIPTION), language_code=code)
            await bot.set_my_short_description(t.gettext(SHORT_DESCRIPTION), language_code=code)
        async with nb.db.reading() as session:
            groups = await group_menus(session)
    except TelegramError as exc:
        log.warning("could not set the command menus: %s", exc)
        return
    # one chat's refusal (a group the bot has left) leaves the others' menus set
    for group in groups:
        scope = BotCommandScopeChat(group.chat_id)
        try:
            await bot.set_my_commands(commands(tr(group.locale), GROUP_COMMANDS), scope=scope)
            for locale, code in LANGUAGE_CODES.items():
                await bot.set_my_commands(
                    commands(tr(locale), GROUP_COMMANDS), scope=scope, language_code=code
                )
        except TelegramError as exc:
            log.warning("could not set the staff group's commands: %s", exc)
