"""Last in line: answer what no feature took, so nobody is left without a word.

A button nobody handles (stale, from an old version, or forged: runtime/buttons.py lets only
data of a button's exact shape reach its handler) gets an alert that says what to do next; an
unknown command in a private chat gets a pointer to /help. Registered last in group 0.
Features answer their own stale presses (a draft replaced, a question already answered) with
the same words, through `answer_stale`.
"""

from __future__ import annotations

from telegram import CallbackQuery, Update
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from runtime.context import NotebookContext
from runtime.i18n import N_

STALE = N_(
    "This button belongs to an older message. Please use the newest message, or send /start."
)


async def answer_stale(query: CallbackQuery, context: NotebookContext) -> None:
    """The press's answer when its button no longer means anything: where to go instead."""
    await query.answer(context.tr.gettext(STALE), show_alert=True)


async def stale_button(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    await answer_stale(query, context)


async def unknown_command(update: Update, context: NotebookContext) -> None:
    message = update.effective_message
    assert message is not None
    await message.reply_text(
        context.tr.gettext("I do not know that command. Send /help to see what I can do.")
    )


HANDLERS = [
    CallbackQueryHandler(stale_button),
    MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE, unknown_command),
]
