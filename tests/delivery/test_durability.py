"""The inbox's commit is durable before Telegram is told we have an update (storage/db.py).

A power cut cannot be simulated here; what can be checked is what makes the commit survive
one: on SQLite the commit that stores updates runs with synchronous=FULL (read back inside that
very commit), later transactions on the same connection go back to NORMAL, and on PostgreSQL
synchronous_commit is on. A process killed (SIGKILL) right after the commit returned, with no
chance to close or checkpoint anything, leaves the update stored.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from telegram import Update

from delivery.inbox import DurableUpdateQueue
from storage import inbox
from storage.db import Database
from tests.factories import FakeClock

REPO = Path(__file__).resolve().parents[2]


def _message(update_id: int, text: str = "The lift is stuck") -> dict[str, Any]:
    user = {"id": 501, "is_bot": False, "first_name": "Lao Xu"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": user,
            "chat": {"id": 501, "type": "private", "first_name": "Lao Xu"},
            "date": 1_793_000_000,
            "text": text,
        },
    }


@contextmanager
def _level_at_each_commit(db: Database) -> Iterator[list[str]]:
    """The durability level in force on the connection as each transaction commits:
    SQLite's `synchronous` (0 off, 1 normal, 2 full) or PostgreSQL's `synchronous_commit`."""
    seen: list[str] = []
    query = "PRAGMA synchronous" if db.is_sqlite else "SHOW synchronous_commit"

    def read(conn: Any) -> None:
        cursor = conn.connection.dbapi_connection.cursor()
        cursor.execute(query)
        seen.append(str(cursor.fetchone()[0]))
        cursor.close()

    event.listen(db.engine.sync_engine, "commit", read)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "commit", read)


async def test_storing_updates_commits_durably_and_the_rest_as_before(
    db: Database, clock: FakeClock
) -> None:
    queue = DurableUpdateQueue(db, clock, owner="test")
    with _level_at_each_commit(db) as levels:
        await queue.store_batch([_message(1), _message(2)])  # polling: a getUpdates batch
        async with db.session() as session:  # the update handled: an ordinary commit
            await inbox.finish(session, update_id=1, now=clock())
        await queue.put(Update.de_json(_message(3), None))  # a webhook's update
        async with db.session() as session:
            await inbox.finish(session, update_id=3, now=clock())
    if db.is_sqlite:
        assert levels == ["2", "1", "2", "1"]  # FULL for the inbox, NORMAL otherwise
    else:
        assert levels == ["on"] * 4  # PostgreSQL's default, which docs/operations.md asks to keep


# Run in a process of its own: store an update as getUpdates' transport does, say so, and
# wait to be killed, holding the database open (no close, no checkpoint).
CHILD = """
import asyncio, sys
from datetime import UTC, datetime
from delivery.inbox import DurableUpdateQueue
from storage.db import Database
from tests.delivery.test_durability import _message

async def main():
    db = Database(sys.argv[1], schema=sys.argv[2] or None, background_checkpoints=True)
    queue = DurableUpdateQueue(
        db, lambda: datetime(2026, 11, 2, 1, 0, tzinfo=UTC), owner="test"
    )
    await queue.store_batch([_message(777)])
    print("stored", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_an_update_stored_survives_a_kill_right_after_the_commit(db: Database) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        db.url,
        db.schema or "",
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), timeout=120)
        assert line == b"stored\n"
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert child.returncode == -signal.SIGKILL
    async with db.session() as session:  # what the next start replays
        pending = await inbox.take_own(
            session, owner="test", now=datetime(2027, 1, 1, tzinfo=UTC), everything=True
        )
    assert [(row.update_id, row.payload["message"]["text"]) for row in pending] == [
        (777, "The lift is stuck")
    ]
