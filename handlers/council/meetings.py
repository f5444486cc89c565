"""/meeting: the courtyard council's meetings: the handler list, the typed answers of the flow,
and the notices. The secretary schedules one (time, place, topics, whom to invite;
meeting_schedule); staff mark attendance, record minutes and publish the results (结果公示;
meeting_minutes), record decisions and turn one into an issue with an owner and a plan (the
black pen; meeting_decisions).

Typed answers (time, place, minutes, a decision, a plan) wait in `chat_state` (flow "meeting");
every button re-checks the presser's role in the meeting's community, and buttons belonging to
a step of the flow are refused unless the flow is at that step.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Update
from telegram.ext import CommandHandler

from handlers.council import (
    meeting_decisions,
    meeting_minutes,
    meeting_move,
    meeting_replies,
    meeting_schedule,
)
from handlers.council.guards import typed_text
from handlers.council.meeting_common import (
    FLOW,
    TYPING_TIME,
    Step,
    decision_lines,
    topic_lines,
    when,
)
from handlers.shared.fitting import short
from handlers.shared.flows import Flow
from handlers.shared.members import fit
from runtime.context import NotebookContext
from runtime.i18n import Translator
from runtime.rendering import Rendered, Renderers
from storage import council_meetings
from storage.models import CouncilMeeting, MeetingParticipant, MeetingStatus, Outbox

# the flow's step -> what takes the text typed at it
STEPS: dict[str, Step] = {
    **meeting_schedule.STEPS,
    **meeting_move.STEPS,
    **meeting_minutes.STEPS,
    **meeting_decisions.STEPS,
}


async def on_text(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    typed = await typed_text(update, context)
    if typed is None:
        return
    message, state, text = typed
    step = STEPS.get(state.step)
    if step is None:
        await message.reply_text(_("Please choose with the buttons above."))
        return
    await step(update, context, state, text)


# --- outbox renderers ---------------------------------------------------------------------------


async def _meeting(session: AsyncSession, row: Outbox) -> CouncilMeeting | None:
    return await session.get(CouncilMeeting, row.payload.get("meeting_id"))


async def render_invite(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    meeting = await _meeting(session, row)
    if meeting is None or meeting.status != MeetingStatus.SCHEDULED:
        return None
    invited = await session.get(MeetingParticipant, (meeting.id, row.person_id))
    if invited is None:
        return None
    text, markup = await meeting_replies.invitation(session, meeting, tr, invited)
    return Rendered(text, markup)


async def render_reminder(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    meeting = await _meeting(session, row)
    if (
        meeting is None
        or meeting.status != MeetingStatus.SCHEDULED
        or int(meeting.starts_at.timestamp()) != row.payload.get("starts")
    ):
        return None
    _ = tr.gettext
    lines = [
        _("Reminder: the courtyard council meets {when}, at {place}.").format(
            when=when(tr, meeting.starts_at), place=short(meeting.place, 200)
        ),
        _("Topics:"),
        *(await topic_lines(session, meeting, tr)),
    ]
    return Rendered(fit(lines, _("…and {count} more topics.")))


async def render_result(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    meeting = await _meeting(session, row)
    if meeting is None or meeting.status == MeetingStatus.CANCELLED:
        return None
    _ = tr.gettext
    people = [p for p, _person in await council_meetings.participants(session, meeting)]
    invited = [p for p in people if p.reason != council_meetings.WALK_IN]
    lines = [
        _("Results of the courtyard council of {when} (结果公示)").format(
            when=tr.date(meeting.starts_at)
        ),
        _("{present} of {invited} invited neighbours took part.").format(
            present=sum(1 for p in invited if p.attended), invited=len(invited)
        ),
        "",
        _("Decisions:"),
        *(await decision_lines(session, meeting, tr)),
    ]
    return Rendered(fit(lines, _("…and {count} more lines.")))


async def render_moved(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    """The meeting has a new time: said first, then the invitation as it now stands, with its
    能来 / 不能来 asked again. Nothing if it has moved once more or was cancelled since."""
    meeting = await _meeting(session, row)
    if (
        meeting is None
        or meeting.status != MeetingStatus.SCHEDULED
        or int(meeting.starts_at.timestamp()) != row.payload.get("starts")
    ):
        return None
    invited = await session.get(MeetingParticipant, (meeting.id, row.person_id))
    if invited is None:
        return None
    was = datetime.fromtimestamp(int(row.payload.get("was", 0)), UTC)
    moved = tr.gettext("The courtyard council has moved: it was {was}, it is now {when}.").format(
        was=when(tr, was), when=when(tr, meeting.starts_at)
    )
    text, markup = await meeting_replies.invitation(session, meeting, tr, invited)
    return Rendered(f"<b>{moved}</b>\n\n{text}", markup)


async def render_cancelled(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    meeting = await _meeting(session, row)
    if meeting is None or meeting.status != MeetingStatus.CANCELLED:
        return None
    return Rendered(
        tr.gettext("The courtyard council of {when} at {place} is cancelled. Sorry!").format(
            when=when(tr, meeting.starts_at), place=short(meeting.place, 200)
        )
    )


def register(renderers: Renderers) -> None:
    renderers.register(council_meetings.MEETING_INVITE, render_invite)
    renderers.register(council_meetings.MEETING_REMINDER, render_reminder)
    renderers.register(council_meetings.MEETING_RESULT, render_result)
    renderers.register(council_meetings.MEETING_CANCELLED, render_cancelled)
    renderers.register(council_meetings.MEETING_MOVED, render_moved)


# what this feature waits for in a private chat (handlers/shared/flows.py)
FLOWS = [Flow(FLOW, on_text, max_age=TYPING_TIME, typed=True)]

HANDLERS = [
    CommandHandler("meeting", meeting_schedule.meetings_menu),
    *meeting_schedule.HANDLERS,
    *meeting_move.HANDLERS,
    *meeting_minutes.HANDLERS,
    *meeting_replies.HANDLERS,
    *meeting_decisions.HANDLERS,
]
