"""/bind: the secretary (or a worker) makes a Telegram group the community's staff group.

The bot is added to the group and someone sends /bind there; privacy mode stays on, since a
command always reaches the bot. Only staff of the community they are acting in may bind. A group
serves one community; binding another group moves the cards there. When Telegram turns the group
into a supergroup (a new chat id), the binding follows it.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler, MessageHandler, filters

from handlers.shared.commands import refresh_group_menu
from handlers.shared.common import escape, is_private
from runtime.context import NotebookContext
from storage.models import STAFF_ROLES, Role
from storage.people import current_membership
from storage.staff import BindOutcome, bind_staff_group, follow_group_migration


async def bind(update: Update, context: NotebookContext) -> None:
    message = update.effective_message
    chat = update.effective_chat
    assert message is not None and chat is not None
    _ = context.tr.gettext
    if is_private(update):
        await message.reply_text(
            _(
                "Add me to your staff group, then send /bind in that group. "
                "New issues will appear there as cards."
            )
        )
        return
    current = await current_membership(context.session, context.person)
    if current is None or Role(current[0].role) not in STAFF_ROLES:
        await message.reply_text(
            _("Sorry, only the community's secretary or workers can make this the staff group.")
        )
        return
    community = current[1]
    result = await bind_staff_group(
        context.session, community=community, chat_id=chat.id, now=context.now()
    )
    name = escape(community.name)
    if result.outcome is BindOutcome.TAKEN:
        assert result.holder is not None
        await message.reply_text(
            _(
                "This group is already the staff group of {other}. "
                "Please use a separate group for {community}."
            ).format(other=escape(result.holder.name), community=name)
        )
        return
    if result.outcome is BindOutcome.ALREADY:
        await message.reply_text(
            _("This group already is the staff group of {community}.").format(community=name)
        )
        return
    if result.outcome is BindOutcome.MOVED:
        text = _(
            "The staff group of {community} is now this group. "
            "Open issues get their cards here; the old group gets no more updates."
        )
    else:
        text = _(
            "This is now the staff group of {community}. Every new issue will appear here as "
            "a card. Act with its buttons; when I ask a question, reply to my message."
        )
    await message.reply_text(text.format(community=name))
    await refresh_group_menu(context, chat.id, community.default_locale)


async def group_migrated(update: Update, context: NotebookContext) -> None:
    message = update.effective_message
    assert message is not None
    if message.migrate_to_chat_id is None:
        return
    await follow_group_migration(
        context.session, old_chat_id=message.chat.id, new_chat_id=message.migrate_to_chat_id
    )


HANDLERS = [
    CommandHandler("bind", bind),
    MessageHandler(filters.StatusUpdate.MIGRATE, group_migrated),
]
