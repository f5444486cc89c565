"""Alembic migrations over the SQLModel metadata, driven from code (start-up and the CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import storage.models  # noqa: F401
from storage.db import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None, db: Database | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    if db is not None:  # data migrations that encrypt or decrypt phone numbers need the key
        cfg.attributes["phone_cipher"] = db.phone_cipher
    return cfg


async def upgrade(db: Database, revision: str = "head") -> None:
    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection, db), revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)


async def downgrade(db: Database, revision: str) -> None:
    """Roll the schema back to `revision` (an id, `-1`, or `base`) in one transaction."""

    def run(connection: Connection) -> None:
        command.downgrade(alembic_config(connection, db), revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)


def known_revisions() -> set[str]:
    """Every revision id this version of the code knows (a backup must be at one of them)."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return {script.revision for script in scripts.walk_revisions()}


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


async def current_revision(db: Database) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with db.engine.connect() as conn:
        return await conn.run_sync(read)


async def drift(db: Database) -> list[Any]:
    """Differences between the models and the migrated database (empty when they agree)."""

    def compare(connection: Connection) -> list[Any]:
        ctx = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(ctx, SQLModel.metadata))

    async with db.engine.connect() as conn:
        return await conn.run_sync(compare)


async def autogenerate(db: Database, message: str, rev_id: str | None = None) -> None:
    """Write a new revision from the difference between the models and the database."""

    def run(connection: Connection) -> None:
        command.revision(
            alembic_config(connection), message=message, autogenerate=True, rev_id=rev_id
        )

    async with db.engine.begin() as conn:
        await conn.run_sync(run)
