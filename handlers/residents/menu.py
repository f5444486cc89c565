"""The resident's menu: a keyboard that stays under the chat (反映问题, 我的问题, 📍 发送位置,
联系社区), and what words outside any conversation are taken as.

Words are a new report only when they read like one (storage/intents.py): a greeting or thanks
gets a short friendly answer; a question about progress shows the resident's open issues; words
the rules cannot place are kept and the resident is asked "is this a new problem?", one tap
from a report that starts with exactly what they wrote.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)

from handlers.residents import my_issues, report, report_content
from handlers.residents.report_draft import advance
from handlers.shared import flows
from handlers.shared.common import acting_in, escape
from handlers.shared.fallback import answer_stale
from handlers.shared.issue_texts import cut
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import N_, Translator
from storage import issues as rules
from storage.intents import Intent, classify
from storage.issue_lifecycle import OPEN
from storage.models import IssueStatus
from storage.reports import FLOW as REPORT_FLOW

FLOW = "menu.ask"  # words kept while the resident says whether they are a new problem
NEW = Button("menu.new", str)  # the kept words' token: yes, a new problem
NOT_NEW = Button("menu.notnew", str)
KEPT_TEXTS = 10  # messages kept at most while asking
ASK_WAITS = timedelta(hours=12)  # after that, new words are weighed on their own

REPORT = N_("Report a problem")
MINE = N_("My issues")
LOCATION = N_("📍 Send my location")
CONTACT = N_("Contact the community")
BUTTONS = (REPORT, MINE, LOCATION, CONTACT)


def menu_keyboard(tr: Translator) -> ReplyKeyboardMarkup:
    """Four large buttons that stay under the chat; the location one asks the phone for it."""
    _ = tr.gettext
    return ReplyKeyboardMarkup(
        [
            [KeyboardButton(_(REPORT)), KeyboardButton(_(MINE))],
            [KeyboardButton(_(LOCATION), request_location=True), KeyboardButton(_(CONTACT))],
        ],
        resize_keyboard=True,
        is_persistent=True,
        input_field_placeholder=_("Write here, or tap a button"),
    )


def menu_choice(context: NotebookContext, text: str | None) -> str | None:
    """The menu button these words are (in any language the menu was shown in), or None."""
    if not text:
        return None
    text = text.strip()
    for locale in context.notebook.i18n.catalogs:
        tr = context.notebook.i18n.translator(locale, context.tr.tz)
        for key in BUTTONS:
            if text == tr.gettext(key):
                return key
    return None


# --- the menu's buttons --------------------------------------------------------------------------


async def on_menu(update: Update, context: NotebookContext, choice: str) -> None:
    message = update.effective_message
    assert message is not None
    if choice == REPORT:
        await _report(context, message)
    elif choice == MINE:
        await my_issues.list_mine(update, context)
    else:
        await message.reply_text(contact_text(context), reply_markup=menu_keyboard(context.tr))


async def _report(context: NotebookContext, message: Message) -> None:
    """反映问题: go on with the report being written, or start one."""
    state = flows.current_state(context)
    if state is not None and state.flow == REPORT_FLOW:
        draft = report.ReportDraft.load(state.data)
        if draft.community_id is not None:
            await advance(context, message.chat_id, draft)
            return
    kept = _kept(state)
    if kept:  # words kept by "is this a new problem?": they are the start of it
        await _start_with(context, message.chat_id, kept)
        return
    await flows.finish(context, message.chat_id)
    await report.ask_for_report(context, message)


def contact_text(context: NotebookContext) -> str:
    _ = context.tr.gettext
    return "\n".join(
        [
            _("Write to me here: the community reads it and answers you in this chat."),
            _("/duty: who is at the service desk (百通岗) now."),
            _("If anyone is in danger right now, call 110, 119 or 120."),
        ]
    )


# --- words outside any conversation --------------------------------------------------------------


def _kept(state: Any) -> dict[str, Any]:
    if state is None or state.flow != FLOW:
        return {}
    return dict(state.data)


async def on_words(update: Update, context: NotebookContext) -> None:
    """Words (no photo, voice or location) outside any conversation, or while asked whether
    earlier words were a new problem."""
    message = update.effective_message
    assert message is not None and message.text is not None
    kept = _kept(flows.current_state(context))
    intent = classify(message.text)
    if await acting_in(context) is None:  # not joined: the report keeps it until they join
        await _start_with(context, message.chat_id, _keep(kept, message))
        return
    if intent is Intent.REPORT:
        await _start_with(context, message.chat_id, _keep(kept, message))
        return
    if intent in (Intent.GREETING, Intent.THANKS):
        await message.reply_text(_friendly(context, intent), reply_markup=menu_keyboard(context.tr))
        return
    if intent is Intent.PROGRESS and await _show_open(update, context):
        return
    await _ask_if_new(context, message, _keep(kept, message))


def _keep(kept: dict[str, Any], message: Message) -> dict[str, Any]:
    texts = [*kept.get("texts", []), message.text or ""][-KEPT_TEXTS:]
    ids = [*kept.get("message_ids", []), message.message_id][-KEPT_TEXTS:]
    token = kept.get("token") or report.ReportDraft().token
    return {"token": token, "texts": texts, "message_ids": ids}


async def on_more(update: Update, context: NotebookContext) -> None:
    """A message while "is this a new problem?" waits: words are weighed again with what was
    kept; a photo, a voice message or a location is a report, which starts with the kept words."""
    message = update.effective_message
    assert message is not None
    if message.text is not None and not report_content.has_media(message):
        await on_words(update, context)
        return
    kept = _kept(flows.current_state(context))
    await _start_with(context, message.chat_id, kept, message)


def _friendly(context: NotebookContext, intent: Intent) -> str:
    _ = context.tr.gettext
    if intent is Intent.THANKS:
        return _("You are welcome! Whenever something is wrong, just write to me.")
    return _("Hello! Tell me what is wrong, or tap a button below.")


async def _show_open(update: Update, context: NotebookContext) -> bool:
    """The resident's open issues, for a question about progress; False when they have none."""
    person_id = context.person.id
    if person_id is None:
        return False
    issues = await rules.issues_of_person(context.session, person_id=person_id)
    if not any(IssueStatus(i.status) in OPEN for i in issues):
        return False
    await my_issues.list_mine(update, context, open_only=True)
    return True


