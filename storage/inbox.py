"""Durable intake: an update is a row here before Telegram hears that we have it.

Polling advances the offset, and a webhook answers 200, only after `store` committed. The
application marks the row done when the update has been processed; rows still pending after a
crash are replayed, in update order, at the next start.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import INSERTS, dialect_of
from storage.direct import Direct
from storage.models import InboxStatus, InboxUpdate

INBOX = InboxUpdate.metadata.tables["inbox_update"]
# Every update ends with it: built once, and run on SQLite's connection directly
# (storage/direct.py).
_FINISH = Direct(
    update(INBOX)
    .where(INBOX.c.update_id == bindparam("id"))
    .values(
        status=bindparam("new_status"), processed_at=bindparam("at"), answers=bindparam("answers")
    )
)
# The answers of these updates went out (bot/answers.py): nothing is owed any more.
_PAID = (
    update(INBOX)
    .where(INBOX.c.update_id.in_(bindparam("ids", expanding=True)))
    .values(answers=None)
)
# INSERT … ON CONFLICT DO NOTHING RETURNING, per database, its values given as parameters (values
# written into the statement would make it a new statement to compile every time). The Core
# table, not the ORM's bulk insert: RETURNING as the database says.
_INSERT_NEW = {
    dialect: insert(INBOX)
    .on_conflict_do_nothing(index_elements=["update_id"])
    .returning(INBOX.c.update_id)
    for dialect, insert in INSERTS.items()
}


async def store(
    session: AsyncSession, *, update_id: int, payload: dict[str, Any], now: datetime
) -> bool:
    """Keep an update; False when it was stored before (Telegram sent it again)."""
    return update_id in await store_batch(session, [(update_id, payload)], now=now)


async def store_batch(
    session: AsyncSession, updates: list[tuple[int, dict[str, Any]]], *, now: datetime
) -> set[int]:
    """Keep a batch of updates in one statement; the ids that are new to us.

    Polling hands updates over in batches (getUpdates), so they are kept the same way: one
    insert for the batch, and a look at the stored rows only for ids we had before.
    """
    if not updates:
        return set()
    rows = [
        dict(update_id=uid, payload=payload, status=InboxStatus.PENDING, received_at=now)
        for uid, payload in updates
    ]
    fresh = set((await session.exec(_INSERT_NEW[dialect_of(session)], params=rows)).scalars().all())
    for uid, payload in updates:
        if uid not in fresh and await _renumbered(session, uid, payload, now):
            fresh.add(uid)
    return fresh


async def _renumbered(
    session: AsyncSession, update_id: int, payload: dict[str, Any], now: datetime
) -> bool:
    """An id we stored before, carrying a different update: Telegram may start numbering afresh
    after a quiet week, and then the new update replaces the old record (True)."""
    existing = await session.get(InboxUpdate, update_id)
    if existing is None or _meaningful(existing.payload) == _meaningful(payload):
        return False
    existing.payload = payload
    existing.status = InboxStatus.PENDING
    existing.received_at, existing.processed_at = now, None
    session.add(existing)
    await session.flush()
    return True


def _meaningful(value: Any) -> Any:
    """An update's content without the empty and false fields, so the same update compares
    equal whether stored as Telegram sent it or as python-telegram-bot writes it back (which
    adds `"group_chat_created": false` and the like)."""
    if isinstance(value, dict):
        return {
            k: _meaningful(v)
            for k, v in value.items()
            if not (v is None or v is False or v == [] or v == {})
        }
    if isinstance(value, list):
        return [_meaningful(v) for v in value]
    return value


async def finish(
    session: AsyncSession,
    *,
    update_id: int,
    now: datetime,
    failed: bool = False,
    answers: list[dict[str, Any]] | None = None,
) -> None:
    """The update is handled; `answers`: the Bot API calls it makes after this commits,
    owed until `paid` (a crash in between leaves them for `owed` at the next start)."""
    status = InboxStatus.FAILED if failed else InboxStatus.DONE
    await _FINISH.execute(
        session, {"id": update_id, "new_status": status, "at": now, "answers": answers or None}
    )


async def paid(session: AsyncSession, update_ids: list[int]) -> None:
    """These updates' answers have gone out."""
    if update_ids:
        await session.exec(_PAID, params={"ids": update_ids})


async def owed(session: AsyncSession, *, limit: int = 10_000) -> list[tuple[int, list[Any]]]:
    """Handled updates whose answers may not have gone out (the process died), oldest first."""
    rows = await session.exec(
        select(InboxUpdate.update_id, InboxUpdate.answers)
        .where(col(InboxUpdate.answers).is_not(None))
        .order_by(col(InboxUpdate.update_id))
        .limit(limit)
    )
    return [(uid, list(answers or [])) for uid, answers in rows.all()]


async def pending(
    session: AsyncSession, *, received_before: datetime, limit: int = 10_000
) -> list[InboxUpdate]:
    """Updates stored but never processed (the process died), oldest first."""
    rows = await session.exec(
        select(InboxUpdate)
        .where(
            InboxUpdate.status == InboxStatus.PENDING,
            col(InboxUpdate.received_at) <= received_before,
        )
        .order_by(col(InboxUpdate.update_id))
        .limit(limit)
    )
    return list(rows.all())


async def prune(session: AsyncSession, *, processed_before: datetime) -> int:
    """Forget processed updates after a while; failed ones stay for a person to look at."""
    result = await session.exec(
        delete(InboxUpdate).where(
            col(InboxUpdate.status) == InboxStatus.DONE,
            col(InboxUpdate.processed_at) < processed_before,
        )
    )
    return int(result.rowcount)


REPLAY_GRACE_WEBHOOK = timedelta(minutes=2)
