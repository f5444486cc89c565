"""Fixtures: a fresh database per test (SQLite file, or a PostgreSQL schema when
TEST_DATABASE_URL is set), the Bot API emulator, and an injected clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from bot.settings import normalise_database_url
from storage import migrate
from storage.db import Database
from tests.factories import BOT_USERNAME, PHONE_KEY, TOKEN, FakeClock

if TYPE_CHECKING:
    from bot.emulator import BotApiEmulator

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


@pytest.fixture
async def empty_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A database nobody else uses, with no tables yet."""
    if not TEST_DATABASE_URL:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'notebook.db'}")
        yield db
        await db.dispose()
        return
    url = normalise_database_url(TEST_DATABASE_URL)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = Database(url)
    async with admin.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = Database(url, schema=schema)
    try:
        yield db
    finally:
        await db.dispose()
        async with admin.engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
async def db(empty_db: Database) -> Database:
    """A fresh database at the latest migration, encrypting phones with the tests' key."""
    empty_db.set_phone_key(PHONE_KEY)
    await migrate.upgrade(empty_db)
    return empty_db


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def emulator(clock: FakeClock) -> AsyncIterator[BotApiEmulator]:
    from bot.emulator import BotApiEmulator

    async with BotApiEmulator(
        token=TOKEN, bot_username=BOT_USERNAME, clock=lambda: clock().timestamp()
    ) as emu:
        yield emu
