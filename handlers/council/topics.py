"""Topics for the courtyard council (小院议事堂): /propose, /topics, support, and staff grading
a topic quick or deep, answering it, or turning it straight into an issue.

/propose asks three things (title, description, who it concerns); the answers wait in
`chat_state` (flow "council"). Staff see each new topic as a card (in the staff group when one
is bound, else privately to the secretary) with the grading buttons; every press re-checks the
presser's role in the topic's community.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from handlers.council.guards import member_in_private, staff_answer, staff_press, typed_text
from handlers.shared.fitting import short
from handlers.shared.flows import (
    Flow,
    ask,
    cancel_markup,
    cancel_row,
    finish,
    state_in,
)
from handlers.shared.labels import category_label
from handlers.shared.members import (
    fit,
    me_in,
    refuse,
    when_text,
)
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import N_, Translator
from runtime.rendering import Rendered, Renderers
from storage import council
from storage.categories import COMMUNITY_CATEGORIES
from storage.council import CouncilError
from storage.models import (
    Building,
    CouncilTopic,
    Issue,
    Outbox,
    Person,
    TopicGrade,
    TopicStatus,
)
from storage.residents import buildings_of

TYPING_TIME = timedelta(hours=2)  # answers typed later than this are not taken as the answer
FLOW = "council"
LIST_LIMIT = 30

SCOPE = Button("topic.scope", int)  # the building the topic concerns (0: the whole community)
SUPPORT = Button("topic.support", int)
# staff, on a topic's card
VIEW = Button("topic.view", int)
GRADE = Button("topic.grade", int, TopicGrade)
ANSWER = Button("topic.answer", int)
TO_ISSUE = Button("topic.toissue", int)
CATEGORY = Button("topic.category", int, tuple(COMMUNITY_CATEGORIES))  # of the issue it becomes

STATUS_LABELS = {
    TopicStatus.OPEN: N_("waiting for an answer"),
    TopicStatus.ANSWERED: N_("answered"),
    TopicStatus.SCHEDULED: N_("on a meeting's agenda"),
    TopicStatus.DECIDED: N_("decided at a meeting"),
    TopicStatus.TO_ISSUE: N_("being handled as an issue"),
}


# --- texts --------------------------------------------------------------------------------------


async def _scope_name(session: AsyncSession, tr: Translator, building_id: int | None) -> str:
    building = await session.get(Building, building_id) if building_id else None
    return short(building.name, 100) if building else tr.gettext("the whole community")


async def topic_card_text(
    session: AsyncSession, topic: CouncilTopic, tr: Translator, now: datetime
) -> str:
    _ = tr.gettext
    proposer = await session.get(Person, topic.proposer_id) if topic.proposer_id else None
    lines = [
        _("Topic #{id}: {title}").format(id=topic.id, title=short(topic.title, 200)),
        _("Raised by {name} · {scope} · {count} supporters · {when}").format(
            name=short(proposer.full_name if proposer else "—", 60),
            scope=await _scope_name(session, tr, topic.building_id),
            count=topic.support_count,
            when=tr.datetime(topic.created_at, "short"),
        ),
        "",
        short(topic.description, 1500),
        "",
    ]
    status = TopicStatus(topic.status)
    if topic.grade == TopicGrade.QUICK:
        lines.append(_("Quick topic: answer by {due}.").format(due=_due(tr, topic)))
    elif topic.grade == TopicGrade.DEEP and topic.due_at is not None:
        last_day = tr.date(topic.due_at - timedelta(seconds=1))  # due at midnight ending it
        lines.append(_("Deep topic: consultation to start by {date}.").format(date=last_day))
    elif status is TopicStatus.OPEN:
        lines.append(_("Not graded yet: please grade it by {due}.").format(due=_due(tr, topic)))
    if council.is_overdue(topic, now):
        lines.append(_("⚠️ Past its time limit."))
    if status is TopicStatus.TO_ISSUE and topic.issue_id:
        issue = await session.get(Issue, topic.issue_id)
        lines.append(
            _("Now issue No. {number}.").format(number=issue.number if issue else topic.issue_id)
        )
    elif status is TopicStatus.ANSWERED:
        lines.append(_("Answer: {answer}").format(answer=short(topic.answer, 1000)))
    else:
        lines.append(tr.gettext(STATUS_LABELS[status]))
    return "\n".join(lines)


def _due(tr: Translator, topic: CouncilTopic) -> str:
    return when_text(tr, topic.due_at) if topic.due_at else "—"


def staff_buttons(
    topic: CouncilTopic, tr: Translator, quick_hours: int, deep_days: int
) -> InlineKeyboardMarkup | None:
    if topic.status != TopicStatus.OPEN:
        return None
    _ = tr.gettext
    tid = topic.id or 0
    quick = _("Quick ({hours} h)").format(hours=quick_hours)
    deep = _("Deep ({days} working days)").format(days=deep_days)
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(quick, callback_data=GRADE.data(tid, TopicGrade.QUICK)),
                InlineKeyboardButton(deep, callback_data=GRADE.data(tid, TopicGrade.DEEP)),
            ],
            [
                InlineKeyboardButton(_("Answer"), callback_data=ANSWER.data(tid)),
                InlineKeyboardButton(_("Turn into an issue"), callback_data=TO_ISSUE.data(tid)),
            ],
        ]
    )


def _staff_buttons(context: NotebookContext, topic: CouncilTopic) -> InlineKeyboardMarkup | None:
    policy = context.notebook.settings.council_policy
    return staff_buttons(topic, context.tr, policy.quick_hours, policy.deep_working_days)


def category_buttons(topic: CouncilTopic, tr: Translator) -> InlineKeyboardMarkup:
    keys = list(COMMUNITY_CATEGORIES)
    buttons = [
        InlineKeyboardButton(
            category_label(tr, key), callback_data=CATEGORY.data(topic.id or 0, key)
        )
        for key in keys
    ]
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


# --- /propose -----------------------------------------------------------------------------------


async def propose(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    found = await member_in_private(update, context)
    if found is None:
        return
    message, member = found
    await ask(
        context,
        message.chat.id,
        flow=FLOW,
        step="title",
        data={"community": member.community_id},
    )
    await message.reply_text(
        _("What should the courtyard council talk about? Please send a short title, in one line."),
        reply_markup=cancel_markup(context.tr),
    )


async def on_text(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    typed = await typed_text(update, context)
    if typed is None:
        return
    message, state, text = typed
    data = dict(state.data)
    if state.step == "title":
        data["title"] = text[: council.MAX_TITLE]
        await ask(context, message.chat.id, flow=FLOW, step="description", data=data)
        await message.reply_text(
            _("Now tell us more in a few sentences: what is the matter, and what do you suggest?"),
            reply_markup=cancel_markup(context.tr),
        )
    elif state.step == "description":
        data["description"] = text[: council.MAX_TEXT]
        await ask(context, message.chat.id, flow=FLOW, step="scope", data=data)
        await message.reply_text(
            _("Who does it concern?"), reply_markup=await _scope_buttons(context, data)
        )
    elif state.step == "answer":
        await _save_answer(update, context, data, text)
    else:
        await message.reply_text(_("Please choose with the buttons above."))


async def _scope_buttons(context: NotebookContext, data: dict[str, object]) -> InlineKeyboardMarkup:
    _ = context.tr.gettext
    community_id = int(str(data["community"]))
    buildings = (await buildings_of(context.session, community_id))[:40]
    rows = [[InlineKeyboardButton(_("The whole community"), callback_data=SCOPE.data(0))]]
    buttons = [InlineKeyboardButton(b.name, callback_data=SCOPE.data(b.id or 0)) for b in buildings]
    rows.extend(buttons[i : i + 3] for i in range(0, len(buttons), 3))
    rows.append(cancel_row(context.tr))
    return InlineKeyboardMarkup(rows)


async def on_scope(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    state = await state_in(context, query.message.chat.id, FLOW, "scope")
    (building_id,) = SCOPE.values(update)  # 0: the whole community
    if state is None:
        await refuse(query, context)
        return
    community_id = int(state.data["community"])
    member = await me_in(context, community_id)
    if member is None:
        await refuse(query, context, _("You are no longer a member of this community."))
        return
    settings = context.notebook.settings
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            topic = await council.propose_topic(
                context.session,
                community_id=community_id,
                proposer_id=context.person.id or 0,
                title=str(state.data.get("title", "")),
                description=str(state.data.get("description", "")),
                building_id=building_id or None,
                now=context.now(),
                policy=settings.council_policy,
                tz=context.tr.tz,
            )
    except CouncilError:
        await refuse(query, context)
        return
    await finish(context, query.message.chat.id)
    await query.answer()
    await query.edit_message_text(
        _(
            "Thank you! Your topic #{id} «{title}» is now before the courtyard council. "
            "Neighbours can support it with /topics. The community will answer within "
            "{hours} hours."
        ).format(id=topic.id, title=short(topic.title, 200), hours=settings.council_quick_hours)
    )


async def _save_answer(
    update: Update, context: NotebookContext, data: dict[str, object], text: str
) -> None:
    message = update.message
    assert message is not None
    _ = context.tr.gettext
    found = await staff_answer(update, context, CouncilTopic, int(str(data.get("topic") or 0)))
    if found is None:
        return
    topic = found[0]
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            await council.answer_topic(
                context.session,
                topic,
                text=text,
                actor_id=context.person.id or 0,
                now=context.now(),
            )
    except CouncilError:
        await message.reply_text(_("This topic has already been taken up."))
        return
    await message.reply_text(
        _("Your answer to topic #{id} was sent to the proposer and {count} supporters.").format(
            id=topic.id, count=topic.support_count
        )
    )


# --- /topics and support ------------------------------------------------------------------------


async def list_topics(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    found = await member_in_private(update, context)
    if found is None:
        return
    message, member = found
    text, markup = await _topic_list(context, member.community_id, member.is_staff)
    await message.reply_text(text, reply_markup=markup)


async def _topic_list(
    context: NotebookContext, community_id: int, staff: bool
) -> tuple[str, InlineKeyboardMarkup | None]:
    _ = context.tr.gettext
    member = await me_in(context, community_id)
    building_id = None if staff or member is None else member.membership.building_id
    topics = await council.topics_of(
        context.session, community_id, building_id=building_id, limit=LIST_LIMIT
    )
    if not topics:
        return (
            _("No topics are waiting. Send /propose to bring a matter to the courtyard council."),
            None,
        )
    now = context.now()
    lines = [_("Topics before the courtyard council:")]
    buttons = []
    for topic in topics:
        mark = "⚠️ " if staff and council.is_overdue(topic, now) else ""
        lines.append(
            _("{mark}#{id} {title} ({count} supporters)").format(
                mark=mark, id=topic.id, title=short(topic.title, 60), count=topic.support_count
            )
        )
        if staff:
            label = _("Open #{id}").format(id=topic.id)
            buttons.append(InlineKeyboardButton(label, callback_data=VIEW.data(topic.id or 0)))
        elif topic.proposer_id != context.person.id:
            label = _("👍 Support #{id}").format(id=topic.id)
            buttons.append(InlineKeyboardButton(label, callback_data=SUPPORT.data(topic.id or 0)))
    if not staff:
        lines.append("")
        lines.append(_("Press a button to support a topic. Send /propose to raise your own."))
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    text = fit(lines, _("…and {count} more."))
    return text, InlineKeyboardMarkup(rows) if rows else None


async def on_support(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    (topic_id,) = SUPPORT.values(update)
    topic = await context.session.get(CouncilTopic, topic_id) if topic_id else None
    member = await me_in(context, topic.community_id) if topic else None
    if topic is None or member is None:
        await refuse(query, context)
        return
    home = member.membership.building_id
    if topic.building_id is not None and home is not None and home != topic.building_id:
        await refuse(query, context, _("This topic concerns another building."))
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            added = await council.support_topic(
                context.session, topic, person_id=context.person.id or 0, now=context.now()
            )
    except CouncilError:
        await refuse(query, context, _("This topic is no longer open for support."))
        return
    if not added:
        await query.answer(_("You already support this topic."), show_alert=True)
        return
    await query.answer(_("Thank you, your support is counted."))
    text, markup = await _topic_list(context, member.community_id, staff=False)
    await query.edit_message_text(text, reply_markup=markup)


# --- staff: grade, answer, turn into an issue ---------------------------------------------------


async def _staff_topic(
    update: Update, context: NotebookContext, topic_id: int, *, still_open: bool = False
) -> CouncilTopic | None:
    """The topic of a staff button, if the presser is staff of its community (and, with
    `still_open`, nobody has taken it up yet); else an alert."""
    found = await staff_press(update, context, CouncilTopic, topic_id)
    if found is None:
        return None
    topic = found[0]
    if still_open and topic.status != TopicStatus.OPEN:
        query = update.callback_query
        assert query is not None
        await refuse(query, context, context.tr.gettext("This topic has already been taken up."))
        return None
    return topic


async def on_view(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    (topic_id,) = VIEW.values(update)
    topic = await _staff_topic(update, context, topic_id)
    if topic is None:
        return
    await query.answer()
    await context.bot.send_message(
        query.message.chat.id,
        await topic_card_text(context.session, topic, context.tr, context.now()),
        reply_markup=_staff_buttons(context, topic),
    )


async def on_grade(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    topic_id, grade = GRADE.values(update)
    topic = await _staff_topic(update, context, topic_id, still_open=True)
    if topic is None:
        return
    await council.grade_topic(
        context.session,
        topic,
        grade=grade,
        actor_id=context.person.id or 0,
        now=context.now(),
        policy=context.notebook.settings.council_policy,
        tz=context.tr.tz,
    )
    await query.answer(_("Graded."))
    await query.edit_message_text(
        await topic_card_text(context.session, topic, context.tr, context.now()),
        reply_markup=_staff_buttons(context, topic),
    )


async def on_answer(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.from_user is not None
    _ = context.tr.gettext
    (topic_id,) = ANSWER.values(update)
    topic = await _staff_topic(update, context, topic_id, still_open=True)
    if topic is None:
        return
    private_chat = query.from_user.id  # typing happens in the private chat, even from the group
    await ask(context, private_chat, flow=FLOW, step="answer", data={"topic": topic.id})
    await query.answer()
    await context.bot.send_message(
        private_chat,
        _(
            "Please type your answer to topic #{id} «{title}». "
            "It will be sent to the proposer and the supporters."
        ).format(id=topic.id, title=short(topic.title, 200)),
        reply_markup=cancel_markup(context.tr),
    )


async def on_to_issue(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    (topic_id,) = TO_ISSUE.values(update)
    topic = await _staff_topic(update, context, topic_id, still_open=True)
    if topic is None:
        return
    await query.answer()
    await query.edit_message_reply_markup(reply_markup=category_buttons(topic, context.tr))


async def on_issue_category(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    topic_id, category = CATEGORY.values(update)
    topic = await _staff_topic(update, context, topic_id, still_open=True)
    if topic is None:
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            issue = await council.topic_to_issue(
                context.session,
                topic,
                category=category,
                actor_id=context.person.id or 0,
                now=context.now(),
                limits=context.notebook.settings.time_limits,
            )
    except CouncilError:
        await refuse(query, context, _("This topic has already been taken up."))
        return
    await query.answer(_("Issue No. {number} opened.").format(number=issue.number))
    await query.edit_message_text(
        await topic_card_text(context.session, topic, context.tr, context.now())
    )


# --- outbox renderers ---------------------------------------------------------------------------


async def render_topic_card(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    topic = await session.get(CouncilTopic, row.payload.get("topic_id"))
    if topic is None:
        return None
    text = tr.gettext("New topic for the courtyard council.") + "\n\n"
    text += await topic_card_text(session, topic, tr, row.due_at)
    markup = staff_buttons(
        topic, tr, int(row.payload.get("quick_hours", 48)), int(row.payload.get("deep_days", 5))
    )
    return Rendered(text, reply_markup=markup)


async def render_topic_news(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    topic = await session.get(CouncilTopic, row.payload.get("topic_id"))
    if topic is None:
        return None
    _ = tr.gettext
    title = short(topic.title, 200)
    if row.payload.get("what") == "answer" and topic.answer:
        return Rendered(
            _("The community answered topic #{id} «{title}»:\n{answer}").format(
                id=topic.id, title=title, answer=short(topic.answer, 3000)
            )
        )
    if row.payload.get("what") == "issue" and topic.issue_id:
        issue = await session.get(Issue, topic.issue_id)
        if issue is None:
            return None
        return Rendered(
            _(
                "Topic #{id} «{title}» is now issue No. {number}. "
                "You will hear who is responsible and what the plan is."
            ).format(id=topic.id, title=title, number=issue.number)
        )
    return None


def register(renderers: Renderers) -> None:
    renderers.register(council.TOPIC_CARD, render_topic_card)
    renderers.register(council.TOPIC_NEWS, render_topic_news)


# what this feature waits for in a private chat (handlers/shared/flows.py)
FLOWS = [Flow(FLOW, on_text, max_age=TYPING_TIME, typed=True)]

HANDLERS = [
    CommandHandler("propose", propose),
    CommandHandler("topics", list_topics),
    SCOPE.handler(on_scope),
    SUPPORT.handler(on_support),
    VIEW.handler(on_view),
    GRADE.handler(on_grade),
    ANSWER.handler(on_answer),
    TO_ISSUE.handler(on_to_issue),
    CATEGORY.handler(on_issue_category),
]
