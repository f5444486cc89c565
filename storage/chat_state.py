"""Conversation state kept in the database, so a restart or another instance carries on.

A flow (a report draft, a plan being typed…) is a (flow, step, data) triple per chat and user.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, event, inspect
from sqlalchemy.orm.util import identity_key
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import NotebookSession
from storage.models import ChatState

# Built once: every update reads its sender's state (storage/inbox.py's _FINISH says why).
_GET = select(ChatState).where(
    col(ChatState.chat_id) == bindparam("chat_id"), col(ChatState.user_id) == bindparam("user_id")
)


_ABSENT = "chat_state_absent"  # session.info: (chat_id, user_id) this session found no state for


def _forget_absent(session: NotebookSession) -> None:
    session.info.pop(_ABSENT, None)  # a rollback may bring back a state this session deleted


event.listen(NotebookSession, "after_rollback", _forget_absent)


async def get_state(session: AsyncSession, *, chat_id: int, user_id: int) -> ChatState | None:
    key = (chat_id, user_id)
    known = session.sync_session.identity_map.get(identity_key(ChatState, key))
    if isinstance(known, ChatState) and not inspect(known).expired_attributes:
        return known  # read (or written) earlier in this update, as session.get would
    absent: set[tuple[int, int]] = session.info.setdefault(_ABSENT, set())
    if key in absent:
        return None  # looked for earlier in this update: most updates start no flow

    state = (await session.exec(_GET, params={"chat_id": chat_id, "user_id": user_id})).first()
    if state is None:
        absent.add(key)
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
) -> ChatState:
    state = await get_state(session, chat_id=chat_id, user_id=user_id)
    if state is None:
        state = ChatState(chat_id=chat_id, user_id=user_id, flow=flow, step=step)
        session.info.get(_ABSENT, set()).discard((chat_id, user_id))
    state.flow, state.step, state.updated_at = flow, step, now
    state.data = dict(data)  # a new object, so SQLAlchemy sees the JSON change
    session.add(state)
    await session.flush()
    return state


async def clear_state(session: AsyncSession, *, chat_id: int, user_id: int) -> bool:
    state = await get_state(session, chat_id=chat_id, user_id=user_id)
    if state is None:
        return False
    await session.delete(state)
    await session.flush()
    session.info.setdefault(_ABSENT, set()).add((chat_id, user_id))
    return True
