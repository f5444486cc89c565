"""Load on the emulator: many residents report through the whole flow while workers claim the
cards, against two baselines measured in the same run (bench/echo_bot.py): a minimal echo bot,
and a bot making the notebook's Bot API calls with no database and no logic.

    .venv/bin/python -m bench.load [--residents 40] [--reports 5] [--issues 100000] [--rounds 3]

In each of `--rounds` rounds the bots run one after the other, the echo bot right before and
right after the notebook (its rate the mean of the two); the throughput ratio is reported per
round and as the median. Prints updates handled per second (closed loop: each
simulated person waits for the answer before the next step; the worker's presses count too) for
every bot and the notebook's ratio to each baseline, and each bot's CPU time per update;
p50/p99 latency from an update to the bot's answer at a paced 50 updates/s; and the notebook
process's peak RSS with `--issues` issues stored.
Every bot runs as its own process (`python -m bot`, `python -m bench.echo_bot`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from emulator import BotApiEmulator
from emulator.driver import GroupDriver, UserDriver
from emulator.models import BotMessage
from storage import migrate
from storage.communities import add_building, create_community
from storage.db import Database
from storage.models import Issue, IssueStatus, Role
from storage.staff import bind_staff_group
from tests.factories import PHONE_KEY, TOKEN, make_member

ROOT = Path(__file__).resolve().parent.parent
PATIENCE = 60.0


def _env(emu: BotApiEmulator, url: str, which: str, staff_chat_id: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=emu.base_url,
        DATABASE_URL=url,
        MAX_REPORTS_PER_HOUR="1000000",
        RATE_LIMIT_CHAT_PER_SECOND="1000",
        RATE_LIMIT_GROUP_PER_MINUTE="1000000",
        RATE_LIMIT_OVERALL_PER_SECOND="1000000",
        LOG_LEVEL="WARNING",
        PHONE_ENCRYPTION_KEY=PHONE_KEY,  # PostgreSQL refuses to start without one
        # No quiet hours: at night in the community's time zone the staff cards would wait for
        # the morning, and the workers' half of the load would not happen.
        QUIET_HOURS_START="00:00",
        QUIET_HOURS_END="00:00",
        BASELINE=which,  # bench/echo_bot.py: which baseline
    )
    if staff_chat_id is not None:
        env["STAFF_CHAT_ID"] = str(staff_chat_id)
    return env


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@asynccontextmanager
async def bot_process(
    emu: BotApiEmulator, url: str, which: str, staff_chat_id: int | None, cwd: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """The bot (`which`: notebook, echo or mirror) as its own process on the emulator, for as
    long as the block runs; stopped with SIGTERM, as systemd would. With `BENCH_PROFILE=file`
    the notebook runs under cProfile and leaves its statistics there; with `BENCH_LOG=file` its
    log (warnings and errors) is appended there."""
    module = ["-m", "bot"] if which == "notebook" else ["-m", "bench.echo_bot"]
    profile = os.environ.get("BENCH_PROFILE")  # a file for the notebook's cProfile statistics
    if profile and which == "notebook":
        module = ["-m", "cProfile", "-o", profile, *module]
    log = os.environ.get("BENCH_LOG")  # a file for the notebook's log
    stderr = Path(log).open("ab") if log and which == "notebook" else None  # noqa: SIM115, ASYNC230
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *module,
        env=_env(emu, url, which, staff_chat_id),
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=stderr or asyncio.subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
        if stderr is not None:
            stderr.close()


async def seed(url: str, residents: int, issues: int, staff_group_id: int) -> None:
    """A community with a building, a worker and residents, and `issues` old closed issues
    inserted in bulk (history the bot must carry, not part of the load)."""
    db = Database(url)
    await migrate.upgrade(db)
    now = datetime.now(UTC)
    async with db.session() as session:
        community = await create_community(
            session, name="Bench", timezone="Asia/Shanghai", default_locale="en", now=now
        )
        assert community.id is not None
        await add_building(session, community_id=community.id, name="1")
        await bind_staff_group(session, community=community, chat_id=staff_group_id, now=now)
        for i in range(residents):
            await make_member(session, community, name=f"R{i}", telegram_user_id=2_000_000 + i)
        await make_member(session, community, Role.WORKER, name="W", telegram_user_id=3_000_000)
        community.next_issue_number = issues + 1
        session.add(community)
    batch = 5_000
    for start in range(0, issues, batch):
        async with db.session() as session:
            rows = [
                dict(
                    community_id=community.id,
                    number=n + 1,
                    category="facilities",
                    description=f"old issue {n}",
                    channel="telegram",
                    urgency="normal",
                    status=IssueStatus.CLOSED,
                    time_limit_hours=168,
                    support_count=0,
                    reopened_count=0,
                    version=1,
                    created_at=now - timedelta(days=n % 700),
                    closed_at=now - timedelta(days=n % 700),
                )
                for n in range(start, min(start + batch, issues))
            ]
            await session.exec(insert(Issue).values(rows))
    await db.dispose()


class Latencies:
    def __init__(self) -> None:
        self.samples: list[float] = []

    async def time(self, step: Awaitable[object]) -> None:
        began = time.perf_counter()
        await step
        self.samples.append(time.perf_counter() - began)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def report(user: UserDriver, text: str, lat: Latencies) -> int:
    """The resident flow of the notebook: 5 updates (text and 4 presses)."""
    await lat.time(user.send(text))
    question = await user.expect_message(contains="What is the problem about?", timeout=PATIENCE)
    for button, then in (
        ("Public facilities", "photo"),
        ("No photo", "Is anyone in danger"),
        ("No", "Please check your report"),
        ("✅ Send", "Your issue is No."),
    ):
        await lat.time(user.press(question, button, timeout=PATIENCE))
        await user.expect_edit(question, contains=then, timeout=PATIENCE)
    return 5


async def mirror_round(user: UserDriver, text: str, lat: Latencies) -> int:
    """The mirror baseline's `report`: a message answered with a button, then 4 presses, each
    answered and the message edited (the fourth posts the card the worker claims)."""
    await lat.time(user.send(text))
    question = await user.expect_message(contains=text, timeout=PATIENCE)
    for step in range(1, 5):
        await lat.time(user.press(question, "Next", timeout=PATIENCE))
        await user.expect_edit(question, contains=f"step {step}", timeout=PATIENCE)
    return 5


async def echo_round(user: UserDriver, text: str, lat: Latencies) -> int:
    """The baseline's equivalent: a message and its echo, then 4 presses answered."""
    began = time.perf_counter()
    await user.send(text)
    reply = await user.expect_message(contains=text[:20], timeout=PATIENCE)
    lat.samples.append(time.perf_counter() - began)
    for _ in range(4):
        await lat.time(user.press_data(reply, "x", timeout=PATIENCE))
    return 5


