"""The error handler: undo the update's writes, log, and tell the person in plain words."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, TelegramError

from bot.context import CURRENT_SCOPE, NotebookContext
from storage.people import mark_unreachable

log = logging.getLogger(__name__)


async def on_error(update: object, context: NotebookContext) -> None:
    scope = CURRENT_SCOPE.get(None)
    update_id = update.update_id if isinstance(update, Update) else None
    if isinstance(context.error, Forbidden):
        # The person blocked the bot (or left the group) while we were answering: not a bug.
        # What the update changed stands; staff see the person as unreachable.
        if scope is not None and scope.person is not None:
            await mark_unreachable(scope.session, scope.person, now=context.now())
        log.info("update %s: could not answer, %s", update_id, context.error)
        return
    if scope is not None:
        await scope.session.rollback()
        scope.failed = True
    log.error("update %s failed", update_id, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    _ = context.tr.gettext
    try:
        await context.bot.send_message(
            update.effective_chat.id,
            _("Sorry, something went wrong on our side. Please try again in a moment."),
        )
    except TelegramError:
        log.warning("could not tell chat %s about the error", update.effective_chat.id)
