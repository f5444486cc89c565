"""The notebook page: red and black entries of a day or week, filters, paging, rights."""

from __future__ import annotations

from datetime import date

from emulator import BotApiEmulator
from handlers.secretary.notebook_page import VIEW, View, render_view
from handlers.shared.fitting import telegram_length
from runtime.i18n import I18n
from storage import issues as rules
from storage.db import Database
from storage.models import Community
from storage.notebook import PageFilter, black_entries, notebook_page, red_entries
from storage.period_issues import Standing
from storage.periods import Period
from tests.factories import FakeClock, bot_errors, make_community, running_bot
from tests.known_month import CQ, LIMITS, build_known_month, cq

ZH = I18n(default_locale="zh_Hans").translator("zh_Hans", CQ)
THURSDAY = Period.days(date(2026, 11, 12), date(2026, 11, 12), CQ)
WEEK = Period.days(date(2026, 11, 9), date(2026, 11, 15), CQ)
LATER = cq(12, 1, 8)  # the month is over: pages are as things stood at their end


async def test_red_and_black_entries_of_a_day_and_a_week(db: Database, clock: FakeClock) -> None:
    month = await build_known_month(db, clock)
    cid = month.community.id
    async with db.session() as session:
        red = await red_entries(session, community_id=cid, period=THURSDAY, now=LATER)
        black = await black_entries(session, community_id=cid, period=THURSDAY)
        # No. 8 came in; Nos. 5, 6 and 7 were reported earlier and open when the day began
        # (No. 5 was resolved that morning: the page says so, though it has been closed since).
        assert [(e.number, e.standing, e.status) for e in red] == [
            (8, Standing.NEW, "in_progress"),
            (5, Standing.CARRIED_OVER, "resolved"),
            (6, Standing.CARRIED_OVER, "in_progress"),
            (7, Standing.CARRIED_OVER, "accepted"),
        ]
        assert [e.overdue for e in red] == [False, False, True, False]  # No. 6 was due Nov 10
        assert [(e.number, e.kind, e.actor) for e in black] == [
            (5, "resolved", "李网格"),
            (8, "claimed", "李网格"),
            (8, "planned", "李网格"),
        ]
        week_red = await red_entries(session, community_id=cid, period=WEEK, now=LATER)
        week_black = await black_entries(session, community_id=cid, period=WEEK)
        assert [(e.number, e.standing) for e in week_red] == [
            (7, Standing.NEW),
            (8, Standing.NEW),
            (5, Standing.REOPENED),  # reopened on Monday the 9th
            (6, Standing.CARRIED_OVER),
        ]
        assert [(e.number, e.kind) for e in week_black] == [
            (5, "reopened"),
            (5, "resolved"),
            (8, "claimed"),
            (8, "planned"),
            (5, "followed_up"),
            (8, "progress"),
        ]
        in_2 = PageFilter(building_id=month.buildings["2栋"])
        page = await notebook_page(
            session, community_id=cid, period=WEEK, now=LATER, where=in_2, page=0, per_page=4
        )
        assert (page.red_total, page.black_total, page.pages) == (2, 6, 2)
        assert [e.number for e in page.red] == [8, 5] and len(page.black) == 2
        second = await notebook_page(
            session, community_id=cid, period=WEEK, now=LATER, where=in_2, page=9, per_page=4
        )
        assert second.page == 1 and [e.kind for e in second.black] == [
            "claimed",
            "planned",
            "followed_up",
            "progress",
        ]
        wangs = PageFilter(owner_id=month.wang.id)
        page = await notebook_page(
            session, community_id=cid, period=WEEK, now=LATER, where=wangs, page=0, per_page=8
        )
        assert ([e.number for e in page.red], page.black_total) == ([6], 0)


async def test_a_page_always_fits_however_long_the_text(db: Database, clock: FakeClock) -> None:
    community = await make_community(db, clock)
    async with db.session() as session:
        for _ in range(12):
            await rules.create_issue(
                session,
                community_id=community.id,
                category="noise",
                description="&<>" * 700,
                now=cq(11, 12, 9),
                limits=LIMITS,
            )
        stored = await session.get(Community, community.id)
        assert stored is not None
        text, markup = await render_view(session, ZH, stored, View(date(2026, 11, 12)))
    assert telegram_length(text) <= 4096
    assert "&amp;&lt;&gt;" in text
    assert "第1页，共2页" in text
    assert markup.inline_keyboard[-1][-1].text == "下一页 ▶"


