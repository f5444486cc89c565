"""Which issues a period holds, and how each stood at its end: the one answer to "which issues
belong to this day, week or month" that the notebook page, the PDF and the exports share
(storage/notebook.py, storage/export.py).

A period holds every issue reported in it, reopened (重办) in it, or still open when it began
(`in_period`). How an issue stood at a moment is worked out from its history (`issue_event`):
the SQL asks which step came last before the period began, and `standing_at` replays the few
issues that changed after the period ended; `response_clock` and `completion_overdue` read its
two clocks at that moment. Plain functions of the clock, passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import clocks
from storage.issue_lifecycle import OPEN, TRANSITIONS, Action
from storage.models import Issue, IssueEvent, IssueStatus
from storage.periods import Period
from storage.sql import fetch_rows

# Steps that move an issue to another state: the state table's, plus the report that opens it
# and the two whose target is picked at run time (a reopening; a follow-up answer).
STATUS_STEPS = frozenset(
    {Action.REPORT, Action.REOPEN, Action.FOLLOW_UP}
    | {action for action, (_from, target) in TRANSITIONS.items() if target is not None}
)
# Steps after which an issue is open (a reopening leads to accepted or assigned).
OPENING_STEPS = frozenset(
    {Action.REPORT, Action.REOPEN}
    | {action for action, (_from, target) in TRANSITIONS.items() if target in OPEN}
)


class Standing(StrEnum):
    """How an issue came to be on a period's page."""

    NEW = "new"  # reported in the period
    REOPENED = "reopened"  # reported before, reopened (重办) in the period
    CARRIED_OVER = "carried_over"  # reported before and open when the period began


class Scope(StrEnum):
    """Which issues a list holds."""

    OPEN_IN_PERIOD = "open"  # every issue open at any time in the period
    ARRIVED = "arrived"  # only those reported or reopened in it (a printed day's red pen)


class ResponseClock(StrEnum):
    """The response clock (答复时限) at a moment: it stops at the first reply or acceptance."""

    RUNNING = "running"  # not answered yet, still in time
    OVERDUE = "overdue"  # not answered, the deadline has passed
    MET = "met"  # first answered in time
    MISSED = "missed"  # first answered, late
    STOPPED = "stopped"  # never answered, but no longer open (merged, withdrawn…)


@dataclass(frozen=True)
class Step:
    """One state-changing step of an issue's history, as replayed by `standing_at`."""

    at: datetime
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AsOf:
    """What an issue's status and completion due date were at a moment."""

    status: str
    due_at: datetime | None
    # 转办: the date the body it went to should answer by (not a completion date)
    answer_by: datetime | None = None


def _due(raw: object) -> datetime | None:
    if isinstance(raw, datetime):
        return raw
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


def standing_at(current: AsOf, steps: Sequence[Step], moment: datetime) -> AsOf:
    """The issue's status and due date at `moment`, from its state-changing `steps` (in order)
    and what it holds now (`current`). Nothing changed since `moment`: what it holds now. Else
    the steps before `moment` are replayed from the report: each state-table step leads where
    the table says, a reopening to "assigned" if someone owned it then (else "accepted"), a
    follow-up answer to "closed" (a "not solved" answer is written as a reopening), and any
    step whose data names a `due_at` sets the due date; a reopening clears it (the owner sets a
    new one), and a transfer's `answer_by` is the transferred body's answer date while the
    issue stays transferred."""
    if all(step.at < moment for step in steps):
        return current
    status = IssueStatus.NEW
    owned = False
    due: datetime | None = None
    answer_by: datetime | None = None
    for step in steps:
        if step.at >= moment:
            break
        try:
            action = Action(step.kind)
        except ValueError:  # a step this module does not know changes nothing it shows
            continue
        if action in (Action.ASSIGN, Action.CLAIM):
            owned = True
        elif action is Action.RETURN:
            owned = False
        if "due_at" in step.data:
            due = _due(step.data["due_at"])
        if action is Action.REPORT:
            status = IssueStatus.NEW
        elif action is Action.REOPEN:
            status = IssueStatus.ASSIGNED if owned else IssueStatus.ACCEPTED
            due = answer_by = None
        elif action is Action.FOLLOW_UP:
            status = IssueStatus.CLOSED
        elif action in TRANSITIONS and TRANSITIONS[action][1] is not None:
            status = TRANSITIONS[action][1] or status
        if action is Action.TRANSFER:
            answer_by = _due(step.data.get("answer_by"))
    return AsOf(str(status), due, answer_by if status == IssueStatus.TRANSFERRED else None)


