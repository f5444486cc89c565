"""/language: the person picks the language the bot speaks (stored; wins over Telegram's)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from handlers.shared.labels import LANGUAGE_NAMES
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.settings import SUPPORTED_LOCALES
from storage.people import set_locale

CHOOSE = Button("lang.choose", tuple(SUPPORTED_LOCALES))


def language_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(LANGUAGE_NAMES[loc], callback_data=CHOOSE.data(loc))]
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
    assert query is not None
    (locale,) = CHOOSE.values(update)
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
    CHOOSE.handler(choose_language),
]