class Workers:
    """Workers claim every card as it appears in the staff group (the staff side of the load,
    next to the residents'): each claim is a press answered and the card edited to name its
    owner, one more update handled."""

    def __init__(self, group: GroupDriver, worker: UserDriver, expected: int) -> None:
        self.group, self.worker = group, worker
        self.claimed = 0
        self.expected = expected
        self.all_claimed = asyncio.Event()
        self._claims: set[asyncio.Task[None]] = set()

    async def watch(self) -> None:
        while True:
            card = await self.group.expect_message(
                predicate=lambda m: m.button("Claim") is not None, timeout=PATIENCE
            )
            task = asyncio.create_task(self._claim(card))
            self._claims.add(task)
            task.add_done_callback(self._claims.discard)

    async def _claim(self, card: BotMessage) -> None:
        await self.group.press(self.worker, card, "Claim", timeout=PATIENCE)
        await self.group.expect_edit(card, contains="Owner: W", timeout=PATIENCE)
        self.claimed += 1
        if self.claimed >= self.expected:
            self.all_claimed.set()


async def run(
    which: str, residents: int, reports: int, issues: int, paced: int
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'load.db'}"
        async with BotApiEmulator(token=TOKEN, bot_username="bench_bot") as emu:
            users = [
                emu.user(first_name=f"R{i}", language_code="en", user_id=2_000_000 + i)
                for i in range(residents)
            ]
            worker = emu.user(first_name="W", language_code="en", user_id=3_000_000)
            group = emu.group(title="staff", members=[worker]) if which != "echo" else None
            if which == "notebook" and group is not None:
                await seed(url, residents, issues, group.id)
            flow = FLOWS[which]
            async with bot_process(emu, url, which, group.id if group else None, tmp) as proc:
                await flow(users[0], "warm-up: light broken", Latencies())  # start-up is not load
                closed = Latencies()
                # the warm-up's card and one per report, all claimed before the clock stops
                expected = 1 + residents * reports
                workers = Workers(group, worker, expected) if group is not None else None
                watcher = asyncio.create_task(workers.watch()) if workers else None
                began, cpu_began = time.perf_counter(), cpu_seconds(proc.pid)
                counts = await asyncio.gather(
                    *(_many(flow, user, reports, closed, f"{which} {user.id}") for user in users)
                )
                if workers is not None and watcher is not None:
                    await asyncio.wait_for(workers.all_claimed.wait(), PATIENCE)
                    watcher.cancel()
                elapsed = time.perf_counter() - began
                cpu = cpu_seconds(proc.pid) - cpu_began
                handled = sum(counts) + (workers.claimed if workers else 0)
                paced_lat = Latencies()
                await _paced(flow, users, paced, paced_lat)
                rss = peak_rss_mb(proc.pid)
    return {
        "updates_per_s": handled / elapsed,
        "cpu_ms": cpu / handled * 1000,
        "busy": cpu / elapsed,
        "p50_ms": paced_lat.percentile(0.50),
        "p99_ms": paced_lat.percentile(0.99),
        "rss_mb": rss,
    }


