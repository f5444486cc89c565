"""A prompt's id is noted after it is sent, in a transaction of its own, while the worker's next
update may be writing their flow's state: neither may lose the other's change.

The after-send hook (handlers/staff/card_steps.py: `_prompt_sent`) used to rewrite the
`chat_state` row that the next update had read at its start; whichever committed last won.
These tests run the two writers interleaved, in both orders, on two sessions of one database."""

from __future__ import annotations

from datetime import timedelta

from handlers.staff.card_steps import FLOW, _prompt_sent
from runtime.rendering import Sent
from storage.chat_state import PROMPTS_KEPT, get_state, note_prompt, prompts, set_state
from storage.db import Database
from tests.factories import FakeClock

CHAT, USER = -100123, 42
ASKED_BY = 1001  # the update that asked the question


async def _asked(db: Database, clock: FakeClock) -> None:
    async with db.session() as session:
        await set_state(
            session,
            chat_id=CHAT,
            user_id=USER,
            flow=FLOW,
            step="note",
            data={"issue": 1, "sending": ASKED_BY},
            now=clock(),
        )


async def _hook(db: Database, clock: FakeClock, message_id: int, sending: int) -> None:
    async with db.session() as session:
        sent = Sent(chat_id=CHAT, message_id=message_id, date=clock())
        await _prompt_sent(session, sent, {"chat_id": CHAT, "user_id": USER, "sending": sending})


async def _current(db: Database) -> tuple[str, int | None, frozenset[int]]:
    async with db.session() as session:
        state = await get_state(session, chat_id=CHAT, user_id=USER)
        assert state is not None
        noted = await prompts(session, state)
        return state.step, noted.current, noted.asked


async def test_the_hook_committing_while_the_next_update_runs_loses_neither(
    db: Database, clock: FakeClock
) -> None:
    await _asked(db, clock)
    # the worker's next update reads their state at its start…
    async with db.session() as update:
        state = await get_state(update, chat_id=CHAT, user_id=USER)
        assert state is not None and state.step == "note"
        # …meanwhile the prompt goes out and its hook commits…
        await _hook(db, clock, message_id=555, sending=ASKED_BY)
        # …and then the update writes the state it had read (a step within the same question)
        await set_state(
            update,
            chat_id=CHAT,
            user_id=USER,
            flow=FLOW,
            step="note_more",
            data={**state.data, "draft": "楼道灯"},
            now=clock(),
        )
    step, current, asked = await _current(db)
    assert step == "note_more"  # the update's change stands
    assert current == 555 and asked == {555}  # and so does the hook's


async def test_the_next_update_committing_while_the_hook_runs_loses_neither(
    db: Database, clock: FakeClock
) -> None:
    """The hook is late: the worker, quicker, has answered and been asked the next question.
    On PostgreSQL the hook's transaction is open while the update commits; SQLite has one
    writer at a time, so there the update commits just before the hook writes."""
    await _asked(db, clock)

    async def next_question() -> None:
        async with db.session() as update:
            await set_state(
                update,
                chat_id=CHAT,
                user_id=USER,
                flow=FLOW,
                step="plan_due",
                data={"issue": 1, "plan": "换灯泡", "sending": 1002},
                now=clock(),
            )

    async with db.session() as hook:
        if db.is_sqlite:
            await next_question()
        await note_prompt(
            hook, chat_id=CHAT, user_id=USER, sending=ASKED_BY, message_id=555, now=clock()
        )
        if not db.is_sqlite:
            await next_question()
    step, current, asked = await _current(db)
    assert step == "plan_due"  # the newer question is not overwritten by the older hook
    assert current is None  # its own prompt is still on its way…
    assert asked == {555}  # …and a reply to the first one is known to be to an older question
    await _hook(db, clock, message_id=556, sending=1002)
    assert await _current(db) == ("plan_due", 556, frozenset({555, 556}))


async def test_only_the_latest_prompts_are_kept(db: Database, clock: FakeClock) -> None:
    await _asked(db, clock)
    for n in range(PROMPTS_KEPT + 5):
        clock.current += timedelta(seconds=1)
        await _hook(db, clock, message_id=600 + n, sending=2000 + n)
    _step, current, asked = await _current(db)
    assert current is None  # the state's question (update 1001) was one of the forgotten
    assert asked == {600 + n for n in range(5, PROMPTS_KEPT + 5)}
