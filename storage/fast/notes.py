"""What a session notes about statements run past its objects, shared by the ORM's path and the
fast path: which database it talks to, and whether held issues or outbox rows may be stale.

A bulk UPDATE or DELETE of issues or outbox rows goes past the objects the session holds. Such
a statement sets BULK_CHANGED in session.info, so that a reader who needs them current
(delivery/dispatch.py: claim_queued) reads them again; one that sets the changed values on the
objects itself says so with the execution option KEEPS_OBJECTS (storage/issue_lifecycle.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.orm import Session as OrmSession
from sqlmodel.ext.asyncio.session import AsyncSession

BULK_CHANGED = "bulk_changed"
KEEPS_OBJECTS = "keeps_objects_current"
_WATCHED = frozenset({"issue", "outbox"})


def note_bulk_change(session: OrmSession, statement: Any, execution_options: Any) -> None:
    """Set BULK_CHANGED if `statement` is an UPDATE or DELETE of issues or outbox rows that does
    not keep the session's objects current itself (storage/fast/direct.py calls this too)."""
    if not statement.is_dml or not (statement.is_update or statement.is_delete):
        return
    if execution_options.get(KEEPS_OBJECTS):
        return
    table = getattr(statement, "table", None)
    if getattr(table, "name", None) in _WATCHED:
        session.info[BULK_CHANGED] = True


def listen_for_bulk_changes(state: ORMExecuteState) -> None:
    if state.is_update or state.is_delete:
        note_bulk_change(state.session, state.statement, state.execution_options)


def dialect_of(session: AsyncSession) -> str:
    """ "postgresql" or "sqlite": which database this session talks to."""
    return session.bind.dialect.name if session.bind else "sqlite"
