"""Consent campaigns for building projects (adding an elevator, 改建): the campaigns, their
households, opening and closing them, mediations, and telling the scope's residents.

The votes (who may cast them, the log, the ballots and the verdict) are
storage/consent_votes.py; the rule itself (who takes part, who agrees, whether the project
passes, exactly) is storage/consent_rules.py; the household lists, floor areas and which
households are verified are storage/households.py.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import outbox
from storage.households import HouseholdRow, Refusal, normalise_room, to_dm2, verified_members
from storage.models import (
    STAFF_ROLES,
    Building,
    CampaignStatus,
    ConsentCampaign,
    ConsentHousehold,
    ConsentMediation,
    ConsentRule,
    ConsentVoteLog,
    MediationHousehold,
    Membership,
    Role,
    Unit,
)

# --- campaigns, households, mediations -----------------------------------------------------------


class ConsentError(Exception):
    """A refusal to tell the person in plain words (`refusal` says why, when a vote for a
    household was refused)."""

    def __init__(self, message: str, refusal: Refusal | None = None) -> None:
        super().__init__(message)
        self.refusal = refusal


async def create_campaign(
    session: AsyncSession,
    *,
    community_id: int,
    building_id: int,
    question: str,
    rule: ConsentRule,
    created_by_id: int | None,
    now: datetime,
    unit_id: int | None = None,
) -> ConsentCampaign:
    building = await session.get(Building, building_id)
    if building is None or building.community_id != community_id:
        raise ConsentError("the building is not in this community")
    if unit_id is not None:
        unit = await session.get(Unit, unit_id)
        if unit is None or unit.building_id != building_id:
            raise ConsentError("the unit is not in this building")
    if not question.strip():
        raise ConsentError("a campaign needs a question")
    campaign = ConsentCampaign(
        community_id=community_id,
        building_id=building_id,
        unit_id=unit_id,
        question=question.strip(),
        rule=rule,
        created_by_id=created_by_id,
        created_at=now,
    )
    session.add(campaign)
    await session.flush()
    return campaign


async def units_of(session: AsyncSession, building_id: int) -> list[Unit]:
    rows = await session.exec(
        select(Unit)
        .where(Unit.building_id == building_id)
        .order_by(col(Unit.sort_order), col(Unit.name))
    )
    return list(rows.all())


async def unit_named(session: AsyncSession, *, building_id: int, name: str) -> Unit:
    """The building's unit of that name, created on first use (units are entered as needed)."""
    name = name.strip()[:100]
    unit = (
        await session.exec(select(Unit).where(Unit.building_id == building_id, Unit.name == name))
    ).first()
    if unit is None:
        unit = Unit(building_id=building_id, name=name)
        session.add(unit)
        await session.flush()
    return unit


@dataclass(frozen=True)
class Saved:
    added: int
    updated: int


async def save_households(
    session: AsyncSession, campaign: ConsentCampaign, rows: Sequence[HouseholdRow], *, now: datetime
) -> Saved:
    """Add households, or correct the ones already there (matched by room); votes are kept."""
    if campaign.status == CampaignStatus.CLOSED:
        raise ConsentError("the campaign is closed")
    existing = {h.room: h for h in await households(session, campaign)}
    added = updated = 0
    for row in rows:
        household = existing.get(row.room)
        if household is None:
            assert campaign.id is not None
            household = ConsentHousehold(campaign_id=campaign.id, room=row.room, created_at=now)
            existing[row.room] = household
            added += 1
        else:
            updated += 1
        if row.owner_name is not None:
            household.owner_name = row.owner_name
        if row.area is not None:
            household.area_dm2 = to_dm2(row.area)
        if row.flagged is not None:
            household.own_space_occupied = row.flagged
        session.add(household)
    await session.flush()
    return Saved(added=added, updated=updated)


async def remove_household(
    session: AsyncSession, campaign: ConsentCampaign, room: str
) -> ConsentHousehold:
    """Take a household off the list (a typo, a room that is not in the building). Only while
    voting is open and only one that never voted or was mediated: the vote log is append-only,
    and a vote once cast is corrected, never erased (send its line again to correct it)."""
    if campaign.status == CampaignStatus.CLOSED:
        raise ConsentError("the campaign is closed")
    wanted = normalise_room(room)
    home = next((h for h in await households(session, campaign) if h.room == wanted), None)
    if home is None:
        raise ConsentError("no such household")
    voted = (
        await session.exec(
            select(ConsentVoteLog.id).where(ConsentVoteLog.household_id == home.id).limit(1)
        )
    ).first()
    mediated = (
        await session.exec(
            select(MediationHousehold.mediation_id)
            .where(MediationHousehold.household_id == home.id)
            .limit(1)
        )
    ).first()
    if voted is not None or mediated is not None or home.choice is not None:
        raise ConsentError("the household has voted")
    await session.delete(home)
    await session.flush()
    return home


async def households(session: AsyncSession, campaign: ConsentCampaign) -> list[ConsentHousehold]:
    rows = await session.exec(
        select(ConsentHousehold)
        .where(ConsentHousehold.campaign_id == campaign.id)
        .order_by(col(ConsentHousehold.room))
    )
    return sorted(rows.all(), key=lambda h: _room_key(h.room))


def _room_key(room: str) -> tuple[int, str]:
    digits = re.sub(r"\D", "", room)
    return (int(digits) if digits and len(digits) < 12 else 0, room)


