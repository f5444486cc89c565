"""/poster: staff get a printable poster for a building (PNG and PDF, in Chinese) whose QR
code is the building's deep link: a resident who scans it joins that building."""

from __future__ import annotations

import asyncio

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import CommandHandler

from handlers.shared.common import deep_link, escape
from handlers.shared.members import private_only
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import Translator
from runtime.posters import PosterText, render_pdf, render_png
from storage.models import STAFF_ROLES, Building, Community, Role
from storage.people import current_membership
from storage.residents import building_link, buildings_of

POSTER = Button("poster.make", int)  # the building's id
POSTER_LOCALE = "zh_Hans"  # stairwell posters are for residents, in Chinese


async def _staff_community(context: NotebookContext) -> Community | None:
    current = await current_membership(context.session, context.person)
    if current is None or Role(current[0].role) not in STAFF_ROLES:
        return None
    return current[1]


async def poster_menu(update: Update, context: NotebookContext) -> None:
    if not await private_only(update, context):
        return
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    community = await _staff_community(context)
    if community is None or community.id is None:
        await message.reply_text(_("Only community staff can print posters."))
        return
    buildings = await buildings_of(context.session, community.id)
    if not buildings:
        await message.reply_text(
            _("{community} has no buildings yet.").format(community=escape(community.name))
        )
        return
    buttons = [
        InlineKeyboardButton(b.name, callback_data=POSTER.data(b.id))
        for b in buildings[:90]
        if b.id is not None
    ]
    await message.reply_text(
        _("Which building is the poster for?"),
        reply_markup=InlineKeyboardMarkup([buttons[i : i + 3] for i in range(0, len(buttons), 3)]),
    )


def without_telegram(zh: Translator, phone: str) -> str:
    """The poster's line for neighbours without Telegram (many elderly residents)."""
    if phone:
        return zh.gettext("No Telegram? Call {phone}, or come to the service desk.").format(
            phone=phone
        )
    return zh.gettext("No Telegram? Come to the service desk at the community office.")


async def make_poster(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    (building_id,) = POSTER.values(update)
    community = await _staff_community(context)
    building = await context.session.get(Building, building_id)
    if community is None or building is None or building.community_id != community.id:
        await query.answer(_("Only community staff can print posters."), show_alert=True)
        return
    assert community.id is not None and building.id is not None
    link = await building_link(
        context.session,
        community_id=community.id,
        building_id=building.id,
        now=context.now(),
        created_by_id=context.person.id,
    )

    await query.answer()
    url = deep_link(context.bot.username, link.token)
    zh = context.notebook.i18n.translator(POSTER_LOCALE, context.tr.tz)
    phone = context.notebook.settings.office_phone.strip()
    text = PosterText(
        community=community.name,
        building=building.name,
        call_to_action=zh.gettext("Scan the code with your phone to join the community notebook"),
        lines=(
            zh.gettext("Stairwell light broken? Drains blocked? Noise at night?"),
            zh.gettext("Just write, send a photo or a voice message."),
            zh.gettext("The community answers, and tells you every step."),
            without_telegram(zh, phone),
        ),
        link=url,
    )
    png, pdf = await asyncio.gather(
        asyncio.to_thread(render_png, text), asyncio.to_thread(render_pdf, text)
    )
    chat_id = query.message.chat.id if query.message else context.person.telegram_user_id
    assert chat_id is not None
    caption = _("Poster for {building}: print it and put it up in the stairwell.\n{link}").format(
        building=escape(building.name), link=url
    )
    if not phone:  # the poster can only send people without Telegram to the desk
        caption += "\n" + _("Set OFFICE_PHONE, and posters give a number to call.")
    await context.bot.send_document(
        chat_id, InputFile(png, filename=f"poster-{building.id}.png"), caption=caption
    )
    await context.bot.send_document(chat_id, InputFile(pdf, filename=f"poster-{building.id}.pdf"))


HANDLERS = [
    CommandHandler("poster", poster_menu),
    POSTER.handler(make_poster),
]
