"""How reminders read (outbox kinds from storage/reminders.py), rendered at send time.

Each renderer looks at the issue again: a reminder whose reason has gone (resolved meanwhile,
a new due date, a fresh progress note) renders as None and is dropped, not sent.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.shared.common import escape
from handlers.shared.issue_texts import title_text
from handlers.shared.labels import category_label
from runtime.i18n import Translator
from runtime.rendering import Rendered, Renderers
from storage import clocks, reminders
from storage.clocks import ClockState
from storage.issue_lifecycle import OPEN
from storage.models import Building, Issue, IssueStatus, Outbox, Person, Role
from storage.staff import calls_for

AGENDA_LIMIT = 30  # items listed in one morning message; the rest are counted


def _now(row: Outbox) -> datetime:
    """The moment it is sent: the dispatcher stamps the row when it claims it (the injected clock
    in tests); a row postponed by quiet hours is sent hours after the planner queued it."""
    return row.claimed_at or row.due_at


async def _open_issue(session: AsyncSession, row: Outbox) -> Issue | None:
    issue = await session.get(Issue, row.payload.get("issue_id"))
    if issue is None or IssueStatus(issue.status) not in OPEN:
        return None
    return issue


async def _where(session: AsyncSession, issue: Issue) -> str:
    building = await session.get(Building, issue.building_id) if issue.building_id else None
    return escape(building.name) if building else ""


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


async def render_due_soon(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    """The completion clock's warning, only while it still warns of something: held back past
    the due date (quiet hours), it is dropped; the morning's "overdue" reminder says it."""
    issue = await _open_issue(session, row)
    if issue is None or issue.due_at is None or int(issue.due_at.timestamp()) != row.payload["due"]:
        return None
    clock = clocks.completion_clock(issue, _now(row))
    if clock is None or clock.state is not ClockState.RUNNING:
        return None
    _ = tr.gettext
    return Rendered(
        _("Reminder: No. {number} is due {due}.\n{summary}\nPlan: {plan}").format(
            number=issue.number,
            due=tr.datetime(issue.due_at, "short"),
            summary=_short(title_text(tr, issue.description, issue.summary)),
            plan=escape(issue.plan),
        )
    )


async def render_overdue(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    issue = await _open_issue(session, row)
    if issue is None or issue.due_at is None or issue.due_at > _now(row):
        return None
    _ = tr.gettext
    return Rendered(
        _(
            "No. {number} is overdue by {late}.\n{summary}\n"
            "Please add a progress note today, or set a new due date."
        ).format(
            number=issue.number,
            late=tr.duration(_now(row) - issue.due_at),
            summary=_short(title_text(tr, issue.description, issue.summary)),
        )
    )


async def render_escalation(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    issue = await _open_issue(session, row)
    if issue is None or issue.due_at is None or issue.due_at > _now(row):
        return None
    _ = tr.gettext
    owner = await session.get(Person, issue.owner_id) if issue.owner_id else None
    return Rendered(
        _(
            "Badly overdue: No. {number} ({category}, {building}), owner {owner}, "
            "{late} past its due date.\n{summary}"
        ).format(
            number=issue.number,
            category=category_label(tr, issue.category),
            building=await _where(session, issue) or "—",
            owner=escape(owner.full_name) if owner else escape(issue.owner_group) or "—",
            late=tr.duration(_now(row) - issue.due_at),
            summary=_short(title_text(tr, issue.description, issue.summary)),
        )
    )


async def render_unanswered(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    """The response clock ran out: sent only while nobody has contacted the resident yet."""
    issue = await _open_issue(session, row)
    if issue is None or not clocks.response_clock(issue, _now(row)).overdue:
        return None
    _ = tr.gettext
    return Rendered(
        _(
            "No. {number} ({category}) has waited past its promised time without being "
            "accepted.\n{summary}"
        ).format(
            number=issue.number,
            category=category_label(tr, issue.category),
            summary=_short(title_text(tr, issue.description, issue.summary)),
        )
    )


async def render_stale(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    issue = await _open_issue(session, row)
    last = issue.last_activity_at if issue else None
    if issue is None or last is None or int(last.timestamp()) != row.payload["since"]:
        return None
    _ = tr.gettext
    return Rendered(
        _(
            "No. {number} has had no progress note for {days}. The notebook is updated "
            "every day: please add a note.\n{summary}"
        ).format(
            number=issue.number,
            days=tr.duration(_now(row) - last),
            summary=_short(title_text(tr, issue.description, issue.summary)),
        )
    )


async def render_agenda(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    now = _now(row)
    items = list(
        (
            await session.exec(
                select(Issue)
                .where(
                    Issue.owner_id == row.payload["person_id"], col(Issue.status).in_(list(OPEN))
                )
                .order_by(col(Issue.due_at).is_(None), col(Issue.due_at), col(Issue.created_at))
            )
        ).all()
    )
    person_id = int(row.payload["person_id"])
    calls = await calls_for(
        session, person_id=person_id, community_id=row.community_id or 0, role=Role.WORKER
    )
    if not items and not calls:
        return None
    _ = tr.gettext
    if items:
        lines = [_("Good morning! Your open items ({count}):").format(count=len(items))]
    else:
        lines = [_("Good morning!")]
    for issue in items[:AGENDA_LIMIT]:
        if issue.due_at is None:
            when = _("no due date")
        elif issue.due_at < now:
            when = _("overdue since {date}").format(date=tr.date(issue.due_at, "short"))
        else:
            when = _("due {date}").format(date=tr.date(issue.due_at, "short"))
        lines.append(
            _("• No. {number}: {summary} ({when})").format(
                number=issue.number,
                summary=_short(title_text(tr, issue.description, issue.summary), 40),
                when=when,
            )
        )
    if len(items) > AGENDA_LIMIT:
        lines.append(_("…and {count} more: send /todo.").format(count=len(items) - AGENDA_LIMIT))
    if calls:
        lines += ["", "📞 " + _("Follow-up calls to make (回访): {count}").format(count=len(calls))]
        for issue in calls[:AGENDA_LIMIT]:
            reporter = await session.get(Person, issue.reporter_id)
            lines.append(
                _("• No. {number}: {summary} (call {resident})").format(
                    number=issue.number,
                    summary=_short(issue.description, 40),
                    resident=escape((reporter.full_name if reporter else "")[:40]),
                )
            )
        lines.append(_("Send /todo to record each answer in two taps."))
    return Rendered("\n".join(lines))


def register(renderers: Renderers) -> None:
    renderers.register(reminders.DUE_SOON, render_due_soon)
    renderers.register(reminders.OVERDUE, render_overdue)
    renderers.register(reminders.ESCALATION, render_escalation)
    renderers.register(reminders.UNANSWERED, render_unanswered)
    renderers.register(reminders.STALE, render_stale)
    renderers.register(reminders.AGENDA, render_agenda)
