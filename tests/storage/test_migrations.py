"""The schema comes from Alembic migrations, and they match the models exactly."""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from storage import migrate
from storage.db import Database


async def test_upgrading_an_empty_database_leaves_no_drift(empty_db: Database) -> None:
    assert await migrate.current_revision(empty_db) is None
    await migrate.upgrade(empty_db)
    assert await migrate.current_revision(empty_db) is not None
    assert await migrate.drift(empty_db) == []

    async with empty_db.engine.connect() as conn:
        tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    assert set(SQLModel.metadata.tables) <= tables


async def test_upgrade_is_idempotent(db: Database) -> None:
    before = await migrate.current_revision(db)
    await migrate.upgrade(db)
    assert await migrate.current_revision(db) == before


async def test_sqlite_connections_use_wal_and_foreign_keys(db: Database) -> None:
    if not db.is_sqlite:
        return
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
