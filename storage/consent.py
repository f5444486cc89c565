"""Consent for building projects (adding an elevator, 改建): who takes part, who agrees, whether
the project passes, and what is still missing. Plus the campaign's storage: households, votes and
their append-only log, mediations, and the figures the weekly digest shows.

The rule is a plain function of the households' ballots (`evaluate`), tested directly. All
arithmetic is exact: shares are `Fraction`s, floor areas are `Decimal` m² (stored as whole dm²),
so "exactly 2/3" and "exactly 3/4" are decided right.

The rules (configurable per campaign, `ConsentRule`):

- **Art. 278** (PRC Civil Code, default, for 改建): quorum: households holding at least 2/3 of the
  floor area AND at least 2/3 of the households take part; approval: at least 3/4 of the
  participating area AND at least 3/4 of the participating households agree.
- **Majority** (Art. 278's rule for other matters): the same 2/3 quorum; more than 1/2 of the
  participating area AND more than 1/2 of the participating households agree.
- **Unanimity** (some districts, for a unit): every household of the scope agrees. Area plays no
  part.

Under every rule a household flagged "own space occupied" must agree itself: while it has not
agreed (disagrees, abstains or has not voted) the project does not pass.

Taking part means casting any vote, abstaining included: an abstention counts towards the quorum
and against approval (it is not an agreement).

Unknown floor areas: a household whose area is unknown counts fully by headcount. The area
figures shown are computed over the households whose area is known, and are labelled so; but
under a rule that uses area (Art. 278, majority) the project cannot be declared passed while any
household's area is unknown, because the area thresholds are shares of the whole floor area and
cannot be proved without it. Enter the missing areas to decide.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from fractions import Fraction

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import outbox
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
    Person,
    Role,
    Unit,
    VoteChoice,
)

# --- the rule ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSpec:
    """Thresholds of one rule. `quorum` and `approval` are shares; `strict` means approval must
    exceed the share rather than reach it; `uses_area` means area is tested as well."""

    quorum: Fraction
    approval: Fraction
    strict: bool
    uses_area: bool


RULES: dict[ConsentRule, RuleSpec] = {
    ConsentRule.ART278: RuleSpec(Fraction(2, 3), Fraction(3, 4), strict=False, uses_area=True),
    ConsentRule.MAJORITY: RuleSpec(Fraction(2, 3), Fraction(1, 2), strict=True, uses_area=True),
    # every household takes part and every participant agrees: the whole scope agrees
    ConsentRule.UNANIMITY: RuleSpec(Fraction(1), Fraction(1), strict=False, uses_area=False),
}

VOTE_CHANNELS = (Channel.TELEGRAM, Channel.VISIT, Channel.MEETING)  # app, door to door, meeting


@dataclass(frozen=True)
class Ballot:
    """One household as the rule sees it: its area (None: unknown) and its current vote."""

    room: str
    area: Decimal | None
    choice: VoteChoice | None
    flagged: bool = False  # its own space is occupied: must agree individually

    @property
    def agrees(self) -> bool:
        return self.choice is VoteChoice.AGREE

    @property
    def takes_part(self) -> bool:
        return self.choice is not None


@dataclass(frozen=True)
class Measure:
    """One way of counting (households, or m² of floor area)."""

    total: Fraction
    participating: Fraction
    agreeing: Fraction

    @property
    def participation(self) -> Fraction | None:
        return self.participating / self.total if self.total else None

    @property
    def approval(self) -> Fraction | None:
        """Agreeing share of those who took part."""
        return self.agreeing / self.participating if self.participating else None

    @property
    def support(self) -> Fraction | None:
        """Agreeing share of everyone: the support rate watched over time."""
        return self.agreeing / self.total if self.total else None


def reaches(part: Fraction, whole: Fraction, share: Fraction, *, strict: bool) -> bool:
    """`part` is at least (strict: more than) `share` of `whole`; nothing of nothing fails."""
    if whole <= 0:
        return False
    return part > share * whole if strict else part >= share * whole


@dataclass(frozen=True)
class Verdict:
    """Everything the bot says about a campaign's standing."""

    rule: ConsentRule
    heads: Measure
    area: Measure  # over the households whose area is known
    unknown_area_rooms: tuple[str, ...]
    quorum_heads: bool
    approval_heads: bool
    quorum_area: bool | None  # None: not used by the rule, or undecidable (unknown areas)
    approval_area: bool | None
    blocking_rooms: tuple[str, ...]  # flagged households that have not agreed
    passed: bool
    more_households: int | None  # more agreeing households needed (None: cannot reach)
    more_area: Decimal | None  # more agreeing m² needed (None: not used or cannot reach)

    @property
    def area_undecided(self) -> bool:
        return RULES[self.rule].uses_area and bool(self.unknown_area_rooms)


