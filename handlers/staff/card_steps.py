"""What every action on an issue card shares: taking a step, asking for words, the prompts.

A step (`run_step`) checks the presser's rights, writes the change in a savepoint (a refused
step undoes itself only), queues the resident's message when it is public, answers, and queues
the card's refresh (`card_delivery.refresh_card`). Words are asked for with a ForceReply prompt
in the staff group that mentions the worker (`ask`); who is typing what for which issue is a
chat_state row keyed by the group and the worker, and the prompt's message id is noted once it
is sent (`AFTER_SEND`). The actions themselves: card_claim (who owns it), card_plan (plan, due
date, notes and replies), card_close (resolve, return, transfer, merge, reopen); card_actions
routes presses and answers to them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import (
    CallbackQuery,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.helpers import mention_html

from handlers.shared.common import escape
from handlers.shared.formats import short_day
from handlers.shared.labels import status_label
from handlers.staff.card_delivery import refresh_card
from handlers.staff.cards import Access, card_access, mark_menu
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.effects import Hook, then
from runtime.i18n import N_
from runtime.rendering import Sent
from storage.chat_state import FlowState, clear_state, get_state, note_prompt, set_state
from storage.issue_lifecycle import (
    OWNER_OR_SECRETARY,
    Action,
    IssueError,
    TransitionNotAllowed,
    may,
    next_status,
)
from storage.models import Issue, IssueEvent
from storage.notifications import notify_audience
from storage.staff import names

FLOW = "card"
EXAMPLE_DAYS = 10  # a typed date's example lies ahead, so it could be typed as it stands

# What the bot asks, per step; {worker} mentions the person so ForceReply targets only them.
QUESTIONS = {
    "plan_text": N_("{worker}, what is the plan for No. {number}? Reply to this message."),
    "due_text": N_(
        "{worker}, by when will No. {number} be done? Reply with a date, "
        "for example 下周五, next Friday, 3天后 or {example}."
    ),
    "note": N_(
        "{worker}, write the internal note for No. {number} (only staff see it). "
        "Reply to this message."
    ),
    "reply": N_(
        "{worker}, write your reply to the resident about No. {number}. "
        "They will receive it. Reply to this message."
    ),
    "resolve": N_(
        "{worker}, how was No. {number} resolved? Reply with a short note. "
        "You may send a photo with the note as its caption."
    ),
    "return": N_("{worker}, why are you handing No. {number} back? Reply with the reason."),
    "summary": N_(
        "{worker}, what is No. {number} about, in one line? Reply to this message; "
        "it becomes the issue's title."
    ),
    "reassign_reason": N_(
        "{worker}, why should No. {number} go to {owner}? Reply with the reason."
    ),
    "group_name": N_(
        "{worker}, which volunteer team or self-governance group takes No. {number}? "
        "Reply with its name."
    ),
    "transfer_body": N_("{worker}, which body takes over No. {number}? Reply with its name."),
    "transfer_note": N_(
        "{worker}, No. {number} goes to {body}. Reply with a note for the resident."
    ),
    "transfer_due_text": N_(
        "{worker}, by when should {body} answer about No. {number}? Reply with a date, "
        "for example 下周五, next Friday, 3天后 or {example}."
    ),
    "merge": N_(
        "{worker}, No. {number} is the same problem as which issue? Reply with its number."
    ),
    "reopen": N_("{worker}, why is No. {number} reopened? Reply with the reason."),
}

Respond = Callable[[str, bool], Awaitable[None]]
Press = Callable[..., Awaitable[None]]  # (update, context, access, *the button's other values)

# --- small pieces ----------------------------------------------------------------------------


def respond_to_press(query: CallbackQuery) -> Respond:
    async def respond(text: str, alert: bool) -> None:
        # after the update's commit (delivery/answers.py); alerts are plain text, ≤ 200 chars
        await query.answer(text[:200], show_alert=alert)

    return respond


def respond_to_message(context: NotebookContext, message: Message) -> Respond:
    async def respond(text: str, alert: bool) -> None:
        # A reply goes out at once, unlike a press's answer: only once the step is safe.
        await message.reply_text(escape(text))

    return respond


def me(context: NotebookContext) -> int:
    assert context.person.id is not None
    return context.person.id


def refusal(context: NotebookContext, action: Action, issue: Issue) -> str:
    _ = context.tr.gettext
    if action in OWNER_OR_SECRETARY or (action is Action.ASSIGN and issue.owner_id is not None):
        return _("Only the owner of No. {number} or the secretary can do this.").format(
            number=issue.number
        )
    return _("Only the community's staff can use this button.")


async def _owner_name(context: NotebookContext, issue: Issue) -> str:
    if issue.owner_id is not None:
        return (await names(context.session, [issue.owner_id])).get(issue.owner_id, "")
    return issue.owner_group or ""


async def conflict_text(context: NotebookContext, issue: Issue, action: Action) -> str:
    """What to say when someone else changed the issue first (plain text: alerts and replies)."""
    _ = context.tr.gettext
    owner = await _owner_name(context, issue)
    if action is Action.CLAIM and owner:
        return _("Already claimed by {name}.").format(name=owner)
    return _("No. {number} is {status} now: nothing was changed. Please look at the card.").format(
        number=issue.number, status=status_label(context.tr, issue.status)
    )


async def _fresh(context: NotebookContext, issue_id: int) -> Issue:
    issue = await context.session.get(Issue, issue_id, populate_existing=True)
    assert issue is not None
    return issue


async def run_step(
    update: Update,
    context: NotebookContext,
    access: Access,
    action: Action,
    do: Callable[[], Awaitable[IssueEvent]],
    *,
    respond: Respond,
    done: str,
    public: bool,
    ends_question: bool = True,
    also_refresh: Sequence[Issue] = (),
) -> bool:
    """Take one step: check rights, write it (with the resident's notification when public),
    answer, then queue the card(s)' refresh: all of it reaches Telegram once the update has
    committed (a typed reply commits first, see `respond_to_message`). A race or a stale card
    changes nothing and says so.

    `ends_question`: the step answers the worker's open question, which is then closed; a
    one-tap action leaves whatever they are typing elsewhere alone."""
    issue = access.issue
    assert issue.id is not None
    chat_id, user_id = typing_key(update)

    async def close_question() -> None:
        if ends_question:
            await clear_state(context.session, chat_id=chat_id, user_id=user_id)

    if not may(action, role=access.role, person_id=me(context), issue=issue):
        await close_question()
        await respond(refusal(context, action, issue), True)
        return False
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            event = await do()
    except IssueError:  # ConcurrentChange, TransitionNotAllowed: someone else was first
        fresh = await _fresh(context, issue.id)
        await close_question()
        await respond(await conflict_text(context, fresh, action), True)
        return False
    if public:
        await notify_audience(context.session, issue, event, now=context.now())
    await close_question()
    await respond(done, False)
    await refresh_card(context, issue)
    for other in also_refresh:
        await refresh_card(context, other)
    return True


def typing_key(update: Update) -> tuple[int, int]:
    """The chat_state key of the person acting: the chat they act in, and who they are."""
    assert update.effective_chat is not None and update.effective_user is not None
    return update.effective_chat.id, update.effective_user.id


async def date_question(
    update: Update, context: NotebookContext, access: Access, step: str
) -> FlowState | None:
    """The presser's open date question (`step`) about this issue; anyone else, or a question
    that has moved on, is told so and gets None."""
    query = update.callback_query
    assert query is not None
    chat_id, user_id = typing_key(update)
    state = await get_state(context.session, chat_id=chat_id, user_id=user_id)
    if (
        state is None
        or state.flow != FLOW
        or state.step != step
        or state.data.get("issue") != access.issue.id
    ):
        await query.answer(
            context.tr.gettext("This question is for someone else, or it has expired."),
            show_alert=True,
        )
        return None
    return state


async def ask_for_a_date(
    update: Update,
    context: NotebookContext,
    state: FlowState,
    *,
    step: str,
    keep: dict[str, Any],
    question: str,
    rows: list[list[InlineKeyboardButton]],
) -> None:
    """After a typed answer (a plan, a note to the resident): remember it with the rest of the
    flow (`keep`), and ask the worker for a date with buttons (the due date, the answer date)."""
    message = update.effective_message
    assert message is not None
    chat_id, user_id = typing_key(update)
    data = {k: v for k, v in state.data.items() if k != "prompt"}
    await set_state(
        context.session,
        chat_id=chat_id,
        user_id=user_id,
        flow=FLOW,
        step=step,
        data={**data, **keep, "sending": update.update_id},
        now=context.now(),
    )
    with then(PROMPT_SENT, chat_id=chat_id, user_id=user_id, sending=update.update_id):
        await message.reply_text(question, reply_markup=InlineKeyboardMarkup(rows))


async def ask(
    update: Update,
    context: NotebookContext,
    access: Access,
    step: str,
    *,
    lead: str | None = None,
    **data: Any,
) -> None:
    """Ask the worker for words with a ForceReply prompt, and remember what the answer is for."""
    _ = context.tr.gettext
    chat_id, user_id = typing_key(update)
    worker = mention_html(user_id, context.person.full_name or str(user_id))
    question = _(QUESTIONS[step]).format(
        worker=worker,
        number=access.issue.number,
        owner=escape(str(data.get("owner_label", ""))),
        body=escape(str(data.get("to", ""))),
        example=short_day(context.tr, context.now() + timedelta(days=EXAMPLE_DAYS)),
    )
    if lead:
        question = f"{escape(lead)}\n{question}"
    await set_state(
        context.session,
        chat_id=chat_id,
        user_id=user_id,
        flow=FLOW,
        step=step,
        data={**data, "issue": access.issue.id, "sending": update.update_id},
        now=context.now(),
    )
    with then(PROMPT_SENT, chat_id=chat_id, user_id=user_id, sending=update.update_id):
        await context.bot.send_message(
            chat_id,
            question,
            reply_markup=ForceReply(selective=True, input_field_placeholder=_("Type your answer")),
        )


async def _prompt_sent(session: AsyncSession, sent: Sent, args: dict[str, Any]) -> None:
    """After a prompt went out: the worker's answer is a reply to this message. Noted apart
    from the flow's state (storage/chat_state.py: `note_prompt`), which this hook never
    writes: the worker's next update may be writing it at this very moment. The state's
    `sending` (the update that asked) says which noted prompt is the current question; every
    kept prompt lets a reply to an older one be told which question to answer."""
    await note_prompt(
        session,
        chat_id=int(args["chat_id"]),
        user_id=int(args["user_id"]),
        sending=int(args["sending"]),
        message_id=sent.message_id,
        now=sent.date,
    )


PROMPT_SENT = "card_actions.prompt_sent"  # its old name: kept answers waiting to be sent use it
AFTER_SEND: dict[str, Hook] = {PROMPT_SENT: _prompt_sent}


async def one_tap(
    update: Update,
    context: NotebookContext,
    access: Access,
    action: Action,
    step: Callable[..., Awaitable[IssueEvent]],
    done: str,
    *,
    public: bool = True,
    **values: Any,
) -> None:
    """A step taken with one press (accept, claim, difficulty, an owner picked in the menu): no
    question asked, and whatever the worker is typing elsewhere stays open. `step` is the
    domain function, called with `values`."""
    query = update.callback_query
    assert query is not None
    issue = access.issue
    await run_step(
        update,
        context,
        access,
        action,
        lambda: step(context.session, issue, actor_id=me(context), now=context.now(), **values),
        respond=respond_to_press(query),
        done=done,
        public=public,
        ends_question=False,
    )


def asker(step: str) -> Press:
    """A press that only asks for words (`step`'s question)."""

    async def press(update: Update, context: NotebookContext, access: Access) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer()
        await ask(update, context, access, step)

    return press


def card_press(button: Button, action: Action, press: Press, *, one_tap: bool = False) -> Any:
    """The handler of a card button (or of a menu sent for a card) whose first value is the
    issue's id: the press counts only if the presser may take `action` on that issue now
    (`cards.card_access`, `storage.issues.may`, the state table), and only in the staff group
    unless it is a `one_tap` action, which a private chat's /todo offers too. Then `press`
    gets the button's other values."""

    async def on_press(update: Update, context: NotebookContext) -> None:
        query = update.callback_query
        assert query is not None
        _ = context.tr.gettext
        issue_id, *values = button.values(update)
        access = await card_access(update, context, issue_id)
        if access is None:
            await query.answer(
                _("Only the community's staff can use this button."), show_alert=True
            )
            return
        issue = access.issue
        if not may(action, role=access.role, person_id=me(context), issue=issue):
            await query.answer(refusal(context, action, issue), show_alert=True)
            return
        try:
            next_status(issue.status, action)
        except TransitionNotAllowed:
            # The card already shows the newer state: whoever changed it refreshed it.
            await query.answer((await conflict_text(context, issue, action))[:200], show_alert=True)
            return
        chat = update.effective_chat
        if chat is not None and chat.type == "private" and not one_tap:
            await query.answer(_("Please do this on the card in the staff group."), show_alert=True)
            return
        await press(update, context, access, *values)

    return button.handler(on_press)


CANCEL = Button("card.cancel", int)  # under a menu sent for a card: closes it


async def on_cancel(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    (issue_id,) = CANCEL.values(update)
    access = await card_access(update, context, issue_id)
    if access is None:
        await query.answer(
            context.tr.gettext("Only the community's staff can use this button."), show_alert=True
        )
        return
    chat_id, user_id = typing_key(update)
    state = await get_state(context.session, chat_id=chat_id, user_id=user_id)
    if state is not None and state.flow == FLOW and state.data.get("issue") == access.issue.id:
        await clear_state(context.session, chat_id=chat_id, user_id=user_id)
    await query.answer()
    await mark_menu(query, context.tr.gettext("Cancelled"))


def cancel_button(label: str, issue: Issue) -> InlineKeyboardButton:
    assert issue.id is not None
    return InlineKeyboardButton(label, callback_data=CANCEL.data(issue.id))


async def send_menu(
    update: Update,
    context: NotebookContext,
    access: Access,
    question: str,
    rows: list[list[InlineKeyboardButton]],
) -> None:
    """A menu sent for a card, under the press that asked for it: `question` (a translated
    text with {worker} and {number}) mentions the worker, and a Cancel row closes it."""
    query = update.callback_query
    assert query is not None
    chat_id, user_id = typing_key(update)
    text = question.format(
        worker=mention_html(user_id, context.person.full_name or str(user_id)),
        number=access.issue.number,
    )
    rows = [*rows, [cancel_button(context.tr.gettext("Cancel"), access.issue)]]
    await query.answer()
    await context.bot.send_message(chat_id, text, reply_markup=InlineKeyboardMarkup(rows))


async def ask_again(
    update: Update, context: NotebookContext, access: Access, state: FlowState, lead: str
) -> None:
    data = {k: v for k, v in state.data.items() if k not in ("issue", "prompt", "asked")}
    await ask(update, context, access, state.step, lead=lead, **data)


Answer = Callable[[Update, NotebookContext, Access, FlowState, str], Awaitable[None]]


async def typed_step(
    update: Update,
    context: NotebookContext,
    access: Access,
    state: FlowState,
    text: str,
    action: Action,
    step: Callable[..., Awaitable[IssueEvent]],
    values: dict[str, Any],
    *,
    done: str,
    public: bool,
    empty: str,
    also_refresh: Sequence[Issue] = (),
) -> None:
    """A step taken with the worker's words, the answer to a prompt: asked again (`empty`
    leading the question) when there are none. `step` is the domain function, called with
    `values` (the words under the name it takes them by)."""
    message = update.effective_message
    assert message is not None
    if not text:
        await ask_again(update, context, access, state, empty)
        return
    issue = access.issue
    await run_step(
        update,
        context,
        access,
        action,
        lambda: step(context.session, issue, actor_id=me(context), now=context.now(), **values),
        respond=respond_to_message(context, message),
        done=done,
        public=public,
        also_refresh=also_refresh,
    )


def reason_answer(
    action: Action, step: Callable[..., Awaitable[IssueEvent]], done: str, *, public: bool
) -> Answer:
    """The answer to a prompt asking for a reason (return, reopen): `done` is a msgid."""

    async def answer(
        update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
    ) -> None:
        _ = context.tr.gettext
        await typed_step(
            update,
            context,
            access,
            state,
            text,
            action,
            step,
            {"reason": text},
            done=_(done).format(number=access.issue.number),
            public=public,
            empty=_("Please give a reason."),
        )

    return answer
