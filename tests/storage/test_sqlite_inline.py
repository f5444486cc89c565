"""SQLite runs on the loop's thread (storage/fast/sqlite_inline.py): a writer that finds the
database locked waits without stopping the bot, then writes; after the timeout it gives up
clearly."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from storage.db import Database
from storage.fast import sqlite_inline
from storage.models import Person


@pytest.fixture
def sqlite_db(db: Database) -> Database:
    if not db.is_sqlite:
        pytest.skip("the inline SQLite connection only")
    return db


async def test_a_blocked_writer_waits_while_the_loop_runs_on(sqlite_db: Database) -> None:
    holder_wrote, loop_ran = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with sqlite_db.session() as session:
            session.add(Person(telegram_user_id=1, full_name="first"))
            await session.flush()  # the write lock is taken and held until commit
            holder_wrote.set()
            await loop_ran.wait()  # the waiting writer must not stop the loop

    async def waiter() -> None:
        await holder_wrote.wait()
        async with sqlite_db.session() as session:
            session.add(Person(telegram_user_id=2, full_name="second"))
            await session.flush()  # locked: retried until the holder commits

    async def heartbeat() -> None:
        await holder_wrote.wait()
        await asyncio.sleep(0)  # one turn of the loop after the waiter started waiting
        await asyncio.sleep(0)
        loop_ran.set()

    await asyncio.wait_for(asyncio.gather(holder(), waiter(), heartbeat()), timeout=10)
    async with sqlite_db.session() as session:
        names = sorted(p.full_name for p in (await session.exec(select(Person))).all())
    assert names == ["first", "second"]


async def test_a_writer_gives_up_after_the_timeout(tmp_path: Path) -> None:
    path = str(tmp_path / "locked.db")
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (x INTEGER)")
    setup.commit()
    setup.execute("BEGIN IMMEDIATE")  # another process holding the write lock, never letting go
    conn = await sqlite_inline.connect(path, lock_timeout=0.05)
    try:
        began = datetime.now(UTC)
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            await conn.execute("INSERT INTO t VALUES (1)")
        assert (datetime.now(UTC) - began).total_seconds() >= 0.05
    finally:
        await conn.close()
        setup.rollback()
        setup.close()


async def test_a_closed_connection_says_so(tmp_path: Path) -> None:
    conn = await sqlite_inline.connect(str(tmp_path / "closed.db"), lock_timeout=1)
    await conn.close()
    with pytest.raises(ValueError, match="connection"):
        await conn.execute("SELECT 1")
