"""A worker names a voice report from its card: until then the card says in words what it is
and offers "写摘要…"; the summary becomes the title on the card and for the resident."""

from __future__ import annotations

from emulator import BotApiEmulator
from handlers.staff.cards import SUMMARY
from storage.db import Database
from tests.factories import FakeClock, bot_errors, running_bot
from tests.staffroom import bind, load, post_cards, report, staffroom


async def test_a_worker_gives_a_voice_report_its_title_from_the_card(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    group, wang, xu = room.group, room.wang, room.xu
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        issue = await report(
            emulator, db, clock, room.community, reporter_id=room.pid(xu), description="🎤 0:12"
        )
        await post_cards(app, clock)
        card = await group.expect_message(contains="1号 · ")
        assert "老许的语音留言，12秒" in card.text and "🎤 0:12" not in card.text
        # a resident in the group (or a forged press) changes nothing
        group.set_member(xu)
        refused = await group.press_data(xu, card, SUMMARY.data(issue.id or 0))
        assert refused.show_alert
        await group.press(wang, card, "✏️ 写摘要…")
        prompt = await group.expect_message(contains="请用一句话概括1号")
        await group.send(wang, "   ", reply_to=prompt)  # no words: asked again
        again = await group.expect_message(contains="请写一句话")
        await group.send(wang, "3栋2单元 <楼道灯> 不亮", reply_to=again)
        await group.expect_message(contains="1号的标题现在是“3栋2单元 <楼道灯> 不亮”")
        named = await group.expect_edit(card, contains="3栋2单元 <楼道灯> 不亮")
        assert "✏️ 写摘要…" not in named.button_texts()
        await xu.send("/my")
        listed = await xu.expect_message(contains="1号")
        assert "3栋2单元 <楼道灯> 不亮" in listed.text
    stored = await load(db, issue.id or 0)
    assert stored.summary == "3栋2单元 <楼道灯> 不亮"
    assert bot_errors(emulator) == []