def _frac(value: Decimal | None) -> Fraction:
    return Fraction(value) if value is not None else Fraction(0)


def _count(ballots: Sequence[Ballot], weight: bool) -> Measure:
    def w(b: Ballot) -> Fraction:
        return _frac(b.area) if weight else Fraction(1)

    pool = [b for b in ballots if not weight or b.area is not None]
    return Measure(
        total=sum((w(b) for b in pool), Fraction(0)),
        participating=sum((w(b) for b in pool if b.takes_part), Fraction(0)),
        agreeing=sum((w(b) for b in pool if b.agrees), Fraction(0)),
    )


def more_heads_needed(ballots: Sequence[Ballot], spec: RuleSpec) -> int | None:
    """Fewest households that must come round to "agree" for the headcount tests (and every
    flagged household) to pass; None when even all of them would not do.

    New agreements may come from households that have not voted (they also raise turnout) or
    from those who disagreed or abstained; every combination is tried (scopes are small)."""
    silent = [b for b in ballots if not b.takes_part]
    against = [b for b in ballots if b.takes_part and not b.agrees]
    must_silent = sum(1 for b in silent if b.flagged)
    must_against = sum(1 for b in against if b.flagged)
    total = len(ballots)
    took_part = len(ballots) - len(silent)
    agree = sum(1 for b in ballots if b.agrees)
    best: int | None = None
    for x in range(must_silent, len(silent) + 1):
        part = took_part + x
        if not reaches(Fraction(part), Fraction(total), spec.quorum, strict=False):
            continue
        y = must_against
        while y <= len(against) and not reaches(
            Fraction(agree + x + y), Fraction(part), spec.approval, strict=spec.strict
        ):
            y += 1
        if y <= len(against) and (best is None or x + y < best):
            best = x + y
    return best


def more_area_needed(ballots: Sequence[Ballot], spec: RuleSpec) -> Fraction | None:
    """Least agreeing floor area (m², over known areas) to add for the area tests to pass,
    counting flagged households' area as needed anyway; None when it cannot be reached.

    Continuous bound: with x m² coming from non-voters and y m² from opponents, the total
    x + y grows with x, so the least x that reaches the quorum (and leaves y within what the
    opponents hold) is best. For a strict rule the result is the amount to reach the share
    exactly; a little more is needed."""
    known = [b for b in ballots if b.area is not None]
    total = sum((_frac(b.area) for b in known), Fraction(0))
    part = sum((_frac(b.area) for b in known if b.takes_part), Fraction(0))
    agree = sum((_frac(b.area) for b in known if b.agrees), Fraction(0))
    silent = sum((_frac(b.area) for b in known if not b.takes_part), Fraction(0))
    against = part - agree
    must_silent = sum((_frac(b.area) for b in known if not b.takes_part and b.flagged), Fraction(0))
    must_against = sum(
        (_frac(b.area) for b in known if b.takes_part and not b.agrees and b.flagged), Fraction(0)
    )
    r = spec.approval
    x = max(must_silent, spec.quorum * total - part, Fraction(0))
    if r < 1:  # opponents can supply at most `against`: take more from non-voters if needed
        x = max(x, (r * part - agree - against) / (1 - r))
    y = max(must_against, r * (part + x) - agree - x, Fraction(0))
    if x > silent or y > against or total <= 0:
        return None
    return x + y


def evaluate(rule: ConsentRule, ballots: Sequence[Ballot]) -> Verdict:
    """Apply `rule` to the households' current ballots."""
    spec = RULES[rule]
    heads = _count(ballots, weight=False)
    area = _count(ballots, weight=True)
    unknown = tuple(b.room for b in ballots if b.area is None)
    quorum_heads = reaches(heads.participating, heads.total, spec.quorum, strict=False)
    approval_heads = reaches(heads.agreeing, heads.participating, spec.approval, strict=spec.strict)
    quorum_area: bool | None = None
    approval_area: bool | None = None
    if spec.uses_area and not unknown:
        quorum_area = reaches(area.participating, area.total, spec.quorum, strict=False)
        approval_area = reaches(
            area.agreeing, area.participating, spec.approval, strict=spec.strict
        )
    blocking = tuple(b.room for b in ballots if b.flagged and not b.agrees)
    passed = quorum_heads and approval_heads and not blocking
    if spec.uses_area:
        passed = passed and bool(quorum_area) and bool(approval_area)
    more_area: Decimal | None = None
    if spec.uses_area:
        gap = more_area_needed(ballots, spec)
        more_area = None if gap is None else _m2_up(gap)
    return Verdict(
        rule=rule,
        heads=heads,
        area=area,
        unknown_area_rooms=unknown,
        quorum_heads=quorum_heads,
        approval_heads=approval_heads,
        quorum_area=quorum_area,
        approval_area=approval_area,
        blocking_rooms=blocking,
        passed=passed,
        more_households=0 if passed else more_heads_needed(ballots, spec),
        more_area=Decimal(0) if passed and spec.uses_area else more_area,
    )


