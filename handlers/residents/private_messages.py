"""Everything a person sends in a private chat that is not a command, and /cancel.

One place decides where a message goes, in this order: words or a file while a typed flow is open
(a council question, the desk…) answer it; input no feature can use (stickers,
contacts outside the phone question, odd documents…) gets a friendly hint; a reply to a bot
message about an issue adds to that issue; a message while a flow is open answers that flow
(handlers/shared/flows.py: every feature's `Flow`, registered by the application factory);
a photo, voice message or location starts a report with it; words start one only when they
read like one (handlers/residents/menu.py). A tap on the menu under the chat comes first.
"""

from __future__ import annotations

import logging

from telegram import ReplyKeyboardRemove, Update
from telegram.ext import CommandHandler, MessageHandler, filters

from handlers.residents import followup, menu, my_issues, profile, report, report_content
from handlers.shared import flows
from handlers.shared.common import acting_in, is_private
from runtime.context import NotebookContext
from storage.chat_state import clear_state
from storage.reports import FLOW as REPORT_FLOW

log = logging.getLogger(__name__)

FLOWS = [
    flows.Flow(REPORT_FLOW, report.on_input),
    flows.Flow(profile.FLOW, profile.on_input),
    flows.Flow(my_issues.WITHDRAW_FLOW, my_issues.on_reason_text),
    flows.Flow(followup.FLOW, followup.on_comment),
    *menu.FLOWS,
]


async def on_private_message(update: Update, context: NotebookContext) -> None:
    message = update.effective_message
    if message is None or context.scope.person is None:
        return
    _ = context.tr.gettext
    choice = menu.menu_choice(context, message.text)
    if choice is not None:  # a tap on the menu under the chat wins over any question
        await menu.on_menu(update, context, choice)
        return
    # a flow left unanswered past its time is closed here: this message is about something new
    found = await flows.open_flow(context, message.chat_id)
    state, flow = found if found is not None else (None, None)
    if flow is not None and flow.typed and (message.text is not None or message.document):
        await flow.answer(update, context)  # words or a file for a council, desk… question
        return
    awaiting_phone = (
        state is not None and state.flow == profile.FLOW and state.step == profile.PHONE
    )
    if message.sticker is not None:
        await message.reply_text(
            _("I cannot read stickers. Please write in words, or send a voice message or a photo.")
        )
        return
    if message.contact is not None and not awaiting_phone:
        await message.reply_text(
            _(
                "I cannot use a contact card here. "
                "To give the community your phone number, send /profile."
            )
        )
        return
    if message.document is not None and not report_content.is_image_document(message):
        await message.reply_text(
            _(
                "I cannot open this kind of file. "
                "Please send a photo, a voice message or a few words."
            )
        )
        return
    if not (report_content.has_report_content(message) or message.contact is not None):
        await message.reply_text(
            _("I can read words, photos, voice messages and locations. Please send one of those.")
        )
        return
    issue = await my_issues.issue_replied_to(context, message)
    answering_followup = (
        state is not None
        and state.flow == followup.FLOW
        and issue is not None
        and state.data.get("issue_id") == issue.id
    )
    if issue is not None and not answering_followup:
        await my_issues.add_info(update, context, issue)
        return
    if state is not None:
        if flow is None or flow.typed:  # a typed flow waits for words, not this
            if flow is None:
                log.warning("no flow registered as %r", state.flow)
            await message.reply_text(_("Send /cancel to stop what we were doing."))
            return
        await flow.answer(update, context)
        return
    if message.text is not None and not report_content.has_media(message):
        await menu.on_words(update, context)  # a report only when it reads like one
        return
    await report.start_from_message(update, context)


async def cancel(update: Update, context: NotebookContext) -> None:
    """/cancel leaves any flow, and says so (and takes away the phone keyboard, if shown)."""
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    user_id = context.person.telegram_user_id or message.chat_id
    if await clear_state(context.session, chat_id=message.chat_id, user_id=user_id):
        text = _("Stopped. Nothing was sent. Just write to me whenever you need.")
    else:
        text = _("There is nothing to stop.")
    # the phone question's keyboard, if shown, makes way for the menu
    joined = is_private(update) and await acting_in(context) is not None
    keyboard = menu.menu_keyboard(context.tr) if joined else ReplyKeyboardRemove()
    await message.reply_text(text, reply_markup=keyboard)


HANDLERS = [
    CommandHandler("cancel", cancel),
    MessageHandler(
        filters.ChatType.PRIVATE
        & filters.UpdateType.MESSAGE
        & ~filters.COMMAND
        & ~filters.StatusUpdate.ALL,
        on_private_message,
    ),
]
