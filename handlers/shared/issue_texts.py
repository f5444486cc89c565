"""How an issue reads to a resident: its short title, status line, owner, time limit and
public history. Shared by the report flow, /my, the follow-up and the notifications.

Everything a person typed goes through `escape` here; long texts are cut *before* escaping
(Telegram counts the characters of the parsed text).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.shared.common import escape
from handlers.shared.labels import category_label, status_label
from runtime.i18n import Translator
from storage import clocks
from storage.issue_lifecycle import Action
from storage.issue_titles import title_of
from storage.models import Building, Issue, IssueEvent, IssueStatus, Person, Unit

TITLE_CHARS = 60
MAX_TEXT = 4096
MAX_CAPTION = 1024


def marks(tr: Translator, data: dict[str, object] | None) -> str:
    """What an event's data adds to its line: " · 📍 location" when the resident sent where it
    is, " · 📞 by phone" when a worker took the answer on the telephone."""
    data = data or {}
    shown = ""
    if data.get("latitude") is not None:
        shown += " · 📍 " + tr.gettext("location")
    if data.get("by_phone"):
        shown += " · 📞 " + tr.gettext("by phone")
    return shown


def cut(text: str | None, limit: int) -> str:
    """At most `limit` characters of raw text, marked with … when cut."""
    text = text or ""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def chunks(text: str, size: int = MAX_TEXT) -> list[str]:
    """Raw text in pieces that each fit one message (before escaping, which Telegram undoes)."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def title_text(
    tr: Translator, description: str | None, summary: str | None, reporter: str | None = None
) -> str:
    """What names an issue, raw (escape it where it goes): its summary, else what the resident
    wrote, else in words what they sent ("voice message of 12 seconds from 老许")."""
    _ = tr.gettext
    found = title_of(description, summary)
    if found.words:
        return found.words
    if found.voice_seconds is not None:
        n = found.voice_seconds
        if reporter:
            return tr.ngettext(
                "voice message of {n} second from {name}",
                "voice message of {n} seconds from {name}",
                n,
            ).format(n=n, name=reporter)
        return tr.ngettext("voice message of {n} second", "voice message of {n} seconds", n).format(
            n=n
        )
    if reporter:
        return _("photos from {name}").format(name=reporter)
    return _("photos, no words yet")


def title(
    tr: Translator, issue: Issue, limit: int = TITLE_CHARS, reporter: str | None = None
) -> str:
    """The title's first line, short and escaped: how the resident recognises their issue."""
    first = title_text(tr, issue.description, issue.summary, reporter).splitlines()
    return escape(cut(first[0] if first else "", limit))


def time_limit_text(tr: Translator, hours: int) -> str:
    """ "7 days" rather than babel's "1 week": the promise reads exactly as configured."""
    if hours % 24 == 0:
        days = hours // 24
        return tr.ngettext("{n} day", "{n} days", days).format(n=days)
    return tr.ngettext("{n} hour", "{n} hours", hours).format(n=hours)


def when(tr: Translator, moment: datetime | None) -> str:
    return tr.datetime(moment, "short") if moment else ""


async def person_name(session: AsyncSession, person_id: int | None) -> str:
    person = await session.get(Person, person_id) if person_id else None
    return escape(person.full_name) if person else ""


async def owner_text(session: AsyncSession, issue: Issue) -> str:
    return await person_name(session, issue.owner_id) or escape(issue.owner_group)


async def home_names(session: AsyncSession, building_id: int | None, unit_id: int | None) -> str:
    """Building and unit as typed by the community (plain text, e.g. for a button)."""
    building = await session.get(Building, building_id) if building_id else None
    unit = await session.get(Unit, unit_id) if unit_id else None
    return " ".join(x.name for x in (building, unit) if x is not None)


async def home_text(session: AsyncSession, building_id: int | None, unit_id: int | None) -> str:
    """Building and unit, escaped for a message."""
    return escape(await home_names(session, building_id, unit_id))


