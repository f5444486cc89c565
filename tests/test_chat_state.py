"""A conversation's state (storage/chat_state.py): read once per update, and what a session
remembers about a missing state never outlives what the database says."""

from __future__ import annotations

from storage.chat_state import clear_state, get_state, set_state
from storage.db import Database
from tests.factories import FakeClock


async def test_a_state_looked_for_then_set_then_cleared_reads_back_each_time(
    db: Database, clock: FakeClock
) -> None:
    async with db.session() as session:
        assert await get_state(session, chat_id=1, user_id=2) is None
        await set_state(
            session, chat_id=1, user_id=2, flow="report", step="cat", data={}, now=clock()
        )
        state = await get_state(session, chat_id=1, user_id=2)
        assert state is not None and state.step == "cat"
        assert await clear_state(session, chat_id=1, user_id=2)
        assert await get_state(session, chat_id=1, user_id=2) is None
    async with db.session() as session:
        assert await get_state(session, chat_id=1, user_id=2) is None


async def test_a_rolled_back_clear_leaves_the_state_readable_in_the_same_session(
    db: Database, clock: FakeClock
) -> None:
    async with db.session() as session:
        await set_state(
            session, chat_id=1, user_id=2, flow="report", step="cat", data={}, now=clock()
        )
    async with db.session() as session:
        assert await clear_state(session, chat_id=1, user_id=2)
        await session.rollback()  # a handler failed: its delete never happened
        state = await get_state(session, chat_id=1, user_id=2)
        assert state is not None and state.flow == "report"
