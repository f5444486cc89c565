"""The notebook's rules for an issue: who may do what, opening it (red pen), owning and
planning it (black pen), and every step of its lifecycle.

Each step goes through `transition` (storage/issue_lifecycle.py: the state table and the
optimistic lock); who backs an issue and who hears of it is storage/issue_support.py. The clock
is always passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import escalation
from storage.categories import CATEGORIES, TimeLimits, time_limit_hours
from storage.fast.direct import Direct, adopt, insert_new
from storage.issue_lifecycle import (
    ISSUE,
    OPEN,
    Action,
    IssueError,
    S,
    TransitionNotAllowed,
    record_event,
    transition,
)
from storage.issue_support import add_support, add_supporter, backs
from storage.models import (
    Attachment,
    Channel,
    Community,
    Difficulty,
    Issue,
    IssueEvent,
    IssueStatus,
    IssueSupporter,
    Urgency,
)

# --- opening an issue ------------------------------------------------------------------------


@dataclass(frozen=True)
class NewAttachment:
    kind: str  # photo, voice, document, location
    telegram_file_id: str | None = None
    file_unique_id: str | None = None
    mime_type: str | None = None
    caption: str | None = None


COMMUNITY = Community.metadata.tables["community"]
# Statements every report or step runs: built once, and run directly (storage/fast/direct.py).
_NEXT_NUMBER = Direct(
    update(COMMUNITY)
    .where(COMMUNITY.c.id == bindparam("community_id"))
    .values(next_issue_number=COMMUNITY.c.next_issue_number + 1)
    .returning(COMMUNITY.c.next_issue_number)
)

_CREATED_BY_UPDATE = Direct(
    select(*ISSUE.c).where(ISSUE.c.source_update_id == bindparam("update_id"))
)


async def _next_number(session: AsyncSession, community_id: int) -> int:
    """Per-community numbers, allocated by one atomic UPDATE … RETURNING (no gaps from races)."""
    ((next_number,),) = await _NEXT_NUMBER.rows(session, {"community_id": community_id})
    return int(next_number) - 1


async def create_issue(
    session: AsyncSession,
    *,
    community_id: int,
    category: str,
    description: str,
    now: datetime,
    limits: TimeLimits,
    reporter_id: int | None = None,
    logged_by_id: int | None = None,
    channel: Channel = Channel.TELEGRAM,
    building_id: int | None = None,
    unit_id: int | None = None,
    urgency: Urgency = Urgency.NORMAL,
    latitude: float | None = None,
    longitude: float | None = None,
    source_update_id: int | None = None,
    attachments: Sequence[NewAttachment] = (),
) -> Issue:
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    if source_update_id is not None:  # a replayed update must not open a second issue
        params = {"update_id": source_update_id}
        existing = await _CREATED_BY_UPDATE.rows(session, params)
        if existing:
            return adopt(session, Issue, existing[0])
    hours = time_limit_hours(category, emergency=urgency is Urgency.EMERGENCY, limits=limits)
    values = dict(
        community_id=community_id,
        number=await _next_number(session, community_id),
        reporter_id=reporter_id,
        logged_by_id=logged_by_id,
        channel=channel,
        category=category,
        description=description,
        building_id=building_id,
        unit_id=unit_id,
        urgency=urgency,
        latitude=latitude,
        longitude=longitude,
        time_limit_hours=hours,
        respond_by=now + timedelta(hours=hours),
        source_update_id=source_update_id,
        created_at=now,
        last_activity_at=now,
    )
    issue = await insert_new(session, Issue, values)
    event = await record_event(
        session,
        issue,
        Action.REPORT,
        actor_id=logged_by_id or reporter_id,
        now=now,
        data={"channel": str(channel)},
    )
    await add_attachments(session, issue, event, attachments, now=now)
    return issue


async def add_attachments(
    session: AsyncSession,
    issue: Issue,
    event: IssueEvent | None,
    attachments: Iterable[NewAttachment],
    *,
    now: datetime,
) -> list[Attachment]:
    assert issue.id is not None
    if not attachments:
        return []
    rows = [
        Attachment(
            issue_id=issue.id,
            event_id=event.id if event else None,
            kind=a.kind,
            telegram_file_id=a.telegram_file_id,
            file_unique_id=a.file_unique_id,
            mime_type=a.mime_type,
            caption=a.caption,
            created_at=now,
        )
        for a in attachments
    ]
    session.add_all(rows)
    await session.flush()
    return rows


# --- the steps ---------------------------------------------------------------------------------


async def accept(
    session: AsyncSession, issue: Issue, *, actor_id: int, now: datetime
) -> IssueEvent:
    return await transition(
        session, issue, Action.ACCEPT, actor_id=actor_id, now=now, changes={"accepted_at": now}
    )


async def classify(
    session: AsyncSession, issue: Issue, *, difficulty: Difficulty, actor_id: int, now: datetime
) -> IssueEvent:
    newly_escalated = difficulty is Difficulty.ESCALATE and issue.difficulty != difficulty
    event = await transition(
        session,
        issue,
        Action.CLASSIFY,
        actor_id=actor_id,
        now=now,
        changes={"difficulty": difficulty},
        data={"difficulty": str(difficulty)},
    )
    if newly_escalated:  # 上报: the secretary hears of it directly
        assert event.id is not None
        await escalation.escalated(session, issue, event_id=event.id, actor_id=actor_id, now=now)
    return event


def _accepted(issue: Issue, now: datetime) -> dict[str, Any]:
    return {} if issue.accepted_at else {"accepted_at": now}


async def assign(
    session: AsyncSession,
    issue: Issue,
    *,
    actor_id: int,
    now: datetime,
    owner_id: int | None = None,
    owner_group: str | None = None,
    reason: str | None = None,
) -> IssueEvent:
    """Give the issue an owner (a worker, or a volunteer / self-governance group); 改派 when it
    already had one, which needs a reason."""
    if (owner_id is None) == (owner_group is None):
        raise ValueError("assign to exactly one of a person or a group")
    reassigning = issue.owner_id is not None or issue.owner_group is not None
    if reassigning and not (reason and reason.strip()):
        raise IssueError("a reassignment needs a reason")
    return await transition(
        session,
        issue,
        Action.ASSIGN,
        actor_id=actor_id,
        now=now,
        changes={"owner_id": owner_id, "owner_group": owner_group, **_accepted(issue, now)},
        text=reason,
        data={
            "owner_id": owner_id,
            "owner_group": owner_group,
            "previous_owner_id": issue.owner_id,
            "reassigned": reassigning,
        },
    )


async def claim(session: AsyncSession, issue: Issue, *, actor_id: int, now: datetime) -> IssueEvent:
    return await transition(
        session,
        issue,
        Action.CLAIM,
        actor_id=actor_id,
        now=now,
        changes={"owner_id": actor_id, "owner_group": None, **_accepted(issue, now)},
        data={"owner_id": actor_id},
    )


async def set_plan(
    session: AsyncSession,
    issue: Issue,
    *,
    plan: str,
    due_at: datetime | None,
    actor_id: int,
    now: datetime,
) -> IssueEvent:
    if not plan.strip():
        raise IssueError("a plan cannot be empty")
    return await transition(
        session,
        issue,
        Action.PLAN,
        actor_id=actor_id,
        now=now,
        changes={"plan": plan, "due_at": due_at, "planned_at": now if due_at else None},
        text=plan,
        data={"due_at": due_at.isoformat() if due_at else None},
    )


async def add_progress(
    session: AsyncSession, issue: Issue, *, text: str, public: bool, actor_id: int, now: datetime
) -> IssueEvent:
    """A progress note: internal, or a public reply to the resident (chosen, never guessed)."""
    if not text.strip():
        raise IssueError("a progress note cannot be empty")
    return await transition(
        session, issue, Action.PROGRESS, actor_id=actor_id, now=now, text=text, public=public
    )


async def return_issue(
    session: AsyncSession, issue: Issue, *, reason: str, actor_id: int, now: datetime
) -> IssueEvent:
    """退单: the owner hands the issue back to the queue, with a reason."""
    if not reason.strip():
        raise IssueError("returning an issue needs a reason")
    return await transition(
        session,
        issue,
        Action.RETURN,
        actor_id=actor_id,
        now=now,
        changes={"owner_id": None, "owner_group": None},
        text=reason,
        data={"previous_owner_id": issue.owner_id},
    )


async def transfer(
    session: AsyncSession,
    issue: Issue,
    *,
    to: str,
    note: str,
    actor_id: int,
    now: datetime,
    answer_by: datetime | None = None,
) -> IssueEvent:
    """The matter belongs to another body (street office, utility company…): hand it on. It
    stays tracked: `transfer_answer_by` is the date their answer is due (by default the
    escalation policy's limit from now), and its owner is reminded when that passes
    (storage/escalation.py). It is not a completion date: `due_at` is left as it was."""
    if not to.strip():
        raise IssueError("say which body the issue goes to")
    answer_by = answer_by or escalation.transfer_answer_due(issue, now)
    return await transition(
        session,
        issue,
        Action.TRANSFER,
        actor_id=actor_id,
        now=now,
        changes={"transferred_to": to, "transfer_answer_by": answer_by},
        text=note,
        data={"to": to, "answer_by": answer_by.isoformat()},
    )


async def merge(
    session: AsyncSession, issue: Issue, *, into: Issue, actor_id: int, now: datetime
) -> IssueEvent:
    """并单: fold a duplicate into `into`; its reporter and supporters now back `into`."""
    if into.id == issue.id or into.community_id != issue.community_id:
        raise IssueError("an issue can only be merged into another issue of its community")
    if IssueStatus(into.status) not in OPEN:
        raise IssueError("merge into an open issue")
    backers = {issue.reporter_id} if issue.reporter_id else set()
    rows = await session.exec(
        select(IssueSupporter.person_id).where(IssueSupporter.issue_id == issue.id)
    )
    backers.update(rows.all())
    event = await transition(
        session,
        issue,
        Action.MERGE,
        actor_id=actor_id,
        now=now,
        changes={"merged_into_id": into.id},
        data={"into_id": into.id, "into_number": into.number},
    )
    for person_id in backers:
        await add_support(session, into, person_id=person_id, now=now, record=False)
    await record_event(
        session,
        into,
        Action.SUPPORT,
        actor_id=actor_id,
        now=now,
        public=False,
        data={"merged_from_id": issue.id, "merged_from_number": issue.number},
    )
    return event


async def resolve(
    session: AsyncSession, issue: Issue, *, note: str, actor_id: int, now: datetime
) -> IssueEvent:
    if not note.strip():
        raise IssueError("say how it was resolved")
    return await transition(
        session,
        issue,
        Action.RESOLVE,
        actor_id=actor_id,
        now=now,
        changes={"resolved_at": now, **_accepted(issue, now)},
        text=note,
    )


async def reopen(
    session: AsyncSession, issue: Issue, *, reason: str, actor_id: int | None, now: datetime
) -> IssueEvent:
    """重办: back to work, with its owner if it had one. The old due date no longer counts: the
    owner sets a new one (the card and the owner's notice ask for it), so a reopened issue is
    not "overdue" the moment it reopens."""
    target = S.ASSIGNED if issue.owner_id or issue.owner_group else S.ACCEPTED
    return await transition(
        session,
        issue,
        Action.REOPEN,
        actor_id=actor_id,
        now=now,
        target=target,
        changes={
            "reopened_count": issue.reopened_count + 1,
            "resolved_at": None,
            "closed_at": None,
            "followup_result": None,
            "satisfaction": None,
            "transferred_to": None,
            "transfer_answer_by": None,
            "due_at": None,
            "planned_at": None,
        },
        text=reason,
    )


async def withdraw(
    session: AsyncSession, issue: Issue, *, reason: str, actor_id: int, now: datetime
) -> IssueEvent:
    return await transition(
        session,
        issue,
        Action.WITHDRAW,
        actor_id=actor_id,
        now=now,
        changes={"closed_at": now},
        text=reason,
    )


def _pinned(location: tuple[float, float] | None) -> dict[str, Any] | None:
    """A place a resident sent, as an event keeps it (and an issue's own columns are named)."""
    return {"latitude": location[0], "longitude": location[1]} if location else None


async def append_info(
    session: AsyncSession,
    issue: Issue,
    *,
    text: str | None,
    attachments: Sequence[NewAttachment],
    actor_id: int,
    now: datetime,
    location: tuple[float, float] | None = None,
) -> IssueEvent:
    """The resident adds words, photos, a voice message or where it is to their open issue. A
    place becomes the issue's own when it had none (the card then shows it)."""
    pinned = _pinned(location)
    event = await transition(
        session,
        issue,
        Action.ADD_INFO,
        actor_id=actor_id,
        now=now,
        changes=pinned if pinned and issue.latitude is None else None,
        text=text,
        public=True,
        data=pinned,
    )
    await add_attachments(session, issue, event, attachments, now=now)
    return event


async def back_with_words(
    session: AsyncSession,
    issue: Issue,
    *,
    person_id: int,
    now: datetime,
    text: str | None,
    attachments: Sequence[NewAttachment] = (),
    location: tuple[float, float] | None = None,
) -> IssueEvent:
    """ "Me too", with what the neighbour had written, sent and pinned for the report they
    dropped for this one: kept on the issue with their "me too" (staff read them in its
    history), also when they already backed it, so nothing a resident wrote is lost. Counts
    them as a supporter once."""
    assert issue.id is not None
    if not await backs(session, issue, person_id):
        await add_supporter(session, issue, person_id, now=now)
    elif IssueStatus(issue.status) not in OPEN:
        raise TransitionNotAllowed(issue.status, Action.SUPPORT)
    event = await record_event(
        session,
        issue,
        Action.SUPPORT,
        actor_id=person_id,
        now=now,
        public=False,
        text=text,
        data=_pinned(location),
    )
    await add_attachments(session, issue, event, attachments, now=now)
    return event


# --- reading ---------------------------------------------------------------------------------


async def get_issue(session: AsyncSession, *, community_id: int, number: int) -> Issue | None:
    return (
        await session.exec(
            select(Issue).where(Issue.community_id == community_id, Issue.number == number)
        )
    ).first()


async def issues_of_person(session: AsyncSession, *, person_id: int) -> list[Issue]:
    """What a resident may see: issues they reported or back, newest first."""
    supported = select(IssueSupporter.issue_id).where(IssueSupporter.person_id == person_id)
    rows = await session.exec(
        select(Issue)
        .where((col(Issue.reporter_id) == person_id) | col(Issue.id).in_(supported))
        .order_by(col(Issue.created_at).desc())
    )
    return list(rows.all())


async def history(session: AsyncSession, issue: Issue, *, public_only: bool) -> list[IssueEvent]:
    query = select(IssueEvent).where(IssueEvent.issue_id == issue.id)
    if public_only:
        query = query.where(col(IssueEvent.public).is_(True))
    rows = await session.exec(query.order_by(col(IssueEvent.at), col(IssueEvent.id)))
    return list(rows.all())
