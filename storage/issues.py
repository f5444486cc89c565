"""The notebook's rules for an issue: opening it (red pen), owning and planning it (black pen),
and its lifecycle as one explicit state machine.

Every change goes through `_transition`, which checks the state table, writes the new values
with an optimistic lock (so two workers pressing "claim" at once: one wins, the other learns who
did), and appends an `IssueEvent` with actor and time. The clock is always passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.categories import CATEGORIES, TimeLimits, time_limit_hours
from storage.db import KEEPS_OBJECTS
from storage.fast.direct import Direct, adopt, insert_new
from storage.models import (
    STAFF_ROLES,
    Attachment,
    Channel,
    Community,
    Difficulty,
    FollowUp,
    FollowUpResult,
    Issue,
    IssueEvent,
    IssueStatus,
    IssueSupporter,
    Role,
    Satisfaction,
    Urgency,
)

S = IssueStatus


class Action(StrEnum):
    REPORT = "reported"
    ACCEPT = "accepted"
    CLASSIFY = "classified"
    ASSIGN = "assigned"
    CLAIM = "claimed"
    PLAN = "planned"
    PROGRESS = "progress"
    RETURN = "returned"  # 退单
    TRANSFER = "transferred"
    MERGE = "merged"  # 并单
    RESOLVE = "resolved"  # 办结
    REOPEN = "reopened"  # 重办
    FOLLOW_UP = "followed_up"  # 回访
    CLOSE = "closed"
    WITHDRAW = "withdrawn"
    ADD_INFO = "added_info"
    SUPPORT = "supported"


OPEN = frozenset({S.NEW, S.ACCEPTED, S.ASSIGNED, S.IN_PROGRESS})
WORKING = frozenset({S.ACCEPTED, S.ASSIGNED, S.IN_PROGRESS})

# The lifecycle: action -> (states it may start from, state it leads to; None = unchanged).
# REOPEN and FOLLOW_UP pick their target at run time (see reopen / follow_up).
TRANSITIONS: dict[Action, tuple[frozenset[IssueStatus], IssueStatus | None]] = {
    Action.ACCEPT: (frozenset({S.NEW}), S.ACCEPTED),
    Action.CLASSIFY: (OPEN, None),
    Action.ASSIGN: (OPEN, S.ASSIGNED),
    Action.CLAIM: (frozenset({S.NEW, S.ACCEPTED}), S.ASSIGNED),
    Action.PLAN: (frozenset({S.ASSIGNED, S.IN_PROGRESS}), S.IN_PROGRESS),
    Action.PROGRESS: (WORKING, None),
    Action.RETURN: (frozenset({S.ASSIGNED, S.IN_PROGRESS}), S.ACCEPTED),
    Action.TRANSFER: (OPEN, S.TRANSFERRED),
    Action.MERGE: (OPEN, S.MERGED),
    Action.RESOLVE: (WORKING, S.RESOLVED),
    Action.REOPEN: (frozenset({S.RESOLVED, S.CLOSED, S.TRANSFERRED}), S.ACCEPTED),
    Action.FOLLOW_UP: (frozenset({S.RESOLVED}), S.CLOSED),
    Action.CLOSE: (frozenset({S.RESOLVED}), S.CLOSED),
    Action.WITHDRAW: (OPEN, S.WITHDRAWN),
    Action.ADD_INFO: (OPEN, None),
    Action.SUPPORT: (OPEN, None),
}

# Events the resident (reporter and supporters) sees and is told about.
PUBLIC_ACTIONS = frozenset(
    {
        Action.REPORT,
        Action.ACCEPT,
        Action.ASSIGN,
        Action.CLAIM,
        Action.PLAN,
        Action.TRANSFER,
        Action.MERGE,
        Action.RESOLVE,
        Action.REOPEN,
        Action.FOLLOW_UP,
        Action.WITHDRAW,
    }
)


class IssueError(Exception):
    """Base for refusals a person should be told about in plain words."""


class TransitionNotAllowed(IssueError):
    def __init__(self, status: str, action: Action) -> None:
        super().__init__(f"cannot {action} an issue that is {status}")
        self.status, self.action = status, action


class ConcurrentChange(IssueError):
    """Someone changed the issue between reading and writing; `issue` is the fresh copy."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(f"issue {issue.id} was changed by someone else")
        self.issue = issue


class NotPermitted(IssueError):
    pass


def next_status(status: str, action: Action) -> IssueStatus:
    """The state table as a function: where `action` leads from `status`, or refuse."""
    allowed, target = TRANSITIONS[action]
    current = IssueStatus(status)
    if current not in allowed:
        raise TransitionNotAllowed(status, action)
    return target or current


