"""Engines and sessions. The only module that builds an engine.

SQLite (the embedded default) gets WAL and foreign keys on every connection; its queries run on
the event loop's thread and wait for locks without blocking it (storage/fast/sqlite_inline.py). A
transaction that stores updates in the inbox commits with synchronous=FULL, every other with
NORMAL (see "Durability on SQLite" below). No engine's errors carry statement parameters.
PostgreSQL runs through asyncpg; `schema` puts every table in one schema (the tests give each test
its own, so no two tests share a database).
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.crypto import PhoneCipher, attach_cipher, cipher_of
from storage.fast import sqlite_inline
from storage.fast.direct import DirectSession
from storage.fast.notes import (  # noqa: F401 - where the rest of storage/ takes them from
    BULK_CHANGED,
    KEEPS_OBJECTS,
    dialect_of,
    note_bulk_change,
)
from storage.files import private_database
from storage.models import (
    InboxUpdate,
)
from storage.sessions import NotebookSession

log = logging.getLogger(__name__)

SQLITE_LOCK_TIMEOUT = 10.0  # seconds a write waits for another writer to commit
# Each database's INSERT, the one with ON CONFLICT: statements built once per database use it.
INSERTS: dict[str, Any] = {"postgresql": pg_insert, "sqlite": sqlite_insert}
# The session class and all its listeners: storage/sessions.py.


def _sqlite_pragmas(wal_autocheckpoint: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA wal_autocheckpoint={int(wal_autocheckpoint)}")
        cursor.close()

    return on_connect


# Durability on SQLite. In WAL mode with synchronous=NORMAL a commit is atomic and consistent
# but is synced to disk only at the next checkpoint: a power cut (not a crash of the process)
# can take back the last transactions. That is acceptable for the notebook's own changes, which
# the inbox can replay, but not for the inbox's commit of an update (delivery/inbox.py): once it
# returns, Telegram is told we have the update (the next getUpdates' offset, the webhook's 200)
# and never sends it again. So a transaction that stores updates in the inbox commits with
# synchronous=FULL (the write-ahead log synced before the commit returns); the rest keep NORMAL,
# saving a sync per update. The log is written in order, so what a power cut keeps is
# everything up to some commit: every update Telegram was told about is among it.
#
# SQLite refuses to change the level inside a transaction, and the inbox's INSERT is the first
# write of its transaction (which is what begins it: the sqlite3 module begins on the first
# write), so the level is raised right before that INSERT runs and set back to NORMAL when the
# connection is next taken from the pool.
_INBOX_INSERT = f"INSERT INTO {InboxUpdate.__tablename__} "
_SYNCED = "synchronous_full"  # in a connection's info: its level is FULL now


def _sync_inbox_commits(
    conn: Any, _cursor: Any, statement: str, _parameters: Any, _context: Any, _many: bool
) -> None:
    if not statement.startswith(_INBOX_INSERT) or conn.info.get(_SYNCED):
        return
    if conn.connection.driver_connection.in_transaction:
        log.error("the inbox is written in a transaction begun earlier: its commit is not synced")
        return
    _set_synchronous(conn.connection.dbapi_connection, "FULL")
    conn.info[_SYNCED] = True


def _normal_again(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    if record.info.pop(_SYNCED, False):
        _set_synchronous(dbapi_connection, "NORMAL")


def _set_synchronous(dbapi_connection: Any, level: str) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA synchronous={level}")
    cursor.close()


# SQLite's default: a commit that finds this many pages in the write-ahead log copies them into
# the database file (and syncs it) before it returns.
WAL_AUTOCHECKPOINT = 1000
# With checkpoints in the background (`Database.checkpoint`, run by the bot every second), a
# commit does that only if the background has fallen far behind.
WAL_AUTOCHECKPOINT_BACKSTOP = 20_000


def _checkpoint(path: str) -> tuple[int, int, int]:
    """A PASSIVE checkpoint on a connection of its own: copies what it can of the write-ahead
    log into the database file, waiting for no reader or writer."""
    connection = sqlite3.connect(path, timeout=0)
    try:
        busy, logged, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(busy), int(logged), int(copied)
    finally:
        connection.close()


def _can_write(path: str, within: float) -> bool:
    """Take SQLite's write lock and let it go at once (BEGIN IMMEDIATE, ROLLBACK)."""
    connection = sqlite3.connect(path, timeout=within, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        connection.close()


def _reader_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """A reading connection waits for a writer rather than fail (WAL lets it read meanwhile)."""
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_LOCK_TIMEOUT * 1000)}")
    cursor.close()


def _commit_and_close(session: OrmSession) -> None:
    session.commit()
    session.close()


