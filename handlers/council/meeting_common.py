"""What the meeting modules share: the meeting's card and its buttons, the rights check of a
staff press on a meeting, and reading a typed meeting time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from handlers.council.guards import staff_press
from handlers.shared.common import escape
from handlers.shared.fitting import short
from handlers.shared.flows import cancel_markup
from handlers.shared.formats import short_day
from handlers.shared.members import (
    Member,
    fit,
    when_text,
)
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import N_, Translator
from storage import council_meetings
from storage.chat_state import FlowState
from storage.dates import parse_moment
from storage.models import (
    CouncilMeeting,
    Issue,
    MeetingStatus,
    Person,
)

EXAMPLE_DAYS = 10  # a typed time's example lies ahead, so it could be typed as it stands
TYPING_TIME = timedelta(hours=6)  # answers typed later than this are not taken as the answer
FLOW = "meeting"

# The buttons of the meeting's card, each carrying the meeting's id; their handlers are in the
# meeting_* modules named in the comments.
VIEW = Button("meet.view", int)  # meeting_minutes
ATTENDANCE = Button("meet.attendance", int)  # meeting_minutes
MINUTES = Button("meet.minutes", int)  # meeting_minutes
PUBLISH = Button("meet.publish", int)  # meeting_minutes: asks first
PUBLISH_NOW = Button("meet.pubnow", int)  # meeting_minutes: yes, publish
PUBLISH_NOT = Button("meet.pubnot", int)  # meeting_minutes: not yet
REPLY = Button("meet.reply", int, ("yes", "no"))  # meeting_replies: an invitee's 能来 / 不能来
DECIDE = Button("meet.decide", int)  # meeting_decisions
CANCEL = Button("meet.cancel", int)  # meeting_schedule
MOVE = Button("meet.move", int)  # meeting_schedule: a new time

STATUS = {
    MeetingStatus.SCHEDULED: N_("scheduled"),
    MeetingStatus.HELD: N_("held, results published"),
    MeetingStatus.CANCELLED: N_("cancelled"),
}


def when(tr: Translator, moment: datetime) -> str:
    return when_text(tr, moment)


async def topic_lines(session: AsyncSession, meeting: CouncilMeeting, tr: Translator) -> list[str]:
    return [
        tr.gettext("• #{id} {title}").format(id=t.id, title=short(t.title, 80))
        for t in await council_meetings.meeting_topics(session, meeting)
    ]


async def decision_lines(
    session: AsyncSession, meeting: CouncilMeeting, tr: Translator
) -> list[str]:
    _ = tr.gettext
    lines = []
    for index, decision in enumerate(await council_meetings.decisions(session, meeting), start=1):
        line = _("{n}. {text}").format(n=index, text=short(decision.text, 300))
        issue = await session.get(Issue, decision.issue_id) if decision.issue_id else None
        if issue is not None:
            owner = await session.get(Person, issue.owner_id) if issue.owner_id else None
            line += "\n   " + _("→ No. {number}, responsible: {owner}, plan: {plan}").format(
                number=issue.number,
                owner=short(owner.full_name if owner else "—", 60),
                plan=short(issue.plan, 200),
            )
            if issue.due_at:
                line += _(", by {date}").format(date=tr.date(issue.due_at))
        lines.append(line)
    return lines


async def meeting_card(session: AsyncSession, meeting: CouncilMeeting, tr: Translator) -> str:
    _ = tr.gettext
    people = await council_meetings.participants(session, meeting)
    present = sum(1 for row, _person in people if row.attended)
    invited = [row for row, _person in people if row.reason != council_meetings.WALK_IN]
    lines = [
        _("Courtyard council meeting #{id}").format(id=meeting.id),
        _("When: {when}").format(when=when(tr, meeting.starts_at)),
        _("Where: {place}").format(place=short(meeting.place, 200)),
        _("Status: {status}").format(status=tr.gettext(STATUS[MeetingStatus(meeting.status)])),
        _("Invited: {invited} · present: {present}").format(invited=len(invited), present=present),
        _("Replies: {yes} can come · {no} cannot · {walk_ins} signed in at the door").format(
            yes=sum(1 for row in invited if row.reply == council_meetings.YES),
            no=sum(1 for row in invited if row.reply == council_meetings.NO),
            walk_ins=len(people) - len(invited),
        ),
        "",
        _("Topics:"),
        *(await topic_lines(session, meeting, tr) or [_("(none)")]),
    ]
    if meeting.minutes:
        lines += ["", _("Minutes:"), short(meeting.minutes, 1200)]
    decided = await decision_lines(session, meeting, tr)
    if decided:
        lines += ["", _("Decisions:"), *decided]
    return fit(lines, _("…and {count} more lines."))


def card_buttons(
    meeting: CouncilMeeting, tr: Translator, member: Member
) -> InlineKeyboardMarkup | None:
    _ = tr.gettext
    mid = meeting.id or 0
    if meeting.status == MeetingStatus.CANCELLED:
        return None
    rows = [
        [
            InlineKeyboardButton(_("Attendance"), callback_data=ATTENDANCE.data(mid)),
            InlineKeyboardButton(_("Minutes"), callback_data=MINUTES.data(mid)),
        ],
        [
            InlineKeyboardButton(_("Add a decision"), callback_data=DECIDE.data(mid)),
            InlineKeyboardButton(_("Publish the results"), callback_data=PUBLISH.data(mid)),
        ],
    ]
    if member.is_secretary and meeting.status == MeetingStatus.SCHEDULED:
        rows.append(
            [
                InlineKeyboardButton(_("Move it…"), callback_data=MOVE.data(mid)),
                InlineKeyboardButton(_("Cancel the meeting"), callback_data=CANCEL.data(mid)),
            ]
        )
    return InlineKeyboardMarkup(rows)


async def staff_meeting(
    update: Update, context: NotebookContext, button: Button
) -> tuple[CouncilMeeting, Member] | None:
    """The meeting of a card's `button` (its one value), if the presser is its staff."""
    (meeting_id,) = button.values(update)
    return await staff_press(update, context, CouncilMeeting, meeting_id)


# One typed answer of the meeting flow at a step: (update, context, its state, the text).
Step = Callable[[Update, NotebookContext, FlowState, str], Awaitable[None]]


async def read_time(message: Message, context: NotebookContext, text: str) -> datetime | None:
    """The day and time typed, read with the one grammar (storage/dates.py); if it cannot be
    read, the person is told how to write it and None comes back."""
    starts = parse_moment(text, now=context.now(), tz=context.tr.tz, locale=context.tr.locale)
    if starts is None:
        await message.reply_text(
            context.tr.gettext(
                "I could not read “{text}” as a day and a time. Write both, for example "
                "周六下午三点, 明天晚上7点半 or {example}."
            ).format(text=escape(text[:50]), example=time_example(context)),
            reply_markup=cancel_markup(context.tr),
        )
    return starts


def time_example(context: NotebookContext) -> str:
    """A meeting time to copy, a week and a half ahead (an example never lies in the past)."""
    moment = context.now() + timedelta(days=EXAMPLE_DAYS)
    local = moment.astimezone(context.tr.tz).replace(hour=19, minute=30)
    return f"{short_day(context.tr, local)} {context.tr.time(local)}"
