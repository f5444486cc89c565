"""SIGTERM while something is broken (issue #20, Must 2): the database down, the Bot API down,
a 429 being waited out. The bot ends within 10 s all the same; what it had not finished stays
pending, and the next start finishes it: every report exists once, every resident got every
confirmation once, no message went back to an older text."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from emulator import BotApiEmulator
from runtime.settings import normalise_database_url
from tests.bot.test_crash_recovery import _own_database
from tests.faults.harness import FAULTS, Burst, Fault, burst_across_fault
from tests.pg_cluster import remove_cluster, start_private_cluster

pytestmark = FAULTS

ON_POSTGRESQL = os.environ.get("TEST_DATABASE_URL", "").startswith("postgres")
OUTAGE = 16.0  # seconds; SIGTERM comes halfway through
SMALL = Burst(residents=8, reports_each=2, fault_after=1 / 4)


@pytest.mark.skipif(not ON_POSTGRESQL, reason="runs in the PostgreSQL run (TEST_DATABASE_URL)")
async def test_sigterm_while_postgresql_is_down(emulator: BotApiEmulator, tmp_path: Path) -> None:
    cluster = await start_private_cluster()
    try:
        fault = Fault(
            "PostgreSQL stopped, SIGTERM meanwhile",
            cause=cluster.stopped,
            seconds=OUTAGE,
            health_degraded=False,
            stop_during=True,
        )
        await burst_across_fault(
            emulator, tmp_path, normalise_database_url(cluster.url), fault, SMALL
        )
    finally:
        await remove_cluster(cluster)


async def test_sigterm_while_the_bot_api_does_not_answer(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    @asynccontextmanager
    async def silence() -> AsyncIterator[None]:
        emulator.outage(502, timeout=True)
        try:
            yield
        finally:
            emulator.end_outage()

    fault = Fault(
        "Bot API silent, SIGTERM meanwhile",
        cause=silence,
        seconds=OUTAGE,
        health_degraded=False,
        stop_during=True,
    )
    async with _own_database(tmp_path) as url:
        await burst_across_fault(emulator, tmp_path, url, fault, SMALL)


async def test_sigterm_while_every_chat_waits_out_a_429(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    @asynccontextmanager
    async def flood() -> AsyncIterator[None]:
        chats = [user.id for user in emulator.users.values()]
        for chat in chats:
            emulator.flood_chat(chat, retry_after=30)
        try:
            yield
        finally:
            emulator.lift_flood()

    fault = Fault(
        "429 with retry_after 30 on every resident's chat, SIGTERM meanwhile",
        cause=flood,
        seconds=OUTAGE,
        health_degraded=False,
        stop_during=True,
    )
    async with _own_database(tmp_path) as url:
        await burst_across_fault(emulator, tmp_path, url, fault, SMALL)
