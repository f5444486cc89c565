"""SQLite on the event loop's own thread, waiting for locks without blocking the loop.

aiosqlite runs every call (execute, fetch, close the cursor…) on a worker thread and hands the
result back through the loop: four or five thread hops and GIL hand-overs per statement. On a
small server that hand-over, not SQLite, is most of the cost of a query (on the 2-core machine of
bench/load.py's figures: about 1 ms per ORM statement threaded, a third of that inline). The
notebook's queries touch a few rows by primary key or index, which SQLite answers in
microseconds, so they run inline instead.

What a thread gave for free, waiting for a lock, is done here without blocking: the connection
has no busy timeout, and a statement SQLite refuses with "database is locked" is retried once
the writer holding the lock lets go, while the loop runs on. A writer of this process wakes the
waiters when its transaction ends; a writer in another process cannot, so the waiters also look
again after a pause that grows from 1 ms to 50 ms. After `lock_timeout` seconds the error is
raised, as SQLite's own busy timeout would.

SQLAlchemy's aiosqlite dialect drives this class exactly like an `aiosqlite.Connection`
(storage/db.py passes it as the engine's `async_creator`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import aiosqlite

BUSY_MESSAGES = ("database is locked", "database table is locked")
FIRST_PAUSE, LONGEST_PAUSE = 0.001, 0.05


def _is_busy(error: sqlite3.OperationalError) -> bool:
    return str(error).startswith(BUSY_MESSAGES)


class _LockReleases:
    """Waiters for the end of some transaction on a database file, woken when one ends."""

    def __init__(self) -> None:
        self.waiting: dict[str, set[asyncio.Future[None]]] = {}

    async def wait(self, path: str, at_most: float) -> None:
        future = asyncio.get_running_loop().create_future()
        waiting = self.waiting.setdefault(path, set())
        waiting.add(future)
        try:
            await asyncio.wait({future}, timeout=at_most)
        finally:
            waiting.discard(future)

    def released(self, path: str) -> None:
        for future in self.waiting.get(path, ()):
            if not future.done():
                future.set_result(None)


_releases = _LockReleases()


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class InlineConnection(aiosqlite.Connection):
    """An `aiosqlite.Connection` whose calls run on the caller's thread (no worker thread)."""

    def __init__(
        self, connector: Callable[[], sqlite3.Connection], *, path: str, lock_timeout: float
    ) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self.path = path
        self.lock_timeout = lock_timeout

    def __await__(self) -> Any:
        return self._open().__await__()

    async def _open(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._connection is None:
            raise ValueError("Connection closed")
        connection = self._connection
        give_up = None
        pause = FIRST_PAUSE
        while True:
            writing = connection.in_transaction
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as error:
                if not _is_busy(error):
                    raise
                now = time.monotonic()
                give_up = give_up if give_up is not None else now + self.lock_timeout
                if now >= give_up:
                    raise
                await _releases.wait(self.path, pause)  # the writer holding the lock lets go
                pause = min(pause * 2, LONGEST_PAUSE)
            finally:
                if writing and not connection.in_transaction:  # committed or rolled back
                    _releases.released(self.path)

    async def run(self, sql: str, parameters: Sequence[Any]) -> int:
        """Execute one statement on the connection itself (storage/fast/direct.py); the number of
        rows it changed."""
        return int(await self._execute(_run, self._live(), sql, parameters, False))

    async def fetch(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        """Execute one query on the connection itself (storage/fast/direct.py); all its rows."""
        rows: list[Any] = await self._execute(_run, self._live(), sql, parameters, True)
        return rows

    def _live(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("Connection closed")
        return self._connection

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            writing = self._connection.in_transaction
            self._connection.close()
            self._connection = None
            if writing and _loop_running():  # not from the garbage collector's thread
                _releases.released(self.path)

    def __del__(self) -> None:
        self.stop()


def _run(
    connection: sqlite3.Connection, sql: str, parameters: Sequence[Any], fetch: bool
) -> int | list[Any]:
    cursor = connection.execute(sql, parameters)
    try:
        return cursor.fetchall() if fetch else cursor.rowcount
    finally:
        cursor.close()


async def connect(path: str, *, lock_timeout: float) -> InlineConnection:
    """Open `path` the way SQLAlchemy's pysqlite dialect would, with no busy timeout of its own
    (waiting for a lock is `InlineConnection._execute`'s job)."""
    connector = partial(
        sqlite3.connect,
        path,
        timeout=0,
        check_same_thread=False,  # the pool may close it from the garbage collector's thread
        detect_types=0,
    )
    return await InlineConnection(connector, path=path, lock_timeout=lock_timeout)
