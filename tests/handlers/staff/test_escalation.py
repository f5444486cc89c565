"""Escalation to people (#22 Must 3), as each person sees it in their private chat: an urgent
issue pages the building's worker and the secretary at night and again at half its limit; a
missed promise is told to the resident once, with the new expectation; 上报 reaches the
secretary and the digest; a transferred issue stays tracked with a due date. The clock is
injected; Chongqing is UTC+8, quiet hours 22:00–07:30."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import select

from bot.jobs import run_reminders
from delivery.dispatch import dispatch_due
from emulator import BotApiEmulator
from storage import escalation
from storage import issues as rules
from storage.db import Database
from storage.digest import DigestPolicy, build_digest
from storage.escalation import EscalationPolicy
from storage.models import Issue, IssueStatus, Membership, Outbox, Urgency
from storage.periods import Period
from tests.factories import FakeClock, bot_errors, running_bot
from tests.staffroom import Staffroom, bind, load, post_cards, press_on_card, report, staffroom

CQ = ZoneInfo("Asia/Shanghai")


def cq(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in November 2026, Chongqing time (2 Nov is a Monday)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=CQ).astimezone(UTC)


async def _wang_serves_the_building(db: Database, room: Staffroom) -> None:
    async with db.session() as session:
        membership = (
            await session.exec(
                select(Membership).where(Membership.person_id == room.pid(room.wang))
            )
        ).one()
        membership.building_id = room.building_id
        session.add(membership)


async def _rows(db: Database, kind: str) -> list[Outbox]:
    async with db.session() as session:
        return list((await session.exec(select(Outbox).where(Outbox.kind == kind))).all())


# --- urgent issues page people ------------------------------------------------------------------


async def test_an_urgent_report_at_night_pages_the_buildings_worker_and_the_secretary(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    clock.current = cq(3, 1, 33)  # deep in quiet hours
    room = await staffroom(emulator, db, clock)
    await _wang_serves_the_building(db, room)
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        issue = await report(
            emulator,
            db,
            clock,
            room.community,
            reporter_id=room.pid(room.xu),
            description="消防通道被<电动车>堵死了 & 有充电的",
            category="safety",
            building_id=room.building_id,
            urgency=Urgency.EMERGENCY,
        )
        await post_cards(app, clock)
        await room.group.expect_message(contains="1号 · ")
        for who in (room.wang, room.secretary):  # at once, quiet hours notwithstanding
            page = await who.expect_message(contains="🚨 紧急：1号")
            assert "消防通道被<电动车>堵死了 & 有充电的" in page.text  # escaped, so it parses
            assert "03:33" in page.text  # the answer is due two hours after the report
            assert page.button("认领1号") is not None
        await room.li.expect_no_message()  # another building's worker is not woken

        clock.current = cq(3, 2, 32)  # not yet half the limit
        assert await run_reminders(app) == 0
        clock.current = cq(3, 2, 33)  # half the limit and nobody has acted: paged again
        assert await run_reminders(app) == 2
        for who in (room.wang, room.secretary):
            await who.expect_message(contains="🚨 紧急的1号仍然无人接手")
        assert await run_reminders(app) == 0  # each page once

        # 王网格 claims it from the page, in his private chat: nobody is paged any more
        page = room.wang.messages[-1]
        answer = await room.wang.press(page, "认领1号")
        assert not answer.show_alert
        assert (await load(db, issue.id or 0)).owner_id == room.pid(room.wang)
    assert len(await _rows(db, escalation.URGENT_PAGE)) == 4
    assert bot_errors(emulator) == []


async def test_acting_before_half_the_limit_stops_the_second_page(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    clock.current = cq(3, 1, 33)
    room = await staffroom(emulator, db, clock)
    async with running_bot(emulator, db, clock) as app:
        issue = await report(
            emulator,
            db,
            clock,
            room.community,
            reporter_id=room.pid(room.xu),
            category="safety",
            urgency=Urgency.EMERGENCY,
        )
        await dispatch_due(app, now=clock())
        await room.secretary.expect_message(contains="🚨 紧急：1号")  # no building: the secretary
        async with db.session() as session:
            stored = await session.get(Issue, issue.id)
            assert stored is not None
            await rules.accept(session, stored, actor_id=room.pid(room.li), now=clock())
        clock.current = cq(3, 2, 40)
        await run_reminders(app)
        await room.secretary.expect_no_message()
    assert [r.dedupe_key.split(":")[0] for r in await _rows(db, escalation.URGENT_PAGE)] == ["page"]


async def _wang_claims(
    db: Database,
    room: Staffroom,
    clock: FakeClock,
    issue_id: int | None,
    then: Callable[..., Awaitable[object]],
    **step: Any,
) -> None:
    """王网格 claims the issue, then takes the step `then(**step)` in the same transaction."""
    async with db.session() as session:
        stored = await session.get(Issue, issue_id)
        assert stored is not None
        worker = room.pid(room.wang)
        await rules.claim(session, stored, actor_id=worker, now=clock())
        await then(session, stored, actor_id=worker, now=clock(), **step)


# --- a missed promise is told to the resident ---------------------------------------------------


async def test_a_missed_response_deadline_is_told_to_the_resident_once(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    clock.current = cq(2, 10, 0)
    room = await staffroom(emulator, db, clock)
    async with running_bot(emulator, db, clock) as app:
        await report(
            emulator,
            db,
            clock,
            room.community,
            reporter_id=room.pid(room.xu),
            category="utilities",  # 24 hours
        )
        clock.current = cq(3, 10, 0)  # on the dot the promise still holds
        await run_reminders(app)
        await room.xu.expect_no_message()
        clock.current = cq(3, 10, 1)
        await run_reminders(app)
        told = await room.xu.expect_message(contains="1号")
        assert "2026/11/3 10:00前答复" in told.text  # the promise
        assert "已提醒社区，2026/11/4 10:01前会给您答复" in told.text  # from when told
        await room.secretary.expect_message(contains="仍未受理")  # the reminder she gets
        staff = await room.secretary.expect_message(contains="已告知居民")  # nobody owns it
        assert "2026/11/4 10:01" in staff.text
        clock.current = cq(3, 12, 0)
        await run_reminders(app)
        await room.xu.expect_no_message()  # once per promise
    assert bot_errors(emulator) == []


async def test_a_missed_due_date_is_told_once_and_not_after_it_is_met(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    clock.current = cq(2, 10, 0)
    room = await staffroom(emulator, db, clock)
    async with running_bot(emulator, db, clock) as app:
        issue = await report(emulator, db, clock, room.community, reporter_id=room.pid(room.xu))
        await _wang_claims(
            db, room, clock, issue.id, rules.set_plan, plan="换灯泡", due_at=cq(4, 18, 0)
        )
        clock.current = cq(4, 18, 1)
        await run_reminders(app)
        told = await room.xu.expect_message(contains="没有办好")
        assert "已提醒社区" in told.text
        await room.wang.expect_message(contains="已告知居民")  # the owner, not the secretary
        await room.secretary.expect_no_message()
        clock.current = cq(5, 9, 30)
        await run_reminders(app)
        assert not [m for m in room.xu.messages if not m.consumed]
    assert bot_errors(emulator) == []


# --- 上报 and 转办 --------------------------------------------------------------------------


async def test_escalating_on_the_card_tells_the_secretary_and_shows_on_the_digest(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    clock.current = cq(2, 10, 0)
    room = await staffroom(emulator, db, clock)
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        await report(
            emulator,
            db,
            clock,
            room.community,
            reporter_id=room.pid(room.xu),
            description="违建 <阳台> 扩建",
        )
        await post_cards(app, clock)
        card = await room.group.expect_message(contains="1号 · ")
        await press_on_card(room.group, room.wang, card, "上报")
        told = await room.secretary.expect_message(contains="1号")
        assert "王网格" in told.text and "违建 <阳台> 扩建" in told.text
        await room.group.expect_edit(card, contains="难度：上报")  # back on its first page
        await press_on_card(room.group, room.wang, card, "上报")  # again: nothing new
        await room.secretary.expect_no_message()
        await room.secretary.send("/digest")
        shown = await room.secretary.expect_message(contains="上报书记")
        assert "上报书记（1）：1号" in shown.text
    async with db.session() as session:
        digest = await build_digest(
            session,
            community_id=room.community.id or 0,
            period=Period(cq(2, 0), cq(9, 0), CQ),
            now=clock(),
            policy=DigestPolicy(),
        )
    assert digest.escalated == [1]


async def test_a_transferred_issue_keeps_a_due_date_and_reminds_its_owner(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    clock.current = cq(2, 10, 0)
    room = await staffroom(emulator, db, clock)
    async with running_bot(emulator, db, clock) as app:
        issue = await report(emulator, db, clock, room.community, reporter_id=room.pid(room.xu))
        await _wang_claims(
            db, room, clock, issue.id, rules.transfer, to="物业<公司>", note="归物业管"
        )
        transferred = await load(db, issue.id or 0)
        assert transferred.status == IssueStatus.TRANSFERRED
        assert transferred.due_at == cq(9, 10, 0)  # the category's 7 days
        clock.current = cq(9, 10, 0)
        await run_reminders(app)
        late = await room.wang.expect_message(contains="已转办物业<公司>")
        assert "1号" in late.text
        clock.current = cq(9, 12, 0)
        await run_reminders(app)
        assert not [m for m in room.wang.messages if not m.consumed]
        async with db.session() as session:  # it comes back: reopened, no more reminders
            stored = await session.get(Issue, issue.id)
            assert stored is not None
            await rules.reopen(
                session, stored, reason="物业答复了", actor_id=room.pid(room.wang), now=clock()
            )
        assert (await load(db, issue.id or 0)).due_at is None


# --- the rules, with the clock passed in -------------------------------------------------------


def test_the_planning_rules() -> None:
    start = cq(3, 1, 33)
    urgent = Issue(
        community_id=1,
        number=1,
        category="safety",
        description="",
        urgency=Urgency.EMERGENCY,
        time_limit_hours=2,
        respond_by=start + timedelta(hours=2),
        created_at=start,
    )
    assert escalation.is_urgent(urgent) and not escalation.acted(urgent)
    assert escalation.repage_at(urgent) == start + timedelta(hours=1)
    assert escalation.missed_promise(urgent, start + timedelta(hours=1, minutes=59)) is None
    missed_at = start + timedelta(hours=2)
    assert escalation.missed_promise(urgent, missed_at) is None  # on the dot it still holds
    after = timedelta(minutes=1)
    assert escalation.missed_promise(urgent, missed_at + after) == (escalation.RESPOND, missed_at)
    policy = EscalationPolicy()
    assert escalation.new_expectation(urgent, missed_at, policy) == missed_at + timedelta(hours=2)
    general = Issue(
        community_id=1, number=2, category="facilities", description="", time_limit_hours=168
    )
    assert escalation.new_expectation(general, missed_at, policy) == missed_at + timedelta(hours=24)
    urgent.first_response_at = start + timedelta(minutes=5)
    assert escalation.acted(urgent)
    assert escalation.missed_promise(urgent, missed_at) is None
    urgent.due_at = start + timedelta(days=1)
    assert escalation.missed_promise(urgent, start + timedelta(days=1) + after) == (
        escalation.DUE,
        start + timedelta(days=1),
    )
    urgent.status = IssueStatus.RESOLVED
    assert escalation.missed_promise(urgent, start + timedelta(days=2)) is None
    assert escalation.transfer_answer_due(general, start) == start + timedelta(days=7)
