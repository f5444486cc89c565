"""Ending an issue's time with its owner: resolve (a note, maybe a photo), return it to the
queue, transfer it to another body, merge it into another issue, reopen it."""

from __future__ import annotations

import re
from datetime import datetime
from functools import partial

from telegram import CallbackQuery, InlineKeyboardButton, Update
from telegram.helpers import mention_html

from handlers.shared.common import escape
from handlers.shared.formats import weekday_label
from handlers.shared.labels import status_label
from handlers.staff.card_steps import (
    Respond,
    ask,
    ask_again,
    ask_for_a_date,
    cancel_button,
    date_question,
    me,
    reason_answer,
    respond_to_message,
    run_step,
    send_menu,
    typing_key,
)
from handlers.staff.cards import Access, community_translator, mark_menu
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import N_
from storage import escalation
from storage import issues as rules
from storage.chat_state import FlowState
from storage.dates import parse_due_date
from storage.issue_lifecycle import OPEN, Action
from storage.issues import NewAttachment
from storage.models import IssueEvent, IssueStatus

# Bodies an issue is commonly transferred to (stored in the community's language).
TRANSFER_BODIES = {
    "street": N_("the street office"),
    "property": N_("the property management company"),
    "utility": N_("the water, power or gas company"),
    "police": N_("the police station"),
    "city": N_("city management"),
}
TRANSFER_TO = Button("card.transferto", int, (*TRANSFER_BODIES, "other"))  # "other": typed
# By when the body should answer: "d" the category's limit, "t" type a date.
TRANSFER_DUE = Button("card.xferdue", int, ("d", "t"))


async def press_transfer_menu(update: Update, context: NotebookContext, access: Access) -> None:
    _ = context.tr.gettext
    rows = [
        [InlineKeyboardButton(_(label), callback_data=TRANSFER_TO.data(access.issue_id, key))]
        for key, label in TRANSFER_BODIES.items()
    ]
    rows.append(
        [
            InlineKeyboardButton(
                _("Another body…"), callback_data=TRANSFER_TO.data(access.issue_id, "other")
            )
        ]
    )
    question = _("{worker}, which body should No. {number} go to?")
    await send_menu(update, context, access, question, rows)


async def press_transfer_to(
    update: Update, context: NotebookContext, access: Access, key: str
) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    if key == "other":
        await query.answer()
        await mark_menu(query, _("Another body…"))
        await ask(update, context, access, "transfer_body")
        return
    label = TRANSFER_BODIES[key]
    # Stored in the community's language: the card and most residents read that one.
    body = community_translator(context.notebook, access.community).gettext(label)
    await query.answer()
    await mark_menu(query, _(label))
    await ask(update, context, access, "transfer_note", to=body)


