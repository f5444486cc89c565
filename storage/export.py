"""The issues of a period, one row each, for the spreadsheets sent to the street office.

A period's rows are every issue open at any time in it (storage/period_issues.py: `in_period`):
reported in it, reopened in it, or carried over from before, each saying which, with its status
and its two clocks as they stood at the period's end. Rows are streamed from the database in
batches (one query with its joins), so an export of a busy year never holds every issue in
memory at once; the file is written as they arrive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.issue_lifecycle import Action
from storage.models import Building, Issue, IssueEvent, Person, Unit
from storage.period_issues import (
    AsOf,
    ResponseClock,
    Standing,
    as_of_moment,
    completion_overdue,
    in_period,
    response_clock,
    standing_at,
    steps_after,
)
from storage.periods import Period

BATCH = 1000


@dataclass(frozen=True)
class ExportRow:
    number: int
    created_at: datetime
    channel: str
    category: str
    description: str
    building: str | None
    unit: str | None
    urgency: str
    difficulty: str | None
    status: str  # at the period's end (or now, for a period still running)
    owner: str | None
    plan: str | None
    due_at: datetime | None  # the completion due date (办结期限) at the period's end
    transfer_answer_by: datetime | None  # 转办: the body's answer date, while transferred
    accepted_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    satisfaction: str | None
    supporters: int
    reopened: int
    standing: Standing = Standing.NEW
    respond_by: datetime | None = None  # the response deadline (答复时限)
    response: ResponseClock | None = None  # the response clock at the period's end
    overdue: bool = False  # past its completion date at the period's end, still open
    summary: str | None = None  # the one line a worker or the resident gave it: its title
    reporter: str | None = None  # who reported it (a voice message's title names them)


async def issue_batches(
    session: AsyncSession, *, community_id: int, period: Period, now: datetime
) -> AsyncIterator[list[ExportRow]]:
    """Every issue open at any time in `period`, by number, `BATCH` rows at a time."""
    owner = aliased(Person)
    reporter = aliased(Person)
    reopened_in = col(Issue.id).in_(
        select(col(IssueEvent.issue_id)).where(
            col(IssueEvent.kind) == str(Action.REOPEN),
            col(IssueEvent.at) >= period.start,
            col(IssueEvent.at) < period.end,
        )
    )
    standing = case(
        (col(Issue.created_at) >= period.start, str(Standing.NEW)),
        (reopened_in, str(Standing.REOPENED)),
        else_=str(Standing.CARRIED_OVER),
    )
    query = (
        select(
            col(Issue.id),
            col(Issue.number),
            col(Issue.created_at),
            col(Issue.channel),
            col(Issue.category),
            col(Issue.description),
            col(Building.name),
            col(Unit.name),
            col(Issue.urgency),
            col(Issue.difficulty),
            col(Issue.status),
            func.coalesce(col(owner.full_name), col(Issue.owner_group)),
            col(Issue.plan),
            col(Issue.due_at),
            col(Issue.transfer_answer_by),
            col(Issue.accepted_at),
            col(Issue.first_response_at),
            col(Issue.resolved_at),
            col(Issue.closed_at),
            col(Issue.satisfaction),
            col(Issue.support_count),
            col(Issue.reopened_count),
            standing,
            col(Issue.respond_by),
            col(Issue.summary),
            col(reporter.full_name),
        )
        .outerjoin(Building, col(Building.id) == col(Issue.building_id))
        .outerjoin(Unit, col(Unit.id) == col(Issue.unit_id))
        .outerjoin(owner, col(owner.id) == col(Issue.owner_id))
        .outerjoin(reporter, col(reporter.id) == col(Issue.reporter_id))
        .where(col(Issue.community_id) == community_id, in_period(period))
        .order_by(col(Issue.number))
        .execution_options(yield_per=BATCH)
    )
    moment = as_of_moment(period, now)
    result = await session.stream(query)
    async for batch in result.partitions():
        rows: list[Any] = list(batch)
        # the stream holds the connection: the few histories are read on the same one after
        history = await steps_after(session, [int(row[0]) for row in rows], moment)
        yield [_row(row, history, moment) for row in rows]


def _row(row: Any, history: dict[int, list[Any]], moment: datetime) -> ExportRow:
    (issue_id, *columns, standing, respond_by, summary, reporter) = row
    values = dict(zip(_COLUMNS, columns, strict=True))
    now_holds = AsOf(values["status"], values["due_at"], values["transfer_answer_by"])
    then = standing_at(now_holds, history.get(issue_id, []), moment)
    values["status"], values["due_at"] = then.status, then.due_at
    values["transfer_answer_by"] = then.answer_by
    return ExportRow(
        **values,
        summary=summary,
        reporter=reporter,
        standing=Standing(standing),
        respond_by=respond_by,
        response=response_clock(
            respond_by=respond_by,
            first_response_at=values["first_response_at"],
            status=then.status,
            moment=moment,
        ),
        overdue=completion_overdue(due_at=then.due_at, status=then.status, moment=moment),
    )


_COLUMNS = (
    "number",
    "created_at",
    "channel",
    "category",
    "description",
    "building",
    "unit",
    "urgency",
    "difficulty",
    "status",
    "owner",
    "plan",
    "due_at",
    "transfer_answer_by",
    "accepted_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "satisfaction",
    "supporters",
    "reopened",
)
