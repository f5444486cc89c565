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
steps queue a message to the resident (`notify_audience`) in the same transaction, and every
step queues the card's refresh (`cards.refresh_card`), sent right after the commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import (
    Update,
)
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from handlers.staff.card_claim import (
    answer_group_name,
    answer_reassign_reason,
    press_accept,
    press_claim,
    press_difficulty,
    press_owner,
    press_owner_group,
    press_owner_menu,
)
from handlers.staff.card_close import (
    answer_merge,
    answer_reopen,
    answer_resolve,
    answer_return,
    answer_transfer_body,
    answer_transfer_note,
    press_transfer_menu,
    press_transfer_to,
)
from handlers.staff.card_plan import (
    answer_due_text,
    answer_plan_text,
    answer_stale_picker,
    press_due,
    press_plan,
    progress_answer,
)
from handlers.staff.card_steps import (
    FLOW,
    Answer,
    asker,
    cancel,
    conflict_text,
    me,
    refusal,
    typing_key,
)
from handlers.staff.cards import (
    ACT,
    Access,
    card_access,
)
from runtime.context import NotebookContext
from storage import issues as rules
from storage.chat_state import clear_state, get_state
from storage.issues import (
    Action,
    TransitionNotAllowed,
    next_status,
)

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
    if not rules.may(action, role=access.role, person_id=me(context), issue=issue):
        await query.answer(refusal(context, action, issue), show_alert=True)
        return
    try:
        next_status(issue.status, action)
    except TransitionNotAllowed:
        # The card already shows the newer state: whoever changed it refreshed it.
        await query.answer((await conflict_text(context, issue, action))[:200], show_alert=True)
        return
    chat = update.effective_chat
    if chat is not None and chat.type == "private" and verb not in ONE_TAP:
        await query.answer(_("Please do this on the card in the staff group."), show_alert=True)
        return
    await PRESSES[verb](update, context, access, arg)


PRESSES: dict[str, Callable[[Update, NotebookContext, Access, str], Awaitable[None]]] = {
    "acc": press_accept,
    "clm": press_claim,
    "dif": press_difficulty,
    "asg": press_owner_menu,
    "own": press_owner,
    "ogr": press_owner_group,
    "pln": press_plan,
    "due": press_due,
    "nin": asker("note"),
    "pub": asker("reply"),
    "res": asker("resolve"),
    "ret": asker("return"),
    "trf": press_transfer_menu,
    "tto": press_transfer_to,
    "mrg": asker("merge"),
    "rop": asker("reopen"),
}


# --- typed answers ---------------------------------------------------------------------------


async def on_answer(update: Update, context: NotebookContext) -> None:
    """A reply in the staff group to one of the bot's messages: maybe the answer to a prompt."""
    message = update.effective_message
    assert message is not None
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
        return
    chat_id, user_id = typing_key(update)
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


ANSWERS: dict[str, Answer] = {
    "plan_text": answer_plan_text,
    "plan_due": answer_stale_picker,
    "due_text": answer_due_text,
    "note": progress_answer(public=False),
    "reply": progress_answer(public=True),
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
