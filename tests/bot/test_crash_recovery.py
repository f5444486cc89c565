"""Kill the bot with SIGKILL at random moments during a burst of reports, restart it each
time: afterwards every report exists exactly once, every resident got each confirmation, and
each resident's whole chat passes tests/transcripts.py: no question sent twice, no message
edited back to an older text, no live button left on a superseded copy.

The bot runs as a real `python -m bot` process against the emulator; durable intake (the
inbox), conversation state in the database and idempotent issue creation carry each report
across the crashes. Sized by CRASH_REPORTS (default 500) to keep CI in minutes.

The emulator runs on the test's clock, which this test never moves: Telegram's deadline for
answering a button press (emulator.server.CALLBACK_DEADLINE) is then never passed while
the bot restarts, however slow the machine, and the test is about losing and doubling, not
about that deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import func, select

from emulator import BotApiEmulator, BotMessage
from emulator.driver import UserDriver
from runtime.settings import normalise_database_url
from storage import migrate
from storage.db import Database
from storage.models import Issue
from tests.factories import PHONE_KEY, TOKEN, FakeClock, make_community
from tests.resident_helpers import join
from tests.transcripts import check_transcript

ROOT = Path(__file__).resolve().parents[2]
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
REPORTS = int(os.environ.get("CRASH_REPORTS", "500"))
RESIDENTS = 50
KILLS = 3
CONFIRMED = "Your issue is No."
QUESTION = "What is the problem about?"
STALE = "This button belongs to an older message. Please use the newest message, or send /start."
# Labels of the report draft's prompts: after every report is filed, no message may carry them.
FLOW_BUTTONS = frozenset(
    {"Public facilities (stairwell lights, doors)", "Cancel", "No photo", "No", "✅ Send", "Change"}
)
PATIENCE = 120.0  # seconds a step may wait while the bot is dead and restarting


def _bot_env(emulator: BotApiEmulator, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=emulator.base_url,
        DATABASE_URL=url,
        MAX_REPORTS_PER_HOUR="100000",
        RATE_LIMIT_CHAT_PER_SECOND="1000",
        RATE_LIMIT_GROUP_PER_MINUTE="100000",
        RATE_LIMIT_OVERALL_PER_SECOND="100000",
        LOG_LEVEL="WARNING",
        PHONE_ENCRYPTION_KEY=PHONE_KEY,  # PostgreSQL refuses to start without one
    )
    return env


async def _start(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _question(user: UserDriver, text: str) -> BotMessage:
    """The next copy of the first question about ``text`` (the question quotes the report)."""
    quoted = text.split(" <")[0]
    return await user.expect_message(
        predicate=lambda m: QUESTION in m.text and quoted in m.text and m.buttons != [],
        timeout=PATIENCE,
    )


async def _report(user: UserDriver, text: str) -> None:
    """One report through the whole flow, each step waiting out any crash and restart.

    As a resident would: when the first press on the question answers that the button is no
    longer valid, the bot has asked again below, and the resident answers the newer copy
    (tests/transcripts.py then reports the doubled question)."""
    await user.send(text)
    question = await _question(user, text)
    steps = (
        ("Public facilities", "photo"),
        ("No photo", "Is anyone in danger"),
        ("No", "Please check your report"),
        ("✅ Send", CONFIRMED),
    )
    step = 0
    while step < len(steps):
        button, next_text = steps[step]
        answer = await user.press(question, button, timeout=PATIENCE)
        if answer.text == STALE:
            assert step == 0, user.dump(f"{button!r} on #{question.message_id}: {STALE}")
            question = await _question(user, text)
            continue
        await user.expect_edit(question, contains=next_text, timeout=PATIENCE)
        step += 1


def _confirmations(users: list[UserDriver]) -> int:
    return sum(
        1 for user in users for m in user.messages if any(CONFIRMED in v.text for v in m.versions)
    )


@contextlib.asynccontextmanager
async def _own_database(tmp_path: Path) -> AsyncIterator[str]:
    """A database for the bot process: an SQLite file, or a fresh PostgreSQL database."""
    if not TEST_DATABASE_URL:
        yield f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
        return
    base = make_url(normalise_database_url(TEST_DATABASE_URL))
    name = f"crash_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def test_sigkill_during_a_burst_of_reports_loses_and_doubles_nothing(
    emulator: BotApiEmulator, clock: FakeClock, tmp_path: Path
) -> None:
    async with _own_database(tmp_path) as url:
        await _burst_with_crashes(emulator, clock, tmp_path, url)


async def _burst_with_crashes(
    emulator: BotApiEmulator, clock: FakeClock, tmp_path: Path, url: str
) -> None:
    db = Database(url)
    await migrate.upgrade(db)
    community = await make_community(db, clock, name="邢家桥社区")
    users = [
        emulator.user(first_name=f"Resident {i}", language_code="en") for i in range(RESIDENTS)
    ]
    for user in users:
        await join(db, community, user, building=None)  # no building: no "me too" offers
    await db.dispose()

    env = _bot_env(emulator, url)
    rng = random.Random(int(os.environ.get("FUZZ_SEED", "7")))
    per_user = REPORTS // RESIDENTS
    texts = {user.id: [f"report {user.id}-{k} <&>" for k in range(per_user)] for user in users}
    bot = await _start(env, tmp_path)
    kills = 0

    async def resident(user: UserDriver) -> None:
        for words in texts[user.id]:
            await _report(user, words)

    async def killer() -> None:
        nonlocal bot, kills
        for threshold in sorted(rng.sample(range(REPORTS // 10, REPORTS * 9 // 10), KILLS)):
            await emulator.signal.wait_for(
                lambda t=threshold: _confirmations(users) >= t, timeout=PATIENCE * 5
            )
            bot.send_signal(signal.SIGKILL)
            await bot.wait()
            kills += 1
            bot = await _start(env, tmp_path)

    try:
        await asyncio.gather(killer(), *(resident(u) for u in users))
    finally:
        bot.send_signal(signal.SIGTERM)
        await asyncio.wait_for(bot.wait(), timeout=60)
    assert kills == KILLS

    db = Database(url)
    async with db.session() as session:
        total = (await session.exec(select(func.count()).select_from(Issue))).one()
        per_text = (
            await session.exec(select(Issue.description, func.count()).group_by(Issue.description))
        ).all()
    await db.dispose()
    assert total == per_user * RESIDENTS
    assert {d for d, _n in per_text} == {t for ts in texts.values() for t in ts}
    assert all(n == 1 for _d, n in per_text), "a report was filed twice"
    for user in users:  # every resident saw each of their issue numbers
        confirmed = [m for m in user.messages if any(CONFIRMED in v.text for v in m.versions)]
        assert len(confirmed) == per_user, user
    seen = [
        f"{user.first_name} (chat {user.id}): {problem}"
        for user in users
        for problem in check_transcript(user.transcript, flow_buttons=FLOW_BUTTONS, open_prompts=0)
    ]
    assert not seen, f"{len(seen)} problem(s) in residents' chats:\n" + "\n".join(seen[:40])
