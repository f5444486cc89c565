"""What the secretary's weekly digest says of the council (handlers/council/digest_section.py
writes it out): each open consent campaign's support rate by households and by floor area, and
the council topics waiting past their time limit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import consent, consent_votes
from storage.consent_rules import evaluate
from storage.models import CampaignStatus, ConsentRule, CouncilTopic, TopicStatus, VoteChoice


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
    for campaign in await consent.campaigns_of(
        session, community_id, statuses=[CampaignStatus.OPEN]
    ):
        if campaign.opened_at is not None and campaign.opened_at > now:
            continue
        homes = await consent.households(session, campaign)
        points = await consent_votes.support_points(session, campaign, homes, now)
        standing = evaluate(ConsentRule(campaign.rule), consent_votes.ballots(homes))
        assert campaign.id is not None
        result.append(
            CampaignSummary(
                campaign_id=campaign.id,
                question=campaign.question,
                building_id=campaign.building_id,
                unit_id=campaign.unit_id,
                households=len(homes),
                agreeing=sum(1 for h in homes if h.choice == VoteChoice.AGREE and h.vote_verified),
                support_heads=points[-1].heads if points else Fraction(0),
                support_area=points[-1].area if points else standing.area.support,
                passed=standing.passed,
            )
        )
    return result


async def overdue_topics(
    session: AsyncSession, community_id: int, now: datetime
) -> list[CouncilTopic]:
    """Topics waiting past their time limit (the digest lists them), most overdue first."""
    rows = await session.exec(
        select(CouncilTopic)
        .where(
            CouncilTopic.community_id == community_id,
            CouncilTopic.status == TopicStatus.OPEN,
            col(CouncilTopic.handled_at).is_(None),
            col(CouncilTopic.due_at) < now,
        )
        .order_by(col(CouncilTopic.due_at), col(CouncilTopic.id))
    )
    return list(rows.all())
