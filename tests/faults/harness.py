"""What the fault tests share: residents reporting against a real `python -m bot`, and the
checks a resident or the secretary would make afterwards.

A resident's report is the crash test's (`tests/bot/test_crash_recovery.py`): a text, then four
button presses, the last edit saying "Your issue is No. …". Here a press waits for the edit it
leads to, not for the answer to the press: an answer owed across an outage comes after
Telegram's 15 s deadline and is refused as too old, which the resident never notices.

The checks collect every finding instead of stopping at the first, so one failing run tells
the whole story: reports missing or filed twice, questions sent twice, a message edited back
to an older text, a confirmation carrying the wrong number, /healthz, and the time to stop.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlmodel import func, select

from emulator import BotApiEmulator, BotMessage
from emulator.driver import UserDriver
from storage import migrate
from storage.db import Database
from storage.models import InboxUpdate, Issue
from tests.bot.test_crash_recovery import _bot_env
from tests.bot_process import BotProcess, HealthWatch
from tests.factories import PHONE_KEY, FakeClock, make_community
from tests.pg_cluster import free_port
from tests.resident_helpers import join

FAULT_TESTS = os.environ.get("FAULT_TESTS") != "0"
# Every fault test module starts with `pytestmark = FAULTS`: part of the suite, as CI runs it;
# FAULT_TESTS=0 leaves them out of a quick local run (each takes most of a minute).
FAULTS = [
    pytest.mark.faults,
    pytest.mark.skipif(not FAULT_TESTS, reason="fault-injection tests left out: FAULT_TESTS=0"),
]

QUESTION = "What is the problem about?"
CONFIRMED = "Your issue is No."
# The report's message through its life: each edit moves it one stage on, never back.
STAGES = (QUESTION, "photo", "Is anyone in danger", "Please check your report", CONFIRMED)
PRESSES = (
    ("Public facilities", STAGES[1]),
    ("No photo", STAGES[2]),
    ("No", STAGES[3]),
    ("✅ Send", STAGES[4]),
)
STOP_WITHIN = 10.0  # seconds SIGTERM may take (issue #20, Must 2)
STEP_LIMIT = 600.0  # a step waits as long as the burst may last; the test bounds the burst
NUMBER = re.compile(r"Your issue is No\. (\d+)")


def stage_of(text: str) -> int:
    """Which stage a version of the report's message shows (the latest stage it names)."""
    for index in range(len(STAGES) - 1, -1, -1):
        if STAGES[index] in text:
            return index
    return -1


@dataclass
class Timed:
    """One report: when its text was sent and when its confirmation arrived (monotonic)."""

    text: str
    sent: float
    confirmed: float | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.confirmed is None else self.confirmed - self.sent


@dataclass
class Resident:
    user: UserDriver
    texts: list[str] = field(default_factory=list)  # every report they make, in order
    doing: str = "not started"  # where they are, for the failure message
    reports: list[Timed] = field(default_factory=list)


async def press(emulator: BotApiEmulator, user: UserDriver, message: BotMessage, text: str) -> None:
    """Tap an inline button without waiting for the press's answer (see the module's doc)."""
    button = message.button(text)
    if button is None or button.callback_data is None:
        raise AssertionError(f"no button {text!r} on #{message.message_id}: {message.text!r}")
    emulator.emit_callback_query(user.record, user.chat, message.raw, button.callback_data)


async def report(emulator: BotApiEmulator, resident: Resident, text: str) -> Timed:
    """One report to the end; waits as long as it takes (the caller bounds the whole burst)."""
    user = resident.user
    known = max((m.message_id for m in user.messages), default=0)
    timed = Timed(text, time.monotonic())
    resident.reports.append(timed)
    resident.doing = f"sent {text!r}, waiting for the question"
    await user.send(text)
    # The first new question after this text: an older copy of a question sent twice is left
    # for the transcript check to count, not taken for this report's.
    question = await user.expect_message(
        predicate=lambda m: (
            m.message_id > known and QUESTION in m.versions[0].text and m.buttons != []
        ),
        timeout=STEP_LIMIT,
    )
    for button, next_stage in PRESSES:
        resident.doing = f"pressed {button!r} on #{question.message_id}, waiting for {next_stage!r}"
        await press(emulator, user, question, button)
        await user.expect_edit(question, contains=next_stage, timeout=STEP_LIMIT)
    timed.confirmed = time.monotonic()
    resident.doing = "done"
    return timed


async def reports_in_turn(emulator: BotApiEmulator, resident: Resident, texts: list[str]) -> None:
    """`texts` one after the other; a resident who cannot go on (a button missing) stops and
    says why in `doing`, so the others carry on and the checks still run."""
    resident.texts.extend(texts)
    try:
        for text in texts:
            await report(emulator, resident, text)
    except AssertionError as exc:
        resident.doing = f"gave up: {str(exc).splitlines()[0]}"


def confirmations(residents: list[Resident]) -> int:
    return sum(1 for r in residents for t in r.reports if t.confirmed is not None)


