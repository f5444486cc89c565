"""Bot API faults for the fault tests, on the emulator's own knobs: an outage (every method
answers 502, or no answer at all) and a 429 with `retry_after` on one chat.

The emulator's flood wait ends on its injected clock, which these tests do not move; the bot
waits out `retry_after` in real time, so the flood here is lifted `retry_after` real seconds
after the first 429, as Telegram would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from emulator import BotApiEmulator
from emulator.server import _as_int


def refused_by_outage(emulator: BotApiEmulator) -> int:
    """Requests an outage answered (502, or 504 for one still hanging at its end)."""
    return sum(1 for e in emulator.errors if e.error_code in (502, 504))


def flood_refusals(emulator: BotApiEmulator, chat_id: int) -> int:
    return sum(
        1
        for e in emulator.errors
        if e.error_code == 429 and _as_int(e.params.get("chat_id")) == chat_id
    )


@asynccontextmanager
async def chat_flood(
    emulator: BotApiEmulator, chat_id: int, retry_after: int
) -> AsyncIterator[None]:
    """Flood control on `chat_id` while the block runs: 429 from its first refusal until
    `retry_after` seconds later (the one deliberate wait of this fault)."""
    emulator.flood_chat(chat_id, retry_after=retry_after)

    async def lift() -> None:
        await emulator.signal.wait_for(lambda: flood_refusals(emulator, chat_id) > 0, None)
        await asyncio.sleep(retry_after)
        emulator.lift_flood(chat_id)

    lifter = asyncio.create_task(lift())
    try:
        yield
    finally:
        lifter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await lifter
        emulator.lift_flood(chat_id)
