"""Residents' data: what the notebook holds about a person, forgetting them, and retention.

The rules (docs/residents.md, "Your data"; docs/operations.md, "Privacy operations"):

- `export_person`: everything stored about one person, as plain JSON-ready data (/mydata).
- /forget is storage/forgetting.py: every trace of the person, in every table.
- `anonymise_expired`: closed issues older than the retention period lose their personal data
  the same way, and their link to the reporter and supporters (the support count stays).
  Staff names on the history stay: they are the office's record, not residents' data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, delete, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import phones
from storage.models import (
    Attachment,
    Building,
    ChatState,
    Community,
    ConsentHousehold,
    ConsentVoteLog,
    CouncilTopic,
    HouseholdEvent,
    InviteLink,
    Issue,
    IssueEvent,
    IssueMessage,
    IssueStatus,
    IssueSupporter,
    MeetingParticipant,
    Membership,
    Outbox,
    OutboxStatus,
    Person,
    Unit,
    VerifiedHome,
)

ANONYMOUS_NAME = "匿名 · Anonymous"  # shown wherever the person's name used to be, any language
REDACTED = "***"
CLOSED_FOR_GOOD = (IssueStatus.CLOSED, IssueStatus.WITHDRAWN, IssueStatus.MERGED)


def redact_phones(text: str, replacement: str = REDACTED) -> str:
    """`text` with every phone number masked (storage/phones.py: the one recogniser)."""
    return phones.mask_phones(text, replacement)


def redact(
    text: str | None, identifiers: Iterable[str | None], *, any_phone: bool = True
) -> str | None:
    """`text` without the given names/usernames/phones, and (`any_phone`) any phone number."""
    if text is None:
        return None
    for identifier in sorted({i.strip() for i in identifiers if i and i.strip()}, key=len)[::-1]:
        if len(identifier) < 2:
            continue
        if identifier.isascii() and identifier.replace(" ", "").isalnum():
            # "Li" must not eat "Light"; Chinese runs straight into it ("找Li")
            pattern = rf"(?<![0-9A-Za-z]){re.escape(identifier)}(?![0-9A-Za-z])"
        else:
            pattern = re.escape(identifier)
        text = re.sub(pattern, REDACTED, text, flags=re.IGNORECASE)
    return redact_phones(text) if any_phone else text


def _identifiers(person: Person | None) -> list[str | None]:
    if person is None or person.anonymised_at is not None:
        return []
    return [person.full_name, person.username, f"@{person.username}" if person.username else None]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- /mydata ---------------------------------------------------------------------------------


async def _council_of(
    session: AsyncSession, person_id: int, communities: dict[int | None, str]
) -> dict[str, Any]:
    """The person's council topics, consent votes, verified home and meeting invitations."""
    topics = (
        await session.exec(
            select(CouncilTopic)
            .where(CouncilTopic.proposer_id == person_id)
            .order_by(col(CouncilTopic.id))
        )
    ).all()
    votes = (
        await session.exec(
            select(ConsentVoteLog, ConsentHousehold)
            .join(ConsentHousehold, col(ConsentHousehold.id) == ConsentVoteLog.household_id)
            .where(ConsentVoteLog.cast_by_id == person_id)
            .order_by(col(ConsentVoteLog.id))
        )
    ).all()
    homes = (
        await session.exec(select(VerifiedHome).where(VerifiedHome.person_id == person_id))
    ).all()
    meetings = (
        await session.exec(
            select(MeetingParticipant).where(MeetingParticipant.person_id == person_id)
        )
    ).all()
    return {
        "council_topics": [
            {
                "community": communities.get(t.community_id),
                "number": t.id,
                "title": t.title,
                "description": t.description,
                "status": t.status,
                "answer": t.answer,
                "raised_at": _iso(t.created_at),
            }
            for t in topics
        ],
        "consent_votes": [
            {
                "campaign": v.campaign_id,
                "room": h.room,
                "choice": v.choice,
                "concerns": v.concerns,
                "at": _iso(v.at),
            }
            for v, h in votes
        ],
        "verified_homes": [
            {
                "community": communities.get(h.community_id),
                "room": h.room,
                "via": h.via,
                "at": _iso(h.verified_at),
            }
            for h in homes
        ],
        "meetings_invited_to": [
            {"meeting": m.meeting_id, "as": m.reason, "attended": m.attended} for m in meetings
        ],
    }


