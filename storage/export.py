"""The issues of a period, one row each, for the spreadsheets sent to the street office.

Rows are streamed from the database in batches (one query with its joins), so an export of a
busy year never holds every issue in memory at once; the file is written as they arrive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Building, Issue, Person, Unit
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
    status: str
    owner: str | None
    plan: str | None
    due_at: datetime | None
    accepted_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    satisfaction: str | None
    supporters: int
    reopened: int


async def issue_batches(
    session: AsyncSession, *, community_id: int, period: Period
) -> AsyncIterator[list[ExportRow]]:
    """Every issue reported in `period`, by number, `BATCH` rows at a time."""
    owner = aliased(Person)
    query = (
        select(
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
            col(Issue.accepted_at),
            col(Issue.first_response_at),
            col(Issue.resolved_at),
            col(Issue.closed_at),
            col(Issue.satisfaction),
            col(Issue.support_count),
            col(Issue.reopened_count),
        )
        .outerjoin(Building, col(Building.id) == col(Issue.building_id))
        .outerjoin(Unit, col(Unit.id) == col(Issue.unit_id))
        .outerjoin(owner, col(owner.id) == col(Issue.owner_id))
        .where(
            col(Issue.community_id) == community_id,
            col(Issue.created_at) >= period.start,
            col(Issue.created_at) < period.end,
        )
        .order_by(col(Issue.number))
        .execution_options(yield_per=BATCH)
    )
    result = await session.stream(query)
    async for batch in result.partitions():
        yield [ExportRow(*cast(tuple[Any, ...], row)) for row in batch]
