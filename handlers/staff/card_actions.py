"""Acting on an issue card: the buttons staff press in the staff group and the answers they type.

One design for typed input: the bot asks in the staff group with a ForceReply prompt that
mentions the worker (privacy mode only lets the bot see replies to its own messages), and the
worker answers by replying to that prompt. "Who is typing what for which issue" is a chat_state
row keyed by the group and the worker, so a restart between question and answer loses nothing.
Only one-tap actions (accept, claim, difficulty) also work from a private chat, where /todo
offers them; everything that needs words happens on the card, in the group.

Every press and every answer is re-checked on the server (callback data is forgeable): the
issue must belong to a community where the person is staff, a group press counts only in that
community's staff group (`cards.card_access`), and `storage.issues.may` decides the rest. Public
steps queue a message to the resident (`notify_audience`) in the same transaction; after the
commit the card is edited in place.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
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
from telegram.ext import CallbackQueryHandler, MessageHandler, filters
from telegram.helpers import mention_html

from handlers.shared.common import escape
from handlers.shared.labels import status_label
from handlers.staff.cards import (
    ACT,
    Access,
    card_access,
    community_translator,
    mark_menu,
    refresh_card,
)
from runtime.context import NotebookContext
from runtime.effects import Hook, then
from runtime.i18n import N_
from runtime.rendering import Sent
from storage import issues as rules
from storage.chat_state import FlowState, clear_state, get_state, set_state
from storage.dates import due_in_days, parse_due_date
from storage.issue_lifecycle import OPEN, Action, IssueError, TransitionNotAllowed, next_status
from storage.issues import OWNER_OR_SECRETARY, NewAttachment
from storage.models import Difficulty, Issue, IssueEvent, IssueStatus, Role
from storage.notifications import notify_audience
from storage.staff import names, staff_members

FLOW = "card"
ASKED_KEPT = 10  # earlier prompts remembered, to tell someone they answered an old question

# verb in the callback data -> the lifecycle action whose rights and state it needs
VERBS: dict[str, Action] = {
    "acc": Action.ACCEPT,
    "clm": Action.CLAIM,
    "dif": Action.CLASSIFY,
    "asg": Action.ASSIGN,  # opens the owner menu (assign, or reassign with a reason)
    "own": Action.ASSIGN,  # own:<person id>, chosen in that menu
    "ogr": Action.ASSIGN,  # a volunteer team or self-governance group, typed
    "pln": Action.PLAN,
    "due": Action.PLAN,  # due:<0|3|7|n|t>, the plan's due date
    "nin": Action.PROGRESS,  # internal note
    "pub": Action.PROGRESS,  # public reply to the resident
    "res": Action.RESOLVE,
    "ret": Action.RETURN,
    "trf": Action.TRANSFER,  # opens the menu of bodies
    "tto": Action.TRANSFER,  # tto:<body key>
    "mrg": Action.MERGE,
    "rop": Action.REOPEN,
}
ONE_TAP = frozenset({"acc", "clm", "dif"})  # need no typing: allowed in a private chat too
DIFFICULTIES = {"s": Difficulty.ON_THE_SPOT, "c": Difficulty.COORDINATION, "e": Difficulty.ESCALATE}
DUE_PICKS = {"0": 0, "3": 3, "7": 7}

# Bodies an issue is commonly transferred to (stored in the community's language).
TRANSFER_BODIES = {
    "street": N_("the street office"),
    "property": N_("the property management company"),
    "utility": N_("the water, power or gas company"),
    "police": N_("the police station"),
    "city": N_("city management"),
}

# What the bot asks, per step; {worker} mentions the person so ForceReply targets only them.
QUESTIONS = {
    "plan_text": N_("{worker}, what is the plan for No. {number}? Reply to this message."),
    "due_text": N_(
        "{worker}, by when will No. {number} be done? Reply with a date, "
        "for example 下周五, next Friday, 12-05 or 2026-12-05."
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
    "merge": N_(
        "{worker}, No. {number} is the same problem as which issue? Reply with its number."
    ),
    "reopen": N_("{worker}, why is No. {number} reopened? Reply with the reason."),
}

Respond = Callable[[str, bool], Awaitable[None]]


# --- small pieces ----------------------------------------------------------------------------


def _respond_to_press(query: CallbackQuery) -> Respond:
    async def respond(text: str, alert: bool) -> None:
        # after the update's commit (delivery/answers.py); alerts are plain text, ≤ 200 chars
        await query.answer(text[:200], show_alert=alert)

    return respond


def _respond_to_message(context: NotebookContext, message: Message) -> Respond:
    async def respond(text: str, alert: bool) -> None:
        # A reply goes out at once, unlike a press's answer: only once the step is safe.
        await message.reply_text(escape(text))

    return respond


def _me(context: NotebookContext) -> int:
    assert context.person.id is not None
    return context.person.id


def _refusal(context: NotebookContext, action: Action, issue: Issue) -> str:
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


async def _conflict_text(context: NotebookContext, issue: Issue, action: Action) -> str:
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
    answer, then edit the card(s) in place: all of it reaches Telegram once the update has
    committed (a typed reply commits first, see `_respond_to_message`). A race or a stale card
    changes nothing and says so.

    `ends_question`: the step answers the worker's open question, which is then closed; a
    one-tap action leaves whatever they are typing elsewhere alone."""
    issue = access.issue
    assert issue.id is not None
    chat_id, user_id = _typing_key(update)

    async def close_question() -> None:
        if ends_question:
            await clear_state(context.session, chat_id=chat_id, user_id=user_id)

    if not rules.may(action, role=access.role, person_id=_me(context), issue=issue):
        await close_question()
        await respond(_refusal(context, action, issue), True)
        return False
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            event = await do()
    except IssueError:  # ConcurrentChange, TransitionNotAllowed: someone else was first
        fresh = await _fresh(context, issue.id)
        await close_question()
        await respond(await _conflict_text(context, fresh, action), True)
        return False
    if public:
        await notify_audience(context.session, issue, event, now=context.now())
    await close_question()
    await respond(done, False)
    await refresh_card(context, issue)
    for other in also_refresh:
        await refresh_card(context, other)
    return True


