"""Pure CPU work in a process of its own: a spreadsheet, a PDF, a chart.

Python runs one thread at a time (the GIL): a file written on a worker thread takes the bot's
thread from every chat for as long as it takes, seconds for a month's spreadsheet. So such work
is a function of plain values (dataclasses, lists, a `Translator`, which another process gets as
its language and time zone: runtime/i18n.py) that returns bytes or values, and it runs in one
worker process of the bot's, started when first needed and stopped with the bot
(`Notebook.offload`). Only the function's arguments and result cross over; it reads no
database and sends nothing. `in_process=False` runs it on a worker thread instead.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class Offload:
    def __init__(self, *, in_process: bool = True) -> None:
        self.in_process = in_process
        self._pool: ProcessPoolExecutor | None = None

    def start(self, modules: tuple[str, ...]) -> None:
        """Start the worker process, if it is not running, and have it import `modules` (the
        work's, with their libraries: seconds of imports), so that work asked for soon (a file
        chosen from the menu just shown) does not wait for them. The bot goes on meanwhile."""
        if self.in_process:
            self._executor().submit(_import, modules)

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)` in the worker process (a module-level function: it is named, not
        sent), while the bot's thread goes on."""
        if not self.in_process:
            return await asyncio.to_thread(work, *args)
        return await asyncio.get_running_loop().run_in_executor(self._executor(), work, *args)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn: a fresh interpreter, sharing none of the bot's threads, loop or sockets
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
        return self._pool

    def close(self) -> None:
        """Stop the worker process; work still queued is dropped (its person asks again)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _import(modules: tuple[str, ...]) -> None:
    for name in modules:
        importlib.import_module(name)
