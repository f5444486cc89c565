"""The outbox: every message the bot will send later is a row here first.

Rows are written in the same transaction as the change they announce, so a crash can't lose a
notification or send one for a change that was rolled back. A dedupe key makes enqueueing
idempotent (`overdue:<issue>:<date>` is queued once however often the check runs). Dispatchers
claim due rows atomically (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: one UPDATE … RETURNING),
so two dispatchers never take the same row.

`attempts` counts the requests really made to Telegram for a row: claiming a row does not
count, nor does putting it back unsent (`postpone`: quiet hours, a batch given back, a 429);
recording what Telegram answered does (`mark_sent`, `retry_later`, `mark_failed`).
Sent and cancelled rows are forgotten after a retention period (`prune`), except those about an
issue still open: their dedupe keys are what keeps a reminder from being queued twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, func, or_, select, update
from sqlmodel import col
from sqlmodel import select as sqlmodel_select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import INSERTS, dialect_of
from storage.fast.direct import Direct
from storage.issue_lifecycle import OPEN
from storage.models import Issue, IssueStatus, Outbox, OutboxStatus, Person
from storage.sessions import OUTBOX_KEPT, OUTBOX_QUEUED

# A row left in "sending" this long (its dispatcher died mid-send) is claimed again.
STALE_CLAIM = timedelta(minutes=5)


OUTBOX = Outbox.metadata.tables["outbox"]
_WRITTEN = [column for column in OUTBOX.c if column.name not in ("id", "sent_at", "last_error")]
# The statements every message queued and sent runs: built once (per database where they are
# spelt apart), and run directly (storage/fast/direct.py).
_ENQUEUE = Direct(
    {
        dialect: insert(OUTBOX)
        .values({column.name: bindparam(column.name) for column in _WRITTEN})
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OUTBOX.c.id)
        for dialect, insert in INSERTS.items()
    }
)
# An update sends the messages it queues itself, right after its commit (bot/app.py): its
# session carries SENDS_AFTER_COMMIT, and `enqueue` then writes a due row already claimed
# ("sending"), so no dispatcher takes it meanwhile and no second statement claims it. The rows
# wait in session.info: QUEUED until the transaction commits, KEPT after a commit within the
# update (a rollback forgets QUEUED: those rows are gone). `claim_queued` hands them over.
SENDS_AFTER_COMMIT = "outbox_sends_after_commit"
QUEUED = OUTBOX_QUEUED  # the listeners that move and forget them: storage/sessions.py
KEPT = OUTBOX_KEPT


def _setter(*columns: str, attempted: bool) -> Direct:
    """UPDATE outbox SET <columns> WHERE id = :row_id, each column a bind parameter, and one
    more attempt when a request was made: every message sent runs one, on SQLite's connection
    directly (storage/fast/direct.py)."""
    values: dict[str, Any] = {name: bindparam(name) for name in columns}
    if attempted:
        values["attempts"] = OUTBOX.c.attempts + 1
    return Direct(update(OUTBOX).where(OUTBOX.c.id == bindparam("row_id")).values(values))


_SENT = _setter("status", "sent_at", "last_error", attempted=True)
_DONE = _setter("status", "sent_at", attempted=False)
_RETRY = _setter("status", "due_at", "claimed_at", "last_error", attempted=True)
_POSTPONE = _setter("status", "due_at", "claimed_at", "last_error", attempted=False)
_FAILED = _setter("status", "last_error", attempted=True)
_DROPPED = _setter("status", "last_error", attempted=False)


async def enqueue(
    session: AsyncSession,
    *,
    chat_id: int,
    kind: str,
    dedupe_key: str,
    due_at: datetime,
    payload: dict[str, Any],
    now: datetime,
    person_id: int | None = None,
    community_id: int | None = None,
    urgent: bool = False,
) -> bool:
    """Queue a message; False when a row with this dedupe key already exists."""
    sends_itself = bool(session.info.get(SENDS_AFTER_COMMIT)) and due_at <= now
    values: dict[str, Any] = {
        "chat_id": chat_id,
        "kind": kind,
        "dedupe_key": dedupe_key,
        "due_at": due_at,
        "payload": payload,
        "person_id": person_id,
        "community_id": community_id,
        "urgent": urgent,
        "status": OutboxStatus.SENDING if sends_itself else OutboxStatus.PENDING,
        "attempts": 0,  # counted when a request is made (see the module doc)
        "claimed_at": now if sends_itself else None,
        "created_at": now,
    }
    written = await _ENQUEUE.rows(session, values)
    if not written:
        return False
    ((row_id,),) = written
    if sends_itself:
        session.info.setdefault(QUEUED, []).append(Outbox(id=row_id, **values))
    return True


async def enqueue_to_person(
    session: AsyncSession,
    person_id: int | None,
    *,
    kind: str,
    dedupe_key: str,
    due_at: datetime,
    payload: dict[str, Any],
    now: datetime,
    community_id: int | None = None,
    urgent: bool = False,
) -> bool:
    """Queue a message to a person's own chat; False when they have no Telegram chat (logged
    by phone: staff call them instead) or a row with this dedupe key already exists."""
    person = await session.get(Person, person_id) if person_id is not None else None
    if person is None or person.telegram_user_id is None:
        return False
    return await enqueue(
        session,
        chat_id=person.telegram_user_id,
        kind=kind,
        dedupe_key=dedupe_key,
        due_at=due_at,
        payload=payload,
        now=now,
        person_id=person.id,
        community_id=community_id,
        urgent=urgent,
    )


def _claim_statement(for_update: bool) -> Any:
    """Take the due rows, oldest first: pending ones, and ones a dispatcher claimed but never
    finished (it died) longer than STALE_CLAIM ago. Built once per dialect, with bind
    parameters, because every dispatch runs it."""
    due = and_(
        col(Outbox.due_at) <= bindparam("now"),
        or_(
            col(Outbox.status) == OutboxStatus.PENDING,
            and_(
                col(Outbox.status) == OutboxStatus.SENDING,
                col(Outbox.claimed_at) < bindparam("stale_before"),
            ),
        ),
    )
    pick = (
        select(col(Outbox.id))
        .where(due)
        .order_by(col(Outbox.due_at), col(Outbox.id))
        .limit(bindparam("limit"))
    )
    if for_update:  # PostgreSQL: several dispatchers skip each other's rows instead of waiting
        pick = pick.with_for_update(skip_locked=True)
    return _claiming(col(Outbox.id).in_(pick.scalar_subquery()))


def _claiming(*which: Any) -> Any:
    """UPDATE … RETURNING that marks the rows `which` selects as being sent, now."""
    return (
        update(Outbox)
        .where(*which)
        .values(status=OutboxStatus.SENDING, claimed_at=bindparam("now"))
        .returning(Outbox)
        .execution_options(synchronize_session=False)
    )


_CLAIM = {"postgresql": _claim_statement(True), "sqlite": _claim_statement(False)}


async def claim_due(session: AsyncSession, *, now: datetime, limit: int = 50) -> list[Outbox]:
    """Take up to `limit` due rows for this dispatcher, oldest first, atomically."""
    params = {"now": now, "stale_before": now - STALE_CLAIM, "limit": limit}
    rows = list((await session.exec(_CLAIM[dialect_of(session)], params=params)).scalars().all())
    return sorted(rows, key=lambda r: (r.due_at, r.id or 0))


def claim_queued(session: AsyncSession) -> list[Outbox]:
    """The rows this session queued for itself (see SENDS_AFTER_COMMIT), claimed when they were
    written: the update sends them once it has committed. If the sender dies they are taken
    again after STALE_CLAIM, like `claim_due`'s rows."""
    rows = session.info.pop(KEPT, []) + session.info.pop(QUEUED, [])
    return sorted(rows, key=lambda r: (r.due_at, r.id or 0))


