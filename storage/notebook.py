"""The notebook page for a period, as the secretary keeps it on paper.

Red entries: every issue open at any time in the period, each marked new (reported in it),
reopened (重办 in it) or carried over (reported earlier and open when it began), with its status
and its two clocks (the response deadline and the completion due date) as they stood at the
period's end (or now, for a period still running). Black entries: what staff did in the period
(owner, plan, progress, resolution, the resident's follow-up answer), each saying whether it was
public or internal. Both can be narrowed to one building and one owner, and are read a page at
a time with LIMIT/OFFSET: a page never loads the rest.

Which issues a period holds, and how each stood at its end, is storage/period_issues.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, exists, func, select
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.issue_lifecycle import Action
from storage.models import STAFF_ROLES, Building, Issue, IssueEvent, Membership, Person
from storage.period_issues import (
    AsOf,
    ResponseClock,
    Scope,
    Standing,
    as_of_moment,
    came_in,
    completion_overdue,
    in_period,
    reopened_in,
    response_clock,
    standing_at,
    steps_after,
)
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


@dataclass(frozen=True)
class PageFilter:
    building_id: int | None = None
    owner_id: int | None = None


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
    answer_by: datetime | None = None  # 转办: the body's answer date, while transferred
    summary: str | None = None  # the one line a worker or the resident gave it: its title
    reporter: str | None = None  # who reported it (a voice message's title names them)

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
    reported = came_in(period)
    reopened = reopened_in(period)
    owner = aliased(Person)
    reporter = aliased(Person)
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
            col(Issue.transfer_answer_by),
            col(Issue.summary),
            col(reporter.full_name),
        )
        .outerjoin(Building, col(Building.id) == col(Issue.building_id))
        .outerjoin(owner, col(owner.id) == col(Issue.owner_id))
        .outerjoin(reporter, col(reporter.id) == col(Issue.reporter_id))
        .where(*_issue_filters(community_id, where), in_period(period, scope))
        .order_by(
            case((reported, 0), (reopened, 1), else_=2), col(Issue.created_at), col(Issue.number)
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
        answer_by,
        summary,
        reporter_name,
    ) in rows:
        now_holds = AsOf(status, due_at, answer_by)
        then = standing_at(now_holds, history.get(int(issue_id), []), moment)
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
                summary=summary,
                reporter=reporter_name,
                respond_by=respond_by,
                response=response_clock(
                    respond_by=respond_by,
                    first_response_at=first_response_at,
                    status=then.status,
                    moment=moment,
                ),
                overdue=completion_overdue(due_at=then.due_at, status=then.status, moment=moment),
                as_of=moment,
                answer_by=then.answer_by,
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
