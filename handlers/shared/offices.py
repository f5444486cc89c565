"""Who may use a command: the community the person serves in, if their role is one of a few.

A command for the office (the secretary's /invite, /export, /staff; the staff's /digest, /log)
works only in a private chat and only for those roles; its buttons check the same on every
press, since a forged or forwarded button may come from anyone.
"""

from __future__ import annotations

from collections.abc import Collection

from telegram import Message, Update

from handlers.shared.common import is_private
from runtime.context import NotebookContext
from storage.models import Community, Role
from storage.people import current_membership

SECRETARY = frozenset({Role.SECRETARY})


async def community_as(context: NotebookContext, roles: Collection[Role]) -> Community | None:
    """The person's current community, if their role there is one of `roles`."""
    current = await current_membership(context.session, context.person)
    if current is None or Role(current[0].role) not in roles:
        return None
    return current[1]


async def private_command_as(
    update: Update, context: NotebookContext, roles: Collection[Role], refusal: str
) -> tuple[Message, Community] | None:
    """The command's message and the community, when it was sent in a private chat by someone
    whose role is one of `roles`; otherwise they are told why not (`refusal`) and None."""
    message = update.effective_message
    assert message is not None
    if not is_private(update):
        await message.reply_text(context.tr.gettext("Please talk to me in a private chat."))
        return None
    community = await community_as(context, roles)
    if community is None:
        await message.reply_text(refusal)
        return None
    return message, community
