"""Updates of different chats handled side by side; each chat's one after the other.

python-telegram-bot handles one update at a time by default: an update that waits (the digest,
the notebook page or an export reading off the event loop through `Database.reading()`, a chart
drawn on a worker thread) holds every chat up for as long as it waits, seconds for an export.
With this processor the next chat's updates go on meanwhile. With SQLite on the loop's thread
(storage/fast/sqlite_inline.py) an update waits only there, so updates still run one at a time
between such waits. A chat's own updates keep their order: each waits for the one before it in
the same chat (a press is never handled before the message that showed its button); updates
with no chat (none in the notebook's allowed updates today) keep theirs among themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

# No limit of its own: python-telegram-bot makes a task of every queued update anyway, and a
# semaphore that made them queue again could let one chat's updates overtake each other there.
UNLIMITED = 1 << 30


def _chat_key(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user is not None else None


class PerChatUpdates(BaseUpdateProcessor):
    def __init__(self) -> None:
        super().__init__(UNLIMITED)
        self._tails: dict[int | None, asyncio.Future[None]] = {}  # chat -> its last update

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the chat's previous update, then handle this one. Called in the order the
        updates were queued (one task each, started in that order), so the chain keeps it."""
        key = _chat_key(update)
        before = self._tails.get(key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = mine
        try:
            if before is not None:
                await asyncio.shield(before)  # a cancelled waiter leaves the chain intact
            await coroutine
        finally:
            mine.set_result(None)
            if self._tails.get(key) is mine:
                del self._tails[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down: python-telegram-bot waits for the updates being handled."""
