"""/language: the person picks the language the bot speaks (stored; wins over Telegram's)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from handlers.shared.labels import LANGUAGE_NAMES
from runtime.context import NotebookContext
from runtime.settings import SUPPORTED_LOCALES
from storage.people import set_locale

PREFIX = "lang:"


def language_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(LANGUAGE_NAMES[loc], callback_data=PREFIX + loc)]
            for loc in SUPPORTED_LOCALES
        ]
    )


async def ask_language(update: Update, context: NotebookContext) -> None:
    assert update.effective_message is not None
    _ = context.tr.gettext
    await update.effective_message.reply_text(
        _("Which language should I use?"), reply_markup=language_keyboard()
    )


async def choose_language(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    locale = query.data.removeprefix(PREFIX)
    if locale not in SUPPORTED_LOCALES:
        await query.answer(context.tr.gettext("This button is no longer valid."), show_alert=True)
        return
    await set_locale(context.session, context.person, locale)
    # saved before answering: the person's next tap may reach another instance
    tr = context.notebook.i18n.translator(locale, context.tr.tz)
    context.scope.translator = tr
    await query.answer()
    await query.edit_message_text(
        tr.gettext("I will speak {language} with you from now on.").format(
            language=LANGUAGE_NAMES[locale]
        )
    )


HANDLERS = [
    CommandHandler("language", ask_language),
    CallbackQueryHandler(choose_language, pattern=f"^{PREFIX}"),
]
