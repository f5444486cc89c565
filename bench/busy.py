"""Residents' answers while the secretary asks for heavy reads: the p99 from a resident's update
to the bot's answer while the secretary asks, again and again, for the weekly digest and an XLSX
export of a month at the same time, against the same residents' p99 with no secretary (the
baseline, measured in the same run by the same bot process).

    .venv/bin/python -m bench.busy [--issues 100000] [--residents 40] [--seconds 10] [--rounds 3]

The notebook (`python -m bot`, SQLite) runs as its own process on the project's emulator, as in
bench/load.py, over the history bench/digest.py builds: `--issues` issues with ten events each
over two years that end on Monday 30 November 2026, filled once and copied for every round. The
residents report through the whole flow at a paced 50 updates/s (bench/load.py's `_paced`),
first with nobody else (quiet), then while the secretary sends `/digest 2026-11-23 2026-11-29`
(the week before that Monday: the message and its chart) and presses "Spreadsheet (Excel)" for
November (4,000 issues) together, waits for the message, the chart and the file, and asks again
until the residents' time is up. Both go through the real handlers, which read off the event
loop (`Database.reading()`).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlmodel import select

from bench.digest import Filler
from bench.load import PATIENCE, Latencies, _median, _paced, bot_process, report
from emulator import BotApiEmulator
from emulator.driver import UserDriver
from storage import migrate
from storage.db import Database
from storage.models import Community, Role
from storage.staff import bind_staff_group
from storage.types import utcnow
from tests.factories import TOKEN, make_member

RESIDENT_IDS = 2_000_000
SECRETARY_ID = 4_000_000
WEEK = "2026-11-23 2026-11-29"  # the week before bench/digest.py's slot, Monday 30 November
MONTH = "2026-11"


async def fill(path: Path, issues: int, residents: int) -> None:
    """bench/digest.py's community (plain inserts), then the people of this benchmark through
    the domain functions."""
    url = f"sqlite+aiosqlite:///{path}"
    db = Database(url)
    await migrate.upgrade(db)
    await db.dispose()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=OFF")  # a throwaway file while filling (bench/digest.py)
    conn.execute("PRAGMA synchronous=OFF")
    community_id = Filler(conn, random.Random(6)).community("大社区", issues, 10)
    conn.commit()
    conn.close()
    db = Database(url)
    async with db.session() as session:
        community = (
            await session.exec(select(Community).where(Community.id == community_id))
        ).one()
        # no building, as in bench/load.py: the report flow then offers no neighbours' issues
        # to back (two years of them here, and the other residents' reports)
        for i in range(residents):
            await make_member(session, community, name=f"R{i}", telegram_user_id=RESIDENT_IDS + i)
        await make_member(
            session, community, Role.SECRETARY, name="S", telegram_user_id=SECRETARY_ID
        )
    await db.dispose()


async def bind(path: Path, staff_group_id: int) -> None:
    """Make the emulator's group the community's staff group (the residents' cards go there)."""
    db = Database(f"sqlite+aiosqlite:///{path}")
    async with db.session() as session:
        community = (await session.exec(select(Community))).one()
        await bind_staff_group(session, community=community, chat_id=staff_group_id, now=utcnow())
        # Binding queues a fresh card for every issue still open (7,000 of two years' history
        # here): a backlog the dispatcher would post during the measurement. Not this load.
        await session.exec(text("DELETE FROM outbox"))  # type: ignore[call-overload]
    await db.dispose()


class Secretary:
    """Asks for the week's digest and November's XLSX export at the same time, waits for the
    message, the chart and the file, and asks again until told to stop."""

    def __init__(self, user: UserDriver) -> None:
        self.user = user
        self.asked = 0
        self.seconds: list[float] = []

    async def prepare(self) -> None:
        await self.user.send(f"/export {MONTH}")
        self.choice = await self.user.expect_message(
            contains="which file would you like?", timeout=PATIENCE
        )

    async def _digest(self) -> None:
        await self.user.send(f"/digest {WEEK}")
        await self.user.expect_message(contains="Notebook:", timeout=PATIENCE)
        await self.user.expect_message(
            predicate=lambda m: m.media_type == "photo", timeout=PATIENCE
        )

    async def _export(self) -> None:
        await self.user.press(self.choice, "Spreadsheet (Excel)", timeout=PATIENCE)
        await self.user.expect_message(
            predicate=lambda m: m.media_type == "document", timeout=PATIENCE
        )

    async def ask_until(self, done: asyncio.Event) -> None:
        while not done.is_set():
            began = time.perf_counter()
            await asyncio.gather(self._digest(), self._export())
            self.seconds.append(time.perf_counter() - began)
            self.asked += 1


async def run(template: Path, residents: int, seconds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "busy.db"
        shutil.copyfile(template, path)
        async with BotApiEmulator(token=TOKEN, bot_username="bench_bot") as emu:
            users = [
                emu.user(first_name=f"R{i}", language_code="en", user_id=RESIDENT_IDS + i)
                for i in range(residents)
            ]
            secretary = Secretary(
                emu.user(first_name="S", language_code="en", user_id=SECRETARY_ID)
            )
            group = emu.group(title="staff")
            await bind(path, group.id)
            url = f"sqlite+aiosqlite:///{path}"
            async with bot_process(emu, url, "notebook", group.id, tmp):
                await report(users[0], "warm-up", Latencies())  # start-up is not load
                await secretary.prepare()
                quiet, busy = Latencies(), Latencies()
                await _paced(report, users, seconds, quiet)
                done = asyncio.Event()
                asking = asyncio.create_task(secretary.ask_until(done))
                await _paced(report, users, seconds, busy)
                done.set()
                await asking  # the last request's answers, so the bot stops idle
    return {
        "quiet_p50": quiet.percentile(0.50),
        "quiet_p99": quiet.percentile(0.99),
        "busy_p50": busy.percentile(0.50),
        "busy_p99": busy.percentile(0.99),
        "asked": secretary.asked,
        "heavy_s": _median(secretary.seconds),
    }


async def prepare_template(path: Path, issues: int, residents: int) -> None:
    began = time.perf_counter()
    await fill(path, issues, residents)
    print(f"filled in {time.perf_counter() - began:.1f} s: {issues:,} issues, ten events each")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=100_000)
    parser.add_argument("--residents", type=int, default=40)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ratios: list[float] = []
    busy_p99: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.db"
        asyncio.run(prepare_template(template, args.issues, args.residents))
        for round_ in range(1, args.rounds + 1):
            r = asyncio.run(run(template, args.residents, args.seconds))
            print(f"round {round_} of {args.rounds}")
            print(
                f"residents alone             p50 {r['quiet_p50']:7.1f} ms   "
                f"p99 {r['quiet_p99']:7.1f} ms at 50 updates/s"
            )
            print(
                f"while the secretary asks    p50 {r['busy_p50']:7.1f} ms   "
                f"p99 {r['busy_p99']:7.1f} ms at 50 updates/s"
            )
            print(
                f"{'':28}the digest and the XLSX asked {r['asked']:.0f} times, "
                f"both answered in {r['heavy_s'] * 1000:.0f} ms (median)"
            )
            busy_p99.append(r["busy_p99"])
            ratios.append(r["busy_p99"] / r["quiet_p99"])
            print(f"p99 ratio busy/alone: {ratios[-1]:.2f}", flush=True)
    print(
        f"residents' p99 while the secretary asks, median of {len(busy_p99)}: "
        f"{_median(busy_p99):.1f} ms ({' '.join(f'{p:.0f}' for p in busy_p99)}; target 250 ms); "
        f"{_median(ratios):.2f}x their p99 alone"
    )


if __name__ == "__main__":
    main()
