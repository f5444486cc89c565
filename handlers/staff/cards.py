"""The issue card: a notebook entry in the staff group, updated in place.

Red pen: number, category, place, urgency, difficulty, the description (cut, with the full text
one tap away), photos, who reported it and since when, "me too" count, the time limit and how
much is left (the response clock, 答复时限), the status. Black pen: owner, plan, due date
(the completion clock, 办结期限), last progress.

This module renders the card (in the group's language: the community's default); posting and
refreshing it, its one route through the outbox, is card_delivery.py. The card's information
buttons are answered by card_info.py.
Who may press what is decided here too (`card_access`), for card_info, the card's actions
(card_steps.card_press), /todo and phone_followup. Every button is a runtime/buttons.py
`Button`; those on the card itself are declared here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)

from handlers.shared.common import escape, membership_in
from handlers.shared.issue_texts import title_text
from handlers.shared.labels import (
    category_label,
    channel_label,
    difficulty_label,
    status_label,
    urgency_label,
)
from runtime.buttons import Button
from runtime.context import Notebook, NotebookContext
from runtime.i18n import Translator
from storage import clocks
from storage.clocks import ClockState
from storage.issue_lifecycle import OPEN, WORKING
from storage.issue_titles import needs_summary, words_of
from storage.models import (
    STAFF_ROLES,
    Channel,
    Community,
    Difficulty,
    Issue,
    IssueStatus,
    Role,
    Urgency,
)
from storage.staff import CardFacts

log = logging.getLogger(__name__)

# The card's buttons (runtime/buttons.py), each carrying the issue's id. The information
# buttons are answered by handlers/staff/card_info.py; the actions by
# handlers/staff/card_actions.py, the follow-up by phone by handlers/staff/phone_followup.py.
INFO = Button("card.info", int, ("photos", "where", "contact", "text"))
ACCEPT = Button("card.accept", int)
CLAIM = Button("card.claim", int)
DIFFICULTY = Button("card.difficulty", int, Difficulty)
ASSIGN = Button("card.assign", int)  # the owner menu (assign, or reassign with a reason)
PLAN = Button("card.plan", int)
NOTE = Button("card.note", int)  # an internal note
REPLY = Button("card.reply", int)  # a public reply to the resident
RESOLVE = Button("card.resolve", int)
RETURN = Button("card.return", int)
TRANSFER = Button("card.transfer", int)  # the menu of bodies
MERGE = Button("card.merge", int)
REOPEN = Button("card.reopen", int)
SUMMARY = Button("card.summary", int)  # one line for a report with no words
PHONE_FOLLOW_UP = Button("phone.start", int)  # 回访 by telephone
MORE = Button("card.more", int, int)  # the next page of the card's buttons (card_info.py)

DESCRIPTION_ON_CARD = 160  # characters, on one line; the rest is behind "full text"
NOTE_ON_CARD = 120  # plan, last progress, a reopening's reason: also one line each
NAME_ON_CARD = 40  # a person's name, cut
CARD_LINES = 12  # what a phone shows without scrolling
CARD_BUTTONS = 6  # shown at once; the rest are behind "More…"
CHUNK = 3800  # a part of a long text: Telegram allows 4096 UTF-16 units, its header needs room
S = IssueStatus


# --- who may touch which card ----------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    issue: Issue
    community: Community
    role: Role

    @property
    def issue_id(self) -> int:
        assert self.issue.id is not None
        return self.issue.id


async def card_access(update: Update, context: NotebookContext, issue_id: int) -> Access | None:
    """The pressed issue, if the presser is staff of its community and presses where it belongs:
    in that community's staff group, or in a private chat. Callback data is forgeable, so this
    is asked on every press and every typed answer."""
    issue = await context.session.get(Issue, issue_id)
    if issue is None:
        return None
    member = await membership_in(context, issue.community_id)
    role = Role(member.role) if member is not None else None
    if role not in STAFF_ROLES:
        return None
    community = await context.session.get(Community, issue.community_id)
    chat = update.effective_chat
    if community is None or chat is None:
        return None
    if chat.type != "private" and community.staff_chat_id != chat.id:
        return None  # another community's group: its members must not see or change this issue
    assert role is not None
    return Access(issue, community, role)


async def mark_menu(query: CallbackQuery, choice: str) -> None:
    """A menu sent for a card (owners, bodies, due date, a phone follow-up) shows what was
    chosen and loses its buttons."""
    message = query.message
    if isinstance(message, Message) and message.text is not None:
        await message.edit_text(f"{message.text_html}\n→ {escape(choice)}", reply_markup=None)


def community_translator(notebook: Notebook, community: Community) -> Translator:
    """The group reads cards in the community's own language and time zone."""
    return notebook.i18n.translator(community.default_locale, ZoneInfo(community.timezone))


