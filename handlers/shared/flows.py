"""Typed answers inside a multi-step flow (a topic being proposed, minutes being typed…).

The conversation state is a `chat_state` row (storage/chat_state.py), never memory. This module
loads it once per update, before any feature runs (`load_chat_state`, its own handler group), so
that `AwaitedInput` can claim a private text or document only when the sender's state belongs to
one of its flows; everyone else's messages go on to the other handlers untouched. A restart
mid-flow loses nothing: the next message finds the row again.

A flow waits only so long (`max_age`): someone who voted and never answered "any concerns?"
must not have next week's message about a broken light taken as their concerns.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime, timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler

from runtime.buttons import Button
from runtime.context import CURRENT_SCOPE, NotebookContext
from runtime.i18n import Translator
from storage.chat_state import FlowState, clear_state, get_state, set_state

STATE_KEY = "chat_state"
NOW_KEY = "chat_state_read_at"
CANCEL = Button("flow.cancel")  # any open typed-answer flow

Callback = Callable[[Update, NotebookContext], Coroutine[Any, Any, None]]


async def load_chat_state(update: object, context: NotebookContext) -> None:
    """Runs before the features: remember this sender's conversation state for the update."""
    if not isinstance(update, Update):
        return
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return
    context.scope.extra[STATE_KEY] = await get_state(
        context.session, chat_id=chat.id, user_id=user.id
    )
    context.scope.extra[NOW_KEY] = context.now()


EXPIRY: dict[str, timedelta] = {}  # flow -> how long its AwaitedInput waits for an answer


def expired(state: FlowState, now: datetime) -> bool:
    """A typed-answer flow nobody answered in time: the next message is about something else."""
    max_age = EXPIRY.get(state.flow)
    return max_age is not None and now - state.updated_at > max_age


def current_state(context: NotebookContext) -> FlowState | None:
    state = context.scope.extra.get(STATE_KEY)
    return state if isinstance(state, FlowState) else None


class AwaitedInput(BaseHandler[Update, NotebookContext, None]):
    """A private message (text that is not a command, or a document) from someone whose flow
    is one of `flows` and was last answered within `max_age`. Commands always go to their own
    handlers."""

    def __init__(self, flows: Iterable[str], callback: Callback, *, max_age: timedelta) -> None:
        super().__init__(callback)
        self.flows = frozenset(flows)
        self.max_age = max_age
        for flow in self.flows:
            EXPIRY[flow] = max_age

    def check_update(self, update: object) -> bool:
        if not isinstance(update, Update) or update.message is None:
            return False
        message = update.message
        if message.chat.type != "private":
            return False
        if message.text is None and message.document is None:
            return False
        if message.text is not None and message.text.startswith("/"):
            return False
        scope = CURRENT_SCOPE.get(None)
        if scope is None:
            return False
        state, now = scope.extra.get(STATE_KEY), scope.extra.get(NOW_KEY)
        if not isinstance(state, FlowState) or state.flow not in self.flows:
            return False
        return isinstance(now, datetime) and now - state.updated_at <= self.max_age


def flow_input(
    callback: Callback,
) -> Callable[[Update, NotebookContext, FlowState], Coroutine[Any, Any, None]]:
    """The same answer handler with a central router's (update, context, state) signature, for
    a router that looks the state up itself instead of `AwaitedInput`."""

    async def handle(update: Update, context: NotebookContext, state: FlowState) -> None:
        context.scope.extra[STATE_KEY] = state
        await callback(update, context)

    return handle


async def ask(
    context: NotebookContext, chat_id: int, *, flow: str, step: str, data: dict[str, Any]
) -> None:
    """Remember that `flow` now waits at `step` in this private chat."""
    await set_state(
        context.session,
        chat_id=chat_id,
        user_id=context.person.telegram_user_id or chat_id,
        flow=flow,
        step=step,
        data=data,
        now=context.now(),
    )


async def finish(context: NotebookContext, chat_id: int) -> None:
    await clear_state(
        context.session, chat_id=chat_id, user_id=context.person.telegram_user_id or chat_id
    )


async def state_in(
    context: NotebookContext, chat_id: int, flow: str, *steps: str
) -> FlowState | None:
    """The sender's state if it is `flow` (at one of `steps`, when given): buttons of a flow
    check it, so a press on an old message cannot jump into the middle of another flow."""
    state = await get_state(
        context.session, chat_id=chat_id, user_id=context.person.telegram_user_id or chat_id
    )
    if state is None or state.flow != flow or (steps and state.step not in steps):
        return None
    return state


def cancel_row(tr: Translator) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(tr.gettext("Cancel"), callback_data=CANCEL.data())]


def cancel_markup(tr: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([cancel_row(tr)])


async def on_cancel(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    await finish(context, query.message.chat.id)
    await query.answer()
    await query.edit_message_text(_("Cancelled."))


HANDLERS = [CANCEL.handler(on_cancel)]
