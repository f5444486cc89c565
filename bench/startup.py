"""Start-up time with 10,000 pending outbox rows, against an empty notebook (the baseline).

    .venv/bin/python -m bench.startup [--rows 10000] [--repeat 5]

Start-up is what `python -m bot` does before it answers: migrations, getMe, commands, the
scheduler, the first getUpdates. Pending outbox rows must not slow it: the dispatcher claims
them in batches afterwards. Both runs use a fresh SQLite file and the project's emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bot.app import build_application, on_startup
from emulator import BotApiEmulator
from storage import migrate, outbox
from storage.db import Database
from tests.factories import TOKEN, FakeClock, make_settings


async def _fill(db: Database, rows: int, clock: FakeClock) -> None:
    async with db.session() as session:
        for i in range(rows):
            await outbox.enqueue(
                session,
                chat_id=10_000 + i,
                kind="issue_event",
                dedupe_key=f"bench:{i}",
                due_at=clock() + timedelta(minutes=i % 600),
                payload={"issue_id": 0},
                now=clock(),
            )


async def _startup_seconds(emu: BotApiEmulator, url: str, clock: FakeClock) -> float:
    db = Database(url)
    app = build_application(make_settings(emu, url), db=db, clock=clock)
    began = time.perf_counter()
    await app.initialize()
    await on_startup(app)
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    elapsed = time.perf_counter() - began
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    await db.dispose()
    return elapsed


async def measure(rows: int, repeat: int) -> tuple[list[float], list[float]]:
    clock = FakeClock()
    baseline: list[float] = []
    loaded: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        empty_url = f"sqlite+aiosqlite:///{Path(tmp) / 'empty.db'}"
        full_url = f"sqlite+aiosqlite:///{Path(tmp) / 'full.db'}"
        for url, count in ((empty_url, 0), (full_url, rows)):
            db = Database(url)
            await migrate.upgrade(db)
            await _fill(db, count, clock)
            await db.dispose()
        async with BotApiEmulator(token=TOKEN, bot_username="bench_bot") as emu:
            for _ in range(repeat):  # alternate, so drift affects both alike
                baseline.append(await _startup_seconds(emu, empty_url, clock))
                loaded.append(await _startup_seconds(emu, full_url, clock))
    return baseline, loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    baseline, loaded = asyncio.run(measure(args.rows, args.repeat))
    b, full = statistics.median(baseline), statistics.median(loaded)
    runs = f"(median of {args.repeat})"
    print(f"start-up, empty notebook (baseline): {b * 1000:8.1f} ms {runs}")
    print(f"start-up, {args.rows:,} pending outbox rows: {full * 1000:8.1f} ms {runs}")
    print(f"ratio: {full / b:.2f}x the baseline")


if __name__ == "__main__":
    main()
