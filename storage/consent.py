"""Consent campaigns for building projects (adding an elevator, 改建): their storage, the
households, votes and their append-only log, mediations, the figures the weekly digest shows,
and telling the scope's residents.

Every vote says who cast it and how: from the phone by a verified member of the household, or
recorded by a named worker (door to door, at a meeting, on paper, by a proxy named in the log)
with the evidence they saw. Only such verified votes count under the rule.

The rule itself (who takes part, who agrees, whether the project passes, exactly) is
storage/consent_rules.py; the household lists, floor areas and which households are verified
are storage/households.py.
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
    HouseholdError,
    HouseholdRow,
    ParsedRows,
    Refusal,
    chat_vote_refusal,
    decode_csv,
    from_dm2,
    home_in_scope,
    may_vote_as_resident,
    normalise_room,
    parse_area,
    parse_household_csv,
    parse_household_lines,
    to_dm2,
    verified_home,
    verified_members,
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
    Person,
    Role,
    Unit,
    VerifiedHome,
    VoteChoice,
)

# --- storage: campaigns, households, votes, mediations ------------------------------------------


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


def ballots(rows: Iterable[ConsentHousehold]) -> list[Ballot]:
    """The households as the rule sees them: a vote that was not verified is no vote."""
    return [
        Ballot(
            room=h.room,
            area=from_dm2(h.area_dm2),
            choice=VoteChoice(h.choice) if h.choice and h.vote_verified else None,
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


def lives_in_scope(member: Membership, campaign: ConsentCampaign) -> bool:
    """A resident who says they live in the campaign's building (and unit): a claim, enough to
    see the vote and be told how to get verified, never to vote. Staff are not residents of
    the building they serve."""
    if not member.active or member.community_id != campaign.community_id:
        return False
    if not may_vote_as_resident(member.role):
        return False
    if member.building_id != campaign.building_id:
        return False
    return campaign.unit_id is None or member.unit_id in (None, campaign.unit_id)


async def home_of(session: AsyncSession, member: Membership) -> VerifiedHome | None:
    """The member's verified household, if the community confirmed one."""
    return await verified_home(
        session, person_id=member.person_id, community_id=member.community_id
    )


async def concerns_campaign(
    session: AsyncSession, campaign: ConsentCampaign, member: Membership
) -> bool:
    """The vote is this resident's business: their verified household, or their claimed home,
    is in its scope (staff never)."""
    if not may_vote_as_resident(member.role) or not member.active:
        return False
    home = await home_of(session, member)
    return (home is not None and home_in_scope(home, campaign)) or lives_in_scope(member, campaign)


async def household_of(
    session: AsyncSession, campaign: ConsentCampaign, member: Membership
) -> ConsentHousehold | None:
    """The campaign's household this resident may vote for from the phone: their verified
    household, when it is on the campaign's list."""
    home = await home_of(session, member)
    if home is None or not may_vote_as_resident(member.role) or not home_in_scope(home, campaign):
        return None
    return await household_by_room(session, campaign, home.room)


@dataclass(frozen=True)
class Verification:
    """How many of a campaign's households the community has verified, and which votes do not
    count (cast before households were verified)."""

    households: int
    verified: int  # households with at least one verified member
    members: dict[int, int]  # household id -> its verified members
    uncounted: int  # households whose current vote is not verified


async def verification(
    session: AsyncSession, campaign: ConsentCampaign, homes: Sequence[ConsentHousehold]
) -> Verification:
    by_room = await verified_members(session, campaign)
    members = {
        h.id: len(by_room.get(normalise_room(h.room), [])) for h in homes if h.id is not None
    }
    return Verification(
        households=len(homes),
        verified=sum(1 for count in members.values() if count),
        members=members,
        uncounted=sum(1 for h in homes if h.choice and not h.vote_verified),
    )


