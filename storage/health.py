"""How the notebook is doing, from the database alone, so every instance and the CLI agree.

- `Heartbeat` rows: `update` is the time the last update was processed (written by any instance,
  at most every few seconds); `instance:…` rows are each running bot process's presence,
  refreshed every `PRESENCE_EVERY` and deleted at a clean stop. `restore` refuses while any
  instance was seen within `PRESENCE_FRESH`.
- `health_report(db, now)` is what the HTTP health endpoint serves and `python -m bot status`
  prints: database reachable, age of the last processed update, the outbox backlog.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, delete, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import migrate
from storage.db import INSERTS, Database, dialect_of
from storage.models import Heartbeat, Outbox, OutboxStatus

log = logging.getLogger(__name__)

LAST_UPDATE = "update"
INSTANCE_PREFIX = "instance:"
PRESENCE_EVERY = timedelta(seconds=30)
PRESENCE_FRESH = timedelta(seconds=90)  # three missed beats: that process is gone
OUTBOX_STUCK = timedelta(minutes=10)  # due this long and still pending: the dispatcher is stuck


async def beat(session: AsyncSession, name: str, *, now: datetime, **data: Any) -> None:
    """Upsert one heartbeat row (one statement, safe from several instances at once)."""
    stmt = INSERTS[dialect_of(session)](Heartbeat).values(name=name, at=now, data=data)
    stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={"at": now, "data": data})
    await session.exec(stmt)


async def forget_beat(session: AsyncSession, name: str) -> None:
    await session.exec(delete(Heartbeat).where(col(Heartbeat.name) == name))


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
    status: str  # ok | degraded (the outbox is stuck) | down (no database)
    checked_at: datetime
    database: str  # reachable | unreachable
    database_error: str | None = None
    revision: str | None = None
    last_update_at: datetime | None = None
    last_update_age_seconds: float | None = None
    outbox_pending: int = 0
    outbox_oldest_due_at: datetime | None = None
    outbox_oldest_due_age_seconds: float | None = None
    outbox_failed_last_day: int = 0
    instances: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in asdict(self).items()
        }


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else round((now - then).total_seconds(), 1)


async def health_report(db: Database, *, now: datetime) -> HealthReport:
    """Never raises for a database problem: an unreachable database is a report, not an error."""
    try:
        revision = await migrate.current_revision(db)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("health check: database unreachable: %s", type(exc).__name__)
        return HealthReport(
            status="down",
            checked_at=now,
            database="unreachable",
            database_error=type(exc).__name__,
        )
    try:
        async with db.session() as session:
            last = await session.get(Heartbeat, LAST_UPDATE)
            pending, oldest = (
                await session.exec(
                    select(func.count(), func.min(Outbox.due_at)).where(
                        col(Outbox.status).in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
                    )
                )
            ).one()
            failed = (
                await session.exec(
                    select(func.count()).where(
                        col(Outbox.status) == OutboxStatus.FAILED,
                        col(Outbox.created_at) > now - timedelta(days=1),
                    )
                )
            ).one()
            instances = await live_instances(session, now=now)
    except SQLAlchemyError as exc:  # reachable, but not (yet) the schema this code expects
        log.warning("health check: cannot read the notebook: %s", type(exc).__name__)
        return HealthReport(
            status="degraded",
            checked_at=now,
            database="reachable",
            database_error=f"schema at {revision or 'no revision'}: run `python -m bot db upgrade`",
            revision=revision,
        )
    oldest_due: datetime | None = oldest
    stuck = oldest_due is not None and now - oldest_due > OUTBOX_STUCK
    return HealthReport(
        status="degraded" if stuck else "ok",
        checked_at=now,
        database="reachable",
        revision=revision,
        last_update_at=last.at if last else None,
        last_update_age_seconds=_age(now, last.at if last else None),
        outbox_pending=int(pending),
        outbox_oldest_due_at=oldest_due,
        outbox_oldest_due_age_seconds=_age(now, oldest_due),
        outbox_failed_last_day=int(failed),
        instances=[
            {"name": i.name.removeprefix(INSTANCE_PREFIX), "seen_at": i.at.isoformat(), **i.data}
            for i in instances
        ],
    )
