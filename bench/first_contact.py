"""First contact: `--people` people who have never written to the bot each send one message at
the same moment; the time until every one of them has an answer, against the echo bot
(bench/echo_bot.py) measured in the same run.

    .venv/bin/python -m bench.first_contact [--people 600] [--issues 100000] [--rounds 3]

Every bot runs as its own process on the project's emulator, as in bench/load.py: the notebook
(`python -m bot`, SQLite, a community with `--issues` closed issues stored) between two runs of
the echo bot, whose mean is the round's baseline. For the notebook each of them is a stranger:
it records the person, finds no community, and answers with how to join, keeping what they
wrote. The ratio is the echo bot's time over the notebook's (1.0: as fast as the echo bot),
per round and as the median.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.load import PATIENCE, _median, bot_process, cpu_seconds, seed
from emulator import BotApiEmulator
from emulator.driver import UserDriver
from tests.factories import TOKEN

FIRST_USER_ID = 5_000_000  # no one the seed knows (residents 2,000,000+, the worker 3,000,000)


async def everyone_answered(emu: BotApiEmulator, users: list[UserDriver]) -> None:
    """Return once every user's chat holds a message from the bot. One waiter checking a
    shrinking list, not one per user: 600 waiters woken by every message the emulator records
    would cost the benchmark's process more than the bots' work."""
    waiting = list(users)

    def answered() -> bool:
        nonlocal waiting
        waiting = [user for user in waiting if not user.chat.bot_messages]
        return not waiting

    await emu.signal.wait_for(answered, PATIENCE)


async def run(which: str, people: int, issues: int) -> tuple[dict[str, float], str]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'first.db'}"
        async with BotApiEmulator(token=TOKEN, bot_username="bench_bot") as emu:
            group = emu.group(title="staff") if which == "notebook" else None
            if group is not None:
                await seed(url, 1, issues, group.id)
            strangers = [
                emu.user(first_name=f"N{i}", language_code="en", user_id=FIRST_USER_ID + i)
                for i in range(people + 1)
            ]
            warm_up, crowd = strangers[0], strangers[1:]
            async with bot_process(emu, url, which, group.id if group else None, tmp) as proc:
                await warm_up.send("hello")  # start-up is not load; a stranger too
                await everyone_answered(emu, [warm_up])
                answer = next(iter(warm_up.chat.bot_messages.values())).text
                began, cpu_began = time.perf_counter(), cpu_seconds(proc.pid)
                for user in crowd:  # all at once: queued in the emulator before the bot polls
                    await user.send(f"hello from {user.first_name}, the light is broken")
                await everyone_answered(emu, crowd)
                elapsed = time.perf_counter() - began
                cpu = cpu_seconds(proc.pid) - cpu_began
    return {"seconds": elapsed, "cpu_ms": cpu / people * 1000}, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=600)
    parser.add_argument("--issues", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    names = {"echo": "echo bot (baseline)", "notebook": "notebook", "echo again": "echo bot, again"}
    ratios: list[float] = []
    for round_ in range(1, args.rounds + 1):
        # echo, notebook, echo again: a drift of the shared machine weighs on both sides alike
        runs = {
            which: asyncio.run(
                run(which.split()[0], args.people, args.issues if which == "notebook" else 0)
            )
            for which in names
        }
        figures = {which: r for which, (r, _answer) in runs.items()}
        if round_ == 1:
            first_line = runs["notebook"][1].splitlines()[0]
            print(f"the notebook answers a stranger: {first_line[:90]!r}")
        print(f"round {round_} of {args.rounds}")
        for which, r in figures.items():
            print(
                f"{names[which]:20} {args.people} first contacts answered in "
                f"{r['seconds'] * 1000:7.0f} ms   {r['cpu_ms']:5.2f} ms of the bot's CPU each"
            )
        echo = (figures["echo"]["seconds"] + figures["echo again"]["seconds"]) / 2
        ratios.append(echo / figures["notebook"]["seconds"])
        print(
            f"first-contact ratio echo/notebook (its two runs' mean): {ratios[-1]:.2f}", flush=True
        )
    each = " ".join(f"{r:.2f}" for r in ratios)
    print(
        f"first-contact ratio echo/notebook, median of {len(ratios)}: {_median(ratios):.2f} "
        f"({each}; target 0.5)"
    )


if __name__ == "__main__":
    main()