def _typing_key(update: Update) -> tuple[int, int]:
    """The chat_state key of the person acting: the chat they act in, and who they are."""
    assert update.effective_chat is not None and update.effective_user is not None
    return update.effective_chat.id, update.effective_user.id


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
    chat_id, user_id = _typing_key(update)
    worker = mention_html(user_id, context.person.full_name or str(user_id))
    question = _(QUESTIONS[step]).format(
        worker=worker,
        number=access.issue.number,
        owner=escape(str(data.get("owner_label", ""))),
        body=escape(str(data.get("to", ""))),
    )
    if lead:
        question = f"{escape(lead)}\n{question}"
    previous = await get_state(context.session, chat_id=chat_id, user_id=user_id)
    asked = list(previous.data.get("asked", [])) if previous and previous.flow == FLOW else []
    await set_state(
        context.session,
        chat_id=chat_id,
        user_id=user_id,
        flow=FLOW,
        step=step,
        data={**data, "issue": access.issue.id, "asked": asked, "sending": update.update_id},
        now=context.now(),
    )
    with then(PROMPT_SENT, chat_id=chat_id, user_id=user_id, sending=update.update_id):
        await context.bot.send_message(
            chat_id,
            question,
            reply_markup=ForceReply(selective=True, input_field_placeholder=_("Type your answer")),
        )


async def _prompt_sent(session: AsyncSession, sent: Sent, args: dict[str, Any]) -> None:
    """After a prompt went out: the worker's answer is a reply to this message (the state's
    "prompt"), if the state is still the one that asked (`sending`: the update that wrote it).
    Every prompt is kept in "asked", so that a reply to an older one is told which question to
    answer, even when a newer question overtook this one before it was sent."""
    chat_id, user_id = int(args["chat_id"]), int(args["user_id"])
    state = await get_state(session, chat_id=chat_id, user_id=user_id)
    if state is None or state.flow != FLOW:
        return
    data = dict(state.data)
    if data.get("sending") == args["sending"]:
        del data["sending"]
        data["prompt"] = sent.message_id
    data["asked"] = [*list(data.get("asked", []))[-ASKED_KEPT:], sent.message_id]
    await set_state(
        session,
        chat_id=chat_id,
        user_id=user_id,
        flow=state.flow,
        step=state.step,
        data=data,
        now=sent.date,
    )