async def test_staff_page_through_filter_and_move_by_buttons(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    xie = emulator.user(first_name="谢兰", language_code="zh-hans")
    month = await build_known_month(db, clock, secretary_tg=xie.id)
    clock.current = cq(11, 12, 20)
    async with running_bot(emulator, db, clock):
        await xie.send("/notebook")  # today, Thursday Nov 12
        page = await xie.expect_message(contains="民情本：邢家桥社区")
        assert "2026年11月12日星期四" in page.text
        assert (
            "09:00 8号 · 2栋 · 噪音扰民：夜里有人喧哗【新反映；办理中，李网格；办结期限11月20日】"
            in page.text
        )
        assert (
            "6号 · 1栋 · 下水道堵塞：化粪池满了【上期结转，11月6日起未办完；办理中，王网格；"
            "已超过办结期限（11月10日）】" in page.text
        )
        assert (
            "5号 · 2栋 · 噪音扰民：楼上装修太吵【上期结转，11月5日起未办完；已办结，李网格】"
            in (
                page.text  # open when the day began, resolved at 09:00: as it stood that evening
            )
        )
        assert "11:00 8号 李网格定的方案：晚上巡查（11月20日前办好）" in page.text

        await xie.press(page, "看整周")
        await xie.expect_edit(page, contains="2026年11月9日至2026年11月15日")
        assert "11月9日 09:00 5号 重办" in page.text
        assert "第1页，共2页" in page.text  # 4 red and 6 black entries, 8 to a page
        await xie.press(page, "下一页 ▶")
        await xie.expect_edit(page, contains="第2页，共2页")
        # user text shown as typed (the bot escaped it for HTML)
        assert "11月14日 20:00 8号 李网格的内部记录：已找到住户 <3楼> 谈话" in page.text

        await xie.press(page, "楼栋：全部")
        await xie.expect_edit(page, contains="看哪栋楼的记录？")
        await xie.press(page, "2栋")
        await xie.expect_edit(page, contains="楼栋：2栋 · 负责人：所有人")
        assert "6号" not in page.text and "8号" in page.text

        await xie.press(page, "负责人：所有人")
        await xie.expect_edit(page, contains="看谁负责的事？")
        await xie.press(page, "王网格")
        await xie.expect_edit(page, contains="这段时间民情本上没有记录。")  # 王 has nothing in 2栋

        await xie.press(page, "负责人：王网格")
        await xie.expect_edit(page, contains="看谁负责的事？")
        await xie.press(page, "所有人")
        await xie.expect_edit(page, contains="楼栋：2栋 · 负责人：所有人")
        await xie.press(page, "◀ 前一周")
        await xie.expect_edit(page, contains="2026年11月2日至2026年11月8日")
        assert "5号 · 2栋 · 噪音扰民：楼上装修太吵" in page.text
        assert month.community.name == "邢家桥社区"
    assert bot_errors(emulator) == []


async def test_long_days_are_paged_and_pages_survive_a_restart(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    wang = emulator.user(first_name="王网格", language_code="en")
    month = await build_known_month(db, clock, worker_tg=wang.id)
    async with db.session() as session:
        for n in range(20):
            await rules.create_issue(
                session,
                community_id=month.community.id,
                reporter_id=month.resident.id,
                category="sanitation",
                description=f"垃圾 <{n}> & 污水 " * 40,
                building_id=month.buildings["3栋"],
                now=cq(11, 25, 8, n),
                limits=LIMITS,
            )
    clock.current = cq(11, 25, 20)
    async with running_bot(emulator, db, clock):
        await wang.send("/notebook 2026-11-25")
        page = await wang.expect_message(contains="The notebook: 邢家桥社区")
        assert "Page 1 of 3" in page.text  # 20 new + Nos. 6, 7, 8, 9 still open
        assert "垃圾 <0> & 污水" in page.text
        await wang.press(page, "Next page ▶")
        await wang.expect_edit(page, contains="Page 2 of 3")
    async with running_bot(emulator, db, clock):  # a new process: the buttons still work
        await wang.press(page, "Next page ▶")
        await wang.expect_edit(page, contains="Page 3 of 3")
        assert "No. 9 · 3栋 · Cleanliness and rubbish" in page.text
        assert "Next page ▶" not in page.button_texts()
        answer = await wang.press(page, "3/3")  # the page number only answers
        assert not answer.show_alert
    assert all(telegram_length(v.text) <= 4096 for v in page.versions)
    assert bot_errors(emulator) == []


async def test_residents_and_forged_buttons_change_nothing(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    xie = emulator.user(first_name="谢兰", language_code="zh-hans")
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    await build_known_month(db, clock, secretary_tg=xie.id, resident_tg=xu.id)
    other = await make_community(db, clock, name="别的社区", buildings=("9栋",))
    clock.current = cq(11, 12, 20)
    async with running_bot(emulator, db, clock):
        await xu.send("/notebook")
        refusal = await xu.expect_message(contains="民情本只给社区工作人员看")
        answer = await xu.press_data(refusal, VIEW.data("v", "20261112", "w", 0, 0, 0))
        assert answer.show_alert and "只给社区工作人员看" in (answer.text or "")

        await xie.send("/notebook 2026-11-12")
        page = await xie.expect_message(contains="民情本：邢家桥社区")
        before = page.text
        async with db.session() as session:
            from sqlmodel import select

            from storage.models import Building

            foreign = (
                await session.exec(select(Building).where(Building.community_id == other.id))
            ).one()
        for forged in (
            VIEW.data("v", "20261112", "d", foreign.id or 0, 0, 0),  # another community's
            VIEW.data("v", "2026", "d", 0, 0, 0),  # not a day
            "nb:v:20261112:d:0:0:0",  # a button from before the codec
            "1nb.q",
        ):
            answer = await xie.press_data(page, forged)
            assert answer.show_alert and "较早的消息" in (answer.text or ""), forged
        assert page.text == before and not page.edits

        await xie.send("/notebook yesterday please")
        await xie.expect_message(contains="请这样发：/notebook 看今天")
    assert bot_errors(emulator) == []
