"""How the notebook is doing, from the database, so every instance and the CLI agree.

- `Heartbeat` rows: `update` is the time the last update was processed (written by any instance,
  at most every few seconds); `instance:…` rows are each running bot process's presence,
  refreshed every `PRESENCE_EVERY` and deleted at a clean stop, with whether its update
  fetcher runs. `restore` refuses while any instance was seen within `PRESENCE_FRESH`.
  `staff_refused:<chat>` rows say a staff group refused the bot (403), written where the
  outbox met the refusal and deleted when a later send there succeeds (delivery/dispatch.py).
- `health_report(db, now)` is what the HTTP health endpoint serves and `python -m bot status`
  prints: "degraded", with one plain line per reason, when updates are not fetched, inbox rows
  wait more than a minute, outbox rows are overdue, the database does not answer within
  `ANSWER_WITHIN`, or a staff group refuses the bot. Failed inbox rows (given up after their
  attempts) are listed for a person to look at, without making the notebook degraded: the bot
  still serves everyone else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, delete, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import migrate
from storage.db import INSERTS, Database, dialect_of
from storage.models import (
    Community,
    Heartbeat,
    InboxStatus,
    InboxUpdate,
    Outbox,
    OutboxStatus,
)
from storage.outbox import STALE_CLAIM

log = logging.getLogger(__name__)

LAST_UPDATE = "update"
INSTANCE_PREFIX = "instance:"
PRESENCE_EVERY = timedelta(seconds=30)
PRESENCE_FRESH = timedelta(seconds=90)  # three missed beats: that process is gone
OUTBOX_STUCK = timedelta(minutes=10)  # due this long and still pending: the dispatcher is stuck
INBOX_WAITING = timedelta(minutes=1)  # an update pending this long is not being handled
ANSWER_WITHIN = 2.0  # seconds the database has to answer the health check
STAFF_REFUSED_PREFIX = "staff_refused:"


async def beat(session: AsyncSession, name: str, *, now: datetime, **data: Any) -> None:
    """Upsert one heartbeat row (one statement, safe from several instances at once)."""
    stmt = INSERTS[dialect_of(session)](Heartbeat).values(name=name, at=now, data=data)
    stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={"at": now, "data": data})
    await session.exec(stmt)


async def forget_beat(session: AsyncSession, name: str) -> None:
    await session.exec(delete(Heartbeat).where(col(Heartbeat.name) == name))


async def note_staff_refusal(
    session: AsyncSession, *, chat_id: int, community_id: int, error: str, now: datetime
) -> None:
    """A staff group refused the bot (403). The first refusal's time is kept: "since when"."""
    stmt = INSERTS[dialect_of(session)](Heartbeat).values(
        name=f"{STAFF_REFUSED_PREFIX}{chat_id}",
        at=now,
        data={"community_id": community_id, "error": error},
    )
    await session.exec(stmt.on_conflict_do_nothing(index_elements=["name"]))


async def clear_staff_refusal(session: AsyncSession, *, chat_id: int) -> None:
    """A send to that group succeeded: it takes the bot again."""
    await forget_beat(session, f"{STAFF_REFUSED_PREFIX}{chat_id}")


async def live_instances(session: AsyncSession, *, now: datetime) -> list[Heartbeat]:
    rows = await session.exec(
        select(Heartbeat)
        .where(
            col(Heartbeat.name).startswith(INSTANCE_PREFIX),
            col(Heartbeat.at) > now - PRESENCE_FRESH,
        )
        .order_by(col(Heartbeat.name))
    )
    return list(rows.all())


@dataclass
class HealthReport:
    status: str  # ok | degraded (see `reasons`)
    checked_at: datetime
    database: str  # reachable | unreachable
    reasons: list[str] = field(default_factory=list)  # one plain line each; empty when ok
    attention: list[str] = field(default_factory=list)  # for a person to look at; not degraded
    database_error: str | None = None
    revision: str | None = None
    last_update_at: datetime | None = None
    last_update_age_seconds: float | None = None
    inbox_waiting: int = 0
    inbox_oldest_waiting_age_seconds: float | None = None
    inbox_failed: int = 0
    outbox_pending: int = 0
    outbox_oldest_due_at: datetime | None = None
    outbox_oldest_due_age_seconds: float | None = None
    outbox_overdue: int = 0
    outbox_stale_claims: int = 0
    outbox_failed_last_day: int = 0
    staff_groups_refusing: int = 0
    instances: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in asdict(self).items()
        }


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else round((now - then).total_seconds(), 1)