PROMPT_SENT = "card_actions.prompt_sent"
AFTER_SEND: dict[str, Hook] = {PROMPT_SENT: _prompt_sent}


# --- button presses --------------------------------------------------------------------------


async def on_press(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _ = context.tr.gettext
    verb, _sep, rest = query.data.removeprefix(ACT).partition(":")
    raw_id, _sep, arg = rest.partition(":")
    access = await card_access(update, context, raw_id)
    if verb == "x" and access is not None:
        await cancel(update, context, access)
        return
    action = VERBS.get(verb)
    if access is None or action is None:
        await query.answer(_("Only the community's staff can use this button."), show_alert=True)
        return
    issue = access.issue
    if not rules.may(action, role=access.role, person_id=_me(context), issue=issue):
        await query.answer(_refusal(context, action, issue), show_alert=True)
        return
    try:
        next_status(issue.status, action)
    except TransitionNotAllowed:
        # The card already shows the newer state: whoever changed it refreshed it.
        await query.answer((await _conflict_text(context, issue, action))[:200], show_alert=True)
        return
    chat = update.effective_chat
    if chat is not None and chat.type == "private" and verb not in ONE_TAP:
        await query.answer(_("Please do this on the card in the staff group."), show_alert=True)
        return
    await PRESSES[verb](update, context, access, arg)


async def _one_tap(
    update: Update,
    context: NotebookContext,
    access: Access,
    action: Action,
    step: Callable[..., Awaitable[IssueEvent]],
    done: str,
) -> None:
    """A step taken with one press on the card (accept, claim): no question asked."""
    query = update.callback_query
    assert query is not None
    issue = access.issue
    await run_step(
        update,
        context,
        access,
        action,
        lambda: step(context.session, issue, actor_id=_me(context), now=context.now()),
        respond=_respond_to_press(query),
        done=done.format(number=issue.number),
        public=True,
        ends_question=False,
    )


async def press_accept(update: Update, context: NotebookContext, access: Access, arg: str) -> None:
    done = context.tr.gettext("No. {number} is accepted.")
    await _one_tap(update, context, access, Action.ACCEPT, rules.accept, done)


async def press_claim(update: Update, context: NotebookContext, access: Access, arg: str) -> None:
    done = context.tr.gettext("No. {number} is yours now.")
    await _one_tap(update, context, access, Action.CLAIM, rules.claim, done)


async def press_difficulty(
    update: Update, context: NotebookContext, access: Access, arg: str
) -> None:
    query = update.callback_query
    assert query is not None
    difficulty = DIFFICULTIES.get(arg)
    if difficulty is None:
        await query.answer(context.tr.gettext("This button is no longer valid."), show_alert=True)
        return
    issue = access.issue
    await run_step(
        update,
        context,
        access,
        Action.CLASSIFY,
        lambda: rules.classify(
            context.session, issue, difficulty=difficulty, actor_id=_me(context), now=context.now()
        ),
        respond=_respond_to_press(query),
        done=context.tr.gettext("Saved."),
        public=False,
        ends_question=False,
    )


async def press_owner_menu(
    update: Update, context: NotebookContext, access: Access, arg: str
) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    issue = access.issue
    rows = []
    for person, role in (await staff_members(context.session, access.community.id or 0))[:30]:
        if person.id == issue.owner_id:
            continue
        label = person.full_name[:40] or str(person.id)
        if role is Role.SECRETARY:
            label = _("{name} (secretary)").format(name=label)
        rows.append([InlineKeyboardButton(label, callback_data=f"{ACT}own:{issue.id}:{person.id}")])
    rows.append(
        [
            InlineKeyboardButton(
                _("A volunteer team or group…"), callback_data=f"{ACT}ogr:{issue.id}"
            )
        ]
    )
    rows.append([InlineKeyboardButton(_("Cancel"), callback_data=f"{ACT}x:{issue.id}")])
    chat_id, user_id = _typing_key(update)
    question = _("{worker}, who should own No. {number}?").format(
        worker=mention_html(user_id, context.person.full_name or str(user_id)), number=issue.number
    )
    await query.answer()
    await context.bot.send_message(chat_id, question, reply_markup=InlineKeyboardMarkup(rows))


async def press_owner(update: Update, context: NotebookContext, access: Access, arg: str) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    issue = access.issue
    staff = {p.id: p for p, _role in await staff_members(context.session, access.community.id or 0)}
    owner = staff.get(int(arg)) if arg.isdigit() else None
    if owner is None or owner.id is None:  # forged, or no longer staff
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    if owner.id == issue.owner_id:
        await query.answer(
            _("{name} already owns No. {number}.").format(
                name=owner.full_name, number=issue.number
            ),
            show_alert=True,
        )
        return
    await mark_menu(query, owner.full_name)
    if issue.owner_id is not None or issue.owner_group is not None:  # 改派 needs a reason
        await query.answer()
        await ask(
            update,
            context,
            access,
            "reassign_reason",
            owner_id=owner.id,
            owner_label=owner.full_name,
        )
        return
    owner_id = owner.id
    await run_step(
        update,
        context,
        access,
        Action.ASSIGN,
        lambda: rules.assign(
            context.session, issue, owner_id=owner_id, actor_id=_me(context), now=context.now()
        ),
        respond=_respond_to_press(query),
        done=_("{name} now owns No. {number}.").format(name=owner.full_name, number=issue.number),
        public=True,
        ends_question=False,
    )


async def press_owner_group(
    update: Update, context: NotebookContext, access: Access, arg: str
) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await mark_menu(query, context.tr.gettext("A volunteer team or group…"))
    await ask(update, context, access, "group_name")


async def press_plan(update: Update, context: NotebookContext, access: Access, arg: str) -> None:
    assert update.callback_query is not None
    await update.callback_query.answer()
    await ask(update, context, access, "plan_text")


async def press_due(update: Update, context: NotebookContext, access: Access, arg: str) -> None:
    """The due-date picker under the plan: a quick pick, none, or "type a date"."""
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    chat_id, user_id = _typing_key(update)
    state = await get_state(context.session, chat_id=chat_id, user_id=user_id)
    if (
        state is None
        or state.flow != FLOW
        or state.step != "plan_due"
        or state.data.get("issue") != access.issue.id
    ):
        await query.answer(
            _("This question is for someone else, or it has expired."), show_alert=True
        )
        return
    plan = str(state.data.get("plan", ""))
    if arg == "t":
        await query.answer()
        await mark_menu(query, _("Type a date"))
        await ask(update, context, access, "due_text", plan=plan)
        return
    if arg == "n":
        due = None
        choice = _("No due date")
    elif arg in DUE_PICKS:
        tz = community_translator(context.notebook, access.community).tz
        due = due_in_days(DUE_PICKS[arg], now=context.now(), tz=tz)
        choice = context.tr.date(due)
    else:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    await mark_menu(query, choice)
    await _save_plan(update, context, access, plan, due, _respond_to_press(query))


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
            context.session, issue, plan=plan, due_at=due, actor_id=_me(context), now=context.now()
        ),
        respond=respond,
        done=context.tr.gettext("The plan for No. {number} is saved.").format(number=issue.number),
        public=True,
    )


