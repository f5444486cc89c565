"""What residents (and owners) are told later, through the outbox: an issue's public steps
(kind `issue_event`, with the photo a worker sent when resolving it), the follow-up reminder,
"not solved" and "the resident added something" for the owner, and "staff logged your issue"
for a resident reported by phone or at the desk.

Rendered at send time in the reader's language, from the rows, so a message queued before a
restart still reads right after it. Every message about an issue is remembered (`after_send`),
so a resident's reply to it is added to that issue.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot, ReplyParameters

from handlers.residents.followup import question_keyboard
from handlers.shared.common import escape
from handlers.shared.issue_texts import cut, deadline_text, owner_text, person_name, title
from handlers.shared.labels import channel_label
from runtime.i18n import Translator
from runtime.rendering import Rendered, Renderers, Sent
from storage.followups import (
    FOLLOWUP_REMINDER,
    INFO_ADDED,
    NOT_SOLVED,
    SUPPORT_ADDED,
    queue_reminder,
    reminder_still_wanted,
)
from storage.issue_lifecycle import Action
from storage.models import Attachment, Issue, IssueEvent, Outbox
from storage.notifications import ISSUE_EVENT
from storage.reports import ISSUE_LOGGED
from storage.residents import remember_issue_message

AfterSend = Callable[[AsyncSession, Bot, Sent], Awaitable[None]]
PHOTOS_SENT = 3  # a resolving note's photos the resident gets (the rest are on the card)
log = logging.getLogger(__name__)


def _remembering(issue: Issue, then: AfterSend | None = None) -> AfterSend:
    """after_send: note that the sent message speaks of `issue` (replies add to it)."""

    async def after(session: AsyncSession, bot: Bot, message: Sent) -> None:
        assert issue.id is not None
        await remember_issue_message(
            session,
            chat_id=message.chat_id,
            message_id=message.message_id,
            issue_id=issue.id,
            now=message.date,
        )
        if then is not None:
            await then(session, bot, message)

    return after


def _quoted(tr: Translator, issue: Issue) -> str:
    return f"«{title(tr, issue)}»"


async def render_issue_event(
    session: AsyncSession, row: Outbox, tr: Translator, *, reminder_after: timedelta
) -> Rendered | None:
    issue = await session.get(Issue, row.payload.get("issue_id"))
    event = await session.get(IssueEvent, row.payload.get("event_id"))
    if issue is None or event is None or not event.public:
        return None  # an internal note never reaches a resident, whoever queued it
    _ = tr.gettext
    number = issue.number
    text = escape(cut(event.text, 3000))
    kind = Action(event.kind)
    if kind is Action.ACCEPT:
        body = _("Your issue No. {number} has been accepted by the community.").format(
            number=number
        )
    elif kind in (Action.ASSIGN, Action.CLAIM):
        owner = await owner_text(session, issue)
        body = _("No. {number}: {owner} is now responsible for it.").format(
            number=number, owner=owner
        )
        if issue.plan:
            body += "\n" + _("The plan: {plan}").format(plan=escape(cut(issue.plan, 2000)))
    elif kind is Action.PLAN:
        if issue.due_at:
            body = _("No. {number}: the plan is: {plan}\nExpected by {due}.").format(
                number=number, plan=text, due=tr.datetime(issue.due_at, "short")
            )
        else:
            body = _("No. {number}: the plan is: {plan}").format(number=number, plan=text)
    elif kind is Action.PROGRESS:
        body = _("No. {number}: a reply from {worker}:\n{text}").format(
            number=number, worker=await person_name(session, event.actor_id), text=text
        )
    elif kind is Action.TRANSFER:
        body = _("No. {number} has been passed on to {body}: {note}").format(
            number=number, body=escape(issue.transferred_to), note=text
        )
        answer_by = event.data.get("answer_by")
        if answer_by:
            body += "\n" + _("They should answer by {date}.").format(
                date=tr.date(datetime.fromisoformat(answer_by))
            )
    elif kind is Action.MERGE:
        body = _(
            "No. {number} is the same problem as No. {other}. "
            "You will hear about No. {other} from now on."
        ).format(number=number, other=event.data.get("into_number", ""))
    elif kind is Action.RESOLVE:
        body = _("No. {number} has been resolved: {note}").format(number=number, note=text)
        photos = await _photos_of(session, event)
        if row.person_id is not None and row.person_id == issue.reporter_id:
            return _resolved_question(
                issue, row, tr, body, reminder_after=reminder_after, photos=photos
            )
        return Rendered(
            f"{body}\n{_quoted(tr, issue)}", after_send=_remembering(issue, _sending(photos, tr))
        )
    elif kind is Action.REOPEN:
        body = _("No. {number} has been reopened and is being worked on again.").format(
            number=number
        )
    elif kind is Action.WITHDRAW:
        body = _("No. {number} was withdrawn by the person who reported it.").format(number=number)
    else:
        return None
    return Rendered(f"{body}\n{_quoted(tr, issue)}", after_send=_remembering(issue))


async def _photos_of(session: AsyncSession, event: IssueEvent) -> list[str]:
    """The photos a worker sent with this step (the resolving note's, say): their file ids."""
    rows = await session.exec(
        select(Attachment.telegram_file_id)
        .where(
            Attachment.event_id == event.id,
            Attachment.kind == "photo",
            col(Attachment.telegram_file_id).is_not(None),
        )
        .order_by(col(Attachment.id))
    )
    return [file_id for file_id in rows.all() if file_id]


def _sending(photos: list[str], tr: Translator) -> AfterSend | None:
    """after_send: the step's photos, under the text that speaks of them. Once only (the
    dispatcher may run this again while recording the text as sent); a photo that fails is
    logged, never a reason to send the text again."""
    if not photos:
        return None
    sent = False

    async def send(session: AsyncSession, bot: Bot, message: Sent) -> None:
        nonlocal sent
        if sent:
            return
        sent = True
        caption = tr.gettext("The photo of the work done.")
        for file_id in photos[:PHOTOS_SENT]:
            try:
                await bot.send_photo(
                    message.chat_id,
                    file_id,
                    caption=caption,
                    reply_parameters=ReplyParameters(message.message_id),
                )
            except Exception:
                log.exception("a resolving photo was not sent to chat %s", message.chat_id)

    return send


def _resolved_question(
    issue: Issue,
    row: Outbox,
    tr: Translator,
    body: str,
    *,
    reminder_after: timedelta,
    photos: list[str] | None = None,
) -> Rendered:
    """The reporter's "resolved" notice asks the follow-up question, and queues the one reminder
    once the question has reached them; the worker's photo of the work follows it."""
    _ = tr.gettext
    show = _sending(photos or [], tr)

    async def queue(session: AsyncSession, bot: Bot, message: Sent) -> None:
        if show is not None:
            await show(session, bot, message)
        await queue_reminder(
            session,
            issue,
            chat_id=message.chat_id,
            person_id=row.person_id,
            reminder_after=reminder_after,
            now=message.date,
        )

    text = f"{body}\n{_quoted(tr, issue)}\n\n" + _("Is the problem really solved?")
    return Rendered(
        text, reply_markup=question_keyboard(tr, issue), after_send=_remembering(issue, queue)
    )


async def render_followup_reminder(
    session: AsyncSession, row: Outbox, tr: Translator
) -> Rendered | None:
    issue = await session.get(Issue, row.payload.get("issue_id"))
    if issue is None or not reminder_still_wanted(issue, row.payload.get("round")):
        return None
    _ = tr.gettext
    resolved = tr.date(issue.resolved_at) if issue.resolved_at else ""
    text = _(
        "No. {number} was marked as resolved on {date}. We have not heard from you yet: "
        "is the problem really solved?"
    ).format(number=issue.number, date=resolved)
    return Rendered(
        f"{text}\n{_quoted(tr, issue)}",
        reply_markup=question_keyboard(tr, issue),
        after_send=_remembering(issue),
    )


async def render_not_solved(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    """To the owner (or the staff group): the resident says it is not solved."""
    issue = await session.get(Issue, row.payload.get("issue_id"))
    event = await session.get(IssueEvent, row.payload.get("event_id"))
    if issue is None or event is None:
        return None
    _ = tr.gettext
    text = _(
        "No. {number} is open again: {resident} says it is not solved. Please take another look."
    ).format(number=issue.number, resident=await person_name(session, issue.reporter_id))
    if event.text:
        text += "\n" + _("They said: {comment}").format(comment=escape(cut(event.text, 2000)))
    text += "\n" + _("The old due date no longer counts: please set a new one on the card.")
    return Rendered(f"{text}\n{_quoted(tr, issue)}")


async def render_info_added(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    """To the owner: the resident added words, photos or a voice message (INFO_ADDED), or a
    neighbour backed the issue with their own (SUPPORT_ADDED)."""
    issue = await session.get(Issue, row.payload.get("issue_id"))
    event = await session.get(IssueEvent, row.payload.get("event_id"))
    if issue is None or event is None:
        return None
    _ = tr.gettext
    files = (await session.exec(select(Attachment).where(Attachment.event_id == event.id))).all()
    heading = (
        _("No. {number}: {resident} has the same problem and wrote:")
        if row.kind == SUPPORT_ADDED
        else _("No. {number}: {resident} added:")
    )
    lines = [
        heading.format(number=issue.number, resident=await person_name(session, event.actor_id))
    ]
    if event.text:
        lines.append(escape(cut(event.text, 3000)))
    if files:
        lines.append(tr.ngettext("(+{n} file)", "(+{n} files)", len(files)).format(n=len(files)))
    if (event.data or {}).get("latitude") is not None:  # they sent where it is
        lines.append("📍 " + _("location"))
    lines.append(_quoted(tr, issue))
    return Rendered("\n".join(lines))


async def render_issue_logged(
    session: AsyncSession, row: Outbox, tr: Translator
) -> Rendered | None:
    """To a registered resident whose issue a worker logged for them."""
    issue = await session.get(Issue, row.payload.get("issue_id"))
    if issue is None:
        return None
    _ = tr.gettext
    text = _(
        "The community noted your problem ({channel}) as No. {number}. "
        "They will answer {deadline}.\n"
        "I will tell you every step here. To add something, reply to this message."
    ).format(
        channel=channel_label(tr, issue.channel),
        number=issue.number,
        deadline=deadline_text(tr, issue),
    )
    return Rendered(f"{text}\n{_quoted(tr, issue)}", after_send=_remembering(issue))


def register(renderers: Renderers, *, reminder_after: timedelta) -> None:
    renderers.register(ISSUE_EVENT, partial(render_issue_event, reminder_after=reminder_after))
    renderers.register(FOLLOWUP_REMINDER, render_followup_reminder)
    renderers.register(NOT_SOLVED, render_not_solved)
    renderers.register(INFO_ADDED, render_info_added)
    renderers.register(SUPPORT_ADDED, render_info_added)
    renderers.register(ISSUE_LOGGED, render_issue_logged)
