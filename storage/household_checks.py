"""Asking for, confirming and undoing a household's verification, and telling the resident.

- `request`: a resident (from /profile) says which room of their building is theirs. That is a
  claim (their membership's room), never proof: the workers of their building (the secretary,
  when no worker serves it) get a request to check it, with a button to confirm.
- `confirm`: a worker confirms it (`households.verify_by_worker`, a line of `household_event`)
  and the resident is told.
- `undo`: a worker takes a verification back (a mistake, someone who moved out): the household
  is no longer theirs, a line of `household_event` says who undid it, when and why, and a vote
  the person cast from the phone in a campaign still open no longer counts (its vote log gets a
  line, not verified, recorded by that worker with the reason; the earlier lines stay). The
  resident is told.

Messages go through the outbox (kinds below, rendered by handlers/staff/household_checks.py
and handlers/residents/household.py), written in the same transaction as the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import outbox
from storage.households import (
    UNDONE,
    HouseholdError,
    Refusal,
    may_vote_as_resident,
    normalise_room,
    verified_home,
    verify_by_worker,
)
from storage.models import (
    CampaignStatus,
    Channel,
    ConsentCampaign,
    ConsentHousehold,
    ConsentVoteLog,
    HouseholdEvent,
    Membership,
    Person,
    Role,
    VerifiedHome,
)

HOUSEHOLD_REQUEST = "household_request"  # to the building's workers: please check this resident
HOUSEHOLD_VERIFIED = "household_verified"  # to the resident: a worker confirmed their household
HOUSEHOLD_UNDONE = "household_undone"  # to the resident: their verification was taken back

MAX_ROOM = 50
MAX_REASON = 500


async def checkers(session: AsyncSession, member: Membership) -> list[Person]:
    """Who checks a resident's household: the active workers whose membership names the
    resident's building; without one, the secretaries. Only people the bot can reach."""
    base = (
        select(Person)
        .join(Membership, col(Membership.person_id) == Person.id)
        .where(
            Membership.community_id == member.community_id,
            col(Membership.active).is_(True),
            col(Person.telegram_user_id).is_not(None),
        )
        .order_by(col(Person.id))
    )
    workers = []
    if member.building_id is not None:
        workers = list(
            (
                await session.exec(
                    base.where(
                        Membership.role == Role.WORKER, Membership.building_id == member.building_id
                    )
                )
            ).all()
        )
    if workers:
        return workers
    return list((await session.exec(base.where(Membership.role == Role.SECRETARY))).all())


@dataclass(frozen=True)
class Requested:
    room: str
    asked: int  # how many staff were sent the request (0: asked before, or nobody to ask)


async def request(
    session: AsyncSession, member: Membership, *, room: str, now: datetime
) -> Requested:
    """The resident says `room` of their building is their household: noted as their claim,
    and the building's checkers are asked (once per person and room)."""
    if not member.active:
        raise HouseholdError(Refusal.NOT_RESIDENT)
    if not may_vote_as_resident(member.role):
        raise HouseholdError(Refusal.STAFF)
    room = room.strip()[:MAX_ROOM]
    if not room or member.building_id is None:
        raise HouseholdError(Refusal.OTHER_HOUSEHOLD)
    member.room = room
    session.add(member)
    asked = 0
    key = normalise_room(room)
    for person in await checkers(session, member):
        if person.id == member.person_id:
            continue
        asked += int(
            await outbox.enqueue_to_person(
                session,
                person.id,
                kind=HOUSEHOLD_REQUEST,
                dedupe_key=f"household:ask:{member.person_id}:{key}:{person.id}",
                due_at=now,
                payload={
                    "person_id": member.person_id,
                    "community_id": member.community_id,
                    "room": room,  # the room asked about: confirming checks exactly this one
                },
                now=now,
                community_id=member.community_id,
            )
        )
    await session.flush()
    return Requested(room=room, asked=asked)


async def _tell(
    session: AsyncSession, member: Membership, event: HouseholdEvent, kind: str, now: datetime
) -> None:
    await session.flush()
    await outbox.enqueue_to_person(
        session,
        member.person_id,
        kind=kind,
        dedupe_key=f"household:{event.id}",
        due_at=now,
        payload={"event_id": event.id},
        now=now,
        community_id=member.community_id,
    )