async def answer_resolve(
    update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    photo: dict[str, str] | None = state.data.get("photo")
    if message.photo:
        biggest = message.photo[-1]
        photo = {"file_id": biggest.file_id, "file_unique_id": biggest.file_unique_id}
    if not text:
        lead = (
            _("Thank you for the photo. Now a few words, please: how was it resolved?")
            if photo
            else _("Please write in words how it was resolved.")
        )
        data = {k: v for k, v in state.data.items() if k not in ("issue", "prompt", "asked")}
        await ask(update, context, access, "resolve", lead=lead, **{**data, "photo": photo})
        return
    issue = access.issue
    attachments = (
        [
            NewAttachment(
                kind="photo",
                telegram_file_id=photo["file_id"],
                file_unique_id=photo["file_unique_id"],
                caption=text,
            )
        ]
        if photo
        else []
    )

    async def do() -> IssueEvent:
        event = await rules.resolve(
            context.session, issue, note=text, actor_id=me(context), now=context.now()
        )
        await rules.add_attachments(context.session, issue, event, attachments, now=context.now())
        return event

    await run_step(
        update,
        context,
        access,
        Action.RESOLVE,
        do,
        respond=respond_to_message(context, message),
        done=_("No. {number} is resolved. The resident will be asked whether it is solved.").format(
            number=issue.number
        ),
        public=True,
    )


async def answer_transfer_body(
    update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
) -> None:
    body = " ".join(text.split())[:200]
    if not body:
        await ask_again(
            update, context, access, state, context.tr.gettext("Please write its name.")
        )
        return
    await ask(update, context, access, "transfer_note", to=body)


async def answer_transfer_note(
    update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
) -> None:
    """The note for the resident is written: ask by when the body should answer (the
    category's limit with one press, or a typed date)."""
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    if not text:
        await ask_again(update, context, access, state, _("Please write a short note."))
        return
    issue = access.issue
    body = str(state.data.get("to", ""))
    default = escalation.transfer_answer_due(
        issue, context.now(), context.notebook.settings.escalation_policy
    )

    def pick(label: str, code: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(label, callback_data=TRANSFER_DUE.data(access.issue_id, code))

    usual = (
        _("By {date} (the community's usual time)")
        if context.notebook.settings.escalation_policy.transfer_answer_within
        else _("By {date} (the category's limit)")
    )
    limit = usual.format(date=context.tr.date(default))
    user_id = typing_key(update)[1]
    await ask_for_a_date(
        update,
        context,
        state,
        step="transfer_due",
        keep={"note": text},
        question=_("{worker}, by when should {body} answer about No. {number}?").format(
            worker=mention_html(user_id, context.person.full_name or str(user_id)),
            body=escape(body),
            number=issue.number,
        ),
        rows=[
            [pick(limit, "d")],
            [pick(_("Type a date…"), "t")],
            [cancel_button(_("Cancel"), issue)],
        ],
    )


async def press_transfer_due(
    update: Update, context: NotebookContext, access: Access, pick: str
) -> None:
    """The answer-date picker under the transfer: the category's limit, or "type a date"."""
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    state = await date_question(update, context, access, "transfer_due")
    if state is None:
        return
    body, note = str(state.data.get("to", "")), str(state.data.get("note", ""))
    if pick == "t":
        await query.answer()
        await mark_menu(query, _("Type a date"))
        await ask(update, context, access, "transfer_due_text", to=body, note=note)
        return
    due = escalation.transfer_answer_due(
        access.issue, context.now(), context.notebook.settings.escalation_policy
    )
    await mark_menu(query, context.tr.date(due))
    respond = _respond_in_group(update, context, query)
    await _save_transfer(update, context, access, body, note, due, respond)


def _respond_in_group(update: Update, context: NotebookContext, query: CallbackQuery) -> Respond:
    """A refusal is the press's alert; the confirmation goes to the group, as it does after a
    typed date, so everyone sees where the issue went and by when."""
    chat_id, _user_id = typing_key(update)

    async def respond(text: str, alert: bool) -> None:
        if alert:
            await query.answer(text[:200], show_alert=True)
            return
        await query.answer()
        await context.bot.send_message(chat_id, escape(text))

    return respond


async def answer_transfer_due_text(
    update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
) -> None:
    """A typed answer date (or a reply to the picker instead of a press), read like the
    plan's due date."""
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    tz = community_translator(context.notebook, access.community).tz
    due = parse_due_date(text, context.now(), tz, context.tr.locale)
    if due is None:
        lead = _("I could not read “{text}” as a date.").format(text=text[:50])
        await ask_again_date(update, context, access, state, lead)
        return
    if due < context.now():
        lead = _("{date} has already passed.").format(date=context.tr.date(due))
        await ask_again_date(update, context, access, state, lead)
        return
    body, note = str(state.data.get("to", "")), str(state.data.get("note", ""))
    await _save_transfer(
        update, context, access, body, note, due, respond_to_message(context, message)
    )


async def ask_again_date(
    update: Update, context: NotebookContext, access: Access, state: FlowState, lead: str
) -> None:
    """Ask for the typed date again (also when the reply was to the picker)."""
    data = {k: v for k, v in state.data.items() if k not in ("issue", "prompt", "asked")}
    await ask(update, context, access, "transfer_due_text", lead=lead, **data)


async def _save_transfer(
    update: Update,
    context: NotebookContext,
    access: Access,
    body: str,
    note: str,
    due: datetime,
    respond: Respond,
) -> None:
    issue = access.issue
    done = context.tr.gettext(
        "No. {number} is transferred to {body}; they should answer by {date}."
    ).format(number=issue.number, body=body, date=weekday_label(context.tr, due))
    step = partial(
        rules.transfer,
        context.session,
        issue,
        to=body,
        note=note,
        answer_by=due,
        actor_id=me(context),
        now=context.now(),
    )
    await run_step(
        update, context, access, Action.TRANSFER, step, respond=respond, done=done, public=True
    )


async def answer_merge(
    update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    issue = access.issue
    found = re.search(r"\d+", text)
    if found is None:
        await ask_again(update, context, access, state, _("Please reply with a number, like 12."))
        return
    number = int(found.group())
    into = await rules.get_issue(context.session, community_id=issue.community_id, number=number)
    if into is None:
        await ask_again(
            update, context, access, state, _("There is no No. {other} here.").format(other=number)
        )
        return
    if into.id == issue.id:
        await ask_again(
            update,
            context,
            access,
            state,
            _("That is No. {number} itself.").format(number=issue.number),
        )
        return
    if IssueStatus(into.status) not in OPEN:
        await ask_again(
            update,
            context,
            access,
            state,
            _("No. {other} is {status}: choose an open issue.").format(
                other=number, status=status_label(context.tr, into.status)
            ),
        )
        return
    target = into
    await run_step(
        update,
        context,
        access,
        Action.MERGE,
        lambda: rules.merge(
            context.session, issue, into=target, actor_id=me(context), now=context.now()
        ),
        respond=respond_to_message(context, message),
        done=_(
            "No. {number} is merged into No. {other}; its supporters now follow No. {other}."
        ).format(number=issue.number, other=number),
        public=True,
        also_refresh=[target],
    )


answer_return = reason_answer(
    Action.RETURN,
    rules.return_issue,
    N_("No. {number} is back in the queue, waiting for a new owner."),
    public=False,
)
answer_reopen = reason_answer(
    Action.REOPEN, rules.reopen, N_("No. {number} is reopened."), public=True
)