async def _ask_if_new(context: NotebookContext, message: Message, kept: dict[str, Any]) -> None:
    _ = context.tr.gettext
    await flows.ask(context, message.chat_id, flow=FLOW, step="ask", data=kept)
    words = escape(cut(" ".join(kept["texts"]), 200))
    await message.reply_text(
        _("Is «{words}» a new problem for the community to handle?").format(words=words),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Yes, report it"), callback_data=NEW.data(kept["token"])
                    ),
                    InlineKeyboardButton(_("No"), callback_data=NOT_NEW.data(kept["token"])),
                ]
            ]
        ),
    )


async def _start_with(
    context: NotebookContext,
    chat_id: int,
    kept: dict[str, Any],
    message: Message | None = None,
    *,
    edit: Message | None = None,
) -> None:
    """A report that starts with the kept words (and this message's photo, voice…)."""
    draft = await report.new_draft(context)
    if draft is None:
        draft = report.ReportDraft(community_id=None)
    elif await report.over_the_limit(context):
        await flows.finish(context, chat_id)
        await context.bot.send_message(chat_id, report.limit_text(context))
        return
    for text in kept.get("texts", []):
        draft.add_text(text)
    draft.message_ids = list(kept.get("message_ids", []))
    if message is not None:
        report_content.absorb(draft, message)
    await advance(context, chat_id, draft, edit=edit)


async def on_new(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    (token,) = NEW.values(update)
    chat_id = query.message.chat.id if query.message else context.person.telegram_user_id
    assert chat_id is not None
    state = await flows.state_in(context, chat_id, FLOW)
    if state is None or state.data.get("token") != token:
        await answer_stale(query, context)
        return
    await query.answer()
    edit = query.message if isinstance(query.message, Message) else None
    await _start_with(context, chat_id, dict(state.data), edit=edit)


async def on_not_new(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    (token,) = NOT_NEW.values(update)
    chat_id = query.message.chat.id if query.message else context.person.telegram_user_id
    assert chat_id is not None
    state = await flows.state_in(context, chat_id, FLOW)
    if state is None or state.data.get("token") != token:
        await answer_stale(query, context)
        return
    await flows.finish(context, chat_id)
    await query.answer()
    await query.edit_message_text(
        context.tr.gettext("All right. Whenever something is wrong, just write to me.")
    )


FLOWS = [flows.Flow(FLOW, on_more, max_age=ASK_WAITS)]
HANDLERS = [NEW.handler(on_new), NOT_NEW.handler(on_not_new)]