async def export_person(session: AsyncSession, person: Person, *, now: datetime) -> dict[str, Any]:
    """Everything stored about `person`, as JSON-ready data (ids are replaced by names)."""
    assert person.id is not None
    communities = {c.id: c.name for c in (await session.exec(select(Community))).all()}
    buildings = {b.id: b.name for b in (await session.exec(select(Building))).all()}

    async def unit_name(unit_id: int | None) -> str | None:
        unit = await session.get(Unit, unit_id) if unit_id else None
        return unit.name if unit else None

    memberships = (
        await session.exec(select(Membership).where(Membership.person_id == person.id))
    ).all()
    reported = (
        await session.exec(
            select(Issue).where(Issue.reporter_id == person.id).order_by(col(Issue.created_at))
        )
    ).all()
    supported = (
        await session.exec(
            select(IssueSupporter, Issue)
            .join(Issue, col(Issue.id) == IssueSupporter.issue_id)
            .where(IssueSupporter.person_id == person.id)
            .order_by(col(IssueSupporter.created_at))
        )
    ).all()
    actions = (
        await session.exec(
            select(IssueEvent, Issue)
            .join(Issue, col(Issue.id) == IssueEvent.issue_id)
            .where(IssueEvent.actor_id == person.id)
            .order_by(col(IssueEvent.at), col(IssueEvent.id))
        )
    ).all()
    drafts = (
        (
            await session.exec(
                select(ChatState).where(ChatState.user_id == person.telegram_user_id)
            )
        ).all()
        if person.telegram_user_id
        else []
    )
    waiting = (
        await session.exec(
            select(func.count()).where(
                Outbox.person_id == person.id, col(Outbox.status) == OutboxStatus.PENDING
            )
        )
    ).one()
    invitations = (
        await session.exec(select(InviteLink).where(InviteLink.created_by_id == person.id))
    ).all()
    council = await _council_of(session, person.id, communities)

    def issue_ref(issue: Issue) -> dict[str, Any]:
        return {"community": communities.get(issue.community_id), "number": issue.number}

    issues_out = []
    for issue in reported:
        events = (
            await session.exec(
                select(IssueEvent)
                .where(IssueEvent.issue_id == issue.id, col(IssueEvent.public).is_(True))
                .order_by(col(IssueEvent.at), col(IssueEvent.id))
            )
        ).all()
        attachments = (
            await session.exec(select(Attachment).where(Attachment.issue_id == issue.id))
        ).all()
        issues_out.append(
            {
                **issue_ref(issue),
                "category": issue.category,
                "status": issue.status,
                "urgency": issue.urgency,
                "channel": issue.channel,
                "description": issue.description,
                "summary": issue.summary,
                "building": buildings.get(issue.building_id),
                "unit": await unit_name(issue.unit_id),
                "location": (
                    {"latitude": issue.latitude, "longitude": issue.longitude}
                    if issue.latitude is not None
                    else None
                ),
                "plan": issue.plan,
                "due_at": _iso(issue.due_at),
                "transferred_to": issue.transferred_to,
                "transfer_answer_by": _iso(issue.transfer_answer_by),
                "reported_at": _iso(issue.created_at),
                "resolved_at": _iso(issue.resolved_at),
                "closed_at": _iso(issue.closed_at),
                "followup_result": issue.followup_result,
                "satisfaction": issue.satisfaction,
                "attachments": [
                    {"kind": a.kind, "caption": a.caption, "at": _iso(a.created_at)}
                    for a in attachments
                ],
                "public_history": [
                    {"at": _iso(e.at), "step": e.kind, "text": e.text} for e in events
                ],
            }
        )
    return {
        "exported_at": _iso(now),
        "profile": {
            "name": person.full_name,
            "telegram_user_id": person.telegram_user_id,
            "telegram_username": person.username,
            "telegram_language_code": person.telegram_language_code,
            "chosen_language": person.locale,
            "phone": person.phone,
            "first_seen": _iso(person.created_at),
            "unreachable_since": _iso(person.unreachable_since),
        },
        "memberships": [
            {
                "community": communities.get(m.community_id),
                "role": m.role,
                "building": buildings.get(m.building_id),
                "unit": await unit_name(m.unit_id),
                "room": m.room,
                "active": m.active,
                "since": _iso(m.created_at),
            }
            for m in memberships
        ],
        "household_verification": [
            {
                "community": communities.get(e.community_id),
                "what": e.kind,
                "building": buildings.get(e.building_id),
                "unit": await unit_name(e.unit_id),
                "room": e.room,
                "how": e.via,
                "reason": e.reason,
                "at": _iso(e.at),
            }
            for e in (
                await session.exec(
                    select(HouseholdEvent)
                    .where(HouseholdEvent.person_id == person.id)
                    .order_by(col(HouseholdEvent.id))
                )
            ).all()
        ],
        "issues_reported": issues_out,
        "issues_supported": [
            {
                **issue_ref(issue),
                "category": issue.category,
                "status": issue.status,
                "since": _iso(s.created_at),
            }
            for s, issue in supported
        ],
        "your_steps_on_issues": [
            {**issue_ref(issue), "at": _iso(e.at), "step": e.kind, "text": e.text}
            for e, issue in actions
        ],
        "conversation_in_progress": [
            {"flow": d.flow, "step": d.step, "draft": d.data, "updated_at": _iso(d.updated_at)}
            for d in drafts
        ],
        "messages_waiting_to_be_sent": int(waiting),
        **council,
        "invitations_created": [
            {
                "community": communities.get(link.community_id),
                "role": link.role,
                "created_at": _iso(link.created_at),
                "expires_at": _iso(link.expires_at),
                "revoked_at": _iso(link.revoked_at),
                "uses": link.use_count,
            }
            for link in invitations
        ],
    }


