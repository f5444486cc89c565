"""Backups of an SQLite notebook, and putting one back.

Both directions use SQLite's online backup API (`sqlite3.Connection.backup`), never a file
copy: it reads one consistent snapshot while the bot keeps writing (WAL readers do not block
writers), and writing *into* the live database through SQLite keeps its WAL and shared-memory
files coherent, where replacing the file under them could corrupt it.

A restore checks first that the file is an intact SQLite notebook at a migration revision this
code knows, refuses while a bot instance is running (its heartbeat is fresh; see
storage/health.py), and keeps the current database aside before replacing it.

PostgreSQL is backed up with pg_dump / pg_restore (docs/operations.md, "Backups and restore");
these functions are for SQLite only. Plain synchronous functions: the CLI calls them directly,
the daily job in a thread.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.files import private_database, private_file

SQLITE_HEADER = b"SQLite format 3\x00"
BACKUP_NAME = re.compile(r"^notebook-\d{8}-\d{6}\.db$")
NOTEBOOK_TABLES = ("alembic_version", "community", "person", "issue", "issue_event", "outbox")


class BackupError(Exception):
    """A backup or restore that must not go ahead; the message is one line for the operator."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    size: int
    revision: str
    issues: int
    events: int
    people: int

    def summary(self) -> str:
        return (
            f"{self.path} ({self.size:,} bytes, revision {self.revision}): "
            f"{self.issues} issues, {self.events} events, {self.people} people"
        )


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(path, timeout=30)) as conn:
        conn.execute("PRAGMA busy_timeout=30000")
        yield conn


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%d-%H%M%S")


def _describe(conn: sqlite3.Connection, path: Path) -> BackupInfo:
    def count(table: str) -> int:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return BackupInfo(
        path=path,
        size=path.stat().st_size,
        revision=str(revision[0]) if revision else "",
        issues=count("issue"),
        events=count("issue_event"),
        people=count("person"),
    )


def inspect_backup(path: Path, *, known_revisions: set[str]) -> BackupInfo:
    """Check that `path` is an intact notebook at a revision this code knows."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    with path.open("rb") as fh:
        if fh.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise BackupError(f"{path}: not an SQLite database")
    try:
        with _connect(path) as conn:
            check = conn.execute("PRAGMA integrity_check").fetchone()
            if not check or check[0] != "ok":
                raise BackupError(f"{path}: damaged ({check[0] if check else 'no answer'})")
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            missing = [t for t in NOTEBOOK_TABLES if t not in tables]
            if missing:
                raise BackupError(f"{path}: not a notebook (no table {missing[0]})")
            info = _describe(conn, path)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: cannot be read as SQLite ({exc})") from exc
    if info.revision not in known_revisions:
        raise BackupError(
            f"{path}: at migration revision {info.revision or '(none)'}, which this version of "
            "the bot does not know (made by a newer version?)"
        )
    return info


def backup_sqlite(database: Path, target: Path, *, now: datetime) -> BackupInfo:
    """Copy the live database to `target` (a file, or a directory to put a dated file in).

    Written to a `.part` file first and renamed when complete, so a crash never leaves
    something that looks like a finished backup."""
    if not database.is_file():
        raise BackupError(f"{database}: no database there")
    if target.is_dir():
        target = target / f"notebook-{_stamp(now)}.db"
    if target.exists():
        raise BackupError(f"{target}: exists already; choose another name")
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    part.unlink(missing_ok=True)
    private_file(part)  # a backup holds what the database holds: 0600, whatever the umask
    try:
        with _connect(database) as source, _connect(part) as copy:
            source.backup(copy)  # one step: a single consistent snapshot
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            check = copy.execute("PRAGMA integrity_check").fetchone()
            if not check or check[0] != "ok":
                raise BackupError(f"{part}: the copy failed its integrity check")
        with part.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    with _connect(target) as conn:
        return _describe(conn, target)


def prune_backups(directory: Path, *, keep: int) -> list[Path]:
    """Delete all but the newest `keep` dated backups in `directory` (only files this module
    named; anything else there is left alone)."""
    dated = sorted(p for p in directory.iterdir() if BACKUP_NAME.match(p.name))
    doomed = dated[:-keep] if keep > 0 else dated
    for path in doomed:
        path.unlink()
    return doomed


def daily_backup(
    database: Path, directory: Path, *, keep: int, now: datetime
) -> tuple[BackupInfo, list[Path]]:
    directory.mkdir(parents=True, exist_ok=True)
    info = backup_sqlite(database, directory, now=now)
    return info, prune_backups(directory, keep=keep)


def running_instances(database: Path, *, now: datetime, fresh: timedelta) -> list[str]:
    """Bot instances whose presence heartbeat in `database` is younger than `fresh`."""
    if not database.is_file():
        return []
    with _connect(database) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        if "heartbeat" not in tables:
            return []
        rows = conn.execute(
            "SELECT name, at FROM heartbeat WHERE name LIKE 'instance:%'"
        ).fetchall()
    running = []
    for name, at in rows:
        seen = datetime.fromisoformat(str(at))
        seen = seen if seen.tzinfo else seen.replace(tzinfo=UTC)
        if now - seen < fresh:
            running.append(str(name).removeprefix("instance:"))
    return running


@dataclass(frozen=True)
class Restored:
    restored: BackupInfo
    previous: Path | None  # where the database that was replaced now lies


def restore_sqlite(
    backup: Path,
    database: Path,
    *,
    now: datetime,
    known_revisions: set[str],
    fresh: timedelta,
) -> Restored:
    """Put `backup` in place of `database`, after the checks described in the module doc."""
    inspect_backup(backup, known_revisions=known_revisions)
    running = running_instances(database, now=now, fresh=fresh)
    if running:
        raise BackupError(
            f"the bot is running ({', '.join(running)}); stop every instance first, then restore"
        )
    previous = None
    if database.is_file():
        previous = database.with_name(f"{database.name}.before-restore-{_stamp(now)}")
        backup_sqlite(database, previous, now=now)
    private_database(database)
    with _connect(backup) as source, _connect(database) as live:
        source.backup(live)
        live.execute("PRAGMA journal_mode=WAL")  # what the bot uses (storage/db.py)
    with _connect(database) as conn:
        return Restored(restored=_describe(conn, database), previous=previous)