def _asker(step: str) -> Callable[[Update, NotebookContext, Access, str], Awaitable[None]]:
    async def press(update: Update, context: NotebookContext, access: Access, arg: str) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer()
        await ask(update, context, access, step)

    return press


async def press_transfer_menu(
    update: Update, context: NotebookContext, access: Access, arg: str
) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    issue = access.issue
    rows = [
        [InlineKeyboardButton(_(label), callback_data=f"{ACT}tto:{issue.id}:{key}")]
        for key, label in TRANSFER_BODIES.items()
    ]
    rows.append(
        [InlineKeyboardButton(_("Another body…"), callback_data=f"{ACT}tto:{issue.id}:other")]
    )
    rows.append([InlineKeyboardButton(_("Cancel"), callback_data=f"{ACT}x:{issue.id}")])
    chat_id, user_id = _typing_key(update)
    question = _("{worker}, which body should No. {number} go to?").format(
        worker=mention_html(user_id, context.person.full_name or str(user_id)), number=issue.number
    )
    await query.answer()
    await context.bot.send_message(chat_id, question, reply_markup=InlineKeyboardMarkup(rows))


async def press_transfer_to(
    update: Update, context: NotebookContext, access: Access, arg: str
) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    if arg == "other":
        await query.answer()
        await mark_menu(query, _("Another body…"))
        await ask(update, context, access, "transfer_body")
        return
    label = TRANSFER_BODIES.get(arg)
    if label is None:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    # Stored in the community's language: the card and most residents read that one.
    body = community_translator(context.notebook, access.community).gettext(label)
    await query.answer()
    await mark_menu(query, _(label))
    await ask(update, context, access, "transfer_note", to=body)


