"""/mydata and /forget: a person sees everything the notebook keeps about them, and can have
their personal data deleted (private chat only).

/forget asks first and remembers the question in the database (`chat_state`, flow "forget"),
so the answer counts whichever instance receives it and after a restart, and only for a
question asked in the last `CONFIRM_WITHIN`: an old message's button found days later does not
delete anything. The rules of forgetting are in storage/forgetting.py; what it kept, and why,
is told to the person.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from handlers.shared.common import escape, is_private
from handlers.shared.labels import role_label
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.settings import Settings
from storage.chat_state import clear_state, get_state, set_state
from storage.forgetting import Forgotten, StaffMustLeaveFirst, forget_person
from storage.models import STAFF_ROLES, Role
from storage.people import memberships
from storage.privacy import export_person

log = logging.getLogger(__name__)

FLOW = "forget"
ANSWER = Button("forget.answer", ("y", "n"))
CONFIRM_WITHIN = timedelta(minutes=15)
PG_DUMP_KEEP_DAYS = 14  # deploy/notebook-pgdump.service: `find … -mtime +14 -delete`


async def my_data(update: Update, context: NotebookContext) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    if not is_private(update):
        await message.reply_text(_("Please talk to me in a private chat."))
        return
    now = context.now()
    data = {
        "about": _(
            "Everything the community notebook keeps about you. Send /forget to have your "
            "personal data deleted."
        ),
        **await export_person(context.session, context.person, now=now),
    }
    body = json.dumps(data, ensure_ascii=False, indent=2).encode()
    day = now.astimezone(context.tr.tz).date().isoformat()
    await message.reply_document(
        document=body,
        filename=f"mydata-{day}.json",
        caption=_("Here is everything the notebook keeps about you (a JSON file)."),
    )


async def _staff_refusal(context: NotebookContext) -> str | None:
    """Active staff are deactivated by the secretary first (their work is the office's record)."""
    _ = context.tr.gettext
    for member, community in await memberships(context.session, context.person.id or 0):
        role = Role(member.role)
        if role not in STAFF_ROLES:
            continue
        if role is Role.SECRETARY:
            return _(
                "You are the community secretary of {community}. Please hand the role to a "
                "worker first (/staff); then you can send /forget."
            ).format(community=escape(community.name))
        return _(
            "You are {role} in {community}. Please ask the secretary to deactivate you first; "
            "then you can send /forget."
        ).format(role=role_label(context.tr, role), community=escape(community.name))
    return None


async def ask_forget(update: Update, context: NotebookContext) -> None:
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and chat is not None
    _ = context.tr.gettext
    if not is_private(update):
        await message.reply_text(_("Please talk to me in a private chat."))
        return
    refusal = await _staff_refusal(context)
    if refusal is not None:
        await message.reply_text(refusal)
        return
    user_id = context.person.telegram_user_id or chat.id
    await set_state(
        context.session,
        chat_id=chat.id,
        user_id=user_id,
        flow=FLOW,
        step="confirm",
        data={"asked_at": context.now().isoformat()},
        now=context.now(),
    )
    # Committed before the question goes out: the answer may reach another instance.
    await message.reply_text(
        _(
            "Do you want the notebook to forget you?\n\n"
            "I will delete your name, phone number and Telegram account from the notebook. "
            "The problems you reported stay, without your name, so the community can still "
            "count and solve them; you will no longer get news about them.\n\n"
            "This cannot be undone."
        ),
        reply_markup=InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(_("Yes, forget me"), callback_data=ANSWER.data("y"))],
                [InlineKeyboardButton(_("No, keep my data"), callback_data=ANSWER.data("n"))],
            ]
        ),
    )


def _asked_recently(data: dict[str, object], now: datetime) -> bool:
    raw = data.get("asked_at")
    if not isinstance(raw, str):
        return False
    try:
        asked = datetime.fromisoformat(raw)
    except ValueError:
        return False
    return timedelta(0) <= now - asked <= CONFIRM_WITHIN


async def answer_forget(update: Update, context: NotebookContext) -> None:
    query, chat = update.callback_query, update.effective_chat
    assert query is not None and chat is not None
    _ = context.tr.gettext
    (choice,) = ANSWER.values(update)
    user_id = context.person.telegram_user_id or chat.id
    state = await get_state(context.session, chat_id=chat.id, user_id=user_id)
    pending = state is not None and state.flow == FLOW and state.step == "confirm"
    if not pending or state is None or not _asked_recently(state.data, context.now()):
        await query.answer(_("This question has expired. Send /forget again."), show_alert=True)
        return
    if choice == "n":
        await clear_state(context.session, chat_id=chat.id, user_id=user_id)
        await query.answer()
        await query.edit_message_text(_("Nothing was deleted. Your data stays as it was."))
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            result = await forget_person(
                context.session, context.person, now=context.now(), update_id=update.update_id
            )
    except StaffMustLeaveFirst:
        await query.answer(
            _("Staff are deactivated by the secretary first; then you can send /forget."),
            show_alert=True,
        )
        return
    await clear_state(context.session, chat_id=chat.id, user_id=user_id)
    log.info("person %s forgotten; %d issues kept anonymously", context.person.id, result.issues)
    await query.answer()
    await query.edit_message_text(_what_was_kept(context, result))


def _what_was_kept(context: NotebookContext, result: Forgotten) -> str:
    """What /forget deleted, what it kept without the person, and why."""
    _ = context.tr.gettext
    lines = [
        _(
            "Done. The notebook no longer knows who you are: your name, phone number, Telegram "
            "account, home, your drafts and the messages about you are deleted, and so are your "
            "own words (follow-up comments, concerns) and your voice messages."
        )
    ]
    kept = []
    if result.issues:
        kept.append(
            context.tr.ngettext(
                "the problem you reported, without your name or phone number, so the "
                "community can still solve it",
                "the {count} problems you reported, without your name or phone number, so the "
                "community can still solve them",
                result.issues,
            ).format(count=result.issues)
        )
    if result.topics:
        kept.append(
            context.tr.ngettext(
                "the topic you raised with the council, without your name",
                "the {count} topics you raised with the council, without your name",
                result.topics,
            ).format(count=result.topics)
        )
    if result.supports or result.follow_ups:
        kept.append(
            _(
                "anonymous counts, so the response, resolution and satisfaction rates stay true: "
                '"me too" {supports}, follow-up answers {answers}'
            ).format(supports=result.supports, answers=result.follow_ups)
        )
    if result.votes:
        kept.append(
            context.tr.ngettext(
                "your consent vote, for your household and without your name: the "
                "campaign's result cannot change afterwards",
                "{count} consent votes, for your household and without your name: the "
                "campaign's result cannot change afterwards",
                result.votes,
            ).format(count=result.votes)
        )
    if kept:
        lines.append(_("Kept, without anything that points to you:"))
        lines += [f"• {item}" for item in kept]
    lines.append(
        _(
            "Backups made before today still hold your data until they age out "
            "(after {days} days). If you write to me again, you start afresh."
        ).format(days=backup_days(context.notebook.settings))
    )
    return "\n".join(lines)


def backup_days(settings: Settings) -> int:
    """How long a backup lives: SQLite's daily copies (BACKUP_KEEP), or the nightly pg_dump
    of deploy/notebook-pgdump.service (PG_DUMP_KEEP_DAYS) (docs/operations.md)."""
    if settings.database_url.startswith("postgresql"):
        return PG_DUMP_KEEP_DAYS
    return settings.backup_keep


HANDLERS = [
    CommandHandler("mydata", my_data),
    CommandHandler("forget", ask_forget),
    ANSWER.handler(answer_forget),
]
