"""Moving a scheduled meeting: the secretary types a new day and time, the bot reads it back, and
only a yes moves the meeting and tells everyone invited (asked again whether they can come)."""

from __future__ import annotations

from datetime import UTC, datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.council.guards import staff_answer, staff_press
from handlers.council.meeting_common import (
    FLOW,
    MOVE,
    Step,
    card_buttons,
    read_time,
    staff_meeting,
    time_example,
    when,
)
from handlers.shared.flows import ask, cancel_markup
from handlers.shared.members import refuse
from runtime.buttons import Button
from runtime.context import NotebookContext
from storage import council_meetings
from storage.chat_state import FlowState
from storage.council import CouncilError
from storage.models import CouncilMeeting, MeetingStatus

MOVE_TO = Button("meet.moveto", int, int)  # a meeting, and its new start read back for a yes


async def on_move(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.from_user is not None
    _ = context.tr.gettext
    found = await staff_meeting(update, context, MOVE)
    if found is None:
        return
    meeting, member = found
    if not member.is_secretary or meeting.status != MeetingStatus.SCHEDULED:
        await refuse(query, context, _("Only the community secretary schedules meetings."))
        return
    await ask(context, query.from_user.id, flow=FLOW, step="move", data={"meeting": meeting.id})
    await query.answer()
    await context.bot.send_message(
        query.from_user.id,
        _(
            "Meeting #{id} is {when}. When is it now? Write the day and time, for example "
            "周六下午三点 or {example}."
        ).format(
            id=meeting.id, when=when(context.tr, meeting.starts_at), example=time_example(context)
        ),
        reply_markup=cancel_markup(context.tr),
    )


async def on_move_text(
    update: Update, context: NotebookContext, state: FlowState, text: str
) -> None:
    message = update.message
    assert message is not None
    _ = context.tr.gettext
    starts = await read_time(message, context, text)
    if starts is None:
        return
    if starts <= context.now():
        await message.reply_text(
            _("That time has passed. Please choose a time in the future."),
            reply_markup=cancel_markup(context.tr),
        )
        return
    found = await staff_answer(update, context, CouncilMeeting, int(state.data["meeting"]))
    if found is None:
        return
    meeting, member = found
    if not member.is_secretary or meeting.status != MeetingStatus.SCHEDULED:
        await message.reply_text(_("This meeting cannot be moved any more."))
        return
    # read back before anyone is told: a misread time would send every invitee the wrong day
    assert meeting.id is not None
    await message.reply_text(
        _(
            "Move meeting #{id} to {when}? Everyone invited will be told and asked again "
            "whether they can come."
        ).format(id=meeting.id, when=when(context.tr, starts)),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("✅ Yes, move it"),
                        callback_data=MOVE_TO.data(meeting.id, int(starts.timestamp())),
                    ),
                    InlineKeyboardButton(_("Another time…"), callback_data=MOVE.data(meeting.id)),
                ]
            ]
        ),
    )


async def on_move_confirmed(update: Update, context: NotebookContext) -> None:
    """The secretary said yes to the time read back: the meeting moves, invitees are told."""
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    meeting_id, timestamp = MOVE_TO.values(update)
    starts = datetime.fromtimestamp(timestamp, UTC)
    found = await staff_press(update, context, CouncilMeeting, meeting_id)
    if found is None:
        return
    meeting, member = found
    if not member.is_secretary:
        await refuse(query, context, _("Only the community secretary schedules meetings."))
        return
    if meeting.starts_at == starts:  # a second press: moved already, nobody told twice
        await query.answer(_("The meeting is at this time already."))
        return
    if starts <= context.now():
        await refuse(query, context, _("That time has passed. Please choose a time in the future."))
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            told = await council_meetings.reschedule_meeting(
                context.session,
                meeting,
                starts_at=starts,
                now=context.now(),
                policy=context.notebook.settings.council_policy,
                tz=context.tr.tz,
            )
    except CouncilError:
        await refuse(query, context, _("This meeting cannot be moved any more."))
        return
    await query.answer()
    await query.edit_message_text(
        _(
            "Meeting #{id} is moved to {when}. {count} people invited are told and asked again "
            "whether they can come."
        ).format(id=meeting.id, when=when(context.tr, starts), count=told),
        reply_markup=card_buttons(meeting, context.tr, member),
    )


STEPS: dict[str, Step] = {"move": on_move_text}

HANDLERS = [MOVE.handler(on_move), MOVE_TO.handler(on_move_confirmed)]
