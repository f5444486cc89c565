"""Escalation to people (#22 Must 3), as each person sees it in their private chat: an urgent
issue pages the building's worker and the secretary at night and again at half its limit; a
missed promise is told to the resident once, with the new expectation; 上报 reaches the
secretary and the digest; a transferred issue stays tracked with a due date. The clock is
injected; Chongqing is UTC+8, quiet hours 22:00–07:30."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import select

from bot.jobs import run_reminders
from delivery.dispatch import dispatch_due
from emulator import BotApiEmulator
from handlers.secretary.export import spreadsheet
from runtime.i18n import I18n
from storage import escalation
from storage import issues as rules
from storage.db import Database
from storage.digest import DigestPolicy, build_digest
from storage.escalation import EscalationPolicy
from storage.models import Community, Issue, IssueStatus, Membership, Outbox, Urgency
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
        # the body's answer date (the category's 7 days), not a completion date
        assert transferred.transfer_answer_by == cq(9, 10, 0)
        assert transferred.due_at is None
        # the export names it as the body's answer date, apart from the completion date
        clock.current = cq(3, 10, 0)
        async with db.session() as session:
            community = await session.get(Community, room.community.id)
            assert community is not None
            raw = await spreadsheet(
                session,
                I18n(default_locale="zh_Hans").translator("zh_Hans", CQ),
                community,
                Period.month(2026, 11, CQ),
                "csv",
                now=clock(),
            )
        rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
        assert (rows[0]["转办答复期限"], rows[0]["办结期限"]) == ("2026-11-09 10:00", "")
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
        back = await load(db, issue.id or 0)
        assert back.due_at is None and back.transfer_answer_by is None


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
    # the timings are the policy's (settings): a second page at a quarter of the limit, a
    # shorter new expectation, a transfer's answer date two days on
    tuned = EscalationPolicy(
        repage_fraction=0.25,
        next_answer_within=timedelta(hours=1),
        transfer_answer_within=timedelta(hours=48),
    )
    urgent.status, urgent.first_response_at = IssueStatus.NEW, None
    assert escalation.repage_at(urgent, tuned) == start + timedelta(minutes=30)
    assert escalation.new_expectation(general, missed_at, tuned) == missed_at + timedelta(hours=1)
    assert escalation.transfer_answer_due(general, start, tuned) == start + timedelta(days=2)


async def test_the_second_page_and_the_transfers_answer_date_follow_the_settings(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    """ESCALATION_REPAGE_FRACTION=0.25: the second page after 30 minutes of a 2-hour limit;
    TRANSFER_ANSWER_HOURS=48: 转办 proposes an answer date two days on, named as the body's."""
    clock.current = cq(3, 1, 33)
    room = await staffroom(emulator, db, clock)
    await _wang_serves_the_building(db, room)
    settings = {"escalation_repage_fraction": 0.25, "transfer_answer_hours": 48}
    async with running_bot(emulator, db, clock, **settings) as app:
        await bind(room)
        urgent = await report(
            emulator,
            db,
            clock,
            room.community,
            reporter_id=room.pid(room.xu),
            category="safety",
            building_id=room.building_id,
            urgency=Urgency.EMERGENCY,
        )
        await post_cards(app, clock)
        card = await room.group.expect_message(contains="1号 · ")
        await room.wang.expect_message(contains="🚨 紧急：1号")
        clock.current = cq(3, 2, 2)
        assert await run_reminders(app) == 0
        clock.current = cq(3, 2, 3)  # a quarter of the limit: paged again
        assert await run_reminders(app) == 2
        await room.wang.expect_message(contains="🚨 紧急的1号仍然无人接手")

        await room.group.press(room.wang, card, "认领")
        await room.group.expect_edit(card, contains="负责人：王网格")
        await press_on_card(room.group, room.wang, card, "转办…")
        menu = await room.group.expect_message(contains="1号转交哪个单位？")
        await room.group.press(room.wang, menu, "街道办事处")
        prompt = await room.group.expect_message(contains="请回复一句给居民的说明")
        await room.group.send(room.wang, "归街道管", reply_to=prompt)
        picker = await room.group.expect_message(contains="街道办事处应在什么时候之前答复1号？")
        labels = [b.text for row in picker.buttons for b in row]
        assert labels[0] == "2026年11月5日前（按社区的惯常时限）"  # two days, not 2 hours
        await room.group.press(room.wang, picker, labels[0])
        await room.group.expect_edit(card, contains="状态：已转办 → 街道办事处")
        assert "转办答复期限（街道办事处）：2026年11月5日" in card.text
    stored = await load(db, urgent.id or 0)
    assert stored.transfer_answer_by == cq(5, 2, 3) and stored.due_at is None
    assert bot_errors(emulator) == []