def clock_parts(tr: Translator, issue: Issue, now: datetime) -> list[str]:
    """The clock that governs the issue now, named (storage/clocks.py): before a plan, while the
    community has not yet answered, when it will ("reply by", 答复时限); once a plan set a due
    date, that date ("due", 完成期限); transferred, the other body's answer date (转办答复期限).
    Nothing when no clock runs (answered, no plan yet; done)."""
    _ = tr.gettext
    if issue.status == IssueStatus.TRANSFERRED and issue.transfer_answer_by is not None:
        # 转办: the other body's answer date, never called a due date
        late = " ⚠️ " + _("overdue") if issue.transfer_answer_by < now else ""
        return [
            _("answer from {body} due: {date}").format(
                body=escape(issue.transferred_to or "—"),
                date=tr.date(issue.transfer_answer_by, "short"),
            )
            + late
        ]
    current = clocks.current_clock(issue, now)
    if current is None:
        return []
    name, clock = current
    if name == "response":
        text = _("reply by: {when}").format(when=tr.datetime(clock.moment, "short"))
    else:
        text = _("due: {date}").format(date=tr.date(clock.moment, "short"))
    return [text + (" ⚠️ " + _("overdue") if clock.overdue else "")]


async def status_line(session: AsyncSession, tr: Translator, issue: Issue, now: datetime) -> str:
    """Status · owner · the running clock · last update, for /my and the detail view."""
    _ = tr.gettext
    parts = [status_label(tr, issue.status)]
    owner = await owner_text(session, issue)
    if owner:
        parts.append(_("owner: {owner}").format(owner=owner))
    parts.extend(clock_parts(tr, issue, now))
    if issue.last_activity_at is not None:
        parts.append(_("updated: {date}").format(date=when(tr, issue.last_activity_at)))
    return " · ".join(parts)


def header(tr: Translator, issue: Issue) -> str:
    _ = tr.gettext
    return _("No. {number} · {category}").format(
        number=issue.number, category=category_label(tr, issue.category)
    )


async def event_line(session: AsyncSession, tr: Translator, event: IssueEvent) -> str:
    """One public step as the resident reads it in the history."""
    _ = tr.gettext
    text = escape(cut(event.text, 600)) if event.text else ""
    try:
        kind = Action(event.kind)
    except ValueError:
        kind = None
    labels = {
        Action.REPORT: _("problem reported"),
        Action.ACCEPT: _("accepted by the community"),
        Action.PLAN: _("plan: {text}"),
        Action.PROGRESS: _("reply: {text}"),
        Action.TRANSFER: _("passed on: {text}"),
        Action.MERGE: _("merged into another issue"),
        Action.RESOLVE: _("resolved: {text}"),
        Action.REOPEN: _("reopened"),
        Action.FOLLOW_UP: _("your answer to the follow-up"),
        Action.WITHDRAW: _("withdrawn: {text}"),
        Action.ADD_INFO: _("added: {text}"),
    }
    if kind in (Action.ASSIGN, Action.CLAIM):
        owner = await person_name(session, event.data.get("owner_id")) or escape(
            event.data.get("owner_group")
        )
        line = _("{owner} is responsible").format(owner=owner)
    elif kind in labels:
        line = labels[kind].format(text=text)
        if kind is Action.FOLLOW_UP and text:
            line += f": {text}"
    else:
        line = escape(event.kind)
    return f"{when(tr, event.at)}  {line}"


def deadline_text(tr: Translator, issue: Issue) -> str:
    """ "within 7 days (by 2026/11/9 09:00)": the promise made when the issue was opened (the
    response clock, 答复时限)."""
    _ = tr.gettext
    by = clocks.reply_by(issue)
    return _("within {limit} (by {deadline})").format(
        limit=time_limit_text(tr, issue.time_limit_hours), deadline=when(tr, by)
    )
