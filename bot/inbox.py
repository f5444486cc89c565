"""The update queue that stores before it accepts.

python-telegram-bot's Updater puts every fetched update on `Application.update_queue` and only
then confirms the offset to Telegram (polling), or answers 200 (webhook). Telegram forgets an
update only once it is safe in our database:

- polling: `InboxRequest`, the transport of getUpdates, commits the whole batch Telegram
  answered with (exactly as Telegram sent it, in one transaction) before python-telegram-bot
  even reads it; the offset that confirms it goes out with the next getUpdates, later;
- webhook: `put` commits each update before the webhook answers 200.

`NotebookApplication.process_update` marks it done; `replay_pending` feeds back, in order,
whatever a crash left unprocessed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot, Update
from telegram._utils.types import ODVInput
from telegram.request import BaseRequest, RequestData

from bot.telegram_http import AiohttpRequest
from storage import cleaning, inbox
from storage.db import Database

log = logging.getLogger(__name__)
# Updates still queued when the next getUpdates goes out (bench.load: 2 gave the most updates
# per second; 0 left the bot idle while the request travelled, many meant batches of one).
LOW_WATER = 2


class DurableUpdateQueue(asyncio.Queue):
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.db = db
        self.clock = clock
        self.fetched: set[int] = set()  # stored by InboxRequest, not yet put
        self.fresh: set[int] = set()  # of those, the ones new to us
        self._drained = asyncio.Event()  # set when an update taken leaves LOW_WATER or fewer

    def get_nowait(self) -> Any:
        item = super().get_nowait()  # asyncio.Queue.get ends here too
        if self.qsize() <= LOW_WATER:
            self._drained.set()
        return item

    async def drained(self) -> None:
        """Wait until python-telegram-bot has taken all but LOW_WATER of the queued updates.
        getUpdates waits for this: what arrives meanwhile stays with Telegram and comes in the
        next batch, so under load one request, one answer to parse and one inbox transaction
        serve several updates instead of one each. The few left queued keep the bot busy while
        that request is on its way."""
        while self.qsize() > LOW_WATER:
            self._drained.clear()
            await self._drained.wait()

    async def store_batch(self, updates: list[dict[str, Any]]) -> None:
        batch = [(u["update_id"], u) for u in updates if isinstance(u.get("update_id"), int)]
        async with self.db.session() as session:
            fresh = await inbox.store_batch(session, batch, now=self.clock())
        self.fetched.update(uid for uid, _payload in batch)
        self.fresh.update(fresh)

    async def put(self, item: object) -> None:
        if isinstance(item, Update) and item.update_id in self.fetched:
            self.fetched.discard(item.update_id)
            if item.update_id not in self.fresh:
                return  # Telegram sent it again: done, or queued by replay_pending
            self.fresh.discard(item.update_id)
        elif isinstance(item, Update):  # a webhook's update, one at a time
            payload = item.to_dict()
            cleaned = cleaning.clean_json(payload)
            if cleaned is not payload:  # handled as stored: made again from the cleaned JSON
                item = Update.de_json(cleaned, item.get_bot())
            async with self.db.session() as session:
                fresh = await inbox.store(
                    session, update_id=item.update_id, payload=cleaned, now=self.clock()
                )
            if not fresh:
                # Telegram sent it again (we died before confirming). It is ours already: done,
                # or queued by the replay at start (replay_pending), which handles it once.
                return
        await super().put(item)

    async def replay_pending(self, bot: Bot, *, grace: timedelta) -> int:
        """Queue updates that were stored but never processed, oldest first."""
        async with self.db.session() as session:
            rows = await inbox.pending(session, received_before=self.clock() - grace)
        for row in rows:
            try:
                update = Update.de_json(row.payload, bot)
            except (KeyError, TypeError, ValueError):
                log.error("inbox update %s cannot be read back; marked failed", row.update_id)
                async with self.db.session() as session:
                    await inbox.finish(
                        session, update_id=row.update_id, now=self.clock(), failed=True
                    )
                continue
            await super().put(update)
        if rows:
            log.warning("replaying %d updates a previous run did not finish", len(rows))
        return len(rows)


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
