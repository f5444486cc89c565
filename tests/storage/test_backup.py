"""SQLite backups (storage/backup.py): consistent while the bot writes, restorable with every
issue and event, and a restore that refuses what it must. These use an SQLite file of their own
whatever TEST_DATABASE_URL says; PostgreSQL is backed up with pg_dump, and the recipe in
docs/operations.md is run against the test PostgreSQL at the end."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlmodel import col, select

from storage import health, migrate
from storage import issues as rules
from storage.backup import (
    BackupError,
    backup_sqlite,
    daily_backup,
    inspect_backup,
    restore_sqlite,
)
from storage.categories import TimeLimits
from storage.db import Database
from storage.models import Issue, IssueEvent, Role
from tests.factories import FakeClock, make_community, make_member

FRESH = health.PRESENCE_FRESH


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'live' / 'notebook.db'}")
    await migrate.upgrade(db)
    yield db  # type: ignore[misc]
    await db.dispose()


def _path(db: Database) -> Path:
    assert db.engine.url.database is not None
    return Path(db.engine.url.database)


async def _notebook(db: Database, clock: FakeClock, count: int = 3) -> None:
    community = await make_community(db, clock)
    async with db.session() as session:
        xu = await make_member(session, community, name="老许")
        wang = await make_member(session, community, Role.WORKER, name="王网格")
        for n in range(count):
            issue = await rules.create_issue(
                session,
                community_id=community.id,
                reporter_id=xu.id,
                category="facilities",
                description=f"第{n + 1}个问题",
                now=clock(),
                limits=TimeLimits(),
            )
            await rules.claim(session, issue, actor_id=wang.id, now=clock())
            await rules.add_progress(
                session, issue, text="已上门查看", public=True, actor_id=wang.id, now=clock()
            )


async def _contents(db: Database) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    async with db.session() as session:
        issues = (await session.exec(select(Issue).order_by(col(Issue.id)))).all()
        events = (await session.exec(select(IssueEvent).order_by(col(IssueEvent.id)))).all()
    return (
        [(i.id, i.number, i.description, i.status, i.owner_id) for i in issues],
        [(e.id, e.issue_id, e.kind, e.text, e.actor_id, e.at) for e in events],
    )


def _writer(
    database: Path, stop: threading.Event, tick: threading.Event, written: list[int]
) -> None:
    """Another connection writing while backups run: each transaction adds an issue AND its
    event, so a consistent copy always holds as many of one as of the other."""
    conn = sqlite3.connect(database, timeout=30)
    conn.execute("PRAGMA busy_timeout=30000")
    number = 1000
    try:
        while not stop.is_set():
            number += 1
            with conn:
                cursor = conn.execute(
                    "INSERT INTO issue (community_id, number, channel, category, description, "
                    "urgency, status, time_limit_hours, support_count, reopened_count, version, "
                    "created_at) VALUES (1, ?, 'telegram', 'noise', 'x', 'normal', 'new', 168, "
                    "0, 0, 1, '2026-11-02 01:00:00')",
                    (number,),
                )
                conn.execute(
                    "INSERT INTO issue_event (issue_id, at, kind, public, data) "
                    "VALUES (?, '2026-11-02 01:00:00', 'reported', 1, '{}')",
                    (cursor.lastrowid,),
                )
            written.append(number)
            tick.set()
    finally:
        conn.close()


async def test_a_backup_taken_while_another_connection_writes_is_consistent(
    sqlite_db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    await _notebook(sqlite_db, clock, count=1)
    await sqlite_db.dispose()  # the writer thread and the backups use connections of their own
    stop, tick, written = threading.Event(), threading.Event(), []
    writer = threading.Thread(target=_writer, args=(_path(sqlite_db), stop, tick, written))
    writer.start()
    try:
        copies = []
        for n in range(5):
            while len(written) < 20 * (n + 1):  # let the writer get ahead between copies
                await asyncio.to_thread(tick.wait)
                tick.clear()
            target = tmp_path / f"copy-{n}.db"
            copies.append(
                await asyncio.to_thread(backup_sqlite, _path(sqlite_db), target, now=clock())
            )
    finally:
        stop.set()
        writer.join()
    for copy in copies:
        with sqlite3.connect(copy.path) as conn:
            issues = conn.execute("SELECT count(*) FROM issue WHERE number > 1000").fetchone()[0]
            events = conn.execute(
                "SELECT count(*) FROM issue_event e JOIN issue i ON i.id = e.issue_id "
                "WHERE i.number > 1000"
            ).fetchone()[0]
            assert issues == events  # never an issue without its event, or the reverse
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copies[0].issues < copies[-1].issues  # the copies really raced the writer


async def test_restoring_a_backup_brings_back_every_issue_and_event(
    sqlite_db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    await _notebook(sqlite_db, clock)
    before = await _contents(sqlite_db)
    (tmp_path / "backups").mkdir()
    info = backup_sqlite(_path(sqlite_db), tmp_path / "backups", now=clock())
    assert info.path.name == "notebook-20261102-010000.db"
    assert (info.issues, info.events) == (3, 9) and info.revision in migrate.head_revisions()
    # life goes on: an issue is changed and a new one arrives
    async with sqlite_db.session() as session:
        first = (await session.exec(select(Issue).where(Issue.number == 1))).one()
        first.description = "改过的"
        await rules.create_issue(
            session,
            community_id=first.community_id,
            category="noise",
            description="新问题",
            now=clock(),
            limits=TimeLimits(),
        )
    after = await _contents(sqlite_db)
    assert after != before
    await sqlite_db.dispose()
    result = restore_sqlite(
        info.path,
        _path(sqlite_db),
        now=clock() + timedelta(hours=1),
        known_revisions=migrate.known_revisions(),
        fresh=FRESH,
    )
    assert await _contents(sqlite_db) == before  # every issue and every event, as they were
    assert result.previous is not None and result.previous.exists()
    kept = Database(f"sqlite+aiosqlite:///{result.previous}")
    try:
        assert await _contents(kept) == after  # the replaced database was kept aside
    finally:
        await kept.dispose()
    async with sqlite_db.engine.connect() as conn:  # and the bot can use it as before
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"


async def test_restore_refuses_files_that_are_not_a_notebook_it_knows(
    sqlite_db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    await _notebook(sqlite_db, clock)
    known = migrate.known_revisions()
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database")
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    future = backup_sqlite(_path(sqlite_db), tmp_path / "future.db", now=clock())
    with sqlite3.connect(future.path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'zz_from_the_future'")
    cases = [
        (tmp_path / "missing.db", "no such file"),
        (text_file, "not an SQLite database"),
        (foreign, "not a notebook (no table alembic_version)"),
        (future.path, "at migration revision zz_from_the_future, which this version"),
    ]
    for path, message in cases:
        with pytest.raises(BackupError) as err:
            inspect_backup(path, known_revisions=known)
        assert message in str(err.value)
        with pytest.raises(BackupError):
            restore_sqlite(path, _path(sqlite_db), now=clock(), known_revisions=known, fresh=FRESH)
    truncated = tmp_path / "truncated.db"
    good = backup_sqlite(_path(sqlite_db), tmp_path / "good.db", now=clock())
    truncated.write_bytes(good.path.read_bytes()[: good.size // 2])
    with pytest.raises(BackupError):
        inspect_backup(truncated, known_revisions=known)


async def test_restore_refuses_while_the_bot_runs(
    sqlite_db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    await _notebook(sqlite_db, clock)
    good = backup_sqlite(_path(sqlite_db), tmp_path / "good.db", now=clock())
    async with sqlite_db.session() as session:  # what a running instance writes every 30 s
        await health.beat(session, health.INSTANCE_PREFIX + "host:42:abc", now=clock())
    await sqlite_db.dispose()
    known = migrate.known_revisions()
    with pytest.raises(BackupError, match=r"the bot is running \(host:42:abc\); stop every"):
        restore_sqlite(good.path, _path(sqlite_db), now=clock(), known_revisions=known, fresh=FRESH)
    # an instance that died without saying so is not running once its heartbeat is stale
    later = clock() + FRESH + timedelta(seconds=1)
    restore_sqlite(good.path, _path(sqlite_db), now=later, known_revisions=known, fresh=FRESH)


async def test_daily_backups_keep_only_the_newest(
    sqlite_db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    await _notebook(sqlite_db, clock, count=1)
    folder = tmp_path / "daily"
    folder.mkdir()
    (folder / "my-notes.txt").write_text("not ours, never deleted")
    start = datetime(2026, 11, 1, 19, 30, tzinfo=UTC)
    for day in range(5):
        info, removed = daily_backup(
            _path(sqlite_db), folder, keep=3, now=start + timedelta(days=day)
        )
        assert info.issues == 1
        assert len(removed) == (1 if day >= 3 else 0)
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "my-notes.txt",
        "notebook-20261103-193000.db",
        "notebook-20261104-193000.db",
        "notebook-20261105-193000.db",
    ]
    with pytest.raises(BackupError, match="exists already"):
        backup_sqlite(_path(sqlite_db), folder / "notebook-20261105-193000.db", now=start)


async def _tool(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec(*args)
    assert await proc.wait() == 0, args


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL") or shutil.which("pg_dump") is None,
    reason="the pg_dump recipe needs TEST_DATABASE_URL and the PostgreSQL client tools",
)
async def test_the_documented_pg_dump_recipe_restores_every_issue_and_event(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    url = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)
    await _notebook(db, clock)
    before = await _contents(db)
    dump = tmp_path / "notebook.dump"
    # the commands in docs/operations.md, on this test's own database
    await _tool("pg_dump", "--format=custom", f"--file={dump}", url)
    async with db.session() as session:
        first = (await session.exec(select(Issue).where(Issue.number == 1))).one()
        first.description = "改过的"
    assert await _contents(db) != before
    await _tool(
        "pg_restore",
        "--clean",
        "--if-exists",
        "--no-owner",
        "-d",
        url,
        str(dump),
    )
    await db.dispose()
    assert await _contents(db) == before
