"""Flows: a conversation that waits for what a person sends next (a report being written, a
topic being proposed, minutes being typed…).

The one flow mechanism. A feature that waits for what a person sends next declares a `Flow`
(its name, its answer handler, how long it waits) in its module's FLOWS; the application factory
registers them all, and handlers/residents/private_messages.py routes every private message of a
person whose flow is open to that flow's handler. The state (flow, step, data) is a `chat_state`
row (storage/chat_state.py), never memory: `load_chat_state` reads it once per update, before any
feature runs, and a restart mid-flow loses nothing. Buttons of a flow check the step they belong
to (`state_in`), so a press on an old message cannot jump into the middle of another flow.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import Translator
from storage.chat_state import FlowState, clear_state, get_state, set_state

STATE_KEY = "chat_state"
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


@dataclass(frozen=True)
class Flow:
    """A conversation that waits for what a person sends next in their private chat.

    `name` is the chat_state row's flow; `answer` handles the next message (the state is
    `current_state(context)`). `max_age` is how long it waits: someone who voted and never
    answered "any concerns?" must not have next week's message about a broken light taken as
    their concerns (None: it waits until finished or cancelled). A `typed` flow takes any text
    or file itself, before the router's own checks (a reply to an issue, odd documents): its
    answers are words or a household list, not a report."""

    name: str
    answer: Callback
    max_age: timedelta | None = None
    typed: bool = False


# flow name -> its Flow; the application factory registers every feature's FLOWS (bot/app.py)
REGISTRY: dict[str, Flow] = {}


def register(*found: Flow) -> None:
    for flow in found:
        known = REGISTRY.setdefault(flow.name, flow)
        if known != flow:
            raise ValueError(f"two flows are named {flow.name!r}")


def current_state(context: NotebookContext) -> FlowState | None:
    state = context.scope.extra.get(STATE_KEY)
    return state if isinstance(state, FlowState) else None


async def open_flow(context: NotebookContext, chat_id: int) -> tuple[FlowState, Flow | None] | None:
    """The sender's open flow and its Flow (None for a flow no feature registers); a flow that
    waited longer than its `max_age` is closed first, and then there is none."""
    state = current_state(context)
    if state is None:
        return None
    flow = REGISTRY.get(state.flow)
    waited = context.now() - state.updated_at
    if flow is not None and flow.max_age is not None and waited > flow.max_age:
        await finish(context, chat_id)
        context.scope.extra[STATE_KEY] = None
        return None
    return state, flow


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
