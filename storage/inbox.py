"""Durable intake: an update is a row here before Telegram hears that we have it.

Polling advances the offset, and a webhook answers 200, only after `store` committed. The
application marks the row done in the same transaction as everything the update changed
(`finish`), and only if it is still pending: an update is handled once, whichever instance or
retry gets there first.

A row is held by one instance at a time: `owner` and `lease_until`. The instance that stores a
row holds it while it is queued and handled (and renews the lease meanwhile, `renew`). When
handling fails, the row stays pending with the error noted and a back-off (`failed_attempt`),
free for any instance's retry (`take_due`) once the back-off has passed; after MAX_ATTEMPTS
failures that were the update's own (not the database's or the network's) it is marked failed
for a person to look at. A crash leaves the row leased: its instance takes it back at its next
start (`take_own`), any other instance once the lease has run out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, or_, update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import INSERTS, dialect_of
from storage.fast.direct import Direct
from storage.models import InboxStatus, InboxUpdate

INBOX = InboxUpdate.metadata.tables["inbox_update"]
# How long an instance holds a row it stored or took: renewed while the row is queued or being
# handled (`renew`), so it only runs out when the instance is gone.
LEASE = timedelta(minutes=2)
# Failures of the update's own (a handler's bug, bad data) before it is given up on.
MAX_ATTEMPTS = 6
# Every update ends with it: built once, and run on SQLite's connection directly
# (storage/fast/direct.py). Only a pending row is finished: if another instance, or an earlier try,
# finished it first, nothing is changed and the caller rolls back what it did.
_FINISH = Direct(
    update(INBOX)
    .where(INBOX.c.update_id == bindparam("id"), INBOX.c.status == InboxStatus.PENDING)
    .values(
        status=InboxStatus.DONE,
        processed_at=bindparam("at"),
        answers=bindparam("answers"),
        owner=None,
        lease_until=None,
    )
)
_EXISTS = Direct(select(INBOX.c.status).where(INBOX.c.update_id == bindparam("id")))
# The answers of these updates went out (delivery/answers.py): nothing is owed any more.
_PAID = (
    update(INBOX)
    .where(INBOX.c.update_id.in_(bindparam("ids", expanding=True)))
    .values(answers=None)
)
# INSERT … ON CONFLICT DO NOTHING RETURNING, per database, its values given as parameters (values
# written into the statement would make it a new statement to compile every time). The Core
# table, not the ORM's bulk insert: RETURNING as the database says.
_INSERT_NEW = {
    dialect: insert(INBOX)
    .on_conflict_do_nothing(index_elements=["update_id"])
    .returning(INBOX.c.update_id)
    for dialect, insert in INSERTS.items()
}


async def store(
    session: AsyncSession,
    *,
    update_id: int,
    payload: dict[str, Any],
    now: datetime,
    owner: str | None = None,
) -> bool:
    """Keep an update; False when it was stored before (Telegram sent it again)."""
    return update_id in await store_batch(session, [(update_id, payload)], now=now, owner=owner)


async def store_batch(
    session: AsyncSession,
    updates: list[tuple[int, dict[str, Any]]],
    *,
    now: datetime,
    owner: str | None = None,
) -> set[int]:
    """Keep a batch of updates in one statement; the ids that are new to us.

    Polling hands updates over in batches (getUpdates), so they are kept the same way: one
    insert for the batch, and a look at the stored rows only for ids we had before.
    """
    if not updates:
        return set()
    rows = [
        dict(
            update_id=uid,
            payload=payload,
            status=InboxStatus.PENDING,
            received_at=now,
            attempts=0,
            owner=owner,
            lease_until=now + LEASE,
        )
        for uid, payload in updates
    ]
    fresh = set((await session.exec(_INSERT_NEW[dialect_of(session)], params=rows)).scalars().all())
    for uid, payload in updates:
        if uid not in fresh and await _renumbered(session, uid, payload, now, owner):
            fresh.add(uid)
    return fresh


async def _renumbered(
    session: AsyncSession,
    update_id: int,
    payload: dict[str, Any],
    now: datetime,
    owner: str | None,
) -> bool:
    """An id we stored before, carrying a different update: Telegram may start numbering afresh
    after a quiet week, and then the new update replaces the old record (True)."""
    existing = await session.get(InboxUpdate, update_id)
    if existing is None or same_update(existing.payload, payload):
        return False
    existing.payload = payload
    existing.status = InboxStatus.PENDING
    existing.received_at, existing.processed_at = now, None
    existing.attempts, existing.last_error = 0, None
    existing.owner, existing.lease_until = owner, now + LEASE
    session.add(existing)
    await session.flush()
    return True


def same_update(stored: dict[str, Any], payload: dict[str, Any]) -> bool:
    """Is `payload` the update stored as `stored` (Telegram sent it again), in full or reduced?"""
    if stored.get(REDUCED):
        return reduced(payload) == stored
    return _meaningful(stored) == _meaningful(payload)


# A payload past its time (`reduce_handled`) keeps only this mark and what tells a redelivery of
# the same update from a new one under a reused id: which kind of update it was, its message's
# number and date, a press's own id. Nothing of who sent it or what they wrote.
REDUCED = "reduced"
_FULL = INBOX.c.payload[REDUCED].as_string().is_(None)  # a payload not reduced yet


def reduced(payload: dict[str, Any]) -> dict[str, Any]:
    """What idempotency needs of an update: no name, no Telegram id, no text."""
    kept: dict[str, Any] = {REDUCED: True}
    for kind, body in payload.items():
        if kind == "update_id" or not isinstance(body, dict):
            continue
        kept["kind"] = kind
        message = body.get("message") if kind == "callback_query" else body
        if kind in ("callback_query", "inline_query", "pre_checkout_query", "shipping_query"):
            kept["id"] = body.get("id")
        if isinstance(message, dict):
            for key in ("message_id", "date", "edit_date"):
                if isinstance(message.get(key), int):
                    kept[key] = message[key]
        break
    return kept


def _meaningful(value: Any) -> Any:
    """An update's content without the empty and false fields, so the same update compares
    equal whether stored as Telegram sent it or as python-telegram-bot writes it back (which
    adds `"group_chat_created": false` and the like)."""
    if isinstance(value, dict):
        return {
            k: _meaningful(v)
            for k, v in value.items()
            if not (v is None or v is False or v == [] or v == {})
        }
    if isinstance(value, list):
        return [_meaningful(v) for v in value]
    return value


async def finish(
    session: AsyncSession,
    *,
    update_id: int,
    now: datetime,
    answers: list[Any] | None = None,
) -> bool:
    """The update is handled, in the transaction of what it changed; `answers`: the Bot API
    calls it makes after this commits, owed until `paid` (a crash in between leaves them for
    `owed` at the next start). False when the update was handled already (by another instance,
    or an earlier try): the caller must roll back. An update that was never stored (a test's,
    or one made in-process) is finished by definition."""
    changed = await _FINISH.execute(
        session, {"id": update_id, "at": now, "answers": answers or None}
    )
    if changed:
        return True
    return not await _EXISTS.rows(session, {"id": update_id})


def backoff(attempts: int) -> timedelta:
    """How long a row waits after its `attempts`-th failure: 5 s, 15 s, 45 s … at most 10 min."""
    return timedelta(seconds=min(5 * 3 ** max(attempts - 1, 0), 600))


async def failed_attempt(
    session: AsyncSession,
    *,
    update_id: int,
    now: datetime,
    error: str,
    counts: bool,
    answers: list[Any] | None = None,
    press_answered: bool = False,
) -> str | None:
    """Handling the update failed: note why, and let it wait its back-off, free for any
    instance's retry. `counts`: the failure was the update's own (a bug, bad data), not the
    database's or the network's; after MAX_ATTEMPTS of those the row is marked failed.
    `press_answered`: this try answers the update's button press, so no later try may.
    Returns the row's new status (None: the row is not ours to mark, it was handled already)."""
    row = await session.get(InboxUpdate, update_id)
    if row is None or row.status != InboxStatus.PENDING:
        return None
    attempts = row.attempts + (1 if counts else 0)
    given_up = attempts >= MAX_ATTEMPTS
    answered = {"press_answered": True} if press_answered else {}
    await session.exec(
        update(INBOX)
        .where(INBOX.c.update_id == update_id, INBOX.c.status == InboxStatus.PENDING)
        .values(
            attempts=attempts,
            last_error=error[:500],
            status=InboxStatus.FAILED if given_up else InboxStatus.PENDING,
            processed_at=now if given_up else None,
            answers=answers or None,
            owner=None,
            lease_until=None if given_up else now + backoff(max(attempts, 1)),
            **answered,
        )
    )
    session.expire(row)
    return InboxStatus.FAILED if given_up else InboxStatus.PENDING


