"""/start: joining a community.

`/start <token>` redeems a deep link (secretary, worker, community or building link);
plain /start greets members, and lets newcomers pick their community with a button. A resident
who just joined is then asked about their home (handlers/residents/profile.py).
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from handlers.residents.menu import menu_keyboard
from handlers.residents.profile import after_join, redeem_home_code
from handlers.shared.commands import refresh_private_menu
from handlers.shared.common import escape, is_private
from handlers.shared.fallback import answer_stale
from handlers.shared.labels import role_label
from runtime.buttons import Button
from runtime.context import NotebookContext
from storage.communities import (
    LinkRaceLost,
    RedeemOutcome,
    join_community,
    list_communities,
    redeem_invite,
)
from storage.households import LINK_PREFIX, Refusal
from storage.models import STAFF_ROLES, Community, Role
from storage.people import current_membership

JOIN = Button("start.join", int)  # the community chosen


async def start(update: Update, context: NotebookContext) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    if not is_private(update):
        await message.reply_text(_("Please talk to me in a private chat."))
        return
    if context.args and context.args[0].startswith(LINK_PREFIX):  # a printed household code
        if isinstance(await redeem_home_code(context, message.chat_id, context.args[0]), Refusal):
            await message.reply_text(
                _(
                    "This household code does not work (unknown or already used). Please ask "
                    "the community office for another."
                )
            )
        return
    if context.args:
        await redeem(update, context, context.args[0])
        return
    current = await current_membership(context.session, context.person)
    if current is None:
        await greet_newcomer(update, context)
        return
    await message.reply_text(
        greeting_text(context, current[1]), reply_markup=menu_keyboard(context.tr)
    )
    if Role(current[0].role) in STAFF_ROLES:  # their menu, set here once they opened the chat
        await refresh_private_menu(context, context.person)


def greeting_text(context: NotebookContext, community: Community) -> str:
    """/start for a member: at most five short lines, the menu below does the rest."""
    _ = context.tr.gettext
    return "\n".join(
        [
            _("Hello! This is the notebook of {community}.").format(
                community=escape(community.name)
            ),
            _("Something wrong? Just write to me, or send a photo or a voice message."),
            _("Or use the buttons below."),
            _("/help: everything else I can do"),
        ]
    )


async def greet_newcomer(update: Update, context: NotebookContext) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    communities = await list_communities(context.session)
    if not communities:
        await message.reply_text(
            _("No community uses this notebook yet. Please ask your community office for a link.")
        )
        return
    buttons = [
        [InlineKeyboardButton(c.name, callback_data=JOIN.data(c.id or 0))] for c in communities[:50]
    ]
    await message.reply_text(
        _("Welcome! I am the community notebook. Which community do you live in?"),
        reply_markup=InlineKeyboardMarkup(buttons),
    )


async def redeem(update: Update, context: NotebookContext, token: str) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            result = await redeem_invite(
                context.session, token=token[:64], person=context.person, now=context.now()
            )
    except LinkRaceLost:
        result = None
    if result is None or result.outcome is RedeemOutcome.USED:
        await message.reply_text(
            _("This invitation has already been used. Please ask for a new one.")
        )
        return
    if result.outcome is RedeemOutcome.UNKNOWN:
        await message.reply_text(_("I do not know this link. Please check it, or send /start."))
        return
    if result.outcome is RedeemOutcome.EXPIRED:
        await message.reply_text(_("This invitation has expired. Please ask for a new one."))
        return
    if result.outcome is RedeemOutcome.REVOKED:
        await message.reply_text(_("This invitation was withdrawn. Please ask for a new one."))
        return
    assert result.community is not None and result.membership is not None
    await message.reply_text(
        welcome_text(context, result.community, result.membership.role),
        reply_markup=menu_keyboard(context.tr),
    )
    if Role(result.membership.role) in STAFF_ROLES:  # their private chat's menu follows
        await refresh_private_menu(context, context.person)
    await after_join(
        context, message.chat_id, result.membership, new=result.outcome is RedeemOutcome.JOINED
    )


def welcome_text(context: NotebookContext, community: Community, role: str) -> str:
    _ = context.tr.gettext
    name = escape(community.name)
    if Role(role) is Role.RESIDENT:
        return _(
            "Welcome to {community}! Whenever something is wrong, just write to me, "
            "send a photo or a voice message."
        ).format(community=name)
    text = _("Welcome to {community}. You are now {role}.").format(
        community=name, role=role_label(context.tr, role)
    )
    if Role(role) is Role.SECRETARY:
        text += "\n" + _("Send /invite to get links for your workers and residents.")
    return text


async def join_chosen(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    (community_id,) = JOIN.values(update)
    community = await context.session.get(Community, community_id)
    if community is None:
        await answer_stale(query, context)
        return
    result = await join_community(context.session, person=context.person, community=community)
    assert result.membership is not None
    await query.answer()
    await query.edit_message_text(welcome_text(context, community, result.membership.role))
    chat_id = query.message.chat.id if query.message else context.person.telegram_user_id
    assert chat_id is not None
    await after_join(
        context, chat_id, result.membership, new=result.outcome is RedeemOutcome.JOINED
    )


HANDLERS = [
    CommandHandler("start", start),
    JOIN.handler(join_chosen),
]
