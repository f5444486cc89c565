"""An issue's lifecycle as one explicit state machine: the actions, the state table, the
refusals a person is told about, who may take which action (`may`), and the one way a step is
written.

Every change goes through `transition`, which checks the state table, writes the new values
with an optimistic lock (so two workers pressing "claim" at once: one wins, the other learns who
did), and appends an `IssueEvent` with actor and time (`record_event`). The clock is always
passed in. The steps themselves (claim, resolve, …) are storage/issues.py.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import KEEPS_OBJECTS
from storage.fast.direct import Direct, insert_new
from storage.models import STAFF_ROLES, Issue, IssueEvent, IssueStatus, Role

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


# Public steps taken by the resident, not the community: they never stop the response clock
# (storage/clocks.py), which stops at the first contact *with* the resident.
RESIDENT_STEPS = frozenset({Action.REPORT, Action.WITHDRAW, Action.FOLLOW_UP})


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


# --- writing a step ---------------------------------------------------------------------------

ISSUE = Issue.metadata.tables["issue"]


async def record_event(
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
            .execution_options(**{KEEPS_OBJECTS: True})  # transition sets what it wrote
        )
    return statement


async def transition(
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
    if is_public and action not in RESIDENT_STEPS and issue.first_response_at is None:
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
    return await record_event(
        session, issue, action, actor_id=actor_id, now=now, text=text, public=public, data=data
    )


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
