"""/help: what the bot can do for this person, by their role."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.context import NotebookContext
from handlers.common import escape
from handlers.labels import role_label
from storage.models import STAFF_ROLES, Role
from storage.people import current_membership


async def help_text(context: NotebookContext) -> str:
    _ = context.tr.gettext
    current = await current_membership(context.session, context.person)
    if current is None:
        return _(
            "I am the community notebook. Open the link your community gave you, "
            "or send /start to choose your community."
        )
    member, community = current
    lines = [
        _("You are in {community} as {role}.").format(
            community=escape(community.name), role=role_label(context.tr, member.role)
        ),
        "",
        _("Just write to me about any problem: I will note it and tell you who handles it."),
        _("/language: choose your language"),
        _("/mydata: everything the notebook keeps about you"),
        _("/forget: delete your personal data"),
    ]
    if Role(member.role) in STAFF_ROLES:
        lines.append(_("/invite: links for new workers and residents (secretary)"))
    if Role(member.role) is Role.SECRETARY:
        lines.append(_("/staff: a worker who left, or handing over the secretary role"))
    return "\n".join(lines)


async def show_help(update: Update, context: NotebookContext) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(await help_text(context))


HANDLERS = [CommandHandler("help", show_help)]
