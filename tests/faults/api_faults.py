"""Bot API faults the emulator does not offer yet: an outage (every method answers 502, or no
answer at all) and a 429 with `retry_after` on one chat.

A stand-in until helper A's `emulator.outage(status=502)`, `emulator.end_outage()` and
`emulator.flood_chat(chat_id, retry_after=10)` land in bot/emulator/; the tests call these
through `api_outage` and `flood_chat` below, so switching is this file alone. It
wraps the emulator's own request path on the instance (`_dispatch`, `_check_injected_failure`).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.emulator import ApiError, BotApiEmulator
from bot.emulator.server import _as_int, _is_sending_method, too_many_requests


@dataclass
class ApiOutage:
    """While on, every Bot API call (getUpdates too) answers `status`, or, with `hang`, is
    not answered until the outage ends, so the bot's own timeouts fire."""

    emulator: BotApiEmulator
    status: int = 502
    hang: bool = False
    on: bool = False
    refused: int = 0
    _ended: asyncio.Event = field(default_factory=asyncio.Event)

    def install(self) -> None:
        original = self.emulator._dispatch

        async def dispatch(request: web.Request, method: str) -> web.Response:
            if not self.on:
                return await original(request, method)
            if self.hang:
                await self._ended.wait()  # cancelled when the bot gives up on the request
            self.refused += 1
            error = ApiError(self.status, "Bad Gateway" if self.status == 502 else "Injected")
            return self.emulator._error_response(method, {}, error)

        self.emulator._dispatch = dispatch  # type: ignore[method-assign]

    def begin(self, *, hang: bool = False) -> None:
        self.on, self.hang = True, hang
        self._ended = asyncio.Event()

    def end(self) -> None:
        self.on = False
        self._ended.set()


@dataclass
class ChatFlood:
    """Telegram's flood control on one chat: the first message-sending call to it starts a
    window of `retry_after` seconds (real time, as Telegram counts it) in which every such call
    answers 429 with the seconds left; after it, the chat is served again."""

    emulator: BotApiEmulator
    chat_id: int
    retry_after: int = 10
    until: float | None = None
    refused: list[float] = field(default_factory=list)  # monotonic times of the 429s

    def install(self) -> None:
        original = self.emulator._check_injected_failure

        def check(method: str, params: dict[str, Any]) -> None:
            if _is_sending_method(method) and _as_int(params.get("chat_id")) == self.chat_id:
                now = time.monotonic()
                if self.until is None:
                    self.until = now + self.retry_after
                if now < self.until:
                    self.refused.append(now)
                    self.emulator.signal.fire()
                    raise too_many_requests(max(1, math.ceil(self.until - now)))
            original(method, params)

        self.emulator._check_injected_failure = check  # type: ignore[method-assign]

    @property
    def over(self) -> bool:
        return self.until is not None and time.monotonic() >= self.until


def api_outage(emulator: BotApiEmulator, status: int = 502) -> ApiOutage:
    """An outage to `begin()` and `end()` (helper A's API: `emulator.outage(status=502)`)."""
    outage = ApiOutage(emulator, status)
    outage.install()
    return outage


def flood_chat(emulator: BotApiEmulator, chat_id: int, retry_after: int = 10) -> ChatFlood:
    """Flood control armed on `chat_id` (helper A's API: `emulator.flood_chat(...)`)."""
    flood = ChatFlood(emulator, chat_id, retry_after)
    flood.install()
    return flood
