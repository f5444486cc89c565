"""The outbox queues once per dedupe key, hands each due row to exactly one dispatcher, counts
only the requests really made, and forgets finished rows after their retention period."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import select

from storage import issues as rules
from storage import outbox
from storage.db import Database
from storage.followups import follow_up
from storage.models import FollowUpResult, Outbox, OutboxStatus, Role, Satisfaction
from tests.factories import FakeClock, make_community, make_issue, make_member


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
        # claimed, not yet attempted: an attempt is a request made to Telegram
        assert all(r.status == OutboxStatus.SENDING and r.attempts == 0 for r in first)
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
        assert again[0].attempts == 0  # taking a row again is no attempt either
        assert await outbox.cancel(session, key_prefixes=["test:1", "test:2"]) == 2
        # the row claimed at +6 min is not stale yet at +10 min; the others were cancelled
        assert await outbox.claim_due(session, now=clock() + timedelta(minutes=10)) == []


async def _attempts(db: Database) -> dict[str, tuple[str, int]]:
    async with db.session() as session:
        rows = (await session.exec(select(Outbox))).all()
    return {r.dedupe_key: (r.status, r.attempts) for r in rows}


async def test_only_a_request_made_counts_as_an_attempt(db: Database, clock: FakeClock) -> None:
    await _queue(db, clock, 1)
    later = clock() + timedelta(minutes=1)
    async with db.session() as session:  # quiet hours, a batch given back, a 429: no request
        [row] = await outbox.claim_due(session, now=clock())
        await outbox.postpone(session, row, at=later, reason="quiet hours")
    assert await _attempts(db) == {"test:0": (OutboxStatus.PENDING, 0)}
    async with db.session() as session:  # a request that failed on the network: one
        [row] = await outbox.claim_due(session, now=later)
        await outbox.retry_later(session, row, at=later, error="Bad Gateway")
    assert await _attempts(db) == {"test:0": (OutboxStatus.PENDING, 1)}
    async with db.session() as session:  # and the one Telegram took: two
        [row] = await outbox.claim_due(session, now=later)
        await outbox.mark_sent(session, row, now=later)
    assert await _attempts(db) == {"test:0": (OutboxStatus.SENT, 2)}


async def test_finished_rows_are_forgotten_after_their_retention_but_not_about_open_issues(
    db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    async with db.session() as session:
        xu = await make_member(session, community, name="老许", telegram_user_id=7)
        wang = await make_member(session, community, Role.WORKER, name="王网格")
        still_open = await make_issue(session, community, xu, clock, "楼道灯坏了")
        closed = await make_issue(session, community, xu, clock, "楼上太吵")
        await rules.claim(session, closed, actor_id=wang.id, now=clock())
        await rules.resolve(session, closed, note="已协调", actor_id=wang.id, now=clock())
        await follow_up(
            session,
            closed,
            result=FollowUpResult.SOLVED,
            satisfaction=Satisfaction.BASIC,
            comment=None,
            actor_id=xu.id,
            now=clock(),
        )
        queued = {
            "sent": {},
            "cancelled": {},
            "failed": {},
            "open": {"issue_id": still_open.id},  # its key keeps a reminder from coming twice
            "closed": {"issue_id": closed.id},
            "waiting": {},
        }
        for key, payload in queued.items():
            await outbox.enqueue(
                session,
                chat_id=7,
                kind="test",
                dedupe_key=key,
                due_at=clock(),
                payload=payload,
                now=clock(),
            )
    async with db.session() as session:
        rows = {r.dedupe_key: r for r in await outbox.claim_due(session, now=clock())}
        for key in ("sent", "open", "closed"):
            await outbox.mark_sent(session, rows[key], now=clock())
        await outbox.mark_done(
            session, rows["cancelled"], status=OutboxStatus.CANCELLED, now=clock()
        )
        await outbox.mark_failed(session, rows["failed"], error="400 Bad Request")
        await outbox.postpone(session, rows["waiting"], at=clock() + timedelta(days=90), reason="")

    async def prune(days: int) -> set[str]:
        now = clock() + timedelta(days=days)
        async with db.session() as session:
            await outbox.prune(
                session,
                sent_before=now - timedelta(days=30),
                failed_before=now - timedelta(days=365),
            )
            return {r.dedupe_key for r in (await session.exec(select(Outbox))).all()}

    everything = set(queued)
    assert await prune(days=29) == everything
    assert await prune(days=31) == {"failed", "open", "waiting"}  # pending rows are never pruned
    assert await prune(days=366) == {"open", "waiting"}  # failed: a year, for a person to look


async def test_a_refused_step_in_a_savepoint_drops_what_it_queued_and_keeps_the_rest(
    db: Database, clock: FakeClock
) -> None:
    """A handler's refused step runs in a savepoint (`session.begin_nested()`): what it queued
    is not sent, what the update queued before it is (storage/sessions.py)."""
    from storage.sessions import OUTBOX_QUEUED

    async with db.session() as session:
        session.info[outbox.SENDS_AFTER_COMMIT] = True
        for key in ("before", "inside"):
            try:
                async with session.begin_nested():
                    await outbox.enqueue(
                        session,
                        chat_id=1,
                        kind="note",
                        dedupe_key=key,
                        due_at=clock(),
                        payload={},
                        now=clock(),
                    )
                    if key == "inside":
                        raise ValueError("the domain refused the step")
            except ValueError:
                pass
        kept = [row.dedupe_key for row in session.info[OUTBOX_QUEUED]]
    assert kept == ["before"]
    async with db.session() as session:
        stored = [row.dedupe_key for row in (await session.exec(select(Outbox))).all()]
    assert stored == ["before"]
