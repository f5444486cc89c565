"""The notebook page for a period, as the secretary keeps it on paper, and the one answer to
"which issues belong to this period" that the page, the PDF and the exports share.

Red entries: every issue open at any time in the period, each marked new (reported in it),
reopened (重办 in it) or carried over (reported earlier and open when it began), with its status
and its two clocks (the response deadline and the completion due date) as they stood at the
period's end (or now, for a period still running). Black entries: what staff did in the period
(owner, plan, progress, resolution, the resident's follow-up answer), each saying whether it was
public or internal. Both can be narrowed to one building and one owner, and are read a page at
a time with LIMIT/OFFSET: a page never loads the rest.

How an issue stood at a moment is worked out from its history (`issue_event`): the SQL asks
which step came last before the period began, and `standing_at` replays the few issues of a
page that changed after the period ended. Plain functions of the clock, passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.issue_lifecycle import OPEN, TRANSITIONS, Action
from storage.models import STAFF_ROLES, Building, Issue, IssueEvent, IssueStatus, Membership, Person
from storage.periods import Period
from storage.sql import fetch_rows, fetch_value

# The black pen: steps that say who owns an issue, what the plan is and how it goes.
BLACK_KINDS = (
    Action.ASSIGN,
    Action.CLAIM,
    Action.PLAN,
    Action.PROGRESS,
    Action.RETURN,
    Action.TRANSFER,
    Action.MERGE,
    Action.RESOLVE,
    Action.REOPEN,
    Action.FOLLOW_UP,
)

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
class PageFilter:
    building_id: int | None = None
    owner_id: int | None = None


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
    step whose data names a `due_at` sets the due date."""
    if all(step.at < moment for step in steps):
        return current
    status = IssueStatus.NEW
    owned = False
    due: datetime | None = None
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
        elif action is Action.FOLLOW_UP:
            status = IssueStatus.CLOSED
        elif action in TRANSITIONS and TRANSITIONS[action][1] is not None:
            status = TRANSITIONS[action][1] or status
    return AsOf(str(status), due)


def response_clock(
    *,
    respond_by: datetime | None,
    first_response_at: datetime | None,
    status: str,
    moment: datetime,
) -> ResponseClock | None:
    """The response clock at `moment` (None: the issue never had one)."""
    if respond_by is None:
        return None
    if first_response_at is not None and first_response_at < moment:
        return ResponseClock.MET if first_response_at <= respond_by else ResponseClock.MISSED
    if IssueStatus(status) not in OPEN:
        return ResponseClock.STOPPED
    return ResponseClock.OVERDUE if respond_by < moment else ResponseClock.RUNNING


def completion_overdue(*, due_at: datetime | None, status: str, moment: datetime) -> bool:
    """The completion clock (办结期限): past its date at `moment` while still open."""
    return due_at is not None and due_at < moment and IssueStatus(status) in OPEN


@dataclass(frozen=True)
class RedEntry:
    number: int
    created_at: datetime
    category: str
    description: str
    building: str | None
    status: str  # at the period's end (or now, for a period still running)
    owner: str | None
    due_at: datetime | None  # the completion due date (办结期限) at the period's end
    standing: Standing
    reopened_at: datetime | None = None  # the last reopening in the period
    respond_by: datetime | None = None  # the response deadline (答复时限)
    response: ResponseClock | None = None  # the response clock at the period's end
    overdue: bool = False  # past its completion date at the period's end, still open
    as_of: datetime | None = None  # the moment status and clocks are given for

    @property
    def carried_over(self) -> bool:
        return self.standing is not Standing.NEW


@dataclass(frozen=True)
class BlackEntry:
    number: int
    at: datetime
    kind: str
    text: str | None
    actor: str | None
    data: dict[str, Any] = field(default_factory=dict)
    named: dict[int, str] = field(default_factory=dict)  # person ids in `data` -> names
    public: bool = True  # False: an internal note, never shown to residents
    actor_is_staff: bool = True  # False: a resident (a follow-up answer, a reopening)


@dataclass(frozen=True)
class NotebookPage:
    red: list[RedEntry]
    black: list[BlackEntry]
    red_total: int
    black_total: int
    page: int
    pages: int


