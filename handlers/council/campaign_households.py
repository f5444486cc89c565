"""Consent campaigns, staff: entering the households (typed lines or a CSV file; bad lines are
reported, good ones kept) and the list of households with their votes.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.council.campaign_common import (
    ADD,
    CHANNEL_LABELS,
    CSV,
    FLOW,
    HOUSEHOLDS,
    Step,
    choice_label,
    m2,
    open_button,
    staff_campaign,
)
from handlers.council.guards import staff_answer, staff_press
from handlers.shared.fitting import short
from handlers.shared.flows import (
    ask,
    cancel_markup,
)
from handlers.shared.members import (
    fit,
    refuse,
)
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import N_, Translator
from storage import consent, households
from storage.chat_state import FlowState
from storage.consent import ConsentError
from storage.households import ParsedRows
from storage.models import (
    CampaignStatus,
    Channel,
    ConsentCampaign,
)

PAGE = 25  # households per page of the list
CSV_MAX_BYTES = 1_000_000
BAD_REASONS = {
    households.BAD_NO_ROOM: N_("no room number"),
    households.BAD_ROOM_TOO_LONG: N_("room number too long"),
    households.BAD_AREA: N_("floor area is not a number of m² (up to two decimals)"),
    households.BAD_FLAG: N_("the last column must be yes or no (own space occupied)"),
    households.BAD_COLUMNS: N_("too many columns"),
    households.BAD_DUPLICATE: N_("this room appears twice"),
}
HOMES_PAGE = Button("camp.homespage", int, int)  # the campaign, the page
REMOVE = Button("camp.remove", int)  # take a household off the list (typed: its room)


def report_rows(tr: Translator, parsed: ParsedRows, saved: consent.Saved) -> str:
    _ = tr.gettext
    lines = [
        _("Saved: {added} households added, {updated} corrected.").format(
            added=saved.added, updated=saved.updated
        )
    ]
    if parsed.bad:
        lines.append(_("These lines were not taken; please correct and send them again:"))
        for bad in parsed.bad:
            lines.append(
                _("Line {line}: {text} ({reason})").format(
                    line=bad.line,
                    text=short(bad.text, 80),
                    reason=tr.gettext(BAD_REASONS.get(bad.reason, bad.reason)),
                )
            )
    return fit(lines, _("…and {count} more lines."))


async def _ask_households(
    update: Update, context: NotebookContext, button: Button, step: str, prompt: str
) -> None:
    """Wait for the households of the pressed campaign, typed (`step` "lines") or as a CSV
    file ("csv"), while voting has not closed."""
    query = update.callback_query
    assert query is not None and query.message is not None
    found = await staff_campaign(update, context, button)
    if found is None:
        return
    campaign = found[0]
    if campaign.status == CampaignStatus.CLOSED:
        await refuse(query, context, context.tr.gettext("Voting has closed."))
        return
    await ask(context, query.message.chat.id, flow=FLOW, step=step, data={"campaign": campaign.id})
    await query.answer()
    await context.bot.send_message(
        query.message.chat.id, prompt, reply_markup=cancel_markup(context.tr)
    )


async def on_add_households(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    prompt = _(
        "Send the households, one per line: room, owner, floor area in m², own space "
        "occupied (yes or no). Only the room is needed. For example:\n"
        "101, 许大爷, 60.5, yes\n102, 李阿姨, 75\n201"
    )
    await _ask_households(update, context, ADD, "lines", prompt)


async def on_csv(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    prompt = _(
        "Send the CSV file as a document. Columns: room, owner, floor area (m²), own space "
        "occupied (yes/no); a header line is fine. UTF-8 or GBK (Excel) both work."
    )
    await _ask_households(update, context, CSV, "csv", prompt)


async def _save_rows(
    update: Update, context: NotebookContext, campaign_id: int, parsed: ParsedRows
) -> None:
    message = update.message
    assert message is not None
    _ = context.tr.gettext
    found = await staff_answer(update, context, ConsentCampaign, campaign_id)
    if found is None:
        return
    campaign = found[0]
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            saved = await consent.save_households(
                context.session, campaign, parsed.rows, now=context.now()
            )
    except ConsentError:
        await message.reply_text(_("Voting has closed."))
        return
    await message.reply_text(
        report_rows(context.tr, parsed, saved), reply_markup=open_button(campaign, context.tr)
    )


async def read_csv(update: Update, context: NotebookContext, campaign_id: int) -> None:
    message = update.message
    assert message is not None and message.document is not None
    _ = context.tr.gettext
    document = message.document
    name = (document.file_name or "").lower()
    is_text = (document.mime_type or "").startswith("text/") or name.endswith((".csv", ".txt"))
    if not is_text:
        await message.reply_text(
            _("Please send a .csv file (in Excel: Save as, CSV)."),
            reply_markup=cancel_markup(context.tr),
        )
        return
    if (document.file_size or 0) > CSV_MAX_BYTES:
        await message.reply_text(_("The file is too large (at most 1 MB)."))
        return
    data = context.scope.files.get(document.file_unique_id)  # read before the transaction
    if data is None:
        await message.reply_text(_("The file is too large (at most 1 MB)."))
        return
    await _save_rows(update, context, campaign_id, households.parse_household_csv(data))


async def on_households(update: Update, context: NotebookContext) -> None:
    """The first page of the households, as a new message."""
    (campaign_id,) = HOUSEHOLDS.values(update)
    await _households_page(update, context, campaign_id, 0, editing=False)


async def on_households_page(update: Update, context: NotebookContext) -> None:
    """Another page, in place of the one shown."""
    campaign_id, page = HOMES_PAGE.values(update)
    await _households_page(update, context, campaign_id, page, editing=True)


async def _households_page(
    update: Update, context: NotebookContext, campaign_id: int, page: int, *, editing: bool
) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    found = await staff_press(update, context, ConsentCampaign, campaign_id)
    if found is None:
        return
    campaign = found[0]
    homes = await consent.households(context.session, campaign)
    pages = max(1, (len(homes) + PAGE - 1) // PAGE)
    page = min(max(page, 0), pages - 1)
    lines = [
        _("Households of vote #{id} ({page} of {pages}):").format(
            id=campaign.id, page=page + 1, pages=pages
        )
    ]
    for home in homes[page * PAGE : (page + 1) * PAGE]:
        line = _("{room} {owner} {area}{flag}: {choice}").format(
            room=short(home.room, 20),
            owner=short(home.owner_name or "", 20),
            area=m2(context.tr, households.from_dm2(home.area_dm2)),
            flag=" ⚑" if home.own_space_occupied else "",
            choice=choice_label(context.tr, home.choice),
        )
        if home.vote_channel:
            line += _(" ({channel})").format(
                channel=context.tr.gettext(CHANNEL_LABELS[Channel(home.vote_channel)])
            )
        if home.concerns:
            line += "\n   " + _("Concerns: {text}").format(text=short(home.concerns, 120))
        lines.append(line)
    if not homes:
        lines.append(_("No households yet."))
    lines.append(_("⚑ own space occupied: must agree themselves."))
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("◀", callback_data=HOMES_PAGE.data(campaign_id, page - 1)))
    if page < pages - 1:
        nav.append(InlineKeyboardButton("▶", callback_data=HOMES_PAGE.data(campaign_id, page + 1)))
    rows = [nav] if nav else []
    if homes and campaign.status != CampaignStatus.CLOSED:
        rows.append(
            [InlineKeyboardButton(_("Remove a household…"), callback_data=REMOVE.data(campaign_id))]
        )
        lines.append(_("To correct a household, send its line again with Add households."))
    markup = InlineKeyboardMarkup(rows) if rows else None
    text = fit(lines, _("…and {count} more lines."))
    await query.answer()
    if editing:
        await query.edit_message_text(text, reply_markup=markup)
    else:
        await context.bot.send_message(query.message.chat.id, text, reply_markup=markup)


async def on_lines_text(
    update: Update, context: NotebookContext, state: FlowState, text: str
) -> None:
    campaign_id = int(state.data["campaign"])
    await _save_rows(update, context, campaign_id, households.parse_household_lines(text))


async def on_remove(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    prompt = _(
        "Which room should be taken off the list? Type its number (for example 301). A household "
        "that has voted stays: correct it by sending its line again."
    )
    await _ask_households(update, context, REMOVE, "remove", prompt)


async def on_remove_text(
    update: Update, context: NotebookContext, state: FlowState, text: str
) -> None:
    message = update.message
    assert message is not None
    _ = context.tr.gettext
    found = await staff_answer(update, context, ConsentCampaign, int(state.data["campaign"]))
    if found is None:
        return
    campaign = found[0]
    room = households.normalise_room(text)
    if not any(h.room == room for h in await consent.households(context.session, campaign)):
        await message.reply_text(
            _("Room {room} is not on the list of vote #{id}.").format(
                room=short(text, 20), id=campaign.id
            ),
            reply_markup=open_button(campaign, context.tr),
        )
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            await consent.remove_household(context.session, campaign, room)
    except ConsentError:  # it has voted, or voting closed
        await message.reply_text(
            _(
                "Room {room} has voted (or voting has closed), so it stays. To correct it, send "
                "its line again with Add households."
            ).format(room=short(text, 20)),
            reply_markup=open_button(campaign, context.tr),
        )
        return
    await message.reply_text(
        _("Room {room} is taken off the list of vote #{id}.").format(
            room=short(text, 20), id=campaign.id
        ),
        reply_markup=open_button(campaign, context.tr),
    )


STEPS: dict[str, Step] = {"lines": on_lines_text, "csv": on_lines_text, "remove": on_remove_text}


HANDLERS = [
    ADD.handler(on_add_households),
    CSV.handler(on_csv),
    HOUSEHOLDS.handler(on_households),
    HOMES_PAGE.handler(on_households_page),
    REMOVE.handler(on_remove),
]
