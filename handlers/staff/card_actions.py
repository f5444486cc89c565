"""Acting on an issue card: the buttons staff press in the staff group and the answers they type.

One design for typed input: the bot asks in the staff group with a ForceReply prompt that
mentions the worker (privacy mode only lets the bot see replies to its own messages), and the
worker answers by replying to that prompt. "Who is typing what for which issue" is a chat_state
row keyed by the group and the worker, so a restart between question and answer loses nothing.
Only one-tap actions (accept, claim, difficulty) also work from a private chat, where /todo
offers them; everything that needs words happens on the card, in the group.

This module routes each button (runtime/buttons.py) to its press and each typed answer to its
step; the steps live in card_claim (who owns it), card_plan (the plan, notes and replies) and
card_close (resolve, return, transfer, merge, reopen), what they share in card_steps.

Every press and every answer is re-checked on the server (callback data is forgeable: data
not of a button's exact shape reaches no handler, and the rest is checked): the issue must
belong to a community where the person is staff, a group press counts only in that
community's staff group (`cards.card_access`), and `storage.issues.may` decides the rest. Public
steps queue a message to the resident (`notify_audience`) in the same transaction, and every
step queues the card's refresh (`card_delivery.refresh_card`), sent right after the commit.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import MessageHandler, filters

from handlers.staff.card_claim import (
    OWNER,
    OWNER_GROUP,
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
    TRANSFER_DUE,
    TRANSFER_TO,
    answer_merge,
    answer_reopen,
    answer_resolve,
    answer_return,
    answer_transfer_body,
    answer_transfer_due_text,
    answer_transfer_note,
    press_transfer_due,
    press_transfer_menu,
    press_transfer_to,
)
from handlers.staff.card_plan import (
    DUE,
    answer_due_text,
    answer_plan_text,
    answer_stale_picker,
    press_due,
    press_plan,
    progress_answer,
)
from handlers.staff.card_steps import CANCEL, FLOW, Answer, asker, card_press, on_cancel, typing_key
from handlers.staff.card_summary import answer_summary
from handlers.staff.cards import (
    ACCEPT,
    ASSIGN,
    CLAIM,
    DIFFICULTY,
    MERGE,
    NOTE,
    PLAN,
    REOPEN,
    REPLY,
    RESOLVE,
    RETURN,
    SUMMARY,
    TRANSFER,
    card_access,
)
from runtime.context import NotebookContext
from storage.chat_state import clear_state, get_state, prompts
from storage.issue_lifecycle import Action

# --- button presses --------------------------------------------------------------------------

# Each button of the card, and of the menus sent for it, with the lifecycle action whose rights
# and state it needs (card_steps.card_press checks them on every press).
PRESSES = [
    card_press(ACCEPT, Action.ACCEPT, press_accept, one_tap=True),
    card_press(CLAIM, Action.CLAIM, press_claim, one_tap=True),
    card_press(DIFFICULTY, Action.CLASSIFY, press_difficulty, one_tap=True),
    card_press(ASSIGN, Action.ASSIGN, press_owner_menu),  # assign, or reassign with a reason
    card_press(OWNER, Action.ASSIGN, press_owner),  # a person chosen in that menu
    card_press(OWNER_GROUP, Action.ASSIGN, press_owner_group),  # a team or group, typed
    card_press(PLAN, Action.PLAN, press_plan),
    card_press(DUE, Action.PLAN, press_due),  # the plan's due date
    card_press(NOTE, Action.PROGRESS, asker("note")),  # internal note
    card_press(REPLY, Action.PROGRESS, asker("reply")),  # public reply to the resident
    card_press(RESOLVE, Action.RESOLVE, asker("resolve")),
    card_press(RETURN, Action.RETURN, asker("return")),
    card_press(TRANSFER, Action.TRANSFER, press_transfer_menu),  # the menu of bodies
    card_press(TRANSFER_TO, Action.TRANSFER, press_transfer_to),
    card_press(TRANSFER_DUE, Action.TRANSFER, press_transfer_due),  # by when they answer
    card_press(MERGE, Action.MERGE, asker("merge")),
    card_press(REOPEN, Action.REOPEN, asker("reopen")),
    card_press(SUMMARY, Action.CLASSIFY, asker("summary")),  # one line for a voice report
    CANCEL.handler(on_cancel),
]


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
    sent = await prompts(context.session, state)
    # The prompt's id is noted once Telegram has it (`_prompt_sent`); a reply can come first.
    pending = sent.current is None and "sending" in state.data
    earlier = replied.message_id in sent.asked
    if sent.current != replied.message_id and not (pending and not earlier):
        if earlier:
            await message.reply_text(_("Please answer my latest question to you (reply to it)."))
        return
    issue_id = state.data.get("issue")
    access = await card_access(update, context, issue_id) if isinstance(issue_id, int) else None
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
    "transfer_due": answer_transfer_due_text,  # a reply to the picker: taken as a date
    "transfer_due_text": answer_transfer_due_text,
    "merge": answer_merge,
    "reopen": answer_reopen,
    "summary": answer_summary,
}

HANDLERS = [
    *PRESSES,
    MessageHandler(
        filters.ChatType.GROUPS & filters.REPLY & (filters.TEXT | filters.PHOTO) & ~filters.COMMAND,
        on_answer,
    ),
]