def how_long(seconds: float) -> str:
    """A duration as an operator reads it: 45 s, 4 min, 3 h, 2 days."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


# How this process's update fetcher is doing (the bot): a reason when it does not run, None
# when it does. Without one (the CLI) the instances' presence rows say it.
UpdatesCheck = Callable[[], str | None]

# Health checks given up on while the database hung: kept until they end, so that they are not
# collected mid-flight and their outcome is read (asyncio logs an exception never read).
_ABANDONED: set[asyncio.Task[Any]] = set()


# A write the bot makes takes milliseconds: a write lock held this long blocks its updates.
WRITE_WITHIN = 1.0


async def health_report(
    db: Database,
    *,
    now: datetime,
    updates: UpdatesCheck | None = None,
    answer_within: float = ANSWER_WITHIN,
) -> HealthReport:
    """Never raises for a database problem, and answers within about `answer_within` seconds even
    when the database hangs: an unreachable database is a report, not an error."""
    task = asyncio.ensure_future(_read(db, now=now, updates=updates))
    done, _pending = await asyncio.wait({task}, timeout=answer_within)
    if done:
        return task.result()
    task.cancel()
    _ABANDONED.add(task)
    task.add_done_callback(_forget_abandoned)
    log.warning("health check: the database did not answer within %g s", answer_within)
    return _unreachable(now, f"did not answer within {answer_within:g} s", own_updates=updates)


def _forget_abandoned(task: asyncio.Task[Any]) -> None:
    _ABANDONED.discard(task)
    if not task.cancelled():
        task.exception()  # read: it was logged as a timeout already


def _unreachable(now: datetime, error: str, *, own_updates: UpdatesCheck | None) -> HealthReport:
    reasons = [f"database: {error}"]
    problem = own_updates() if own_updates is not None else None
    if problem is not None:
        reasons.insert(0, f"updates: {problem}")
    return HealthReport(
        status="degraded",
        checked_at=now,
        database="unreachable",
        database_error=error,
        reasons=reasons,
    )


async def _read(db: Database, *, now: datetime, updates: UpdatesCheck | None) -> HealthReport:
    try:
        revision = await migrate.current_revision(db)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("health check: database unreachable: %s", type(exc).__name__)
        return _unreachable(now, f"unreachable ({type(exc).__name__})", own_updates=updates)
    try:
        async with db.session() as session:
            facts = await _facts(session, now=now)
    except OSError as exc:  # it went away between the two reads
        log.warning("health check: database unreachable: %s", type(exc).__name__)
        return _unreachable(now, f"unreachable ({type(exc).__name__})", own_updates=updates)
    except SQLAlchemyError as exc:  # reachable, but not (yet) the schema this code expects
        log.warning("health check: cannot read the notebook: %s", type(exc).__name__)
        problem = f"schema at {revision or 'no revision'}: run `python -m bot db upgrade`"
        return HealthReport(
            status="degraded",
            checked_at=now,
            database="reachable",
            database_error=problem,
            reasons=[f"database: {problem}"],
            revision=revision,
        )
    report = HealthReport(status="ok", checked_at=now, database="reachable", revision=revision)
    facts.fill(report, now=now, updates=updates)
    if not await db.writable(within=WRITE_WITHIN):
        report.reasons.append(
            f"database: writes have been blocked for more than {WRITE_WITHIN:g} s "
            "(another process holds SQLite's write lock)"
        )
    report.status = "degraded" if report.reasons else "ok"
    return report


@dataclass
class _Facts:
    last: Heartbeat | None
    inbox_waiting: int
    inbox_oldest: datetime | None
    inbox_failed: int
    inbox_failed_oldest: datetime | None
    pending: int
    oldest_due: datetime | None
    overdue: int
    overdue_oldest: datetime | None
    stale_claims: int
    stale_oldest: datetime | None
    failed_last_day: int
    refusals: list[tuple[Heartbeat, Community]]
    instances: list[Heartbeat]

    def fill(self, report: HealthReport, *, now: datetime, updates: UpdatesCheck | None) -> None:
        reasons = report.reasons
        if updates is not None:  # the bot, about itself
            problem = updates()
            if problem is not None:
                reasons.append(f"updates: {problem}")
        elif not self.instances:  # the CLI: what the running instances said last
            reasons.append(
                "updates: no bot instance has been seen for "
                f"{how_long(PRESENCE_FRESH.total_seconds())}: is the bot running?"
            )
        else:
            for instance in self.instances:
                problem = instance.data.get("updates_problem")
                if problem:
                    name = instance.name.removeprefix(INSTANCE_PREFIX)
                    reasons.append(f"updates: instance {name}: {problem}")
        if self.inbox_waiting:
            reasons.append(
                f"inbox: {_plural(self.inbox_waiting, 'update', 'updates')} waiting for more "
                f"than a minute (oldest {how_long(_seconds(now, self.inbox_oldest))})"
            )
        if self.overdue:
            reasons.append(
                f"outbox: {_plural(self.overdue, 'message', 'messages')} overdue by more than "
                f"{how_long(OUTBOX_STUCK.total_seconds())} (oldest due "
                f"{how_long(_seconds(now, self.overdue_oldest))} ago)"
            )
        if self.stale_claims:
            reasons.append(
                f"outbox: {_plural(self.stale_claims, 'message', 'messages')} taken for sending "
                f"and not finished for more than {how_long(STALE_CLAIM.total_seconds())} "
                f"(oldest taken {how_long(_seconds(now, self.stale_oldest))} "
                "ago)"
            )
        for refusal, community in self.refusals:
            reasons.append(
                f"staff group: the staff group of {community.name} refuses the bot since "
                f"{refusal.at:%Y-%m-%d %H:%M} UTC ({refusal.data.get('error', '403')}); "
                "add the bot to the group again"
            )
        if self.inbox_failed:
            report.attention.append(
                f"inbox: {_plural(self.inbox_failed, 'update', 'updates')} given up after "
                "repeated failures, kept for a person to look at (oldest received "
                f"{self.inbox_failed_oldest or now:%Y-%m-%d %H:%M} UTC)"
            )
        report.last_update_at = self.last.at if self.last else None
        report.last_update_age_seconds = _age(now, report.last_update_at)
        report.inbox_waiting = self.inbox_waiting
        report.inbox_oldest_waiting_age_seconds = _age(now, self.inbox_oldest)
        report.inbox_failed = self.inbox_failed
        report.outbox_pending = self.pending
        report.outbox_oldest_due_at = self.oldest_due
        report.outbox_oldest_due_age_seconds = _age(now, self.oldest_due)
        report.outbox_overdue = self.overdue
        report.outbox_stale_claims = self.stale_claims
        report.outbox_failed_last_day = self.failed_last_day
        report.staff_groups_refusing = len(self.refusals)
        report.instances = [
            {"name": i.name.removeprefix(INSTANCE_PREFIX), "seen_at": i.at.isoformat(), **i.data}
            for i in self.instances
        ]


def _seconds(now: datetime, then: datetime | None) -> float:
    return 0.0 if then is None else (now - then).total_seconds()


async def _count_and_oldest(
    session: AsyncSession, oldest_of: Any, *where: Any
) -> tuple[int, datetime | None]:
    """How many rows match, and the earliest `oldest_of` among them (None: no row)."""
    query = select(func.count(), func.min(oldest_of)).where(*where)
    count, oldest = (await session.exec(query)).one()
    return count, oldest


async def _facts(session: AsyncSession, *, now: datetime) -> _Facts:
    last = await session.get(Heartbeat, LAST_UPDATE)
    inbox_waiting, inbox_oldest = await _count_and_oldest(
        session,
        InboxUpdate.received_at,
        col(InboxUpdate.status) == InboxStatus.PENDING,
        col(InboxUpdate.received_at) < now - INBOX_WAITING,
    )
    inbox_failed, inbox_failed_oldest = await _count_and_oldest(
        session, InboxUpdate.received_at, col(InboxUpdate.status) == InboxStatus.FAILED
    )
    pending, oldest_due = await _count_and_oldest(
        session,
        Outbox.due_at,
        col(Outbox.status).in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
    )
    overdue, overdue_oldest = await _count_and_oldest(
        session,
        Outbox.due_at,
        col(Outbox.status) == OutboxStatus.PENDING,
        col(Outbox.due_at) < now - OUTBOX_STUCK,
    )
    stale_claims, stale_oldest = await _count_and_oldest(
        session,
        Outbox.claimed_at,
        col(Outbox.status) == OutboxStatus.SENDING,
        col(Outbox.claimed_at) < now - STALE_CLAIM,
    )
    failed = (
        await session.exec(
            select(func.count()).where(
                col(Outbox.status) == OutboxStatus.FAILED,
                col(Outbox.created_at) > now - timedelta(days=1),
            )
        )
    ).one()
    refusals: list[tuple[Heartbeat, Community]] = []
    for row in (
        await session.exec(
            select(Heartbeat)
            .where(col(Heartbeat.name).startswith(STAFF_REFUSED_PREFIX))
            .order_by(col(Heartbeat.at))
        )
    ).all():
        community = await session.get(Community, row.data.get("community_id"))
        chat_id = int(row.name.removeprefix(STAFF_REFUSED_PREFIX))
        if community is not None and community.staff_chat_id == chat_id:  # still its group
            refusals.append((row, community))
    return _Facts(
        last=last,
        inbox_waiting=int(inbox_waiting),
        inbox_oldest=inbox_oldest,
        inbox_failed=int(inbox_failed),
        inbox_failed_oldest=inbox_failed_oldest,
        pending=int(pending),
        oldest_due=oldest_due,
        overdue=int(overdue),
        overdue_oldest=overdue_oldest,
        stale_claims=int(stale_claims),
        stale_oldest=stale_oldest,
        failed_last_day=int(failed),
        refusals=refusals,
        instances=await live_instances(session, now=now),
    )


@dataclass
class Queues:
    """What the metrics page reports of the inbox and the outbox (bot/health.py: /metrics)."""

    inbox_pending: int
    inbox_oldest_age: float | None  # seconds; None: nothing pending
    outbox_queued: dict[str, int]  # kind -> messages waiting or being sent


async def queues(session: AsyncSession, *, now: datetime) -> Queues:
    pending, oldest = await _count_and_oldest(
        session, InboxUpdate.received_at, col(InboxUpdate.status) == InboxStatus.PENDING
    )
    rows = (
        await session.exec(
            select(Outbox.kind, func.count())
            .where(col(Outbox.status).in_([OutboxStatus.PENDING, OutboxStatus.SENDING]))
            .group_by(col(Outbox.kind))
        )
    ).all()
    return Queues(
        inbox_pending=int(pending),
        inbox_oldest_age=_age(now, oldest),
        outbox_queued={str(kind): int(count) for kind, count in rows},
    )


async def read_queues(
    db: Database, *, now: datetime, within: float = ANSWER_WITHIN
) -> Queues | None:
    """`queues` in a session of its own; None when the database fails or does not answer
    within `within` seconds (the query is left to finish or fail on its own, as above)."""

    async def read() -> Queues:
        async with db.session() as session:
            return await queues(session, now=now)

    task = asyncio.ensure_future(read())
    done, _pending = await asyncio.wait({task}, timeout=within)
    if not done:
        task.cancel()
        _ABANDONED.add(task)
        task.add_done_callback(_forget_abandoned)
        log.warning("metrics: the database did not answer within %g s", within)
        return None
    try:
        return task.result()
    except (SQLAlchemyError, OSError) as exc:
        log.warning("metrics: the database failed: %s", type(exc).__name__)
        return None
