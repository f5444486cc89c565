"""The error handler: undo the update's writes, log, and tell the person in plain words.

An update that failed is tried again (bot/app.py, storage/inbox.py): the person hears once that
their message is kept and will be handled, and once more only if it is given up on. A failure of
the database's own (it is down or locked) says nothing: the update simply waits for it.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden

from runtime.context import CURRENT_SCOPE, NotebookContext
from storage.faults import describe, is_database_fault
from storage.inbox import MAX_ATTEMPTS
from storage.people import mark_unreachable

log = logging.getLogger(__name__)


async def on_error(update: object, context: NotebookContext) -> None:
    scope = CURRENT_SCOPE.get(None)
    update_id = update.update_id if isinstance(update, Update) else None
    error = context.error
    if isinstance(error, Forbidden):
        # The person blocked the bot (or left the group) while we were answering: not a bug.
        # What the update changed stands; staff see the person as unreachable.
        if scope is not None and scope.person is not None:
            await mark_unreachable(scope.session, scope.person, now=context.now())
        log.info("update %s: could not answer, %s", update_id, error)
        return
    database = error is not None and is_database_fault(error)
    if scope is not None:
        scope.failed, scope.error = True, error
        # What it meant to send showed what is rolled back; a press is still answered, so
        # its button stops spinning.
        scope.answers = [a for a in scope.answers if a["method"] == "answercallbackquery"]
    if database:
        log.warning("update %s waits for the database: %s", update_id, describe(error))  # type: ignore[arg-type]
    else:
        log.error("update %s failed", update_id, exc_info=error)
    if scope is not None:
        await scope.session.rollback()
    if database or scope is None:
        return
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    _ = context.tr.gettext
    if scope.attempts == 0:
        text = _(
            "Sorry, something went wrong on our side. Your message is kept and we will try "
            "again shortly."
        )
    elif scope.attempts + 1 >= MAX_ATTEMPTS:
        text = _(
            "Sorry, we could not handle your message, even after several tries. Please try "
            "again later."
        )
    else:
        return
    await context.bot.send_message(update.effective_chat.id, text)
