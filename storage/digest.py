"""The digest's figures for one community and period, every one aggregated in SQL.

What the secretary reads every Monday (handlers/secretary/digest.py writes it out): how many issues
came in, were accepted, resolved, closed and reopened; the three rates (三率) and the composite;
median times to a first response and to resolution; what is overdue; where problems cluster,
compared with the period before; repeat problems (proactive governance, 未诉先办); and each
owner's load. Each figure is one query over indexed columns (COUNT, SUM(CASE …), GROUP BY,
ORDER BY … LIMIT); no query loads every issue.

Definitions (docs/secretary.md, "The weekly digest"):
- new / accepted / resolved / closed: issues whose `created_at` / `accepted_at` /
  `resolved_at` / `closed_at` (status closed) falls in the period. Reopening clears
  `resolved_at`, so an issue counts as resolved when its resolution still stands.
- reopened: issues with a reopening (`reopened` event) in the period.
- rates: over the follow-up answers (`follow_up` rows) given in the period; an issue answered
  twice (not solved, reopened, then solved) counts twice, once per answer.
  response = answers on issues first answered by the promised time (first_response_at <=
  respond_by); resolution = answers "solved" (and "partly", if the policy says so);
  satisfaction = (满意 + factor × 基本满意); each ÷ answers. composite = weighted sum.
- overdue, by the two clocks of storage/clocks.py (`is_overdue`), as two groups:
  due passed (完成期限): open issues whose completion due date (`due_at`) has passed at `now`;
  reply-by passed, not yet answered (答复时限): open issues without a due date whose response
  deadline (`respond_by`) has passed at `now` with no acceptance and no first response by then.
  An issue is in one group at most (a due date makes the completion clock the one that counts).
  Rows without a stored `respond_by` have no response clock here, as on the notebook page.
  An owner's overdue count is the two groups together.
- repeat problems: the same category in the same building reported `repeat_min_issues` times
  or more in the `repeat_window` before the period's end (merged duplicates and withdrawn
  reports do not count).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.categories import CATEGORIES
from storage.escalation import escalated_open
from storage.issue_lifecycle import OPEN, Action
from storage.models import (
    Building,
    FollowUp,
    FollowUpResult,
    Issue,
    IssueEvent,
    IssueStatus,
    Person,
    Satisfaction,
)
from storage.periods import Period
from storage.sql import fetch_one, fetch_rows, fetch_value, median, seconds_between

CHART_WEEKS = 8
BUILDINGS_LIMIT = 500  # far more than a community has: the list is cut when written out


@dataclass(frozen=True)
class DigestPolicy:
    """How the rates are weighed and what counts as a repeat problem (all settings)."""

    response_weight: float = 0.1
    resolution_weight: float = 0.5
    satisfaction_weight: float = 0.4
    basic_factor: float = 0.9  # 基本满意 counts as this much of 满意
    partly_counts_as_resolved: bool = False
    repeat_min_issues: int = 3
    repeat_window: timedelta = timedelta(days=28)

    @property
    def resolved_results(self) -> list[str]:
        results = [FollowUpResult.SOLVED]
        if self.partly_counts_as_resolved:
            results.append(FollowUpResult.PARTLY)
        return [str(r) for r in results]


@dataclass(frozen=True)
class Rates:
    """The three rates (三率) from the period's follow-up answers."""

    followed_up: int
    responded_in_time: int
    resolved: int
    satisfied: int
    basically_satisfied: int
    policy: DigestPolicy = field(repr=False)

    def _share(self, count: float) -> float | None:
        return count / self.followed_up if self.followed_up else None

    @property
    def response(self) -> float | None:
        return self._share(self.responded_in_time)

    @property
    def resolution(self) -> float | None:
        return self._share(self.resolved)

    @property
    def satisfaction(self) -> float | None:
        return self._share(self.satisfied + self.policy.basic_factor * self.basically_satisfied)

    @property
    def composite(self) -> float | None:
        if not self.followed_up:
            return None
        p = self.policy
        total = p.response_weight + p.resolution_weight + p.satisfaction_weight
        weighted = (
            p.response_weight * (self.response or 0.0)
            + p.resolution_weight * (self.resolution or 0.0)
            + p.satisfaction_weight * (self.satisfaction or 0.0)
        )
        return weighted / total


