"""The staff side of the courtyard council's topics (topics.py): the topic's card, and grading
a topic quick or deep, answering it, or turning it straight into an issue.

Staff see each new topic as a card (in the staff group when one is bound, else privately to the
secretary) with the grading buttons; every press re-checks the presser's role in the topic's
community. A typed answer waits in `chat_state` under the topics' flow (step "answer"), which
topics.on_text hands to `save_answer`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.council.guards import staff_answer, staff_press
from handlers.shared.fitting import short
from handlers.shared.flows import ask, cancel_markup
from handlers.shared.labels import category_label
from handlers.shared.members import refuse, when_text
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import N_, Translator
from runtime.rendering import SKIP, Rendered, Renderers, Sent
from storage import council
from storage.categories import COMMUNITY_CATEGORIES
from storage.council import CouncilError
from storage.models import Building, CouncilTopic, Issue, Outbox, Person, TopicGrade, TopicStatus

FLOW = "council"  # the topics' flow (topics.FLOWS): /propose's steps and a staff answer

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


# --- grade, answer, turn into an issue ---------------------------------------------------------


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


async def save_answer(
    update: Update, context: NotebookContext, data: dict[str, object], text: str
) -> None:
    """A staff member's typed answer to a topic (the flow's "answer" step, topics.on_text)."""
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


# --- outbox renderers ---------------------------------------------------------------------------


def _noting_message_id(row_id: int | None) -> Callable[[AsyncSession, Bot, Sent], Awaitable[None]]:
    """Once sent, the card's message id goes on its outbox row: the card can be edited later."""

    async def after_send(session: AsyncSession, bot: Bot, sent: Sent) -> None:
        row = await session.get(Outbox, row_id)
        if row is not None:
            row.payload = {**row.payload, "message_id": sent.message_id}
            session.add(row)

    return after_send


async def render_topic_card(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    topic = await session.get(CouncilTopic, row.payload.get("topic_id"))
    if topic is None:
        return None
    text = tr.gettext("New topic for the courtyard council.") + "\n\n"
    text += await topic_card_text(session, topic, tr, row.due_at)
    markup = staff_buttons(
        topic, tr, int(row.payload.get("quick_hours", 48)), int(row.payload.get("deep_days", 5))
    )
    if row.kind == council.TOPIC_CARD_EDIT:
        return Rendered(
            text,
            reply_markup=markup,
            edit_message_id=int(row.payload["message_id"]),
            when_gone=SKIP,
        )
    return Rendered(text, reply_markup=markup, after_send=_noting_message_id(row.id))


def register(renderers: Renderers) -> None:
    renderers.register(council.TOPIC_CARD, render_topic_card)
    renderers.register(council.TOPIC_CARD_EDIT, render_topic_card)


HANDLERS = [
    VIEW.handler(on_view),
    GRADE.handler(on_grade),
    ANSWER.handler(on_answer),
    TO_ISSUE.handler(on_to_issue),
    CATEGORY.handler(on_issue_category),
]
