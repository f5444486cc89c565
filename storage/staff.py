"""The staff side's rules and reading: binding the staff group, who can own an issue, what a card
shows, a worker's to-do list, and the log of who looked at a resident's phone number.

The lifecycle itself (every transition) is storage/issues.py; this module only reads around it
and keeps the staff group's bookkeeping. The clock is always passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, func, or_, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import clocks, outbox
from storage.db import KEEPS_OBJECTS
from storage.fast.direct import Direct
from storage.issue_lifecycle import ISSUE, OPEN, Action
from storage.models import (
    STAFF_ROLES,
    Attachment,
    Building,
    Community,
    Issue,
    IssueEvent,
    IssueStatus,
    Membership,
    Person,
    Role,
    Unit,
)
from storage.notifications import STAFF_CARD

CONTACT_SHOWN = "contact_shown"  # an internal event: who saw the reporter's phone, and when

# Issues whose card a newly bound group gets: everything still being worked on or awaiting the
# resident's follow-up.
CARD_WORTHY = frozenset({*OPEN, IssueStatus.RESOLVED})
MEDIA_KINDS = ("photo", "voice", "document")


# --- binding the staff group -----------------------------------------------------------------


class BindOutcome(StrEnum):
    BOUND = "bound"  # the community had no staff group; now this one
    MOVED = "moved"  # the community's cards move here from another group
    ALREADY = "already"  # this group already is the community's staff group
    TAKEN = "taken"  # this group is another community's staff group


@dataclass(frozen=True)
class Binding:
    outcome: BindOutcome
    holder: Community | None = None  # for TAKEN: the community that has the group
    cards_queued: int = 0


async def community_of_group(session: AsyncSession, chat_id: int) -> Community | None:
    return (await session.exec(select(Community).where(Community.staff_chat_id == chat_id))).first()


async def bind_staff_group(
    session: AsyncSession, *, community: Community, chat_id: int, now: datetime
) -> Binding:
    """Make `chat_id` the community's staff group. A group serves one community only.

    Cards already posted stay where they are; every issue still in hand gets a fresh card in the
    new group (including issues reported before any group was bound), so nothing is missed.
    """
    assert community.id is not None
    holder = await community_of_group(session, chat_id)
    if holder is not None:
        if holder.id == community.id:
            return Binding(BindOutcome.ALREADY, holder)
        return Binding(BindOutcome.TAKEN, holder)
    moved = community.staff_chat_id is not None
    community.staff_chat_id = chat_id
    session.add(community)
    await session.flush()
    # Old message ids belong to the old group: forget them, so refreshes post a new card here.
    await session.exec(
        update(Issue)
        .where(col(Issue.community_id) == community.id)
        .values(staff_message_id=None)
        .execution_options(synchronize_session=False)
    )
    rows = await session.exec(
        select(Issue)
        .where(Issue.community_id == community.id, col(Issue.status).in_(list(CARD_WORTHY)))
        .order_by(col(Issue.number))
    )
    queued = 0
    for issue in rows.all():
        queued += await outbox.enqueue(
            session,
            chat_id=chat_id,
            kind=STAFF_CARD,
            dedupe_key=f"card:{issue.id}:chat:{chat_id}",
            due_at=now,
            payload={"issue_id": issue.id},
            now=now,
            community_id=community.id,
            urgent=True,
        )
    return Binding(BindOutcome.MOVED if moved else BindOutcome.BOUND, cards_queued=queued)


async def follow_group_migration(
    session: AsyncSession, *, old_chat_id: int, new_chat_id: int
) -> bool:
    """A group became a supergroup (Telegram gives it a new id): the binding follows it."""
    community = await community_of_group(session, old_chat_id)
    if community is None:
        return False
    community.staff_chat_id = new_chat_id
    session.add(community)
    await session.flush()
    return True


# The statements every card posted or refreshed runs, built once with bind parameters: a
# statement built per call costs SQLAlchemy more than running it (it works out a new cache key
# each time, and an ORM bulk UPDATE takes the ORM's slower path), see storage/inbox.py.
_STORE_CARD = Direct(
    update(ISSUE)
    .where(ISSUE.c.id == bindparam("issue_id"))
    .values(staff_message_id=bindparam("message_id"), staff_card_digest=bindparam("digest"))
    .execution_options(**{KEEPS_OBJECTS: True})  # store_card_message sets what it wrote
)


async def store_card_message(
    session: AsyncSession, issue_id: int, message_id: int, digest: str | None = None
) -> None:
    """Remember where the card is and what it shows (a digest, so an edit that would change
    nothing is not sent), without touching the issue's version (not a domain change). The
    issue the session holds, if any, shows the same at once: the notices the update queues are
    rendered from it without reading it again (storage/db.py: BULK_CHANGED)."""
    await _STORE_CARD.execute(
        session, {"issue_id": issue_id, "message_id": message_id, "digest": digest}
    )
    held = session.sync_session.identity_map.get(identity_key(Issue, issue_id))
    if held is not None:
        set_committed_value(held, "staff_message_id", message_id)
        set_committed_value(held, "staff_card_digest", digest)


async def replace_card_message(
    session: AsyncSession, issue_id: int, message_id: int, digest: str | None
) -> int | None:
    """Remember a card just posted; the id of an older copy still in the staff group (the card
    was posted twice, or posted again while the old one was kept), whose buttons must go."""
    older = (
        await session.exec(select(Issue.staff_message_id).where(col(Issue.id) == issue_id))
    ).first()
    await store_card_message(session, issue_id, message_id, digest)
    return older if older is not None and older != message_id else None


# --- who can own an issue --------------------------------------------------------------------


async def staff_members(session: AsyncSession, community_id: int) -> list[tuple[Person, Role]]:
    """The community's secretary and workers: the people an issue can be assigned to."""
    rows = await session.exec(
        select(Person, Membership.role)
        .join(Membership, col(Membership.person_id) == Person.id)
        .where(
            Membership.community_id == community_id,
            col(Membership.active).is_(True),
            col(Membership.role).in_([str(r) for r in STAFF_ROLES]),
        )
        .order_by(col(Person.full_name), col(Person.id))
    )
    members = [(person, Role(role)) for person, role in rows.all()]
    # the secretary first: the one who steps in anywhere
    return sorted(members, key=lambda pr: pr[1] is not Role.SECRETARY)