async def _set(session: AsyncSession, statement: Direct, row: Outbox, **values: Any) -> None:
    assert row.id is not None
    await statement.execute(session, {"row_id": row.id, **values})


async def mark_sent(session: AsyncSession, row: Outbox, *, now: datetime) -> None:
    """Telegram took it (one attempt)."""
    await _set(session, _SENT, row, status=OutboxStatus.SENT, sent_at=now, last_error=None)


async def mark_done(
    session: AsyncSession, row: Outbox, *, status: OutboxStatus, now: datetime
) -> None:
    """Finished without a request (nothing left to say): no attempt."""
    await _set(session, _DONE, row, status=status, sent_at=now)


async def retry_later(session: AsyncSession, row: Outbox, *, at: datetime, error: str) -> None:
    """A request failed in a way worth trying again (one attempt): pending again at `at`."""
    await _set(
        session,
        _RETRY,
        row,
        status=OutboxStatus.PENDING,
        due_at=at,
        claimed_at=None,
        last_error=error,
    )


async def postpone(session: AsyncSession, row: Outbox, *, at: datetime, reason: str) -> None:
    """Pending again at `at` without a request made (quiet hours, a batch given back, a 429
    that Telegram answered before taking the message): no attempt."""
    await _set(
        session,
        _POSTPONE,
        row,
        status=OutboxStatus.PENDING,
        due_at=at,
        claimed_at=None,
        last_error=reason,
    )