async def claimants(
    session: AsyncSession, campaign: ConsentCampaign, household: ConsentHousehold, *, limit: int
) -> list[tuple[Person, Membership]]:
    """Residents a worker may verify as members of `household`: active residents (not staff)
    who say they live in the campaign's scope and are not verified for it yet; those who gave
    this very room first."""
    query = (
        select(Person, Membership)
        .join(Membership, col(Membership.person_id) == Person.id)
        .where(
            Membership.community_id == campaign.community_id,
            Membership.building_id == campaign.building_id,
            col(Membership.active).is_(True),
            col(Membership.role).not_in([str(r) for r in STAFF_ROLES]),
            col(Person.anonymised_at).is_(None),
        )
    )
    found = []
    wanted = normalise_room(household.room)
    for person, member in (await session.exec(query)).all():
        if not lives_in_scope(member, campaign):
            continue
        home = await home_of(session, member)
        if (
            home is not None
            and home_in_scope(home, campaign)
            and (normalise_room(home.room) == wanted)
        ):
            continue
        found.append((person, member))
    found.sort(
        key=lambda pm: (normalise_room(pm[1].room or "") != wanted, pm[0].full_name, pm[0].id)
    )
    return found[:limit]


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
    proxy_name: str | None = None,
    evidence: str | None = None,
) -> ConsentVoteLog:
    """The household's vote (one per household: a new one replaces it), logged every time with
    who cast it and how. From the phone (`cast_by_id`): only a verified member of that very
    household. Recorded by a worker (`recorded_by_id`, staff of the community): door to door,
    at a meeting, on paper or by a proxy (whose name is required), always with the evidence."""
    if household.campaign_id != campaign.id:
        raise ConsentError("the household is not in this campaign", Refusal.OTHER_HOUSEHOLD)
    if not may_change_vote(campaign, now):
        raise ConsentError("the campaign is not open")
    if channel not in VOTE_CHANNELS:
        raise ConsentError("unknown channel")
    proxy_name = _clean(proxy_name, 200)
    evidence = _clean(evidence, 1000)
    if channel is Channel.TELEGRAM:
        voter = await membership_of(session, cast_by_id, campaign.community_id)
        home = await home_of(session, voter) if voter is not None else None
        refusal = chat_vote_refusal(voter, home, campaign, household.room)
        if refusal is not None:
            raise ConsentError("not a verified member of this household", refusal)
        recorded_by_id = proxy_name = evidence = None
    else:
        worker = await membership_of(session, recorded_by_id, campaign.community_id)
        if worker is None or may_vote_as_resident(worker.role) or not worker.active:
            raise ConsentError("only a worker records a vote given in person", Refusal.STAFF)
        if evidence is None:
            raise ConsentError("a recorded vote needs the evidence")
        if (channel is Channel.PROXY) != (proxy_name is not None):
            raise ConsentError("a proxy's vote, and only that, names the proxy")
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
        proxy_name=proxy_name,
        evidence=evidence,
        verified=True,
    )
    session.add(entry)
    household.choice = choice
    household.vote_channel = channel
    household.voted_by_id = cast_by_id
    household.recorded_by_id = recorded_by_id
    household.voted_at = now
    household.vote_verified = True
    if concerns:
        household.concerns = concerns
    session.add(household)
    await session.flush()
    return entry


def _clean(text: str | None, limit: int) -> str | None:
    text = (text or "").strip()[:limit]
    return text or None


async def membership_of(
    session: AsyncSession, person_id: int | None, community_id: int
) -> Membership | None:
    if person_id is None:
        return None
    return (
        await session.exec(
            select(Membership).where(
                Membership.person_id == person_id, Membership.community_id == community_id
            )
        )
    ).first()


async def names_of_voters(session: AsyncSession, campaign: ConsentCampaign) -> dict[int, str]:
    """The names of everyone in the campaign's log (who cast a vote, who recorded one)."""
    ids: set[int] = set()
    for entry in await vote_log(session, campaign):
        ids.update(i for i in (entry.cast_by_id, entry.recorded_by_id) if i is not None)
    if not ids:
        return {}
    rows = await session.exec(select(Person).where(col(Person.id).in_(ids)))
    return {p.id: p.full_name for p in rows.all() if p.id is not None}


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
            channel=Channel.TELEGRAM,  # typed in the chat, by `person_id`
            cast_by_id=person_id,
            verified=household.vote_verified,
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
        if e.verified
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