def create_engine(
    url: str, *, schema: str | None = None, wal_autocheckpoint: int = WAL_AUTOCHECKPOINT
) -> AsyncEngine:
    """The engine for `url`. Its errors never carry a statement's parameters
    (`hide_parameters`): those are residents' texts, names and phone numbers, and an error
    ends up in the log."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ":memory:"
        if path != ":memory:":
            private_database(Path(path))  # residents' data: 0600, whatever the umask

        async def connect() -> sqlite_inline.InlineConnection:
            return await sqlite_inline.connect(path, lock_timeout=SQLITE_LOCK_TIMEOUT)

        engine = create_async_engine(url, async_creator=connect, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(wal_autocheckpoint))
        event.listen(engine.sync_engine, "before_cursor_execute", _sync_inbox_commits)
        event.listen(engine.sync_engine, "checkout", _normal_again)
        return engine
    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["server_settings"] = {"search_path": schema}
    engine = create_async_engine(
        url, connect_args=connect_args, pool_pre_ping=True, hide_parameters=True
    )
    event.listen(engine.sync_engine, "handle_error", _hide_quoted_value)
    return engine


# asyncpg quotes the start of a parameter it could not encode (a Python value of the wrong type
# for its column, a bug) in its own error message, where hide_parameters does not reach.
_QUOTED_VALUE = re.compile(r"(invalid input for query argument \$\d+): [^\n]*")


def _hide_quoted_value(context: Any) -> None:
    error = context.original_exception
    for quoting in (error, error.__cause__, context.sqlalchemy_exception):
        if quoting is not None and quoting.args and isinstance(quoting.args[0], str):
            hidden = _QUOTED_VALUE.sub(r"\1: (value hidden)", quoting.args[0])
            quoting.args = (hidden, *quoting.args[1:])


class Database:
    """An engine and its session factory; `session()` is the one way code gets a session."""

    def __init__(
        self, url: str, *, schema: str | None = None, background_checkpoints: bool = False
    ) -> None:
        """`background_checkpoints`: the bot's database, whose commits leave the write-ahead
        log to `checkpoint` (SQLite only), so that no update waits while a commit copies it
        into the database file."""
        self.url = url
        self.schema = schema
        autocheckpoint = (
            WAL_AUTOCHECKPOINT_BACKSTOP if background_checkpoints else WAL_AUTOCHECKPOINT
        )
        self.engine = create_engine(url, schema=schema, wal_autocheckpoint=autocheckpoint)
        self.sessions = async_sessionmaker(
            self.engine,
            class_=DirectSession,
            sync_session_class=NotebookSession,
            expire_on_commit=False,
        )
        self._reader: AsyncEngine | None = None

    def set_phone_key(self, keys: str | None) -> None:
        """Encrypt and decrypt `Person.phone` with these keys (see storage/crypto.py)."""
        attach_cipher(self.engine.sync_engine, PhoneCipher(keys) if keys else None)
        if self._reader is not None:
            attach_cipher(self._reader.sync_engine, cipher_of(self.engine.sync_engine.dialect))

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for a heavy read (the digest, the notebook page, the exports, the search
        for a resident): what is committed, read without holding up anyone else. On SQLite its
        queries run on aiosqlite's worker thread, not on the event loop's thread as every
        update's do (storage/fast/sqlite_inline.py), so every chat goes on meanwhile. It writes
        nothing: its transaction ends without a commit. On PostgreSQL, a session like any
        other."""
        engine = self._reading_engine()
        session = DirectSession(engine, sync_session_class=NotebookSession, expire_on_commit=False)
        try:
            yield session
        finally:  # closing ends the transaction; what was read stays loaded for the caller
            await asyncio.shield(asyncio.ensure_future(session.close()))

    def _reading_engine(self) -> AsyncEngine:
        path = self.sqlite_path
        if path is None:  # PostgreSQL, whose driver never blocks the loop (or SQLite in memory)
            return self.engine
        if self._reader is None:
            self._reader = create_async_engine(f"sqlite+aiosqlite:///{path}", hide_parameters=True)
            event.listen(self._reader.sync_engine, "connect", _reader_pragmas)
            attach_cipher(self._reader.sync_engine, cipher_of(self.engine.sync_engine.dialect))
        return self._reader

    @property
    def phone_cipher(self) -> PhoneCipher | None:
        return cipher_of(self.engine.sync_engine.dialect)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def sqlite_path(self) -> str | None:
        """The SQLite database file, or None (PostgreSQL, or SQLite in memory)."""
        path = self.engine.url.database if self.is_sqlite else None
        return path if path and path != ":memory:" else None

    async def checkpoint(self) -> tuple[int, int, int] | None:
        """Copy the write-ahead log into the SQLite file on a worker thread, while the bot's
        commits go on (PASSIVE: it waits for no one). (busy, frames in the log, frames copied),
        or None when there is no SQLite file."""
        path = self.sqlite_path
        return await asyncio.to_thread(_checkpoint, path) if path is not None else None

    async def writable(self, *, within: float) -> bool:
        """Whether a write could begin within `within` seconds: on SQLite, False while another
        connection holds the write lock that long (another process, a stuck transaction).
        Asked on a connection of its own, on a worker thread. PostgreSQL: True (its writers
        do not lock each other out)."""
        path = self.sqlite_path
        return await asyncio.to_thread(_can_write, path, within) if path is not None else True

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: committed when the block ends normally, rolled back otherwise.
        Commit and close run in one trip to SQLAlchemy's worker greenlet (every update and
        every message sent opens a session); on an error the close is shielded from
        cancellation, as `async with AsyncSession()` does, so the connection always returns."""
        session = self.sessions()
        try:
            yield session
            await session.run_sync(_commit_and_close)
        except BaseException:
            try:
                await session.rollback()
            finally:
                await asyncio.shield(asyncio.ensure_future(session.close()))
            raise

    async def dispose(self) -> None:
        if self._reader is not None:
            await self._reader.dispose()
        await self.engine.dispose()