@dataclass(frozen=True)
class OverdueItem:
    number: int
    building: str | None
    owner: str | None
    due_at: datetime


@dataclass(frozen=True)
class ReplyLateItem:
    """An open issue whose response deadline (答复时限) passed with nobody having answered."""

    number: int
    building: str | None
    owner: str | None
    respond_by: datetime


@dataclass(frozen=True)
class Trend:
    """A category (its key) or a building (its name): issues now and in the period before."""

    key: str
    count: int
    previous: int

    @property
    def change(self) -> int:
        return self.count - self.previous


@dataclass(frozen=True)
class RepeatProblem:
    building: str
    category: str
    count: int


@dataclass(frozen=True)
class OwnerLoad:
    name: str
    open: int
    overdue: int


@dataclass(frozen=True)
class WeekCount:
    start: datetime
    opened: int
    resolved: int


@dataclass(frozen=True)
class Digest:
    period: Period
    now: datetime
    new: int
    accepted: int
    resolved: int
    closed: int
    reopened: int
    rates: Rates
    median_first_response: timedelta | None
    median_resolution: timedelta | None
    overdue: list[OverdueItem]
    overdue_total: int
    categories: list[Trend]  # every category with new issues in the period, most first
    buildings: list[Trend]
    repeats: list[RepeatProblem]
    repeats_total: int
    owners: list[OwnerLoad]
    owners_total: int
    unassigned_open: int
    weeks: list[WeekCount]  # the CHART_WEEKS weeks up to the period's end
    escalated: list[int] = field(default_factory=list)  # open issues marked 上报, by number
    # open issues past their response deadline (答复时限) that nobody has answered yet
    reply_late: list[ReplyLateItem] = field(default_factory=list)
    reply_late_total: int = 0


def _in(column: Any, period: Period) -> ColumnElement[bool]:
    return and_(col(column) >= period.start, col(column) < period.end)


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def _count(session: AsyncSession, community_id: int, *conditions: Any) -> int:
    query = select(func.count()).select_from(Issue).where(col(Issue.community_id) == community_id)
    return int(await fetch_value(session, query.where(*conditions)))


async def _median_seconds(session: AsyncSession, values: Select[Any]) -> timedelta | None:
    seconds = await median(session, values)
    return None if seconds is None else timedelta(seconds=round(seconds))


async def _rates(
    session: AsyncSession, community_id: int, period: Period, policy: DigestPolicy
) -> Rates:
    in_time = and_(
        col(Issue.first_response_at).is_not(None),
        col(Issue.respond_by).is_not(None),
        col(Issue.first_response_at) <= col(Issue.respond_by),
    )
    row = await fetch_one(
        session,
        select(
            func.count(),
            _count_if(in_time),
            _count_if(col(FollowUp.result).in_(policy.resolved_results)),
            _count_if(col(FollowUp.satisfaction) == Satisfaction.SATISFIED),
            _count_if(col(FollowUp.satisfaction) == Satisfaction.BASIC),
        )
        .select_from(FollowUp)
        .join(Issue, col(Issue.id) == col(FollowUp.issue_id))
        .where(col(FollowUp.community_id) == community_id, _in(FollowUp.at, period)),
    )
    answers, timely, resolved, satisfied, basic = (int(v) for v in row)
    return Rates(answers, timely, resolved, satisfied, basic, policy)


def _due_passed(now: datetime) -> ColumnElement[bool]:
    """The completion clock (完成期限) ran out: an open issue's due date has passed."""
    return and_(col(Issue.status).in_(list(OPEN)), col(Issue.due_at) < now)


def _reply_passed(now: datetime) -> ColumnElement[bool]:
    """The response clock (答复时限) ran out with nobody having answered: an open issue without
    a due date (else the completion clock counts), its `respond_by` passed, and neither an
    acceptance nor a first response by `now` (storage/clocks.py: `is_overdue`)."""
    return and_(
        col(Issue.status).in_(list(OPEN)),
        col(Issue.due_at).is_(None),
        col(Issue.respond_by).is_not(None),
        col(Issue.respond_by) < now,
        (col(Issue.accepted_at).is_(None)) | (col(Issue.accepted_at) > now),
        (col(Issue.first_response_at).is_(None)) | (col(Issue.first_response_at) > now),
    )