async def mark_failed(
    session: AsyncSession, row: Outbox, *, error: str, attempted: bool = True
) -> None:
    """Given up: Telegram refused it (an attempt), or it could not even be written."""
    await _set(
        session,
        _FAILED if attempted else _DROPPED,
        row,
        status=OutboxStatus.FAILED,
        last_error=error,
    )


async def cancel(session: AsyncSession, *, key_prefixes: Sequence[str]) -> int:
    """Cancel pending rows whose dedupe key starts with any prefix (e.g. `due:<issue>:`)."""
    if not key_prefixes:
        return 0
    match = or_(*(col(Outbox.dedupe_key).startswith(p) for p in key_prefixes))
    result = await session.exec(
        update(Outbox)
        .where(match, col(Outbox.status) == OutboxStatus.PENDING)
        .values(status=OutboxStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)


async def next_due(session: AsyncSession) -> datetime | None:
    rows = await session.exec(
        sqlmodel_select(Outbox.due_at)
        .where(col(Outbox.status) == OutboxStatus.PENDING)
        .order_by(col(Outbox.due_at))
        .limit(1)
    )
    return rows.first()


# Issues whose messages' dedupe keys still matter: reminders about them are planned again and
# again (storage/reminders.py; storage/escalation.py, which also follows transferred issues),
# and a forgotten key would queue one a second time.
_LIVE_ISSUE = frozenset({*OPEN, IssueStatus.RESOLVED, IssueStatus.TRANSFERRED})


async def prune(session: AsyncSession, *, sent_before: datetime, failed_before: datetime) -> int:
    """Forget sent and cancelled rows finished before `sent_before`, and failed ones created
    before `failed_before`; rows about an issue still open or awaiting its follow-up stay.
    Returns how many rows were deleted."""
    finished = func.coalesce(col(Outbox.sent_at), col(Outbox.created_at))
    about_live_issue = exists().where(
        col(Issue.id) == col(Outbox.payload)["issue_id"].as_integer(),
        col(Issue.status).in_(list(_LIVE_ISSUE)),
    )
    result = await session.exec(
        delete(Outbox)
        .where(
            or_(
                and_(
                    col(Outbox.status).in_([OutboxStatus.SENT, OutboxStatus.CANCELLED]),
                    finished < sent_before,
                ),
                and_(
                    col(Outbox.status) == OutboxStatus.FAILED,
                    col(Outbox.created_at) < failed_before,
                ),
            ),
            ~about_live_issue,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)
