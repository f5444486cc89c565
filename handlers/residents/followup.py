"""回访, the resident's side: is it really solved, how satisfied are you, anything to add.

The question rides on the "resolved" notification (handlers/residents/notifications.py) and on the
one reminder. Solved / partly → 满意 / 基本满意 / 不满意 → the answer is recorded (the issue is
closed) → an optional comment. Not solved → the issue is reopened at once and its owner told →
an optional "what is still wrong" that is added to the issue. Waiting for the comment is a
`chat_state` flow ("followup"). The periodic job closing unanswered issues is `sweep_job`.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import ContextTypes

from handlers.residents.my_issues import attachments_of
from handlers.shared.fallback import answer_stale
from handlers.shared.flows import current_state
from handlers.shared.issue_texts import owner_text, title
from runtime import effects
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import N_, Translator
from storage import issues as rules
from storage.chat_state import clear_state, get_state, set_state
from storage.followups import (
    add_comment,
    answer,
    close_unanswered_followups,
    info_added,
    rate_not_solved,
)
from storage.issue_lifecycle import Action, IssueError, may
from storage.models import FollowUpResult, Issue, IssueEvent, IssueStatus, Satisfaction
from storage.people import role_in

FLOW = "followup"
SWEEP_SECONDS = 15 * 60

RESULTS = {
    "s": (FollowUpResult.SOLVED, N_("Solved")),
    "p": (FollowUpResult.PARTLY, N_("Partly solved")),
    "n": (FollowUpResult.NOT_SOLVED, N_("Not solved")),
}
SATISFACTIONS = {
    "1": (Satisfaction.SATISFIED, N_("Satisfied")),
    "2": (Satisfaction.BASIC, N_("Fairly satisfied")),
    "3": (Satisfaction.DISSATISFIED, N_("Not satisfied")),
}


# Solved / partly / not solved; then how satisfied; then the optional comment, or Skip.
RESULT = Button("fu.result", int, tuple(RESULTS))  # the issue, the verdict
RATE = Button("fu.rate", int, tuple(RESULTS), tuple(SATISFACTIONS))  # …and how satisfied
SKIP = Button("fu.skip", int)  # no comment on the issue


def question_keyboard(tr: Translator, issue: Issue) -> InlineKeyboardMarkup:
    """Solved / partly / not solved: attached to the resolved notice and to the reminder."""
    assert issue.id is not None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(tr.gettext(label), callback_data=RESULT.data(issue.id, key))
                for key, (_result, label) in RESULTS.items()
            ]
        ]
    )


def _satisfaction_keyboard(tr: Translator, issue: Issue, result_key: str) -> InlineKeyboardMarkup:
    assert issue.id is not None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    tr.gettext(label), callback_data=RATE.data(issue.id, result_key, key)
                )
                for key, (_sat, label) in SATISFACTIONS.items()
            ]
        ]
    )


def _skip_keyboard(tr: Translator, issue: Issue) -> InlineKeyboardMarkup:
    assert issue.id is not None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(tr.gettext("Skip"), callback_data=SKIP.data(issue.id))]]
    )


async def _may_answer(context: NotebookContext, issue: Issue) -> bool:
    role = await role_in(
        context.session, person_id=context.person.id or 0, community_id=issue.community_id
    )
    return may(Action.FOLLOW_UP, role=role, person_id=context.person.id, issue=issue)


async def _pressed(
    update: Update, context: NotebookContext, issue_id: int
) -> tuple[Issue, int, Message | None] | None:
    """The issue of a follow-up press, its chat and message; None (answered) when the presser
    may not answer for it."""
    query = update.callback_query
    assert query is not None
    issue = await context.session.get(Issue, issue_id)
    if issue is None or not await _may_answer(context, issue):
        await query.answer(
            context.tr.gettext("Only the person who reported it can answer this."),
            show_alert=True,
        )
        return None
    message = query.message if isinstance(query.message, Message) else None
    chat_id = query.message.chat.id if query.message else context.person.telegram_user_id
    assert chat_id is not None
    return issue, chat_id, message


async def _still_resolved(update: Update, context: NotebookContext, issue: Issue) -> bool:
    if IssueStatus(issue.status) is IssueStatus.RESOLVED:
        return True
    query = update.callback_query
    assert query is not None
    await query.answer(
        context.tr.gettext("Thank you, this has already been answered."), show_alert=True
    )
    return False


async def on_result(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    issue_id, result_key = RESULT.values(update)
    pressed = await _pressed(update, context, issue_id)
    if pressed is None or not await _still_resolved(update, context, pressed[0]):
        return
    issue, chat_id, message = pressed
    await query.answer()
    if result_key == "n":
        await _not_solved(context, issue, chat_id, message)
    elif message is not None:
        await message.edit_text(
            _(
                "No. {number}: you said «{answer}». How satisfied are you with how it was handled?"
            ).format(number=issue.number, answer=context.tr.gettext(RESULTS[result_key][1])),
            reply_markup=_satisfaction_keyboard(context.tr, issue, result_key),
        )


async def on_rate(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    issue_id, result_key, satisfaction_key = RATE.values(update)
    pressed = await _pressed(update, context, issue_id)
    if pressed is None:
        return
    issue, chat_id, message = pressed
    if result_key == "n":
        # after "not solved" the issue is already open again: this completes that answer
        await _rate_not_solved(update, context, issue, chat_id, message, satisfaction_key)
        return
    if not await _still_resolved(update, context, issue):
        return
    await query.answer()
    await _record(context, issue, chat_id, message, result_key, satisfaction_key)


async def on_skip(update: Update, context: NotebookContext) -> None:
    (issue_id,) = SKIP.values(update)
    pressed = await _pressed(update, context, issue_id)
    if pressed is not None:
        await _skip_comment(update, context, *pressed)


async def _record(
    context: NotebookContext,
    issue: Issue,
    chat_id: int,
    message: Message | None,
    result_key: str,
    satisfaction_key: str,
) -> None:
    _ = context.tr.gettext
    assert context.person.id is not None
    try:
        event = await answer(
            context.session,
            issue,
            result=RESULTS[result_key][0],
            satisfaction=SATISFACTIONS[satisfaction_key][0],
            comment=None,
            person_id=context.person.id,
            now=context.now(),
        )
    except IssueError:
        await context.bot.send_message(chat_id, _("Thank you, this has already been answered."))
        return
    await _await_comment(context, chat_id, issue, event, kind="comment")
    text = _(
        "Thank you! No. {number} is now closed. Anything you would like to add? "
        "Write it now, or press Skip."
    ).format(number=issue.number)
    await _say(context, chat_id, message, text, _skip_keyboard(context.tr, issue))


async def _not_solved(
    context: NotebookContext, issue: Issue, chat_id: int, message: Message | None
) -> None:
    _ = context.tr.gettext
    assert context.person.id is not None
    try:
        await answer(
            context.session,
            issue,
            result=FollowUpResult.NOT_SOLVED,
            satisfaction=None,
            comment=None,
            person_id=context.person.id,
            now=context.now(),
        )
    except IssueError:
        await context.bot.send_message(chat_id, _("Thank you, this has already been answered."))
        return
    owner = await owner_text(context.session, issue)
    if owner:
        text = _(
            "Sorry it is not solved. No. {number} is open again and {owner} has been told. "
            "How satisfied are you with how it was handled so far?"
        ).format(number=issue.number, owner=owner)
    else:
        text = _(
            "Sorry it is not solved. No. {number} is open again and the community has been "
            "told. How satisfied are you with how it was handled so far?"
        ).format(number=issue.number)
    await _say(context, chat_id, message, text, _satisfaction_keyboard(context.tr, issue, "n"))


async def _rate_not_solved(
    update: Update,
    context: NotebookContext,
    issue: Issue,
    chat_id: int,
    message: Message | None,
    satisfaction_key: str,
) -> None:
    query = update.callback_query
    assert query is not None and context.person.id is not None
    _ = context.tr.gettext
    rated = await rate_not_solved(
        context.session,
        issue,
        satisfaction=SATISFACTIONS[satisfaction_key][0],
        person_id=context.person.id,
    )
    if not rated:
        await query.answer(_("Thank you, this has already been answered."), show_alert=True)
        return
    event = (
        await context.session.exec(
            select(IssueEvent)
            .where(IssueEvent.issue_id == issue.id, IssueEvent.kind == Action.REOPEN)
            .order_by(col(IssueEvent.id).desc())
            .limit(1)
        )
    ).first()
    assert event is not None
    await _await_comment(context, chat_id, issue, event, kind="info")
    await query.answer()
    await _say(
        context,
        chat_id,
        message,
        _(
            "Thank you. What is still wrong with No. {number}? "
            "Write it now (or send a photo), or press Skip."
        ).format(number=issue.number),
        _skip_keyboard(context.tr, issue),
    )


async def _say(
    context: NotebookContext,
    chat_id: int,
    message: Message | None,
    text: str,
    markup: InlineKeyboardMarkup | None,
) -> None:
    if message is not None:
        await message.edit_text(text, reply_markup=markup)
    else:
        await context.bot.send_message(chat_id, text, reply_markup=markup)


async def _await_comment(
    context: NotebookContext, chat_id: int, issue: Issue, event: IssueEvent, *, kind: str
) -> None:
    await set_state(
        context.session,
        chat_id=chat_id,
        user_id=context.person.telegram_user_id or chat_id,
        flow=FLOW,
        step=kind,
        data={"issue_id": issue.id, "event_id": event.id},
        now=context.now(),
    )


async def _skip_comment(
    update: Update, context: NotebookContext, issue: Issue, chat_id: int, message: Message | None
) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    state = await get_state(
        context.session, chat_id=chat_id, user_id=context.person.telegram_user_id or chat_id
    )
    if state is None or state.flow != FLOW or state.data.get("issue_id") != issue.id:
        await answer_stale(query, context)
        return
    await clear_state(context.session, chat_id=chat_id, user_id=state.user_id)
    await query.answer()
    if message is not None:
        # which issue it was stays in the chat: the number and its title
        await message.edit_text(
            _("Thank you for your answer about No. {number} «{title}».").format(
                number=issue.number, title=title(context.tr, issue)
            )
        )


async def on_comment(update: Update, context: NotebookContext) -> None:
    """The optional words after the verdict (or, after "not solved", what is still wrong)."""
    state = current_state(context)
    assert state is not None  # the router calls a flow's answer only while it is open
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    issue = await context.session.get(Issue, state.data.get("issue_id"))
    person_id = context.person.id
    if issue is None or person_id is None:
        await clear_state(context.session, chat_id=state.chat_id, user_id=state.user_id)
        return
    text = message.text or message.caption
    attachments = attachments_of(message)
    if state.step == "info" and (text or attachments):
        try:
            event = await rules.append_info(
                context.session,
                issue,
                text=text,
                attachments=attachments,
                actor_id=person_id,
                now=context.now(),
            )
        except IssueError:
            event = None
        if event is not None:
            await info_added(context.session, issue, event, now=context.now())
    elif state.step == "comment" and text:
        event = await context.session.get(IssueEvent, state.data.get("event_id"))
        if event is not None:
            await add_comment(context.session, event, comment=text[:2000], person_id=person_id)
    else:
        await message.reply_text(_("Please write a few words, or press Skip."))
        return
    await clear_state(context.session, chat_id=state.chat_id, user_id=state.user_id)
    await message.reply_text(
        _("Thank you, I have passed it on with No. {number}.").format(number=issue.number)
    )


async def sweep_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Periodic: close issues whose follow-up went unanswered (see storage/followups.py)."""
    app = context.application
    nb = app.notebook  # type: ignore[attr-defined]
    async with nb.db.session() as session:
        closed = await close_unanswered_followups(
            session, nb.clock(), reminder_after=timedelta(days=nb.settings.followup_reminder_days)
        )
    if closed:
        effects.kick(app)


HANDLERS = [RESULT.handler(on_result), RATE.handler(on_rate), SKIP.handler(on_skip)]
