"""The notebook's session class, and every listener on its events: registered here, once, and
nowhere else.

- Kept alive: SQLAlchemy's identity map holds objects weakly: a Community or Person read by one
  step of an update and let go is gone when the next step asks for it, and `session.get` reads
  it again. A session here keeps the rows it loads or writes (KEPT_ALIVE: communities, people,
  buildings, units, memberships, issues, and an issue's events, which never change once
  written) alive until it closes (a session is one update or one message sent), so each is
  read once. Outbox rows are not kept: they change by bulk UPDATEs.
- Bulk changes: an UPDATE or DELETE of issues or outbox rows past the held objects notes that
  they may be stale (storage/fast/notes.py: BULK_CHANGED); delivery/dispatch.py's
  `claim_queued` reads them again before rendering.
- Queued messages: the outbox rows an update queues wait in `info` until the transaction
  commits (QUEUED, then KEPT; a rollback forgets QUEUED: those rows are gone). storage/outbox.py.
- Conversation states read in this transaction are cached in `info`; a rollback forgets them
  (storage/chat_state.py).
- A savepoint rolled back (a handler's refused step: `session.begin_nested()`) undoes what it
  did here too: the messages queued inside it are dropped, the cached states forgotten, and
  every object expired, as a whole rollback would (statements past the ORM, storage/fast/,
  may have changed rows the objects show).
- A person's phone: before a person is written, the blind index of their phone is computed
  from it (storage/crypto.py: `index_person_phone`), so the two never disagree.
- The issue a session touches: a session given a note with `watch_issues` has the first issue
  it reads, or every issue it writes, written into that note (bot/logs.py puts it in every log
  line of the update). The listeners find the note in `info` rather than in a ContextVar:
  SQLAlchemy runs them in a greenlet, which has a context of its own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlmodel import Session

from storage.crypto import index_person_phone
from storage.fast.notes import listen_for_bulk_changes
from storage.models import Building, Community, Issue, IssueEvent, Membership, Person, Unit

KEPT_ALIVE = (Community, Person, Building, Unit, Membership, Issue, IssueEvent)
OUTBOX_QUEUED = "outbox_queued"
OUTBOX_KEPT = "outbox_kept"
CHAT_STATES = "chat_states"  # (chat_id, user_id) -> the state, or None when there is none
_ISSUE_NOTE = "issue_note"


class NotebookSession(Session):
    """The sync session under every AsyncSession of the notebook (storage/db.py)."""


def watch_issues(session: Any, note: dict[str, Any]) -> None:
    """Write into `note["issue_id"]` the issue this session reads or writes (see above)."""
    session.info[_ISSUE_NOTE] = note


def _keep_alive(session: Session, instance: object) -> None:
    if isinstance(instance, KEPT_ALIVE):
        session.info.setdefault("kept_alive", []).append(instance)


def _committed(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: its rows wait for the transaction's own commit
    if OUTBOX_QUEUED in session.info:
        session.info.setdefault(OUTBOX_KEPT, []).extend(session.info.pop(OUTBOX_QUEUED))


_SAVEPOINTS = "savepoints"  # id of a savepoint's transaction -> the queued rows before it


def _savepoint_begun(session: Session, transaction: Any) -> None:
    if transaction.nested:
        queued = len(session.info.get(OUTBOX_QUEUED, []))
        session.info.setdefault(_SAVEPOINTS, {})[id(transaction)] = queued


def _rolled_back(session: Session, previous_transaction: Any) -> None:
    """A rollback, of the whole transaction or of a savepoint in it."""
    session.info.pop(CHAT_STATES, None)  # a rollback may bring back, or take away, a state
    if not previous_transaction.nested:
        session.info.pop(OUTBOX_QUEUED, None)  # those rows are gone
        return
    before = session.info.get(_SAVEPOINTS, {}).pop(id(previous_transaction), None)
    if before is not None and OUTBOX_QUEUED in session.info:
        del session.info[OUTBOX_QUEUED][before:]
    session.expire_all()


def _note_issue(note: dict[str, Any], obj: object) -> None:
    if isinstance(obj, Issue) and obj.id is not None:
        note["issue_id"] = obj.id
    elif isinstance(obj, IssueEvent) and note["issue_id"] is None:
        note["issue_id"] = obj.issue_id


def _after_flush(session: Session, _flush_context: Any) -> None:
    note = session.info.get(_ISSUE_NOTE)
    if note is not None:
        for obj in (*session.new, *session.dirty):
            _note_issue(note, obj)


def _loaded(session: Session, obj: object) -> None:
    _keep_alive(session, obj)
    note = session.info.get(_ISSUE_NOTE)
    if note is not None and note["issue_id"] is None:
        _note_issue(note, obj)


event.listen(NotebookSession, "loaded_as_persistent", _loaded)
event.listen(NotebookSession, "detached_to_persistent", _loaded)  # storage/fast/direct.py: adopt
event.listen(NotebookSession, "pending_to_persistent", _keep_alive)
event.listen(NotebookSession, "after_flush", _after_flush)
event.listen(NotebookSession, "do_orm_execute", listen_for_bulk_changes)
event.listen(NotebookSession, "after_commit", _committed)
event.listen(NotebookSession, "after_transaction_create", _savepoint_begun)
event.listen(NotebookSession, "after_soft_rollback", _rolled_back)
event.listen(Person, "before_insert", index_person_phone)
event.listen(Person, "before_update", index_person_phone)
