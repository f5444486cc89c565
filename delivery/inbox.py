"""The update queue that stores before it accepts, and retries what could not be handled.

python-telegram-bot's Updater puts every fetched update on `Application.update_queue` and only
then confirms the offset to Telegram (polling), or answers 200 (webhook). Telegram forgets an
update only once it is safe in our database:

- polling: `InboxRequest`, the transport of getUpdates, commits the whole batch Telegram
  answered with (exactly as Telegram sent it, in one transaction) before python-telegram-bot
  even reads it; the offset that confirms it goes out with the next getUpdates, later;
- webhook: `put` commits each update before the webhook answers 200.

What is stored, and handled, is the update cleaned of control characters (storage/cleaning.py).

Each stored row is held by this instance (storage/inbox.py: owner and lease) while it is queued
or handled: `held`. `NotebookApplication.process_update` marks it done in the update's own
transaction, or, when handling failed, notes the failure and lets it go (`release`); a failure
that could not even be noted (the database is down) keeps it here to be tried again
(`retry_in_memory`). `retry_due`, run every few seconds by a job, queues again what is due:
those kept here, and rows of the inbox whose back-off or lease has run out (another instance's
included). `replay_at_start` queues, before anything new, what the last run left. A failed try
answers the update's button press and says so (the row's `press_answered`, and `answered`
here), so that the try that succeeds does not answer it again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from telegram import Bot, Update
from telegram.request import BaseRequest, RequestData

from delivery.telegram_http import AiohttpRequest, ODVInput
from storage import cleaning, inbox
from storage.db import Database
from storage.models import InboxUpdate

log = logging.getLogger(__name__)
# Updates still queued when the next getUpdates goes out (bench.load: 2 gave the most updates
# per second; 0 left the bot idle while the request travelled, many meant batches of one).
LOW_WATER = 2
# How often the leases of the rows held here are renewed (well within storage/inbox.py's LEASE).
RENEW_EVERY = inbox.LEASE / 4


class DurableUpdateQueue(asyncio.Queue):
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        owner: str,
        stopping: asyncio.Event | None = None,
    ) -> None:
        super().__init__()
        self.db = db
        self.clock = clock
        self.owner = owner  # this instance's name, on the rows it holds
        self.stopping = stopping or asyncio.Event()
        self.fetched: set[int] = set()  # stored by InboxRequest, not yet put
        self.fresh: set[int] = set()  # of those, the ones new to us
        self._drained = asyncio.Event()  # set when LOW_WATER or fewer have not begun
        self._taken: set[int] = set()  # taken by python-telegram-bot, their handling not begun
        self.held: dict[int, Update] = {}  # queued or being handled here
        self.attempts: dict[int, int] = {}  # failures of its own a held update had before
        self.answered: set[int] = set()  # held updates whose press an earlier try answered
        self.waiting: dict[int, tuple[Update, datetime]] = {}  # to try again here, and when
        self._renewed: datetime | None = None

    def get_nowait(self) -> Any:
        item = super().get_nowait()  # asyncio.Queue.get ends here too
        if isinstance(item, Update):
            self._taken.add(item.update_id)
        self._note_drained()
        return item

    def begin(self, update_id: int) -> None:
        """Its handling begins (bot/app.py): python-telegram-bot takes every queued update at
        once, each to wait for its turn (bot/per_chat.py), so only this says it is no longer
        waiting."""
        self._taken.discard(update_id)
        self._note_drained()

    def _not_begun(self) -> int:
        return self.qsize() + len(self._taken)

    def _note_drained(self) -> None:
        if self._not_begun() <= LOW_WATER:
            self._drained.set()

    async def drained(self) -> None:
        """Wait until the handling of all but LOW_WATER of the queued updates has begun.
        getUpdates waits for this: what arrives meanwhile stays with Telegram and comes in the
        next batch, so under load one request, one answer to parse and one inbox transaction
        serve several updates instead of one each. The few left queued keep the bot busy while
        that request is on its way. A stopping bot waits no longer."""
        while self._not_begun() > LOW_WATER and not self.stopping.is_set():
            self._drained.clear()
            stop = asyncio.ensure_future(self.stopping.wait())
            drained = asyncio.ensure_future(self._drained.wait())
            try:
                await asyncio.wait((stop, drained), return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
                drained.cancel()

    async def store_batch(self, updates: list[dict[str, Any]]) -> None:
        batch = [(u["update_id"], u) for u in updates if isinstance(u.get("update_id"), int)]
        async with self.db.session() as session:
            fresh = await inbox.store_batch(session, batch, now=self.clock(), owner=self.owner)
        self.fetched.update(uid for uid, _payload in batch)
        self.fresh.update(fresh)

    async def put(self, item: object) -> None:
        if isinstance(item, Update) and item.update_id in self.fetched:
            self.fetched.discard(item.update_id)
            if item.update_id not in self.fresh:
                return  # Telegram sent it again: done, or held here already
            self.fresh.discard(item.update_id)
        elif isinstance(item, Update):  # a webhook's update, one at a time
            payload = item.to_dict()
            cleaned = cleaning.clean_json(payload)
            if cleaned is not payload:  # handled as stored: made again from the cleaned JSON
                item = Update.de_json(cleaned, item.get_bot())
            async with self.db.session() as session:
                fresh = await inbox.store(
                    session,
                    update_id=item.update_id,
                    payload=cleaned,
                    now=self.clock(),
                    owner=self.owner,
                )
            if not fresh:
                # Telegram sent it again (we died before confirming). It is ours already: done,
                # or held by an instance that handles it once.
                return
        if isinstance(item, Update):
            self.held[item.update_id] = item
        await super().put(item)

    async def _requeue(self, update: Update, attempts: int = 0, answered: bool = False) -> None:
        self.held[update.update_id] = update
        self.attempts[update.update_id] = attempts
        if answered:
            self.answered.add(update.update_id)
        await super().put(update)

    def release(self, update_id: int) -> None:
        """Handled, or its failure noted in the inbox: no longer held here."""
        self.held.pop(update_id, None)
        if update_id not in self.waiting:
            self.attempts.pop(update_id, None)
            self.answered.discard(update_id)

    def retry_in_memory(self, update: Update, *, at: datetime, answered: bool) -> None:
        """Its failure could not be noted (the database is down): try it again here at `at`,
        still holding its row. `answered`: its press was answered, the next try must not."""
        self.held.pop(update.update_id, None)
        self.waiting[update.update_id] = (update, at)
        if answered:
            self.answered.add(update.update_id)

    async def retry_due(self, bot: Bot) -> int:
        """Queue again what is due: updates kept here after a failure, then inbox rows whose
        back-off or lease has run out. Renews the leases of what this instance holds."""
        now = self.clock()
        queued = 0
        for update_id, (update, at) in list(self.waiting.items()):
            if at <= now:
                del self.waiting[update_id]
                await self._requeue(update, self.attempts.get(update_id, 0))
                queued += 1
        mine = set(self.held) | set(self.waiting)
        if self._renewed is None or now - self._renewed >= RENEW_EVERY:
            async with self.db.session() as session:
                await inbox.renew(session, owner=self.owner, update_ids=sorted(mine), now=now)
            self._renewed = now
        async with self.db.session() as session:
            rows = await inbox.take_due(session, owner=self.owner, now=now, skip=mine)
        queued += await self._queue_rows(bot, rows)
        if rows:
            log.warning("retrying %d updates whose earlier try failed or was left", len(rows))
        return queued

    async def replay_at_start(self, bot: Bot, *, exclusive: bool) -> int:
        """Queue, oldest first, the updates the last run left pending: all of them when this is
        the only instance (`exclusive`: polling), else those this instance held and those
        whose lease has run out."""
        async with self.db.session() as session:
            rows = await inbox.take_own(
                session, owner=self.owner, now=self.clock(), everything=exclusive
            )
        self._renewed = self.clock()
        queued = await self._queue_rows(bot, rows)
        if rows:
            log.warning("replaying %d updates a previous run did not finish", len(rows))
        return queued

    async def _queue_rows(self, bot: Bot, rows: list[InboxUpdate]) -> int:
        queued = 0
        for row in rows:
            try:  # cleaned again: a row stored before cleaning was done on arrival
                update = Update.de_json(cleaning.clean_json(row.payload), bot)
            except (KeyError, TypeError, ValueError):
                log.error("inbox update %s cannot be read back; marked failed", row.update_id)
                async with self.db.session() as session:
                    await inbox.mark_unreadable(session, update_id=row.update_id, now=self.clock())
                continue
            await self._requeue(update, row.attempts, row.press_answered)
            queued += 1
        return queued


class InboxRequest(AiohttpRequest):
    """The transport of getUpdates: each batch Telegram answers with is committed to the inbox
    before it is handed to python-telegram-bot (which confirms it with the next getUpdates)."""

    __slots__ = ("_parsed", "queue")

    def __init__(self, queue: DurableUpdateQueue, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.queue = queue
        self._parsed: tuple[bytes, Any] | None = None  # the batch read to store it

    def parse_json_payload(self, payload: bytes) -> Any:  # type: ignore[override]
        """python-telegram-bot parses what do_request returned: the batch was parsed already,
        to store it, so that parse is handed over instead of parsing it twice."""
        parsed, self._parsed = self._parsed, None
        if parsed is not None and parsed[0] is payload:
            return parsed[1]
        return BaseRequest.parse_json_payload(payload)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        polling = url.endswith("/getUpdates")
        if polling:
            await self.queue.drained()
        status, body = await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )
        if status == 200 and polling:
            try:
                answer = json.loads(body)
            except ValueError:
                return status, body  # python-telegram-bot reports the garbled answer itself
            answer = cleaning.clean_parsed(body, answer)  # stored and handled as cleaned
            updates = answer.get("result") if isinstance(answer, dict) else None
            if isinstance(updates, list) and updates:
                # If this fails, nothing is confirmed: python-telegram-bot turns the error into
                # a NetworkError, waits and asks again, and Telegram still has the updates.
                await self.queue.store_batch([u for u in updates if isinstance(u, dict)])
            self._parsed = (body, answer)
        return status, body
