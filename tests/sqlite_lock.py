"""Another process holding SQLite's write lock, as a backup tool, a person in the sqlite3 shell
or a second bot started by mistake would: `BEGIN IMMEDIATE` on the same file, held until the
test says release (or the test goes away: the holder reads its stdin to the end).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

# Runs in the child: take the lock, say so on stdout, keep it until a line (or EOF) on stdin.
_HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
db.close()
print("released", flush=True)
"""


@asynccontextmanager
async def write_lock_held(path: Path) -> AsyncIterator[None]:
    """Hold the write lock of the SQLite database at `path` while the block runs. Entering
    returns once the lock is taken (the holder waits its turn behind a writer in progress)."""
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _HOLDER,
        str(path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        line = await asyncio.wait_for(holder.stdout.readline(), timeout=60)
        if line.strip() != b"locked":
            raise RuntimeError(f"the lock holder did not take the lock: {line!r}")
        yield
        holder.stdin.write(b"release\n")
        await holder.stdin.drain()
        line = await asyncio.wait_for(holder.stdout.readline(), timeout=60)
        if line.strip() != b"released":
            raise RuntimeError(f"the lock holder did not commit: {line!r}")
    finally:
        if holder.returncode is None:
            holder.kill()
        await holder.wait()
