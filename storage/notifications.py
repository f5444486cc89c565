"""Who hears about what: public steps of an issue become outbox rows for its audience.

Written in the same transaction as the step itself (see storage/outbox.py). The text is
rendered at send time, in each reader's language (handlers/notifications.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from storage import outbox
from storage.issues import audience
from storage.models import Issue, IssueEvent, Person, Urgency

ISSUE_EVENT = "issue_event"


async def notify_audience(
    session: AsyncSession,
    issue: Issue,
    event: IssueEvent,
    *,
    now: datetime,
    skip_person_id: int | None = None,
) -> int:
    """Queue one message per reporter/supporter with a Telegram chat; returns how many."""
    queued = 0
    for person_id in await audience(session, issue):
        if person_id == skip_person_id:
            continue
        person = await session.get(Person, person_id)
        if person is None or person.telegram_user_id is None:
            continue  # logged by phone, no Telegram: staff call them instead
        queued += await outbox.enqueue(
            session,
            chat_id=person.telegram_user_id,
            kind=ISSUE_EVENT,
            dedupe_key=f"event:{event.id}:{person_id}",
            due_at=now,
            payload={"issue_id": issue.id, "event_id": event.id},
            now=now,
            person_id=person_id,
            community_id=issue.community_id,
            urgent=issue.urgency == Urgency.EMERGENCY,
        )
    return queued
