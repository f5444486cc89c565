"""Telegram's side fails (issue #20, "Fault tests"): the Bot API answers 502 and then nothing at
all for 20 s mid-burst, and recovers: nothing lost, nothing doubled; and a 429 with
`retry_after` 10 on one resident's chat: the others are answered at their usual speed, and the
flooded resident still gets every message once the 429 ends.

Both run on the suite's database (TEST_DATABASE_URL, else SQLite), each with a database of its
own as the crash test makes it.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from emulator import BotApiEmulator
from tests.bot.test_crash_recovery import _own_database
from tests.bot_process import BotProcess
from tests.faults.api_faults import chat_flood, flood_refusals, refused_by_outage
from tests.faults.harness import (
    FAULTS,
    Burst,
    Fault,
    Findings,
    Resident,
    bot_env,
    burst_across_fault,
    check_notebook,
    check_transcripts,
    prepare,
    reports_in_turn,
    stop_bot,
)
from tests.pg_cluster import free_port

pytestmark = FAULTS

OUTAGE = float(os.environ.get("FAULT_OUTAGE_SECONDS", "20"))
RETRY_AFTER = 10
OTHERS = 10  # residents reporting beside the flooded one
REPORTS_EACH = 2
PATIENCE = 60.0  # seconds a round of reports may take before the test gives up on it
SLOWER_AT_MOST = 3.0  # the others' slow reports during the flood, against the baseline's


async def test_bot_api_down_mid_burst_loses_and_doubles_nothing(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    @asynccontextmanager
    async def bad_gateway_then_silence() -> AsyncIterator[None]:
        """502 to every call for the first half, then no answer at all (the bot's own
        timeouts fire) for the second."""
        emulator.outage(502)
        silence = asyncio.get_running_loop().call_later(
            OUTAGE / 2, functools.partial(emulator.outage, 502, timeout=True)
        )
        try:
            yield
        finally:
            silence.cancel()
            emulator.end_outage()

    fault = Fault(
        "Bot API outage: 502, then no answer",
        cause=bad_gateway_then_silence,
        seconds=OUTAGE,
        health_degraded=False,
    )
    async with _own_database(tmp_path) as url:
        await burst_across_fault(emulator, tmp_path, url, fault, Burst())
    assert refused_by_outage(emulator) > 0, "the outage refused no call: the bot made none"


def _p90(seconds: list[float]) -> float:
    ordered = sorted(seconds)
    return ordered[int(0.9 * (len(ordered) - 1))]


async def _round(
    emulator: BotApiEmulator, residents: list[Resident], label: str, findings: Findings
) -> list[float]:
    """Each resident makes REPORTS_EACH reports in turn, all at once; the seconds from each
    text to its confirmation."""
    before = {id(r): len(r.reports) for r in residents}
    work = asyncio.gather(
        *(
            reports_in_turn(
                emulator, r, [f"{label} report {r.user.id}-{k} <&>" for k in range(REPORTS_EACH)]
            )
            for r in residents
        )
    )
    try:
        await asyncio.wait_for(work, timeout=PATIENCE)
    except TimeoutError:
        findings.add(f"the {label} round was not over within {PATIENCE:.0f} s")
    made = [t for r in residents for t in r.reports[before[id(r)] :]]
    return [t.seconds for t in made if t.seconds is not None]


async def test_429_on_one_chat_leaves_the_others_at_their_usual_speed(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    findings = Findings()
    async with _own_database(tmp_path) as url:
        residents = await prepare(url, emulator, OTHERS + 1, name="Resident")
        flooded, others = residents[0], residents[1:]
        bot = BotProcess(bot_env(emulator, url, free_port()), tmp_path)
        await bot.start()
        flooded_work: asyncio.Task[None] | None = None
        try:
            # The first update pays for the bot's start; nobody's time should include it.
            await asyncio.wait_for(
                reports_in_turn(emulator, flooded, ["report before the flood <&>"]),
                timeout=PATIENCE,
            )
            usual = await _round(emulator, others, "baseline", findings)
            chat = flooded.user.chat_id
            async with chat_flood(emulator, chat, retry_after=RETRY_AFTER):
                flooded_work = asyncio.create_task(
                    reports_in_turn(
                        emulator, flooded, [f"flooded report {k} <&>" for k in range(REPORTS_EACH)]
                    )
                )
                try:
                    await emulator.signal.wait_for(
                        lambda: flood_refusals(emulator, chat) > 0, timeout=PATIENCE
                    )
                except TimeoutError:
                    findings.add(f"no call to the flooded chat within {PATIENCE:.0f} s")
                flood_began = time.monotonic()
                during = await _round(emulator, others, "during", findings)
                findings.note(
                    f"the others' round ended {time.monotonic() - flood_began:.1f} s into the "
                    f"{RETRY_AFTER} s flood; {flood_refusals(emulator, chat)} calls to the "
                    "flooded chat got 429"
                )
                try:
                    await asyncio.wait_for(asyncio.shield(flooded_work), timeout=PATIENCE)
                except TimeoutError:
                    findings.add(
                        f"the flooded resident's reports were not over {PATIENCE:.0f} s after "
                        f"the others': {flooded.doing}"
                    )
            if usual and during:
                ratio = _p90(during) / _p90(usual)
                findings.note(
                    f"seconds to confirmation, 90th percentile: baseline {_p90(usual):.2f}, "
                    f"during the flood {_p90(during):.2f} (×{ratio:.1f}); slowest "
                    f"{max(usual):.2f} and {max(during):.2f}"
                )
                if ratio > SLOWER_AT_MOST:
                    findings.add(
                        f"the others were answered ×{ratio:.1f} slower during one chat's 429 "
                        f"(at most ×{SLOWER_AT_MOST:.0f}): 90th percentile {_p90(during):.2f} s "
                        f"against {_p90(usual):.2f} s"
                    )
            await stop_bot(bot, findings)
        finally:
            if flooded_work is not None:
                flooded_work.cancel()
                await asyncio.gather(flooded_work, return_exceptions=True)
            await bot.close()
        await check_notebook(url, residents, findings)
    check_transcripts(residents, findings)
    if findings.lines:
        pytest.fail(findings.verdict(bot), pytrace=False)
