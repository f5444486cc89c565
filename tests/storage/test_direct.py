"""Statements run past the session (storage/fast/direct.py) store and read exactly what the session
would, inside the session's transaction, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, func, update
from sqlalchemy import select as select_columns
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import BULK_CHANGED, INSERTS, Database
from storage.fast.direct import Direct, adopt, insert_new
from storage.models import Community, InboxUpdate, Issue, Outbox, Person

ROOT = Path(__file__).resolve().parents[2]

INBOX = InboxUpdate.metadata.tables["inbox_update"]
SET_ANSWERS = Direct(
    update(INBOX)
    .where(INBOX.c.update_id == bindparam("id"))
    .values(processed_at=bindparam("at"), answers=bindparam("answers"))
)
READ = Direct(
    select(INBOX.c.processed_at, INBOX.c.answers, INBOX.c.payload).where(
        INBOX.c.update_id == bindparam("id")
    )
)
NAMED = Direct(select(func.count()).select_from(Person).where(col(Person.full_name) == "Wang"))
OUTBOX = Outbox.metadata.tables["outbox"]
OUTBOX_SENT = Direct(
    update(OUTBOX).where(OUTBOX.c.id == bindparam("row_id")).values(sent_at=bindparam("sent_at"))
)
AT = datetime(2026, 11, 29, 8, 30, 15, 123456, tzinfo=UTC)


async def _stored(db: Database, update_id: int) -> InboxUpdate | None:
    async with db.session() as session:
        return await session.get(InboxUpdate, update_id)


async def test_what_a_direct_statement_writes_reads_back_through_the_session(
    db: Database,
) -> None:
    async with db.session() as session:
        session.add(InboxUpdate(update_id=1, payload={"text": "路灯坏了 <b>"}, received_at=AT))
    answers = [{"method": "sendMessage", "text": "收到 & 谢谢"}]
    async with db.session() as session:
        changed = await SET_ANSWERS.execute(session, {"id": 1, "at": AT, "answers": answers})
        assert changed == 1
        assert await SET_ANSWERS.execute(session, {"id": 2, "at": AT, "answers": None}) == 0
    stored = await _stored(db, 1)
    assert stored is not None
    assert stored.processed_at == AT  # an aware UTC time, to the microsecond
    assert stored.answers == answers
    async with db.session() as session:
        [(at, read_answers, payload)] = await READ.rows(session, {"id": 1})
    assert (at, read_answers, payload) == (AT, answers, {"text": "路灯坏了 <b>"})


async def test_none_is_stored_as_null_where_the_column_says_so(db: Database) -> None:
    async with db.session() as session:
        session.add(InboxUpdate(update_id=1, payload={}, received_at=AT, answers=[{"a": 1}]))
    async with db.session() as session:
        await SET_ANSWERS.execute(session, {"id": 1, "at": AT, "answers": None})
    async with db.session() as session:
        owed = await session.exec(select(InboxUpdate).where(col(InboxUpdate.answers).is_not(None)))
        assert owed.all() == []


async def test_a_direct_write_rolls_back_with_the_session(db: Database) -> None:
    async with db.session() as session:
        session.add(InboxUpdate(update_id=1, payload={}, received_at=AT))
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            await SET_ANSWERS.execute(session, {"id": 1, "at": AT, "answers": [{"a": 1}]})
            raise RuntimeError("the handler failed")
    stored = await _stored(db, 1)
    assert stored is not None and stored.answers is None and stored.processed_at is None


async def test_a_direct_query_sees_what_the_session_has_not_flushed_yet(db: Database) -> None:
    async with db.session() as session:
        session.add(Person(telegram_user_id=1, full_name="Wang"))
        assert await NAMED.rows(session, {}) == [(1,)]


async def test_a_direct_bulk_update_of_issues_or_outbox_marks_held_objects_stale(
    db: Database,
) -> None:
    async with db.session() as session:
        await OUTBOX_SENT.execute(session, {"row_id": 0, "sent_at": AT})
        assert session.info.get(BULK_CHANGED) is True
        session.info.pop(BULK_CHANGED)
        await SET_ANSWERS.execute(session, {"id": 1, "at": AT, "answers": None})
        assert BULK_CHANGED not in session.info  # the inbox is not watched


async def test_a_direct_write_waits_for_another_writer_without_stopping_the_loop(
    db: Database,
) -> None:
    if not db.is_sqlite:
        pytest.skip("lock waiting is the inline SQLite connection's")
    async with db.session() as session:
        session.add(InboxUpdate(update_id=1, payload={}, received_at=AT))
    holder_wrote, loop_ran = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with db.session() as session:
            session.add(Person(telegram_user_id=1, full_name="first"))
            await session.flush()  # holds the write lock until it commits
            holder_wrote.set()
            await loop_ran.wait()

    async def writer() -> None:
        await holder_wrote.wait()
        async with db.session() as session:
            await SET_ANSWERS.execute(session, {"id": 1, "at": AT, "answers": [{"b": 2}]})

    async def heartbeat() -> None:
        await holder_wrote.wait()
        await asyncio.sleep(0)  # the loop turns while the writer waits
        await asyncio.sleep(0)
        loop_ran.set()

    await asyncio.wait_for(asyncio.gather(holder(), writer(), heartbeat()), timeout=10)
    stored = await _stored(db, 1)
    assert stored is not None and stored.answers == [{"b": 2}]


async def test_after_a_rollback_the_session_writes_through_its_new_transaction(
    db: Database,
) -> None:
    async with db.session() as session:
        session.add(InboxUpdate(update_id=1, payload={}, received_at=AT))
    async with db.session() as session:
        await SET_ANSWERS.execute(session, {"id": 1, "at": AT, "answers": [{"undone": 1}]})
        await session.rollback()
        await SET_ANSWERS.execute(session, {"id": 1, "at": AT, "answers": [{"kept": 2}]})
    stored = await _stored(db, 1)
    assert stored is not None and stored.answers == [{"kept": 2}]


async def test_an_insert_returning_gives_the_new_id_and_nothing_on_a_conflict(
    db: Database,
) -> None:
    insert_new = Direct(
        {
            dialect: insert(INBOX)
            .values(
                update_id=bindparam("id"),
                payload=bindparam("payload"),
                status="pending",
                received_at=bindparam("at"),
            )
            .on_conflict_do_nothing(index_elements=["update_id"])
            .returning(INBOX.c.update_id, INBOX.c.received_at)
            for dialect, insert in INSERTS.items()
        }
    )
    async with db.session() as session:
        params = {"id": 7, "payload": {"t": "电梯"}, "at": AT}
        assert await insert_new.rows(session, params) == [(7, AT)]
        assert await insert_new.rows(session, params | {"payload": {"t": "again"}}) == []
    stored = await _stored(db, 7)
    assert stored is not None and stored.payload == {"t": "电梯"}


PERSON = Person.metadata.tables["person"]
PERSON_ROW = Direct(select_columns(*PERSON.c).where(PERSON.c.telegram_user_id == bindparam("tg")))


async def _person_row(session: AsyncSession, telegram_user_id: int) -> tuple[Any, ...]:
    [row] = await PERSON_ROW.rows(session, {"tg": telegram_user_id})
    return row


async def test_an_adopted_row_is_the_sessions_object_and_only_changes_are_written(
    db: Database,
) -> None:
    async with db.session() as session:
        session.add(Person(telegram_user_id=5, full_name="王阿姨", phone="13800138000"))
    async with db.session() as session:
        wang = adopt(session, Person, await _person_row(session, 5))
        assert wang.full_name == "王阿姨" and wang.phone == "13800138000"  # decrypted
        assert wang in session and not session.dirty  # persistent, and nothing to write
        assert await session.get(Person, wang.id) is wang
        wang.full_name = "王秀英"
        again = adopt(session, Person, await _person_row(session, 5))
        assert again is wang and again.full_name == "王秀英"  # the session's change stands
    async with db.session() as session:
        stored = (await session.exec(select(Person))).one()
    assert (stored.full_name, stored.phone) == ("王秀英", "13800138000")


async def test_an_adopted_object_expired_by_a_rollback_is_filled_in_again(db: Database) -> None:
    async with db.session() as session:
        session.add(Person(telegram_user_id=5, full_name="王阿姨"))
    async with db.session() as session:
        wang = adopt(session, Person, await _person_row(session, 5))
        await session.rollback()  # expires everything the session holds
        assert adopt(session, Person, await _person_row(session, 5)) is wang
        assert wang.full_name == "王阿姨"  # readable without going back to the database


async def test_get_reads_a_row_once_and_answers_as_the_orm_would(db: Database) -> None:
    async with db.session() as session:
        session.add(Person(telegram_user_id=5, full_name="王阿姨"))
    async with db.session() as session:
        wang = (await session.exec(select(Person))).one()
        wang_id = wang.id
        assert wang_id is not None
    async with db.session() as session:
        got = await session.get(Person, wang_id)
        assert got is not None and got.full_name == "王阿姨" and got in session
        assert await session.get(Person, wang_id) is got
        assert await session.get(Person, wang_id + 1) is None
        assert await session.get(InboxUpdate, 404) is None
        await session.delete(got)
        await session.flush()
        assert await session.get(Person, wang_id) is None  # deleted in this session
    async with db.session() as session:
        assert await session.get(Person, wang_id) is None


async def test_a_row_inserted_directly_has_the_models_defaults_and_its_new_id(
    db: Database,
) -> None:
    async with db.session() as session:
        session.add(Community(name="邢家桥"))
    async with db.session() as session:
        community = (await session.exec(select(Community))).one()
        values = dict(community_id=community.id, category="noise", description="楼上太吵 <b>")
        first = await insert_new(session, Issue, values | {"number": 1})
        second = await insert_new(session, Issue, values | {"number": 2})
        assert first.id is not None and second.id not in (None, first.id)
        assert (first.status, first.version, first.support_count) == ("new", 1, 0)
        assert first in session and not session.dirty  # as if flushed
        assert await session.get(Issue, first.id) is first
    async with db.session() as session:
        stored = await session.get(Issue, first.id)
        assert stored is not None
        assert (stored.number, stored.description, stored.status) == (1, "楼上太吵 <b>", "new")
        assert stored.created_at.tzinfo is not None  # the model's default, an aware time


def test_a_direct_read_is_the_first_thing_a_fresh_process_does(tmp_path: Path) -> None:
    """A process whose first load of a class is a `Direct` read (the retry job noting a failed
    update, before any ORM query ran) gets the row, as the ORM would: the mappers are
    configured first. Run in a fresh interpreter: in the suite's workers another test has
    usually configured them already."""
    script = textwrap.dedent(
        f"""
        import asyncio
        from datetime import UTC, datetime

        from storage import inbox, migrate
        from storage.db import Database

        async def main() -> None:
            db = Database("sqlite+aiosqlite:///{tmp_path / "fresh.db"}")
            await migrate.upgrade(db)
            now = datetime(2026, 11, 2, tzinfo=UTC)
            async with db.session() as session:
                await inbox.store(session, update_id=1, payload={{"update_id": 1}}, now=now)
                await inbox.failed_attempt(
                    session, update_id=1, now=now, error="RuntimeError", counts=True
                )
            await db.dispose()
            print("noted")

        asyncio.run(main())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "noted"
