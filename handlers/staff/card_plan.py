"""The plan and the work on it: the plan in words, its due date (a quick pick or a typed date),
internal notes and public replies to the resident."""

from __future__ import annotations

from datetime import datetime

from telegram import InlineKeyboardButton, Update
from telegram.helpers import mention_html

from handlers.shared.formats import weekday_label
from handlers.staff.card_steps import (
    Answer,
    Respond,
    ask,
    ask_again,
    ask_for_a_date,
    cancel_button,
    date_question,
    me,
    respond_to_message,
    respond_to_press,
    run_step,
    typed_step,
    typing_key,
)
from handlers.staff.cards import Access, community_translator, mark_menu
from runtime.buttons import Button
from runtime.context import NotebookContext
from storage import issues as rules
from storage.chat_state import FlowState
from storage.dates import due_in_days, parse_due_date
from storage.issue_lifecycle import Action

DUE_PICKS = {"0": 0, "3": 3, "7": 7}  # in so many days
# The due-date picker under the plan: a quick pick, "n" no due date, "t" type a date.
DUE = Button("card.due", int, (*DUE_PICKS, "n", "t"))


async def press_plan(update: Update, context: NotebookContext, access: Access) -> None:
    assert update.callback_query is not None
    await update.callback_query.answer()
    await ask(update, context, access, "plan_text")


async def press_due(update: Update, context: NotebookContext, access: Access, pick: str) -> None:
    """The due-date picker under the plan: a quick pick, none, or "type a date"."""
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    state = await date_question(update, context, access, "plan_due")
    if state is None:
        return
    plan = str(state.data.get("plan", ""))
    if pick == "t":
        await query.answer()
        await mark_menu(query, _("Type a date"))
        await ask(update, context, access, "due_text", plan=plan)
        return
    if pick == "n":
        due = None
        choice = _("No due date")
    else:
        tz = community_translator(context.notebook, access.community).tz
        due = due_in_days(DUE_PICKS[pick], now=context.now(), tz=tz)
        choice = context.tr.date(due)
    await mark_menu(query, choice)
    await _save_plan(update, context, access, plan, due, respond_to_press(query))


async def _save_plan(
    update: Update,
    context: NotebookContext,
    access: Access,
    plan: str,
    due: datetime | None,
    respond: Respond,
) -> None:
    issue = access.issue
    await run_step(
        update,
        context,
        access,
        Action.PLAN,
        lambda: rules.set_plan(
            context.session, issue, plan=plan, due_at=due, actor_id=me(context), now=context.now()
        ),
        respond=respond,
        done=saved_text(context, issue.number, due),
        public=True,
    )


def saved_text(context: NotebookContext, number: int, due: datetime | None) -> str:
    """The plan is saved, with its due date as read back (with the weekday), so a date typed
    as "下周五" is seen as the day it became."""
    _ = context.tr.gettext
    if due is None:
        return _("The plan for No. {number} is saved.").format(number=number)
    return _("The plan for No. {number} is saved: done by {date}.").format(
        number=number, date=weekday_label(context.tr, due)
    )


async def answer_plan_text(
    update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    if not text:
        await ask_again(update, context, access, state, _("Please write the plan in words."))
        return
    issue = access.issue

    def pick(label: str, code: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(label, callback_data=DUE.data(access.issue_id, code))

    user_id = typing_key(update)[1]
    await ask_for_a_date(
        update,
        context,
        state,
        step="plan_due",
        keep={"plan": text},
        question=_("{worker}, by when will No. {number} be done?").format(
            worker=mention_html(user_id, context.person.full_name or str(user_id)),
            number=issue.number,
        ),
        rows=[
            [pick(_("Today"), "0"), pick(_("In 3 days"), "3"), pick(_("In a week"), "7")],
            [pick(_("Type a date…"), "t"), pick(_("No due date"), "n")],
            [cancel_button(_("Cancel"), issue)],
        ],
    )


async def answer_due_text(
    update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    tz = community_translator(context.notebook, access.community).tz
    due = parse_due_date(text, context.now(), tz, context.tr.locale)
    if due is None:
        await ask_again(
            update,
            context,
            access,
            state,
            _("I could not read “{text}” as a date.").format(text=text[:50]),
        )
        return
    if due < context.now():
        await ask_again(
            update,
            context,
            access,
            state,
            _("{date} has already passed.").format(date=context.tr.date(due)),
        )
        return
    plan = str(state.data.get("plan", ""))
    await _save_plan(update, context, access, plan, due, respond_to_message(context, message))


def progress_answer(public: bool) -> Answer:
    """The answer to "write the internal note" (`public` False) or "write your reply"."""

    async def answer(
        update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
    ) -> None:
        _ = context.tr.gettext
        done = (
            _("Your reply about No. {number} is on its way to the resident.")
            if public
            else _("The note on No. {number} is saved.")
        )
        await typed_step(
            update,
            context,
            access,
            state,
            text,
            Action.PROGRESS,
            rules.add_progress,
            {"text": text, "public": public},
            done=done.format(number=access.issue.number),
            public=public,
            empty=_("Please write it in words."),
        )

    return answer


async def answer_stale_picker(
    update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
) -> None:
    """Someone replied to the due-date picker instead of pressing a button: take it as a date."""
    await answer_due_text(update, context, access, state, text)
