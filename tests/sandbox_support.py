"""Shared by the sandbox tests: a running sandbox on the test's database with a clock that
stands still, and the demo's people by name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sandbox.clock import SandboxClock
from sandbox.demo import PEOPLE
from sandbox.runtime import Sandbox, running_sandbox
from storage.db import Database

START = datetime(2026, 11, 4, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Chongqing
FAST: dict[str, Any] = {
    "_env_file": None,
    # Tests send bursts to one chat in a second; pacing has its own tests.
    "rate_limit_group_per_minute": 100_000,
    "rate_limit_chat_per_second": 1_000,
}
ID = {person.name: person.telegram_user_id for person in PEOPLE}


@asynccontextmanager
async def sandbox_on(db: Database, *, fresh: bool = True) -> AsyncIterator[Sandbox]:
    clock = SandboxClock(START, follow_real_time=False)
    async with running_sandbox(db=db, clock=clock, fresh=fresh, settings_overrides=FAST) as sandbox:
        yield sandbox