async def last_event(session: AsyncSession, member: Membership) -> HouseholdEvent | None:
    return (
        await session.exec(
            select(HouseholdEvent)
            .where(
                HouseholdEvent.community_id == member.community_id,
                HouseholdEvent.person_id == member.person_id,
            )
            .order_by(col(HouseholdEvent.id).desc())
        )
    ).first()


async def history(session: AsyncSession, member: Membership) -> list[HouseholdEvent]:
    rows = await session.exec(
        select(HouseholdEvent)
        .where(
            HouseholdEvent.community_id == member.community_id,
            HouseholdEvent.person_id == member.person_id,
        )
        .order_by(col(HouseholdEvent.id))
    )
    return list(rows.all())


async def confirm(
    session: AsyncSession,
    member: Membership,
    *,
    worker: Membership,
    building_id: int,
    unit_id: int | None,
    room: str,
    now: datetime,
) -> VerifiedHome:
    """A worker confirms the resident's household; the resident is told."""
    home = await verify_by_worker(
        session,
        member,
        worker=worker,
        building_id=building_id,
        unit_id=unit_id,
        room=room,
        now=now,
    )
    event = await last_event(session, member)
    assert event is not None
    await _tell(session, member, event, HOUSEHOLD_VERIFIED, now)
    return home


async def undo(
    session: AsyncSession,
    member: Membership,
    *,
    worker: Membership,
    reason: str | None,
    now: datetime,
) -> HouseholdEvent:
    """A worker takes back the resident's verification, with the reason; their phone votes in
    open campaigns stop counting; the resident is told."""
    if worker.community_id != member.community_id or not worker.active:
        raise HouseholdError(Refusal.NOT_RESIDENT)
    if may_vote_as_resident(worker.role):
        raise HouseholdError(Refusal.STAFF)  # only staff undo
    home = await verified_home(
        session, person_id=member.person_id, community_id=member.community_id
    )
    if home is None:
        raise HouseholdError(Refusal.NOT_VERIFIED)
    reason = (reason or "").strip()[:MAX_REASON] or None
    event = HouseholdEvent(
        community_id=member.community_id,
        person_id=member.person_id,
        kind=UNDONE,
        building_id=home.building_id,
        unit_id=home.unit_id,
        room=home.room,
        by_id=worker.person_id,
        reason=reason,
        at=now,
    )
    session.add(event)
    await session.delete(home)
    await _uncount_votes(session, member, worker=worker, reason=reason, now=now)
    await _tell(session, member, event, HOUSEHOLD_UNDONE, now)
    return event


async def _uncount_votes(
    session: AsyncSession,
    member: Membership,
    *,
    worker: Membership,
    reason: str | None,
    now: datetime,
) -> None:
    """A vote this person cast from the phone, in a campaign still open, was cast as a member
    of a household they no longer verifiably belong to: it stops counting."""
    rows = await session.exec(
        select(ConsentHousehold)
        .join(ConsentCampaign, col(ConsentCampaign.id) == ConsentHousehold.campaign_id)
        .where(
            ConsentCampaign.community_id == member.community_id,
            ConsentCampaign.status == CampaignStatus.OPEN,
            ConsentHousehold.voted_by_id == member.person_id,
            ConsentHousehold.vote_channel == Channel.TELEGRAM,
            col(ConsentHousehold.vote_verified).is_(True),
        )
    )
    for household in rows.all():
        assert household.id is not None and household.choice is not None
        session.add(
            ConsentVoteLog(
                campaign_id=household.campaign_id,
                household_id=household.id,
                at=now,
                choice=household.choice,
                previous_choice=household.choice,
                channel=Channel.TELEGRAM,
                cast_by_id=member.person_id,
                recorded_by_id=worker.person_id,
                evidence=reason,  # why the worker undid the verification
                verified=False,
            )
        )
        household.vote_verified = False
        session.add(household)
    await session.flush()