async def scrub_texts(
    session: AsyncSession,
    *,
    issue_ids: list[int],
    event_query: Any,
    identifiers: list[str | None],
    drop_voice_on_issues: list[int],
) -> int:
    """Redact descriptions, event texts and captions; delete voice messages. Returns how many
    voice messages went."""
    for issue in (await session.exec(select(Issue).where(col(Issue.id).in_(issue_ids)))).all():
        issue.description = redact(issue.description, identifiers) or ""
        issue.summary = redact(issue.summary, identifiers)
        issue.plan = redact(issue.plan, identifiers)
        session.add(issue)
    events = list((await session.exec(event_query)).all())
    for event in events:
        event.text = redact(event.text, identifiers)
        session.add(event)
    event_ids = [e.id for e in events]
    attachments = (
        await session.exec(
            select(Attachment).where(
                or_(
                    col(Attachment.event_id).in_(event_ids),
                    col(Attachment.issue_id).in_(drop_voice_on_issues)
                    & col(Attachment.event_id).is_(None),
                )
            )
        )
    ).all()
    voices = 0
    for attachment in attachments:
        if attachment.kind == "voice":
            await session.delete(attachment)
            voices += 1
        else:
            attachment.caption = redact(attachment.caption, identifiers)
            session.add(attachment)
    return voices


# --- retention -------------------------------------------------------------------------------


async def anonymise_expired(
    session: AsyncSession, *, now: datetime, retention: timedelta, batch: int = 200
) -> int:
    """Remove personal data from issues closed more than `retention` ago; returns how many.

    Idempotent and bounded (`batch` issues per call), so a periodic job simply runs it again."""
    cutoff = now - retention
    ended = func.coalesce(Issue.closed_at, Issue.last_activity_at, Issue.created_at)
    issues = list(
        (
            await session.exec(
                select(Issue)
                .where(
                    col(Issue.status).in_([str(s) for s in CLOSED_FOR_GOOD]),
                    col(Issue.anonymised_at).is_(None),
                    ended < cutoff,
                )
                .order_by(col(Issue.id))
                .limit(batch)
            )
        ).all()
    )
    for issue in issues:
        assert issue.id is not None
        supporter_ids = list(
            (
                await session.exec(
                    select(IssueSupporter.person_id).where(IssueSupporter.issue_id == issue.id)
                )
            ).all()
        )
        residents = [issue.reporter_id, *supporter_ids]
        identifiers: list[str | None] = []
        for person_id in residents:
            person = await session.get(Person, person_id) if person_id is not None else None
            if person is not None:
                identifiers += [*_identifiers(person), person.phone]
        await scrub_texts(
            session,
            issue_ids=[issue.id],
            event_query=select(IssueEvent).where(IssueEvent.issue_id == issue.id),
            identifiers=identifiers,
            drop_voice_on_issues=[issue.id],
        )
        for event in (
            await session.exec(
                select(IssueEvent).where(
                    IssueEvent.issue_id == issue.id,
                    col(IssueEvent.actor_id).in_([r for r in residents if r is not None]),
                )
            )
        ).all():
            event.actor_id = None  # the resident's own steps are no longer theirs
            session.add(event)
        await session.exec(delete(IssueSupporter).where(col(IssueSupporter.issue_id) == issue.id))
        # which bot message in a resident's chat spoke of it: no longer anyone's to reply to
        await session.exec(delete(IssueMessage).where(col(IssueMessage.issue_id) == issue.id))
        issue.reporter_id = None
        issue.anonymised_at = now
        session.add(issue)
    await session.flush()
    return len(issues)
