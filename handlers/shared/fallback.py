"""Last in line: answer what no feature took, so nobody is left without a word.

A button nobody handles (stale, from an old version, or forged) gets an alert; an unknown
command in a private chat gets a pointer to /help. Registered last in group 0.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from runtime.context import NotebookContext


async def stale_button(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(context.tr.gettext("This button is no longer valid."), show_alert=True)


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
