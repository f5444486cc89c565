"""Ending an issue's time with its owner: resolve (a note, maybe a photo), return it to the
queue, transfer it to another body, merge it into another issue, reopen it."""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, Update

from handlers.shared.labels import status_label
from handlers.staff.card_steps import (
    ask,
    ask_again,
    me,
    reason_answer,
    respond_to_message,
    run_step,
    send_menu,
    typed_step,
)
from handlers.staff.cards import Access, community_translator, mark_menu
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import N_
from storage import issues as rules
from storage.chat_state import FlowState
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
    _ = context.tr.gettext
    body = str(state.data.get("to", ""))
    await typed_step(
        update,
        context,
        access,
        state,
        text,
        Action.TRANSFER,
        rules.transfer,
        {"to": body, "note": text},
        done=_("No. {number} is transferred to {body}.").format(
            number=access.issue.number, body=body
        ),
        public=True,
        empty=_("Please write a short note."),
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
