"""The real `python -m bot` as a child process for fault tests: its log kept in a file for the
failure message, its /healthz watched the way a monitor would, and its stop timed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from emulator.server import Signal


class BotProcess:
    """One `python -m bot` run; `env` as tests/bot/test_crash_recovery.py's `_bot_env` makes it."""

    def __init__(self, env: dict[str, str], folder: Path, name: str = "bot") -> None:
        self.env, self.folder = env, folder
        self.log_path = folder / f"{name}.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                env=self.env,
                cwd=self.folder,
                stdout=log,
                stderr=log,
            )

    async def terminate(self, within: float) -> float | None:
        """SIGTERM; the seconds the process took to end, or None when it was still running
        after `within` seconds (it is then killed, so the test does not hang)."""
        assert self.proc is not None
        if self.proc.returncode is not None:
            return 0.0
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), timeout=within)
        except TimeoutError:
            self.kill()
            await self.proc.wait()
            return None
        return time.monotonic() - started

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()

    async def close(self) -> None:
        """Whatever happened, leave no process behind."""
        self.kill()
        if self.proc is not None:
            await self.proc.wait()

    def log_tail(self, first: int = 12, last: int = 30) -> str:
        """The bot's log, shortened for a failure message: tracebacks to their last line, a
        line repeated in a row to one with a count, then the first problems and the end."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no bot log)"
        kept: list[list[object]] = []  # [line, repeats]
        for line in text.splitlines():
            if line.startswith(("  ", "Traceback", "During handling", "The above exception")):
                continue  # a traceback's frames; its final "SomeError: …" line is kept
            if " INFO alembic." in line or not line.strip():
                continue  # each /healthz reads the revision: noise here
            line = line if len(line) <= 300 else line[:300] + " …"
            if kept and _message(str(kept[-1][0])) == _message(line):
                kept[-1][1] = int(str(kept[-1][1])) + 1
                continue
            kept.append([line, 1])
        shown = [f"{line}" + (f"  (×{n} in a row)" if n != 1 else "") for line, n in kept]
        problems = [i for i, line in enumerate(shown) if " ERROR " in line or " WARNING " in line]
        head = [shown[i] for i in problems[:first] if i < len(shown) - last]
        parts = [f"bot log ({len(shown)} lines):"]
        if head:
            parts += ["first problems:", *head, "…", "end:"]
        return "\n".join(parts + shown[-last:])


def _message(line: str) -> str:
    """A log line without its timestamp ("2026-12-07 20:10:39,325 "), to spot repeats."""
    return line[24:] if line[:4].isdigit() and line[4:5] == "-" else line


@dataclass
class Observation:
    at: float  # time.monotonic()
    status: int | None  # HTTP status, None when /healthz did not answer
    body: str


@dataclass
class HealthWatch:
    """Asks /healthz over and over, as a monitor does, and keeps every answer. Tests wait on
    `until` (woken by each new answer) and read the timeline afterwards."""

    url: str
    every: float = 0.25  # between asks: a monitor's pace, not a wait for an event
    answer_within: float = 3.0
    seen: list[Observation] = field(default_factory=list)
    _signal: Signal = field(default_factory=Signal)
    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> HealthWatch:
        self._task = asyncio.create_task(self._run(), name="healthz-watch")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.answer_within)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while True:
                try:
                    async with http.get(self.url) as response:
                        body = await response.text()
                        self.seen.append(Observation(time.monotonic(), response.status, body))
                except (aiohttp.ClientError, TimeoutError) as exc:
                    self.seen.append(Observation(time.monotonic(), None, type(exc).__name__))
                self._signal.fire()
                await asyncio.sleep(self.every)

    async def until(self, status: int, within: float, *, after: float = 0.0) -> bool:
        """Wait until /healthz answered `status` at or after monotonic time `after`; False
        when it did not within `within` seconds."""
        try:
            await self._signal.wait_for(
                lambda: any(o.status == status and o.at >= after for o in self.seen), within
            )
        except TimeoutError:
            return False
        return True

    def between(self, start: float, end: float) -> list[Observation]:
        return [o for o in self.seen if start <= o.at <= end]

    @staticmethod
    def summary(observations: list[Observation]) -> str:
        """ "200×12, 503×30, no answer×2", in order of first appearance."""
        counts: dict[str, int] = {}
        for o in observations:
            key = "no answer" if o.status is None else str(o.status)
            counts[key] = counts.get(key, 0) + 1
        return ", ".join(f"{k}×{n}" for k, n in counts.items()) or "nothing"
