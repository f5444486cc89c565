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


async def test_the_transfers_answer_date_and_the_plans_start_survive_a_round_trip(
    db: Database, clock: FakeClock
) -> None:
    """Below i22_trusted_record a transferred issue kept its answer date in due_at; going down
    puts it back there, coming up moves it to transfer_answer_by and leaves due_at empty, and
    an issue planned before gets its plan's time as planned_at."""
    from datetime import timedelta

    from storage import issues as rules
    from storage.models import Issue
    from tests.factories import make_issue

    community = await make_community(db, clock)
    async with db.session() as session:
        worker = await make_member(session, community, name="王网格")
        resident = await make_member(session, community, name="老许")
        handed = await make_issue(session, community, resident, clock, "路灯线路老化")
        planned = await make_issue(session, community, resident, clock, "楼道灯坏了")
        answer_by = clock() + timedelta(days=3)
        await rules.transfer(
            session,
            handed,
            to="供电所",
            note="归供电所",
            answer_by=answer_by,
            actor_id=worker.id or 0,
            now=clock(),
        )
        await rules.claim(session, planned, actor_id=worker.id or 0, now=clock())
        await rules.set_plan(
            session,
            planned,
            plan="换灯",
            due_at=clock() + timedelta(days=2),
            actor_id=worker.id or 0,
            now=clock(),
        )
        ids = (handed.id, planned.id)
    await migrate.downgrade(db, "i22_verified_households")
    async with db.engine.connect() as conn:
        due = (
            await conn.execute(text("SELECT due_at FROM issue WHERE id = :i"), {"i": ids[0]})
        ).scalar()
    assert due is not None  # the older code reads the answer date there
    await migrate.upgrade(db)
    async with db.session() as session:
        again = await session.get(Issue, ids[0])
        plan = await session.get(Issue, ids[1])
        assert again is not None and plan is not None
        assert again.transfer_answer_by == answer_by and again.due_at is None
        assert plan.planned_at == clock()
    assert await migrate.drift(db) == []


async def test_a_notebook_with_votes_and_verified_households_goes_down_and_up(
    db: Database, clock: FakeClock
) -> None:
    """The sandbox's demo (issues in every state, a consent vote with verified households,
    votes on paper and by proxy) below #22's migrations and back: SQLite refuses to copy a table
    that rows point to, so these migrations alter their tables in place."""
    from sandbox import demo
    from storage.categories import TimeLimits
    from storage.models import ConsentHousehold, ConsentVoteLog

    async with db.session() as session:
        await demo.seed(
            session,
            now=clock(),
            limits=TimeLimits(),
            timezone="Asia/Shanghai",
            default_locale="zh_Hans",
        )
    await migrate.downgrade(db, "i20_inbox_leases")
    async with db.engine.connect() as conn:
        votes = (await conn.execute(text("SELECT count(*) FROM consent_vote_log"))).scalar()
    assert votes == 3
    await migrate.upgrade(db)
    assert await migrate.drift(db) == []
    async with db.session() as session:
        from sqlmodel import select

        counted = (await session.exec(select(ConsentHousehold))).all()
        logged = (await session.exec(select(ConsentVoteLog))).all()
    # what was recorded by a named worker counts again; the phone vote waits for verification
    assert sorted(h.room for h in counted if h.vote_verified) == ["301", "401"]
    assert sorted(v.verified for v in logged) == [False, True, True]
