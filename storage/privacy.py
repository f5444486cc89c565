"""Residents' data: what the notebook holds about a person, forgetting them, and retention.

The rules (docs/residents.md, "Your data"; docs/operations.md, "Privacy operations"):

- `export_person`: everything stored about one person, as plain JSON-ready data (/mydata).
- `forget_person` (/forget): the person's row stays, so the facts of their issues stay — the
  issue, its category, building, dates, description and history, the "me too"s they gave —
  but it becomes an anonymous placeholder: name, username, phone, Telegram identity and
  language are cleared, their home (unit, room) is dropped, their memberships end. Texts they
  wrote keep their words minus anything that identifies them (their name, username, phone and
  any phone number); voice messages they sent are deleted (a voice identifies its speaker),
  photos stay. Their conversation drafts and queued messages are deleted. Figures (counts by
  category, building, status, dates, satisfaction) do not change. Staff must first be
  deactivated by the secretary: an office's own record of who did what is not forgettable
  while they work there.
- `anonymise_expired`: closed issues older than the retention period lose their personal data
  the same way, and their link to the reporter and supporters (the support count stays).
  Staff names on the history stay: they are the office's record, not residents' data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, delete, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import chat_state
from storage.issue_lifecycle import Action
from storage.models import (
    STAFF_ROLES,
    Attachment,
    Building,
    ChatState,
    Community,
    InviteLink,
    Issue,
    IssueEvent,
    IssueStatus,
    IssueSupporter,
    Membership,
    Outbox,
    OutboxStatus,
    Person,
    Role,
    RoleHandover,
    Unit,
)

ANONYMOUS_NAME = "匿名 · Anonymous"  # shown wherever the person's name used to be, any language
REDACTED = "***"
CLOSED_FOR_GOOD = (IssueStatus.CLOSED, IssueStatus.WITHDRAWN, IssueStatus.MERGED)

# Mainland mobile numbers (with or without +86, spaces or dashes), international +numbers, and
# landlines written with an area code (023-6388 1234).
# Chinese text runs straight into numbers ("电话13812345678"), so only ASCII letters and digits
# count as "inside a word".
PHONE = re.compile(
    r"(?<![0-9A-Za-z+])(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d){8}(?!\d)"
    r"|\+\d(?:[\s-]?\d){6,14}"
    r"|(?<![0-9A-Za-z+])0\d{2,3}[\s-]\d{3,4}[\s-]?\d{4}(?!\d)"
)


def redact_phones(text: str, replacement: str = REDACTED) -> str:
    return PHONE.sub(replacement, text)


def redact(text: str | None, identifiers: Iterable[str | None]) -> str | None:
    """`text` without phone numbers and without the given names/usernames/phones."""
    if text is None:
        return None
    for identifier in sorted({i.strip() for i in identifiers if i and i.strip()}, key=len)[::-1]:
        if len(identifier) < 2:
            continue
        if identifier.isascii() and identifier.replace(" ", "").isalnum():
            pattern = rf"(?<!\w){re.escape(identifier)}(?!\w)"  # "Li" must not eat "Light"
        else:
            pattern = re.escape(identifier)
        text = re.sub(pattern, REDACTED, text, flags=re.IGNORECASE)
    return redact_phones(text)


def _identifiers(person: Person | None) -> list[str | None]:
    if person is None or person.anonymised_at is not None:
        return []
    return [person.full_name, person.username, f"@{person.username}" if person.username else None]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- /mydata ---------------------------------------------------------------------------------


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


# --- /forget ---------------------------------------------------------------------------------


class StaffMustLeaveFirst(Exception):
    """An active secretary or worker cannot be forgotten; the secretary deactivates them."""

    def __init__(self, role: Role) -> None:
        super().__init__(f"active {role} cannot be forgotten")
        self.role = role


@dataclass(frozen=True)
class Forgotten:
    issues: int  # issues they reported, kept without them
    supports: int
    voice_messages: int


async def _scrub_texts(
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


async def forget_person(session: AsyncSession, person: Person, *, now: datetime) -> Forgotten:
    assert person.id is not None
    memberships = list(
        (await session.exec(select(Membership).where(Membership.person_id == person.id))).all()
    )
    for m in memberships:
        if m.active and Role(m.role) in STAFF_ROLES:
            raise StaffMustLeaveFirst(Role(m.role))
    identifiers = [*_identifiers(person), person.phone]
    reported = [
        i
        for i in (await session.exec(select(Issue.id).where(Issue.reporter_id == person.id))).all()
        if i is not None
    ]
    report_events = select(IssueEvent.id).where(
        col(IssueEvent.issue_id).in_(reported), IssueEvent.kind == Action.REPORT
    )
    voices = await _scrub_texts(
        session,
        issue_ids=reported,
        event_query=select(IssueEvent).where(
            or_(IssueEvent.actor_id == person.id, col(IssueEvent.id).in_(report_events))
        ),
        identifiers=identifiers,
        drop_voice_on_issues=reported,
    )
    supports = (
        await session.exec(select(func.count()).where(IssueSupporter.person_id == person.id))
    ).one()
    for m in memberships:
        m.active, m.unit_id, m.room = False, None, None
        session.add(m)
    telegram_id = person.telegram_user_id
    await session.exec(delete(Outbox).where(col(Outbox.person_id) == person.id))
    if telegram_id is not None:  # their drafts, and anything addressed to their chat
        await chat_state.clear_user(session, user_id=telegram_id)
        await session.exec(delete(Outbox).where(col(Outbox.chat_id) == telegram_id))
    for offer in (
        await session.exec(
            select(RoleHandover).where(
                or_(
                    RoleHandover.from_person_id == person.id,
                    RoleHandover.to_person_id == person.id,
                ),
                col(RoleHandover.accepted_at).is_(None),
                col(RoleHandover.declined_at).is_(None),
                col(RoleHandover.cancelled_at).is_(None),
            )
        )
    ).all():
        offer.cancelled_at = now
        session.add(offer)
    person.full_name = ANONYMOUS_NAME
    person.username = None
    person.phone = None
    person.telegram_user_id = None
    person.telegram_language_code = None
    person.locale = None
    person.current_community_id = None
    person.unreachable_since = None
    person.anonymised_at = now
    session.add(person)
    await session.flush()
    return Forgotten(issues=len(reported), supports=int(supports), voice_messages=voices)


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
        await _scrub_texts(
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
        issue.reporter_id = None
        issue.anonymised_at = now
        session.add(issue)
    await session.flush()
    return len(issues)
