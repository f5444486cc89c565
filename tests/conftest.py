"""Fixtures: a fresh database per test (an SQLite file, or a PostgreSQL database when
TEST_DATABASE_URL is set), the Bot API emulator, and an injected clock."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from runtime.settings import normalise_database_url
from storage import migrate
from storage.db import Database
from tests.factories import BOT_USERNAME, PHONE_KEY, TOKEN, FakeClock

if TYPE_CHECKING:
    from emulator import BotApiEmulator

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated to the latest revision once per run; each test's `db` is a copy of
    it (a file copy on SQLite, CREATE DATABASE … TEMPLATE on PostgreSQL) instead of running
    every migration again. tests/storage/test_migrations.py runs them on an empty database."""
    if not TEST_DATABASE_URL:
        path = tmp_path_factory.mktemp("template") / "notebook.db"
        asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
        yield str(path)
        return
    name = f"tpl_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        asyncio.run(_migrate(_pg_url(name)))
        yield name
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _migrate(url: str) -> None:
    db = Database(url)
    db.set_phone_key(PHONE_KEY)
    await migrate.upgrade(db)
    await db.dispose()


def _pg_url(database: str) -> str:
    assert TEST_DATABASE_URL
    base = make_url(normalise_database_url(TEST_DATABASE_URL))
    return base.set(database=database).render_as_string(hide_password=False)


async def _admin(statement: str) -> None:
    """CREATE or DROP DATABASE, which PostgreSQL runs outside a transaction only."""
    assert TEST_DATABASE_URL
    engine = create_async_engine(
        normalise_database_url(TEST_DATABASE_URL),
        isolation_level="AUTOCOMMIT",
        hide_parameters=True,  # as every engine (storage/db.py)
    )
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def _own_database(tmp_path: Path, template: str | None) -> AsyncIterator[Database]:
    """A database nobody else uses: a copy of `template`, or empty without one."""
    if not TEST_DATABASE_URL:
        path = tmp_path / "notebook.db"
        if template is not None:
            shutil.copyfile(template, path)
        db = Database(f"sqlite+aiosqlite:///{path}")
        yield db
        await db.dispose()
        return
    name = f"t_{uuid.uuid4().hex[:12]}"
    # FILE_COPY: a small database copies in about half the time of the default WAL_LOG
    copy = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template is not None else ""
    await _admin(f'CREATE DATABASE "{name}"{copy}')
    db = Database(_pg_url(name))
    try:
        yield db
    finally:
        await db.dispose()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def empty_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A database nobody else uses, with no tables yet."""
    async with _own_database(tmp_path, None) as db:
        yield db


@pytest.fixture
async def db(tmp_path: Path, template: str) -> AsyncIterator[Database]:
    """A fresh database at the latest migration, encrypting phones with the tests' key."""
    async with _own_database(tmp_path, template) as db:
        db.set_phone_key(PHONE_KEY)
        yield db


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def emulator(clock: FakeClock) -> AsyncIterator[BotApiEmulator]:
    from emulator import BotApiEmulator

    async with BotApiEmulator(
        token=TOKEN, bot_username=BOT_USERNAME, clock=lambda: clock().timestamp()
    ) as emu:
        yield emu


@pytest.fixture(autouse=True)
def no_bot_api_call_inside_a_transaction() -> Iterator[None]:
    """The delivery rule, checked after every test: no Bot API call was made while an update's
    transaction was open (delivery/answers.py: `breaches`)."""
    from delivery.answers import breaches

    breaches().clear()
    yield
    assert breaches() == [], f"Bot API calls inside an update's transaction: {breaches()}"
