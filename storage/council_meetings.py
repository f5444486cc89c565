"""The courtyard council's meetings: suggested evenings (typed times are storage/dates.py's),
scheduling one with its agenda and invitations, the invitees' answers (能来 / 不能来),
attendance (walk-ins signed in by name), the minutes and decisions, decisions turned into
owned issues (the black pen), publishing the results (after the meeting only) and cancelling.

Topics, the council's time limits and its policy are storage/council.py. Messages to people go
through the outbox, written in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import issues as rules
from storage import outbox
from storage.categories import CATEGORIES, TimeLimits
from storage.council import (
    MAX_TEXT,
    ON_THE_TABLE,
    RESIDENT_ROLES,
    CouncilError,
    CouncilPolicy,
    is_staff_of,
    topic_in,
    topic_supporters,
)
from storage.issue_lifecycle import Action, may
from storage.issue_support import add_support
from storage.models import (
    STAFF_ROLES,
    Channel,
    CouncilDecision,
    CouncilMeeting,
    CouncilTopic,
    Issue,
    IssueEvent,
    MeetingParticipant,
    MeetingStatus,
    MeetingTopic,
    Membership,
    Person,
    Role,
    TopicStatus,
)
from storage.notifications import issue_opened, notify_audience

MEETING_INVITE = "meeting_invite"
MEETING_REMINDER = "meeting_reminder"
MEETING_RESULT = "meeting_result"  # 结果公示
MEETING_CANCELLED = "meeting_cancelled"
MEETING_MOVED = "meeting_moved"
WALK_IN = "walk_in"  # signed in at the door, not invited
YES, NO = "yes", "no"  # an invitation's answer


# --- when ---------------------------------------------------------------------------------------


def suggested_meeting_times(
    now: datetime, tz: ZoneInfo, *, at: time = time(19, 30)
) -> list[datetime]:
    """The next three evenings at 19:30 (courtyard meetings are held after work)."""
    local = now.astimezone(tz)
    first = local.date() + timedelta(days=1)
    return [
        datetime.combine(first + timedelta(days=offset), at, tzinfo=tz).astimezone(UTC)
        for offset in range(3)
    ]


# --- meetings -----------------------------------------------------------------------------------


def reminder_due(starts_at: datetime, tz: ZoneInfo, at: time) -> datetime:
    """The evening before the meeting, at `at` community time."""
    day_before = starts_at.astimezone(tz).date() - timedelta(days=1)
    return datetime.combine(day_before, at, tzinfo=tz).astimezone(UTC)


async def _residents_of(
    session: AsyncSession, community_id: int, building_ids: set[int] | None
) -> list[int]:
    """Residents of those buildings (None: of the whole community)."""
    query = select(Membership.person_id).where(
        Membership.community_id == community_id,
        col(Membership.active).is_(True),
        col(Membership.role).in_([str(r) for r in RESIDENT_ROLES]),
    )
    if building_ids is not None:
        query = query.where(col(Membership.building_id).in_(building_ids))
    return list((await session.exec(query.order_by(col(Membership.person_id)))).all())


async def schedule_meeting(
    session: AsyncSession,
    *,
    community_id: int,
    starts_at: datetime,
    place: str,
    topic_ids: Sequence[int],
    invite_residents: bool,
    created_by_id: int,
    now: datetime,
    policy: CouncilPolicy,
    tz: ZoneInfo,
) -> CouncilMeeting:
    """Schedule a meeting: topics go on the agenda (which counts as starting consultation), the
    proposers, supporters and optionally the residents of the buildings concerned are invited,
    and each gets a reminder the evening before."""
    if starts_at <= now:
        raise CouncilError("the meeting time has passed")
    if not place.strip():
        raise CouncilError("a meeting needs a place")
    topics = []
    for topic_id in dict.fromkeys(topic_ids):
        topic = await topic_in(session, topic_id, community_id)
        if topic is None or TopicStatus(topic.status) not in ON_THE_TABLE:
            raise CouncilError("a topic cannot be put on the agenda")
        topics.append(topic)
    meeting = CouncilMeeting(
        community_id=community_id,
        starts_at=starts_at,
        place=place.strip()[:200],
        invite_residents=invite_residents,
        created_by_id=created_by_id,
        created_at=now,
    )
    session.add(meeting)
    await session.flush()
    assert meeting.id is not None
    invited: dict[int, str] = {}
    for topic in topics:
        assert topic.id is not None
        session.add(MeetingTopic(meeting_id=meeting.id, topic_id=topic.id))
        if topic.proposer_id:
            invited.setdefault(topic.proposer_id, "proposer")
        for person_id in await topic_supporters(session, topic):
            invited.setdefault(person_id, "supporter")
        topic.status = TopicStatus.SCHEDULED
        topic.handled_at = topic.handled_at or now
        session.add(topic)
    if invite_residents and topics:
        concerned = {t.building_id for t in topics}
        buildings = None if None in concerned else {b for b in concerned if b is not None}
        for person_id in await _residents_of(session, community_id, buildings):
            invited.setdefault(person_id, "resident")
    for person_id, reason in invited.items():
        session.add(MeetingParticipant(meeting_id=meeting.id, person_id=person_id, reason=reason))
    await session.flush()
    remind_at = max(reminder_due(starts_at, tz, policy.meeting_reminder_at), now)
    for person_id in invited:
        await _queue_to(
            session, meeting, person_id, MEETING_INVITE, f"meeting:{meeting.id}:invite", now, now
        )
        if remind_at < starts_at:
            await _queue_to(
                session,
                meeting,
                person_id,
                MEETING_REMINDER,
                f"meeting:{meeting.id}:reminder",
                remind_at,
                now,
                extra={"starts": int(starts_at.timestamp())},
            )
    return meeting


async def meeting_topics(session: AsyncSession, meeting: CouncilMeeting) -> list[CouncilTopic]:
    rows = await session.exec(
        select(CouncilTopic)
        .join(MeetingTopic, col(MeetingTopic.topic_id) == CouncilTopic.id)
        .where(MeetingTopic.meeting_id == meeting.id)
        .order_by(col(CouncilTopic.id))
    )
    return list(rows.all())


async def participants(
    session: AsyncSession, meeting: CouncilMeeting
) -> list[tuple[MeetingParticipant, Person]]:
    rows = await session.exec(
        select(MeetingParticipant, Person)
        .join(Person, col(Person.id) == MeetingParticipant.person_id)
        .where(MeetingParticipant.meeting_id == meeting.id)
        .order_by(col(Person.id))
    )
    return list(rows.all())


async def meetings_of(
    session: AsyncSession, community_id: int, *, limit: int = 10
) -> list[CouncilMeeting]:
    rows = await session.exec(
        select(CouncilMeeting)
        .where(
            CouncilMeeting.community_id == community_id,
            CouncilMeeting.status != MeetingStatus.CANCELLED,
        )
        .order_by(col(CouncilMeeting.starts_at).desc())
        .limit(limit)
    )
    return list(rows.all())


async def toggle_attendance(
    session: AsyncSession, meeting: CouncilMeeting, *, person_id: int, now: datetime
) -> bool:
    """Mark a participant present (or no longer present); returns whether they attended."""
    if meeting.status == MeetingStatus.CANCELLED:
        raise CouncilError("the meeting was cancelled")
    row = await session.get(MeetingParticipant, (meeting.id, person_id))
    if row is None:
        raise CouncilError("not invited to this meeting")
    row.attended = not row.attended
    row.marked_at = now
    session.add(row)
    await session.flush()
    return row.attended


async def reply_to_invitation(
    session: AsyncSession,
    meeting: CouncilMeeting,
    *,
    person_id: int,
    coming: bool,
    now: datetime,
) -> MeetingParticipant:
    """能来 / 不能来: an invited person's answer, which they may change until the meeting
    starts."""
    if meeting.status != MeetingStatus.SCHEDULED:
        raise CouncilError("the meeting is not ahead")
    if now >= meeting.starts_at:
        raise CouncilError("the meeting has started")
    row = await session.get(MeetingParticipant, (meeting.id, person_id))
    if row is None or row.reason == WALK_IN:
        raise CouncilError("not invited to this meeting")
    row.reply = YES if coming else NO
    row.replied_at = now
    session.add(row)
    await session.flush()
    return row


async def sign_in_walk_in(
    session: AsyncSession,
    meeting: CouncilMeeting,
    *,
    name: str,
    household: str,
    now: datetime,
) -> tuple[MeetingParticipant, Person]:
    """A worker signs in someone who came without an invitation (often without a phone): by
    name, and household when they give one. Someone already on the list (invited, or signed in
    before) is marked present instead of listed twice; a resident on file under exactly that
    name is that person. Otherwise a person without Telegram is written down."""
    if meeting.status == MeetingStatus.CANCELLED:
        raise CouncilError("the meeting was cancelled")
    name, household = " ".join(name.split())[:200], " ".join(household.split())[:100]
    if not name:
        raise CouncilError("a name is needed")
    for row, person in await participants(session, meeting):
        if person.full_name == name:
            row.attended, row.marked_at = True, now
            row.household = row.household or household or None
            session.add(row)
            await session.flush()
            return row, person
    on_file = (
        await session.exec(
            select(Person)
            .join(Membership, col(Membership.person_id) == Person.id)
            .where(
                Membership.community_id == meeting.community_id,
                col(Membership.active).is_(True),
                Person.full_name == name,
            )
        )
    ).all()
    person = on_file[0] if len(on_file) == 1 else Person(full_name=name, created_at=now)
    session.add(person)
    await session.flush()
    assert person.id is not None and meeting.id is not None
    row = MeetingParticipant(
        meeting_id=meeting.id,
        person_id=person.id,
        reason=WALK_IN,
        attended=True,
        marked_at=now,
        household=household or None,
    )
    session.add(row)
    await session.flush()
    return row, person


async def add_minutes(
    session: AsyncSession, meeting: CouncilMeeting, *, text: str, now: datetime
) -> CouncilMeeting:
    """Minutes are added to, never overwritten (typed in several pieces during a meeting)."""
    if meeting.status == MeetingStatus.CANCELLED:
        raise CouncilError("the meeting was cancelled")
    text = text.strip()
    if not text:
        raise CouncilError("the minutes are empty")
    meeting.minutes = f"{meeting.minutes}\n{text}" if meeting.minutes else text
    session.add(meeting)
    await session.flush()
    return meeting


async def record_decision(
    session: AsyncSession,
    meeting: CouncilMeeting,
    *,
    text: str,
    topic_id: int | None,
    actor_id: int,
    now: datetime,
) -> CouncilDecision:
    if meeting.status == MeetingStatus.CANCELLED:
        raise CouncilError("the meeting was cancelled")
    if not text.strip():
        raise CouncilError("the decision is empty")
    assert meeting.id is not None
    if topic_id is not None:
        if await session.get(MeetingTopic, (meeting.id, topic_id)) is None:
            raise CouncilError("the topic is not on this meeting's agenda")
        topic = await session.get(CouncilTopic, topic_id)
        assert topic is not None
        topic.status = TopicStatus.DECIDED
        session.add(topic)
    decision = CouncilDecision(
        meeting_id=meeting.id,
        topic_id=topic_id,
        text=text.strip()[:MAX_TEXT],
        created_by_id=actor_id,
        created_at=now,
    )
    session.add(decision)
    await session.flush()
    return decision


async def decisions(session: AsyncSession, meeting: CouncilMeeting) -> list[CouncilDecision]:
    rows = await session.exec(
        select(CouncilDecision)
        .where(CouncilDecision.meeting_id == meeting.id)
        .order_by(col(CouncilDecision.created_at), col(CouncilDecision.id))
    )
    return list(rows.all())


async def decision_to_issue(
    session: AsyncSession,
    decision: CouncilDecision,
    *,
    category: str,
    owner_id: int,
    plan: str,
    due_at: datetime | None,
    actor_id: int,
    actor_role: Role,
    now: datetime,
    limits: TimeLimits,
) -> Issue:
    """The black pen: the decision becomes an issue with an owner and a plan. The topic's
    proposer reports it and its supporters back it, so they hear who owns it and the plan."""
    if decision.issue_id is not None:
        raise CouncilError("this decision already has an issue")
    if actor_role not in STAFF_ROLES:
        raise CouncilError("only staff give issues an owner")
    if category not in CATEGORIES:
        raise CouncilError("unknown category")
    meeting = await session.get(CouncilMeeting, decision.meeting_id)
    assert meeting is not None
    if not await is_staff_of(session, owner_id, meeting.community_id):
        raise CouncilError("the owner must be a community worker")
    if not plan.strip():
        raise CouncilError("a plan cannot be empty")
    topic = await session.get(CouncilTopic, decision.topic_id) if decision.topic_id else None
    issue = await rules.create_issue(
        session,
        community_id=meeting.community_id,
        category=category,
        description=decision.text,
        now=now,
        limits=limits,
        reporter_id=topic.proposer_id if topic else None,
        logged_by_id=actor_id,
        channel=Channel.MEETING,
        building_id=topic.building_id if topic else None,
    )
    if topic is not None:
        for person_id in await topic_supporters(session, topic):
            await add_support(session, issue, person_id=person_id, now=now, record=False)
    action = Action.CLAIM if owner_id == actor_id else Action.ASSIGN
    if not may(action, role=actor_role, person_id=actor_id, issue=issue):
        raise CouncilError("not allowed to give this issue an owner")
    events: list[IssueEvent] = []
    if owner_id == actor_id:
        events.append(await rules.claim(session, issue, actor_id=actor_id, now=now))
    else:
        events.append(
            await rules.assign(session, issue, actor_id=actor_id, owner_id=owner_id, now=now)
        )
    events.append(
        await rules.set_plan(
            session, issue, plan=plan.strip(), due_at=due_at, actor_id=actor_id, now=now
        )
    )
    decision.issue_id = issue.id
    session.add(decision)
    await session.flush()
    await issue_opened(session, issue, now=now)
    for event in events:
        await notify_audience(session, issue, event, now=now)
    return issue


async def publish_results(session: AsyncSession, meeting: CouncilMeeting, *, now: datetime) -> int:
    """结果公示: the decisions go to every participant; publishing again sends the update."""
    if meeting.status == MeetingStatus.CANCELLED:
        raise CouncilError("the meeting was cancelled")
    if now < meeting.starts_at:
        raise CouncilError("the meeting has not taken place yet")
    if not await decisions(session, meeting):
        raise CouncilError("record a decision first")
    meeting.results_version += 1
    meeting.results_published_at = now
    meeting.status = MeetingStatus.HELD
    session.add(meeting)
    await session.flush()
    key = f"meeting:{meeting.id}:result:v{meeting.results_version}"
    return await _tell_participants(session, meeting, MEETING_RESULT, key, now)


async def reschedule_meeting(
    session: AsyncSession,
    meeting: CouncilMeeting,
    *,
    starts_at: datetime,
    now: datetime,
    policy: CouncilPolicy,
    tz: ZoneInfo,
) -> int:
    """Move a scheduled meeting: everyone invited is told the new time and asked again whether
    they can come (their earlier answer was for the old time); the evening-before reminders
    follow the new time. Returns how many were told."""
    if meeting.status != MeetingStatus.SCHEDULED:
        raise CouncilError("only a scheduled meeting can be moved")
    if starts_at <= now:
        raise CouncilError("the meeting time has passed")
    if starts_at == meeting.starts_at:
        raise CouncilError("that is the meeting's time already")
    old = meeting.starts_at
    meeting.starts_at = starts_at
    session.add(meeting)
    await outbox.cancel(session, key_prefixes=[f"meeting:{meeting.id}:reminder:"])
    stamp = int(starts_at.timestamp())
    remind_at = max(reminder_due(starts_at, tz, policy.meeting_reminder_at), now)
    told = 0
    for row, _person in await participants(session, meeting):
        if row.reason == WALK_IN:
            continue
        row.reply, row.replied_at = None, None
        session.add(row)
        told += await _queue_to(
            session,
            meeting,
            row.person_id,
            MEETING_MOVED,
            f"meeting:{meeting.id}:moved:{stamp}",
            now,
            now,
            extra={"starts": stamp, "was": int(old.timestamp())},
        )
        if remind_at < starts_at:
            await _queue_to(
                session,
                meeting,
                row.person_id,
                MEETING_REMINDER,
                f"meeting:{meeting.id}:reminder:{stamp}",
                remind_at,
                now,
                extra={"starts": stamp},
            )
    await session.flush()
    return told


async def cancel_meeting(session: AsyncSession, meeting: CouncilMeeting, *, now: datetime) -> int:
    """Cancel: invitees are told, pending reminders are dropped, topics go back to waiting."""
    if meeting.status != MeetingStatus.SCHEDULED:
        raise CouncilError("only a scheduled meeting can be cancelled")
    meeting.status = MeetingStatus.CANCELLED
    session.add(meeting)
    for topic in await meeting_topics(session, meeting):
        if topic.status == TopicStatus.SCHEDULED:
            topic.status = TopicStatus.OPEN
            session.add(topic)
    await outbox.cancel(session, key_prefixes=[f"meeting:{meeting.id}:reminder:"])
    await session.flush()
    key = f"meeting:{meeting.id}:cancel"
    return await _tell_participants(session, meeting, MEETING_CANCELLED, key, now)


# --- the outbox ---------------------------------------------------------------------------------


async def _queue_to(
    session: AsyncSession,
    meeting: CouncilMeeting,
    person_id: int,
    kind: str,
    key: str,
    due_at: datetime,
    now: datetime,
    *,
    extra: dict[str, int] | None = None,
) -> int:
    return int(
        await outbox.enqueue_to_person(
            session,
            person_id,
            kind=kind,
            dedupe_key=f"{key}:{person_id}",
            due_at=due_at,
            payload={"meeting_id": meeting.id, **(extra or {})},
            now=now,
            community_id=meeting.community_id,
        )
    )


async def _tell_participants(
    session: AsyncSession, meeting: CouncilMeeting, kind: str, key: str, now: datetime
) -> int:
    """One message now to everyone invited to the meeting."""
    queued = 0
    for row, _person in await participants(session, meeting):
        queued += await _queue_to(session, meeting, row.person_id, kind, key, now, now)
    return queued
