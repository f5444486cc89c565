"""The notebook page for a period, as the secretary keeps it on paper.

Red entries: the problems that came in during the period, then the to-dos carried over (issues
reported earlier and still open). Black entries: what staff did in the period (owner, plan,
progress, resolution, the resident's follow-up answer). Both can be narrowed to one building
and one owner, and are read a page at a time with LIMIT/OFFSET: a page never loads the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.issue_lifecycle import OPEN, Action
from storage.models import Building, Issue, IssueEvent, Person
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
    status: str
    owner: str | None
    due_at: datetime | None
    carried_over: bool  # reported before the period and still open


@dataclass(frozen=True)
class BlackEntry:
    number: int
    at: datetime
    kind: str
    text: str | None
    actor: str | None
    data: dict[str, Any] = field(default_factory=dict)
    named: dict[int, str] = field(default_factory=dict)  # person ids in `data` -> names


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


def _red_condition(period: Period, carry_over: bool, open_only: bool) -> ColumnElement[bool]:
    if open_only:
        return and_(_came_in(period), col(Issue.status).in_(list(OPEN)))
    if not carry_over:
        return _came_in(period)
    still_open = and_(col(Issue.created_at) < period.start, col(Issue.status).in_(list(OPEN)))
    return or_(_came_in(period), still_open)


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
    carry_over: bool = True,
    open_only: bool = False,
) -> int:
    query = (
        select(func.count())
        .select_from(Issue)
        .where(
            *_issue_filters(community_id, where),
            _red_condition(period, carry_over, open_only),
        )
    )
    return int(await fetch_value(session, query))


async def count_black(
    session: AsyncSession, *, community_id: int, period: Period, where: PageFilter = PageFilter()
) -> int:
    query = (
        select(func.count())
        .select_from(IssueEvent)
        .join(Issue, col(Issue.id) == col(IssueEvent.issue_id))
        .where(*_issue_filters(community_id, where), *_black_condition(period))
    )
    return int(await fetch_value(session, query))


async def red_entries(
    session: AsyncSession,
    *,
    community_id: int,
    period: Period,
    where: PageFilter = PageFilter(),
    carry_over: bool = True,
    open_only: bool = False,
    offset: int = 0,
    limit: int = 100,
) -> list[RedEntry]:
    """What came in first (in order), then what is still open from before (oldest first).
    `carry_over=False`: only what came in; `open_only`: only what came in and is still open."""
    came_in = _came_in(period)
    owner = aliased(Person)
    rows = await fetch_rows(
        session,
        select(
            col(Issue.number),
            col(Issue.created_at),
            col(Issue.category),
            col(Issue.description),
            col(Building.name),
            col(Issue.status),
            func.coalesce(col(owner.full_name), col(Issue.owner_group)),
            col(Issue.due_at),
        )
        .outerjoin(Building, col(Building.id) == col(Issue.building_id))
        .outerjoin(owner, col(owner.id) == col(Issue.owner_id))
        .where(
            *_issue_filters(community_id, where),
            _red_condition(period, carry_over, open_only),
        )
        .order_by(case((came_in, 0), else_=1), col(Issue.created_at), col(Issue.number))
        .offset(offset)
        .limit(limit),
    )
    return [
        RedEntry(
            number=number,
            created_at=created_at,
            category=category,
            description=description,
            building=building,
            status=status,
            owner=owner_name,
            due_at=due_at,
            carried_over=created_at < period.start,
        )
        for number, created_at, category, description, building, status, owner_name, due_at in rows
    ]


async def black_entries(
    session: AsyncSession,
    *,
    community_id: int,
    period: Period,
    where: PageFilter = PageFilter(),
    offset: int = 0,
    limit: int = 100,
) -> list[BlackEntry]:
    """Staff's steps in the period, in the order they happened."""
    actor = aliased(Person)
    rows = await fetch_rows(
        session,
        select(
            col(Issue.number),
            col(IssueEvent.at),
            col(IssueEvent.kind),
            col(IssueEvent.text),
            col(actor.full_name),
            col(IssueEvent.data),
        )
        .join(Issue, col(Issue.id) == col(IssueEvent.issue_id))
        .outerjoin(actor, col(actor.id) == col(IssueEvent.actor_id))
        .where(*_issue_filters(community_id, where), *_black_condition(period))
        .order_by(col(IssueEvent.at), col(IssueEvent.id))
        .offset(offset)
        .limit(limit),
    )
    # An assignment names its new owner by id: look up the few names this page needs.
    wanted = {
        int(data["owner_id"])
        for *_, data in rows
        if isinstance(data, dict) and isinstance(data.get("owner_id"), int)
    }
    names: dict[int, str] = {}
    if wanted:
        found = await fetch_rows(
            session,
            select(col(Person.id), col(Person.full_name)).where(col(Person.id).in_(wanted)),
        )
        names = {int(pid): str(name) for pid, name in found}
    return [
        BlackEntry(number, at, kind, text, actor_name, dict(data or {}), names)
        for number, at, kind, text, actor_name, data in rows
    ]


async def notebook_page(
    session: AsyncSession,
    *,
    community_id: int,
    period: Period,
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