async def names(session: AsyncSession, person_ids: Iterable[int | None]) -> dict[int, str]:
    ids = {pid for pid in person_ids if pid is not None}
    if not ids:
        return {}
    rows = await session.exec(select(Person).where(col(Person.id).in_(ids)))
    return {p.id: p.full_name for p in rows.all() if p.id is not None}


# --- what a card shows -----------------------------------------------------------------------


@dataclass(frozen=True)
class CardFacts:
    """Everything a card shows about one issue, read in one place."""

    issue: Issue
    community: Community
    building: str | None
    unit: str | None
    reporter: Person | None
    owner: Person | None
    photos: int
    media: int  # photos, voice messages and documents together
    last_progress: IssueEvent | None
    last_progress_by: str | None
    merged_into_number: int | None
    last_reopen: IssueEvent | None = None  # 重办: why it was reopened (the resident's words)


_MEDIA = (
    select(Attachment)
    .where(
        Attachment.issue_id == bindparam("issue_id"),
        col(Attachment.kind).in_(MEDIA_KINDS),
        col(Attachment.telegram_file_id).is_not(None),
    )
    .order_by(col(Attachment.created_at), col(Attachment.id))
)


async def media_of(session: AsyncSession, issue: Issue) -> list[Attachment]:
    """Photos, voice messages and documents of the issue (the report's and later ones), oldest
    first."""
    rows = await session.exec(_MEDIA, params={"issue_id": issue.id})
    return list(rows.all())


ATTACHMENT = Attachment.metadata.tables["attachment"]
EVENT = IssueEvent.metadata.tables["issue_event"]


def _media_count(*kinds: str) -> Any:
    return (
        select(func.count())
        .select_from(ATTACHMENT)
        .where(
            ATTACHMENT.c.issue_id == bindparam("issue_id"),
            or_(
                *(ATTACHMENT.c.kind == kind for kind in kinds)
            ),  # no IN list: storage/fast/direct.py
            ATTACHMENT.c.telegram_file_id.is_not(None),
        )
        .scalar_subquery()
    )