# --- text helpers ----------------------------------------------------------------------------


def cut(text: str, limit: int) -> tuple[str, bool]:
    """`text` cut to about `limit` characters at a word or line break; True if it was cut."""
    text = text.strip()
    if len(text) <= limit:
        return text, False
    head = text[:limit]
    space = max(head.rfind(" "), head.rfind("\n"))
    if space > limit * 0.8:
        head = head[:space]
    return head.rstrip() + "…", True


def message_link(chat_id: int | None, message_id: int | None) -> str | None:
    """A t.me link to a message in a supergroup (basic groups have no such links)."""
    if chat_id is None or message_id is None or not str(chat_id).startswith("-100"):
        return None
    return f"https://t.me/c/{str(chat_id)[4:]}/{message_id}"


# --- the card --------------------------------------------------------------------------------


def _place(facts: CardFacts) -> str:
    return " ".join(escape(part) for part in (facts.building, facts.unit) if part)


def reply_by_line(issue: Issue, tr: Translator, now: datetime) -> str:
    """The response clock (答复时限, storage/clocks.py): time left or overdue while it runs; once
    stopped, whether the first contact with the resident came in time (said once, never
    changed by what came later)."""
    _ = tr.gettext
    limit = tr.duration(timedelta(hours=issue.time_limit_hours))
    clock = clocks.response_clock(issue, now)
    state = clock.state
    if state is ClockState.RUNNING:
        return _("Reply by: {limit}, {left} left (until {deadline})").format(
            limit=limit, left=tr.duration(clock.delta), deadline=tr.datetime(clock.moment, "short")
        )
    if state is ClockState.OVERDUE:
        return _("Reply by: {limit}, ⚠️ overdue by {late}").format(
            limit=limit, late=tr.duration(clock.delta)
        )
    stopped = tr.datetime(clock.stopped_at, "short") if clock.stopped_at else ""
    if state is ClockState.MET:
        return _("Reply by: {limit}, answered in time ({when})").format(limit=limit, when=stopped)
    if state is ClockState.MISSED:
        return _("Reply by: {limit}, answered {late} late ({when})").format(
            limit=limit, late=tr.duration(clock.delta), when=stopped
        )
    return _("Reply by: {limit}").format(limit=limit)


def due_line(issue: Issue, tr: Translator, now: datetime) -> str | None:
    """The completion clock (办结期限): the plan's due date, with time left, how overdue, or how
    办结 went against it; None before a due date is set."""
    _ = tr.gettext
    clock = clocks.completion_clock(issue, now)
    if clock is None:
        if issue.reopened_count and IssueStatus(issue.status) in OPEN:
            return _("Due: to be set again after the reopening")
        return None
    date = tr.date(clock.moment)
    state = clock.state
    if state is ClockState.RUNNING:
        return _("Due: {date}, {left} left").format(date=date, left=tr.duration(clock.delta))
    if state is ClockState.OVERDUE:
        return _("Due: {date}, ⚠️ overdue by {late}").format(
            date=date, late=tr.duration(clock.delta)
        )
    if state is ClockState.MET:
        return _("Due: {date}, resolved in time").format(date=date)
    if state is ClockState.MISSED:
        return _("Due: {date}, resolved {late} late").format(
            date=date, late=tr.duration(clock.delta)
        )
    return _("Due: {date}").format(date=date)


