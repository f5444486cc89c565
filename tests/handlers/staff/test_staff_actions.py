"""The card's actions one by one: simultaneous claim, merge, transfer, return and reassign,
volunteer groups, reopen, quick due dates, stale presses, and a restart mid-question."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlmodel import select

from emulator import BotApiEmulator
from handlers.staff.cards import ACCEPT, PLAN
from storage.db import Database
from storage.issue_support import add_support, audience
from storage.models import Community, IssueEvent, IssueStatus, Role
from tests.factories import FakeClock, bot_errors, make_member, running_bot
from tests.staffroom import (
    bind,
    card_of_a_new_report,
    claimed_card,
    events_of,
    load,
    post_cards,
    press_on_card,
    report,
    snapshot,
    staffroom,
)


async def test_two_workers_claim_at_once_one_wins_the_other_is_told_who(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    group, wang, li = room.group, room.wang, room.li
    async with running_bot(emulator, db, clock) as app:
        issue, card = await card_of_a_new_report(app, emulator, room, db, clock)
        first, second = await asyncio.gather(
            group.press(wang, card, "认领"), group.press(li, card, "认领")
        )
        answers = {wang.first_name: first, li.first_name: second}
        winners = [name for name, a in answers.items() if a.text == "1号现在由您负责。"]
        assert len(winners) == 1
        winner = winners[0]
        loser = next(a for name, a in answers.items() if name != winner)
        assert loser.show_alert and loser.text == f"已被{winner}认领。"
        await group.expect_edit(card, contains=f"负责人：{winner}")
        await room.xu.expect_message(contains=f"1号问题现在由{winner}负责。")
    claims = [e for e in await events_of(db, issue.id) if e.kind == "claimed"]
    assert len(claims) == 1
    assert bot_errors(emulator) == []


async def test_merge_a_duplicate_carries_its_supporters_and_updates_both_cards(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    group, wang = room.group, room.wang
    li_ayi = emulator.user(first_name="李阿姨", language_code="zh-hans")
    zhang = emulator.user(first_name="张大爷", language_code="zh-hans")
    async with db.session() as session:
        community = await session.get(Community, room.community.id)
        assert community is not None
        neighbour = await make_member(session, community, name="李阿姨", telegram_user_id=li_ayi.id)
        supporter = await make_member(session, community, name="张大爷", telegram_user_id=zhang.id)
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        main = await report(
            emulator, db, clock, room.community, reporter_id=room.pid(room.xu), category="parking"
        )
        dup = await report(
            emulator,
            db,
            clock,
            room.community,
            reporter_id=neighbour.id,
            category="parking",
            description="消防通道又被车堵了",
        )
        async with db.session() as session:
            fresh = await session.get(type(dup), dup.id)
            assert fresh is not None and supporter.id is not None
            await add_support(session, fresh, person_id=supporter.id, now=clock())
        await post_cards(app, clock)
        main_card = await group.expect_message(contains="1号 · ")
        dup_card = await group.expect_message(contains="2号 · ")
        assert "附议的邻居：1人" in dup_card.text

        await press_on_card(group, wang, dup_card, "并单…")
        prompt = await group.expect_message(contains="2号和哪个问题是同一件事")
        await group.send(wang, "99", reply_to=prompt)
        again = await group.expect_message(contains="这里没有99号问题。")
        await group.send(wang, "2号", reply_to=again)
        again = await group.expect_message(contains="这就是2号本身。")
        await group.send(wang, "1号", reply_to=again)
        await group.expect_message(contains="2号已并入1号")
        await group.expect_edit(dup_card, contains="状态：已并单 → 1号")
        await group.expect_edit(main_card, contains="附议的邻居：2人")
        assert dup_card.buttons == []  # nothing left to do on a merged duplicate
        for resident in (li_ayi, zhang):
            await resident.expect_message(contains="2号问题与1号是同一个问题，已合并。")
    async with db.session() as session:
        main_now = await session.get(type(main), main.id)
        assert main_now is not None
        backers = set(await audience(session, main_now))
    assert backers == {room.pid(room.xu), neighbour.id, supporter.id}
    assert (await load(db, dup.id)).merged_into_id == main.id
    assert bot_errors(emulator) == []


async def test_transfer_to_a_body_with_a_note_then_reopen(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    group, wang, xie, xu = room.group, room.wang, room.secretary, room.xu
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        first = await report(
            emulator, db, clock, room.community, reporter_id=room.pid(xu), category="elevator"
        )
        await report(emulator, db, clock, room.community, reporter_id=room.pid(xu))
        await post_cards(app, clock)
        card = await group.expect_message(contains="1号 · ")
        other_card = await group.expect_message(contains="2号 · ")

        await press_on_card(group, wang, card, "转办…")
        menu = await group.expect_message(contains="1号转交哪个单位？")
        await group.press(wang, menu, "街道办事处")
        await group.expect_edit(menu, contains="→ 街道办事处")
        assert menu.buttons == []
        prompt = await group.expect_message(contains="1号转交街道办事处。请回复一句给居民的说明")
        await group.send(wang, "加装电梯要街道审批", reply_to=prompt)
        # by when should they answer: the category's limit is one press away
        picker = await group.expect_message(contains="街道办事处应在什么时候之前答复1号？")
        labels = [b.text for row in picker.buttons for b in row]
        assert labels == ["2026年11月17日前（按该类问题的时限）", "自己填日期…", "取消"]
        await group.press(wang, picker, labels[0])
        await group.expect_edit(picker, contains="→ 2026年11月17日")
        await group.expect_message(contains="1号已转交街道办事处，答复期限2026年11月17日星期二。")
        await group.expect_edit(card, contains="状态：已转办 → 街道办事处")
        # the date is the body's answer date, named so; not a completion date
        assert "转办答复期限（街道办事处）：2026年11月17日" in card.text
        assert "完成期限" not in card.text and "办结期限" not in card.text
        notice = await xu.expect_message(contains="1号问题已转交街道办事处办理：加装电梯要街道审批")
        assert "答复期限：2026年11月17日。" in notice.text

        # another body, typed
        await press_on_card(group, wang, other_card, "转办…")
        menu = await group.expect_message(contains="2号转交哪个单位？")
        await group.press(wang, menu, "其他单位…")
        body_prompt = await group.expect_message(contains="2号由哪个单位接手？")
        await group.send(wang, "区住建委 <维修科>", reply_to=body_prompt)
        note_prompt = await group.expect_message(contains="2号转交区住建委 <维修科>。")
        await group.send(wang, "属于他们管", reply_to=note_prompt)
        picker = await group.expect_message(contains="区住建委 <维修科>应在什么时候之前答复2号？")
        await group.press(wang, picker, "自己填日期…")
        date_prompt = await group.expect_message(contains="请回复日期")
        await group.send(wang, "改天吧", reply_to=date_prompt)
        again = await group.expect_message(contains="我没看懂“改天吧”是哪一天。")
        await group.send(wang, "2026-11-01", reply_to=again)
        again = await group.expect_message(contains="2026年11月1日已经过去了。")
        await group.send(wang, "2026-11-20", reply_to=again)
        await group.expect_message(
            contains="2号已转交区住建委 <维修科>，答复期限2026年11月20日星期五。"
        )
        await group.expect_edit(other_card, contains="状态：已转办 → 区住建委 <维修科>")
        await xu.expect_message(contains="答复期限：2026年11月20日。")

        # the secretary reopens the first one: back to work, the resident is told
        await group.press(xie, card, "重新办理…")
        reopen_prompt = await group.expect_message(contains="1号为什么要重新办理？")
        await group.send(xie, "街道退回，社区自己协调", reply_to=reopen_prompt)
        await group.expect_message(contains="1号已重新办理。")
        await group.expect_edit(card, contains="状态：已受理")
        # the card says it is a 重办, and why, in the secretary's words
        assert "重办（第1次）：街道退回，社区自己协调" in card.text
        await xu.expect_message(contains="1号问题已重新办理。")
    second = await load(db, first.id + 1)
    assert second.status == IssueStatus.TRANSFERRED
    assert second.transfer_answer_by is not None
    assert second.transfer_answer_by.astimezone(UTC) == datetime(
        2026, 11, 20, 15, 59, tzinfo=UTC
    )  # the end of that day in the community's time
    assert second.due_at is None  # no completion date was ever set
    issue = await load(db, first.id)
    assert issue.status == IssueStatus.ACCEPTED and issue.transferred_to is None
    kinds = [e.kind for e in await events_of(db, first.id)]
    assert kinds[-2:] == ["transferred", "reopened"]
    assert bot_errors(emulator) == []


async def test_return_and_reassign_need_a_reason_and_only_owner_or_secretary_may(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    group, wang, li, xie, xu = room.group, room.wang, room.li, room.secretary, room.xu
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        issue = await report(emulator, db, clock, room.community, reporter_id=room.pid(xu))
        await post_cards(app, clock)
        card = await group.expect_message(contains="1号 · ")

        # 退单: the owner hands it back with a reason
        await group.press(wang, card, "认领")
        await group.expect_edit(card, contains="负责人：王网格")
        await press_on_card(group, wang, card, "退单…")
        prompt = await group.expect_message(contains="1号为什么要退单？")
        await group.send(wang, "不是我的网格", reply_to=prompt)
        await group.expect_message(contains="1号已退单，等待重新派单。")
        await group.expect_edit(card, contains="负责人：暂无")
        assert "状态：已受理" in card.text

        # 改派: only the owner or the secretary; a reason is asked
        await group.press(li, card, "认领")
        await group.expect_edit(card, contains="负责人：李网格")
        refused = await press_on_card(group, wang, card, "改派…")
        assert refused.show_alert and "只有1号的负责人或书记" in (refused.text or "")
        await press_on_card(group, xie, card, "改派…")
        menu = await group.expect_message(contains="1号由谁负责？")
        assert menu.button("李网格") is None  # not to the current owner
        await group.press(xie, menu, "王网格")
        reason = await group.expect_message(contains="1号为什么改派给王网格？")
        await group.send(xie, "李网格这周在社区服务窗口值班", reply_to=reason)
        await group.expect_edit(card, contains="负责人：王网格")
        await xu.expect_message(contains="1号问题现在由王网格负责。")

        # a volunteer team owns it; the name is typed, and the reassignment still needs a reason
        await press_on_card(group, wang, card, "改派…")
        menu = await group.expect_message(contains="1号由谁负责？")
        await group.press(wang, menu, "志愿者队伍或自治小组…")
        name = await group.expect_message(contains="交给哪个志愿者队伍或自治小组")
        await group.send(wang, "3栋楼栋志愿者服务队", reply_to=name)
        why = await group.expect_message(contains="为什么改派给3栋楼栋志愿者服务队")
        await group.send(wang, "楼栋志愿者熟悉情况", reply_to=why)
        await group.expect_edit(card, contains="负责人：3栋楼栋志愿者服务队")
    events = await events_of(db, issue.id)
    returned = next(e for e in events if e.kind == "returned")
    assert returned.text == "不是我的网格" and returned.actor_id == room.pid(wang)
    reassigned = [e for e in events if e.kind == "assigned"]
    assert [e.text for e in reassigned] == ["李网格这周在社区服务窗口值班", "楼栋志愿者熟悉情况"]
    assert all(e.data["reassigned"] for e in reassigned)
    final = await load(db, issue.id)
    assert final.owner_id is None and final.owner_group == "3栋楼栋志愿者服务队"
    assert bot_errors(emulator) == []


async def test_a_restart_between_question_and_answer_loses_nothing(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    group, li = room.group, room.li
    async with running_bot(emulator, db, clock) as app:
        issue, card = await claimed_card(app, emulator, room, db, clock, li, "李网格")
        await group.press(li, card, "定方案…")
        prompt = await group.expect_message(contains="1号打算怎么办")
    async with running_bot(emulator, db, clock):  # a new process on the same database
        await group.send(li, "周三前请物业疏通", reply_to=prompt)
        picker = await group.expect_message(contains="1号什么时候办好？")
    async with running_bot(emulator, db, clock):  # and again, before the date is picked
        await group.press(li, picker, "一周内")
        await group.expect_edit(picker, contains="→ 2026年11月9日")
        await group.expect_edit(card, contains="完成期限：2026年11月9日")
    done = await load(db, issue.id)
    assert done.plan == "周三前请物业疏通"
    assert done.due_at == datetime(2026, 11, 9, 15, 59, tzinfo=UTC)  # 23:59 in Chongqing
    assert done.status == IssueStatus.IN_PROGRESS
    assert bot_errors(emulator) == []


async def test_stale_presses_and_answers_to_old_questions_change_nothing(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    group, wang, li = room.group, room.wang, room.li
    async with running_bot(emulator, db, clock) as app:
        issue, card = await card_of_a_new_report(app, emulator, room, db, clock)
        await group.press(wang, card, "受理")
        await group.expect_edit(card, contains="状态：已受理")
        before = await snapshot(db, issue.id)
        stale = await group.press_data(wang, card, ACCEPT.data(issue.id))  # an old card's button
        assert stale.show_alert
        assert stale.text == "1号现在是“已受理”状态，这次操作没有生效。请看一下卡片。"
        stale_plan = await group.press_data(wang, card, PLAN.data(issue.id))  # not yet owned
        assert stale_plan.show_alert
        assert await snapshot(db, issue.id) == before

        # two questions in a row: only the latest one is answered
        await press_on_card(group, li, card, "内部备注…")
        first = await group.expect_message(contains="内部备注（只有工作人员能看到）")
        await press_on_card(group, li, card, "回复居民…")
        second = await group.expect_message(contains="请写给居民的回复")
        await group.send(li, "这是给谁的？", reply_to=first)
        await group.expect_message(contains="请回复我问您的最新一个问题")
        # someone else answering li's question is not taken as li's answer
        await group.send(wang, "我来替他回答", reply_to=second)
        # a one-tap press meanwhile leaves the open question alone
        await press_on_card(group, li, card, "即办")
        await group.expect_edit(card, contains="难度：即办")
        await group.send(li, "我们明天上门看看。", reply_to=second)
        await group.expect_message(contains="您对1号的回复正在发给居民。")
        await room.xu.expect_message(contains="我们明天上门看看。")
    progress = [e for e in await events_of(db, issue.id) if e.kind == "progress"]
    assert [(e.text, e.public) for e in progress] == [("我们明天上门看看。", True)]
    assert bot_errors(emulator) == []


async def test_quick_due_dates_and_no_due_date(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    group, xie = room.group, room.secretary
    async with running_bot(emulator, db, clock) as app:
        issue, card = await claimed_card(app, emulator, room, db, clock, xie, "谢兰")
        for pick, due in (("今天", "2026年11月2日"), ("3天内", "2026年11月5日")):
            await group.press(xie, card, "定方案…")
            prompt = await group.expect_message(contains="1号打算怎么办")
            await group.send(xie, f"方案：{pick}", reply_to=prompt)
            picker = await group.expect_message(contains="1号什么时候办好？")
            someone_else = await group.press(room.wang, picker, pick)
            assert someone_else.show_alert  # the picker belongs to who wrote the plan
            await group.press(xie, picker, pick)
            await group.expect_edit(card, contains=f"完成期限：{due}")
        await group.press(xie, card, "定方案…")
        prompt = await group.expect_message(contains="1号打算怎么办")
        await group.send(xie, "先观察一周", reply_to=prompt)
        picker = await group.expect_message(contains="1号什么时候办好？")
        await group.press(xie, picker, "不定期限")
        await group.expect_edit(card, contains="办理方案：先观察一周")
        assert "完成期限" not in card.text
    async with db.session() as session:
        plans = (
            await session.exec(
                select(IssueEvent).where(
                    IssueEvent.issue_id == issue.id, IssueEvent.kind == "planned"
                )
            )
        ).all()
    assert [p.text for p in plans] == ["方案：今天", "方案：3天内", "先观察一周"]
    assert (await load(db, issue.id)).due_at is None
    assert Role.SECRETARY  # the secretary owns and plans like any worker
    assert bot_errors(emulator) == []