@dataclass
class Findings:
    """What went wrong, in plain lines; the test asserts there are none."""

    lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # context: counts, timings, health timeline

    def add(self, line: str) -> None:
        self.lines.append(line)

    def note(self, line: str) -> None:
        self.notes.append(line)

    def some(self, what: str, examples: list[str], limit: int = 5) -> None:
        """One line for a kind of finding: how many, and the first few examples."""
        if examples:
            shown = "; ".join(examples[:limit]) + (" …" if len(examples) > limit else "")
            self.add(f"{what}: {len(examples)} ({shown})")

    def verdict(self, bot: BotProcess | None = None) -> str:
        parts = ["FINDINGS:", *(f"- {line}" for line in self.lines)]
        parts += ["CONTEXT:", *(f"  {line}" for line in self.notes)]
        if bot is not None:
            parts.append(bot.log_tail())
        return "\n".join(parts)


async def prepare(url: str, emulator: BotApiEmulator, count: int, *, name: str) -> list[Resident]:
    """Migrate the bot's database, make a community and `count` residents who joined it (no
    building: no "me too" offers)."""
    db = Database(url)
    db.set_phone_key(PHONE_KEY)
    await migrate.upgrade(db)
    community = await make_community(db, FakeClock(), name="邢家桥社区")
    residents = [
        Resident(emulator.user(first_name=f"{name} {i}", language_code="en")) for i in range(count)
    ]
    for resident in residents:
        await join(db, community, resident.user, building=None)
    await db.dispose()
    return residents


def bot_env(emulator: BotApiEmulator, url: str, health_port: int) -> dict[str, str]:
    env = _bot_env(emulator, url)
    env.update(HEALTH_PORT=str(health_port), HEALTH_LISTEN="127.0.0.1", LOG_LEVEL="INFO")
    return env


async def check_notebook(url: str, residents: list[Resident], findings: Findings) -> None:
    """Every report the residents made is filed exactly once, and each resident's k-th
    confirmation carries the number of their k-th report."""
    db = Database(url)
    try:
        async with db.session() as session:
            rows = (await session.exec(select(Issue.description, Issue.number))).all()
            inbox = (
                await session.exec(
                    select(InboxUpdate.status, func.count()).group_by(InboxUpdate.status)
                )
            ).all()
    finally:
        await db.dispose()
    numbers: dict[str, list[int]] = {}
    for description, number in rows:
        numbers.setdefault(description, []).append(number)
    wanted = [text for r in residents for text in r.texts]
    findings.note(f"issues stored: {len(rows)} for {len(wanted)} reports made")
    findings.note("inbox rows by status: " + ", ".join(f"{s} {n}" for s, n in sorted(inbox)))
    findings.some("reports never filed", [t for t in wanted if t not in numbers])
    findings.some(
        "reports filed more than once",
        [f"{t!r} as No. {ns}" for t, ns in numbers.items() if len(ns) > 1],
    )
    findings.some("issues nobody reported", [t for t in numbers if t not in set(wanted)])
    wrong: list[str] = []
    for resident in residents:
        confirmed = [
            m
            for m in resident.user.messages
            if QUESTION in m.versions[0].text and CONFIRMED in m.text
        ]
        for text, message in zip(resident.texts, confirmed, strict=False):
            match = NUMBER.search(message.text)
            filed = numbers.get(text, [])
            if match is None or int(match.group(1)) not in filed:
                wrong.append(f"{resident.user.first_name}: {message.text[:40]!r} for {text!r}")
    findings.some("confirmations with another report's number", wrong)


def check_transcripts(residents: list[Resident], findings: Findings) -> None:
    """Each resident's chat, as they see it: one question per report, each edited forward
    stage by stage to its confirmation, nothing else and nothing twice."""
    unconfirmed: list[str] = []
    doubled: list[str] = []
    backwards: list[str] = []
    stray: list[str] = []
    for resident in residents:
        name = resident.user.first_name
        messages = resident.user.messages
        questions = [m for m in messages if QUESTION in m.versions[0].text]
        stray += [f"{name}: {m.versions[0].text[:50]!r}" for m in messages if m not in questions]
        if len(questions) > len(resident.texts):
            doubled.append(f"{name}: {len(questions)} questions for {len(resident.texts)} reports")
        done = sum(1 for m in questions if CONFIRMED in m.text)
        if done < len(resident.texts):
            unconfirmed.append(
                f"{name}: {done} of {len(resident.texts)} confirmed, now {resident.doing}"
            )
        for m in questions:
            stages = [stage_of(v.text) for v in m.versions]
            if any(b <= a for a, b in itertools.pairwise(stages)):
                backwards.append(f"{name} #{m.message_id}: stages {stages}")
    findings.some("residents without every confirmation", unconfirmed)
    findings.some("questions sent twice", doubled)
    findings.some(
        "messages edited back or twice to a stage (0 = question … 4 = confirmed)", backwards
    )
    findings.some("messages no report explains", stray)