async def cancel(update: Update, context: NotebookContext, access: Access) -> None:
    query = update.callback_query
    assert query is not None
    chat_id, user_id = _typing_key(update)
    state = await get_state(context.session, chat_id=chat_id, user_id=user_id)
    if state is not None and state.flow == FLOW and state.data.get("issue") == access.issue.id:
        await clear_state(context.session, chat_id=chat_id, user_id=user_id)
    await query.answer()
    await mark_menu(query, context.tr.gettext("Cancelled"))


PRESSES: dict[str, Callable[[Update, NotebookContext, Access, str], Awaitable[None]]] = {
    "acc": press_accept,
    "clm": press_claim,
    "dif": press_difficulty,
    "asg": press_owner_menu,
    "own": press_owner,
    "ogr": press_owner_group,
    "pln": press_plan,
    "due": press_due,
    "nin": _asker("note"),
    "pub": _asker("reply"),
    "res": _asker("resolve"),
    "ret": _asker("return"),
    "trf": press_transfer_menu,
    "tto": press_transfer_to,
    "mrg": _asker("merge"),
    "rop": _asker("reopen"),
}


# --- typed answers ---------------------------------------------------------------------------


async def on_answer(update: Update, context: NotebookContext) -> None:
    """A reply in the staff group to one of the bot's messages: maybe the answer to a prompt."""
    message = update.effective_message
    assert message is not None
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
        return
    chat_id, user_id = _typing_key(update)
    state = await get_state(context.session, chat_id=chat_id, user_id=user_id)
    if state is None or state.flow != FLOW:
        return  # a remark under the card, or an answer to someone else's question
    _ = context.tr.gettext
    prompt = state.data.get("prompt")
    # The prompt's id is noted once Telegram has it (`_prompt_sent`); a reply can come first.
    pending = prompt is None and "sending" in state.data
    earlier = replied.message_id in state.data.get("asked", [])
    if prompt != replied.message_id and not (pending and not earlier):
        if replied.message_id in state.data.get("asked", []):
            await message.reply_text(_("Please answer my latest question to you (reply to it)."))
        return
    access = await card_access(update, context, str(state.data.get("issue", "")))
    answer = ANSWERS.get(state.step)
    if access is None or answer is None:  # no longer staff here, or a question we no longer ask
        await clear_state(context.session, chat_id=chat_id, user_id=user_id)
        await message.reply_text(_("Only the community's staff can use this button."))
        return
    text = (message.text or message.caption or "").strip()
    await answer(update, context, access, state, text)


async def _ask_again(
    update: Update, context: NotebookContext, access: Access, state: FlowState, lead: str
) -> None:
    data = {k: v for k, v in state.data.items() if k not in ("issue", "prompt", "asked")}
    await ask(update, context, access, state.step, lead=lead, **data)