def _issue_filters(community_id: int, where: PageFilter) -> list[ColumnElement[bool]]:
    conditions = [col(Issue.community_id) == community_id]
    if where.building_id is not None:
        conditions.append(col(Issue.building_id) == where.building_id)
    if where.owner_id is not None:
        conditions.append(col(Issue.owner_id) == where.owner_id)
    return conditions


def _came_in(period: Period) -> ColumnElement[bool]:
    return and_(col(Issue.created_at) >= period.start, col(Issue.created_at) < period.end)


def _kinds(values: Iterable[StrEnum]) -> list[str]:
    return sorted(str(value) for value in values)


def _reopened_in(period: Period) -> ColumnElement[bool]:
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
    arrived = or_(_came_in(period), _reopened_in(period))
    if scope is Scope.ARRIVED:
        return arrived
    return or_(arrived, _open_when_it_began(period))


def _black_condition(period: Period) -> list[ColumnElement[bool]]:
    return [
        col(IssueEvent.at) >= period.start,
        col(IssueEvent.at) < period.end,
        col(IssueEvent.kind).in_([str(kind) for kind in BLACK_KINDS]),
    ]


async def count_red(
    session: AsyncSession,
    *,
    community_id: int,
    period: Period,
    where: PageFilter = PageFilter(),
    scope: Scope = Scope.OPEN_IN_PERIOD,
) -> int:
    query = (
        select(func.count())
        .select_from(Issue)
        .where(*_issue_filters(community_id, where), in_period(period, scope))
    )
    return int(await fetch_value(session, query))


def _black_filters(
    community_id: int, where: PageFilter, period: Period, public_only: bool
) -> list[ColumnElement[bool]]:
    conditions = [*_issue_filters(community_id, where), *_black_condition(period)]
    if public_only:
        conditions.append(col(IssueEvent.public).is_(True))
    return conditions


async def count_black(
    session: AsyncSession,
    *,
    community_id: int,
    period: Period,
    where: PageFilter = PageFilter(),
    public_only: bool = False,
) -> int:
    query = (
        select(func.count())
        .select_from(IssueEvent)
        .join(Issue, col(Issue.id) == col(IssueEvent.issue_id))
        .where(*_black_filters(community_id, where, period, public_only))
    )
    return int(await fetch_value(session, query))


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


async def red_entries(
    session: AsyncSession,
    *,
    community_id: int,
    period: Period,
    now: datetime,
    where: PageFilter = PageFilter(),
    scope: Scope = Scope.OPEN_IN_PERIOD,
    offset: int = 0,
    limit: int = 100,
) -> list[RedEntry]:
    """New issues first (in order), then those reopened in the period, then those carried over
    (oldest first), each with its status and clocks at the period's end (`as_of_moment`)."""
    came_in = _came_in(period)
    reopened = _reopened_in(period)
    owner = aliased(Person)
    last_reopening = (
        select(func.max(col(IssueEvent.at)))
        .where(
            col(IssueEvent.issue_id) == col(Issue.id),
            col(IssueEvent.kind) == str(Action.REOPEN),
            col(IssueEvent.at) >= period.start,
            col(IssueEvent.at) < period.end,
        )
        .correlate(Issue)
        .scalar_subquery()
    )
    rows = await fetch_rows(
        session,
        select(
            col(Issue.id),
            col(Issue.number),
            col(Issue.created_at),
            col(Issue.category),
            col(Issue.description),
            col(Building.name),
            col(Issue.status),
            func.coalesce(col(owner.full_name), col(Issue.owner_group)),
            col(Issue.due_at),
            col(Issue.respond_by),
            col(Issue.first_response_at),
            last_reopening,
        )
        .outerjoin(Building, col(Building.id) == col(Issue.building_id))
        .outerjoin(owner, col(owner.id) == col(Issue.owner_id))
        .where(*_issue_filters(community_id, where), in_period(period, scope))
        .order_by(
            case((came_in, 0), (reopened, 1), else_=2), col(Issue.created_at), col(Issue.number)
        )
        .offset(offset)
        .limit(limit),
    )
    moment = as_of_moment(period, now)
    history = await steps_after(session, [int(row[0]) for row in rows], moment)
    entries = []
    for (
        issue_id,
        number,
        created_at,
        category,
        description,
        building,
        status,
        owner_name,
        due_at,
        respond_by,
        first_response_at,
        reopened_at,
    ) in rows:
        then = standing_at(AsOf(status, due_at), history.get(int(issue_id), []), moment)
        if created_at >= period.start:
            standing = Standing.NEW
        elif reopened_at is not None:
            standing = Standing.REOPENED
        else:
            standing = Standing.CARRIED_OVER
        entries.append(
            RedEntry(
                number=number,
                created_at=created_at,
                category=category,
                description=description,
                building=building,
                status=then.status,
                owner=owner_name,
                due_at=then.due_at,
                standing=standing,
                reopened_at=reopened_at,
                respond_by=respond_by,
                response=response_clock(
                    respond_by=respond_by,
                    first_response_at=first_response_at,
                    status=then.status,
                    moment=moment,
                ),
                overdue=completion_overdue(due_at=then.due_at, status=then.status, moment=moment),
                as_of=moment,
            )
        )
    return entries