# What a card counts, in one statement (every card posted or refreshed runs it): the issue's
# photos, all its media, and its latest progress note.
def _latest(action: Action) -> Any:
    """The id of the issue's latest event of this kind (None if there is none)."""
    return (
        select(EVENT.c.id)
        .where(EVENT.c.issue_id == bindparam("issue_id"), EVENT.c.kind == str(action))
        .order_by(EVENT.c.at.desc(), EVENT.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


_CARD_COUNTS = Direct(
    select(
        _media_count("photo"),
        _media_count(*MEDIA_KINDS),
        _latest(Action.PROGRESS),
        _latest(Action.REOPEN),
    )
)


async def card_facts(session: AsyncSession, issue: Issue) -> CardFacts:
    community = await session.get(Community, issue.community_id)
    assert community is not None
    building = await session.get(Building, issue.building_id) if issue.building_id else None
    unit = await session.get(Unit, issue.unit_id) if issue.unit_id else None
    reporter = await session.get(Person, issue.reporter_id) if issue.reporter_id else None
    owner = await session.get(Person, issue.owner_id) if issue.owner_id else None
    ((photos, media, progress_id, reopen_id),) = await _CARD_COUNTS.rows(
        session, {"issue_id": issue.id}
    )
    progress = await session.get(IssueEvent, progress_id) if progress_id is not None else None
    reopened = await session.get(IssueEvent, reopen_id) if reopen_id is not None else None
    by = await names(session, [progress.actor_id]) if progress else {}
    merged_into = await session.get(Issue, issue.merged_into_id) if issue.merged_into_id else None
    return CardFacts(
        issue=issue,
        community=community,
        building=building.name if building else None,
        unit=unit.name if unit else None,
        reporter=reporter,
        owner=owner,
        photos=photos,
        media=media,
        last_progress=progress,
        last_progress_by=by.get(progress.actor_id) if progress and progress.actor_id else None,
        merged_into_number=merged_into.number if merged_into else None,
        last_reopen=reopened,
    )


async def record_contact_shown(
    session: AsyncSession, issue: Issue, *, actor_id: int, now: datetime
) -> IssueEvent:
    """A worker looked at the reporter's phone number: kept in the history, never public."""
    assert issue.id is not None
    event = IssueEvent(
        issue_id=issue.id, at=now, actor_id=actor_id, kind=CONTACT_SHOWN, public=False
    )
    session.add(event)
    await session.flush()
    return event


# --- a worker's to-do list -------------------------------------------------------------------


def todo_order(issues: Iterable[Issue], now: datetime) -> list[Issue]:
    """Overdue first, then by the moment of the clock that governs each issue now (the plan's
    due date once set, else the reply-by time while nobody has answered; storage/clocks.py),
    soonest first, those with no running clock last, then by number."""
    far = datetime.max.replace(tzinfo=now.tzinfo)

    def key(issue: Issue) -> tuple[bool, datetime, int]:
        return (not clocks.is_overdue(issue, now), clocks.deadline(issue, now) or far, issue.number)

    return sorted(issues, key=key)


async def todo_for(
    session: AsyncSession, *, person_id: int, community_id: int, role: Role, now: datetime
) -> list[Issue]:
    """A worker's open items. The secretary also follows what volunteers and self-governance
    groups own, since no worker has those on their list."""
    mine = col(Issue.owner_id) == person_id
    if role is Role.SECRETARY:
        mine = mine | col(Issue.owner_group).is_not(None)
    rows = await session.exec(
        select(Issue).where(
            Issue.community_id == community_id, col(Issue.status).in_(list(OPEN)), mine
        )
    )
    return todo_order(rows.all(), now)


async def transferred_for(
    session: AsyncSession, *, person_id: int, community_id: int, role: Role
) -> list[Issue]:
    """A worker's issues handed on to another body (转办), still theirs to follow up: earliest
    answer date first (`transfer_answer_by`, the date the body should answer by)."""
    mine = col(Issue.owner_id) == person_id
    if role is Role.SECRETARY:
        mine = mine | col(Issue.owner_group).is_not(None)
    rows = await session.exec(
        select(Issue)
        .where(
            Issue.community_id == community_id,
            Issue.status == IssueStatus.TRANSFERRED,
            mine,
        )
        .order_by(col(Issue.transfer_answer_by).asc().nulls_last(), col(Issue.number))
    )
    return list(rows.all())


def needs_a_call() -> Any:
    """The reporter cannot be asked by the bot: no Telegram (logged by phone or at the desk),
    or they blocked it."""
    return col(Person.telegram_user_id).is_(None) | col(Person.unreachable_since).is_not(None)


async def calls_for(
    session: AsyncSession, *, person_id: int, community_id: int, role: Role
) -> list[Issue]:
    """A worker's call list (回访 by telephone): their resolved issues whose reporter the bot
    cannot ask, longest waiting first. The secretary also calls for what volunteer teams and
    self-governance groups resolved."""
    mine = col(Issue.owner_id) == person_id
    if role is Role.SECRETARY:
        mine = mine | col(Issue.owner_group).is_not(None)
    rows = await session.exec(
        select(Issue)
        .join(Person, col(Person.id) == Issue.reporter_id)
        .where(
            Issue.community_id == community_id,
            Issue.status == IssueStatus.RESOLVED,
            mine,
            needs_a_call(),
        )
        .order_by(col(Issue.resolved_at), col(Issue.number))
    )
    return list(rows.all())


async def waiting_for_owner(session: AsyncSession, *, community_id: int) -> list[Issue]:
    """Open issues nobody owns yet, oldest first: what a worker can claim."""
    rows = await session.exec(
        select(Issue)
        .where(
            Issue.community_id == community_id,
            col(Issue.status).in_(list(OPEN)),
            col(Issue.owner_id).is_(None),
            col(Issue.owner_group).is_(None),
        )
        .order_by(col(Issue.created_at), col(Issue.number))
    )
    return list(rows.all())
