"""An issue walks from report to closed through the staff group: the card, its buttons, the
ForceReply prompts answered by replies, the resident hearing every public step."""

from __future__ import annotations

from sqlmodel import select

from delivery.dispatch import dispatch_due
from emulator import BotApiEmulator
from storage.db import Database
from storage.followups import follow_up
from storage.models import (
    Attachment,
    FollowUpResult,
    Issue,
    IssueStatus,
    Outbox,
    Satisfaction,
)
from storage.notifications import CARD_REFRESH, issue_changed
from tests.factories import FakeClock, bot_errors, running_bot
from tests.staffroom import bind, events_of, load, post_cards, report, staffroom


async def test_report_to_closed_through_the_card(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    group, wang, li, xie, xu = room.group, room.wang, room.li, room.secretary, room.xu
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        issue = await report(
            emulator,
            db,
            clock,
            room.community,
            reporter_id=room.pid(xu),
            photos=2,
            building_id=room.building_id,
        )
        await post_cards(app, clock)
        card = await group.expect_message(contains="1号 · 公共设施")
        # the red pen
        for part in (
            "地点：1栋",
            "楼道灯坏了三天",
            "照片：2张",
            "反映人：老许",
            "答复时限：7天，还剩7天",
            "状态：待受理",
            "负责人：暂无",
        ):
            assert part in card.text, part
        assert PHONE_DIGITS not in card.text  # the phone is behind a button
        for button in ("受理", "认领", "派单…", "照片（2）", "查看电话"):
            assert card.button(button) is not None, button

        # 受理 (accept): the card changes in place and the resident hears it
        answer = await group.press(wang, card, "受理")
        assert answer.text == "1号已受理。" and not answer.show_alert
        await group.expect_edit(card, contains="状态：已受理")
        assert "答复时限：7天，已按时答复" in card.text  # the response clock stopped, met
        await xu.expect_message(contains="您反映的1号问题，社区已受理。")
        # the card is refreshed the one way every refresh goes: a card_refresh row
        async with db.session() as session:
            refreshes = (
                await session.exec(select(Outbox).where(Outbox.kind == CARD_REFRESH))
            ).all()
        assert [r.dedupe_key for r in refreshes] == [f"card:{issue.id}:v2:s0"]

        # difficulty: 协商
        dif = await group.press(wang, card, "协商")
        assert dif.text == "已保存。", dif
        await group.expect_edit(card, contains="难度：协商")
        assert "✓ 协商" in card.button_texts()

        # assign to 李网格 from the menu of the community's staff
        await group.press(wang, card, "派单…")
        menu = await group.expect_message(contains="1号由谁负责")
        assert "谢兰（书记）" in menu.button_texts()
        await group.press(wang, menu, "李网格")
        await group.expect_edit(card, contains="负责人：李网格")
        await xu.expect_message(contains="1号问题现在由李网格负责。")

        # the plan, with a typed due date ("下周五" on Monday 2 November: Friday 13 November)
        await group.press(li, card, "定方案…")
        prompt = await group.expect_message(contains="1号打算怎么办")
        assert prompt.reply_markup is not None and prompt.reply_markup["force_reply"]
        assert prompt.reply_markup["selective"] is True
        await group.send(li, "联系物业，换新灯泡", reply_to=prompt)
        picker = await group.expect_message(contains="1号什么时候办好？")
        await group.press(li, picker, "自己填日期…")
        date_prompt = await group.expect_message(contains="请回复日期")
        assert "比如：下周五、3天后、11月12日。" in date_prompt.text  # an example still ahead
        await group.send(li, "明年某天", reply_to=date_prompt)  # not a date: asked again
        again = await group.expect_message(contains="我没看懂“明年某天”是哪一天。")
        await group.send(li, "下周五", reply_to=again)
        # read back as the day it became, with its weekday
        await group.expect_message(contains="1号的办理方案已保存：2026年11月13日星期五前办好。")
        await group.expect_edit(card, contains="完成期限：2026年11月13日")
        assert "办理方案：联系物业，换新灯泡" in card.text
        await xu.expect_message(contains="1号问题的办理方案：联系物业，换新灯泡")

        # progress: an internal note stays inside; a public reply reaches the resident
        await group.press(li, card, "内部备注…")
        note_prompt = await group.expect_message(contains="内部备注（只有工作人员能看到）")
        await group.send(li, "物业说灯泡要订货 <两天>", reply_to=note_prompt)
        await group.expect_edit(card, contains="最新内部备注")
        assert "物业说灯泡要订货 <两天>" in card.text  # typed text shown verbatim (escaped)
        await group.press(li, card, "回复居民…")
        reply_prompt = await group.expect_message(contains="请写给居民的回复")
        await group.send(li, "灯泡已订好，周四来装。", reply_to=reply_prompt)
        await xu.expect_message(contains="李网格回复您：\n灯泡已订好，周四来装。")
        await group.expect_edit(card, contains="最新给居民的回复")

        # only the owner or the secretary resolves
        refused = await group.press(wang, card, "办结…")
        assert refused.show_alert and refused.text == "只有1号的负责人或书记才能这样做。"

        # resolve with a photo: first the photo alone, then the words
        clock.advance(hours=30)
        await group.press(li, card, "办结…")
        resolve_prompt = await group.expect_message(contains="1号是怎么解决的？")
        await group.send_photo(li, reply_to=resolve_prompt)
        words = await group.expect_message(contains="照片收到了")
        await group.send(li, "灯已换好，楼道亮了。", reply_to=words)
        await group.expect_message(contains="1号已办结")
        await group.expect_edit(card, contains="状态：已办结")
        assert "完成期限：2026年11月13日，按期办结" in card.text and "照片：3张" in card.text
        done = await xu.expect_message(contains="1号问题已办结：灯已换好，楼道亮了。")
        # the photo of the work reaches the resident too, under the notice
        shown = await xu.expect_message(predicate=lambda m: m.media_type == "photo")
        assert shown.caption == "办好后的照片。" and shown.reply_to_message_id == done.message_id

        # the resident's follow-up (the resident side) refreshes the card through the outbox
        async with db.session() as session:
            fresh = await session.get(Issue, issue.id)
            assert fresh is not None
            await follow_up(
                session,
                fresh,
                result=FollowUpResult.SOLVED,
                satisfaction=Satisfaction.SATISFIED,
                comment=None,
                actor_id=room.pid(xu),
                now=clock(),
            )
            assert await issue_changed(session, fresh, now=clock())
        await dispatch_due(app, now=clock())
        await group.expect_edit(card, contains="状态：已结案")
        assert card.button_texts()[0] == "重新办理…"

        # xu never heard the internal note
        assert not any("订货" in m.text for m in xu.messages)
        assert xie.id  # the secretary watched; she acts in other tests

    assert bot_errors(emulator) == []
    issue = await load(db, issue.id)
    assert issue.status == IssueStatus.CLOSED
    events = await events_of(db, issue.id)
    assert [e.kind for e in events] == [
        "reported",
        "accepted",
        "classified",
        "assigned",
        "planned",
        "progress",
        "progress",
        "resolved",
        "followed_up",
    ]
    assert all(e.at is not None and e.actor_id is not None for e in events)
    assert [e.public for e in events if e.kind == "progress"] == [False, True]
    async with db.session() as session:
        photos = (
            await session.exec(select(Attachment).where(Attachment.issue_id == issue.id))
        ).all()
    assert len(photos) == 3
    assert photos[-1].caption == "灯已换好，楼道亮了。"


PHONE_DIGITS = "138 0000 1234"