async def black_entries(
    session: AsyncSession,
    *,
    community_id: int,
    period: Period,
    where: PageFilter = PageFilter(),
    public_only: bool = False,
    offset: int = 0,
    limit: int = 100,
) -> list[BlackEntry]:
    """Staff's steps in the period, in the order they happened (`public_only`: without the
    internal notes, for the wall)."""
    actor = aliased(Person)
    actor_is_staff = exists().where(
        col(Membership.person_id) == col(IssueEvent.actor_id),
        col(Membership.community_id) == community_id,
        col(Membership.role).in_([str(role) for role in STAFF_ROLES]),
    )
    rows = await fetch_rows(
        session,
        select(
            col(Issue.number),
            col(IssueEvent.at),
            col(IssueEvent.kind),
            col(IssueEvent.text),
            col(actor.full_name),
            col(IssueEvent.data),
            col(IssueEvent.public),
            actor_is_staff,
        )
        .join(Issue, col(Issue.id) == col(IssueEvent.issue_id))
        .outerjoin(actor, col(actor.id) == col(IssueEvent.actor_id))
        .where(*_black_filters(community_id, where, period, public_only))
        .order_by(col(IssueEvent.at), col(IssueEvent.id))
        .offset(offset)
        .limit(limit),
    )
    # An assignment names its new owner by id: look up the few names this page needs.
    wanted = {
        int(row[5]["owner_id"])
        for row in rows
        if isinstance(row[5], dict) and isinstance(row[5].get("owner_id"), int)
    }
    names: dict[int, str] = {}
    if wanted:
        found = await fetch_rows(
            session,
            select(col(Person.id), col(Person.full_name)).where(col(Person.id).in_(wanted)),
        )
        names = {int(pid): str(name) for pid, name in found}
    return [
        BlackEntry(
            number,
            at,
            kind,
            text,
            actor_name,
            dict(data or {}),
            names,
            public=bool(public),
            actor_is_staff=bool(staff),
        )
        for number, at, kind, text, actor_name, data, public, staff in rows
    ]


async def notebook_page(
    session: AsyncSession,
    *,
    community_id: int,
    period: Period,
    now: datetime,
    where: PageFilter,
    page: int,
    per_page: int,
) -> NotebookPage:
    """Page `page` (from 0) of the red entries followed by the black ones; a page past the
    end shows the last page."""
    red_total = await count_red(session, community_id=community_id, period=period, where=where)
    black_total = await count_black(session, community_id=community_id, period=period, where=where)
    pages = max(1, -(-(red_total + black_total) // per_page))
    page = min(max(page, 0), pages - 1)
    first = page * per_page
    red: list[RedEntry] = []
    if first < red_total:
        red = await red_entries(
            session,
            community_id=community_id,
            period=period,
            now=now,
            where=where,
            offset=first,
            limit=min(per_page, red_total - first),
        )
    black: list[BlackEntry] = []
    room = per_page - len(red)
    if room > 0 and black_total:
        black = await black_entries(
            session,
            community_id=community_id,
            period=period,
            where=where,
            offset=max(first - red_total, 0),
            limit=room,
        )
    return NotebookPage(red, black, red_total, black_total, page, pages)
