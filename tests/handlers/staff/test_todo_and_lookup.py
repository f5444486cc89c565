"""/todo (a worker's open items, overdue first, with quick actions) and /issue N (the card and
the full history for staff, a polite refusal for residents); and the rules behind them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from emulator import BotApiEmulator
from storage import issues as rules
from storage.clocks import is_overdue
from storage.db import Database
from storage.models import Issue, Role
from storage.staff import todo_for, todo_order, transferred_for, waiting_for_owner
from tests.factories import FakeClock, bot_errors, running_bot
from tests.staffroom import bind, post_cards, report, staffroom

NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def _issue(number: int, *, due: int | None, limit_days: int = 7, status: str = "assigned") -> Issue:
    return Issue(
        community_id=1,
        number=number,
        category="other",
        description="…",
        status=status,
        due_at=NOW + timedelta(days=due) if due is not None else None,
        respond_by=NOW + timedelta(days=limit_days),
    )


def test_todo_order_is_overdue_first_then_by_deadline() -> None:
    issues = [
        _issue(1, due=None),  # no plan date: its time limit (7 days) counts
        _issue(2, due=3),
        _issue(3, due=-1),  # overdue by a day
        _issue(4, due=None, limit_days=-2),  # time limit passed two days ago
        _issue(5, due=1),
        _issue(6, due=10),
    ]
    assert [i.number for i in todo_order(issues, NOW)] == [4, 3, 5, 2, 1, 6]
    assert is_overdue(issues[2], NOW)
    assert not is_overdue(_issue(7, due=-1, status="resolved"), NOW)  # done is not overdue


async def test_todo_lists_only_ones_own_open_items_and_the_secretary_follows_groups(
    db: Database, emulator: BotApiEmulator, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    wang, li, xie = room.pid(room.wang), room.pid(room.li), room.pid(room.secretary)
    made = [await report(emulator, db, clock, room.community, reporter_id=None) for _ in range(4)]
    async with db.session() as session:
        one, two, three, four = [await session.get(Issue, i.id) for i in made]
        assert one and two and three and four
        await rules.claim(session, one, actor_id=wang, now=clock())
        await rules.claim(session, two, actor_id=li, now=clock())
        await rules.assign(session, three, owner_group="志愿者服务队", actor_id=xie, now=clock())
        await rules.claim(session, four, actor_id=wang, now=clock())
        await rules.resolve(session, four, note="好了", actor_id=wang, now=clock())
        community_id = room.community.id
        assert community_id is not None
        mine = await todo_for(
            session, person_id=wang, community_id=community_id, role=Role.WORKER, now=clock()
        )
        secretary = await todo_for(
            session, person_id=xie, community_id=community_id, role=Role.SECRETARY, now=clock()
        )
        waiting = await waiting_for_owner(session, community_id=community_id)
        await rules.transfer(
            session, one, to="街道办事处", note="归街道", actor_id=wang, now=clock()
        )
        handed_on = await transferred_for(
            session, person_id=wang, community_id=community_id, role=Role.WORKER
        )
        still_open = await todo_for(
            session, person_id=wang, community_id=community_id, role=Role.WORKER, now=clock()
        )
    assert [i.number for i in mine] == [1]
    assert [i.number for i in secretary] == [3]
    assert [i.number for i in handed_on] == [1]
    assert still_open == []  # a transfer is not among the open items
    assert waiting == []


async def test_todo_in_private_with_quick_actions(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    group, wang = room.group, room.wang
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        made = [
            await report(
                emulator,
                db,
                clock,
                room.community,
                reporter_id=room.pid(room.xu),
                description=f"问题{n}：楼下 <垃圾> 没人清",
                category="sanitation",
            )
            for n in range(1, 7)
        ]
        async with db.session() as session:
            one, two, three, _four, five, six = [await session.get(Issue, i.id) for i in made]
            assert one and two and three and five and six
            me = room.pid(wang)
            for issue in (one, two, three, five, six):
                await rules.claim(session, issue, actor_id=me, now=clock())
            # handed on: one whose answer is late, one with the category's limit (7 days)
            await rules.transfer(
                session,
                five,
                to="环卫所 <二队>",
                note="归他们管",
                answer_by=clock() - timedelta(days=1),
                actor_id=me,
                now=clock(),
            )
            await rules.transfer(
                session, six, to="街道办事处", note="归街道", actor_id=me, now=clock()
            )
            await rules.set_plan(
                session,
                one,
                plan="周五前清理",
                due_at=clock() + timedelta(days=3),
                actor_id=me,
                now=clock(),
            )
            await rules.set_plan(
                session,
                two,
                plan="昨天就该清",
                due_at=clock() - timedelta(days=1),
                actor_id=me,
                now=clock(),
            )
            await rules.add_progress(
                session, one, text="物业说明天来 & 清理", public=False, actor_id=me, now=clock()
            )
        await post_cards(app, clock)
        cards = [await group.expect_message(contains=f"{n}号 · ") for n in range(1, 5)]

        await wang.send("/todo")
        todo = await wang.expect_message(contains="您在邢家桥社区的待办事项：3件 · 第1/2页")
        lines = todo.text.splitlines()
        order = [
            n
            for line in lines
            for n in ("1号", "2号", "3号", "4号")
            if line.startswith(("⚠️ " + n, n))
        ]
        # overdue, due Thursday, answered without a plan yet (no clock runs)
        assert order == ["2号", "1号", "3号"]
        assert lines[1] == (
            "⚠️ 2号 · 环境卫生：问题2：楼下 <垃圾> 没人清 · 完成期限2026年11月1日 · 已超期 · 办理中"
        )
        assert lines[2] == (
            "1号 · 环境卫生：问题1：楼下 <垃圾> 没人清 · 完成期限2026年11月5日 · 办理中"
        )
        assert lines[3] == "3号 · 环境卫生：问题3：楼下 <垃圾> 没人清 · 已派单"
        # then what was handed on, late answers flagged, after the open ones
        assert lines[4:8] == [
            "",
            "已转办、等待对方答复：2件",
            "⚠️ 5号 · 环境卫生：问题5：楼下 <垃圾> 没人清 · 转办 → 环卫所 <二队>，"
            "答复期限2026年11月1日 · 已超期",
            "6号 · 环境卫生：问题6：楼下 <垃圾> 没人清 · 转办 → 街道办事处，答复期限2026年11月9日",
        ]
        # five items a page, one button each: it fits a phone; the rest one tap away
        assert todo.button_texts() == [f"{n}号详情" for n in (2, 1, 3, 5, 6)] + ["下一页 ›"]
        await wang.press(todo, "下一页 ›")
        await wang.expect_edit(todo, contains="第2/2页")
        assert "等待认领：1件" in todo.text and "4号 · 环境卫生" in todo.text
        assert todo.button_texts() == ["4号详情", "认领4号", "‹ 上一页"]

        answer = await wang.press(todo, "认领4号")
        assert answer.text == "4号现在由您负责。"
        await group.expect_edit(cards[3], contains="负责人：王网格")
        await wang.press(todo, "‹ 上一页")
        await wang.expect_edit(todo, contains="您在邢家桥社区的待办事项：4件")  # read again
        assert "第1/2页" in todo.text

        await wang.press(todo, "1号详情")
        copy = await wang.expect_message(contains="1号 · 环境卫生")
        assert copy.button("在工作群里打开卡片") is not None
        assert copy.button("受理") is None  # act on the card in the group
        history = await wang.expect_message(contains="1号问题的办理记录：")
        assert "内部备注：物业说明天来 & 清理" in history.text
        assert "办理方案：周五前清理 · 完成期限2026年11月5日" in history.text
        assert "王网格 · 认领 · ⏱ 按时答复" in history.text  # said once, where it stopped
        assert history.text.count("⏱") == 1

        # /issue of a transferred issue: the date is the body's answer date, named so
        await wang.send("/issue 5")
        copy = await wang.expect_message(contains="5号 · 环境卫生")
        assert "转办答复期限（环卫所 &lt;二队&gt;）" not in copy.text  # escaped once, not twice
        assert "转办答复期限（环卫所 <二队>）：2026年11月1日，⚠️ 已过期24小时" in copy.text
        assert "完成期限" not in copy.text and "办结期限" not in copy.text
        handed = await wang.expect_message(contains="5号问题的办理记录：")
        assert "转交环卫所 <二队>" in handed.text and "对方答复期限2026年11月1日" in handed.text

        await wang.send("/help")
        await wang.expect_message(contains="/todo：您的待办事项，超期的排在前面")
        await room.xu.send("/todo")
        await room.xu.expect_message(contains="/todo 是社区工作人员的待办清单")
        await group.send(wang, "/todo")
        await group.expect_message(contains="请在和我的私聊里发送 /todo")
    assert bot_errors(emulator) == []


async def test_issue_lookup_shows_the_card_and_full_history_to_staff_only(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    group, li, xu = room.group, room.li, room.xu
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        await report(emulator, db, clock, room.community, reporter_id=room.pid(xu))
        await post_cards(app, clock)
        card = await group.expect_message(contains="1号 · ")
        await group.press(li, card, "认领")
        await group.expect_edit(card, contains="负责人：李网格")
        await group.press(li, card, "内部备注…")
        prompt = await group.expect_message(contains="内部备注（只有工作人员能看到）")
        await group.send(li, "老许家里只有老人，白天去", reply_to=prompt)
        await group.expect_edit(card, contains="最新内部备注")
        await group.press(li, card, "查看电话")

        await li.send("/issue 1")
        copy = await li.expect_message(contains="1号 · 公共设施")
        assert "负责人：李网格" in copy.text
        history = await li.expect_message(contains="1号问题的办理记录：")
        for part in (
            "老许 · 反映问题",
            "反映问题（Telegram）",
            "李网格 · 认领",
            "内部备注：老许家里只有老人，白天去",
            "查看了反映人的电话",
        ):
            assert part in history.text, part

        await li.send("/issue 99")
        await li.expect_message(contains="邢家桥社区没有99号问题。")
        await li.send("/issue")
        await li.expect_message(contains="请发送 /issue 加编号")
        await group.send(li, "/issue 1")  # staff may look it up in the staff group too
        await group.expect_message(contains="1号问题的办理记录：")

        await xu.send("/issue 1")
        await xu.expect_message(contains="按编号查问题只对社区工作人员开放")
    assert not any("内部备注" in m.text for m in xu.messages)
    assert bot_errors(emulator) == []
