"""What residents are told about their issue's public steps (outbox kind `issue_event`).

Rendered at send time in the reader's language, from the event row, so a message queued before
a restart still reads right after it.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dispatch import Rendered, Renderers
from bot.i18n import Translator
from handlers.common import escape
from storage.issues import Action
from storage.models import Issue, IssueEvent, Outbox, Person
from storage.notifications import ISSUE_EVENT


async def _name(session: AsyncSession, person_id: int | None) -> str:
    person = await session.get(Person, person_id) if person_id else None
    return escape(person.full_name) if person else ""


async def render_issue_event(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    issue = await session.get(Issue, row.payload.get("issue_id"))
    event = await session.get(IssueEvent, row.payload.get("event_id"))
    if issue is None or event is None:
        return None
    _ = tr.gettext
    number = issue.number
    text = escape(event.text)
    kind = Action(event.kind)
    if kind is Action.ACCEPT:
        body = _("Your issue No. {number} has been accepted by the community.").format(
            number=number
        )
    elif kind in (Action.ASSIGN, Action.CLAIM):
        owner = await _name(session, issue.owner_id) or escape(issue.owner_group)
        body = _("No. {number}: {owner} is now responsible for it.").format(
            number=number, owner=owner
        )
    elif kind is Action.PLAN:
        if issue.due_at:
            body = _("No. {number}: the plan is: {plan}\nExpected by {due}.").format(
                number=number, plan=text, due=tr.datetime(issue.due_at, "short")
            )
        else:
            body = _("No. {number}: the plan is: {plan}").format(number=number, plan=text)
    elif kind is Action.PROGRESS:
        body = _("No. {number}: a reply from {worker}:\n{text}").format(
            number=number, worker=await _name(session, event.actor_id), text=text
        )
    elif kind is Action.TRANSFER:
        body = _("No. {number} has been passed on to {body}: {note}").format(
            number=number, body=escape(issue.transferred_to), note=text
        )
    elif kind is Action.MERGE:
        body = _(
            "No. {number} is the same problem as No. {other}. "
            "You will hear about No. {other} from now on."
        ).format(number=number, other=event.data.get("into_number", ""))
    elif kind is Action.RESOLVE:
        body = _("No. {number} has been resolved: {note}").format(number=number, note=text)
    elif kind is Action.REOPEN:
        body = _("No. {number} has been reopened and is being worked on again.").format(
            number=number
        )
    elif kind is Action.WITHDRAW:
        body = _("No. {number} was withdrawn by the person who reported it.").format(number=number)
    else:
        return None
    return Rendered(body)


def register(renderers: Renderers) -> None:
    renderers.register(ISSUE_EVENT, render_issue_event)