async def stop_bot(bot: BotProcess, findings: Findings) -> None:
    """SIGTERM, timed on the monotonic clock: the process must be gone within STOP_WITHIN."""
    took = await bot.terminate(within=STOP_WITHIN)
    if took is None:
        findings.add(f"SIGTERM did not stop the bot within {STOP_WITHIN:.0f} s (killed)")
    else:
        findings.note(f"SIGTERM stopped the bot in {took:.1f} s")


@dataclass
class Fault:
    """A fault the bot must ride out: `cause()` is in force while its block runs, which lasts
    `seconds` (the outage's length is the one deliberate wait of these tests)."""

    name: str
    cause: Callable[[], AbstractAsyncContextManager[None]]
    seconds: float
    health_degraded: bool  # /healthz must answer 503 during it, and 200 after
    # SIGTERM halfway through the fault (it must still end the bot within STOP_WITHIN); the
    # bot is started again once the fault is over and must finish what was left pending.
    stop_during: bool = False


@dataclass
class Burst:
    """Sizes and patience of a burst of reports across a fault."""

    residents: int = 20
    reports_each: int = 3
    fault_after: float = 1 / 3  # the fault begins once this share of reports is confirmed
    patience: float = 45.0  # seconds the burst may take to finish once the fault ends


async def burst_across_fault(
    emulator: BotApiEmulator, tmp_path: Path, url: str, fault: Fault, burst: Burst
) -> None:
    """The scenario of issue #20's fault tests: residents report; mid-burst the fault begins
    and lasts its time; afterwards nothing is lost or doubled, /healthz told the truth (when
    the fault is the database's) and SIGTERM stops the bot in time."""
    findings = Findings()
    residents = await prepare(url, emulator, burst.residents, name="Resident")
    texts = {
        r.user.id: [f"report {r.user.id}-{k} <&>" for k in range(burst.reports_each)]
        for r in residents
    }
    total = burst.residents * burst.reports_each
    bot = BotProcess(bot_env(emulator, url, health_port := free_port()), tmp_path)
    await bot.start()
    watch = HealthWatch(f"http://127.0.0.1:{health_port}/healthz")
    work = asyncio.gather(*(reports_in_turn(emulator, r, texts[r.user.id]) for r in residents))
    try:
        async with watch:
            threshold = max(1, int(total * burst.fault_after))
            try:
                await emulator.signal.wait_for(
                    lambda: confirmations(residents) >= threshold, timeout=burst.patience
                )
            except TimeoutError:
                findings.add(
                    f"only {confirmations(residents)} of {threshold} reports before the fault"
                )
            began = time.monotonic()
            async with fault.cause():
                findings.note(
                    f"fault began ({fault.name}) with {confirmations(residents)} of {total} "
                    "reports confirmed"
                )
                if fault.stop_during:  # the outage itself: a deliberate length
                    await asyncio.sleep(fault.seconds / 2)
                    await stop_bot(bot, findings)
                    await bot.close()
                    await asyncio.sleep(fault.seconds / 2)
                else:
                    await asyncio.sleep(fault.seconds)
            ended = time.monotonic()
            if fault.stop_during:  # the next start takes up what the stop left
                bot = BotProcess(bot.env, tmp_path, name="bot-again")
                await bot.start()
            findings.note(
                f"fault ended after {ended - began:.1f} s with {confirmations(residents)} confirmed"
            )
            try:
                await asyncio.wait_for(asyncio.shield(work), timeout=burst.patience)
            except TimeoutError:
                findings.add(
                    f"{burst.patience:.0f} s after the fault ended, "
                    f"{confirmations(residents)} of {total} reports were confirmed"
                )
            findings.note(f"burst over {time.monotonic() - ended:.1f} s after the fault ended")
            if fault.health_degraded:
                await check_health(watch, began, ended, findings)
            findings.note("/healthz before the fault: " + watch.summary(watch.between(0, began)))
            findings.note("/healthz during: " + watch.summary(watch.between(began, ended)))
            findings.note(
                "/healthz after: " + watch.summary(watch.between(ended, time.monotonic()))
            )
        await stop_bot(bot, findings)
    finally:
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        await bot.close()
    await check_notebook(url, residents, findings)
    check_transcripts(residents, findings)
    if findings.lines:
        pytest.fail(findings.verdict(bot), pytrace=False)


async def check_health(watch: HealthWatch, began: float, ended: float, findings: Findings) -> None:
    """503 at some moment of the fault, and 200 again after it (waiting a little for it)."""
    during = watch.between(began, ended)
    if not any(o.status == 503 for o in during):
        findings.add(f"/healthz never answered 503 during the fault: {watch.summary(during)}")
    if not await watch.until(200, within=30, after=time.monotonic()):
        last = watch.seen[-1] if watch.seen else None
        findings.add(
            "/healthz did not answer 200 after the fault: last "
            f"{last.status if last else None} {last.body[:200] if last else ''}"
        )
