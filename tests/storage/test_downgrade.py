"""Rollback: every migration goes down and up again, and going below i10_operations gives the
older code its phone numbers back in clear (it needs the key to do so)."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from storage import crypto, migrate
from storage.db import Database
from tests.factories import PHONE_KEY, FakeClock, make_community, make_member

BEFORE_OPERATIONS = "3490e37aa95f"


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_downgrade_to_base_and_back_up_leaves_no_drift(db: Database) -> None:
    await migrate.downgrade(db, "base")
    assert await migrate.current_revision(db) is None
    assert await _tables(db) <= {"alembic_version"}
    await migrate.upgrade(db)
    assert await migrate.drift(db) == []
    assert set(SQLModel.metadata.tables) <= await _tables(db)


async def test_going_below_operations_decrypts_phones_and_coming_back_seals_them(
    db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    db.set_phone_key(PHONE_KEY)
    async with db.session() as session:
        person = await make_member(session, community, name="老许")
        person.phone = "13812345678"
    keyless = Database(db.url, schema=db.schema)
    try:
        with pytest.raises(RuntimeError, match="set PHONE_ENCRYPTION_KEY"):
            await migrate.downgrade(keyless, BEFORE_OPERATIONS)
    finally:
        await keyless.dispose()
    assert await migrate.current_revision(db) in migrate.head_revisions()  # nothing half-done

    await migrate.downgrade(db, BEFORE_OPERATIONS)
    assert await migrate.current_revision(db) == BEFORE_OPERATIONS
    async with db.engine.connect() as conn:
        raw = (await conn.execute(text("SELECT phone FROM person"))).scalar()
        columns = await conn.run_sync(lambda c: inspect(c).get_columns("person"))
    assert raw == "13812345678"
    assert "anonymised_at" not in {c["name"] for c in columns}
    assert {"heartbeat", "role_handover"}.isdisjoint(await _tables(db))

    await migrate.upgrade(db)  # the key is at hand: the migration seals them again
    async with db.session() as session:
        stored = dict(await crypto.raw_phones(session))
    assert stored[person.id].startswith("enc1:")
    assert await migrate.drift(db) == []