async def take_due(
    session: AsyncSession, *, owner: str, now: datetime, skip: set[int], limit: int = 100
) -> list[InboxUpdate]:
    """Pending rows whose lease or back-off has run out, oldest first, now held by `owner`
    (`skip`: rows this instance holds in memory already). Each is taken with a conditional
    UPDATE, so two instances never take the same row."""
    rows = await session.exec(
        select(InboxUpdate)
        .where(
            InboxUpdate.status == InboxStatus.PENDING,
            or_(col(InboxUpdate.lease_until).is_(None), col(InboxUpdate.lease_until) <= now),
        )
        .order_by(col(InboxUpdate.update_id))
        .limit(limit + len(skip))
    )
    candidates = [row for row in rows.all() if row.update_id not in skip][:limit]
    return await _take(session, candidates, owner=owner, now=now, only_expired=True)


async def take_own(
    session: AsyncSession, *, owner: str, now: datetime, everything: bool, limit: int = 10_000
) -> list[InboxUpdate]:
    """At the start: the pending rows this instance held when it stopped (a crash, a stop with
    work left), whatever their lease, and every row whose lease has run out; `everything`
    takes every pending row (polling: there is one instance only). Oldest first, now held by
    `owner`."""
    conditions: list[Any] = [InboxUpdate.status == InboxStatus.PENDING]
    if not everything:
        conditions.append(
            or_(
                col(InboxUpdate.owner) == owner,
                col(InboxUpdate.lease_until).is_(None),
                col(InboxUpdate.lease_until) <= now,
            )
        )
    rows = await session.exec(
        select(InboxUpdate).where(*conditions).order_by(col(InboxUpdate.update_id)).limit(limit)
    )
    return await _take(session, list(rows.all()), owner=owner, now=now, only_expired=False)


