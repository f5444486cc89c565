"""The error handler: undo the update's writes, log, and tell the person in plain words."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, TelegramError

from bot.context import CURRENT_SCOPE, NotebookContext

log = logging.getLogger(__name__)


async def on_error(update: object, context: NotebookContext) -> None:
    scope = CURRENT_SCOPE.get(None)
    if scope is not None:
        await scope.session.rollback()
        scope.failed = True
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("update %s failed", update_id, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if isinstance(context.error, Forbidden):
        return
    _ = context.tr.gettext
    try:
        await context.bot.send_message(
            update.effective_chat.id,
            _("Sorry, something went wrong on our side. Please try again in a moment."),
        )
    except TelegramError:
        log.warning("could not tell chat %s about the error", update.effective_chat.id)