# --- who may do what (checked on the server for every press) --------------------------------

STAFF_ACTIONS = frozenset(
    {
        Action.ACCEPT,
        Action.CLASSIFY,
        Action.ASSIGN,
        Action.CLAIM,
        Action.PLAN,
        Action.PROGRESS,
        Action.TRANSFER,
        Action.MERGE,
        Action.REOPEN,
        Action.CLOSE,
    }
)
OWNER_OR_SECRETARY = frozenset({Action.RESOLVE, Action.RETURN})
REPORTER_ACTIONS = frozenset({Action.WITHDRAW, Action.ADD_INFO, Action.FOLLOW_UP})


def may(action: Action, *, role: Role | None, person_id: int | None, issue: Issue) -> bool:
    """Whether a person with `role` in the issue's community may take `action` on it."""
    if role is None or person_id is None:
        return False
    is_staff = role in STAFF_ROLES
    if action in OWNER_OR_SECRETARY or (action is Action.ASSIGN and issue.owner_id is not None):
        # resolving, returning and reassigning are the owner's or the secretary's call
        return role is Role.SECRETARY or (is_staff and issue.owner_id == person_id)
    if action in STAFF_ACTIONS:
        return is_staff
    if action in REPORTER_ACTIONS:
        return issue.reporter_id == person_id or (action is Action.ADD_INFO and is_staff)
    if action is Action.SUPPORT:
        return issue.reporter_id != person_id
    return False


# --- opening an issue ------------------------------------------------------------------------


@dataclass(frozen=True)
class NewAttachment:
    kind: str  # photo, voice, document, location
    telegram_file_id: str | None = None
    file_unique_id: str | None = None
    mime_type: str | None = None
    caption: str | None = None