async def _take(
    session: AsyncSession,
    rows: list[InboxUpdate],
    *,
    owner: str,
    now: datetime,
    only_expired: bool,
) -> list[InboxUpdate]:
    taken = []
    for row in rows:
        statement = update(INBOX).where(
            INBOX.c.update_id == row.update_id, INBOX.c.status == InboxStatus.PENDING
        )
        if only_expired:  # nobody took it meanwhile
            statement = statement.where(
                or_(INBOX.c.lease_until.is_(None), INBOX.c.lease_until <= now)
            )
        result = await session.exec(statement.values(owner=owner, lease_until=now + LEASE))
        if result.rowcount:
            taken.append(row)
    return taken


async def renew(session: AsyncSession, *, owner: str, update_ids: list[int], now: datetime) -> None:
    """This instance still holds these rows (queued, being handled, or waiting to be tried
    again in memory): its lease goes on."""
    for start in range(0, len(update_ids), 500):
        await session.exec(
            update(INBOX)
            .where(
                INBOX.c.update_id.in_(update_ids[start : start + 500]),
                INBOX.c.status == InboxStatus.PENDING,
            )
            .values(owner=owner, lease_until=now + LEASE)
        )


async def mark_unreadable(session: AsyncSession, *, update_id: int, now: datetime) -> None:
    """A stored update that cannot be read back: failed at once, nothing to retry."""
    await session.exec(
        update(INBOX)
        .where(INBOX.c.update_id == update_id)
        .values(
            status=InboxStatus.FAILED,
            processed_at=now,
            last_error="unreadable payload",
            owner=None,
            lease_until=None,
        )
    )


async def paid(session: AsyncSession, update_ids: list[int]) -> None:
    """These updates' answers have gone out."""
    if update_ids:
        await session.exec(_PAID, params={"ids": update_ids})


