"""A conversation's state (storage/chat_state.py): read once per update, and what a session
remembers about a missing state never outlives what the database says."""

from __future__ import annotations

from storage.chat_state import clear_state, get_state, set_state
from storage.db import Database
from storage.people import TelegramIdentity, identify
from tests.factories import FakeClock, make_community, make_member


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


async def test_the_sender_is_read_with_their_state_in_that_chat_and_no_other(
    db: Database, clock: FakeClock
) -> None:
    """identify(chat_id=…) reads the person and their state in that chat in one query; what
    get_state then hands out is exactly what is stored, and a chat without a state has none."""
    community = await make_community(db, clock)
    async with db.session() as session:
        person = await make_member(session, community, name="老许", telegram_user_id=7)
        await set_state(
            session,
            chat_id=7,
            user_id=7,
            flow="report",
            step="cat",
            data={"description": "楼道灯 <坏了>"},
            now=clock(),
        )
        await set_state(  # the same person, answering a question in the staff group
            session, chat_id=-100, user_id=7, flow="plan", step="text", data={}, now=clock()
        )
    me = TelegramIdentity(user_id=7, full_name="老许", username=None, language_code="zh-hans")
    for chat_id, flow in ((7, "report"), (-100, "plan"), (12345, None)):
        async with db.session() as session:
            found, acting = await identify(session, me, chat_id=chat_id)
            assert found.id == person.id and acting is not None
            state = await get_state(session, chat_id=chat_id, user_id=7)
            assert (state.flow if state else None) == flow
    async with db.session() as session:
        await identify(session, me, chat_id=7)
        state = await get_state(session, chat_id=7, user_id=7)
        assert state is not None and state.data == {"description": "楼道灯 <坏了>"}
        assert state.step == "cat" and state.updated_at == clock()
