"""What the council's modules share to check who may act, and the start of a typed answer.

A staff press or a staff typed answer on a campaign, a meeting or a topic is taken only from
staff of that row's community; anyone else is refused in the same words everywhere.
"""

from __future__ import annotations

from typing import TypeVar

from telegram import Message, Update

from handlers.shared.flows import cancel_markup, current_state, finish
from handlers.shared.members import Member, me, me_in, private_only, refuse
from runtime.context import NotebookContext
from storage.chat_state import FlowState
from storage.models import ConsentCampaign, CouncilMeeting, CouncilTopic

Row = TypeVar("Row", ConsentCampaign, CouncilMeeting, CouncilTopic)


async def staff_of(
    context: NotebookContext, model: type[Row], row_id: int | None
) -> tuple[Row, Member] | None:
    """The row and the sender, if the sender is staff of the row's community."""
    row = await context.session.get(model, row_id) if row_id else None
    member = await me_in(context, row.community_id) if row is not None else None
    if row is None or member is None or not member.is_staff:
        return None
    return row, member


async def staff_press(
    update: Update, context: NotebookContext, model: type[Row], row_id: int | None
) -> tuple[Row, Member] | None:
    """`staff_of` for a button; anyone else gets an alert and nothing changes."""
    query = update.callback_query
    assert query is not None
    found = await staff_of(context, model, row_id)
    if found is None:
        await refuse(query, context, context.tr.gettext("Only community staff can do this."))
    return found


async def staff_answer(
    update: Update, context: NotebookContext, model: type[Row], row_id: int | None
) -> tuple[Row, Member] | None:
    """`staff_of` for the last typed answer of a step: the flow ends here either way."""
    message = update.message
    assert message is not None
    found = await staff_of(context, model, row_id)
    await finish(context, message.chat.id)
    if found is None:
        await message.reply_text(context.tr.gettext("Only community staff can do this."))
    return found


async def typed_text(
    update: Update, context: NotebookContext
) -> tuple[Message, FlowState, str] | None:
    """The message, the flow's state and the text of a typed answer; an empty one is asked
    again."""
    message = update.message
    state = current_state(context)
    assert message is not None and state is not None
    text = (message.text or "").strip()
    if not text:
        await message.reply_text(
            context.tr.gettext("Please answer in words."), reply_markup=cancel_markup(context.tr)
        )
        return None
    return message, state, text


async def member_in_private(
    update: Update, context: NotebookContext, *, staff_only: str | None = None
) -> tuple[Message, Member] | None:
    """A command for members (for staff, when `staff_only` says what to tell anyone else), sent
    in a private chat; anyone else is told what to do."""
    message = update.effective_message
    assert message is not None
    if not await private_only(update, context):
        return None
    member = await me(context)
    if staff_only is not None and (member is None or not member.is_staff):
        await message.reply_text(staff_only)
        return None
    if member is None:
        await message.reply_text(
            context.tr.gettext("Please join your community first: send /start.")
        )
        return None
    return message, member