async def owe(session: AsyncSession, *, update_id: int, answers: list[Any]) -> None:
    """What is still owed of an update's answers (those sent are None in the list)."""
    remaining = answers if any(a is not None for a in answers) else None
    await session.exec(
        update(INBOX).where(INBOX.c.update_id == update_id).values(answers=remaining)
    )


async def owed(session: AsyncSession, *, limit: int = 10_000) -> list[tuple[int, list[Any]]]:
    """Handled updates whose answers may not have gone out (the process died), oldest first;
    an answer that went out already is None."""
    rows = await session.exec(
        select(InboxUpdate.update_id, InboxUpdate.answers)
        .where(col(InboxUpdate.answers).is_not(None))
        .order_by(col(InboxUpdate.update_id))
        .limit(limit)
    )
    return [(uid, list(answers or [])) for uid, answers in rows.all()]


async def counts(session: AsyncSession) -> dict[str, int]:
    """How many rows in each status (for `python -m bot status`)."""
    rows = await session.exec(
        select(InboxUpdate.status, func.count()).group_by(col(InboxUpdate.status))
    )
    return {str(status): int(n) for status, n in rows.all()}


async def reduce_handled(
    session: AsyncSession,
    *,
    processed_before: datetime | None = None,
    update_ids: list[int] | None = None,
    batch: int = 500,
) -> int:
    """Reduce the payloads of handled (done or failed) updates to what idempotency needs
    (`reduced`): those handled before `processed_before` (the cleaning job, once recovery can
    no longer need them), or the given ones (/forget). A pending update keeps its payload: it
    is still to be handled. Returns how many rows changed; bounded by `batch` per call."""
    query = select(INBOX.c.update_id, INBOX.c.payload).where(
        INBOX.c.status != InboxStatus.PENDING, _FULL
    )
    if processed_before is not None:
        query = query.where(INBOX.c.processed_at < processed_before)
    if update_ids is not None:
        query = query.where(INBOX.c.update_id.in_(update_ids))
    rows = (await session.exec(query.order_by(INBOX.c.update_id).limit(batch))).all()
    changed = 0
    for update_id, payload in rows:
        if not isinstance(payload, dict) or payload.get(REDUCED):
            continue
        await session.exec(
            update(INBOX).where(INBOX.c.update_id == update_id).values(payload=reduced(payload))
        )
        changed += 1
        if changed >= batch:
            break
    return changed


async def reduce_now(session: AsyncSession, update_id: int) -> None:
    """The update being handled gives up its payload in its own transaction (/forget: it
    carries the person's Telegram id); a rollback gives it back for the retry."""
    row = await session.get(InboxUpdate, update_id)
    if row is None or not isinstance(row.payload, dict) or row.payload.get(REDUCED):
        return
    await session.exec(
        update(INBOX).where(INBOX.c.update_id == update_id).values(payload=reduced(row.payload))
    )
    session.expire(row)


async def handled_mentioning(
    session: AsyncSession, matches: Any, *, chunk: int = 1000
) -> list[int]:
    """Handled updates whose full payload `matches` (a function of its JSON text)."""
    found: list[int] = []
    last = None
    while True:
        query = select(INBOX.c.update_id, INBOX.c.payload).where(
            INBOX.c.status != InboxStatus.PENDING, _FULL
        )
        if last is not None:
            query = query.where(INBOX.c.update_id > last)
        rows = (await session.exec(query.order_by(INBOX.c.update_id).limit(chunk))).all()
        if not rows:
            return found
        for update_id, payload in rows:
            if isinstance(payload, dict) and not payload.get(REDUCED) and matches(payload):
                found.append(update_id)
        last = rows[-1][0]


async def prune(
    session: AsyncSession, *, processed_before: datetime, failed_before: datetime
) -> int:
    """Forget handled updates once recovery cannot need them; failed ones stay longer, for a
    person to look at (`python -m bot status` counts them)."""
    result = await session.exec(
        delete(InboxUpdate).where(
            or_(
                (col(InboxUpdate.status) == InboxStatus.DONE)
                & (col(InboxUpdate.processed_at) < processed_before),
                (col(InboxUpdate.status) == InboxStatus.FAILED)
                & (col(InboxUpdate.processed_at) < failed_before),
            )
        )
    )
    return int(result.rowcount)
