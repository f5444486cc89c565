"""回访 by telephone: a worker calls a resident who cannot answer the bot and records the answer.

Residents who report by phone or at the service desk often have no Telegram, and some who do
never answer the bot. Their resolved issues would otherwise close unanswered (and count as
not followed up). A resolved card has a **Follow-up by phone…** button: the bot asks, in the
staff group, the worker who pressed it to call the resident (their number is behind the card's
Show contact button), and takes the two answers as buttons: solved / partly / not solved, then
how satisfied. `storage.followups.answer_by_phone` records them like the resident's own answer,
marked as taken by phone and by whom; "not solved" reopens the issue and tells its owner.

The same questions come in a worker's private chat from their call list (/todo's "📞 Call
No. N": the resolved issues whose resident has no Telegram or blocked the bot), with the
resident's number in the question (the look is logged, as the card's Show contact is).

Every press is re-checked on the server: staff of the issue's community, in its staff group or
a private chat (`cards.card_access`), and the issue still resolved (cancelling aside).
"""

from __future__ import annotations

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.helpers import mention_html

from handlers.residents.followup import RESULTS, SATISFACTIONS
from handlers.shared.common import escape
from handlers.staff.card_delivery import refresh_card
from handlers.staff.cards import PHONE_FOLLOW_UP, Access, card_access, mark_menu
from runtime.buttons import Button
from runtime.context import NotebookContext
from storage.followups import answer_by_phone
from storage.issue_lifecycle import IssueError
from storage.models import IssueStatus, Person
from storage.staff import record_contact_shown

# The card's button is cards.PHONE_FOLLOW_UP; then the resident's answer, and how satisfied.
RESULT = Button("phone.result", int, tuple(RESULTS))
RATE = Button("phone.rate", int, tuple(RESULTS), tuple(SATISFACTIONS))
CANCEL = Button("phone.cancel", int)


async def _resident(context: NotebookContext, access: Access) -> str:
    issue = access.issue
    reporter = await context.session.get(Person, issue.reporter_id) if issue.reporter_id else None
    if reporter is None or not reporter.full_name:
        return context.tr.gettext("the resident")
    return escape(reporter.full_name[:60])


async def _access(
    update: Update, context: NotebookContext, issue_id: int, *, cancelling: bool = False
) -> Access | None:
    """The issue, if the presser is its community's staff pressing in its staff group (else
    they are told so); cancelling aside, only while it waits for the follow-up."""
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    access = await card_access(update, context, issue_id)
    chat = update.effective_chat
    if access is None or chat is None:
        await query.answer(_("Only the community's staff can use this button."), show_alert=True)
        return None
    if not cancelling and access.issue.status != IssueStatus.RESOLVED:
        await query.answer(
            _("No. {number} is no longer waiting for the follow-up.").format(
                number=access.issue.number
            ),
            show_alert=True,
        )
        return None
    return access


async def on_start(update: Update, context: NotebookContext) -> None:
    (issue_id,) = PHONE_FOLLOW_UP.values(update)
    access = await _access(update, context, issue_id)
    if access is not None:
        await _ask_result(update, context, access)


async def on_result(update: Update, context: NotebookContext) -> None:
    assert update.callback_query is not None
    issue_id, result = RESULT.values(update)
    access = await _access(update, context, issue_id)
    if access is not None:
        await _ask_satisfaction(update.callback_query, context, access, result)


async def on_rate(update: Update, context: NotebookContext) -> None:
    assert update.callback_query is not None
    issue_id, result, satisfaction = RATE.values(update)
    access = await _access(update, context, issue_id)
    if access is not None:
        await _record(update.callback_query, context, access, result, satisfaction)


async def on_cancel(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    (issue_id,) = CANCEL.values(update)
    if await _access(update, context, issue_id, cancelling=True) is not None:
        await query.answer()
        await mark_menu(query, context.tr.gettext("Cancelled"))


async def _ask_result(update: Update, context: NotebookContext, access: Access) -> None:
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    _ = context.tr.gettext
    results = [
        InlineKeyboardButton(_(label), callback_data=RESULT.data(access.issue_id, key))
        for key, (_result, label) in RESULTS.items()
    ]
    cancel = [InlineKeyboardButton(_("Cancel"), callback_data=CANCEL.data(access.issue_id))]
    worker = context.person
    question = _("{worker}, please call {resident} and ask whether No. {number} is solved.").format(
        worker=mention_html(worker.telegram_user_id or 0, worker.full_name or "…"),
        resident=await _resident(context, access),
        number=access.issue.number,
    )
    issue = access.issue
    reporter = await context.session.get(Person, issue.reporter_id) if issue.reporter_id else None
    if update.effective_chat.type == "private" and reporter is not None and reporter.phone:
        assert worker.id is not None  # the number, where only this worker reads it; logged
        await record_contact_shown(context.session, issue, actor_id=worker.id, now=context.now())
        question += "\n" + _("Phone: {phone}").format(phone=escape(reporter.phone))
    await query.answer()
    await context.bot.send_message(
        update.effective_chat.id, question, reply_markup=InlineKeyboardMarkup([results, cancel])
    )


async def _ask_satisfaction(
    query: CallbackQuery, context: NotebookContext, access: Access, result: str
) -> None:
    _ = context.tr.gettext
    choices = [
        InlineKeyboardButton(_(label), callback_data=RATE.data(access.issue_id, result, key))
        for key, (_satisfaction, label) in SATISFACTIONS.items()
    ]
    cancel = [InlineKeyboardButton(_("Cancel"), callback_data=CANCEL.data(access.issue_id))]
    text = _("No. {number}: «{answer}». How satisfied is {resident}?").format(
        number=access.issue.number,
        answer=_(RESULTS[result][1]),
        resident=await _resident(context, access),
    )
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=InlineKeyboardMarkup([choices, cancel]))


async def _record(
    query: CallbackQuery, context: NotebookContext, access: Access, result: str, satisfaction: str
) -> None:
    _ = context.tr.gettext
    issue = access.issue
    assert context.person.id is not None
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            await answer_by_phone(
                context.session,
                issue,
                result=RESULTS[result][0],
                satisfaction=SATISFACTIONS[satisfaction][0],
                staff_role=access.role,
                worker_id=context.person.id,
                now=context.now(),
            )
    except IssueError:  # answered meanwhile (by the resident, or another worker's call)
        await query.answer(
            _("No. {number} is no longer waiting for the follow-up.").format(number=issue.number),
            show_alert=True,
        )
        return
    await query.answer()
    answer = ", ".join((_(RESULTS[result][1]), _(SATISFACTIONS[satisfaction][1])))
    if isinstance(query.message, Message):  # the question becomes what was recorded
        await query.message.edit_text(
            _("No. {number}: {resident}'s answer by phone is recorded: {answer}.").format(
                number=issue.number, resident=await _resident(context, access), answer=answer
            ),
            reply_markup=None,
        )
    await refresh_card(context, issue)


HANDLERS = [
    PHONE_FOLLOW_UP.handler(on_start),
    RESULT.handler(on_result),
    RATE.handler(on_rate),
    CANCEL.handler(on_cancel),
]
