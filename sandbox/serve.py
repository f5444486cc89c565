"""`python -m bot sandbox`: run the sandbox until Ctrl+C (or SIGTERM), printing one line with
the page's address."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

from runtime.settings import Settings
from sandbox import SandboxError
from sandbox.clock import SandboxClock
from sandbox.runtime import running_sandbox
from sandbox.web import start_web
from storage.db import Database

DEFAULT_DATABASE = Path("data") / "sandbox.db"


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


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
    if not keep:
        _remove_database(database)
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
