"""Telegram's limits, kept per chat: a 429 for one chat holds back that chat only.

python-telegram-bot's AIORateLimiter stops every request of the bot while it waits out a 429,
whichever chat it was for: one resident's flood control (Telegram may ask for 10 s and more)
would delay every other resident's answer. Here:

- the bot's overall rate and each group's per-minute rate are kept as Telegram asks
  (`RATE_LIMIT_OVERALL_PER_SECOND`, `RATE_LIMIT_GROUP_PER_MINUTE`);
- a 429 for one chat is not waited out here: the caller decides, knowing what it holds. The
  answers after an update's commit wait it out in that chat's own turn (delivery/answers.py); the
  outbox dispatcher reschedules the row and goes on with other chats (delivery/dispatch.py);
- 429s for two different chats within FLOOD_WINDOW mean the bot as a whole is over Telegram's
  limit: then every request waits here until the longer `retry_after` has passed, as Telegram
  would refuse it anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

JSONDict = dict[str, Any]
FLOOD_WINDOW = 1.0  # seconds: 429s for different chats this close mean a bot-wide flood


def retry_seconds(exc: RetryAfter) -> float:
    """How long Telegram asked us to wait (python-telegram-bot gives seconds or a timedelta)."""
    wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


class ChatRateLimiter(BaseRateLimiter[int]):
    def __init__(self, *, overall_per_second: float, group_per_minute: float) -> None:
        self._overall = AsyncLimiter(overall_per_second, 1)
        self._group_per_minute = group_per_minute
        self._groups: dict[Any, AsyncLimiter] = {}
        self._last_flood: tuple[float, Any] | None = None  # (loop time, chat) of the last 429
        self._paused_until = 0.0  # loop time: a bot-wide flood is being waited out

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        chat_id = _chat_key(data.get("chat_id"))
        loop = asyncio.get_running_loop()
        pause = self._paused_until - loop.time()
        if pause > 0:  # the bot as a whole is over Telegram's limit: everyone waits
            await asyncio.sleep(pause)
        try:
            if chat_id is None:
                return await callback(*args, **kwargs)
            async with self._overall:
                if (isinstance(chat_id, int) and chat_id < 0) or isinstance(chat_id, str):
                    async with self._group(chat_id):
                        return await callback(*args, **kwargs)
                return await callback(*args, **kwargs)
        except RetryAfter as exc:
            seconds = retry_seconds(exc)
            now, last = loop.time(), self._last_flood
            if last is not None and last[1] != chat_id and now - last[0] < FLOOD_WINDOW:
                self._paused_until = max(self._paused_until, now + seconds)
            self._last_flood = (now, chat_id)
            raise

    def _group(self, chat_id: Any) -> AsyncLimiter:
        limiter = self._groups.get(chat_id)
        if limiter is None:
            limiter = self._groups[chat_id] = AsyncLimiter(self._group_per_minute, 60)
        return limiter


def _chat_key(chat_id: Any) -> Any:
    """A chat id as an int where it is one (python-telegram-bot may hand it as a string)."""
    if isinstance(chat_id, str):
        try:
            return int(chat_id)
        except ValueError:
            return chat_id  # @channelname
    return chat_id
