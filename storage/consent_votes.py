"""Consent campaigns: the votes. Whose business a vote is and which household a resident may
vote for from the phone, casting and recording a vote with its append-only log, the ballots
the rule counts and the verdict, how many households are verified, and the support rate over
time (the chart, the weekly digest).

Every vote says who cast it and how: from the phone by a verified member of the household, or
recorded by a named worker (door to door, at a meeting, on paper, by a proxy named in the log)
with the evidence they saw. Only such verified votes count under the rule.

The campaigns themselves (their households, opening and closing, mediations) are
storage/consent.py; the rule is storage/consent_rules.py; the household lists, floor areas
and which households are verified are storage/households.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.consent import ConsentError, household_by_room, households
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
from storage.households import (
    Refusal,
    chat_vote_refusal,
    from_dm2,
    home_in_scope,
    may_vote_as_resident,
    normalise_room,
    verified_home,
    verified_members,
)
from storage.models import (
    STAFF_ROLES,
    Channel,
    ConsentCampaign,
    ConsentHousehold,
    ConsentRule,
    ConsentVoteLog,
    Membership,
    Person,
    VerifiedHome,
    VoteChoice,
)


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
