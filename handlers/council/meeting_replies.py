"""An invitation to a meeting, as the invited resident sees it: the invitation with its two
buttons, 能来 / 不能来 (can come / cannot come). The answer shows on the invitation at once and
can be changed until the meeting starts; staff see the count on the meeting's card and at
the door (meeting_minutes' attendance list)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.council.meeting_common import REPLY, topic_lines, when
from handlers.shared.fitting import short
from handlers.shared.members import fit, refuse
from runtime.context import NotebookContext
from runtime.i18n import N_, Translator
from storage import council_meetings
from storage.council import CouncilError
from storage.models import CouncilMeeting, MeetingParticipant

REASONS = {
    "proposer": N_("you raised a topic on the agenda"),
    "supporter": N_("you support a topic on the agenda"),
    "resident": N_("you live in a building the topics concern"),
}


async def invitation(
    session: AsyncSession, meeting: CouncilMeeting, tr: Translator, row: MeetingParticipant
) -> tuple[str, InlineKeyboardMarkup]:
    """The invitation's text, with the answer given so far, and its two buttons (the chosen
    one ticked)."""
    _ = tr.gettext
    lines = [
        _("Invitation to the courtyard council (小院议事堂)"),
        _("When: {when}").format(when=when(tr, meeting.starts_at)),
        _("Where: {place}").format(place=short(meeting.place, 200)),
        _("Topics:"),
        *(await topic_lines(session, meeting, tr)),
    ]
    if row.reason in REASONS:
        lines.append(
            _("You are invited because {reason}.").format(reason=tr.gettext(REASONS[row.reason]))
        )
    lines.append(_("Your voice matters. We hope to see you there!"))
    if row.reply is not None:
        answer = _("Can come") if row.reply == council_meetings.YES else _("Cannot come")
        lines += [
            "",
            _("Your answer: {answer}. You can change it until the meeting.").format(answer=answer),
        ]
    mid = meeting.id or 0

    def button(label: str, value: str) -> InlineKeyboardButton:
        mark = "✓ " if row.reply == value else ""
        return InlineKeyboardButton(mark + label, callback_data=REPLY.data(mid, value))

    markup = InlineKeyboardMarkup(
        [
            [
                button(_("Can come"), council_meetings.YES),
                button(_("Cannot come"), council_meetings.NO),
            ]
        ]
    )
    return fit(lines, _("…and {count} more topics.")), markup


async def on_reply(update: Update, context: NotebookContext) -> None:
    """能来 / 不能来 pressed: only by someone this meeting invited, only before it starts."""
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    meeting_id, value = REPLY.values(update)
    meeting = await context.session.get(CouncilMeeting, meeting_id)
    person_id = context.person.id
    if meeting is None or person_id is None:
        await refuse(query, context)
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            row = await council_meetings.reply_to_invitation(
                context.session,
                meeting,
                person_id=person_id,
                coming=value == council_meetings.YES,
                now=context.now(),
            )
    except CouncilError:
        await refuse(query, context, _("This invitation can no longer be answered."))
        return
    text, markup = await invitation(context.session, meeting, context.tr, row)
    await query.answer(_("Thank you, the community office knows."))
    await query.edit_message_text(text, reply_markup=markup)


HANDLERS = [REPLY.handler(on_reply)]
