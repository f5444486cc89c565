"""Constraint names (issue #25, Must 4): the metadata names every constraint by a convention, a
database made before it gets the names from the migration `i25_constraint_names` with its rows
and rules intact, a later migration can then drop a unique constraint by name on SQLite, and the
downgrade gives back exactly the names the database had."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.schema import DEFAULT_NAMING_CONVENTION
from sqlmodel import SQLModel

from storage import migrate
from storage.db import Database
from storage.models import NAMING_CONVENTION
from tests.factories import FakeClock, make_community

BEFORE = "i22_verified_households"
REVISION = "i25_constraint_names"
Snapshot = set[tuple[str, str, str | None, tuple[str, ...]]]


def _model_names() -> Snapshot:
    found: Snapshot = set()
    for table in SQLModel.metadata.sorted_tables:
        for constraint in table.constraints:
            kind = type(constraint).__name__
            if kind in {"PrimaryKeyConstraint", "UniqueConstraint", "ForeignKeyConstraint"}:
                columns = tuple(c.name for c in constraint.columns)
                found.add((table.name, kind[:2].lower(), str(constraint.name), columns))
    return found


def _snapshot(connection: Connection) -> Snapshot:
    """Every primary key, unique constraint and foreign key in the database, with its name."""
    inspector = inspect(connection)
    found: Snapshot = set()
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        pk = inspector.get_pk_constraint(table)
        found.add((table, "pr", pk["name"], tuple(pk["constrained_columns"])))
        for uq in inspector.get_unique_constraints(table):
            found.add((table, "un", uq["name"], tuple(uq["column_names"])))
        for fk in inspector.get_foreign_keys(table):
            found.add((table, "fo", fk["name"], tuple(fk["constrained_columns"])))
    return found


async def _names(db: Database) -> Snapshot:
    async with db.engine.connect() as conn:
        return await conn.run_sync(_snapshot)


@pytest.fixture
def without_the_convention() -> Iterator[None]:
    """Migrations run as they did before the convention: constraints made unnamed."""
    SQLModel.metadata.naming_convention = dict(DEFAULT_NAMING_CONVENTION)  # type: ignore[arg-type]
    try:
        yield
    finally:
        SQLModel.metadata.naming_convention = NAMING_CONVENTION  # type: ignore[assignment]


def test_every_constraint_of_the_models_has_a_convention_name_short_enough_for_postgresql() -> None:
    names = _model_names()
    assert len(names) > 100
    for table, kind, name, columns in names:
        assert name is not None and len(name) <= 63, (table, columns)
        prefix = {"pr": "pk_", "un": "uq_", "fo": "fk_"}[kind]
        assert name.startswith(f"{prefix}{table}"), name
    assert (
        "membership",
        "un",
        "uq_membership_person_id_community_id",
        ("person_id", "community_id"),
    ) in names


async def test_a_new_database_has_the_convention_names(empty_db: Database) -> None:
    await migrate.upgrade(empty_db)
    assert await _names(empty_db) == _model_names()
    assert await migrate.drift(empty_db) == []


async def _rows(db: Database) -> dict[str, int]:
    async with db.engine.connect() as conn:
        return {
            table: (await conn.execute(text(f'SELECT count(*) FROM "{table}"'))).scalar_one()
            for table in ("community", "building", "person", "membership", "issue", "issue_event")
        }


async def _older_rows(db: Database, clock: FakeClock) -> int:
    """Rows written as the notebook at BEFORE wrote them: plain SQL, because today's models may
    have columns that BEFORE's tables lack."""
    now = clock()
    statements = [
        "INSERT INTO community (name, timezone, default_locale, next_issue_number, created_at)"
        " VALUES ('邢家桥社区', 'Asia/Shanghai', 'zh_Hans', 2, :now)",
        "INSERT INTO building (community_id, name, sort_order) SELECT id, '1栋', 0 FROM community",
        "INSERT INTO person (full_name, created_at) VALUES ('许', :now)",
        "INSERT INTO membership (person_id, community_id, role, active, created_at)"
        " SELECT person.id, community.id, 'resident', :yes, :now FROM person, community",
        "INSERT INTO issue (community_id, number, channel, category, description, urgency,"
        " status, time_limit_hours, support_count, reopened_count, version, created_at)"
        " SELECT id, 1, 'telegram', 'other', '楼道灯坏了', 'normal', 'new', 72, 0, 0, 1, :now"
        " FROM community",
        "INSERT INTO issue_event (issue_id, at, kind, public, data)"
        " SELECT id, :now, 'reported', :yes, '{}' FROM issue",
    ]
    async with db.engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement), {"now": now, "yes": True})
        return (await conn.execute(text("SELECT id FROM community"))).scalar_one()


async def test_an_older_database_gets_the_names_keeps_its_rows_and_gives_them_back(
    empty_db: Database, clock: FakeClock, without_the_convention: None
) -> None:
    db = empty_db
    await migrate.upgrade(db, BEFORE)
    SQLModel.metadata.naming_convention = NAMING_CONVENTION  # type: ignore[assignment]
    older = await _names(db)
    if db.is_sqlite:
        assert {name for _t, kind, name, _c in older if kind != "pr"} == {None}
    else:  # PostgreSQL's own names
        assert (
            "membership",
            "un",
            "membership_person_id_community_id_key",
            ("person_id", "community_id"),
        ) in older
    community_id = await _older_rows(db, clock)
    rows = await _rows(db)
    assert rows["community"] == 1 and rows["building"] > 0 and rows["issue"] == 1

    await migrate.upgrade(db)
    assert await _names(db) == _model_names()
    assert await migrate.drift(db) == []
    assert await _rows(db) == rows
    async with db.engine.connect() as conn:  # the rules still hold
        with pytest.raises(IntegrityError):  # unique (community_id, name)
            await conn.execute(
                text(
                    "INSERT INTO building (community_id, name)"
                    " SELECT community_id, name FROM building LIMIT 1"
                )
            )
        await conn.rollback()
        with pytest.raises(IntegrityError):  # the buildings refer to it
            await conn.execute(text("DELETE FROM community WHERE id = :id"), {"id": community_id})
        await conn.rollback()

    await migrate.downgrade(db, BEFORE)
    assert await _names(db) == older
    assert await _rows(db) == rows
    await migrate.upgrade(db)
    assert await _names(db) == _model_names()


async def test_a_later_migration_can_drop_a_unique_constraint_by_its_name(
    db: Database, clock: FakeClock
) -> None:
    """What the names are for: batch mode on SQLite finds a constraint by name only."""
    await make_community(db, clock)
    uq = "uq_membership_person_id_community_id"

    def drop(connection: Connection) -> Any:
        operations = Operations(MigrationContext.configure(connection))
        with operations.batch_alter_table("membership") as batch:
            batch.drop_constraint(uq, type_="unique")
        return {c["name"] for c in inspect(connection).get_unique_constraints("membership")}

    async with db.engine.begin() as conn:
        left = await conn.run_sync(drop)
    assert uq not in left
