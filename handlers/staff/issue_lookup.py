"""/issue N: for staff, the whole card and the full history (internal notes included) of issue N
in their community. Residents get a polite refusal: numbers are not keys to other people's
issues."""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import CommandHandler

from handlers.shared.common import escape, is_private
from handlers.staff.cards import render_private_copy
from handlers.staff.history import history_lines, pack_lines
from runtime.context import NotebookContext
from storage import issues as rules
from storage.models import STAFF_ROLES, Community, Issue
from storage.people import current_membership, role_in
from storage.staff import card_facts, community_of_group


async def staff_community(update: Update, context: NotebookContext) -> Community | None:
    """The community whose issues this person may look up here: in a private chat the one they
    act in, in a group the community the group serves; None unless they are its staff."""
    if is_private(update):
        current = await current_membership(context.session, context.person)
        community = current[1] if current else None
    else:
        chat = update.effective_chat
        community = await community_of_group(context.session, chat.id) if chat else None
    if community is None or community.id is None:
        return None
    role = await role_in(
        context.session, person_id=context.person.id or 0, community_id=community.id
    )
    return community if role in STAFF_ROLES else None


async def send_issue_view(context: NotebookContext, chat_id: int, issue: Issue) -> None:
    """The card as the reader reads it, then the history, split to fit."""
    _ = context.tr.gettext
    facts = await card_facts(context.session, issue)
    text, markup = render_private_copy(facts, context.tr, context.now())
    await context.bot.send_message(chat_id, text, reply_markup=markup)
    lines = await history_lines(context.session, issue, context.tr, context.now())
    header = "<b>" + _("History of No. {number}:").format(number=issue.number) + "</b>"
    for part in pack_lines(header, lines):
        await context.bot.send_message(chat_id, part)


async def issue_command(update: Update, context: NotebookContext) -> None:
    message = update.effective_message
    chat = update.effective_chat
    assert message is not None and chat is not None
    _ = context.tr.gettext
    community = await staff_community(update, context)
    if community is None or community.id is None:
        await message.reply_text(
            _(
                "Sorry, looking up issues by number is for community staff. "
                "Your own reports are under /my."
            )
        )
        return
    found = re.search(r"\d+", " ".join(context.args or []))
    if found is None:
        await message.reply_text(_("Send /issue and a number, for example /issue 12."))
        return
    number = int(found.group())
    issue = await rules.get_issue(context.session, community_id=community.id, number=number)
    if issue is None:
        await message.reply_text(
            _("There is no No. {number} in {community}.").format(
                number=number, community=escape(community.name)
            )
        )
        return
    await send_issue_view(context, chat.id, issue)


HANDLERS = [CommandHandler("issue", issue_command)]