def response_clock(
    *,
    respond_by: datetime | None,
    first_response_at: datetime | None,
    status: str,
    moment: datetime,
) -> ResponseClock | None:
    """The response clock at `moment` (None: the issue never had one), read by the same rule
    as everywhere else (storage/clocks.py: `read`)."""
    if respond_by is None:
        return None
    still_open = IssueStatus(status) in OPEN
    reading = clocks.read(respond_by, first_response_at, moment, ended=not still_open)
    return _RESPONSE[reading.state]


_RESPONSE = {
    clocks.ClockState.RUNNING: ResponseClock.RUNNING,
    clocks.ClockState.OVERDUE: ResponseClock.OVERDUE,
    clocks.ClockState.MET: ResponseClock.MET,
    clocks.ClockState.MISSED: ResponseClock.MISSED,
    clocks.ClockState.ENDED: ResponseClock.STOPPED,
}


def completion_overdue(*, due_at: datetime | None, status: str, moment: datetime) -> bool:
    """The completion clock (办结期限): past its date at `moment` while still open."""
    if due_at is None:
        return False
    return clocks.read(due_at, None, moment, ended=IssueStatus(status) not in OPEN).overdue


def came_in(period: Period) -> ColumnElement[bool]:
    return and_(col(Issue.created_at) >= period.start, col(Issue.created_at) < period.end)


def _kinds(values: Iterable[StrEnum]) -> list[str]:
    return sorted(str(value) for value in values)


def reopened_in(period: Period) -> ColumnElement[bool]:
    return col(Issue.id).in_(
        select(col(IssueEvent.issue_id)).where(
            col(IssueEvent.kind) == str(Action.REOPEN),
            col(IssueEvent.at) >= period.start,
            col(IssueEvent.at) < period.end,
        )
    )


def _open_when_it_began(period: Period) -> ColumnElement[bool]:
    """Reported before the period and open at its start. An issue whose state has not changed
    since is as it is now; for one that changed, the last state-changing step before the start
    says (a correlated lookup on the issue's own events, only for those few)."""
    changed_since = col(Issue.id).in_(
        select(col(IssueEvent.issue_id)).where(
            col(IssueEvent.at) >= period.start,
            col(IssueEvent.kind).in_(_kinds(STATUS_STEPS)),
        )
    )
    last_step_before = (
        select(col(IssueEvent.kind))
        .where(
            col(IssueEvent.issue_id) == col(Issue.id),
            col(IssueEvent.at) < period.start,
            col(IssueEvent.kind).in_(_kinds(STATUS_STEPS)),
        )
        .order_by(col(IssueEvent.at).desc(), col(IssueEvent.id).desc())
        .limit(1)
        .correlate(Issue)
        .scalar_subquery()
    )
    return and_(
        col(Issue.created_at) < period.start,
        or_(
            and_(~changed_since, col(Issue.status).in_(_kinds(OPEN))),
            and_(changed_since, last_step_before.in_(_kinds(OPENING_STEPS))),
        ),
    )


def in_period(period: Period, scope: Scope = Scope.OPEN_IN_PERIOD) -> ColumnElement[bool]:
    """The issues a period's page, PDF and exports hold (see `Scope`)."""
    arrived = or_(came_in(period), reopened_in(period))
    if scope is Scope.ARRIVED:
        return arrived
    return or_(arrived, _open_when_it_began(period))


async def steps_after(
    session: AsyncSession, issue_ids: list[int], moment: datetime
) -> dict[int, list[Step]]:
    """The state-changing steps of those of `issue_ids` that changed at or after `moment` (an
    earlier period's page; for the current one this finds nothing and reads no history)."""
    if not issue_ids:
        return {}
    kinds = _kinds(STATUS_STEPS)
    changed = await fetch_rows(
        session,
        select(col(IssueEvent.issue_id))
        .where(
            col(IssueEvent.issue_id).in_(issue_ids),
            col(IssueEvent.at) >= moment,
            col(IssueEvent.kind).in_(kinds),
        )
        .distinct(),
    )
    wanted = sorted({int(issue_id) for (issue_id,) in changed})
    steps: dict[int, list[Step]] = {issue_id: [] for issue_id in wanted}
    if not wanted:
        return steps
    rows = await fetch_rows(
        session,
        select(
            col(IssueEvent.issue_id), col(IssueEvent.at), col(IssueEvent.kind), col(IssueEvent.data)
        )
        .where(col(IssueEvent.issue_id).in_(wanted), col(IssueEvent.kind).in_(kinds))
        .order_by(col(IssueEvent.issue_id), col(IssueEvent.at), col(IssueEvent.id)),
    )
    for issue_id, at, kind, data in rows:
        steps[int(issue_id)].append(Step(at, kind, dict(data or {})))
    return steps


def as_of_moment(period: Period, now: datetime) -> datetime:
    """The moment a period's status and clocks are given for: its end, or now if it runs on."""
    return min(period.end, now)