def transfer_answer_line(issue: Issue, tr: Translator, now: datetime) -> str | None:
    """转办: the date the body it went to should answer by (转办答复期限), never called a due date:
    it is their answer, not the completion (办结期限). None unless the issue is transferred."""
    _ = tr.gettext
    when = issue.transfer_answer_by
    if issue.status != S.TRANSFERRED or when is None:
        return None
    body = escape(issue.transferred_to or "—")
    if when < now:
        return _("Answer from {body} due: {date}, ⚠️ {late} late").format(
            body=body, date=tr.date(when), late=tr.duration(now - when)
        )
    return _("Answer from {body} due: {date}").format(body=body, date=tr.date(when))


def card_text(facts: CardFacts, tr: Translator, now: datetime) -> tuple[str, bool]:
    """The card's text (HTML, everything typed by people escaped) and whether the description
    was cut. At most `CARD_LINES` lines, each bounded, so it reads on a phone without
    scrolling: the description is one line (the rest behind "Full text"), rare facts (a
    blocked reporter, a reopening) share the line they belong to."""
    _ = tr.gettext
    issue = facts.issue
    emergency = issue.urgency == Urgency.EMERGENCY
    head = _("No. {number} · {category}").format(
        number=issue.number, category=category_label(tr, issue.category)
    )
    first = ("🚨 " if emergency else "🔴 ") + f"<b>{head}</b>"
    place = _place(facts)
    if place:
        first += " · " + _("Where: {place}").format(place=place)
    lines = [first]
    # the words as reported (a voice or photo report: what it is, from whom), after the
    # one-line summary a worker or the resident gave it, which is its title
    reporter_name = facts.reporter.full_name[:100] if facts.reporter else None
    shown = words_of(issue.description) or title_text(tr, issue.description, None, reporter_name)
    description, was_cut = cut(" ".join(shown.split()), DESCRIPTION_ON_CARD)
    description = escape(description)
    if issue.summary:
        description = "<b>" + escape(issue.summary) + "</b> · " + description
    if was_cut:
        description += " " + _("(cut short: press “Full text” to read all of it)")
    lines.append(description)
    lines.append(
        _("Urgency: {urgency} · Difficulty: {difficulty}").format(
            urgency=urgency_label(tr, issue.urgency),
            difficulty=difficulty_label(tr, issue.difficulty)
            if issue.difficulty
            else _("not classified yet"),
        )
    )
    extras = []
    if facts.media == facts.photos and facts.photos:
        extras.append(_("Photos: {photos}").format(photos=facts.photos))
    elif facts.media:
        extras.append(
            _("Photos: {photos} · other files: {others}").format(
                photos=facts.photos, others=facts.media - facts.photos
            )
        )
    if issue.latitude is not None and issue.longitude is not None:
        extras.append("📍 " + _("location sent"))  # its button may be a page further
    if issue.support_count:
        extras.append(_("Neighbours who said “me too”: {count}").format(count=issue.support_count))
    if extras:
        lines.append(" · ".join(extras))
    reporter = escape(facts.reporter.full_name[:NAME_ON_CARD]) if facts.reporter else _("unknown")
    reported = tr.datetime(issue.created_at, "short")
    if issue.channel != Channel.TELEGRAM:
        by = _("Reported by {name} ({channel}), {when}").format(
            name=reporter, channel=channel_label(tr, issue.channel), when=reported
        )
    else:
        by = _("Reported by {name}, {when}").format(name=reporter, when=reported)
    if facts.reporter is not None and facts.reporter.unreachable_since is not None:
        by += " " + _("⚠️ {name} has blocked the bot since {when}: please call them.").format(
            name=reporter, when=tr.date(facts.reporter.unreachable_since)
        )
    lines.append(by)
    lines.append(reply_by_line(issue, tr, now))
    status = _("Status: {status}").format(status=status_label(tr, issue.status))
    if issue.status == S.TRANSFERRED and issue.transferred_to:
        status += " → " + escape(issue.transferred_to)
    if issue.status == S.MERGED and facts.merged_into_number is not None:
        status += " → " + _("No. {number}").format(number=facts.merged_into_number)
    status = f"<b>{status}</b>"
    reopened = facts.last_reopen
    if issue.reopened_count and IssueStatus(issue.status) in OPEN and reopened is not None:
        words = " ".join((reopened.text or "").split())
        mark = (
            _("Reopened ({count}×): {reason}").format(
                count=issue.reopened_count, reason=escape(cut(words, NOTE_ON_CARD)[0])
            )
            if words
            else _("Reopened ({count}×)").format(count=issue.reopened_count)
        )
        status += f" · <b>🔁 {mark}</b>"
    lines.append(status)

    lines.append("")
    if facts.owner is not None:
        owner = escape(facts.owner.full_name[:NAME_ON_CARD])
    elif issue.owner_group:
        owner = escape(issue.owner_group)
    else:
        owner = _("nobody yet")
    lines.append("✒️ " + _("Owner: {owner}").format(owner=owner))
    if issue.plan:
        plan = " ".join(issue.plan.split())
        lines.append(_("Plan: {plan}").format(plan=escape(cut(plan, NOTE_ON_CARD)[0])))
    due = due_line(issue, tr, now)
    if due is not None:
        lines.append(due)
    answer = transfer_answer_line(issue, tr, now)
    if answer is not None:
        lines.append(answer)
    progress = facts.last_progress
    if progress is not None:
        template = (
            _("Last reply to the resident ({when}, {worker}): {text}")
            if progress.public
            else _("Last internal note ({when}, {worker}): {text}")
        )
        lines.append(
            template.format(
                when=tr.datetime(progress.at, "short"),
                worker=escape((facts.last_progress_by or "")[:NAME_ON_CARD]),
                text=escape(cut(" ".join((progress.text or "").split()), NOTE_ON_CARD)[0]),
            )
        )
    return "\n".join(lines), was_cut


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def info_row(facts: CardFacts, tr: Translator, was_cut: bool) -> list[InlineKeyboardButton]:
    _ = tr.gettext
    issue_id = facts.issue.id
    assert issue_id is not None
    row = []
    if facts.media:
        label = _("Photos ({count})") if facts.media == facts.photos else _("Files ({count})")
        row.append(_button("📷 " + label.format(count=facts.media), INFO.data(issue_id, "photos")))
    if facts.issue.latitude is not None and facts.issue.longitude is not None:
        row.append(_button("📍 " + _("Location"), INFO.data(issue_id, "where")))
    if facts.reporter is not None and facts.reporter.phone:
        row.append(_button("📞 " + _("Show contact"), INFO.data(issue_id, "contact")))
    if was_cut:
        row.append(_button("📄 " + _("Full text"), INFO.data(issue_id, "text")))
    if needs_summary(facts.issue) and IssueStatus(facts.issue.status) in OPEN:
        row.append(_button("✏️ " + _("Summary…"), SUMMARY.data(issue_id)))
    return row


