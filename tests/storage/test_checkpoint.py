"""The bot's SQLite commits leave the write-ahead log to a checkpoint on a worker thread
(storage/db.py: `Database.checkpoint`, run every second by bot/operations.py), so no update waits
while a commit copies the log into the database file; after a checkpoint the file alone holds
every committed row."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select

from storage import migrate
from storage.db import Database
from storage.models import InboxUpdate

AT = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


async def _write_five_megabytes(db: Database) -> None:
    async with db.session() as session:  # well past SQLite's 1,000-page automatic checkpoint
        for n in range(1_300):
            session.add(InboxUpdate(update_id=n, payload={"text": "x" * 4_000}, received_at=AT))


def _rows_in_file_alone(path: Path, tmp_path: Path) -> int:
    alone = tmp_path / "alone.db"
    shutil.copyfile(path, alone)  # the database file without its write-ahead log
    connection = sqlite3.connect(alone)
    try:
        return int(connection.execute("SELECT count(*) FROM inbox_update").fetchone()[0])
    finally:
        connection.close()


async def test_commits_leave_the_log_to_the_background_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = Database(f"sqlite+aiosqlite:///{path}", background_checkpoints=True)
    try:
        await migrate.upgrade(db)
        await db.checkpoint()
        await _write_five_megabytes(db)
        assert _rows_in_file_alone(path, tmp_path) == 0  # still only in the log

        busy, logged, copied = await db.checkpoint() or (1, 0, 0)
        assert busy == 0 and logged >= 1_000 and copied == logged
        assert _rows_in_file_alone(path, tmp_path) == 1_300
        async with db.session() as session:
            count = (await session.exec(select(func.count()).select_from(InboxUpdate))).one()
        assert count == 1_300
    finally:
        await db.dispose()


async def test_other_connections_still_checkpoint_as_they_commit(tmp_path: Path) -> None:
    path = tmp_path / "cli.db"
    db = Database(f"sqlite+aiosqlite:///{path}")  # a command-line tool's: no background job
    try:
        await migrate.upgrade(db)
        await _write_five_megabytes(db)
        assert _rows_in_file_alone(path, tmp_path) == 1_300
    finally:
        await db.dispose()


async def test_there_is_nothing_to_checkpoint_without_a_sqlite_file() -> None:
    db = Database("sqlite+aiosqlite:///:memory:", background_checkpoints=True)
    try:
        assert await db.checkpoint() is None
    finally:
        await db.dispose()
