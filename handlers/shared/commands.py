"""The command menus Telegram shows, by who is looking and where (setMyCommands' scopes):

- residents, in every private chat (BotCommandScopeAllPrivateChats), in zh_Hans and en;
- the staff group: the commands that work there (BotCommandScopeChat of the group);
- a worker's or the secretary's private chat: their own (BotCommandScopeChat of that chat),
  refreshed when they join the staff, leave it, or the secretary's role changes hands
  (`refresh_private_menu`, sent after the update's commit like every call);
- the bot's description and short description: what someone sees before pressing Start.

bot/menus.py publishes all of them at start.
"""

from __future__ import annotations

from telegram import BotCommand, BotCommandScopeChat

from runtime.context import NotebookContext
from runtime.i18n import N_, Translator
from storage.menus import role_of_person
from storage.models import Person, Role

RESIDENT_COMMANDS = (
    ("start", N_("Start, or join a community")),
    ("report", N_("Report a problem")),
    ("my", N_("My issues and how they are going")),
    ("help", N_("What I can do for you")),
    ("profile", N_("My building, language and phone")),
    ("language", N_("Choose a language")),
    ("cancel", N_("Stop what we are doing")),
    ("propose", N_("Bring a matter to the courtyard council")),
    ("topics", N_("The courtyard council's topics")),
    ("vote", N_("Your household's vote on a building project")),
    ("duty", N_("Who is at the service desk")),
    ("mydata", N_("What the notebook keeps about me")),
    ("forget", N_("Delete my personal data")),
)
GROUP_COMMANDS = (
    ("issue", N_("The card and history of issue N")),
    ("notebook", N_("The notebook page for today or a week")),
    ("help", N_("What I can do for you")),
    ("bind", N_("Send the issue cards to this group")),
)
WORKER_COMMANDS = (
    ("todo", N_("My open items, overdue first")),
    ("log", N_("Note an issue a resident raised by phone or in person")),
    ("issue", N_("The card and history of issue N")),
    ("desk", N_("Log a visit at the service desk")),
    ("notebook", N_("The notebook page for today or a week")),
    ("digest", N_("How the community did")),
    ("meeting", N_("Courtyard council meetings")),
    ("campaign", N_("Consent votes of households")),
    ("poster", N_("A printable poster for a building")),
    ("duty", N_("Who is at the service desk")),
    ("help", N_("What I can do for you")),
    ("cancel", N_("Stop what we are doing")),
    ("my", N_("My issues and how they are going")),
    ("profile", N_("My building, language and phone")),
    ("language", N_("Choose a language")),
)
SECRETARY_COMMANDS = (
    *WORKER_COMMANDS[:8],
    ("invite", N_("Links for new workers and residents")),
    ("staff", N_("The team: a worker who left, handing over")),
    ("export", N_("Spreadsheets and the printable notebook")),
    *WORKER_COMMANDS[8:],
)
DESCRIPTION = N_(
    "The community notebook (社区民情本): tell your community office about a broken light, a "
    "blocked drain or noise at night, in words, a photo or a voice message. You get an issue "
    "number, hear every step, and are asked at the end whether it was solved."
)
SHORT_DESCRIPTION = N_(
    "Tell your community about a problem, in words, a photo or your voice; hear every step."
)
# Telegram's language codes for our catalogs (two letters, as the clients send them)
LANGUAGE_CODES = {"zh_Hans": "zh", "en": "en"}


def commands(tr: Translator, which: tuple[tuple[str, str], ...]) -> list[BotCommand]:
    return [BotCommand(name, tr.gettext(description)) for name, description in which]


def private_commands(role: Role | None) -> tuple[tuple[str, str], ...]:
    if role is Role.SECRETARY:
        return SECRETARY_COMMANDS
    if role is Role.WORKER:
        return WORKER_COMMANDS
    return RESIDENT_COMMANDS


async def refresh_private_menu(context: NotebookContext, person: Person) -> None:
    """The person's role changed: their private chat's menu follows (a staff menu, or back to
    the residents' one). Goes out after the update's commit."""
    if person.telegram_user_id is None or person.id is None:
        return
    role = await role_of_person(context.session, person.id)
    scope = BotCommandScopeChat(person.telegram_user_id)
    if role is None:
        await context.bot.delete_my_commands(scope=scope)
        return
    locale = person.locale or context.notebook.settings.default_locale
    tr = context.notebook.i18n.translator(locale, context.tr.tz)
    await context.bot.set_my_commands(commands(tr, private_commands(role)), scope=scope)


async def refresh_group_menu(context: NotebookContext, chat_id: int, locale: str) -> None:
    """A group became the staff group: its menu shows the commands that work there."""
    scope = BotCommandScopeChat(chat_id)
    tr = context.notebook.i18n.translator(locale, context.tr.tz)
    await context.bot.set_my_commands(commands(tr, GROUP_COMMANDS), scope=scope)
    for catalog, code in LANGUAGE_CODES.items():
        tr = context.notebook.i18n.translator(catalog, context.tr.tz)
        await context.bot.set_my_commands(
            commands(tr, GROUP_COMMANDS), scope=scope, language_code=code
        )
