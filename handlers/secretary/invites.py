"""/invite: the secretary's links: a single-use one per new worker, a reusable one for residents.

The menu also lists the links that still let someone in, each with a button to withdraw it
(storage/turnover.py: `active_invites`, `revoke_invite`).
"""

from __future__ import annotations

from datetime import timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from handlers.shared.common import deep_link, escape
from handlers.shared.fallback import answer_stale
from handlers.shared.formats import short_day
from handlers.shared.offices import SECRETARY, community_as, private_command_as
from runtime.buttons import Button
from runtime.context import NotebookContext
from storage.communities import create_invite
from storage.models import Building, Community, InviteLink, Role
from storage.turnover import active_invites, revoke_invite

KINDS = {"w": Role.WORKER, "r": Role.RESIDENT}
MAKE = Button("inv.make", tuple(KINDS))  # a new link for a worker or for residents
REVOKE = Button("inv.revoke", int)  # withdraw the link with this id


async def invite_menu(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    asked = await private_command_as(
        update, context, SECRETARY, _("Only the community secretary can make invitations.")
    )
    if asked is None:
        return
    message, community = asked
    await message.reply_text(
        _("Whom do you want to invite to {community}?").format(community=escape(community.name)),
        reply_markup=await menu_markup(context, community),
    )


async def _link_label(context: NotebookContext, link: InviteLink) -> str:
    """What the link is, in words a secretary recognises: whom it lets in (the building of a
    poster's link), when it was made, how often it was used or until when it works."""
    _ = context.tr.gettext
    made = short_day(context.tr, link.created_at)
    if link.expires_at is not None:
        return _("Withdraw the new worker's link (made {made}, valid until {until})").format(
            made=made, until=context.tr.datetime(link.expires_at, "short")
        )
    if Role(link.role) is Role.RESIDENT:
        building = (
            await context.session.get(Building, link.building_id) if link.building_id else None
        )
        if building is not None:
            return _(
                "Withdraw the residents' link for {building} (made {made}, used {count}×)"
            ).format(building=building.name, made=made, count=link.use_count)
        return _(
            "Withdraw the residents' link for the whole community (made {made}, used {count}×)"
        ).format(made=made, count=link.use_count)
    return _("Withdraw the link made {made} (used {count}×)").format(
        made=made, count=link.use_count
    )


async def menu_markup(context: NotebookContext, community: Community) -> InlineKeyboardMarkup:
    _ = context.tr.gettext
    assert community.id is not None
    rows = [
        [InlineKeyboardButton(_("A new community worker"), callback_data=MAKE.data("w"))],
        [InlineKeyboardButton(_("Residents"), callback_data=MAKE.data("r"))],
    ]
    for link in await active_invites(context.session, community_id=community.id, now=context.now()):
        rows.append(
            [
                InlineKeyboardButton(
                    await _link_label(context, link), callback_data=REVOKE.data(link.id or 0)
                )
            ]
        )
    return InlineKeyboardMarkup(rows)


async def withdraw_link(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    community = await community_as(context, SECRETARY)
    (link_id,) = REVOKE.values(update)
    if community is None or community.id is None:
        await query.answer(_("Only the community secretary can make invitations."), show_alert=True)
        return
    link = await revoke_invite(
        context.session, community_id=community.id, link_id=link_id, now=context.now()
    )
    if link is None:
        await answer_stale(query, context)
        return
    await query.answer(_("Link withdrawn. It no longer lets anyone in."))
    await query.edit_message_reply_markup(reply_markup=await menu_markup(context, community))


async def make_invite(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    (kind,) = MAKE.values(update)
    role = KINDS[kind]
    community = await community_as(context, SECRETARY)
    if community is None or community.id is None:
        await query.answer(_("Only the community secretary can make invitations."), show_alert=True)
        return
    settings = context.notebook.settings
    ttl = timedelta(hours=settings.invite_ttl_hours) if role is Role.WORKER else None
    link = await create_invite(
        context.session,
        community_id=community.id,
        role=role,
        now=context.now(),
        created_by_id=context.person.id,
        ttl=ttl,
    )
    url = deep_link(context.bot.username, link.token)
    await query.answer()
    if role is Role.WORKER:
        assert link.expires_at is not None
        text = _(
            "Send this link to the new worker. It works once, until {expires}:\n{link}"
        ).format(expires=context.tr.datetime(link.expires_at, "short"), link=url)
    else:
        text = _("Residents join {community} with this link:\n{link}").format(
            community=escape(community.name), link=url
        )
    assert query.message is not None
    await context.bot.send_message(query.message.chat.id, text)


HANDLERS = [
    CommandHandler("invite", invite_menu),
    REVOKE.handler(withdraw_link),
    MAKE.handler(make_invite),
]