Flow = Callable[[UserDriver, str, Latencies], Coroutine[Any, Any, int]]
FLOWS: dict[str, Flow] = {"echo": echo_round, "mirror": mirror_round, "notebook": report}


async def _many(flow: Flow, user: UserDriver, reports: int, lat: Latencies, label: str) -> int:
    total = 0
    for k in range(reports):
        total += await flow(user, f"{label} {k} light broken", lat)
    return total


async def _paced(flow: Flow, users: list[UserDriver], seconds: int, lat: Latencies) -> None:
    """About 50 updates/s: one flow of 5 updates started every 0.1 s, on free users."""
    tasks: list[asyncio.Task[int]] = []
    free = list(users)
    for k in range(seconds * 10):
        user = free[k % len(free)]
        tasks.append(asyncio.create_task(flow(user, f"paced {user.id} {k}: light broken", lat)))
        await asyncio.sleep(0.1)  # the pacing of the load itself, not a wait for the bot
        if k % len(free) == len(free) - 1:
            await asyncio.gather(*tasks)
            tasks.clear()
    await asyncio.gather(*tasks)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=40)
    parser.add_argument("--reports", type=int, default=5)
    parser.add_argument("--issues", type=int, default=100_000)
    parser.add_argument("--paced-seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    names = {
        "mirror": "mirror bot",
        "echo": "echo bot (baseline)",
        "notebook": "notebook",
        "echo again": "echo bot, again",
    }
    ratios: list[float] = []
    mirrored: list[float] = []
    for round_ in range(1, args.rounds + 1):
        # The bots run one after the other in each round, the echo bot right before and right
        # after the notebook, its baseline the mean of the two: the shared machine's speed
        # moves by a third within minutes, and a drift then weighs on both sides alike.
        figures = {
            which: asyncio.run(
                run(
                    which.split()[0],
                    args.residents,
                    args.reports,
                    args.issues if which == "notebook" else 0,
                    args.paced_seconds,
                )
            )
            for which in names
        }
        print(f"round {round_} of {args.rounds}")
        for which, r in figures.items():
            print(
                f"{names[which]:20} {r['updates_per_s']:8.1f} updates/s   "
                f"p50 {r['p50_ms']:6.1f} ms   p99 {r['p99_ms']:6.1f} ms at 50 updates/s   "
                f"peak RSS {r['rss_mb']:6.1f} MB"
            )
            print(
                f"{'':20} {r['cpu_ms']:8.1f} ms of the bot's CPU per update, "
                f"the bot busy {r['busy']:.0%} of the time"
            )
        rate = figures["notebook"]["updates_per_s"]
        echo = (figures["echo"]["updates_per_s"] + figures["echo again"]["updates_per_s"]) / 2
        ratios.append(rate / echo)
        mirrored.append(rate / figures["mirror"]["updates_per_s"])
        print(f"throughput ratio notebook/echo (its two runs' mean): {ratios[-1]:.2f}", flush=True)
    each = " ".join(f"{r:.2f}" for r in ratios)
    print(
        f"throughput ratio notebook/echo, median of {len(ratios)}: {_median(ratios):.2f} "
        f"({each}; target 0.5)"
    )
    print(
        f"throughput ratio notebook/mirror, median: {_median(mirrored):.2f} "
        "(the mirror makes the notebook's Bot API calls and nothing else)"
    )
    print(f"issues stored for the RSS figure: {args.issues:,}")


if __name__ == "__main__":
    main()
