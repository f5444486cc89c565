"""A meeting's decisions, staff: recording one, and turning it into an issue with a category, an
owner, a plan (the black pen) and a due date.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.council.guards import staff_answer, staff_press
from handlers.council.meeting_common import (
    DECIDE,
    FLOW,
    VIEW,
    Step,
    staff_meeting,
)
from handlers.shared.fitting import short
from handlers.shared.flows import (
    ask,
    cancel_markup,
    cancel_row,
    finish,
    state_in,
)
from handlers.shared.labels import category_label
from handlers.shared.members import (
    Member,
    me_in,
    refuse,
)
from runtime.buttons import Button
from runtime.context import NotebookContext
from storage import council, council_meetings
from storage.categories import COMMUNITY_CATEGORIES
from storage.chat_state import FlowState
from storage.council import CouncilError
from storage.models import (
    CouncilDecision,
    CouncilMeeting,
    Person,
)

DUE_CHOICES = (7, 14, 30)

ABOUT = Button("meet.about", int, int)  # the meeting, the topic the decision is about (0: none)
TO_ISSUE = Button("meet.toissue", int)  # the decision
# the decision-to-issue steps: the decision, and the category, the owner, the days to the due date
CATEGORY = Button("meet.category", int, tuple(COMMUNITY_CATEGORIES))
OWNER = Button("meet.owner", int, int)
DUE = Button("meet.due", int, int)


async def on_decision(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    found = await staff_meeting(update, context, DECIDE)
    if found is None:
        return
    meeting = found[0]
    rows = [
        [
            InlineKeyboardButton(
                _("#{id} {title}").format(id=t.id, title=t.title[:30]),
                callback_data=ABOUT.data(meeting.id or 0, t.id or 0),
            )
        ]
        for t in await council_meetings.meeting_topics(context.session, meeting)
    ]
    rows.append(
        [InlineKeyboardButton(_("Another matter"), callback_data=ABOUT.data(meeting.id or 0, 0))]
    )
    await query.answer()
    await context.bot.send_message(
        query.message.chat.id,
        _("Which topic is the decision about?"),
        reply_markup=InlineKeyboardMarkup(rows),
    )


async def on_decision_topic(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.from_user is not None
    _ = context.tr.gettext
    meeting_id, topic_id = ABOUT.values(update)
    found = await staff_press(update, context, CouncilMeeting, meeting_id)
    if found is None:
        return
    meeting = found[0]
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
    found = await staff_answer(update, context, CouncilMeeting, int(str(data["meeting"])))
    if found is None:
        return
    meeting = found[0]
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            decision = await council_meetings.record_decision(
                context.session,
                meeting,
                text=text,
                topic_id=int(str(data["topic"])) or None,
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
                        callback_data=TO_ISSUE.data(decision.id or 0),
                    )
                ],
                [
                    InlineKeyboardButton(
                        _("Back to the meeting"), callback_data=VIEW.data(meeting.id or 0)
                    )
                ],
            ]
        ),
    )


async def _staff_decision(
    update: Update, context: NotebookContext, decision_id: int
) -> tuple[CouncilDecision, Member] | None:
    query = update.callback_query
    assert query is not None
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
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    (decision_id,) = TO_ISSUE.values(update)
    found = await _staff_decision(update, context, decision_id)
    if found is None:
        return
    decision = found[0]
    await ask(
        context, query.message.chat.id, flow=FLOW, step="category", data={"decision": decision.id}
    )
    buttons = [
        InlineKeyboardButton(
            category_label(context.tr, key), callback_data=CATEGORY.data(decision.id or 0, key)
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
    update: Update, context: NotebookContext, button: Button, step: str
) -> tuple[CouncilDecision, Member, dict[str, object], Any] | None:
    """A `button` of the decision-to-issue steps (the decision, and the value chosen): the flow
    must be at `step` for this decision."""
    query = update.callback_query
    assert query is not None and query.message is not None
    decision_id, value = button.values(update)
    found = await _staff_decision(update, context, decision_id)
    if found is None:
        return None
    state = await state_in(context, query.message.chat.id, FLOW, step)
    if state is None or state.data.get("decision") != found[0].id:
        await refuse(query, context)
        return None
    return found[0], found[1], dict(state.data), value


async def on_decision_category(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    found = await _decision_step(update, context, CATEGORY, "category")
    if found is None:
        return
    decision, member, data, category = found
    await ask(
        context, query.message.chat.id, flow=FLOW, step="owner", data={**data, "category": category}
    )
    staff = await council.community_staff(context.session, member.community_id)
    rows = [
        [
            InlineKeyboardButton(
                person.full_name[:40], callback_data=OWNER.data(decision.id or 0, person.id or 0)
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
    found = await _decision_step(update, context, OWNER, "owner")
    if found is None:
        return
    _decision, member, data, owner_id = found
    if not await council.is_staff_of(context.session, owner_id, member.community_id):
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
    found = await _decision_step(update, context, DUE, "due")
    if found is None:
        return
    decision, member, data, days = found
    if days not in (0, *DUE_CHOICES):
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
                        _("Back to the meeting"), callback_data=VIEW.data(decision.meeting_id)
                    )
                ]
            ]
        ),
    )


async def on_decision_text(
    update: Update, context: NotebookContext, state: FlowState, text: str
) -> None:
    await _save_decision(update, context, state.data, text)


async def on_plan_text(
    update: Update, context: NotebookContext, state: FlowState, text: str
) -> None:
    message = update.message
    assert message is not None
    _ = context.tr.gettext
    data = {**state.data, "plan": text[:3000]}
    await ask(context, message.chat.id, flow=FLOW, step="due", data=data)
    rows = [
        [
            InlineKeyboardButton(
                _("In {days} days").format(days=days),
                callback_data=DUE.data(int(data["decision"]), days),
            )
            for days in DUE_CHOICES
        ],
        [InlineKeyboardButton(_("No due date"), callback_data=DUE.data(int(data["decision"]), 0))],
        cancel_row(context.tr),
    ]
    await message.reply_text(_("By when?"), reply_markup=InlineKeyboardMarkup(rows))


STEPS: dict[str, Step] = {"decision": on_decision_text, "plan": on_plan_text}


HANDLERS = [
    DECIDE.handler(on_decision),
    ABOUT.handler(on_decision_topic),
    TO_ISSUE.handler(on_decision_issue),
    CATEGORY.handler(on_decision_category),
    OWNER.handler(on_decision_owner),
    DUE.handler(on_decision_due),
]
