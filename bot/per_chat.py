"""Updates handled one at a time, in the order they came, except that an update waiting
(off the event loop) lets the next ones go meanwhile; one chat's updates always in order.

python-telegram-bot handles one update at a time by default: an update that waits (the digest,
the notebook page or an export reading through `Database.reading()`, a chart drawn on a worker
thread) would hold every chat up for as long as it waits, seconds for an export. Here each
update takes the turn in the order the updates were queued and keeps it until it is done, or
until it has been handled for `TURN` seconds: with SQLite on the loop's thread
(storage/fast/sqlite_inline.py) an update that has not finished by then is waiting, not
working, and the next update takes the turn. Everything else stays as it was with one update at
a time: an update's answers go out between updates (bot/app.py: `process_update`), so few are
ever sent and not yet recorded (delivery/answers.py). A chat's own updates never overtake each
other: each waits for the one before it in the same chat to be done (a press is never handled
before the message that showed its button); updates without a chat keep theirs among themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

TURN = 0.05  # seconds an update keeps the turn while it waits
# No limit of python-telegram-bot's: it makes a task of every queued update anyway, and a
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
        self._turn = asyncio.Lock()  # FIFO: the turns go in the order they were asked for
        self._tails: dict[int | None, asyncio.Future[None]] = {}  # chat -> its last update

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Called in the order the updates were queued (one task each, started in that order),
        so the turns are asked for in that order. An update whose chat's previous one still
        waits gives its turn back until that one is done, then asks again."""
        key = _chat_key(update)
        before = self._tails.get(key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = mine
        held = False
        try:
            await self._turn.acquire()
            held = True
            while before is not None and not before.done():
                self._turn.release()
                held = False
                await asyncio.shield(before)  # a cancelled waiter leaves the chain intact
                await self._turn.acquire()
                held = True
            handling = asyncio.ensure_future(coroutine)
            await asyncio.wait({handling}, timeout=TURN)
            self._turn.release()
            held = False
            await handling  # still waiting: the next update has the turn meanwhile
        finally:
            if held:
                self._turn.release()
            mine.set_result(None)
            if self._tails.get(key) is mine:
                del self._tails[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down: python-telegram-bot waits for the updates being handled."""
