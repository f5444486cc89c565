"""Staff turnover: a worker who left is deactivated, the secretary's role changes hands, and
invitation links are withdrawn.

Deactivating a worker ends their membership, which is what every rights check reads
(`storage.people.role_in`), so their buttons, commands and cards stop working at once. Their
items go back to the secretary's queue (退单 with the reason) or to a chosen worker (改派),
each with an event in the issue's history; their unused invitation links are revoked; messages
still queued for them are cancelled and their drafts dropped.

Every function checks who is asking (plain ids in, `StaffRefusal` out) and takes `now`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import chat_state, outbox
from storage import issues as rules
from storage.issue_lifecycle import OPEN, Action, ConcurrentChange
from storage.models import (
    Community,
    InviteLink,
    Issue,
    IssueEvent,
    IssueStatus,
    Membership,
    Outbox,
    OutboxStatus,
    Person,
    Role,
    RoleHandover,
)
from storage.notifications import issue_changed, notify_audience

HANDOVER_TTL = timedelta(hours=48)
# Outbox kinds (rendered in handlers/secretary/staff_admin.py).
HANDOVER_OFFER = "handover_offer"  # to the worker asked to become secretary
HANDOVER_ANSWER = "handover_answer"  # to the secretary who asked
ITEMS_HANDED_OVER = "items_handed_over"  # to the worker who takes over a leaver's items
# The leaver removed from the staff group (banned, then unbanned so they can be invited back),
# and, if Telegram refuses, the secretary told why (handlers/secretary/staff_removal.py).
STAFF_REMOVAL = "staff_removal"
REMOVAL_REFUSED = "staff_removal_refused"

# A leaver's items that may still come back to work (a follow-up "not solved" reopens a
# resolved issue; a transferred one can return) move with the open ones.
MOVABLE = frozenset({*OPEN, IssueStatus.RESOLVED, IssueStatus.TRANSFERRED})
RETURNABLE = frozenset({IssueStatus.ASSIGNED, IssueStatus.IN_PROGRESS})


class Refusal(StrEnum):
    NOT_SECRETARY = "not_secretary"
    NOT_A_WORKER = "not_a_worker"
    SAME_PERSON = "same_person"
    OFFER_GONE = "offer_gone"
    OFFER_EXPIRED = "offer_expired"
    NOT_YOURS = "not_yours"


class StaffRefusal(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


@dataclass(frozen=True)
class StaffMember:
    person: Person
    membership: Membership
    items: int


async def _active(
    session: AsyncSession, *, community_id: int, person_id: int, role: Role
) -> Membership | None:
    return (
        await session.exec(
            select(Membership).where(
                Membership.community_id == community_id,
                Membership.person_id == person_id,
                Membership.role == role,
                col(Membership.active).is_(True),
            )
        )
    ).first()


async def require_secretary(session: AsyncSession, *, community_id: int, person_id: int) -> None:
    if await _active(session, community_id=community_id, person_id=person_id, role=Role.SECRETARY):
        return
    raise StaffRefusal(Refusal.NOT_SECRETARY)


async def require_worker(
    session: AsyncSession, *, community_id: int, person_id: int
) -> tuple[Person, Membership]:
    member = await _active(
        session, community_id=community_id, person_id=person_id, role=Role.WORKER
    )
    person = await session.get(Person, person_id)
    if member is None or person is None:
        raise StaffRefusal(Refusal.NOT_A_WORKER)
    return person, member


async def items_of(session: AsyncSession, *, community_id: int, person_id: int) -> list[Issue]:
    """Issues a worker owns that are not finished for good, oldest first."""
    rows = await session.exec(
        select(Issue)
        .where(
            Issue.community_id == community_id,
            Issue.owner_id == person_id,
            col(Issue.status).in_([str(s) for s in MOVABLE]),
        )
        .order_by(col(Issue.number))
    )
    return list(rows.all())


async def list_workers(session: AsyncSession, *, community_id: int) -> list[StaffMember]:
    rows = (
        await session.exec(
            select(Person, Membership)
            .join(Membership, col(Membership.person_id) == Person.id)
            .where(
                Membership.community_id == community_id,
                Membership.role == Role.WORKER,
                col(Membership.active).is_(True),
            )
            .order_by(col(Person.full_name), col(Person.id))
        )
    ).all()
    members = []
    for person, member in rows:
        assert person.id is not None
        items = await items_of(session, community_id=community_id, person_id=person.id)
        members.append(StaffMember(person, member, len(items)))
    return members


# --- deactivation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Deactivated:
    worker: Person
    moved: list[Issue]
    to: Person | None  # None: back to the secretary's queue
    revoked_links: int
    cancelled_messages: int


async def _hand_over_record(
    session: AsyncSession,
    issue: Issue,
    *,
    to_person_id: int | None,
    actor_id: int,
    reason: str,
    now: datetime,
) -> IssueEvent:
    """Change the owner of an issue the state machine would not reassign (resolved, awaiting
    follow-up; transferred), under the same optimistic lock, with a staff-only event."""
    previous = issue.owner_id
    result = await session.exec(
        update(Issue)
        .where(col(Issue.id) == issue.id, col(Issue.version) == issue.version)
        .values(owner_id=to_person_id, version=issue.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        await session.refresh(issue)
        raise ConcurrentChange(issue)
    await session.refresh(issue)
    assert issue.id is not None
    event = IssueEvent(
        issue_id=issue.id,
        at=now,
        actor_id=actor_id,
        kind=Action.ASSIGN,
        public=False,
        text=reason,
        data={
            "owner_id": to_person_id,
            "previous_owner_id": previous,
            "reassigned": True,
            "staff_left": previous,
        },
    )
    session.add(event)
    await session.flush()
    return event


async def deactivate_worker(
    session: AsyncSession,
    *,
    community_id: int,
    secretary_id: int,
    worker_id: int,
    to_person_id: int | None,
    reason: str,
    now: datetime,
) -> Deactivated:
    """The worker left: end their membership and move their items (see the module doc)."""
    await require_secretary(session, community_id=community_id, person_id=secretary_id)
    worker, membership = await require_worker(
        session, community_id=community_id, person_id=worker_id
    )
    to_person = None
    if to_person_id is not None:
        if to_person_id == worker_id:
            raise StaffRefusal(Refusal.SAME_PERSON)
        to_person, _ = await require_worker(
            session, community_id=community_id, person_id=to_person_id
        )
    moved = await items_of(session, community_id=community_id, person_id=worker_id)
    for issue in moved:
        status = IssueStatus(issue.status)
        if to_person_id is not None and status in OPEN:
            event = await rules.assign(
                session, issue, actor_id=secretary_id, now=now, owner_id=to_person_id, reason=reason
            )
        elif to_person_id is None and status in RETURNABLE:
            event = await rules.return_issue(
                session, issue, reason=reason, actor_id=secretary_id, now=now
            )
        else:
            event = await _hand_over_record(
                session,
                issue,
                to_person_id=to_person_id,
                actor_id=secretary_id,
                reason=reason,
                now=now,
            )
        event.data = {**event.data, "staff_left": worker_id}
        session.add(event)
        if event.public:
            await notify_audience(session, issue, event, now=now)
        await issue_changed(session, issue, now=now)
    membership.active = False
    session.add(membership)
    revoked = await session.exec(
        update(InviteLink)
        .where(
            col(InviteLink.created_by_id) == worker_id,
            col(InviteLink.revoked_at).is_(None),
            col(InviteLink.expires_at).is_(None) | (col(InviteLink.expires_at) > now),
            col(InviteLink.max_uses).is_(None)
            | (col(InviteLink.use_count) < col(InviteLink.max_uses)),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    cancelled = await session.exec(
        update(Outbox)
        .where(col(Outbox.person_id) == worker_id, col(Outbox.status) == OutboxStatus.PENDING)
        .values(status=OutboxStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    if worker.telegram_user_id is not None:
        await chat_state.clear_user(session, user_id=worker.telegram_user_id)
    await _cancel_offers(session, community_id=community_id, person_id=worker_id, now=now)
    if to_person is not None and moved and to_person.telegram_user_id is not None:
        await outbox.enqueue(
            session,
            chat_id=to_person.telegram_user_id,
            kind=ITEMS_HANDED_OVER,
            dedupe_key=f"handed:{worker_id}:{to_person_id}:{int(now.timestamp())}",
            due_at=now,
            payload={"from_person_id": worker_id, "issue_ids": [i.id for i in moved]},
            now=now,
            person_id=to_person_id,
            community_id=community_id,
        )
    await session.flush()
    return Deactivated(
        worker=worker,
        moved=moved,
        to=to_person,
        revoked_links=int(revoked.rowcount),
        cancelled_messages=int(cancelled.rowcount),
    )


async def remove_from_staff_group(
    session: AsyncSession, *, community_id: int, worker_id: int, secretary_id: int, now: datetime
) -> bool:
    """A deactivated worker leaves the staff group too: queue their removal (at once, at night
    too: nothing makes a sound). False when there is no group or no Telegram account."""
    community = await session.get(Community, community_id)
    worker = await session.get(Person, worker_id)
    if community is None or community.staff_chat_id is None:
        return False
    if worker is None or worker.telegram_user_id is None:
        return False
    return await outbox.enqueue(
        session,
        chat_id=community.staff_chat_id,
        kind=STAFF_REMOVAL,
        dedupe_key=f"leave:{community_id}:{worker_id}:{int(now.timestamp())}",
        due_at=now,
        payload={"worker_id": worker_id, "secretary_id": secretary_id},
        now=now,
        community_id=community_id,
        urgent=True,
    )


# --- the secretary's role changes hands ------------------------------------------------------


def _pending() -> list[ColumnElement[bool]]:
    return [
        col(RoleHandover.accepted_at).is_(None),
        col(RoleHandover.declined_at).is_(None),
        col(RoleHandover.cancelled_at).is_(None),
    ]


async def _cancel_offers(
    session: AsyncSession, *, community_id: int, person_id: int | None, now: datetime
) -> None:
    query = select(RoleHandover).where(RoleHandover.community_id == community_id, *_pending())
    for offer in (await session.exec(query)).all():
        if person_id is None or person_id in (offer.from_person_id, offer.to_person_id):
            offer.cancelled_at = now
            session.add(offer)


async def pending_offer(session: AsyncSession, *, community_id: int) -> RoleHandover | None:
    return (
        await session.exec(
            select(RoleHandover).where(RoleHandover.community_id == community_id, *_pending())
        )
    ).first()


async def offer_handover(
    session: AsyncSession,
    *,
    community_id: int,
    secretary_id: int,
    worker_id: int,
    now: datetime,
    ttl: timedelta = HANDOVER_TTL,
) -> RoleHandover:
    """Ask a worker to take over as secretary; an earlier open offer is withdrawn."""
    await require_secretary(session, community_id=community_id, person_id=secretary_id)
    worker, _ = await require_worker(session, community_id=community_id, person_id=worker_id)
    await _cancel_offers(session, community_id=community_id, person_id=None, now=now)
    offer = RoleHandover(
        community_id=community_id,
        from_person_id=secretary_id,
        to_person_id=worker_id,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(offer)
    await session.flush()
    if worker.telegram_user_id is not None:
        await outbox.enqueue(
            session,
            chat_id=worker.telegram_user_id,
            kind=HANDOVER_OFFER,
            dedupe_key=f"handover:{offer.id}",
            due_at=now,
            payload={"handover_id": offer.id},
            now=now,
            person_id=worker_id,
            community_id=community_id,
        )
    return offer


def offer_is_open(offer: RoleHandover, now: datetime) -> bool:
    return (
        offer.accepted_at is None
        and offer.declined_at is None
        and offer.cancelled_at is None
        and now < offer.expires_at
    )


async def answer_handover(
    session: AsyncSession, *, handover_id: int, person_id: int, accept: bool, now: datetime
) -> RoleHandover:
    """The worker accepts (roles swap: they become secretary, the secretary a worker) or
    declines; the secretary is told either way."""
    offer = await session.get(RoleHandover, handover_id)
    if offer is None or offer.to_person_id != person_id:
        raise StaffRefusal(Refusal.NOT_YOURS)
    if not offer_is_open(offer, now):
        expired = (
            offer.accepted_at is None and offer.declined_at is None and now >= offer.expires_at
        )
        raise StaffRefusal(Refusal.OFFER_EXPIRED if expired else Refusal.OFFER_GONE)
    if accept:
        secretary = await _active(
            session,
            community_id=offer.community_id,
            person_id=offer.from_person_id,
            role=Role.SECRETARY,
        )
        worker = await _active(
            session, community_id=offer.community_id, person_id=person_id, role=Role.WORKER
        )
        if secretary is None or worker is None:
            raise StaffRefusal(Refusal.OFFER_GONE)
        secretary.role, worker.role = Role.WORKER, Role.SECRETARY
        session.add_all([secretary, worker])
        offer.accepted_at = now
    else:
        offer.declined_at = now
    session.add(offer)
    await outbox.enqueue_to_person(
        session,
        offer.from_person_id,
        kind=HANDOVER_ANSWER,
        dedupe_key=f"handover:{offer.id}:answer",
        due_at=now,
        payload={"handover_id": offer.id},
        now=now,
        community_id=offer.community_id,
    )
    await session.flush()
    return offer


# --- invitation links ------------------------------------------------------------------------


def link_is_active(link: InviteLink, now: datetime) -> bool:
    return (
        link.revoked_at is None
        and (link.expires_at is None or link.expires_at > now)
        and (link.max_uses is None or link.use_count < link.max_uses)
    )


async def active_invites(
    session: AsyncSession, *, community_id: int, now: datetime, limit: int = 8
) -> list[InviteLink]:
    """Links of the community that still let someone in, newest first."""
    rows = await session.exec(
        select(InviteLink)
        .where(InviteLink.community_id == community_id, col(InviteLink.revoked_at).is_(None))
        .order_by(col(InviteLink.created_at).desc(), col(InviteLink.id).desc())
    )
    return [link for link in rows.all() if link_is_active(link, now)][:limit]


async def revoke_invite(
    session: AsyncSession, *, community_id: int, link_id: int, now: datetime
) -> InviteLink | None:
    """Withdraw one link of this community; None when there is no such active link."""
    link = await session.get(InviteLink, link_id)
    if link is None or link.community_id != community_id or not link_is_active(link, now):
        return None
    link.revoked_at = now
    session.add(link)
    await session.flush()
    return link