def action_rows(facts: CardFacts, tr: Translator) -> list[list[InlineKeyboardButton]]:
    """The buttons for what can be done in this state, most used first, in groups that share a
    row (each press is re-checked anyway)."""
    _ = tr.gettext
    issue = facts.issue
    status = IssueStatus(issue.status)

    assert issue.id is not None
    issue_id = issue.id

    def act(label: str, button: Button) -> InlineKeyboardButton:
        return _button(label, button.data(issue_id))

    difficulty = [
        _button(
            ("✓ " if issue.difficulty == value else "") + label, DIFFICULTY.data(issue_id, value)
        )
        for value, label in (
            (Difficulty.ON_THE_SPOT, _("On the spot")),
            (Difficulty.COORDINATION, _("Coordinate")),
            (Difficulty.ESCALATE, _("Escalate")),
        )
    ]
    move_on = [act(_("Merge…"), MERGE), act(_("Transfer…"), TRANSFER)]
    if status is S.NEW:
        return [
            [act(_("Accept"), ACCEPT), act(_("Claim"), CLAIM), act(_("Assign…"), ASSIGN)],
            difficulty,
            move_on,
        ]
    if status is S.ACCEPTED:
        return [
            [act(_("Claim"), CLAIM), act(_("Assign…"), ASSIGN), act(_("Resolve…"), RESOLVE)],
            difficulty,
            [act(_("Internal note…"), NOTE), act(_("Reply to resident…"), REPLY)],
            move_on,
        ]
    if status in WORKING:  # assigned or in progress
        return [
            [act(_("Plan…"), PLAN), act(_("Internal note…"), NOTE)],
            [act(_("Reply to resident…"), REPLY), act(_("Resolve…"), RESOLVE)],
            difficulty,
            [act(_("Return…"), RETURN), act(_("Reassign…"), ASSIGN)],
            move_on,
        ]
    if status is S.RESOLVED:  # waiting for the resident's answer, or for a worker's call
        phone = _button(_("Follow-up by phone…"), PHONE_FOLLOW_UP.data(issue_id))
        return [[phone, act(_("Reopen…"), REOPEN)]]
    if status in (S.CLOSED, S.TRANSFERRED):
        return [[act(_("Reopen…"), REOPEN)]]
    return []  # merged or withdrawn: nothing left to do


