"""The courtyard council (小院议事堂): topics residents bring and how staff take them up, the
council's time limits and policy, and who the community's staff are. Its meetings, minutes and
decisions are storage/council_meetings.py; its lines in the weekly digest storage/council_digest.py.

Consultation timing follows the Shaoxing standard (DB3306/T 075-2025, configurable): a quick topic
is answered within 48 hours, a deep topic's consultation starts within 5 working days (public
holidays and 调休 make-up days from the holiday calendar: storage/dates.py `is_working_day`). Both
clocks run from the moment the topic was raised; until staff grade it, a topic is held to the
quick limit.
A topic is "handled" once it is answered, put on a meeting's agenda, or turned into an issue.

Messages to people go through the outbox, written in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import issues as rules
from storage import outbox
from storage.categories import CATEGORIES, TimeLimits
from storage.dates import add_working_days
from storage.issue_support import add_support
from storage.models import (
    STAFF_ROLES,
    Building,
    Channel,
    Community,
    CouncilTopic,
    Issue,
    Membership,
    Person,
    Role,
    TopicGrade,
    TopicStatus,
    TopicSupporter,
)
from storage.notifications import issue_opened

TOPIC_CARD = "topic_card"  # a new topic, for staff to grade
TOPIC_NEWS = "topic_news"  # the proposer and supporters hear what became of their topic
# A topic card already sent, edited in place (its message id is noted on the TOPIC_CARD row
# once sent, and kept as long as that row: OUTBOX_RETENTION_DAYS): the proposer was forgotten.
TOPIC_CARD_EDIT = "topic_card_edit"

ON_THE_TABLE = frozenset({TopicStatus.OPEN, TopicStatus.SCHEDULED})  # can still be supported
RESIDENT_ROLES = (Role.RESIDENT, Role.BUILDING_LEAD, Role.VOLUNTEER)
MAX_TITLE = 200
MAX_TEXT = 3000


@dataclass(frozen=True)
class CouncilPolicy:
    """Consultation time limits and the meeting reminder; every figure is a setting."""

    quick_hours: int = 48
    deep_working_days: int = 5
    meeting_reminder_at: time = time(18, 0)  # the evening before the meeting, community time


class CouncilError(Exception):
    """A refusal to tell the person in plain words."""


# --- time ---------------------------------------------------------------------------------------


def topic_due(
    raised_at: datetime, grade: TopicGrade | None, policy: CouncilPolicy, tz: ZoneInfo
) -> datetime:
    """When the topic must be answered (quick, or not graded yet) or its consultation started."""
    if grade is TopicGrade.DEEP:
        return add_working_days(raised_at, policy.deep_working_days, tz)
    return raised_at + timedelta(hours=policy.quick_hours)


# --- topics -------------------------------------------------------------------------------------


async def propose_topic(
    session: AsyncSession,
    *,
    community_id: int,
    proposer_id: int,
    title: str,
    description: str,
    building_id: int | None,
    now: datetime,
    policy: CouncilPolicy,
    tz: ZoneInfo,
) -> CouncilTopic:
    title, description = title.strip(), description.strip()
    if not title or not description:
        raise CouncilError("a topic needs a title and a description")
    if building_id is not None:
        building = await session.get(Building, building_id)
        if building is None or building.community_id != community_id:
            raise CouncilError("the building is not in this community")
    topic = CouncilTopic(
        community_id=community_id,
        proposer_id=proposer_id,
        title=title[:MAX_TITLE],
        description=description[:MAX_TEXT],
        building_id=building_id,
        due_at=topic_due(now, None, policy, tz),
        created_at=now,
    )
    session.add(topic)
    await session.flush()
    await _queue_topic_card(session, topic, now=now, policy=policy)
    return topic


async def topic_in(session: AsyncSession, topic_id: int, community_id: int) -> CouncilTopic | None:
    """The topic, only if it belongs to `community_id` (ids in buttons are not keys)."""
    topic = await session.get(CouncilTopic, topic_id)
    return topic if topic is not None and topic.community_id == community_id else None


async def support_topic(
    session: AsyncSession, topic: CouncilTopic, *, person_id: int, now: datetime
) -> bool:
    """One support per person; False when they already back it or proposed it."""
    if TopicStatus(topic.status) not in ON_THE_TABLE:
        raise CouncilError("the topic is no longer open for support")
    assert topic.id is not None
    if topic.proposer_id == person_id:
        return False
    if await session.get(TopicSupporter, (topic.id, person_id)) is not None:
        return False
    session.add(TopicSupporter(topic_id=topic.id, person_id=person_id, created_at=now))
    topic.support_count += 1
    session.add(topic)
    await session.flush()
    return True


async def grade_topic(
    session: AsyncSession,
    topic: CouncilTopic,
    *,
    grade: TopicGrade,
    actor_id: int,
    now: datetime,
    policy: CouncilPolicy,
    tz: ZoneInfo,
) -> CouncilTopic:
    if topic.status != TopicStatus.OPEN:
        raise CouncilError("only an open topic can be graded")
    topic.grade = grade
    topic.graded_by_id = actor_id
    topic.graded_at = now
    topic.due_at = topic_due(topic.created_at, grade, policy, tz)
    session.add(topic)
    await session.flush()
    return topic


async def answer_topic(
    session: AsyncSession, topic: CouncilTopic, *, text: str, actor_id: int, now: datetime
) -> CouncilTopic:
    """A written answer (quick topics): the proposer and supporters are told."""
    if topic.status != TopicStatus.OPEN:
        raise CouncilError("only an open topic can be answered")
    if not text.strip():
        raise CouncilError("the answer is empty")
    topic.answer = text.strip()[:MAX_TEXT]
    topic.answered_by_id = actor_id
    topic.status = TopicStatus.ANSWERED
    topic.handled_at = topic.handled_at or now
    session.add(topic)
    await session.flush()
    await _tell_backers(session, topic, what="answer", now=now)
    return topic


async def topic_to_issue(
    session: AsyncSession,
    topic: CouncilTopic,
    *,
    category: str,
    actor_id: int,
    now: datetime,
    limits: TimeLimits,
) -> Issue:
    """Turn the topic straight into an issue: the proposer reports it, supporters back it."""
    if topic.status != TopicStatus.OPEN:
        raise CouncilError("only an open topic can become an issue")
    if category not in CATEGORIES:
        raise CouncilError("unknown category")
    issue = await rules.create_issue(
        session,
        community_id=topic.community_id,
        category=category,
        description=f"{topic.title}\n{topic.description}",
        now=now,
        limits=limits,
        reporter_id=topic.proposer_id,
        logged_by_id=actor_id,
        channel=Channel.TELEGRAM,
        building_id=topic.building_id,
    )
    for person_id in await topic_supporters(session, topic):
        await add_support(session, issue, person_id=person_id, now=now, record=False)
    topic.issue_id = issue.id
    topic.status = TopicStatus.TO_ISSUE
    topic.handled_at = topic.handled_at or now
    session.add(topic)
    await session.flush()
    await issue_opened(session, issue, now=now)
    await _tell_backers(session, topic, what="issue", now=now)
    return issue


async def topic_supporters(session: AsyncSession, topic: CouncilTopic) -> list[int]:
    rows = await session.exec(
        select(TopicSupporter.person_id)
        .where(TopicSupporter.topic_id == topic.id)
        .order_by(col(TopicSupporter.created_at))
    )
    return list(rows.all())


async def topic_backers(session: AsyncSession, topic: CouncilTopic) -> list[int]:
    """The proposer, then every supporter."""
    ids = [topic.proposer_id] if topic.proposer_id else []
    ids.extend(p for p in await topic_supporters(session, topic) if p not in ids)
    return ids


async def topics_of(
    session: AsyncSession,
    community_id: int,
    *,
    statuses: Sequence[TopicStatus] = (TopicStatus.OPEN, TopicStatus.SCHEDULED),
    building_id: int | None = None,
    limit: int = 30,
) -> list[CouncilTopic]:
    """Topics of the community (for a resident: their building's and the whole community's)."""
    query = select(CouncilTopic).where(
        CouncilTopic.community_id == community_id,
        col(CouncilTopic.status).in_([str(s) for s in statuses]),
    )
    if building_id is not None:
        query = query.where(
            col(CouncilTopic.building_id).is_(None) | (col(CouncilTopic.building_id) == building_id)
        )
    rows = await session.exec(query.order_by(col(CouncilTopic.created_at).desc()).limit(limit))
    return list(rows.all())


def is_overdue(topic: CouncilTopic, now: datetime) -> bool:
    return (
        topic.status == TopicStatus.OPEN
        and topic.handled_at is None
        and topic.due_at is not None
        and topic.due_at < now
    )


# --- the outbox ---------------------------------------------------------------------------------


async def _tell_backers(
    session: AsyncSession, topic: CouncilTopic, *, what: str, now: datetime
) -> int:
    queued = 0
    for person_id in await topic_backers(session, topic):
        queued += await outbox.enqueue_to_person(
            session,
            person_id,
            kind=TOPIC_NEWS,
            dedupe_key=f"topic:{topic.id}:{what}:{person_id}",
            due_at=now,
            payload={"topic_id": topic.id, "what": what},
            now=now,
            community_id=topic.community_id,
        )
    return queued


async def _queue_topic_card(
    session: AsyncSession, topic: CouncilTopic, *, now: datetime, policy: CouncilPolicy
) -> int:
    """Staff hear of a new topic: in their group if one is bound, else each secretary."""
    payload = {
        "topic_id": topic.id,
        "quick_hours": policy.quick_hours,
        "deep_days": policy.deep_working_days,
    }
    community = await session.get(Community, topic.community_id)
    assert community is not None
    if community.staff_chat_id is not None:
        return int(
            await outbox.enqueue(
                session,
                chat_id=community.staff_chat_id,
                kind=TOPIC_CARD,
                dedupe_key=f"topic:{topic.id}:card",
                due_at=now,
                payload=payload,
                now=now,
                community_id=topic.community_id,
            )
        )
    secretaries = await session.exec(
        select(Person)
        .join(Membership, col(Membership.person_id) == Person.id)
        .where(
            Membership.community_id == topic.community_id,
            Membership.role == Role.SECRETARY,
            col(Membership.active).is_(True),
            col(Person.telegram_user_id).is_not(None),
        )
    )
    queued = 0
    for person in secretaries.all():
        assert person.telegram_user_id is not None
        queued += await outbox.enqueue(
            session,
            chat_id=person.telegram_user_id,
            kind=TOPIC_CARD,
            dedupe_key=f"topic:{topic.id}:card:{person.id}",
            due_at=now,
            payload=payload,
            now=now,
            person_id=person.id,
            community_id=topic.community_id,
        )
    return queued


# --- the community's staff ------------------------------------------------------------------------


async def community_staff(session: AsyncSession, community_id: int) -> list[Person]:
    """The community's workers and secretary: who may own a decision or take a desk shift."""
    rows = await session.exec(
        select(Person)
        .join(Membership, col(Membership.person_id) == Person.id)
        .where(
            Membership.community_id == community_id,
            col(Membership.active).is_(True),
            col(Membership.role).in_([str(r) for r in STAFF_ROLES]),
        )
        .order_by(col(Person.id))
    )
    return list(rows.all())


async def is_staff_of(session: AsyncSession, person_id: int, community_id: int) -> bool:
    row = (
        await session.exec(
            select(Membership.role).where(
                Membership.person_id == person_id,
                Membership.community_id == community_id,
                col(Membership.active).is_(True),
            )
        )
    ).first()
    return row is not None and Role(row) in STAFF_ROLES
