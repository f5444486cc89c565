"""A meeting, staff: the card, attendance (invitees marked present, walk-ins signed in by name
and household: people without a phone count too), the minutes, and publishing the results
(结果公示: only once the meeting has taken place, and only after the staff member confirms)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.council.guards import staff_answer, staff_press
from handlers.council.meeting_common import (
    ATTENDANCE,
    FLOW,
    MINUTES,
    PUBLISH,
    PUBLISH_NOT,
    PUBLISH_NOW,
    VIEW,
    Step,
    card_buttons,
    meeting_card,
    staff_meeting,
    when,
)
from handlers.shared.common import escape
from handlers.shared.flows import (
    ask,
    cancel_markup,
)
from handlers.shared.members import (
    refuse,
)
from runtime.buttons import Button
from runtime.context import NotebookContext
from storage import council_meetings
from storage.chat_state import FlowState
from storage.council import CouncilError
from storage.models import (
    CouncilMeeting,
)

PAGE = 20  # participants per attendance page
PAGE_OF = Button("meet.attpage", int, int)  # the meeting, the page of its attendance list
MARK = Button("meet.mark", int, int, int)  # the meeting, the person, the page shown
WALK_IN = Button("meet.walkin", int)  # sign in someone who came without an invitation


async def on_view(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    found = await staff_meeting(update, context, VIEW)
    if found is None:
        return
    meeting, member = found
    await query.answer()
    await context.bot.send_message(
        query.message.chat.id,
        await meeting_card(context.session, meeting, context.tr),
        reply_markup=card_buttons(meeting, context.tr, member),
    )


async def _attendance(
    context: NotebookContext, meeting: CouncilMeeting, page: int
) -> tuple[str, InlineKeyboardMarkup]:
    _ = context.tr.gettext
    people = await council_meetings.participants(context.session, meeting)
    pages = max(1, (len(people) + PAGE - 1) // PAGE)
    page = min(max(page, 0), pages - 1)
    rows = [
        [
            InlineKeyboardButton(
                ("✅ " if row.attended else "▫️ ") + person.full_name[:40],
                callback_data=MARK.data(meeting.id or 0, person.id or 0, page),
            )
        ]
        for row, person in people[page * PAGE : (page + 1) * PAGE]
    ]
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("◀", callback_data=PAGE_OF.data(meeting.id or 0, page - 1)))
    if page < pages - 1:
        nav.append(InlineKeyboardButton("▶", callback_data=PAGE_OF.data(meeting.id or 0, page + 1)))
    if nav:
        rows.append(nav)
    rows.append(
        [
            InlineKeyboardButton(
                "＋ " + _("Sign in someone by name…"), callback_data=WALK_IN.data(meeting.id or 0)
            )
        ]
    )
    present = sum(1 for row, _person in people if row.attended)
    text = _(
        "Attendance at meeting #{id}: {present} of {invited} present. Press a name to mark it."
    ).format(id=meeting.id, present=present, invited=len(people))
    coming = sum(1 for row, _person in people if row.reply == council_meetings.YES)
    if coming:
        text += "\n" + _("{count} said they can come.").format(count=coming)
    return text, InlineKeyboardMarkup(rows)


async def on_attendance(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    found = await staff_meeting(update, context, ATTENDANCE)
    if found is None:
        return
    text, markup = await _attendance(context, found[0], 0)
    await query.answer()
    await context.bot.send_message(query.message.chat.id, text, reply_markup=markup)


async def on_attendance_page(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    meeting_id, page = PAGE_OF.values(update)
    found = await staff_press(update, context, CouncilMeeting, meeting_id)
    if found is None:
        return
    text, markup = await _attendance(context, found[0], page)
    await query.answer()
    await query.edit_message_text(text, reply_markup=markup)


async def on_mark(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    meeting_id, person_id, page = MARK.values(update)
    found = await staff_press(update, context, CouncilMeeting, meeting_id)
    if found is None:
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            await council_meetings.toggle_attendance(
                context.session, found[0], person_id=person_id, now=context.now()
            )
    except CouncilError:
        await refuse(query, context)
        return
    text, markup = await _attendance(context, found[0], page)
    await query.answer()
    await query.edit_message_text(text, reply_markup=markup)


async def on_walk_in(update: Update, context: NotebookContext) -> None:
    """Someone came without an invitation (or without a phone): ask for their name."""
    query = update.callback_query
    assert query is not None and query.from_user is not None
    (meeting_id,) = WALK_IN.values(update)
    found = await staff_press(update, context, CouncilMeeting, meeting_id)
    if found is None:
        return
    await ask(context, query.from_user.id, flow=FLOW, step="walk_in", data={"meeting": meeting_id})
    await query.answer()
    await context.bot.send_message(
        query.from_user.id,
        context.tr.gettext(
            "Type the name of the person who came, and their household if they give one, "
            "for example: 张大爷 3栋201"
        ),
        reply_markup=cancel_markup(context.tr),
    )


def split_walk_in(text: str) -> tuple[str, str]:
    """ "张大爷 3栋201" / "Anna Weber, 3-201" → the name and the household (may be empty)."""
    text = " ".join(text.replace("，", ",").split())
    if "," in text:
        name, _comma, household = text.partition(",")
    else:
        name, _space, household = text.partition(" ")
    return name.strip(), household.strip()


async def on_walk_in_text(
    update: Update, context: NotebookContext, state: FlowState, text: str
) -> None:
    message = update.message
    assert message is not None
    _ = context.tr.gettext
    found = await staff_answer(update, context, CouncilMeeting, int(state.data["meeting"]))
    if found is None:
        return
    meeting = found[0]
    name, household = split_walk_in(text)
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            row, person = await council_meetings.sign_in_walk_in(
                context.session, meeting, name=name, household=household, now=context.now()
            )
    except CouncilError:
        await message.reply_text(_("This meeting was cancelled."))
        return
    signed = escape(person.full_name)
    if row.household:
        signed = _("{name} ({household})").format(name=signed, household=escape(row.household))
    attendance, markup = await _attendance(context, meeting, 0)
    await message.reply_text(
        _("Signed in: {who}.").format(who=signed) + "\n\n" + attendance, reply_markup=markup
    )


async def on_minutes(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.from_user is not None
    _ = context.tr.gettext
    found = await staff_meeting(update, context, MINUTES)
    if found is None:
        return
    meeting = found[0]
    await ask(context, query.from_user.id, flow=FLOW, step="minutes", data={"meeting": meeting.id})
    await query.answer()
    await context.bot.send_message(
        query.from_user.id,
        _("Type the minutes of meeting #{id}. Each message is added to what is there.").format(
            id=meeting.id
        ),
        reply_markup=cancel_markup(context.tr),
    )


async def _save_minutes(
    update: Update, context: NotebookContext, meeting_id: int, text: str
) -> None:
    message = update.message
    assert message is not None
    _ = context.tr.gettext
    found = await staff_answer(update, context, CouncilMeeting, meeting_id)
    if found is None:
        return
    meeting, member = found
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            await council_meetings.add_minutes(
                context.session, meeting, text=text, now=context.now()
            )
    except CouncilError:
        await message.reply_text(_("This meeting was cancelled."))
        return
    await message.reply_text(
        _("Minutes saved."), reply_markup=card_buttons(meeting, context.tr, member)
    )


async def on_publish(update: Update, context: NotebookContext) -> None:
    """结果公示, first step: only after the meeting, only with a decision, and never in one tap:
    the card asks whether to send the results to everyone, and says to how many."""
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    found = await staff_meeting(update, context, PUBLISH)
    if found is None:
        return
    meeting, _member = found
    if context.now() < meeting.starts_at:
        await refuse(
            query,
            context,
            _("The results are published after the meeting; it starts {when}.").format(
                when=when(context.tr, meeting.starts_at)
            ),
        )
        return
    if not await council_meetings.decisions(context.session, meeting):
        await refuse(query, context, _("Record a decision first."))
        return
    people = await council_meetings.participants(context.session, meeting)
    reachable = sum(1 for _row, person in people if person.telegram_user_id is not None)
    question = _(
        "Publish the results now? The decisions go to {count} participants, and cannot be "
        "taken back (publishing again sends the update)."
    ).format(count=reachable)
    await query.answer()
    await query.edit_message_text(
        await meeting_card(context.session, meeting, context.tr) + "\n\n<b>" + question + "</b>",
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Yes, publish them"), callback_data=PUBLISH_NOW.data(meeting.id or 0)
                    ),
                    InlineKeyboardButton(
                        _("Not now"), callback_data=PUBLISH_NOT.data(meeting.id or 0)
                    ),
                ]
            ]
        ),
    )


async def on_publish_not(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    found = await staff_meeting(update, context, PUBLISH_NOT)
    if found is None:
        return
    meeting, member = found
    await query.answer()
    await query.edit_message_text(
        await meeting_card(context.session, meeting, context.tr),
        reply_markup=card_buttons(meeting, context.tr, member),
    )


async def on_publish_now(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    found = await staff_meeting(update, context, PUBLISH_NOW)
    if found is None:
        return
    meeting, member = found
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            sent = await council_meetings.publish_results(
                context.session, meeting, now=context.now()
            )
    except CouncilError:  # before the meeting, or no decision: the same checks as the question
        await refuse(query, context, _("Record a decision first."))
        return
    await query.answer(_("The results go to {count} participants.").format(count=sent))
    await query.edit_message_text(
        await meeting_card(context.session, meeting, context.tr),
        reply_markup=card_buttons(meeting, context.tr, member),
    )


async def on_minutes_text(
    update: Update, context: NotebookContext, state: FlowState, text: str
) -> None:
    await _save_minutes(update, context, int(state.data["meeting"]), text)


STEPS: dict[str, Step] = {"minutes": on_minutes_text, "walk_in": on_walk_in_text}


HANDLERS = [
    VIEW.handler(on_view),
    ATTENDANCE.handler(on_attendance),
    PAGE_OF.handler(on_attendance_page),
    MARK.handler(on_mark),
    WALK_IN.handler(on_walk_in),
    MINUTES.handler(on_minutes),
    PUBLISH.handler(on_publish),
    PUBLISH_NOW.handler(on_publish_now),
    PUBLISH_NOT.handler(on_publish_not),
]
