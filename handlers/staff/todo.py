"""/todo: a worker's open items in a private chat, overdue first, then by the running clock (the
plan's due date, 完成期限, or before a plan the reply-by time, 答复时限); then the issues they
transferred to another body (转办), with the date that body should answer by; the follow-up
calls to make (回访 by telephone: resolved issues whose resident has no Telegram or blocked
the bot), each answered in two taps (handlers/staff/phone_followup.py); with quick
actions: read an item's card here (with the link to the card in the staff group, where every
action is), or claim an issue nobody owns yet (a one-tap action that works from here). Five
items a page, "Next ›" for the rest: it fits a phone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from handlers.shared.common import escape, is_private
from handlers.shared.issue_texts import title_text
from handlers.shared.labels import category_label, status_label
from handlers.staff.cards import CLAIM, PHONE_FOLLOW_UP, card_access, cut
from handlers.staff.issue_lookup import send_issue_view
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import Translator
from storage import clocks
from storage.models import STAFF_ROLES, Community, Issue, Membership, Person, Role
from storage.people import current_membership
from storage.staff import calls_for, todo_for, transferred_for, waiting_for_owner

SHOW = Button("todo.show", int)  # an item's card, here in the private chat
PAGE = Button("todo.page", int)  # another page of the list
PAGE_SIZE = 5  # items a page shows: a phone screen


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
        date=tr.date(issue.transfer_answer_by) if issue.transfer_answer_by else "—",
    )
    if issue.transfer_answer_by is not None and issue.transfer_answer_by < now:
        line = "⚠️ " + line + " · " + _("overdue")
    return line


def item_button(issue: Issue, tr: Translator) -> InlineKeyboardButton:
    """One button per item: its card here (with the link to the card in the group)."""
    assert issue.id is not None
    label = tr.gettext("No. {number}").format(number=issue.number)
    return InlineKeyboardButton(
        tr.gettext("{issue}: details").format(issue=label), callback_data=SHOW.data(issue.id)
    )


@dataclass(frozen=True)
class Entry:
    section: str  # "mine", "calls", "transferred", "waiting"
    issue: Issue
    who: str = ""  # a call's resident


def call_line(entry: Entry, tr: Translator) -> str:
    """A resolved issue whose resident the bot cannot ask: who to call, since when."""
    _ = tr.gettext
    issue = entry.issue
    snippet = escape(cut(issue.description, 30)[0])
    line = _("No. {number} · {category}: {snippet}").format(
        number=issue.number, category=category_label(tr, issue.category), snippet=snippet
    )
    resolved = tr.date(issue.resolved_at) if issue.resolved_at else "—"
    return (
        line
        + " · "
        + _("call {resident}, resolved {date}").format(
            resident=escape(entry.who[:40]) or _("the resident"), date=resolved
        )
    )


async def todo_entries(
    context: NotebookContext, membership: Membership, community: Community
) -> tuple[list[Entry], dict[str, int]]:
    """Every item of the list in its order, and how many each section holds."""
    assert community.id is not None and context.person.id is not None
    role = Role(membership.role)
    now = context.now()
    sections = {
        "mine": await todo_for(
            context.session,
            person_id=context.person.id,
            community_id=community.id,
            role=role,
            now=now,
        ),
        "calls": await calls_for(
            context.session, person_id=context.person.id, community_id=community.id, role=role
        ),
        "transferred": await transferred_for(
            context.session, person_id=context.person.id, community_id=community.id, role=role
        ),
        "waiting": await waiting_for_owner(context.session, community_id=community.id),
    }
    names: dict[int, str] = {}
    for issue in sections["calls"]:
        reporter = await context.session.get(Person, issue.reporter_id)
        names[issue.number] = reporter.full_name if reporter is not None else ""
    entries = [
        Entry(name, issue, names.get(issue.number, "") if name == "calls" else "")
        for name, issues in sections.items()
        for issue in issues
    ]
    return entries, {name: len(issues) for name, issues in sections.items()}


def todo_page(
    tr: Translator,
    community: Community,
    entries: list[Entry],
    counts: dict[str, int],
    page: int,
    now: datetime,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of the list: `PAGE_SIZE` items, each a line and a button, section headings
    where a section starts, and "‹ Previous" / "Next ›" when there is more."""
    _ = tr.gettext
    pages = max(1, -(-len(entries) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    head = _("Your open items in {community}: {count}").format(
        community=escape(community.name), count=counts["mine"]
    )
    if pages > 1:
        head += " · " + _("page {page} of {pages}").format(page=page + 1, pages=pages)
    lines = [f"<b>{head}</b>"]
    if not counts["mine"] and page == 0:
        lines.append(_("Nothing on your list."))
    headings = {
        "calls": "📞 " + _("Follow-up calls to make (回访): {count}"),
        "transferred": _("Transferred, waiting for the body's answer: {count}"),
        "waiting": _("Waiting for an owner: {count}"),
    }
    shown = entries[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    details: list[InlineKeyboardButton] = []
    claims: list[InlineKeyboardButton] = []
    section = "mine"
    for entry in shown:
        if entry.section != section:
            section = entry.section
            heading = headings[section].format(count=counts[section])
            lines += ["", f"<b>{heading}</b>"]
        issue = entry.issue
        assert issue.id is not None
        if section == "calls":
            lines.append(call_line(entry, tr))
            label = "📞 " + _("Call No. {number}").format(number=issue.number)
            details.append(
                InlineKeyboardButton(label, callback_data=PHONE_FOLLOW_UP.data(issue.id))
            )
            continue
        if section == "transferred":
            lines.append(transferred_line(issue, tr, now))
        else:
            lines.append(item_line(issue, tr, now))
        details.append(item_button(issue, tr))
        if section == "waiting":
            assert issue.id is not None
            claims.append(
                InlineKeyboardButton(
                    _("Claim No. {number}").format(number=issue.number),
                    callback_data=CLAIM.data(issue.id),
                )
            )
    rows = [details[i : i + 3] for i in range(0, len(details), 3)]
    rows += [claims[i : i + 3] for i in range(0, len(claims), 3)]
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("‹ " + _("Previous"), callback_data=PAGE.data(page - 1)))
    if page < pages - 1:
        nav.append(InlineKeyboardButton(_("Next") + " ›", callback_data=PAGE.data(page + 1)))
    if nav:
        rows.append(nav)
    return "\n".join(lines), InlineKeyboardMarkup(rows) if rows else None


async def _staff_member(context: NotebookContext) -> tuple[Membership, Community] | None:
    current = await current_membership(context.session, context.person)
    if current is None or Role(current[0].role) not in STAFF_ROLES:
        return None
    return current


async def todo(update: Update, context: NotebookContext) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    if not is_private(update):
        await message.reply_text(_("Please send /todo in a private chat with me."))
        return
    current = await _staff_member(context)
    if current is None:
        await message.reply_text(
            _(
                "/todo is the to-do list of community staff. "
                "If something is wrong where you live, just write to me."
            )
        )
        return
    membership, community = current
    entries, counts = await todo_entries(context, membership, community)
    text, markup = todo_page(context.tr, community, entries, counts, 0, context.now())
    await message.reply_text(text, reply_markup=markup)


async def on_page(update: Update, context: NotebookContext) -> None:
    """Another page of the list, in place (read again: the list is as it stands now)."""
    query = update.callback_query
    assert query is not None
    (page,) = PAGE.values(update)
    current = await _staff_member(context) if is_private(update) else None
    if current is None:
        await query.answer(
            context.tr.gettext("Only the community's staff can use this button."), show_alert=True
        )
        return
    membership, community = current
    entries, counts = await todo_entries(context, membership, community)
    text, markup = todo_page(context.tr, community, entries, counts, page, context.now())
    await query.answer()
    await query.edit_message_text(text, reply_markup=markup)


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
    PAGE.handler(on_page),
]