async def answer_plan_text(
    update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    if not text:
        await _ask_again(update, context, access, state, _("Please write the plan in words."))
        return
    issue = access.issue

    def pick(label: str, code: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(label, callback_data=f"{ACT}due:{issue.id}:{code}")

    chat_id, user_id = _typing_key(update)
    data = {k: v for k, v in state.data.items() if k != "prompt"}
    await set_state(
        context.session,
        chat_id=chat_id,
        user_id=user_id,
        flow=FLOW,
        step="plan_due",
        data={**data, "plan": text, "sending": update.update_id},
        now=context.now(),
    )
    with then(PROMPT_SENT, chat_id=chat_id, user_id=user_id, sending=update.update_id):
        await message.reply_text(
            _("{worker}, by when will No. {number} be done?").format(
                worker=mention_html(user_id, context.person.full_name or str(user_id)),
                number=issue.number,
            ),
            reply_markup=InlineKeyboardMarkup(
                [
                    [pick(_("Today"), "0"), pick(_("In 3 days"), "3"), pick(_("In a week"), "7")],
                    [pick(_("Type a date…"), "t"), pick(_("No due date"), "n")],
                    [InlineKeyboardButton(_("Cancel"), callback_data=f"{ACT}x:{issue.id}")],
                ]
            ),
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
        await _ask_again(
            update,
            context,
            access,
            state,
            _("I could not read “{text}” as a date.").format(text=text[:50]),
        )
        return
    if due < context.now():
        await _ask_again(
            update,
            context,
            access,
            state,
            _("{date} has already passed.").format(date=context.tr.date(due)),
        )
        return
    plan = str(state.data.get("plan", ""))
    await _save_plan(update, context, access, plan, due, _respond_to_message(context, message))


Answer = Callable[[Update, NotebookContext, Access, FlowState, str], Awaitable[None]]


def _progress_answer(public: bool) -> Answer:
    async def answer(
        update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
    ) -> None:
        message = update.effective_message
        assert message is not None
        _ = context.tr.gettext
        if not text:
            await _ask_again(update, context, access, state, _("Please write it in words."))
            return
        issue = access.issue
        done = (
            _("Your reply about No. {number} is on its way to the resident.")
            if public
            else _("The note on No. {number} is saved.")
        )
        await run_step(
            update,
            context,
            access,
            Action.PROGRESS,
            lambda: rules.add_progress(
                context.session,
                issue,
                text=text,
                public=public,
                actor_id=_me(context),
                now=context.now(),
            ),
            respond=_respond_to_message(context, message),
            done=done.format(number=issue.number),
            public=public,
        )

    return answer


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
            context.session, issue, note=text, actor_id=_me(context), now=context.now()
        )
        await rules.add_attachments(context.session, issue, event, attachments, now=context.now())
        return event

    await run_step(
        update,
        context,
        access,
        Action.RESOLVE,
        do,
        respond=_respond_to_message(context, message),
        done=_("No. {number} is resolved. The resident will be asked whether it is solved.").format(
            number=issue.number
        ),
        public=True,
    )


async def _with_reason(
    update: Update,
    context: NotebookContext,
    access: Access,
    state: FlowState,
    text: str,
    action: Action,
    step: Callable[..., Awaitable[IssueEvent]],
    done: str,
    *,
    public: bool,
) -> None:
    """A step that needs the worker's reason in words (return, reopen): asked again when the
    answer is empty; `step` is the domain function, called with the reason."""
    message = update.effective_message
    assert message is not None
    if not text:
        await _ask_again(
            update, context, access, state, context.tr.gettext("Please give a reason.")
        )
        return
    issue = access.issue
    await run_step(
        update,
        context,
        access,
        action,
        lambda: step(context.session, issue, reason=text, actor_id=_me(context), now=context.now()),
        respond=_respond_to_message(context, message),
        done=done,
        public=public,
    )


async def answer_return(
    update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
) -> None:
    _ = context.tr.gettext
    done = _("No. {number} is back in the queue, waiting for a new owner.").format(
        number=access.issue.number
    )
    await _with_reason(
        update, context, access, state, text, Action.RETURN, rules.return_issue, done, public=False
    )


async def _assign(
    update: Update,
    context: NotebookContext,
    access: Access,
    message: Message,
    *,
    owner_id: int | None,
    owner_group: str | None,
    label: str,
    reason: str | None,
) -> None:
    issue = access.issue
    await run_step(
        update,
        context,
        access,
        Action.ASSIGN,
        lambda: rules.assign(
            context.session,
            issue,
            owner_id=owner_id,
            owner_group=owner_group,
            reason=reason,
            actor_id=_me(context),
            now=context.now(),
        ),
        respond=_respond_to_message(context, message),
        done=context.tr.gettext("{name} now owns No. {number}.").format(
            name=label, number=issue.number
        ),
        public=True,
    )


async def answer_group_name(
    update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    name = " ".join(text.split())[:200]
    if not name:
        await _ask_again(update, context, access, state, _("Please write the group's name."))
        return
    issue = access.issue
    if issue.owner_id is not None or issue.owner_group is not None:
        await ask(update, context, access, "reassign_reason", owner_group=name, owner_label=name)
        return
    await _assign(
        update, context, access, message, owner_id=None, owner_group=name, label=name, reason=None
    )


async def answer_reassign_reason(
    update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
) -> None:
    message = update.effective_message
    assert message is not None
    if not text:
        await _ask_again(
            update, context, access, state, context.tr.gettext("Please give a reason.")
        )
        return
    owner_id = state.data.get("owner_id")
    owner_group = state.data.get("owner_group")
    if owner_id is not None:
        staff = {
            p.id for p, _role in await staff_members(context.session, access.community.id or 0)
        }
        if owner_id not in staff:  # no longer staff since the menu was shown
            owner_id = None
    if (owner_id is None) == (owner_group is None):
        chat_id, user_id = _typing_key(update)
        await clear_state(context.session, chat_id=chat_id, user_id=user_id)
        await message.reply_text(context.tr.gettext("This button is no longer valid."))
        return
    await _assign(
        update,
        context,
        access,
        message,
        owner_id=owner_id,
        owner_group=owner_group,
        label=str(state.data.get("owner_label", "")),
        reason=text,
    )


async def answer_transfer_body(
    update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
) -> None:
    body = " ".join(text.split())[:200]
    if not body:
        await _ask_again(
            update, context, access, state, context.tr.gettext("Please write its name.")
        )
        return
    await ask(update, context, access, "transfer_note", to=body)


async def answer_transfer_note(
    update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    if not text:
        await _ask_again(update, context, access, state, _("Please write a short note."))
        return
    body = str(state.data.get("to", ""))
    issue = access.issue
    await run_step(
        update,
        context,
        access,
        Action.TRANSFER,
        lambda: rules.transfer(
            context.session, issue, to=body, note=text, actor_id=_me(context), now=context.now()
        ),
        respond=_respond_to_message(context, message),
        done=_("No. {number} is transferred to {body}.").format(number=issue.number, body=body),
        public=True,
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
        await _ask_again(update, context, access, state, _("Please reply with a number, like 12."))
        return
    number = int(found.group())
    into = await rules.get_issue(context.session, community_id=issue.community_id, number=number)
    if into is None:
        await _ask_again(
            update, context, access, state, _("There is no No. {other} here.").format(other=number)
        )
        return
    if into.id == issue.id:
        await _ask_again(
            update,
            context,
            access,
            state,
            _("That is No. {number} itself.").format(number=issue.number),
        )
        return
    if IssueStatus(into.status) not in OPEN:
        await _ask_again(
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
            context.session, issue, into=target, actor_id=_me(context), now=context.now()
        ),
        respond=_respond_to_message(context, message),
        done=_(
            "No. {number} is merged into No. {other}; its supporters now follow No. {other}."
        ).format(number=issue.number, other=number),
        public=True,
        also_refresh=[target],
    )


async def answer_reopen(
    update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
) -> None:
    done = context.tr.gettext("No. {number} is reopened.").format(number=access.issue.number)
    await _with_reason(
        update, context, access, state, text, Action.REOPEN, rules.reopen, done, public=True
    )


async def answer_stale_picker(
    update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
) -> None:
    """Someone replied to the due-date picker instead of pressing a button: take it as a date."""
    await answer_due_text(update, context, access, state, text)


ANSWERS: dict[str, Answer] = {
    "plan_text": answer_plan_text,
    "plan_due": answer_stale_picker,
    "due_text": answer_due_text,
    "note": _progress_answer(public=False),
    "reply": _progress_answer(public=True),
    "resolve": answer_resolve,
    "return": answer_return,
    "reassign_reason": answer_reassign_reason,
    "group_name": answer_group_name,
    "transfer_body": answer_transfer_body,
    "transfer_note": answer_transfer_note,
    "merge": answer_merge,
    "reopen": answer_reopen,
}

HANDLERS = [
    CallbackQueryHandler(on_press, pattern=f"^{ACT}"),
    MessageHandler(
        filters.ChatType.GROUPS & filters.REPLY & (filters.TEXT | filters.PHOTO) & ~filters.COMMAND,
        on_answer,
    ),
]