async def _late(
    session: AsyncSession,
    community_id: int,
    condition: ColumnElement[bool],
    moment: Any,
    limit: int,
) -> tuple[list[tuple[int, str | None, str | None, datetime]], int]:
    """The first `limit` issues matching `condition` (number, building, owner, the passed
    moment), longest past first, and how many there are: a count and a limited list."""
    total = await _count(session, community_id, condition)
    rows = await fetch_rows(
        session,
        select(
            col(Issue.number),
            col(Building.name),
            col(Person.full_name),
            col(Issue.owner_group),
            col(moment),
        )
        .outerjoin(Building, col(Building.id) == col(Issue.building_id))
        .outerjoin(Person, col(Person.id) == col(Issue.owner_id))
        .where(col(Issue.community_id) == community_id, condition)
        .order_by(col(moment), col(Issue.number))
        .limit(limit),
    )
    items = [
        (number, building, owner or group, at)
        for number, building, owner, group, at in rows
        if at is not None
    ]
    return items, total


async def _overdue(
    session: AsyncSession, community_id: int, now: datetime, limit: int
) -> tuple[list[OverdueItem], int]:
    rows, total = await _late(session, community_id, _due_passed(now), Issue.due_at, limit)
    return [OverdueItem(*row) for row in rows], total


async def _reply_late(
    session: AsyncSession, community_id: int, now: datetime, limit: int
) -> tuple[list[ReplyLateItem], int]:
    rows, total = await _late(session, community_id, _reply_passed(now), Issue.respond_by, limit)
    return [ReplyLateItem(*row) for row in rows], total


async def _trends(
    session: AsyncSession, community_id: int, period: Period, *, by_building: bool, limit: int
) -> list[Trend]:
    before = period.previous()
    now_count = _count_if(col(Issue.created_at) >= period.start).label("now_count")
    before_count = _count_if(col(Issue.created_at) < period.start).label("before_count")
    window = (
        col(Issue.community_id) == community_id,
        col(Issue.created_at) >= before.start,
        col(Issue.created_at) < period.end,
    )
    query: Select[Any]
    if by_building:
        query = (
            select(col(Building.name), now_count, before_count)
            .join(Building, col(Building.id) == col(Issue.building_id))
            .where(*window)
            .group_by(col(Building.id), col(Building.name))
            .order_by(now_count.desc(), col(Building.name))
        )
    else:
        query = (
            select(col(Issue.category), now_count, before_count)
            .where(*window)
            .group_by(col(Issue.category))
            .order_by(now_count.desc(), col(Issue.category))
        )
    rows = await fetch_rows(session, query.having(now_count > 0).limit(limit))
    return [Trend(str(key), int(count), int(previous)) for key, count, previous in rows]


async def _repeats(
    session: AsyncSession, community_id: int, period: Period, policy: DigestPolicy, limit: int
) -> tuple[list[RepeatProblem], int]:
    reports = func.count().label("reports")
    groups = (
        select(col(Building.name), col(Issue.category), reports)
        .join(Building, col(Building.id) == col(Issue.building_id))
        .where(
            col(Issue.community_id) == community_id,
            col(Issue.created_at) >= period.end - policy.repeat_window,
            col(Issue.created_at) < period.end,
            col(Issue.status).not_in([IssueStatus.MERGED, IssueStatus.WITHDRAWN]),
        )
        .group_by(col(Building.id), col(Building.name), col(Issue.category))
        .having(func.count() >= policy.repeat_min_issues)
    )
    total = int(await fetch_value(session, select(func.count()).select_from(groups.subquery())))
    rows = await fetch_rows(
        session,
        groups.order_by(reports.desc(), col(Building.name), col(Issue.category)).limit(limit),
    )
    return [RepeatProblem(str(b), str(c), int(n)) for b, c, n in rows], total


