"""/calendar: the community's calendar feed (council meetings, service-desk shifts) and the
worker's own (their shifts, meetings and due dates), as addresses a phone's calendar subscribes
to (storage/calendars.py; served by bot/feeds.py).

Staff only, in a private chat. Each address is a secret: "New address" revokes the old one
(the worker's own: any staff; the community's: the secretary). Every press checks the
presser's role in the community the button names.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from handlers.shared.common import escape
from handlers.shared.members import Member, me_in, refuse
from handlers.shared.offices import private_command_as
from runtime.buttons import Button
from runtime.context import NotebookContext
from storage import calendars
from storage.models import STAFF_ROLES

RENEW_MINE = Button("cal.mine", int)  # community
RENEW_SHARED = Button("cal.shared", int)  # community


def feed_url(context: NotebookContext, token: str) -> str:
    base = context.notebook.settings.public_url
    assert base is not None
    return f"{base}/calendar/{token}.ics"


async def _answer(context: NotebookContext, member: Member) -> tuple[str, InlineKeyboardMarkup]:
    _ = context.tr.gettext
    community_id = member.community_id
    assert context.person.id is not None
    shared = await calendars.feed_for(
        context.session, community_id=community_id, person_id=None, now=context.now()
    )
    own = await calendars.feed_for(
        context.session, community_id=community_id, person_id=context.person.id, now=context.now()
    )
    text = "\n\n".join(
        [
            _(
                "Calendars of {community}: add an address to your phone's calendar "
                "(subscribe to a calendar by its address). Keep them to yourself: whoever "
                "has an address can read that calendar."
            ).format(community=escape(member.community.name)),
            _("Council meetings and the service desk:") + "\n" + feed_url(context, shared.token),
            _("Your shifts, meetings and due dates:") + "\n" + feed_url(context, own.token),
        ]
    )
    rows = [
        [
            InlineKeyboardButton(
                _("New address for my calendar"), callback_data=RENEW_MINE.data(community_id)
            )
        ]
    ]
    if member.is_secretary:
        rows.append(
            [
                InlineKeyboardButton(
                    _("New address for the community's calendar"),
                    callback_data=RENEW_SHARED.data(community_id),
                )
            ]
        )
    return text, InlineKeyboardMarkup(rows)


def _unpublished(context: NotebookContext) -> str:
    return context.tr.gettext(
        "The calendars are not published yet: the operator sets PUBLIC_URL, the address "
        "the notebook is reached at (docs/operations.md)."
    )


async def calendar_command(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    asked = await private_command_as(
        update, context, STAFF_ROLES, _("The calendars are for the community's staff.")
    )
    if asked is None:
        return
    message, community = asked
    assert community.id is not None
    if context.notebook.settings.public_url is None:
        await message.reply_text(_unpublished(context))
        return
    member = await me_in(context, community.id)
    assert member is not None
    text, markup = await _answer(context, member)
    await message.reply_text(text, reply_markup=markup)


async def _renew(update: Update, context: NotebookContext, *, community_feed: bool) -> None:
    _ = context.tr.gettext
    query = update.callback_query
    assert query is not None and query.message is not None
    button = RENEW_SHARED if community_feed else RENEW_MINE
    (community_id,) = button.values(update)
    member = await me_in(context, community_id)
    allowed = member is not None and (member.is_secretary if community_feed else member.is_staff)
    if member is None or not allowed:
        await refuse(
            query,
            context,
            _("Only the secretary gives the community's calendar a new address.")
            if community_feed and member is not None and member.is_staff
            else _("The calendars are for the community's staff."),
        )
        return
    if context.notebook.settings.public_url is None:
        await query.answer(_unpublished(context), show_alert=True)
        return
    await calendars.renew(
        context.session,
        community_id=community_id,
        person_id=None if community_feed else context.person.id,
        now=context.now(),
    )
    text, markup = await _answer(context, member)
    await query.answer(_("New address made; the old one no longer works."))
    await query.edit_message_text(text, reply_markup=markup)


async def on_renew_mine(update: Update, context: NotebookContext) -> None:
    await _renew(update, context, community_feed=False)


async def on_renew_community(update: Update, context: NotebookContext) -> None:
    await _renew(update, context, community_feed=True)


HANDLERS = [
    CommandHandler("calendar", calendar_command),
    RENEW_MINE.handler(on_renew_mine),
    RENEW_SHARED.handler(on_renew_community),
]
