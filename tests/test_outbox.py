"""The outbox queues once per dedupe key and hands each due row to exactly one dispatcher."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import select

from storage import outbox
from storage.db import Database
from storage.models import Outbox, OutboxStatus
from tests.factories import FakeClock


async def _queue(db: Database, clock: FakeClock, n: int, **kw: object) -> None:
    async with db.session() as session:
        for i in range(n):
            await outbox.enqueue(
                session,
                chat_id=1000 + i,
                kind="test",
                dedupe_key=f"test:{i}",
                due_at=clock() + timedelta(minutes=i % 3),
                payload={"i": i},
                now=clock(),
                **kw,  # type: ignore[arg-type]
            )


async def test_a_dedupe_key_is_queued_once(db: Database, clock: FakeClock) -> None:
    await _queue(db, clock, 3)
    async with db.session() as session:
        again = await outbox.enqueue(
            session,
            chat_id=1,
            kind="test",
            dedupe_key="test:1",
            due_at=clock(),
            payload={},
            now=clock(),
        )
        assert again is False
        assert len((await session.exec(select(Outbox))).all()) == 3


async def test_only_due_rows_are_claimed_in_order(db: Database, clock: FakeClock) -> None:
    await _queue(db, clock, 6)
    async with db.session() as session:
        first = await outbox.claim_due(session, now=clock())
        assert [r.payload["i"] for r in first] == [0, 3]
        assert all(r.status == OutboxStatus.SENDING and r.attempts == 1 for r in first)
    async with db.session() as session:
        assert await outbox.claim_due(session, now=clock()) == []  # already claimed
        later = await outbox.claim_due(session, now=clock() + timedelta(minutes=2))
        assert sorted(r.payload["i"] for r in later) == [1, 2, 4, 5]


async def test_concurrent_dispatchers_never_share_a_row(db: Database, clock: FakeClock) -> None:
    await _queue(db, clock, 60)
    when = clock() + timedelta(minutes=5)

    async def dispatcher() -> list[int]:
        taken: list[int] = []
        while True:
            async with db.session() as session:
                rows = await outbox.claim_due(session, now=when, limit=7)
                for row in rows:
                    await outbox.mark_sent(session, row, now=when)
            if not rows:
                return taken
            taken.extend(r.id for r in rows if r.id is not None)

    a, b, c = await asyncio.gather(dispatcher(), dispatcher(), dispatcher())
    together = a + b + c
    assert len(together) == 60
    assert len(set(together)) == 60


async def test_a_stale_claim_is_taken_again_and_cancel_stops_pending(
    db: Database, clock: FakeClock
) -> None:
    await _queue(db, clock, 3)
    async with db.session() as session:
        [row] = await outbox.claim_due(session, now=clock(), limit=1)
    async with db.session() as session:  # its dispatcher died; six minutes later…
        again = await outbox.claim_due(session, now=clock() + timedelta(minutes=6), limit=1)
        assert [r.id for r in again] == [row.id]
        assert again[0].attempts == 2
        assert await outbox.cancel(session, key_prefixes=["test:1", "test:2"]) == 2
        # the row claimed at +6 min is not stale yet at +10 min; the others were cancelled
        assert await outbox.claim_due(session, now=clock() + timedelta(minutes=10)) == []
