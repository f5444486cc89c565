"""How escalations read (outbox kinds from storage/escalation.py), rendered at send time.

Each renderer looks at the issue again and returns None when the reason has gone: a page for an
urgent issue someone has since taken up, a missed-promise notice for an issue answered or closed
meanwhile, a late-transfer reminder for an issue that came back.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.shared.common import escape
from handlers.shared.issue_texts import title_text
from handlers.shared.labels import category_label
from handlers.staff.cards import CLAIM
from runtime.i18n import Translator
from runtime.rendering import Rendered, Renderers
from storage import escalation
from storage.issue_lifecycle import OPEN
from storage.models import Building, Issue, IssueStatus, Outbox, Person


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def _moment(row: Outbox, key: str) -> datetime:
    return datetime.fromtimestamp(int(row.payload[key]), UTC)


async def _issue(session: AsyncSession, row: Outbox) -> Issue | None:
    return await session.get(Issue, row.payload.get("issue_id"))


async def _where(session: AsyncSession, issue: Issue) -> str:
    building = await session.get(Building, issue.building_id) if issue.building_id else None
    return escape(building.name) if building else "—"


async def render_urgent_page(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    issue = await _issue(session, row)
    if issue is None or escalation.acted(issue):
        return None  # someone has taken it up meanwhile
    _ = tr.gettext
    lead = (
        _("🚨 Still nobody has taken up urgent No. {number} ({category}, {building}).")
        if row.payload.get("again")
        else _("🚨 Urgent: No. {number} ({category}, {building}).")
    )
    text = "\n".join(
        [
            lead.format(
                number=issue.number,
                category=escape(category_label(tr, issue.category)),
                building=await _where(session, issue),
            ),
            _short(title_text(tr, issue.description, issue.summary)),
            _("Reported {reported}; the resident must be answered by {respond_by}.").format(
                reported=tr.datetime(issue.created_at, "short"),
                respond_by=tr.datetime(issue.respond_by or issue.created_at, "short"),
            ),
            _("Please take it up now: claim it here, or open its card in the staff group."),
        ]
    )
    assert issue.id is not None
    claim = InlineKeyboardButton(
        _("Claim No. {number}").format(number=issue.number), callback_data=CLAIM.data(issue.id)
    )
    return Rendered(text, reply_markup=InlineKeyboardMarkup([[claim]]))


def _still_missed(issue: Issue, row: Outbox) -> bool:
    """The promise the row speaks of is still the one missed (nothing answered, no new date)."""
    missed = escalation.missed_promise(issue, row.due_at)
    return (
        missed is not None
        and missed[0] == row.payload["which"]
        and int(missed[1].timestamp()) == int(row.payload["promise"])
    )


async def render_promise_missed(
    session: AsyncSession, row: Outbox, tr: Translator
) -> Rendered | None:
    issue = await _issue(session, row)
    if issue is None or not _still_missed(issue, row):
        return None
    _ = tr.gettext
    promise = tr.datetime(_moment(row, "promise"), "short")
    if row.payload["which"] == escalation.RESPOND:
        lead = _("We promised to answer your problem No. {number} by {promise}, and we have not.")
    else:
        lead = _(
            "We promised to finish your problem No. {number} by {promise}, and it is not done."
        )
    return Rendered(
        "\n".join(
            [
                lead.format(number=issue.number, promise=promise),
                _short(title_text(tr, issue.description, issue.summary), 80),
                _(
                    "We are sorry. The community has been reminded; you will hear from us by "
                    "{expect}."
                ).format(expect=tr.datetime(_moment(row, "expect"), "short")),
            ]
        )
    )


async def render_promise_missed_staff(
    session: AsyncSession, row: Outbox, tr: Translator
) -> Rendered | None:
    issue = await _issue(session, row)
    if issue is None or not _still_missed(issue, row):
        return None
    _ = tr.gettext
    lead = (
        _("No. {number} missed its response deadline ({promise}) without a word to the resident.")
        if row.payload["which"] == escalation.RESPOND
        else _("No. {number} missed its due date ({promise}) and is still open.")
    )
    return Rendered(
        "\n".join(
            [
                lead.format(
                    number=issue.number, promise=tr.datetime(_moment(row, "promise"), "short")
                ),
                _short(title_text(tr, issue.description, issue.summary), 80),
                _(
                    "The resident has been told so, and that they will hear from us by {expect}. "
                    "Please answer them by then: a reply, a plan or a new due date."
                ).format(expect=tr.datetime(_moment(row, "expect"), "short")),
            ]
        )
    )


async def render_escalated(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    issue = await _issue(session, row)
    if issue is None or IssueStatus(issue.status) not in OPEN or issue.difficulty != "escalate":
        return None
    _ = tr.gettext
    by = await session.get(Person, row.payload.get("by")) if row.payload.get("by") else None
    return Rendered(
        "\n".join(
            [
                _("⬆️ {name} escalated No. {number} ({category}, {building}) to you.").format(
                    name=escape(by.full_name) if by else "—",
                    number=issue.number,
                    category=escape(category_label(tr, issue.category)),
                    building=await _where(session, issue),
                ),
                _short(title_text(tr, issue.description, issue.summary)),
                _("Send /issue {number} to see it and its history.").format(number=issue.number),
            ]
        )
    )


async def render_transfer_due(
    session: AsyncSession, row: Outbox, tr: Translator
) -> Rendered | None:
    issue = await _issue(session, row)
    if (
        issue is None
        or issue.status != IssueStatus.TRANSFERRED
        or issue.transfer_answer_by is None
        or int(issue.transfer_answer_by.timestamp()) != int(row.payload["due"])
    ):
        return None
    _ = tr.gettext
    return Rendered(
        "\n".join(
            [
                _(
                    "No. {number} was transferred to {body}; their answer was due {due} and has "
                    "not come back."
                ).format(
                    number=issue.number,
                    body=escape(issue.transferred_to) or "—",
                    due=tr.datetime(issue.transfer_answer_by, "short"),
                ),
                _short(title_text(tr, issue.description, issue.summary), 80),
                _(
                    "Please ask them. When it comes back, reopen it on its card so the resident "
                    "hears and the work goes on."
                ),
            ]
        )
    )


def register(renderers: Renderers) -> None:
    renderers.register(escalation.URGENT_PAGE, render_urgent_page)
    renderers.register(escalation.PROMISE_MISSED, render_promise_missed)
    renderers.register(escalation.PROMISE_MISSED_STAFF, render_promise_missed_staff)
    renderers.register(escalation.ESCALATED, render_escalated)
    renderers.register(escalation.TRANSFER_DUE, render_transfer_due)