async def _owners(
    session: AsyncSession, community_id: int, now: datetime, limit: int
) -> tuple[list[OwnerLoad], int, int]:
    open_here = (col(Issue.community_id) == community_id, col(Issue.status).in_(list(OPEN)))
    load = func.count().label("load")
    owned = (
        select(
            col(Person.full_name),
            col(Issue.owner_group),
            load,
            _count_if(_due_passed(now) | _reply_passed(now)),
        )
        .outerjoin(Person, col(Person.id) == col(Issue.owner_id))
        .where(
            *open_here,
            (col(Issue.owner_id).is_not(None)) | (col(Issue.owner_group).is_not(None)),
        )
        .group_by(col(Issue.owner_id), col(Issue.owner_group), col(Person.full_name))
    )
    total = int(await fetch_value(session, select(func.count()).select_from(owned.subquery())))
    rows = await fetch_rows(
        session,
        owned.order_by(load.desc(), col(Person.full_name), col(Issue.owner_group)).limit(limit),
    )
    owners = [OwnerLoad(name or group or "", int(n), int(late)) for name, group, n, late in rows]
    unassigned = await _count(
        session,
        community_id,
        *open_here,
        col(Issue.owner_id).is_(None),
        col(Issue.owner_group).is_(None),
    )
    return owners, total, unassigned


async def _weeks(session: AsyncSession, community_id: int, period: Period) -> list[WeekCount]:
    starts = [period.end - timedelta(weeks=CHART_WEEKS - i) for i in range(CHART_WEEKS)]
    bounds = [(start, start + timedelta(weeks=1)) for start in starts]

    async def per_week(column: Any) -> list[int]:
        sums = [_count_if(and_(col(column) >= a, col(column) < b)) for a, b in bounds]
        row = await fetch_one(
            session,
            select(*sums).where(
                col(Issue.community_id) == community_id,
                col(column) >= starts[0],
                col(column) < period.end,
            ),
        )
        return [int(v) for v in row]

    opened = await per_week(Issue.created_at)
    resolved = await per_week(Issue.resolved_at)
    return [WeekCount(s, o, r) for s, o, r in zip(starts, opened, resolved, strict=True)]


async def build_digest(
    session: AsyncSession,
    *,
    community_id: int,
    period: Period,
    now: datetime,
    policy: DigestPolicy,
    list_limit: int = 20,
) -> Digest:
    """Every figure of the digest for `period`; "overdue" (both clocks) and loads are as of
    `now`."""
    reopened = await fetch_value(
        session,
        select(func.count(func.distinct(col(IssueEvent.issue_id))))
        .join(Issue, col(Issue.id) == col(IssueEvent.issue_id))
        .where(
            col(IssueEvent.kind) == Action.REOPEN,
            _in(IssueEvent.at, period),
            col(Issue.community_id) == community_id,
        ),
    )
    here = col(Issue.community_id) == community_id
    first_response = select(
        seconds_between(col(Issue.first_response_at), col(Issue.created_at))
    ).where(here, _in(Issue.first_response_at, period))
    resolution = select(seconds_between(col(Issue.resolved_at), col(Issue.created_at))).where(
        here, _in(Issue.resolved_at, period)
    )
    overdue, overdue_total = await _overdue(session, community_id, now, list_limit)
    repeats, repeats_total = await _repeats(session, community_id, period, policy, list_limit)
    reply_late, reply_late_total = await _reply_late(session, community_id, now, list_limit)
    owners, owners_total, unassigned = await _owners(session, community_id, now, list_limit)
    return Digest(
        period=period,
        now=now,
        new=await _count(session, community_id, _in(Issue.created_at, period)),
        accepted=await _count(session, community_id, _in(Issue.accepted_at, period)),
        resolved=await _count(session, community_id, _in(Issue.resolved_at, period)),
        closed=await _count(
            session,
            community_id,
            _in(Issue.closed_at, period),
            col(Issue.status) == IssueStatus.CLOSED,
        ),
        reopened=int(reopened),
        rates=await _rates(session, community_id, period, policy),
        median_first_response=await _median_seconds(session, first_response),
        median_resolution=await _median_seconds(session, resolution),
        overdue=overdue,
        overdue_total=overdue_total,
        categories=await _trends(
            session, community_id, period, by_building=False, limit=len(CATEGORIES)
        ),
        buildings=await _trends(
            session, community_id, period, by_building=True, limit=BUILDINGS_LIMIT
        ),
        repeats=repeats,
        repeats_total=repeats_total,
        owners=owners,
        owners_total=owners_total,
        unassigned_open=unassigned,
        weeks=await _weeks(session, community_id, period),
        escalated=await escalated_open(session, community_id),
        reply_late=reply_late,
        reply_late_total=reply_late_total,
    )
