"""/todo: a worker's open items in a private chat, overdue first, then by the running clock (the
plan's due date, 完成期限, or before a plan the reply-by time, 答复时限); then the issues they
transferred to another body (转办), with the date that body should answer by; with quick
actions: open the card in the staff group (where every action is), read it here, or claim an
issue nobody owns yet (a one-tap action that works from here)."""

from __future__ import annotations

from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from handlers.shared.common import escape, is_private
from handlers.shared.issue_texts import title_text
from handlers.shared.labels import category_label, status_label
from handlers.staff.cards import CLAIM, card_access, cut, message_link
from handlers.staff.issue_lookup import send_issue_view
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import Translator
from storage import clocks
from storage.models import STAFF_ROLES, Community, Issue, Role
from storage.people import current_membership
from storage.staff import todo_for, transferred_for, waiting_for_owner

SHOW = Button("todo.show", int)  # an item's card, here in the private chat
SHOWN_MINE = 20  # items listed with buttons; the rest are counted
SHOWN_WAITING = 10


def item_line(issue: Issue, tr: Translator, now: datetime) -> str:
    _ = tr.gettext
    snippet = escape(cut(title_text(tr, issue.description, issue.summary), 40)[0])
    line = _("No. {number} · {category}: {snippet}").format(
        number=issue.number, category=category_label(tr, issue.category), snippet=snippet
    )
    current = clocks.current_clock(issue, now)
    if current is not None:
        name, clock = current
        if name == "completion":
            when = _("due {date}").format(date=tr.date(clock.moment))
        else:
            when = _("reply by {when}").format(when=tr.datetime(clock.moment, "short"))
        if clock.overdue:
            line = "⚠️ " + line + " · " + when + " · " + _("overdue")
        else:
            line += " · " + when
    return line + " · " + status_label(tr, issue.status)


def transferred_line(issue: Issue, tr: Translator, now: datetime) -> str:
    """A transferred issue: the body it went to and the date their answer is due, flagged
    when that date has passed."""
    _ = tr.gettext
    snippet = escape(cut(title_text(tr, issue.description, issue.summary), 40)[0])
    line = _("No. {number} · {category}: {snippet}").format(
        number=issue.number, category=category_label(tr, issue.category), snippet=snippet
    )
    line += " · " + _("transferred → {body}, answer due {date}").format(
        body=escape(issue.transferred_to or ""),
        date=tr.date(issue.due_at) if issue.due_at else "—",
    )
    if issue.due_at is not None and issue.due_at < now:
        line = "⚠️ " + line + " · " + _("overdue")
    return line


def item_buttons(issue: Issue, community: Community, tr: Translator) -> list[InlineKeyboardButton]:
    _ = tr.gettext
    assert issue.id is not None
    label = _("No. {number}").format(number=issue.number)
    buttons = []
    link = message_link(community.staff_chat_id, issue.staff_message_id)
    if link:
        buttons.append(
            InlineKeyboardButton("↗ " + _("{issue}: card").format(issue=label), url=link)
        )
    buttons.append(
        InlineKeyboardButton(
            _("{issue}: details").format(issue=label), callback_data=SHOW.data(issue.id)
        )
    )
    return buttons


async def todo(update: Update, context: NotebookContext) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    if not is_private(update):
        await message.reply_text(_("Please send /todo in a private chat with me."))
        return
    current = await current_membership(context.session, context.person)
    if current is None or Role(current[0].role) not in STAFF_ROLES:
        await message.reply_text(
            _(
                "/todo is the to-do list of community staff. "
                "If something is wrong where you live, just write to me."
            )
        )
        return
    membership, community = current
    assert community.id is not None and context.person.id is not None
    now = context.now()
    tr = context.tr
    mine = await todo_for(
        context.session,
        person_id=context.person.id,
        community_id=community.id,
        role=Role(membership.role),
        now=now,
    )
    transferred = await transferred_for(
        context.session,
        person_id=context.person.id,
        community_id=community.id,
        role=Role(membership.role),
    )
    waiting = await waiting_for_owner(context.session, community_id=community.id)
    lines = [
        "<b>"
        + _("Your open items in {community}: {count}").format(
            community=escape(community.name), count=len(mine)
        )
        + "</b>"
    ]
    rows: list[list[InlineKeyboardButton]] = []
    if not mine:
        lines.append(_("Nothing on your list."))
    for issue in mine[:SHOWN_MINE]:
        lines.append(item_line(issue, tr, now))
        rows.append(item_buttons(issue, community, tr))
    if len(mine) > SHOWN_MINE:
        lines.append(_("…and {count} more.").format(count=len(mine) - SHOWN_MINE))
    if transferred:
        lines.append("")
        lines.append(
            "<b>"
            + _("Transferred, waiting for the body's answer: {count}").format(
                count=len(transferred)
            )
            + "</b>"
        )
        for issue in transferred[:SHOWN_MINE]:
            lines.append(transferred_line(issue, tr, now))
            rows.append(item_buttons(issue, community, tr))
        if len(transferred) > SHOWN_MINE:
            lines.append(_("…and {count} more.").format(count=len(transferred) - SHOWN_MINE))
    if waiting:
        lines.append("")
        lines.append("<b>" + _("Waiting for an owner: {count}").format(count=len(waiting)) + "</b>")
        for issue in waiting[:SHOWN_WAITING]:
            lines.append(item_line(issue, tr, now))
            assert issue.id is not None
            claim = InlineKeyboardButton(
                _("Claim No. {number}").format(number=issue.number),
                callback_data=CLAIM.data(issue.id),
            )
            rows.append([*item_buttons(issue, community, tr), claim])
        if len(waiting) > SHOWN_WAITING:
            lines.append(_("…and {count} more.").format(count=len(waiting) - SHOWN_WAITING))
    await message.reply_text(
        "\n".join(lines), reply_markup=InlineKeyboardMarkup(rows) if rows else None
    )


async def show_here(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    (issue_id,) = SHOW.values(update)
    access = await card_access(update, context, issue_id)
    if access is None:
        await query.answer(
            context.tr.gettext("Only the community's staff can use this button."), show_alert=True
        )
        return
    await query.answer()
    await send_issue_view(context, query.message.chat.id, access.issue)


HANDLERS = [
    CommandHandler("todo", todo),
    SHOW.handler(show_here),
]
