"""Heavy reads (the digest, the notebook page, the exports, the search for a resident) run off
the event loop's thread (storage/db.py: `Database.reading`), so every chat goes on meanwhile;
an update's own statements run on the loop's thread (storage/fast/sqlite_inline.py)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlmodel import select

from storage.db import Database
from storage.models import Community
from tests.factories import FakeClock, make_community


async def test_a_heavy_read_runs_off_the_loops_thread_and_sees_what_is_committed(
    db: Database, clock: FakeClock
) -> None:
    if db.sqlite_path is None:
        pytest.skip("PostgreSQL's driver never holds the event loop up")
    community = await make_community(db, clock)
    async with db.reading() as reader:
        # SQLite calls this function on the thread that runs the reader's statements
        raw = await (await reader.connection()).get_raw_connection()
        await raw.driver_connection.create_function("running_thread", 0, threading.get_ident)
        ran_on = (await reader.exec(text("SELECT running_thread()"))).scalar_one()
        names = (await reader.exec(select(Community.name))).all()
    assert names == [community.name]
    assert ran_on != threading.get_ident()  # not the event loop's thread


async def test_a_heavy_read_writes_nothing(db: Database, clock: FakeClock) -> None:
    community = await make_community(db, clock)
    async with db.reading() as reader:
        found = await reader.get(Community, community.id)
        assert found is not None
        found.name = "不该保存的名字"
        await reader.flush()
    async with db.session() as session:
        again = await session.get(Community, community.id)
    assert again is not None and again.name == community.name
    assert found.name == "不该保存的名字"  # what was read stays loaded for the caller
