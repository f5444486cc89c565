"""Topics for the courtyard council (小院议事堂): /propose, /topics, support. Staff grading a
topic, answering it or turning it into an issue is topic_staff.py.

/propose asks three things (title, description, who it concerns); the answers wait in
`chat_state` (flow "council", which also carries a staff member's typed answer).
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from handlers.council.guards import member_in_private, typed_text
from handlers.council.topic_staff import FLOW, VIEW, save_answer
from handlers.shared.fitting import short
from handlers.shared.flows import Flow, ask, cancel_markup, cancel_row, finish
from handlers.shared.members import fit, me_in, refuse, step_press
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import Translator
from runtime.rendering import Rendered, Renderers
from storage import council
from storage.council import CouncilError
from storage.models import CouncilTopic, Issue, Outbox
from storage.residents import buildings_of

TYPING_TIME = timedelta(hours=2)  # answers typed later than this are not taken as the answer
LIST_LIMIT = 30

SCOPE = Button("topic.scope", int)  # the building the topic concerns (0: the whole community)
SUPPORT = Button("topic.support", int)


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
        await save_answer(update, context, data, text)
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
    _ = context.tr.gettext
    pressed = await step_press(update, context, FLOW, "scope")
    if pressed is None:
        return
    query, chat_id, state = pressed
    (building_id,) = SCOPE.values(update)  # 0: the whole community
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
    await finish(context, chat_id)
    await query.answer()
    await query.edit_message_text(
        _(
            "Thank you! Your topic #{id} «{title}» is now before the courtyard council. "
            "Neighbours can support it with /topics. The community will answer within "
            "{hours} hours."
        ).format(id=topic.id, title=short(topic.title, 200), hours=settings.council_quick_hours)
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


# --- outbox renderers ---------------------------------------------------------------------------


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
    renderers.register(council.TOPIC_NEWS, render_topic_news)


# what this feature waits for in a private chat (handlers/shared/flows.py)
FLOWS = [Flow(FLOW, on_text, max_age=TYPING_TIME, typed=True)]

HANDLERS = [
    CommandHandler("propose", propose),
    CommandHandler("topics", list_topics),
    SCOPE.handler(on_scope),
    SUPPORT.handler(on_support),
]
