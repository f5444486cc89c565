"""The issue card's information buttons (cards.INFO): the full text, the photos, where the
resident said it is (a map pin), and the reporter's phone number (each look at it is logged);
and "More…" (cards.MORE), which turns the card's buttons to their next page. Only the
community's staff may press them (cards.card_access)."""

from __future__ import annotations

from telegram import InputMediaPhoto, ReplyParameters, Update

from handlers.shared.common import escape
from handlers.shared.fallback import STALE
from handlers.shared.fitting import telegram_length
from handlers.staff.cards import CHUNK, INFO, MORE, card_access, community_translator, render_card
from runtime.context import NotebookContext
from storage.models import Issue, Person
from storage.staff import card_facts, media_of, record_contact_shown

MEDIA_GROUP_SIZE = 10  # Telegram sends at most ten photos in one album


def split_for_messages(text: str, limit: int = CHUNK) -> list[str]:
    """Pieces of at most `limit` UTF-16 units (Telegram counts those), so every piece fits a
    message with its header. Broken at a line end where possible (the newline is dropped), else
    before a space (kept at the start of the next piece), so nothing typed is lost."""
    pieces: list[str] = []
    rest = text.strip()
    while rest:
        if telegram_length(rest) <= limit:
            pieces.append(rest)
            break
        end, units = 0, 0
        while end < len(rest) and units + telegram_length(rest[end]) <= limit:
            units += telegram_length(rest[end])
            end += 1
        newline = rest.rfind("\n", 0, end)
        space = rest.rfind(" ", 0, end)
        if newline > end // 2:
            pieces.append(rest[:newline])
            rest = rest[newline + 1 :]
        elif space > end // 2:
            pieces.append(rest[:space])
            rest = rest[space:]
        else:
            pieces.append(rest[:end])
            rest = rest[end:]
    return pieces


async def on_info(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    issue_id, what = INFO.values(update)
    access = await card_access(update, context, issue_id)
    if access is None:
        await query.answer(
            context.tr.gettext("Only the community's staff can use this button."), show_alert=True
        )
        return
    issue = access.issue
    chat_id = query.message.chat.id
    if what == "contact":
        await show_contact(update, context, issue)
        return
    await query.answer()
    if what == "text":
        await send_full_text(context, chat_id, issue)
    elif what == "where":
        await send_location(context, chat_id, issue, card_message_id=query.message.message_id)
    else:
        await send_media(context, chat_id, issue)


async def show_contact(update: Update, context: NotebookContext, issue: Issue) -> None:
    """The phone number, in an alert only the presser sees; the look is logged."""
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    reporter = await context.session.get(Person, issue.reporter_id) if issue.reporter_id else None
    if reporter is None or not reporter.phone:
        await query.answer(_("No phone number is known for this issue."), show_alert=True)
        return
    assert context.person.id is not None
    await record_contact_shown(
        context.session, issue, actor_id=context.person.id, now=context.now()
    )
    # An alert is plain text (no HTML), at most 200 characters.
    text = _("No. {number}: {name}, phone {phone}").format(
        number=issue.number, name=reporter.full_name[:60], phone=reporter.phone[:40]
    )
    await query.answer(text[:200], show_alert=True)


async def send_full_text(context: NotebookContext, chat_id: int, issue: Issue) -> None:
    _ = context.tr.gettext
    pieces = split_for_messages(issue.description)
    for index, piece in enumerate(pieces, start=1):
        header = _("No. {number}, full text ({part}/{parts}):").format(
            number=issue.number, part=index, parts=len(pieces)
        )
        await context.bot.send_message(chat_id, f"<b>{header}</b>\n{escape(piece)}")


async def send_location(
    context: NotebookContext, chat_id: int, issue: Issue, *, card_message_id: int
) -> None:
    """Where the resident said the problem is: a map pin, as a reply to the card it belongs to."""
    if issue.latitude is None or issue.longitude is None:
        return
    await context.bot.send_location(
        chat_id,
        issue.latitude,
        issue.longitude,
        reply_parameters=ReplyParameters(card_message_id, allow_sending_without_reply=True),
    )


async def send_media(context: NotebookContext, chat_id: int, issue: Issue) -> None:
    """The issue's photos as albums of up to ten, then its voice messages and documents."""
    _ = context.tr.gettext
    media = await media_of(context.session, issue)
    caption = _("No. {number}").format(number=issue.number)
    photos = [a.telegram_file_id for a in media if a.kind == "photo" and a.telegram_file_id]
    for start in range(0, len(photos), MEDIA_GROUP_SIZE):
        batch = photos[start : start + MEDIA_GROUP_SIZE]
        if len(batch) == 1:
            await context.bot.send_photo(chat_id, batch[0], caption=caption)
        else:
            await context.bot.send_media_group(
                chat_id,
                [
                    InputMediaPhoto(f, caption=caption if i == 0 else None)
                    for i, f in enumerate(batch)
                ],
            )
    for attachment in media:
        if attachment.telegram_file_id is None:
            continue
        if attachment.kind == "voice":
            await context.bot.send_voice(chat_id, attachment.telegram_file_id, caption=caption)
        elif attachment.kind == "document":
            await context.bot.send_document(chat_id, attachment.telegram_file_id, caption=caption)


async def on_more(update: Update, context: NotebookContext) -> None:
    """Another page of the card's buttons, on the card itself (the text stays as it is)."""
    query = update.callback_query
    assert query is not None and query.message is not None
    issue_id, page = MORE.values(update)
    access = await card_access(update, context, issue_id)
    if access is None:
        await query.answer(
            context.tr.gettext("Only the community's staff can use this button."), show_alert=True
        )
        return
    if query.message.message_id != access.issue.staff_message_id:
        await query.answer(context.tr.gettext(STALE), show_alert=True)  # not the card
        return
    facts = await card_facts(context.session, access.issue)
    tr = community_translator(context.notebook, access.community)
    _text, markup = render_card(facts, tr, context.now(), page)
    await query.answer()
    await query.edit_message_reply_markup(markup)


HANDLERS = [INFO.handler(on_info), MORE.handler(on_more)]
