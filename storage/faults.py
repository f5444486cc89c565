"""Which failures are the database's (or the network's) and which are the update's own.

An update that fails because the database is down, locked by another process or unreachable is
not at fault: it is tried again until the database answers, and such failures do not count
towards giving up on it (storage/inbox.py: MAX_ATTEMPTS). Any other exception is a bug or bad
data in the update: counted, and after a few tries the update is marked failed.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import exc as sa_exc

try:  # asyncpg is there wherever PostgreSQL is used
    import asyncpg.exceptions as pg_exc

    _PG_FAULTS: tuple[type[BaseException], ...] = (
        pg_exc.PostgresConnectionError,
        pg_exc.InterfaceError,
        pg_exc.CannotConnectNowError,
        pg_exc.AdminShutdownError,
        pg_exc.CrashShutdownError,
        pg_exc.TooManyConnectionsError,
    )
except ImportError:  # pragma: no cover
    _PG_FAULTS = ()

_FAULTS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,  # locked, disk I/O, the server went away
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,  # no connection free in the pool
    sa_exc.DisconnectionError,
    sqlite3.OperationalError,
    ConnectionError,
    TimeoutError,
    OSError,
    *_PG_FAULTS,
)


def is_database_fault(error: BaseException) -> bool:
    """True when `error` (or what it wraps) says the database could not be reached or used."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _FAULTS):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False


def describe(error: BaseException) -> str:
    """A line naming the failure for the inbox row and the logs: the exception's type and the
    driver's, never its message (a statement's parameters, a resident's words)."""
    name = type(error).__name__
    original = getattr(error, "orig", None)
    if original is not None:
        code = getattr(original, "sqlstate", None) or getattr(original, "sqlite_errorname", None)
        name += f" ({type(original).__name__}{', ' + str(code) if code else ''})"
    return name
