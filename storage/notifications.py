"""Who hears about what: public steps of an issue become outbox rows for its audience.

Written in the same transaction as the step itself (see storage/outbox.py). The text is
rendered at send time, in each reader's language (handlers/residents/notifications.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from storage import escalation, outbox
from storage.issue_support import audience
from storage.models import Community, Issue, IssueEvent, Urgency

ISSUE_EVENT = "issue_event"  # a public step, told to the reporter and supporters
STAFF_CARD = "staff_card"  # a new issue's card, posted in the community's staff group
CARD_REFRESH = "card_refresh"  # the card, edited in place after the issue changed
CARD_RETIRED = "card_retired"  # an older copy of a card posted again: its buttons taken away


async def _to_staff_group(
    session: AsyncSession, issue: Issue, *, kind: str, key: str, now: datetime
) -> bool:
    community = await session.get(Community, issue.community_id)
    if community is None or community.staff_chat_id is None:
        return False  # no staff group bound yet: /todo and /issue still show it
    return await outbox.enqueue(
        session,
        chat_id=community.staff_chat_id,
        kind=kind,
        dedupe_key=key,
        due_at=now,
        payload={"issue_id": issue.id},
        now=now,
        community_id=issue.community_id,
        urgent=issue.urgency == Urgency.EMERGENCY,
    )


async def issue_opened(session: AsyncSession, issue: Issue, *, now: datetime) -> bool:
    """Queue the new issue's card for the staff group (once; nothing if no group is bound), and
    for an urgent issue page the people responsible at once (storage/escalation.py)."""
    await escalation.urgent_opened(session, issue, now=now)
    return await _to_staff_group(session, issue, kind=STAFF_CARD, key=f"card:{issue.id}", now=now)


async def issue_changed(session: AsyncSession, issue: Issue, *, now: datetime) -> bool:
    """Queue an in-place refresh of the staff card after a change made outside the group
    (the resident added a photo, withdrew, answered the follow-up, a neighbour said "me too")."""
    return await _to_staff_group(
        session, issue, kind=CARD_REFRESH, key=card_state_key(issue), now=now
    )


def card_state_key(issue: Issue) -> str:
    """The dedupe key of a card refresh: once per state of the card, whichever route queues
    it. "Me too" and a merge add supporters without a new version, so the count is part of it."""
    return f"card:{issue.id}:v{issue.version}:s{issue.support_count}"


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
        queued += await outbox.enqueue_to_person(
            session,
            person_id,
            kind=ISSUE_EVENT,
            dedupe_key=f"event:{event.id}:{person_id}",
            due_at=now,
            payload={"issue_id": issue.id, "event_id": event.id},
            now=now,
            community_id=issue.community_id,
            urgent=issue.urgency == Urgency.EMERGENCY,
        )
    return queued
