"""Reminders fire at the right local time, once each, never in quiet hours (but emergencies),
and survive restarts and a second dispatcher. The clock is injected; Chongqing is UTC+8."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlmodel import func, select

from bot.app import build_application, on_startup
from bot.jobs import run_reminders
from delivery.dispatch import dispatch_due
from emulator import BotApiEmulator
from storage import issues as rules
from storage import outbox
from storage.db import Database
from storage.issue_support import add_support
from storage.models import Issue, Outbox, OutboxStatus, Role, Urgency
from storage.notifications import notify_audience
from storage.reminders import ReminderPolicy, plan_reminders
from tests.factories import (
    FakeClock,
    bot_errors,
    make_community,
    make_issue,
    make_member,
    make_settings,
    running_bot,
)

CQ = ZoneInfo("Asia/Shanghai")


def cq(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in November 2026, Chongqing time (2 Nov is a Monday)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=CQ).astimezone(UTC)


async def _people(db: Database, clock: FakeClock, emulator: BotApiEmulator):
    community = await make_community(db, clock)
    users = {
        "worker": emulator.user(first_name="王网格", language_code="zh-hans"),
        "secretary": emulator.user(first_name="谢兰", language_code="zh-hans"),
        "resident": emulator.user(first_name="老许", language_code="zh-hans"),
    }
    async with db.session() as session:
        worker = await make_member(
            session, community, Role.WORKER, name="王网格", telegram_user_id=users["worker"].id
        )
        secretary = await make_member(
            session, community, Role.SECRETARY, name="谢兰", telegram_user_id=users["secretary"].id
        )
        resident = await make_member(
            session, community, name="老许", telegram_user_id=users["resident"].id
        )
    return community, users, worker, secretary, resident


async def _planned_issue(db, clock, community, worker, resident, due: datetime) -> Issue:
    async with db.session() as session:
        issue = await make_issue(session, community, resident, clock, "楼道灯坏了 <3楼>")
        await rules.claim(session, issue, actor_id=worker.id, now=clock())
        await rules.set_plan(
            session, issue, plan="换灯泡 & 检查线路", due_at=due, actor_id=worker.id, now=clock()
        )
    return issue


async def test_each_kind_fires_at_its_local_time_once(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    clock.current = cq(2, 9, 0)  # Monday 09:00
    community, users, worker, _sec, resident = await _people(db, clock, emulator)
    await _planned_issue(db, clock, community, worker, resident, due=cq(4, 18, 0))
    w, s = users["worker"], users["secretary"]
    async with running_bot(emulator, db, clock) as app:
        clock.current = cq(3, 8, 29)
        assert await run_reminders(app) == 0
        clock.current = cq(3, 8, 30)  # Tuesday: the morning agenda
        assert await run_reminders(app) == 1
        agenda = await w.expect_message(contains="早上好")
        assert "1号" in agenda.text and "楼道灯坏了 <3楼>" in agenda.text
        assert await run_reminders(app) == 0  # once per day

        clock.current = cq(3, 17, 59)
        assert await run_reminders(app) == 0
        clock.current = cq(3, 18, 0)  # 24 h before the due date
        assert await run_reminders(app) == 1
        await w.expect_message(contains="提醒：1号问题")

        clock.current = cq(5, 8, 59)  # overdue, but the nudge waits for the morning
        queued = await run_reminders(app)
        # Thursday's agenda, and the missed due date told to the resident and to the owner
        # (storage/escalation.py); the nudge waits for the morning
        assert queued == 3
        await w.expect_message(contains="早上好")
        clock.current = cq(5, 9, 0)  # overdue nudge + no progress note for 3 days
        assert await run_reminders(app) == 2
        await w.expect_message(contains="1号问题已超期")
        await w.expect_message(contains="没有更新进展")

        clock.current = cq(6, 17, 59)
        assert await run_reminders(app) == 2  # Friday's agenda and nudge, not yet escalated
        clock.current = cq(6, 18, 0)  # 48 h past the due date: the secretary hears
        assert await run_reminders(app) == 1
        await s.expect_message(contains="严重超期：1号问题")
    assert bot_errors(emulator) == []


async def test_resolving_or_moving_the_due_date_changes_the_reminders(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    clock.current = cq(2, 10, 0)
    community, users, worker, _sec, resident = await _people(db, clock, emulator)
    issue = await _planned_issue(db, clock, community, worker, resident, due=cq(4, 12, 0))
    w = users["worker"]

    def reminders_received() -> int:
        return sum("提醒：1号问题" in m.text for m in w.messages)

    async with running_bot(emulator, db, clock) as app:
        clock.current = cq(3, 12, 0)
        await run_reminders(app)
        await w.expect_message(contains="提醒：1号问题")
        async with db.session() as session:  # a new due date: a new reminder, in time
            fresh = await session.get(Issue, issue.id)
            await rules.set_plan(
                session, fresh, plan="等配件", due_at=cq(6, 12, 0), actor_id=worker.id, now=clock()
            )
        clock.current = cq(4, 12, 0)  # the old due date passes: no nudge for it
        await run_reminders(app)
        assert reminders_received() == 1
        clock.current = cq(5, 12, 0)
        await run_reminders(app)
        await w.expect_message(contains="提醒：1号问题")
        assert not any("已超期" in m.text for m in w.messages)
        async with db.session() as session:  # resolved: no more nudges at all
            fresh = await session.get(Issue, issue.id)
            await rules.resolve(session, fresh, note="已换", actor_id=worker.id, now=clock())
        clock.current = cq(7, 9, 0)
        assert await run_reminders(app) == 0
    assert reminders_received() == 2


async def test_quiet_hours_hold_back_all_but_emergencies(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    clock.current = cq(2, 23, 0)  # Monday 23:00
    community, users, worker, _sec, resident = await _people(db, clock, emulator)
    async with db.session() as session:
        lamp = await make_issue(session, community, resident, clock, "楼道灯坏了")
        gas = await make_issue(
            session,
            community,
            resident,
            clock,
            "闻到煤气味",
            category="utilities",
            urgency=Urgency.EMERGENCY,
        )
        for issue in (lamp, gas):
            event = await rules.accept(session, issue, actor_id=worker.id, now=clock())
            await notify_audience(session, issue, event, now=clock())
    xu = users["resident"]
    async with running_bot(emulator, db, clock) as app:
        assert await dispatch_due(app, now=clock()) == 1
        await xu.expect_message(contains="2号问题，社区已受理")  # the emergency, at once
        clock.current = cq(3, 7, 29)
        assert await dispatch_due(app, now=clock()) == 0
        clock.current = cq(3, 7, 30)
        assert await dispatch_due(app, now=clock()) == 1
        await xu.expect_message(contains="1号问题，社区已受理")


async def test_a_restart_and_a_second_dispatcher_send_each_reminder_once(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    clock.current = cq(2, 9, 0)
    community, users, worker, _sec, resident = await _people(db, clock, emulator)
    for day in range(3, 8):  # five issues, all overdue by Monday the 9th
        await _planned_issue(db, clock, community, worker, resident, due=cq(day, 12, 0))
    clock.current = cq(9, 9, 0)
    async with db.session() as session:  # queued, then the bot stopped before sending
        queued = await plan_reminders(session, now=clock(), policy=ReminderPolicy())
    assert queued > 5  # stopped before sending anything: the rows wait in the database

    # Restart: two Applications on the same database dispatch at the same moment.
    other = build_application(make_settings(emulator, db.url), db=db, clock=clock)
    await other.initialize()
    await on_startup(other)
    try:
        async with running_bot(emulator, db, clock) as app:
            sent = await asyncio.gather(
                dispatch_due(app, now=clock()), dispatch_due(other, now=clock())
            )
            assert sum(sent) == queued
    finally:
        await other.shutdown()
    # One message per row (the weekly digest's chart follows its text as a photo).
    texts = [
        m.text for m in users["worker"].messages + users["secretary"].messages if m.photo is None
    ]
    assert len(texts) == queued
    assert len(set(texts)) == queued  # nobody got the same reminder twice
    async with db.session() as session:
        unsent = (
            await session.exec(
                select(func.count()).select_from(Outbox).where(Outbox.status != OutboxStatus.SENT)
            )
        ).one()
    assert unsent == 0


async def test_a_burst_of_200_under_flood_control_all_arrives(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    people = [emulator.user(first_name=f"居民{i}", language_code="zh-hans") for i in range(200)]
    async with db.session() as session:
        resident = await make_member(session, community, telegram_user_id=people[0].id)
        worker = await make_member(session, community, Role.WORKER, name="王网格")
        issue = await make_issue(
            session, community, resident, clock, "停水了", category="utilities"
        )
        for user in people[1:]:
            supporter = await make_member(session, community, telegram_user_id=user.id)
            await add_support(session, issue, person_id=supporter.id, now=clock())
        event = await rules.accept(session, issue, actor_id=worker.id, now=clock())
        assert await notify_audience(session, issue, event, now=clock()) == 200
    emulator.flood_limit(per_chat_per_second=1, per_group_per_minute=20, global_per_second=30)
    async with running_bot(emulator, db, clock, rate_limit_overall_per_second=60) as app:
        for _ in range(100):  # each round: send what may go, then move the clock on
            await dispatch_due(app, now=clock())
            async with db.session() as session:
                if await outbox.next_due(session) is None:
                    break
            clock.advance(seconds=5)
    assert all(any("社区已受理" in m.text for m in u.messages) for u in people)
    assert any(e.error_code == 429 for e in emulator.errors)  # flood control did bite


async def test_a_due_soon_held_by_quiet_hours_past_its_due_date_is_not_sent(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    """#22: "应在02:31前办好" arrived at 07:35. A warning is never sent after the moment it warns
    about: held by quiet hours past the due date, it is dropped, and the morning's overdue
    reminder (the completion clock, 完成期限) says what is true."""
    clock.current = cq(2, 20, 0)  # Monday 20:00: planned, due at 02:31 in the night
    community, users, worker, _sec, resident = await _people(db, clock, emulator)
    await _planned_issue(db, clock, community, worker, resident, due=cq(3, 2, 31))
    w = users["worker"]
    async with running_bot(emulator, db, clock) as app:
        clock.current = cq(3, 1, 0)  # the last quarter begins: queued, but quiet hours hold it
        assert await run_reminders(app) == 1
        await w.expect_no_message()
        clock.current = cq(3, 7, 35)  # quiet hours are over, the due date has passed
        await dispatch_due(app, now=clock())
        await w.expect_no_message()
        async with db.session() as session:
            rows = (await session.exec(select(Outbox).where(Outbox.kind == "due_soon"))).all()
        assert [r.status for r in rows] == [OutboxStatus.CANCELLED]  # dropped, not waiting
        clock.current = cq(3, 9, 0)
        await run_reminders(app)
        nudge = await w.expect_message(contains="1号问题已超期")
        assert "应在" not in nudge.text
    assert not any("提醒：1号问题" in m.text for m in w.messages)
    assert bot_errors(emulator) == []


async def test_due_soon_is_measured_from_the_plan_not_the_report(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    """Reported on Monday, planned on Friday morning for Saturday 18:00: the completion clock
    starts at the plan (33 hours), so "due soon" comes when its last quarter begins (Saturday
    09:45), not 24 hours before as if the plan had run since Monday (Friday 18:00, nine hours
    after it was made)."""
    clock.current = cq(2, 9, 0)
    community, users, worker, _sec, resident = await _people(db, clock, emulator)
    async with db.session() as session:
        issue = await make_issue(session, community, resident, clock, "楼道灯坏了")
        issue_id = issue.id
    clock.current = cq(6, 9, 0)
    async with db.session() as session:
        issue = await session.get(Issue, issue_id)
        assert issue is not None
        await rules.claim(session, issue, actor_id=worker.id, now=clock())
        await rules.set_plan(
            session, issue, plan="换灯泡", due_at=cq(7, 18, 0), actor_id=worker.id, now=clock()
        )
    assert issue.planned_at == cq(6, 9, 0)
    w = users["worker"]

    async def due_soon_rows() -> int:
        async with db.session() as session:
            rows = await session.exec(select(Outbox).where(Outbox.kind == "due_soon"))
            return len(rows.all())

    async with running_bot(emulator, db, clock) as app:
        for moment in (cq(6, 18, 0), cq(7, 9, 44)):
            clock.current = moment
            await run_reminders(app)
            assert await due_soon_rows() == 0
        clock.current = cq(7, 9, 45)
        await run_reminders(app)
        assert await due_soon_rows() == 1
        warned = await w.expect_message(contains="提醒：1号问题")
        assert "18:00" in warned.text
    assert bot_errors(emulator) == []
