"""Two bot processes behind one webhook on one database serve one community correctly: a
conversation continues whichever instance receives the next update, and each reminder is sent
once. Each instance has its own Application and its own engine (as two processes would); the
emulator delivers the webhooks alternately. Runs on SQLite and, with TEST_DATABASE_URL, on
PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import col, select
from telegram import Update
from telegram.ext import TypeHandler

from bot.app import NotebookApplication
from bot.jobs import run_reminders
from emulator import BotApiEmulator
from storage import issues as rules
from storage.categories import TimeLimits
from storage.db import Database
from storage.models import Outbox, OutboxStatus, Person, Role
from storage.privacy import ANONYMOUS_NAME
from tests.factories import PHONE_KEY, FakeClock, bot_errors, make_community, make_member
from tests.webhooks import running_webhook_bot, webhook_url


@pytest.fixture
async def second_engine(db: Database) -> AsyncIterator[Database]:
    """The same database through a second engine and pool: the other process's view."""
    other = Database(db.url, schema=db.schema)
    other.set_phone_key(PHONE_KEY)
    yield other
    await other.dispose()


def _record_instance(app: NotebookApplication, name: str, seen: list[tuple[str, int]]) -> None:
    async def record(update: Update, _context: object) -> None:
        seen.append((name, update.update_id))

    app.add_handler(TypeHandler(Update, record), group=-3)  # before every feature group


async def test_a_conversation_continues_on_whichever_instance_gets_the_next_update(
    emulator: BotApiEmulator, db: Database, second_engine: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xie = emulator.user(first_name="谢兰", language_code="zh-hans")
    wang = emulator.user(first_name="王网格", language_code="zh-hans")
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    async with db.session() as session:
        await make_member(session, community, Role.SECRETARY, name="谢兰", telegram_user_id=xie.id)
        await make_member(session, community, Role.WORKER, name="王网格", telegram_user_id=wang.id)
        await make_member(session, community, name="老许", telegram_user_id=xu.id)
    seen: list[tuple[str, int]] = []
    async with (
        running_webhook_bot(emulator, db, clock) as a,
        running_webhook_bot(emulator, second_engine, clock) as b,
    ):
        _record_instance(a, "A", seen)
        _record_instance(b, "B", seen)
        emulator.alternate_webhooks([webhook_url(a), webhook_url(b)])

        # the secretary's multi-step /staff flow: every press lands on the other instance
        await xie.send("/staff")
        menu = await xie.expect_message(contains="请选择一位工作人员")
        await xie.press(menu, "王网格（0件）")
        await xie.expect_edit(menu, contains="手上没有待办事项")
        await xie.press(menu, "把书记职责移交给他/她")
        await xie.expect_edit(menu, contains="对方需要在48小时内同意")
        await xie.press(menu, "好，去问他/她")
        await xie.expect_edit(menu, contains="已经问过王网格了")
        offer = await wang.expect_message(contains="请您接任邢家桥社区的社区书记")
        await wang.press(offer, "同意接任")
        await wang.expect_edit(offer, contains="您现在是邢家桥社区的社区书记了")
        await xie.expect_message(contains="王网格已同意")

        # the resident's /forget: the question is asked by one instance, answered by the other
        await xu.send("/forget")
        question = await xu.expect_message(contains="您要让民情本忘掉您吗")
        await xu.press(question, "确定，忘掉我")
        await xu.expect_edit(question, contains="已删除")
    by_update = dict((u, name) for name, u in seen)
    updates = sorted(by_update)
    # /staff, three presses, the worker's answer, /forget, its answer: strictly alternating, so
    # /forget was asked by B and answered by A, and every /staff page came from the other one
    assert [by_update[u] for u in updates] == ["A", "B", "A", "B", "A", "B", "A"]
    async with db.session() as session:
        forgotten = (
            await session.exec(select(Person).where(Person.full_name == ANONYMOUS_NAME))
        ).all()
        assert len(forgotten) == 1
    assert bot_errors(emulator) == []


async def test_each_reminder_is_sent_once_by_two_instances(
    emulator: BotApiEmulator, db: Database, second_engine: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xie = emulator.user(first_name="谢兰", language_code="zh-hans")
    wang = emulator.user(first_name="王网格", language_code="zh-hans")
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    async with db.session() as session:
        await make_member(session, community, Role.SECRETARY, name="谢兰", telegram_user_id=xie.id)
        worker = await make_member(
            session, community, Role.WORKER, name="王网格", telegram_user_id=wang.id
        )
        resident = await make_member(session, community, name="老许", telegram_user_id=xu.id)
        for n in range(3):  # overdue for days, untouched: nudge, agenda, stale, escalation
            issue = await rules.create_issue(
                session,
                community_id=community.id,
                reporter_id=resident.id,
                category="facilities",
                description=f"楼道灯坏了 {n}",
                now=clock() - timedelta(days=6),
                limits=TimeLimits(),
            )
            await rules.claim(session, issue, actor_id=worker.id, now=clock() - timedelta(days=6))
            await rules.set_plan(
                session,
                issue,
                plan="换灯泡",
                due_at=clock() - timedelta(days=3),
                actor_id=worker.id,
                now=clock() - timedelta(days=6),
            )
    async with (
        running_webhook_bot(emulator, db, clock) as a,
        running_webhook_bot(emulator, second_engine, clock) as b,
    ):
        # both instances plan and dispatch at the same moment, twice over
        queued = await asyncio.gather(
            run_reminders(a), run_reminders(b), run_reminders(a), run_reminders(b)
        )
    async with db.session() as session:
        rows = (await session.exec(select(Outbox).order_by(col(Outbox.id)))).all()
    assert sum(queued) == len(rows) > 0  # every row was queued by exactly one of the four runs
    assert {r.status for r in rows} == {OutboxStatus.SENT}
    kinds = Counter(r.kind for r in rows)
    assert kinds == {
        "overdue": 3,
        "escalation": 3,
        "stale": 3,
        "agenda": 1,
        "digest": 1,
        "promise_missed": 3,  # the resident told of each missed due date (storage/escalation.py)
        "promise_missed_staff": 3,  # and the owner, of what the resident now expects
    }
    # one message per row (the digest's chart follows its text as a photo of its own)
    sent = [m.text for m in [*wang.messages, *xie.messages, *xu.messages] if m.photo is None]
    assert len(sent) == len(rows)  # nothing sent twice
    assert len(set(sent)) == len(sent)
    assert bot_errors(emulator) == []
