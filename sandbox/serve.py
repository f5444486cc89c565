"""`python -m bot sandbox`: run the sandbox until Ctrl+C (or SIGTERM), printing one line with
the page's address."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
from pathlib import Path

from runtime.settings import Settings
from sandbox import SandboxError
from sandbox.clock import SandboxClock
from sandbox.runtime import running_sandbox
from sandbox.web import start_web
from storage.db import Database
from storage.files import SQLITE_COMPANIONS, private_database

DEFAULT_DATABASE = Path("data") / "sandbox.db"


# The sandbox marks the SQLite database it makes with its own application id (a field of the
# file's header meant for this: https://www.sqlite.org/fileformat.html#application_id), so it
# knows its own file and no other: the notebook's database, or any other file, never has it.
SANDBOX_APPLICATION_ID = 0x534E4442  # "SNDB"
_HEADER = b"SQLite format 3\x00"


def made_by_sandbox(path: Path) -> bool:
    """Whether `path` is an SQLite database the sandbox made (its header carries the mark)."""
    try:
        with path.open("rb") as fh:
            header = fh.read(72)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return False
    return header.startswith(_HEADER) and int.from_bytes(header[68:72]) == SANDBOX_APPLICATION_ID


def claim_database(path: Path, *, fresh: bool) -> None:
    """Make `path` the sandbox's own database. An existing file is deleted first (`fresh`) or
    kept, but only if the sandbox made it; any other file is refused and left as it is."""
    if path.exists() and not made_by_sandbox(path):
        raise SandboxError(
            f"{path} was not made by the sandbox, so the sandbox neither uses nor deletes it; "
            "choose another file with --database (or move that one away)"
        )
    if fresh and path.exists():
        for suffix in ("", *SQLITE_COMPANIONS):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    if not path.exists():
        private_database(path)
        with contextlib.closing(sqlite3.connect(path)) as connection:
            connection.execute(f"PRAGMA application_id = {SANDBOX_APPLICATION_ID}")
            connection.commit()


def check_database_path(settings: Settings, database: Path) -> None:
    """The sandbox recreates its file at each start: it must never be the real notebook."""
    real = settings.sqlite_path
    if real is not None and real.resolve() == database.resolve():
        raise SandboxError(
            f"the sandbox database {database} is the notebook's own DATABASE_URL; "
            "choose another file with --database"
        )


async def serve(settings: Settings, *, port: int, keep: bool, database: Path, banner: str) -> None:
    """Start everything, print `banner` (formatted with the page's `url`), run until told to
    stop. A fresh demo each time unless `keep`."""
    check_database_path(settings, database)
    claim_database(database, fresh=not keep)
    db = Database(f"sqlite+aiosqlite:///{database}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl+C raises instead
            loop.add_signal_handler(signum, stop.set)
    try:
        async with running_sandbox(db=db, clock=SandboxClock(), fresh=not keep) as sandbox:
            try:
                runner, url = await start_web(sandbox, port=port)
            except OSError as exc:
                raise SandboxError(
                    f"cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}); "
                    "choose another port with SANDBOX_PORT or --port"
                ) from None
            print(banner.format(url=url), flush=True)
            try:
                await stop.wait()
            finally:
                sandbox.stopping.set()
                sandbox.emulator.signal.fire()  # end the pages' event streams first
                await runner.cleanup()
    finally:
        await db.dispose()