COMMUNITY = Community.metadata.tables["community"]
ISSUE = Issue.metadata.tables["issue"]
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
    event = await _record(
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


# --- the transitions -------------------------------------------------------------------------


async def _record(
    session: AsyncSession,
    issue: Issue,
    action: Action,
    *,
    actor_id: int | None,
    now: datetime,
    text: str | None = None,
    public: bool | None = None,
    data: dict[str, Any] | None = None,
) -> IssueEvent:
    assert issue.id is not None
    values = {
        "issue_id": issue.id,
        "at": now,
        "actor_id": actor_id,
        "kind": str(action),
        "public": action in PUBLIC_ACTIONS if public is None else public,
        "text": text,
        "data": data or {},
    }
    # every report, claim and step writes one: inserted directly, as if flushed
    return await insert_new(session, IssueEvent, values)


_LOCKED_UPDATES: dict[tuple[str, ...], Direct] = {}


def _locked_update(columns: tuple[str, ...]) -> Direct:
    """UPDATE issue SET <columns> under the optimistic lock (the version the caller read), one
    statement per set of columns, built the first time that set is written."""
    statement = _LOCKED_UPDATES.get(columns)
    if statement is None:
        statement = _LOCKED_UPDATES[columns] = Direct(
            update(ISSUE)
            .where(ISSUE.c.id == bindparam("issue_id"))
            .where(ISSUE.c.version == bindparam("read_version"))
            .values({name: bindparam(name) for name in columns})
            .execution_options(**{KEEPS_OBJECTS: True})  # _transition sets what it wrote
        )
    return statement


async def _transition(
    session: AsyncSession,
    issue: Issue,
    action: Action,
    *,
    actor_id: int | None,
    now: datetime,
    changes: dict[str, Any] | None = None,
    target: IssueStatus | None = None,
    text: str | None = None,
    public: bool | None = None,
    data: dict[str, Any] | None = None,
) -> IssueEvent:
    """Check the state table, write `changes` under the optimistic lock, log the event."""
    status = target or next_status(issue.status, action)
    if target is not None:
        next_status(issue.status, action)  # still must be allowed from here
    values = dict(changes or {})
    values["status"] = status
    values["last_activity_at"] = now
    is_public = action in PUBLIC_ACTIONS if public is None else public
    if is_public and action is not Action.REPORT and issue.first_response_at is None:
        values["first_response_at"] = now
    values["version"] = issue.version + 1
    written = await _locked_update(tuple(values)).execute(
        session, {"issue_id": issue.id, "read_version": issue.version, **values}
    )
    if written != 1:
        await session.refresh(issue)
        raise ConcurrentChange(issue)
    for key, value in values.items():  # what the row now holds, without reading it back
        set_committed_value(issue, key, value)
    return await _record(
        session, issue, action, actor_id=actor_id, now=now, text=text, public=public, data=data
    )


async def accept(
    session: AsyncSession, issue: Issue, *, actor_id: int, now: datetime
) -> IssueEvent:
    return await _transition(
        session, issue, Action.ACCEPT, actor_id=actor_id, now=now, changes={"accepted_at": now}
    )


async def classify(
    session: AsyncSession, issue: Issue, *, difficulty: Difficulty, actor_id: int, now: datetime
) -> IssueEvent:
    return await _transition(
        session,
        issue,
        Action.CLASSIFY,
        actor_id=actor_id,
        now=now,
        changes={"difficulty": difficulty},
        data={"difficulty": str(difficulty)},
    )


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
    return await _transition(
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
    return await _transition(
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
    return await _transition(
        session,
        issue,
        Action.PLAN,
        actor_id=actor_id,
        now=now,
        changes={"plan": plan, "due_at": due_at},
        text=plan,
        data={"due_at": due_at.isoformat() if due_at else None},
    )


async def add_progress(
    session: AsyncSession, issue: Issue, *, text: str, public: bool, actor_id: int, now: datetime
) -> IssueEvent:
    """A progress note: internal, or a public reply to the resident (chosen, never guessed)."""
    if not text.strip():
        raise IssueError("a progress note cannot be empty")
    return await _transition(
        session, issue, Action.PROGRESS, actor_id=actor_id, now=now, text=text, public=public
    )


async def return_issue(
    session: AsyncSession, issue: Issue, *, reason: str, actor_id: int, now: datetime
) -> IssueEvent:
    """退单: the owner hands the issue back to the queue, with a reason."""
    if not reason.strip():
        raise IssueError("returning an issue needs a reason")
    return await _transition(
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
    session: AsyncSession, issue: Issue, *, to: str, note: str, actor_id: int, now: datetime
) -> IssueEvent:
    """The matter belongs to another body (street office, utility company…): hand it on."""
    if not to.strip():
        raise IssueError("say which body the issue goes to")
    return await _transition(
        session,
        issue,
        Action.TRANSFER,
        actor_id=actor_id,
        now=now,
        changes={"transferred_to": to},
        text=note,
        data={"to": to},
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
    event = await _transition(
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
    await _record(
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
    return await _transition(
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
    """重办: back to work, with its owner if it had one."""
    target = S.ASSIGNED if issue.owner_id or issue.owner_group else S.ACCEPTED
    return await _transition(
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
        },
        text=reason,
    )


async def follow_up(
    session: AsyncSession,
    issue: Issue,
    *,
    result: FollowUpResult,
    satisfaction: Satisfaction | None,
    comment: str | None,
    actor_id: int | None,
    now: datetime,
) -> IssueEvent:
    """回访: the resident's verdict. "Not solved" reopens the issue; otherwise it is closed.

    Every answer is also kept as a `FollowUp` row: the rates count them, and reopening clears
    the verdict on the issue, not the answer that reopened it."""
    if result is FollowUpResult.NOT_SOLVED:
        event = await reopen(session, issue, reason=comment or "", actor_id=actor_id, now=now)
        event.data = {**event.data, "followup_result": str(result)}
        session.add(event)
    else:
        event = await _transition(
            session,
            issue,
            Action.FOLLOW_UP,
            actor_id=actor_id,
            now=now,
            changes={
                "followup_result": result,
                "satisfaction": satisfaction,
                "closed_at": now,
            },
            text=comment,
            data={
                "result": str(result),
                "satisfaction": str(satisfaction) if satisfaction else None,
            },
        )
    assert issue.id is not None
    session.add(
        FollowUp(
            issue_id=issue.id,
            community_id=issue.community_id,
            at=now,
            actor_id=actor_id,
            result=result,
            satisfaction=satisfaction,
        )
    )
    await session.flush()
    return event


async def close_unanswered(session: AsyncSession, issue: Issue, *, now: datetime) -> IssueEvent:
    """No answer to the follow-up after the reminder: closed, counted as not followed up."""
    return await _transition(
        session,
        issue,
        Action.CLOSE,
        actor_id=None,
        now=now,
        changes={"closed_at": now},
        public=False,
        data={"followed_up": False},
    )


async def withdraw(
    session: AsyncSession, issue: Issue, *, reason: str, actor_id: int, now: datetime
) -> IssueEvent:
    return await _transition(
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
    event = await _transition(
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


async def add_support(
    session: AsyncSession,
    issue: Issue,
    *,
    person_id: int,
    now: datetime,
    record: bool = True,
) -> bool:
    """ "Me too": returns False when the person already backs (or reported) the issue."""
    assert issue.id is not None
    if await _backs(session, issue, person_id):
        return False
    await _add_supporter(session, issue, person_id, now=now)
    if record:
        await _record(session, issue, Action.SUPPORT, actor_id=person_id, now=now, public=False)
    return True


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
    if not await _backs(session, issue, person_id):
        await _add_supporter(session, issue, person_id, now=now)
    elif IssueStatus(issue.status) not in OPEN:
        raise TransitionNotAllowed(issue.status, Action.SUPPORT)
    event = await _record(
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


async def _backs(session: AsyncSession, issue: Issue, person_id: int) -> bool:
    assert issue.id is not None
    return (
        issue.reporter_id == person_id
        or await session.get(IssueSupporter, (issue.id, person_id)) is not None
    )


async def _add_supporter(
    session: AsyncSession, issue: Issue, person_id: int, *, now: datetime
) -> None:
    assert issue.id is not None
    if IssueStatus(issue.status) not in OPEN:
        raise TransitionNotAllowed(issue.status, Action.SUPPORT)
    session.add(IssueSupporter(issue_id=issue.id, person_id=person_id, created_at=now))
    await session.exec(
        update(Issue)
        .where(col(Issue.id) == issue.id)
        .values(support_count=col(Issue.support_count) + 1)
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    await session.refresh(issue)


# --- reading ---------------------------------------------------------------------------------


async def get_issue(session: AsyncSession, *, community_id: int, number: int) -> Issue | None:
    return (
        await session.exec(
            select(Issue).where(Issue.community_id == community_id, Issue.number == number)
        )
    ).first()


_OPEN_DUPLICATES = (
    select(Issue)
    .where(
        Issue.community_id == bindparam("community_id"),
        Issue.building_id == bindparam("building_id"),
        Issue.category == bindparam("category"),
        col(Issue.status).in_(list(OPEN)),
    )
    .order_by(col(Issue.created_at).desc())
    .limit(5)
)


_BACKED = select(IssueSupporter.issue_id).where(IssueSupporter.person_id == bindparam("person_id"))


async def backed_by(session: AsyncSession, *, person_id: int) -> set[int]:
    """The issues this person backs ("me too")."""
    return set((await session.exec(_BACKED, params={"person_id": person_id})).all())


async def open_duplicates(
    session: AsyncSession, *, community_id: int, building_id: int | None, category: str
) -> list[Issue]:
    """Open issues of the same category in the same building: offered as "me too"."""
    if building_id is None:
        return []
    params = {"community_id": community_id, "building_id": building_id, "category": category}
    return list((await session.exec(_OPEN_DUPLICATES, params=params)).all())


async def issues_of_person(session: AsyncSession, *, person_id: int) -> list[Issue]:
    """What a resident may see: issues they reported or back, newest first."""
    supported = select(IssueSupporter.issue_id).where(IssueSupporter.person_id == person_id)
    rows = await session.exec(
        select(Issue)
        .where((col(Issue.reporter_id) == person_id) | col(Issue.id).in_(supported))
        .order_by(col(Issue.created_at).desc())
    )
    return list(rows.all())


async def may_see(session: AsyncSession, issue: Issue, *, person_id: int) -> bool:
    """A resident sees an issue only if they reported or back it: numbers are not keys."""
    if issue.reporter_id == person_id:
        return True
    assert issue.id is not None
    return await session.get(IssueSupporter, (issue.id, person_id)) is not None


async def history(session: AsyncSession, issue: Issue, *, public_only: bool) -> list[IssueEvent]:
    query = select(IssueEvent).where(IssueEvent.issue_id == issue.id)
    if public_only:
        query = query.where(col(IssueEvent.public).is_(True))
    rows = await session.exec(query.order_by(col(IssueEvent.at), col(IssueEvent.id)))
    return list(rows.all())


_SUPPORTERS = select(IssueSupporter.person_id).where(
    IssueSupporter.issue_id == bindparam("issue_id")
)


async def audience(session: AsyncSession, issue: Issue) -> list[int]:
    """Person ids told about public steps: the reporter and every supporter."""
    ids = [issue.reporter_id] if issue.reporter_id else []
    if issue.support_count:  # counted with each supporter (_add_supporter): none, no query
        rows = await session.exec(_SUPPORTERS, params={"issue_id": issue.id})
        ids.extend(pid for pid in rows.all() if pid not in ids)
    return ids