async def household_by_room(
    session: AsyncSession, campaign: ConsentCampaign, room: str
) -> ConsentHousehold | None:
    wanted = normalise_room(room)
    for household in await households(session, campaign):
        if normalise_room(household.room) == wanted:
            return household
    return None


async def open_campaign(
    session: AsyncSession, campaign: ConsentCampaign, *, now: datetime
) -> list[int]:
    """Start voting; returns the person ids of the scope's registered residents to tell."""
    if campaign.status != CampaignStatus.DRAFT:
        raise ConsentError("the campaign is not a draft")
    if not await households(session, campaign):
        raise ConsentError("enter the households first")
    campaign.status = CampaignStatus.OPEN
    campaign.opened_at = now
    session.add(campaign)
    await session.flush()
    return await residents_in_scope(session, campaign)


async def close_campaign(
    session: AsyncSession, campaign: ConsentCampaign, *, now: datetime
) -> list[int]:
    if campaign.status != CampaignStatus.OPEN:
        raise ConsentError("the campaign is not open")
    campaign.status = CampaignStatus.CLOSED
    campaign.closed_at = now
    session.add(campaign)
    await session.flush()
    return await residents_in_scope(session, campaign)


async def residents_in_scope(session: AsyncSession, campaign: ConsentCampaign) -> list[int]:
    """The residents to tell of the vote: those whose verified household is in the scope, and
    those who say they live there (told how to get verified). Never staff: the building a
    worker serves is not their home."""
    query = select(Membership.person_id).where(
        Membership.community_id == campaign.community_id,
        Membership.building_id == campaign.building_id,
        col(Membership.active).is_(True),
        col(Membership.role).not_in([str(r) for r in STAFF_ROLES]),
    )
    if campaign.unit_id is not None:
        query = query.where(
            (col(Membership.unit_id).is_(None)) | (col(Membership.unit_id) == campaign.unit_id)
        )
    people = set((await session.exec(query)).all())
    for members in (await verified_members(session, campaign)).values():
        people.update(members)
    return sorted(people)


async def record_mediation(
    session: AsyncSession,
    campaign: ConsentCampaign,
    *,
    household_ids: Sequence[int],
    parties: str,
    positions: str,
    agreement: str,
    reached: bool,
    recorded_by_id: int | None,
    now: datetime,
) -> ConsentMediation:
    if not (parties.strip() and positions.strip() and agreement.strip()):
        raise ConsentError("a mediation needs parties, positions and the agreement")
    assert campaign.id is not None
    ids = set(household_ids)
    homes = [h for h in await households(session, campaign) if h.id in ids]
    if len(homes) != len(ids) or not homes:
        raise ConsentError("the households are not in this campaign")
    mediation = ConsentMediation(
        campaign_id=campaign.id,
        parties=parties.strip(),
        positions=positions.strip(),
        agreement=agreement.strip(),
        reached=reached,
        recorded_by_id=recorded_by_id,
        at=now,
    )
    session.add(mediation)
    await session.flush()
    assert mediation.id is not None
    session.add_all(
        MediationHousehold(mediation_id=mediation.id, household_id=h.id)
        for h in homes
        if h.id is not None
    )
    await session.flush()
    return mediation


async def mediations(
    session: AsyncSession, campaign: ConsentCampaign
) -> list[tuple[ConsentMediation, list[str]]]:
    """The campaign's mediations, each with the rooms it concerns."""
    rows = (
        await session.exec(
            select(ConsentMediation)
            .where(ConsentMediation.campaign_id == campaign.id)
            .order_by(col(ConsentMediation.at), col(ConsentMediation.id))
        )
    ).all()
    result = []
    for mediation in rows:
        rooms = (
            await session.exec(
                select(ConsentHousehold.room)
                .join(
                    MediationHousehold,
                    col(MediationHousehold.household_id) == ConsentHousehold.id,
                )
                .where(MediationHousehold.mediation_id == mediation.id)
            )
        ).all()
        result.append((mediation, sorted(rooms, key=_room_key)))
    return result


async def campaigns_of(
    session: AsyncSession, community_id: int, *, statuses: Sequence[CampaignStatus] | None = None
) -> list[ConsentCampaign]:
    query = select(ConsentCampaign).where(ConsentCampaign.community_id == community_id)
    if statuses:
        query = query.where(col(ConsentCampaign.status).in_([str(s) for s in statuses]))
    rows = await session.exec(query.order_by(col(ConsentCampaign.created_at).desc()))
    return list(rows.all())


def may_manage(role: Role | None) -> bool:
    """Creating campaigns and recording others' votes and mediations is staff work."""
    return role in STAFF_ROLES


# --- telling the scope's residents ---------------------------------------------------------------

CAMPAIGN_OPENED = "campaign_opened"
CAMPAIGN_CLOSED = "campaign_closed"


async def tell_residents(
    session: AsyncSession,
    campaign: ConsentCampaign,
    person_ids: Sequence[int],
    *,
    kind: str,
    now: datetime,
) -> int:
    """One outbox row per resident of the scope with a Telegram chat."""
    queued = 0
    what = "open" if kind == CAMPAIGN_OPENED else "result"
    for person_id in person_ids:
        queued += await outbox.enqueue_to_person(
            session,
            person_id,
            kind=kind,
            dedupe_key=f"campaign:{campaign.id}:{what}:{person_id}",
            due_at=now,
            payload={"campaign_id": campaign.id},
            now=now,
            community_id=campaign.community_id,
        )
    return queued
