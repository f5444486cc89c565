"""Conversation state kept in the database, so a restart or another instance carries on.

A flow (a report draft, a plan being typed…) is a (flow, step, data) triple per chat and user.

Every update reads its sender's state and most presses write it, so this module talks to the
`chat_state` table with Core statements built once and run on SQLite's connection directly
(storage/fast/direct.py: the ORM costs several times as much per read and per write, and nothing
else keeps these rows). What a session has read or
written is remembered in `session.info` for the rest of the update, and forgotten on rollback.
The `FlowState` objects handed out are plain values, not the table's model (a model costs tens
of microseconds to make, and every update makes one), never added to the session: change a state
with `set_state` or `clear_state`, which keep the object the update already holds up to date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.fast.direct import Direct
from storage.models import ChatState, FlowPrompt
from storage.sessions import CHAT_STATES

CHAT_STATE = ChatState.metadata.tables["chat_state"]
_COLUMNS = [column.name for column in CHAT_STATE.c]


@dataclass(slots=True)
class FlowState:
    """Where a person is in a conversation in one chat: a row of `chat_state` as read, or as
    last written by this update."""

    chat_id: int
    user_id: int
    flow: str
    step: str
    data: dict[str, Any]
    updated_at: datetime


# (bind parameters named apart from the columns: an UPDATE keeps those names for its SET clause)
_KEY = (CHAT_STATE.c.chat_id == bindparam("of_chat"), CHAT_STATE.c.user_id == bindparam("of_user"))
_GET = Direct(select(CHAT_STATE).where(*_KEY))
_INSERT = Direct(insert(CHAT_STATE))
_UPDATE = Direct(
    update(CHAT_STATE)
    .where(*_KEY)
    .values(
        flow=bindparam("new_flow"),
        step=bindparam("new_step"),
        data=bindparam("new_data", type_=CHAT_STATE.c.data.type),
        updated_at=bindparam("new_updated_at", type_=CHAT_STATE.c.updated_at.type),
    )
)
_DELETE = Direct(delete(CHAT_STATE).where(*_KEY))
_DELETE_USER = delete(CHAT_STATE).where(CHAT_STATE.c.user_id == bindparam("of_user"))

# session.info: (chat_id, user_id) -> the state, or None; a rollback forgets it
# (storage/sessions.py)
_KNOWN = CHAT_STATES


def _known(session: AsyncSession) -> dict[tuple[int, int], FlowState | None]:
    known: dict[tuple[int, int], FlowState | None] = session.info.setdefault(_KNOWN, {})
    return known


def remember(
    session: AsyncSession, *, chat_id: int, user_id: int, row: Sequence[Any] | None
) -> None:
    """A state read along with something else (storage/people.py: `identify` reads the
    sender's with them): `get_state` in this update then needs no query. `row` is the table's
    columns in their order, or None when there is no state."""
    _known(session)[(chat_id, user_id)] = _state(row) if row is not None else None


def _state(row: Sequence[Any]) -> FlowState:
    return FlowState(**dict(zip(_COLUMNS, row, strict=True)))


async def get_state(session: AsyncSession, *, chat_id: int, user_id: int) -> FlowState | None:
    known = _known(session)
    key = (chat_id, user_id)
    if key in known:
        return known[key]  # read or written earlier in this update
    params = {"of_chat": chat_id, "of_user": user_id}
    rows = await _GET.rows(session, params)
    state = known[key] = _state(rows[0]) if rows else None
    return state


async def set_state(
    session: AsyncSession,
    *,
    chat_id: int,
    user_id: int,
    flow: str,
    step: str,
    data: dict[str, Any],
    now: datetime,
) -> FlowState:
    state = await get_state(session, chat_id=chat_id, user_id=user_id)
    data = dict(data)
    written = 0
    if state is not None:
        changes = {"new_flow": flow, "new_step": step, "new_data": data, "new_updated_at": now}
        params = {"of_chat": chat_id, "of_user": user_id, **changes}
        written = await _UPDATE.execute(session, params)
    if not written:  # none yet (or deleted meanwhile by a bulk delete of another module)
        row = {"chat_id": chat_id, "user_id": user_id, "flow": flow, "step": step}
        row |= {"data": data, "updated_at": now}
        await _INSERT.execute(session, row)
    if state is None:
        state = FlowState(chat_id, user_id, flow, step, data, now)
        _known(session)[(chat_id, user_id)] = state
    state.flow, state.step, state.data, state.updated_at = flow, step, data, now
    return state


async def clear_state(session: AsyncSession, *, chat_id: int, user_id: int) -> bool:
    """Forget the sender's flow; False when there was none."""
    if await get_state(session, chat_id=chat_id, user_id=user_id) is None:
        return False
    await _DELETE.execute(session, {"of_chat": chat_id, "of_user": user_id})
    _known(session)[(chat_id, user_id)] = None
    return True


async def clear_user(session: AsyncSession, *, user_id: int) -> None:
    """Forget every flow of this Telegram user, in any chat (their data is being erased, or
    they no longer work here)."""
    await session.exec(_DELETE_USER, params={"of_user": user_id})
    await session.exec(delete(FlowPrompt).where(col(FlowPrompt.user_id) == user_id))
    known = _known(session)
    for key in [k for k in known if k[1] == user_id]:
        known[key] = None


# --- the prompts a flow sent ------------------------------------------------------------------
#
# A question's message id is known only once Telegram has it, after the update that asked has
# committed; an after-send hook notes it in a transaction of its own. It used to rewrite the
# chat_state row, while the person's next update, which had read that row at its start, could
# write it too: whichever committed last won, and the other's change was lost (the prompt's id,
# or the next step). The hook now only adds a `flow_prompt` row, which no update writes, and
# the row the update owns is never written by anyone else.

PROMPTS_KEPT = 11  # the latest prompt, and ten earlier ones (a reply to one is told so)


async def note_prompt(
    session: AsyncSession,
    *,
    chat_id: int,
    user_id: int,
    sending: int,
    message_id: int,
    now: datetime,
) -> None:
    """A prompt asked by update `sending` went out as `message_id`; older ones beyond the
    kept few are forgotten."""
    session.add(
        FlowPrompt(
            chat_id=chat_id, user_id=user_id, sending=sending, message_id=message_id, sent_at=now
        )
    )
    await session.flush()
    mine = (col(FlowPrompt.chat_id) == chat_id) & (col(FlowPrompt.user_id) == user_id)
    kept = (
        select(col(FlowPrompt.id))
        .where(mine)
        .order_by(col(FlowPrompt.id).desc())
        .limit(PROMPTS_KEPT)
    )
    await session.exec(delete(FlowPrompt).where(mine, col(FlowPrompt.id).not_in(kept)))


@dataclass(frozen=True, slots=True)
class Prompts:
    """The prompts sent to a person in a chat: `current` is the message that asked the
    state's question (None while it is still on its way), `asked` every kept one."""

    current: int | None
    asked: frozenset[int]


async def prompts(session: AsyncSession, state: FlowState) -> Prompts:
    rows = (
        await session.exec(
            select(FlowPrompt.sending, FlowPrompt.message_id)  # type: ignore[call-overload]
            .where(FlowPrompt.chat_id == state.chat_id, FlowPrompt.user_id == state.user_id)
            .order_by(col(FlowPrompt.id))
        )
    ).all()
    sending = state.data.get("sending")
    current = next((m for s, m in reversed(rows) if s == sending), None)
    # states written before prompts had a table of their own keep them in their data
    legacy = state.data.get("prompt")
    if current is None and isinstance(legacy, int):
        current = legacy
    asked = {m for _s, m in rows} | {m for m in state.data.get("asked", []) if isinstance(m, int)}
    return Prompts(current=current, asked=frozenset(asked))