def _m2_up(value: Fraction) -> Decimal:
    """m², rounded up to the hundredth (never claim less is missing than is)."""
    hundredths = math.ceil(value * 100)
    return (Decimal(hundredths) / 100).quantize(Decimal("0.01"), rounding=ROUND_CEILING)


# --- the support rate over time -----------------------------------------------------------------


@dataclass(frozen=True)
class LoggedVote:
    at: datetime
    household_id: int
    choice: VoteChoice


@dataclass(frozen=True)
class SupportPoint:
    at: datetime
    heads: Fraction  # agreeing households / all households
    area: Fraction | None  # agreeing area / known area (None: no area known)


def support_series(
    areas: dict[int, Decimal | None], log: Iterable[LoggedVote], *, until: datetime
) -> list[SupportPoint]:
    """Replay the vote log up to `until`: the support rate after each vote. Denominators are
    the households of the campaign as it stands (`areas`: household id -> area)."""
    total = len(areas)
    known_area = sum((_frac(a) for a in areas.values() if a is not None), Fraction(0))
    current: dict[int, VoteChoice] = {}
    points: list[SupportPoint] = []
    for vote in sorted(log, key=lambda v: v.at):
        if vote.at > until or vote.household_id not in areas:
            continue
        current[vote.household_id] = vote.choice
        agreeing = [h for h, c in current.items() if c is VoteChoice.AGREE]
        agree_area = sum((_frac(areas[h]) for h in agreeing if areas[h] is not None), Fraction(0))
        points.append(
            SupportPoint(
                at=vote.at,
                heads=Fraction(len(agreeing), total) if total else Fraction(0),
                area=agree_area / known_area if known_area else None,
            )
        )
    return points


def may_change_vote(campaign: ConsentCampaign, now: datetime) -> bool:
    """Votes are taken, and may be changed, while the campaign is open."""
    return campaign.status == CampaignStatus.OPEN and (
        campaign.opened_at is None or campaign.opened_at <= now
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
    homes = await households(session, campaign)
    log = [
        LoggedVote(at=e.at, household_id=e.household_id, choice=VoteChoice(e.choice))
        for e in await vote_log(session, campaign)
    ]
    areas = {h.id: from_dm2(h.area_dm2) for h in homes if h.id is not None}
    return support_series(areas, log, until=now)


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


# --- the digest ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignSummary:
    campaign_id: int
    question: str
    building_id: int
    unit_id: int | None
    households: int
    agreeing: int
    support_heads: Fraction | None
    support_area: Fraction | None  # over known areas; None when no area is known
    passed: bool


async def open_campaigns_summary(
    session: AsyncSession, community_id: int, now: datetime
) -> list[CampaignSummary]:
    """Each open campaign's support rate by headcount and by area, as it stands at `now`."""
    result = []
    for campaign in await campaigns_of(session, community_id, statuses=[CampaignStatus.OPEN]):
        if campaign.opened_at is not None and campaign.opened_at > now:
            continue
        homes = await households(session, campaign)
        points = support_series(
            {h.id: from_dm2(h.area_dm2) for h in homes if h.id is not None},
            [
                LoggedVote(at=e.at, household_id=e.household_id, choice=VoteChoice(e.choice))
                for e in await vote_log(session, campaign)
            ],
            until=now,
        )
        standing = evaluate(ConsentRule(campaign.rule), ballots(homes))
        assert campaign.id is not None
        result.append(
            CampaignSummary(
                campaign_id=campaign.id,
                question=campaign.question,
                building_id=campaign.building_id,
                unit_id=campaign.unit_id,
                households=len(homes),
                agreeing=sum(1 for h in homes if h.choice == VoteChoice.AGREE),
                support_heads=points[-1].heads if points else Fraction(0),
                support_area=points[-1].area if points else standing.area.support,
                passed=standing.passed,
            )
        )
    return result


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
        person = await session.get(Person, person_id)
        if person is None or person.telegram_user_id is None:
            continue
        queued += await outbox.enqueue(
            session,
            chat_id=person.telegram_user_id,
            kind=kind,
            dedupe_key=f"campaign:{campaign.id}:{what}:{person_id}",
            due_at=now,
            payload={"campaign_id": campaign.id},
            now=now,
            person_id=person_id,
            community_id=campaign.community_id,
        )
    return queued
