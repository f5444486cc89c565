"""Pieces every feature uses: who is writing (loaded once per update), escaping, links, and
the after-send hooks features share."""

from __future__ import annotations

import html
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import ChatMember, Update

from runtime.context import NotebookContext
from runtime.effects import Hook, then
from runtime.i18n import locale_for_language_code
from runtime.rendering import Sent
from storage.models import Community, Membership
from storage.people import (
    TelegramIdentity,
    current_membership,
    identify,
    mark_unreachable,
    membership,
)
from storage.residents import remember_issue_message


async def _remember_issue_message(session: AsyncSession, sent: Sent, args: dict[str, Any]) -> None:
    await remember_issue_message(
        session,
        chat_id=sent.chat_id,
        message_id=sent.message_id,
        issue_id=int(args["issue_id"]),
        now=sent.date,
    )


# After-send hooks (delivery/answers.py: `then`), by name: registered by the application factory.
AFTER_SEND: dict[str, Hook] = {"remember_issue_message": _remember_issue_message}


async def send_about_issue(
    context: NotebookContext, chat_id: int, text: str, *, issue_id: int, **options: Any
) -> None:
    """Send a message that speaks of an issue: once it is sent, a reply to it adds to the
    issue (storage/residents.py: `remember_issue_message`)."""
    with then("remember_issue_message", issue_id=issue_id):
        await context.bot.send_message(chat_id, text, **options)


def escape(text: str | None) -> str:
    """Anything a user typed, made safe for parse_mode=HTML."""
    return html.escape(text or "", quote=False)


def deep_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username}?start={token}"


# in UpdateScope.extra: `load_person` found no active membership
_NO_MEMBERSHIP = "no_membership"


async def load_person(update: object, context: NotebookContext) -> None:
    """Group -2: record who wrote and pick their language and time zone for this update."""
    if not isinstance(update, Update):
        return
    user = update.effective_user
    settings = context.notebook.settings
    if user is None or user.is_bot:
        return
    person, current = await identify(
        context.session,
        TelegramIdentity(
            user_id=user.id,
            full_name=user.full_name,
            username=user.username,
            language_code=user.language_code,
        ),
        # a message or a press in the private chat means they have not blocked the bot; a
        # chat-member update says so itself (below)
        in_private_chat=is_private(update) and update.my_chat_member is None,
        # and their conversation state there, for handlers/shared/flows.py: load_chat_state
        chat_id=update.effective_chat.id if update.effective_chat else None,
    )
    member_update = update.my_chat_member
    if member_update is not None and is_private(update):
        if member_update.new_chat_member.status == ChatMember.BANNED:  # they blocked the bot
            await mark_unreachable(context.session, person, now=context.now())
        elif member_update.new_chat_member.status == ChatMember.MEMBER:  # and unblocked it
            person.unreachable_since = None
            context.session.add(person)
    context.scope.acting, context.scope.acting_chosen = current, person.current_community_id
    context.scope.extra[_NO_MEMBERSHIP] = current is None
    default_locale = current[1].default_locale if current else settings.default_locale
    tz = ZoneInfo(current[1].timezone) if current else settings.tz
    locale = person.locale or locale_for_language_code(user.language_code, default_locale)
    context.scope.person = person
    context.scope.translator = context.notebook.i18n.translator(locale, tz)


def _acting_as_read(context: NotebookContext) -> tuple[Membership, Community] | None:
    """What `load_person` read, unless this update has since changed it (joined, switched,
    left)."""
    scope = context.scope
    cached = scope.acting
    if cached is None or not cached[0].active or scope.person is None:
        return None
    return cached if scope.person.current_community_id == scope.acting_chosen else None


async def acting_in(context: NotebookContext) -> tuple[Membership, Community] | None:
    """The sender's membership and the community they act in (storage.people.current_membership)."""
    scope = context.scope
    if (
        scope.extra.get(_NO_MEMBERSHIP)
        and scope.person is not None
        and scope.person.current_community_id is None
    ):
        # `load_person` found none (a first contact, most often), and nothing has joined them
        # since: joining makes the community their chosen one
        return None
    return _acting_as_read(context) or await current_membership(context.session, context.person)


async def membership_in(context: NotebookContext, community_id: int) -> Membership | None:
    """The sender's active membership in `community_id`: rights are checked on every press, and
    most presses are in the community the sender acts in, which `load_person` already read."""
    cached = _acting_as_read(context)
    if cached is not None and cached[0].community_id == community_id:
        return cached[0]
    return await membership(
        context.session, person_id=context.person.id or 0, community_id=community_id
    )


def is_private(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == "private"
