"""i25_feeds_open311 goes down and up on both databases: the calendar addresses and the public
summaries go with it, the issues stay."""

from __future__ import annotations

from sqlalchemy import inspect, text

from storage import calendars, migrate, open311
from storage.db import Database
from storage.models import Community, Role
from tests.factories import FakeClock, make_community, make_issue, make_member

REVISION = "i25_feeds_open311"


async def _shape(db: Database) -> tuple[set[str], set[str]]:
    async with db.engine.connect() as conn:
        tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        columns = await conn.run_sync(lambda c: inspect(c).get_columns("issue"))
    return tables, {c["name"] for c in columns}


async def test_down_and_up_again(db: Database, clock: FakeClock) -> None:
    community = await make_community(db, clock)
    async with db.session() as session:
        stored = await session.get(Community, community.id)
        assert stored is not None and stored.id is not None
        xu = await make_member(session, stored, Role.RESIDENT)
        issue = await make_issue(session, stored, xu, clock)
        await open311.set_public_summary(session, issue, "楼道灯已修好", now=clock())
        await calendars.feed_for(session, community_id=stored.id, person_id=None, now=clock())
    tables, columns = await _shape(db)
    assert "calendar_feed" in tables and "public_summary" in columns

    await migrate.downgrade(db, REVISION + "-1")  # from wherever the head is, to below this one
    assert await migrate.current_revision(db) not in (REVISION, None)
    tables, columns = await _shape(db)
    assert "calendar_feed" not in tables
    assert {"public_summary", "public_summary_at"}.isdisjoint(columns)
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM issue"))).scalar() == 1

    await migrate.upgrade(db)
    assert await migrate.current_revision(db) in migrate.head_revisions()
    assert await migrate.drift(db) == []
    tables, columns = await _shape(db)
    assert "calendar_feed" in tables and "public_summary" in columns
