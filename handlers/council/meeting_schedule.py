"""/meeting, the secretary: scheduling a meeting (time, place, topics, whom to invite), moving
it to another time (everyone invited is told and asked again), and cancelling it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.council.guards import member_in_private
from handlers.council.meeting_common import (
    CANCEL,
    FLOW,
    STATUS,
    VIEW,
    Step,
    meeting_card,
    read_time,
    staff_meeting,
    time_example,
    when,
)
from handlers.shared.fitting import short
from handlers.shared.flows import (
    ask,
    cancel_markup,
    cancel_row,
    finish,
    state_in,
)
from handlers.shared.members import me, refuse, staff_press_here, step_press
from runtime.buttons import Button
from runtime.context import NotebookContext
from storage import council, council_meetings
from storage.chat_state import FlowState
from storage.council import CouncilError
from storage.models import (
    MeetingStatus,
)

NEW = Button("meet.new")
TIME = Button("meet.time", int)  # a suggested start, as a Unix timestamp
TOPIC = Button("meet.topic", int)  # a topic to put on the agenda, or take off it
TOPICS_DONE = Button("meet.topicsdone")
INVITE = Button("meet.invite", ("yes", "no"))  # also the residents of the buildings concerned?
CONFIRM = Button("meet.confirm")
CANCEL_NOW = Button("meet.cancelnow", int)


# --- /meeting -----------------------------------------------------------------------------------


async def meetings_menu(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    found = await member_in_private(
        update, context, staff_only=_("Only community staff can do this.")
    )
    if found is None:
        return
    message, member = found
    meetings = await council_meetings.meetings_of(context.session, member.community_id)
    lines = [_("Courtyard council meetings:")] if meetings else [_("No meetings yet.")]
    buttons = []
    for meeting in meetings:
        lines.append(
            _("#{id} {when}, {place} ({status})").format(
                id=meeting.id,
                when=when(context.tr, meeting.starts_at),
                place=short(meeting.place, 40),
                status=context.tr.gettext(STATUS[MeetingStatus(meeting.status)]),
            )
        )
        buttons.append(
            InlineKeyboardButton(
                _("Open #{id}").format(id=meeting.id), callback_data=VIEW.data(meeting.id or 0)
            )
        )
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    if member.is_secretary:
        rows.append([InlineKeyboardButton(_("Schedule a meeting"), callback_data=NEW.data())])
    await message.reply_text(
        "\n".join(lines), reply_markup=InlineKeyboardMarkup(rows) if rows else None
    )


async def on_new(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    pressed = await staff_press_here(
        update, context, _("Only the community secretary schedules meetings."), secretary=True
    )
    if pressed is None:
        return
    query, chat_id, member = pressed
    await ask(context, chat_id, flow=FLOW, step="when", data={"community": member.community_id})
    await query.answer()
    suggestions = council_meetings.suggested_meeting_times(context.now(), context.tr.tz)
    rows = [
        [
            InlineKeyboardButton(
                when(context.tr, moment),
                callback_data=TIME.data(int(moment.timestamp())),
            )
        ]
        for moment in suggestions
    ]
    rows.append(cancel_row(context.tr))
    await context.bot.send_message(
        chat_id,
        _(
            "When is the meeting? Write the day and time as you would say them, for example "
            "周六下午三点, next Friday 3pm or {example}; or pick one:"
        ).format(example=time_example(context)),
        reply_markup=InlineKeyboardMarkup(rows),
    )


async def _set_time(update: Update, context: NotebookContext, starts: datetime) -> bool:
    """Take the meeting time (typed or picked) and ask for the place."""
    chat = update.effective_chat
    assert chat is not None
    _ = context.tr.gettext
    state = await state_in(context, chat.id, FLOW, "when")
    if state is None:
        return False
    if starts <= context.now():
        await context.bot.send_message(
            chat.id,
            _("That time has passed. Please choose a time in the future."),
            reply_markup=cancel_markup(context.tr),
        )
        return True
    data = {**state.data, "starts": int(starts.timestamp())}
    await ask(context, chat.id, flow=FLOW, step="place", data=data)
    await context.bot.send_message(
        chat.id,
        _("{when}. Where will it be held? (for example: the courtyard of 3栋)").format(
            when=when(context.tr, starts)
        ),
        reply_markup=cancel_markup(context.tr),
    )
    return True


async def on_pick_time(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    (timestamp,) = TIME.values(update)
    if not await _set_time(update, context, datetime.fromtimestamp(timestamp, UTC)):
        await refuse(query, context)
        return
    await query.answer()


async def _topic_chooser(
    context: NotebookContext, community_id: int, chosen: list[int]
) -> tuple[str, InlineKeyboardMarkup]:
    _ = context.tr.gettext
    topics = await council.topics_of(context.session, community_id)
    rows = [
        [
            InlineKeyboardButton(
                ("☑ " if topic.id in chosen else "☐ ")
                + _("#{id} {title}").format(id=topic.id, title=topic.title[:30]),
                callback_data=TOPIC.data(topic.id or 0),
            )
        ]
        for topic in topics
    ]
    rows.append([InlineKeyboardButton(_("Done"), callback_data=TOPICS_DONE.data())])
    rows.append(cancel_row(context.tr))
    text = (
        _("Which topics are on the agenda? Press to choose, then Done.")
        if topics
        else _("No topics are waiting. Press Done to schedule the meeting without topics.")
    )
    return text, InlineKeyboardMarkup(rows)


async def on_toggle_topic(update: Update, context: NotebookContext) -> None:
    pressed = await step_press(update, context, FLOW, "topics")
    if pressed is None:
        return
    query, chat_id, state = pressed
    (topic_id,) = TOPIC.values(update)
    community_id = int(state.data["community"])
    topic = await council.topic_in(context.session, topic_id, community_id)
    if topic is None:
        await refuse(query, context)
        return
    chosen = [int(t) for t in state.data.get("topics", [])]
    chosen = [t for t in chosen if t != topic_id] if topic_id in chosen else [*chosen, topic_id]
    await ask(
        context,
        chat_id,
        flow=FLOW,
        step="topics",
        data={**state.data, "topics": chosen},
    )
    await query.answer()
    text, markup = await _topic_chooser(context, community_id, chosen)
    await query.edit_message_text(text, reply_markup=markup)


async def on_topics_done(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    pressed = await step_press(update, context, FLOW, "topics")
    if pressed is None:
        return
    query, chat_id, state = pressed
    await ask(context, chat_id, flow=FLOW, step="invite", data=dict(state.data))
    await query.answer()
    await query.edit_message_text(
        _(
            "Besides the proposers and supporters, shall I also invite the residents of the "
            "buildings the topics concern?"
        ),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(_("Yes, invite them"), callback_data=INVITE.data("yes")),
                    InlineKeyboardButton(_("No"), callback_data=INVITE.data("no")),
                ],
                cancel_row(context.tr),
            ]
        ),
    )


async def on_invite_choice(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    pressed = await step_press(update, context, FLOW, "invite")
    if pressed is None:
        return
    query, chat_id, state = pressed
    (choice,) = INVITE.values(update)
    data = {**state.data, "residents": choice == "yes"}
    await ask(context, chat_id, flow=FLOW, step="confirm", data=data)
    starts = datetime.fromtimestamp(int(data["starts"]), UTC)
    topics = [
        t
        for t in [
            await council.topic_in(context.session, int(i), int(data["community"]))
            for i in data.get("topics", [])
        ]
        if t is not None
    ]
    lines = [
        _("Please check:"),
        _("When: {when}").format(when=when(context.tr, starts)),
        _("Where: {place}").format(place=short(str(data["place"]), 200)),
        _("Topics:"),
        *[_("• #{id} {title}").format(id=t.id, title=short(t.title, 80)) for t in topics],
        _("Residents of the buildings concerned are invited too.")
        if data["residents"]
        else _("Only proposers and supporters are invited."),
    ]
    await query.answer()
    await query.edit_message_text(
        "\n".join(lines),
        reply_markup=InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(_("Schedule it"), callback_data=CONFIRM.data())],
                cancel_row(context.tr),
            ]
        ),
    )


async def on_confirm(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    state = await state_in(context, query.message.chat.id, FLOW, "confirm")
    member = await me(context)
    if state is None or member is None:
        await refuse(query, context)
        return
    if not member.is_secretary or member.community_id != int(state.data["community"]):
        await refuse(query, context, _("Only the community secretary schedules meetings."))
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            meeting = await council_meetings.schedule_meeting(
                context.session,
                community_id=member.community_id,
                starts_at=datetime.fromtimestamp(int(state.data["starts"]), UTC),
                place=str(state.data["place"]),
                topic_ids=[int(t) for t in state.data.get("topics", [])],
                invite_residents=bool(state.data.get("residents")),
                created_by_id=context.person.id or 0,
                now=context.now(),
                policy=context.notebook.settings.council_policy,
                tz=context.tr.tz,
            )
    except CouncilError:
        await refuse(query, context, _("The meeting could not be scheduled: please start again."))
        return
    await finish(context, query.message.chat.id)
    invited = len(await council_meetings.participants(context.session, meeting))
    await query.answer()
    await query.edit_message_text(
        _(
            "Meeting #{id} is scheduled for {when}. {count} people are invited; each will "
            "get a reminder the evening before."
        ).format(id=meeting.id, when=when(context.tr, meeting.starts_at), count=invited),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Open #{id}").format(id=meeting.id),
                        callback_data=VIEW.data(meeting.id or 0),
                    )
                ]
            ]
        ),
    )


async def on_cancel_meeting(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    found = await staff_meeting(update, context, CANCEL)
    if found is None:
        return
    meeting, member = found
    if not member.is_secretary or meeting.status != MeetingStatus.SCHEDULED:
        await refuse(query, context, _("Only the community secretary schedules meetings."))
        return
    await query.answer()
    await query.edit_message_reply_markup(
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Yes, cancel it and tell everyone"),
                        callback_data=CANCEL_NOW.data(meeting.id or 0),
                    )
                ],
                [InlineKeyboardButton(_("No, keep it"), callback_data=VIEW.data(meeting.id or 0))],
            ]
        )
    )


async def on_cancel_confirmed(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    found = await staff_meeting(update, context, CANCEL_NOW)
    if found is None:
        return
    meeting, member = found
    if not member.is_secretary:
        await refuse(query, context, _("Only the community secretary schedules meetings."))
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            await council_meetings.cancel_meeting(context.session, meeting, now=context.now())
    except CouncilError:
        await refuse(query, context)
        return
    await query.answer()
    await query.edit_message_text(await meeting_card(context.session, meeting, context.tr))


# --- typed answers ------------------------------------------------------------------------------


async def on_time_text(
    update: Update, context: NotebookContext, state: FlowState, text: str
) -> None:
    message = update.message
    assert message is not None
    starts = await read_time(message, context, text)
    if starts is None:
        return
    await _set_time(update, context, starts)


async def on_place_text(
    update: Update, context: NotebookContext, state: FlowState, text: str
) -> None:
    message = update.message
    assert message is not None
    data = {**state.data, "place": text[:200], "topics": []}
    await ask(context, message.chat.id, flow=FLOW, step="topics", data=data)
    chooser, markup = await _topic_chooser(context, int(data["community"]), [])
    await message.reply_text(chooser, reply_markup=markup)


STEPS: dict[str, Step] = {"when": on_time_text, "place": on_place_text}


HANDLERS = [
    NEW.handler(on_new),
    TIME.handler(on_pick_time),
    TOPIC.handler(on_toggle_topic),
    TOPICS_DONE.handler(on_topics_done),
    INVITE.handler(on_invite_choice),
    CONFIRM.handler(on_confirm),
    CANCEL.handler(on_cancel_meeting),
    CANCEL_NOW.handler(on_cancel_confirmed),
]