def card_pages(
    facts: CardFacts, tr: Translator, was_cut: bool
) -> list[list[list[InlineKeyboardButton]]]:
    """The card's buttons as pages of at most `CARD_BUTTONS` each: the state's main actions
    and the information buttons first, then the rest, each page but the first one tap further
    ("More…", and "Back" from the last). One page when they all fit."""
    _ = tr.gettext
    actions = action_rows(facts, tr)
    info = info_row(facts, tr, was_cut)
    main = 2 if IssueStatus(facts.issue.status) in WORKING else 1  # plan, note, reply, resolve
    groups = actions[:main] + ([info] if info else []) + actions[main:]
    items = [(index, button) for index, group in enumerate(groups) for button in group]
    if not items:
        return [[]]
    if len(items) <= CARD_BUTTONS:
        return [_rows(items)]
    issue_id = facts.issue.id
    assert issue_id is not None
    per_page = CARD_BUTTONS - 1
    chunks = [items[i : i + per_page] for i in range(0, len(items), per_page)]
    pages = []
    for number, chunk in enumerate(chunks):
        last = number == len(chunks) - 1
        nav = (
            _button("‹ " + _("Back"), MORE.data(issue_id, 0))
            if last
            else _button(_("More…"), MORE.data(issue_id, number + 1))
        )
        pages.append([*_rows(chunk), [nav]])
    return pages


def _rows(items: list[tuple[int, InlineKeyboardButton]]) -> list[list[InlineKeyboardButton]]:
    """Buttons of one group share a row, three at most (a phone's width)."""
    rows: list[list[InlineKeyboardButton]] = []
    group = None
    for index, button in items:
        if rows and index == group and len(rows[-1]) < 3:
            rows[-1].append(button)
        else:
            rows.append([button])
        group = index
    return rows


def render_card(
    facts: CardFacts, tr: Translator, now: datetime, page: int = 0
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The card as posted in the staff group: text and the buttons of `page` (none once nothing
    is left to do: an empty keyboard is not a keyboard to Telegram)."""
    text, was_cut = card_text(facts, tr, now)
    pages = card_pages(facts, tr, was_cut)
    rows = pages[min(max(page, 0), len(pages) - 1)]
    return text, InlineKeyboardMarkup(rows) if rows else None


def render_private_copy(
    facts: CardFacts, tr: Translator, now: datetime
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The card in a worker's private chat (/issue, /todo): read it here, act in the group."""
    text, was_cut = card_text(facts, tr, now)
    rows = []
    info = info_row(facts, tr, was_cut)
    if info:
        rows.append(info)
    link = message_link(facts.community.staff_chat_id, facts.issue.staff_message_id)
    if link:
        rows.append(
            [InlineKeyboardButton("↗ " + tr.gettext("Open the card in the staff group"), url=link)]
        )
    return text, InlineKeyboardMarkup(rows) if rows else None
