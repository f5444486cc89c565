"""The update queue that stores before it accepts.

python-telegram-bot's Updater puts every fetched update on `Application.update_queue` and only
then confirms the offset to Telegram (polling), or answers 200 (webhook). Making `put` commit
the update to the inbox table first means Telegram forgets an update only once it is safe in
our database. `NotebookApplication.process_update` marks it done; `replay_pending` feeds back,
in order, whatever a crash left unprocessed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from telegram import Bot, Update

from storage import inbox
from storage.db import Database

log = logging.getLogger(__name__)


class DurableUpdateQueue(asyncio.Queue):
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.db = db
        self.clock = clock

    async def put(self, item: object) -> None:
        if isinstance(item, Update):
            async with self.db.session() as session:
                fresh = await inbox.store(
                    session, update_id=item.update_id, payload=item.to_dict(), now=self.clock()
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
