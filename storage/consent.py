"""Consent campaigns for building projects (adding an elevator, 改建): their storage, the
households, votes and their append-only log, mediations, the figures the weekly digest shows,
and telling the scope's residents.

The rule itself (who takes part, who agrees, whether the project passes, exactly) is
storage/consent_rules.py; the household lists and floor areas are storage/households.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import outbox
from storage.consent_rules import (
    VOTE_CHANNELS,
    Ballot,
    LoggedVote,
    SupportPoint,
    Verdict,
    evaluate,
    may_change_vote,
    support_series,
)
from storage.households import (  # noqa: F401 - consent.HouseholdRow and the rest, as before
    BAD_AREA,
    BAD_COLUMNS,
    BAD_DUPLICATE,
    BAD_FLAG,
    BAD_NO_ROOM,
    BAD_ROOM_TOO_LONG,
    MAX_AREA,
    MAX_OWNER,
    MAX_ROOM,
    BadLine,
    HouseholdRow,
    ParsedRows,
    decode_csv,
    from_dm2,
    parse_area,
    parse_household_csv,
    parse_household_lines,
    to_dm2,
)
from storage.models import (
    STAFF_ROLES,
    Building,
    CampaignStatus,
    Channel,
    ConsentCampaign,
    ConsentHousehold,
    ConsentMediation,
    ConsentRule,
    ConsentVoteLog,
    MediationHousehold,
    Membership,
    Role,
    Unit,
    VoteChoice,
)

# --- storage: campaigns, households, votes, mediations ------------------------------------------


class ConsentError(Exception):
    """A refusal to tell the person in plain words."""


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


def normalise_room(room: str) -> str:
    """ "301室", " 301 ", "３０１" all mean room 301."""
    text = room.strip().translate({ord(c): ord(c) - 0xFEE0 for c in "０１２３４５６７８９"})
    return text.removesuffix("室").removesuffix("号").strip().lower()


def ballots(rows: Iterable[ConsentHousehold]) -> list[Ballot]:
    return [
        Ballot(
            room=h.room,
            area=from_dm2(h.area_dm2),
            choice=VoteChoice(h.choice) if h.choice else None,
            flagged=h.own_space_occupied,
        )
        for h in rows
    ]


async def verdict(session: AsyncSession, campaign: ConsentCampaign) -> Verdict:
    return evaluate(ConsentRule(campaign.rule), ballots(await households(session, campaign)))


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
    """Registered members living in the campaign's building (and unit, when it has one)."""
    query = select(Membership.person_id).where(
        Membership.community_id == campaign.community_id,
        Membership.building_id == campaign.building_id,
        col(Membership.active).is_(True),
    )
    if campaign.unit_id is not None:
        query = query.where(
            (col(Membership.unit_id).is_(None)) | (col(Membership.unit_id) == campaign.unit_id)
        )
    return list((await session.exec(query.order_by(col(Membership.person_id)))).all())


def lives_in_scope(member: Membership, campaign: ConsentCampaign) -> bool:
    """A resident of another building (or another unit) is not in this campaign's scope."""
    if not member.active or member.community_id != campaign.community_id:
        return False
    if member.building_id != campaign.building_id:
        return False
    return campaign.unit_id is None or member.unit_id in (None, campaign.unit_id)


async def household_of(
    session: AsyncSession, campaign: ConsentCampaign, member: Membership
) -> ConsentHousehold | None:
    """The household a registered resident belongs to, linked by their room."""
    if not lives_in_scope(member, campaign) or not member.room:
        return None
    return await household_by_room(session, campaign, member.room)


async def link_home(
    session: AsyncSession, campaign: ConsentCampaign, member: Membership, room: str
) -> ConsentHousehold | None:
    """A resident says which household is theirs: their membership records the room. Only a
    resident of the scope, whose room is not recorded yet (changing it is for staff)."""
    if not lives_in_scope(member, campaign) or member.room:
        return None
    household = await household_by_room(session, campaign, room)
    if household is None:
        return None
    member.room = household.room
    if campaign.unit_id is not None and member.unit_id is None:
        member.unit_id = campaign.unit_id
    session.add(member)
    await session.flush()
    return household


async def cast_vote(
    session: AsyncSession,
    campaign: ConsentCampaign,
    household: ConsentHousehold,
    *,
    choice: VoteChoice,
    now: datetime,
    channel: Channel = Channel.TELEGRAM,
    cast_by_id: int | None = None,
    recorded_by_id: int | None = None,
    concerns: str | None = None,
) -> ConsentVoteLog:
    """The household's vote (one per household: a new one replaces it), logged every time."""
    if household.campaign_id != campaign.id:
        raise ConsentError("the household is not in this campaign")
    if not may_change_vote(campaign, now):
        raise ConsentError("the campaign is not open")
    if channel not in VOTE_CHANNELS:
        raise ConsentError("unknown channel")
    concerns = concerns.strip() if concerns and concerns.strip() else None
    assert campaign.id is not None and household.id is not None
    entry = ConsentVoteLog(
        campaign_id=campaign.id,
        household_id=household.id,
        at=now,
        choice=choice,
        previous_choice=household.choice,
        concerns=concerns,
        channel=channel,
        cast_by_id=cast_by_id,
        recorded_by_id=recorded_by_id,
    )
    session.add(entry)
    household.choice = choice
    household.vote_channel = channel
    household.voted_by_id = cast_by_id
    household.recorded_by_id = recorded_by_id
    household.voted_at = now
    if concerns:
        household.concerns = concerns
    session.add(household)
    await session.flush()
    return entry


async def add_concerns(
    session: AsyncSession,
    campaign: ConsentCampaign,
    household: ConsentHousehold,
    *,
    text: str,
    now: datetime,
    person_id: int | None,
) -> None:
    """Concerns given after the vote: kept on the household and in the log."""
    text = text.strip()
    if not text or household.choice is None:
        raise ConsentError("nothing to add the concerns to")
    assert campaign.id is not None and household.id is not None
    session.add(
        ConsentVoteLog(
            campaign_id=campaign.id,
            household_id=household.id,
            at=now,
            choice=household.choice,
            previous_choice=household.choice,
            concerns=text,
            channel=household.vote_channel or Channel.TELEGRAM,
            cast_by_id=person_id,
        )
    )
    household.concerns = text
    session.add(household)
    await session.flush()


async def vote_log(session: AsyncSession, campaign: ConsentCampaign) -> list[ConsentVoteLog]:
    rows = await session.exec(
        select(ConsentVoteLog)
        .where(ConsentVoteLog.campaign_id == campaign.id)
        .order_by(col(ConsentVoteLog.at), col(ConsentVoteLog.id))
    )
    return list(rows.all())


async def series(
    session: AsyncSession, campaign: ConsentCampaign, *, now: datetime
) -> list[SupportPoint]:
    return await support_points(session, campaign, await households(session, campaign), now)


async def support_points(
    session: AsyncSession,
    campaign: ConsentCampaign,
    homes: Sequence[ConsentHousehold],
    until: datetime,
) -> list[SupportPoint]:
    """The support rate after each logged vote up to `until`, over the campaign's households."""
    log = [
        LoggedVote(at=e.at, household_id=e.household_id, choice=VoteChoice(e.choice))
        for e in await vote_log(session, campaign)
    ]
    areas = {h.id: from_dm2(h.area_dm2) for h in homes if h.id is not None}
    return support_series(areas, log, until=until)


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
