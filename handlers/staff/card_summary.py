"""A summary for a report with nothing in words: the card's "✏️ Summary…" button asks the worker
for one line (a ForceReply prompt, like every typed answer on the card), which becomes the
issue's title everywhere (storage/issue_titles.py). Shown only while the report has no words
and no summary; rights are the card's (any staff member of the community, an open issue)."""

from __future__ import annotations

from telegram import Update

from handlers.shared.common import escape
from handlers.staff.card_delivery import refresh_card
from handlers.staff.card_steps import ask_again, typing_key
from handlers.staff.cards import Access
from runtime.context import NotebookContext
from storage.chat_state import FlowState, clear_state
from storage.issue_titles import SummaryRefused, set_summary
from storage.notifications import issue_changed


async def answer_summary(
    update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    try:
        line = await set_summary(context.session, access.issue, text, now=context.now())
    except SummaryRefused:
        await ask_again(update, context, access, state, _("Please write one line."))
        return
    chat_id, user_id = typing_key(update)
    await clear_state(context.session, chat_id=chat_id, user_id=user_id)
    await message.reply_text(
        _("No. {number} is now called «{summary}».").format(
            number=access.issue.number, summary=escape(line)
        )
    )
    await issue_changed(context.session, access.issue, now=context.now())
    await refresh_card(context, access.issue)
