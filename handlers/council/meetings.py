"""/meeting: the courtyard council's meetings. The secretary schedules one (time, place, topics,
whom to invite); staff mark attendance, record minutes and decisions, turn a decision into an
issue with an owner and a plan (the black pen), and publish the results (结果公示).

Typed answers (time, place, minutes, a decision, a plan) wait in `chat_state` (flow "meeting");
every button re-checks the presser's role in the meeting's community, and buttons belonging to
a step of the flow are refused unless the flow is at that step.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from handlers.shared.fitting import short
from handlers.shared.flows import (
    AwaitedInput,
    ask,
    cancel_markup,
    cancel_row,
    current_state,
    finish,
    flow_input,
    state_in,
)
from handlers.shared.labels import category_label
from handlers.shared.members import (
    Member,
    as_id,
    fit,
    ids,
    me,
    me_in,
    private_only,
    refuse,
    when_text,
)
from runtime.context import NotebookContext
from runtime.i18n import N_, Translator
from runtime.rendering import Rendered, Renderers
from storage import council, council_meetings
from storage.categories import COMMUNITY_CATEGORIES
from storage.council import CouncilError
from storage.models import (
    CouncilDecision,
    CouncilMeeting,
    Issue,
    MeetingStatus,
    Outbox,
    Person,
)

TYPING_TIME = timedelta(hours=6)  # answers typed later than this are not taken as the answer
FLOW = "meeting"
PREFIX = "mt:"
PAGE = 20  # participants per attendance page
DUE_CHOICES = (7, 14, 30)

REASONS = {
    "proposer": N_("you raised a topic on the agenda"),
    "supporter": N_("you support a topic on the agenda"),
    "resident": N_("you live in a building the topics concern"),
}
STATUS = {
    MeetingStatus.SCHEDULED: N_("scheduled"),
    MeetingStatus.HELD: N_("held, results published"),
    MeetingStatus.CANCELLED: N_("cancelled"),
}


def _when(tr: Translator, moment: datetime) -> str:
    return when_text(tr, moment)


async def _topic_lines(session: AsyncSession, meeting: CouncilMeeting, tr: Translator) -> list[str]:
    return [
        tr.gettext("• #{id} {title}").format(id=t.id, title=short(t.title, 80))
        for t in await council_meetings.meeting_topics(session, meeting)
    ]


async def _decision_lines(
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
    lines = [
        _("Courtyard council meeting #{id}").format(id=meeting.id),
        _("When: {when}").format(when=_when(tr, meeting.starts_at)),
        _("Where: {place}").format(place=short(meeting.place, 200)),
        _("Status: {status}").format(status=tr.gettext(STATUS[MeetingStatus(meeting.status)])),
        _("Invited: {invited} · present: {present}").format(invited=len(people), present=present),
        "",
        _("Topics:"),
        *(await _topic_lines(session, meeting, tr) or [_("(none)")]),
    ]
    if meeting.minutes:
        lines += ["", _("Minutes:"), short(meeting.minutes, 1200)]
    decided = await _decision_lines(session, meeting, tr)
    if decided:
        lines += ["", _("Decisions:"), *decided]
    return fit(lines, _("…and {count} more lines."))


def card_buttons(
    meeting: CouncilMeeting, tr: Translator, member: Member
) -> InlineKeyboardMarkup | None:
    _ = tr.gettext
    mid = meeting.id
    if meeting.status == MeetingStatus.CANCELLED:
        return None
    rows = [
        [
            InlineKeyboardButton(_("Attendance"), callback_data=f"{PREFIX}a:{mid}"),
            InlineKeyboardButton(_("Minutes"), callback_data=f"{PREFIX}m:{mid}"),
        ],
        [
            InlineKeyboardButton(_("Add a decision"), callback_data=f"{PREFIX}d:{mid}"),
            InlineKeyboardButton(_("Publish the results"), callback_data=f"{PREFIX}p:{mid}"),
        ],
    ]
    if member.is_secretary and meeting.status == MeetingStatus.SCHEDULED:
        rows.append(
            [InlineKeyboardButton(_("Cancel the meeting"), callback_data=f"{PREFIX}x:{mid}")]
        )
    return InlineKeyboardMarkup(rows)


# --- /meeting -----------------------------------------------------------------------------------


async def meetings_menu(update: Update, context: NotebookContext) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    if not await private_only(update, context):
        return
    member = await me(context)
    if member is None or not member.is_staff:
        await message.reply_text(_("Only community staff can do this."))
        return
    meetings = await council_meetings.meetings_of(context.session, member.community_id)
    lines = [_("Courtyard council meetings:")] if meetings else [_("No meetings yet.")]
    buttons = []
    for meeting in meetings:
        lines.append(
            _("#{id} {when}, {place} ({status})").format(
                id=meeting.id,
                when=_when(context.tr, meeting.starts_at),
                place=short(meeting.place, 40),
                status=context.tr.gettext(STATUS[MeetingStatus(meeting.status)]),
            )
        )
        buttons.append(
            InlineKeyboardButton(
                _("Open #{id}").format(id=meeting.id), callback_data=f"{PREFIX}v:{meeting.id}"
            )
        )
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    if member.is_secretary:
        rows.append([InlineKeyboardButton(_("Schedule a meeting"), callback_data=f"{PREFIX}new")])
    await message.reply_text(
        "\n".join(lines), reply_markup=InlineKeyboardMarkup(rows) if rows else None
    )


async def on_new(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    member = await me(context)
    if member is None or not member.is_secretary:
        await refuse(query, context, _("Only the community secretary schedules meetings."))
        return
    chat_id = query.message.chat.id
    await ask(context, chat_id, flow=FLOW, step="when", data={"community": member.community_id})
    await query.answer()
    suggestions = council_meetings.suggested_meeting_times(context.now(), context.tr.tz)
    rows = [
        [
            InlineKeyboardButton(
                _when(context.tr, moment),
                callback_data=f"{PREFIX}w:{int(moment.timestamp())}",
            )
        ]
        for moment in suggestions
    ]
    rows.append(cancel_row(context.tr))
    await context.bot.send_message(
        chat_id,
        _("When is the meeting? Type the date and time like 12-05 19:30, or pick one:"),
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
            when=_when(context.tr, starts)
        ),
        reply_markup=cancel_markup(context.tr),
    )
    return True


async def on_pick_time(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    raw = as_id(ids(query.data, PREFIX + "w:")[0])
    if raw is None or not await _set_time(update, context, datetime.fromtimestamp(raw, UTC)):
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
                callback_data=f"{PREFIX}t:{topic.id}",
            )
        ]
        for topic in topics
    ]
    rows.append([InlineKeyboardButton(_("Done"), callback_data=f"{PREFIX}td")])
    rows.append(cancel_row(context.tr))
    text = (
        _("Which topics are on the agenda? Press to choose, then Done.")
        if topics
        else _("No topics are waiting. Press Done to schedule the meeting without topics.")
    )
    return text, InlineKeyboardMarkup(rows)


async def on_toggle_topic(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    state = await state_in(context, query.message.chat.id, FLOW, "topics")
    topic_id = as_id(ids(query.data, PREFIX + "t:")[0])
    if state is None or topic_id is None:
        await refuse(query, context)
        return
    community_id = int(state.data["community"])
    topic = await council.topic_in(context.session, topic_id, community_id)
    if topic is None:
        await refuse(query, context)
        return
    chosen = [int(t) for t in state.data.get("topics", [])]
    chosen = [t for t in chosen if t != topic_id] if topic_id in chosen else [*chosen, topic_id]
    await ask(
        context,
        query.message.chat.id,
        flow=FLOW,
        step="topics",
        data={**state.data, "topics": chosen},
    )
    await query.answer()
    text, markup = await _topic_chooser(context, community_id, chosen)
    await query.edit_message_text(text, reply_markup=markup)


async def on_topics_done(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    state = await state_in(context, query.message.chat.id, FLOW, "topics")
    if state is None:
        await refuse(query, context)
        return
    await ask(context, query.message.chat.id, flow=FLOW, step="invite", data=dict(state.data))
    await query.answer()
    await query.edit_message_text(
        _(
            "Besides the proposers and supporters, shall I also invite the residents of the "
            "buildings the topics concern?"
        ),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(_("Yes, invite them"), callback_data=f"{PREFIX}i:1"),
                    InlineKeyboardButton(_("No"), callback_data=f"{PREFIX}i:0"),
                ],
                cancel_row(context.tr),
            ]
        ),
    )


async def on_invite_choice(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    _ = context.tr.gettext
    state = await state_in(context, query.message.chat.id, FLOW, "invite")
    choice = ids(query.data, PREFIX + "i:")[0]
    if state is None or choice not in ("0", "1"):
        await refuse(query, context)
        return
    data = {**state.data, "residents": choice == "1"}
    await ask(context, query.message.chat.id, flow=FLOW, step="confirm", data=data)
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
        _("When: {when}").format(when=_when(context.tr, starts)),
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
                [InlineKeyboardButton(_("Schedule it"), callback_data=f"{PREFIX}ok")],
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
        ).format(id=meeting.id, when=_when(context.tr, meeting.starts_at), count=invited),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Open #{id}").format(id=meeting.id),
                        callback_data=f"{PREFIX}v:{meeting.id}",
                    )
                ]
            ]
        ),
    )


# --- typed answers ------------------------------------------------------------------------------


async def on_text(update: Update, context: NotebookContext) -> None:
    message = update.message
    state = current_state(context)
    assert message is not None and state is not None
    _ = context.tr.gettext
    text = (message.text or "").strip()
    if not text:
        await message.reply_text(
            _("Please answer in words."), reply_markup=cancel_markup(context.tr)
        )
        return
    if state.step == "when":
        starts = council_meetings.parse_meeting_time(text, now=context.now(), tz=context.tr.tz)
        if starts is None:
            await message.reply_text(
                _("I could not read that time. Please type it like 12-05 19:30."),
                reply_markup=cancel_markup(context.tr),
            )
            return
        await _set_time(update, context, starts)
    elif state.step == "place":
        data = {**state.data, "place": text[:200], "topics": []}
        await ask(context, message.chat.id, flow=FLOW, step="topics", data=data)
        chooser, markup = await _topic_chooser(context, int(data["community"]), [])
        await message.reply_text(chooser, reply_markup=markup)
    elif state.step == "minutes":
        await _save_minutes(update, context, int(state.data["meeting"]), text)
    elif state.step == "decision":
        await _save_decision(update, context, state.data, text)
    elif state.step == "plan":
        data = {**state.data, "plan": text[:3000]}
        await ask(context, message.chat.id, flow=FLOW, step="due", data=data)
        rows = [
            [
                InlineKeyboardButton(
                    _("In {days} days").format(days=days),
                    callback_data=f"{PREFIX}dd:{data['decision']}:{days}",
                )
                for days in DUE_CHOICES
            ],
            [
                InlineKeyboardButton(
                    _("No due date"), callback_data=f"{PREFIX}dd:{data['decision']}:0"
                )
            ],
            cancel_row(context.tr),
        ]
        await message.reply_text(_("By when?"), reply_markup=InlineKeyboardMarkup(rows))
    else:
        await message.reply_text(_("Please choose with the buttons above."))


# --- staff on a meeting -------------------------------------------------------------------------


async def _staff_meeting(
    update: Update, context: NotebookContext, raw: str | None
) -> tuple[CouncilMeeting, Member] | None:
    query = update.callback_query
    assert query is not None
    meeting_id = as_id(raw)
    meeting = await context.session.get(CouncilMeeting, meeting_id) if meeting_id else None
    member = await me_in(context, meeting.community_id) if meeting else None
    if meeting is None or member is None or not member.is_staff:
        await refuse(query, context, context.tr.gettext("Only community staff can do this."))
        return None
    return meeting, member


async def on_view(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    found = await _staff_meeting(update, context, ids(query.data, PREFIX + "v:")[0])
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
                callback_data=f"{PREFIX}ap:{meeting.id}:{person.id}:{page}",
            )
        ]
        for row, person in people[page * PAGE : (page + 1) * PAGE]
    ]
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("◀", callback_data=f"{PREFIX}ag:{meeting.id}:{page - 1}"))
    if page < pages - 1:
        nav.append(InlineKeyboardButton("▶", callback_data=f"{PREFIX}ag:{meeting.id}:{page + 1}"))
    if nav:
        rows.append(nav)
    present = sum(1 for row, _person in people if row.attended)
    text = _(
        "Attendance at meeting #{id}: {present} of {invited} present. Press a name to mark it."
    ).format(id=meeting.id, present=present, invited=len(people))
    return text, InlineKeyboardMarkup(rows)


async def on_attendance(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    found = await _staff_meeting(update, context, ids(query.data, PREFIX + "a:")[0])
    if found is None:
        return
    text, markup = await _attendance(context, found[0], 0)
    await query.answer()
    await context.bot.send_message(query.message.chat.id, text, reply_markup=markup)


async def on_attendance_page(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    parts = ids(query.data, PREFIX + "ag:")
    found = await _staff_meeting(update, context, parts[0])
    if found is None:
        return
    text, markup = await _attendance(context, found[0], as_id(parts[-1]) or 0)
    await query.answer()
    await query.edit_message_text(text, reply_markup=markup)


async def on_mark(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _ = context.tr.gettext
    parts = ids(query.data, PREFIX + "ap:")
    found = await _staff_meeting(update, context, parts[0])
    if found is None:
        return
    person_id = as_id(parts[1]) if len(parts) == 3 else None
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            if person_id is None:
                raise CouncilError("no person")
            await council_meetings.toggle_attendance(
                context.session, found[0], person_id=person_id, now=context.now()
            )
    except CouncilError:
        await refuse(query, context)
        return
    text, markup = await _attendance(context, found[0], as_id(parts[2]) or 0)
    await query.answer()
    await query.edit_message_text(text, reply_markup=markup)


async def on_minutes(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.from_user is not None
    _ = context.tr.gettext
    found = await _staff_meeting(update, context, ids(query.data, PREFIX + "m:")[0])
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
    meeting = await context.session.get(CouncilMeeting, meeting_id)
    member = await me_in(context, meeting.community_id) if meeting else None
    await finish(context, message.chat.id)
    if meeting is None or member is None or not member.is_staff:
        await message.reply_text(_("Only community staff can do this."))
        return
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


async def on_decision(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    _ = context.tr.gettext
    found = await _staff_meeting(update, context, ids(query.data, PREFIX + "d:")[0])
    if found is None:
        return
    meeting = found[0]
    rows = [
        [
            InlineKeyboardButton(
                _("#{id} {title}").format(id=t.id, title=t.title[:30]),
                callback_data=f"{PREFIX}dt:{meeting.id}:{t.id}",
            )
        ]
        for t in await council_meetings.meeting_topics(context.session, meeting)
    ]
    rows.append(
        [InlineKeyboardButton(_("Another matter"), callback_data=f"{PREFIX}dt:{meeting.id}:0")]
    )
    await query.answer()
    await context.bot.send_message(
        query.message.chat.id,
        _("Which topic is the decision about?"),
        reply_markup=InlineKeyboardMarkup(rows),
    )


async def on_decision_topic(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.from_user is not None
    _ = context.tr.gettext
    parts = ids(query.data, PREFIX + "dt:")
    found = await _staff_meeting(update, context, parts[0])
    if found is None:
        return
    meeting = found[0]
    topic_id = as_id(parts[-1]) if len(parts) == 2 else None
    if topic_id is None:
        await refuse(query, context)
        return
    await ask(
        context,
        query.from_user.id,
        flow=FLOW,
        step="decision",
        data={"meeting": meeting.id, "topic": topic_id},
    )
    await query.answer()
    await query.edit_message_text(
        _("Type the decision, in plain words everyone will understand."),
        reply_markup=cancel_markup(context.tr),
    )


async def _save_decision(
    update: Update, context: NotebookContext, data: dict[str, object], text: str
) -> None:
    message = update.message
    assert message is not None
    _ = context.tr.gettext
    meeting = await context.session.get(CouncilMeeting, as_id(str(data["meeting"])) or 0)
    member = await me_in(context, meeting.community_id) if meeting else None
    await finish(context, message.chat.id)
    if meeting is None or member is None or not member.is_staff:
        await message.reply_text(_("Only community staff can do this."))
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            decision = await council_meetings.record_decision(
                context.session,
                meeting,
                text=text,
                topic_id=as_id(str(data["topic"])) or None,
                actor_id=context.person.id or 0,
                now=context.now(),
            )
    except CouncilError:
        await message.reply_text(_("The decision could not be recorded: please start again."))
        return
    await message.reply_text(
        _("Decision recorded. Does it need someone to carry it out?"),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Make it an issue with an owner and a plan"),
                        callback_data=f"{PREFIX}di:{decision.id}",
                    )
                ],
                [
                    InlineKeyboardButton(
                        _("Back to the meeting"), callback_data=f"{PREFIX}v:{meeting.id}"
                    )
                ],
            ]
        ),
    )


async def _staff_decision(
    update: Update, context: NotebookContext, raw: str | None
) -> tuple[CouncilDecision, Member] | None:
    query = update.callback_query
    assert query is not None
    decision_id = as_id(raw)
    decision = await context.session.get(CouncilDecision, decision_id) if decision_id else None
    meeting = await context.session.get(CouncilMeeting, decision.meeting_id) if decision else None
    member = await me_in(context, meeting.community_id) if meeting else None
    if decision is None or member is None or not member.is_staff:
        await refuse(query, context, context.tr.gettext("Only community staff can do this."))
        return None
    if decision.issue_id is not None:
        await refuse(query, context, context.tr.gettext("This decision already has an issue."))
        return None
    return decision, member


async def on_decision_issue(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    _ = context.tr.gettext
    found = await _staff_decision(update, context, ids(query.data, PREFIX + "di:")[0])
    if found is None:
        return
    decision = found[0]
    await ask(
        context, query.message.chat.id, flow=FLOW, step="category", data={"decision": decision.id}
    )
    buttons = [
        InlineKeyboardButton(
            category_label(context.tr, key), callback_data=f"{PREFIX}dc:{decision.id}:{key}"
        )
        for key in COMMUNITY_CATEGORIES
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append(cancel_row(context.tr))
    await query.answer()
    await query.edit_message_text(
        _("What kind of matter is it?"), reply_markup=InlineKeyboardMarkup(rows)
    )


async def _decision_step(
    update: Update, context: NotebookContext, prefix: str, step: str
) -> tuple[CouncilDecision, Member, dict[str, object], str] | None:
    """A button of the decision-to-issue steps: the flow must be at `step` for this decision."""
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    parts = ids(query.data, prefix)
    found = await _staff_decision(update, context, parts[0])
    if found is None:
        return None
    state = await state_in(context, query.message.chat.id, FLOW, step)
    if state is None or state.data.get("decision") != found[0].id or len(parts) != 2:
        await refuse(query, context)
        return None
    return found[0], found[1], dict(state.data), parts[1]


async def on_decision_category(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    found = await _decision_step(update, context, PREFIX + "dc:", "category")
    if found is None:
        return
    decision, member, data, category = found
    if category not in COMMUNITY_CATEGORIES:
        await refuse(query, context)
        return
    await ask(
        context, query.message.chat.id, flow=FLOW, step="owner", data={**data, "category": category}
    )
    staff = await council.community_staff(context.session, member.community_id)
    rows = [
        [
            InlineKeyboardButton(
                person.full_name[:40], callback_data=f"{PREFIX}do:{decision.id}:{person.id}"
            )
        ]
        for person in staff[:30]
    ]
    rows.append(cancel_row(context.tr))
    await query.answer()
    await query.edit_message_text(
        _("Who is responsible for it?"), reply_markup=InlineKeyboardMarkup(rows)
    )


async def on_decision_owner(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    found = await _decision_step(update, context, PREFIX + "do:", "owner")
    if found is None:
        return
    _decision, member, data, raw = found
    owner_id = as_id(raw)
    if owner_id is None or not await council.is_staff_of(
        context.session, owner_id, member.community_id
    ):
        await refuse(query, context, _("The owner must be a community worker."))
        return
    await ask(
        context, query.message.chat.id, flow=FLOW, step="plan", data={**data, "owner": owner_id}
    )
    await query.answer()
    await query.edit_message_text(
        _("Now the black pen: type the plan (what will be done, and how)."),
        reply_markup=cancel_markup(context.tr),
    )


async def on_decision_due(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    found = await _decision_step(update, context, PREFIX + "dd:", "due")
    if found is None:
        return
    decision, member, data, raw = found
    days = as_id(raw)
    if days is None or days not in (0, *DUE_CHOICES):
        await refuse(query, context)
        return
    now = context.now()
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            issue = await council_meetings.decision_to_issue(
                context.session,
                decision,
                category=str(data["category"]),
                owner_id=int(str(data["owner"])),
                plan=str(data["plan"]),
                due_at=now + timedelta(days=days) if days else None,
                actor_id=context.person.id or 0,
                actor_role=member.role,
                now=now,
                limits=context.notebook.settings.time_limits,
            )
    except CouncilError:
        await refuse(query, context, _("The issue could not be opened: please start again."))
        return
    await finish(context, query.message.chat.id)
    owner = await context.session.get(Person, issue.owner_id) if issue.owner_id else None
    await query.answer()
    await query.edit_message_text(
        _("No. {number} opened: {owner} is responsible. Plan: {plan}").format(
            number=issue.number,
            owner=short(owner.full_name if owner else "—", 60),
            plan=short(issue.plan, 1000),
        ),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Back to the meeting"), callback_data=f"{PREFIX}v:{decision.meeting_id}"
                    )
                ]
            ]
        ),
    )


async def on_publish(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _ = context.tr.gettext
    found = await _staff_meeting(update, context, ids(query.data, PREFIX + "p:")[0])
    if found is None:
        return
    meeting, member = found
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            sent = await council_meetings.publish_results(
                context.session, meeting, now=context.now()
            )
    except CouncilError:
        await refuse(query, context, _("Record a decision first."))
        return
    await query.answer(_("The results go to {count} participants.").format(count=sent))
    await query.edit_message_text(
        await meeting_card(context.session, meeting, context.tr),
        reply_markup=card_buttons(meeting, context.tr, member),
    )


async def on_cancel_meeting(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _ = context.tr.gettext
    found = await _staff_meeting(update, context, ids(query.data, PREFIX + "x:")[0])
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
                        callback_data=f"{PREFIX}xx:{meeting.id}",
                    )
                ],
                [InlineKeyboardButton(_("No, keep it"), callback_data=f"{PREFIX}v:{meeting.id}")],
            ]
        )
    )


async def on_cancel_confirmed(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _ = context.tr.gettext
    found = await _staff_meeting(update, context, ids(query.data, PREFIX + "xx:")[0])
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


# --- outbox renderers ---------------------------------------------------------------------------


async def _meeting(session: AsyncSession, row: Outbox) -> CouncilMeeting | None:
    return await session.get(CouncilMeeting, row.payload.get("meeting_id"))


async def render_invite(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    meeting = await _meeting(session, row)
    if meeting is None or meeting.status != MeetingStatus.SCHEDULED:
        return None
    _ = tr.gettext
    participant = await council_meetings.participants(session, meeting)
    reason = next((p.reason for p, person in participant if person.id == row.person_id), "")
    lines = [
        _("Invitation to the courtyard council (小院议事堂)"),
        _("When: {when}").format(when=_when(tr, meeting.starts_at)),
        _("Where: {place}").format(place=short(meeting.place, 200)),
        _("Topics:"),
        *(await _topic_lines(session, meeting, tr)),
    ]
    if reason in REASONS:
        lines.append(
            _("You are invited because {reason}.").format(reason=tr.gettext(REASONS[reason]))
        )
    lines.append(_("Your voice matters. We hope to see you there!"))
    return Rendered(fit(lines, _("…and {count} more topics.")))


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
            when=_when(tr, meeting.starts_at), place=short(meeting.place, 200)
        ),
        _("Topics:"),
        *(await _topic_lines(session, meeting, tr)),
    ]
    return Rendered(fit(lines, _("…and {count} more topics.")))


async def render_result(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    meeting = await _meeting(session, row)
    if meeting is None or meeting.status == MeetingStatus.CANCELLED:
        return None
    _ = tr.gettext
    people = await council_meetings.participants(session, meeting)
    lines = [
        _("Results of the courtyard council of {when} (结果公示)").format(
            when=tr.date(meeting.starts_at)
        ),
        _("{present} of {invited} invited neighbours took part.").format(
            present=sum(1 for p, _person in people if p.attended), invited=len(people)
        ),
        "",
        _("Decisions:"),
        *(await _decision_lines(session, meeting, tr)),
    ]
    return Rendered(fit(lines, _("…and {count} more lines.")))


async def render_cancelled(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    meeting = await _meeting(session, row)
    if meeting is None or meeting.status != MeetingStatus.CANCELLED:
        return None
    return Rendered(
        tr.gettext("The courtyard council of {when} at {place} is cancelled. Sorry!").format(
            when=_when(tr, meeting.starts_at), place=short(meeting.place, 200)
        )
    )


def register(renderers: Renderers) -> None:
    renderers.register(council_meetings.MEETING_INVITE, render_invite)
    renderers.register(council_meetings.MEETING_REMINDER, render_reminder)
    renderers.register(council_meetings.MEETING_RESULT, render_result)
    renderers.register(council_meetings.MEETING_CANCELLED, render_cancelled)


# For a router that dispatches typed answers by flow name itself (flow -> handler).
INPUTS = {FLOW: flow_input(on_text)}

HANDLERS = [
    AwaitedInput({FLOW}, on_text, max_age=TYPING_TIME),
    CommandHandler("meeting", meetings_menu),
    CallbackQueryHandler(on_new, pattern=f"^{PREFIX}new$"),
    CallbackQueryHandler(on_pick_time, pattern=f"^{PREFIX}w:"),
    CallbackQueryHandler(on_toggle_topic, pattern=f"^{PREFIX}t:"),
    CallbackQueryHandler(on_topics_done, pattern=f"^{PREFIX}td$"),
    CallbackQueryHandler(on_invite_choice, pattern=f"^{PREFIX}i:"),
    CallbackQueryHandler(on_confirm, pattern=f"^{PREFIX}ok$"),
    CallbackQueryHandler(on_view, pattern=f"^{PREFIX}v:"),
    CallbackQueryHandler(on_attendance, pattern=f"^{PREFIX}a:"),
    CallbackQueryHandler(on_attendance_page, pattern=f"^{PREFIX}ag:"),
    CallbackQueryHandler(on_mark, pattern=f"^{PREFIX}ap:"),
    CallbackQueryHandler(on_minutes, pattern=f"^{PREFIX}m:"),
    CallbackQueryHandler(on_decision, pattern=f"^{PREFIX}d:"),
    CallbackQueryHandler(on_decision_topic, pattern=f"^{PREFIX}dt:"),
    CallbackQueryHandler(on_decision_issue, pattern=f"^{PREFIX}di:"),
    CallbackQueryHandler(on_decision_category, pattern=f"^{PREFIX}dc:"),
    CallbackQueryHandler(on_decision_owner, pattern=f"^{PREFIX}do:"),
    CallbackQueryHandler(on_decision_due, pattern=f"^{PREFIX}dd:"),
    CallbackQueryHandler(on_publish, pattern=f"^{PREFIX}p:"),
    CallbackQueryHandler(on_cancel_meeting, pattern=f"^{PREFIX}x:"),
    CallbackQueryHandler(on_cancel_confirmed, pattern=f"^{PREFIX}xx:"),
]
